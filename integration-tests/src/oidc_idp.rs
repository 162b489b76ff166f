//! A small OAuth 2 / OIDC identity provider for the OIDC tests, and a cluster whose
//! `OIDC` listener validates its tokens for real (`OAuthBearerValidatorCallbackHandler`
//! fetching this provider's JWKS).
//!
//! The provider serves, over plain HTTP on 127.0.0.1:
//! - `GET /jwks`: the published RSA keys (generated when the provider starts);
//! - `POST /token`: `client_credentials` (HTTP Basic client authentication) and
//!   `urn:ietf:params:oauth:grant-type:jwt-bearer` (an RS256 assertion verified with the
//!   client's registered public key), answering RS256 access tokens or RFC 6749 §5.2
//!   errors (`invalid_client`, `invalid_grant`, `unsupported_grant_type`).
//!
//! Each client's tokens can be made wrong on purpose (audience, issuer, already
//! expired) with [`ClientPolicy`]. Keys rotate with [`TestIdp::publish_new_key`] and
//! [`TestIdp::sign_with_newest`]. Extra token endpoints ([`TestIdp::token_endpoint`])
//! share the keys and clients but can be taken down alone, so one test's outage does
//! not touch the others.
//!
//! ```no_run
//! let idp = kafka_testbed::oidc_idp::TestIdp::start()?;
//! idp.add_client("app", "app-secret", Default::default());
//! let cluster = kafka_testbed::KafkaCluster::start(
//!     kafka_testbed::oidc_idp::oidc_cluster_config(kafka_testbed::ClusterConfig::new(1), &idp),
//! )?;
//! # Ok::<(), kafka_testbed::Error>(())
//! ```

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use rsa::pkcs1v15::{Signature, SigningKey, VerifyingKey};
use rsa::pkcs8::{EncodePrivateKey, LineEnding};
use rsa::signature::{SignatureEncoding, Signer, Verifier};
use rsa::traits::PublicKeyParts;
use rsa::{RsaPrivateKey, RsaPublicKey};
use sha2::Sha256;

use crate::config::ClusterConfig;
use crate::error::{Error, Result};

/// The audience the `OIDC` listener expects.
pub const AUDIENCE: &str = "kafka-broker";
/// Scope granted with every token.
pub const SCOPE: &str = "kafka";
/// `connections.max.reauth.ms` of [`oidc_cluster_config`]: sessions last 10 s.
pub const REAUTH_MS: u64 = 10_000;

/// How the provider treats one client.
#[derive(Debug, Clone)]
pub struct ClientPolicy {
    /// Token lifetime.
    pub lifetime: Duration,
    /// Put this `aud` in its tokens instead of [`AUDIENCE`].
    pub audience: Option<String>,
    /// Put this `iss` in its tokens instead of the provider's own URL.
    pub issuer: Option<String>,
    /// Issue tokens that expired this long ago.
    pub expired_by: Option<Duration>,
    /// For the JWT-bearer grant: the public key its assertions must verify with.
    pub assertion_key: Option<RsaPublicKey>,
}

impl Default for ClientPolicy {
    fn default() -> Self {
        Self {
            lifetime: Duration::from_secs(3600),
            audience: None,
            issuer: None,
            expired_by: None,
            assertion_key: None,
        }
    }
}

struct IdpKey {
    kid: String,
    key: RsaPrivateKey,
}

struct State {
    keys: Vec<IdpKey>,
    /// Index in `keys` of the key tokens are signed with.
    signing: usize,
    /// Indexes in `keys` of the keys the JWKS lists.
    published: Vec<usize>,
    clients: HashMap<String, (String, ClientPolicy)>,
}

struct Shared {
    state: Mutex<State>,
    issuer: String,
    jwks_fetches: AtomicU64,
    tokens_issued: AtomicU64,
}

impl Shared {
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// One HTTP listener of the provider, which can be stopped (connections refused) and
/// started again on the same port.
#[derive(Debug)]
pub struct Endpoint {
    addr: SocketAddr,
    shared: Arc<SharedHandle>,
    running: Mutex<Option<(Arc<AtomicBool>, JoinHandle<()>)>>,
}

/// `Arc<Shared>` with a `Debug` that prints nothing secret.
struct SharedHandle(Arc<Shared>);

impl std::fmt::Debug for SharedHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestIdp")
            .field("issuer", &self.0.issuer)
            .finish()
    }
}

impl Endpoint {
    fn bind(addr: SocketAddr, shared: Arc<SharedHandle>) -> Result<Self> {
        let ep = Self {
            addr,
            shared,
            running: Mutex::new(None),
        };
        ep.start()?;
        Ok(ep)
    }

    /// `http://127.0.0.1:port`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The token endpoint URL.
    pub fn token_url(&self) -> String {
        format!("{}/token", self.base_url())
    }

    /// Serves again (after [`Endpoint::stop`]), on the same port.
    pub fn start(&self) -> Result<()> {
        let mut running = self.running.lock().unwrap_or_else(PoisonError::into_inner);
        if running.is_some() {
            return Ok(());
        }
        let mut last = None;
        let listener = loop {
            // The port was ours a moment ago; give the kernel a few tries.
            match TcpListener::bind(self.addr) {
                Ok(l) => break l,
                Err(e) if last.as_ref().is_none_or(|(n, _)| *n < 50) => {
                    let n = last.map(|(n, _)| n).unwrap_or(0) + 1;
                    last = Some((n, e));
                    std::thread::sleep(Duration::from_millis(100));
                }
                Err(e) => return Err(Error::io(format!("binding {}", self.addr), e)),
            }
        };
        listener
            .set_nonblocking(true)
            .map_err(|e| Error::io("listener", e))?;
        let stop = Arc::new(AtomicBool::new(false));
        let shared = self.shared.0.clone();
        let flag = stop.clone();
        let handle = std::thread::Builder::new()
            .name("test-idp".into())
            .spawn(move || accept_loop(listener, shared, flag))
            .map_err(|e| Error::io("spawning the test IdP", e))?;
        *running = Some((stop, handle));
        Ok(())
    }

    /// Stops listening: connections are refused until [`Endpoint::start`].
    pub fn stop(&self) {
        let taken = self
            .running
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some((stop, handle)) = taken {
            stop.store(true, Ordering::SeqCst);
            let _ = handle.join();
        }
    }
}

impl Drop for Endpoint {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The identity provider: its main endpoint (JWKS and tokens), keys and clients.
#[derive(Debug)]
pub struct TestIdp {
    main: Endpoint,
    shared: Arc<SharedHandle>,
}

impl TestIdp {
    /// Generates a first RSA key and serves on a free port of 127.0.0.1.
    pub fn start() -> Result<Self> {
        let listener =
            TcpListener::bind("127.0.0.1:0").map_err(|e| Error::io("binding the test IdP", e))?;
        let addr = listener
            .local_addr()
            .map_err(|e| Error::io("test IdP address", e))?;
        drop(listener);
        let shared = Arc::new(SharedHandle(Arc::new(Shared {
            state: Mutex::new(State {
                keys: vec![new_key("key-1")?],
                signing: 0,
                published: vec![0],
                clients: HashMap::new(),
            }),
            issuer: format!("http://{addr}"),
            jwks_fetches: AtomicU64::new(0),
            tokens_issued: AtomicU64::new(0),
        })));
        let main = Endpoint::bind(addr, shared.clone())?;
        Ok(Self { main, shared })
    }

    /// The main endpoint (JWKS and tokens).
    pub fn main(&self) -> &Endpoint {
        &self.main
    }

    /// The issuer (`iss`) of its tokens: `http://127.0.0.1:port`.
    pub fn issuer(&self) -> String {
        self.shared.0.issuer.clone()
    }

    /// The JWKS URL.
    pub fn jwks_url(&self) -> String {
        format!("{}/jwks", self.main.base_url())
    }

    /// Another token endpoint with the same keys and clients, on its own port (stop it
    /// to simulate an outage seen by one client only).
    pub fn token_endpoint(&self) -> Result<Endpoint> {
        let listener =
            TcpListener::bind("127.0.0.1:0").map_err(|e| Error::io("binding an endpoint", e))?;
        let addr = listener
            .local_addr()
            .map_err(|e| Error::io("endpoint address", e))?;
        drop(listener);
        Endpoint::bind(addr, self.shared.clone())
    }

    /// Registers a client with its secret.
    pub fn add_client(&self, id: &str, secret: &str, policy: ClientPolicy) {
        self.shared
            .0
            .state()
            .clients
            .insert(id.to_owned(), (secret.to_owned(), policy));
    }

    /// Generates a new key and lists it in the JWKS beside the old ones (tokens are
    /// still signed with the old key). Returns its `kid`.
    pub fn publish_new_key(&self) -> Result<String> {
        let mut st = self.shared.0.state();
        let kid = format!("key-{}", st.keys.len() + 1);
        st.keys.push(new_key(&kid)?);
        let i = st.keys.len() - 1;
        st.published.push(i);
        Ok(kid)
    }

    /// Signs tokens from now on with the newest key.
    pub fn sign_with_newest(&self) {
        let mut st = self.shared.0.state();
        st.signing = st.keys.len() - 1;
    }

    /// The `kid` tokens are signed with now.
    pub fn signing_kid(&self) -> String {
        let st = self.shared.0.state();
        st.keys[st.signing].kid.clone()
    }

    /// How many times the JWKS was fetched (by the broker).
    pub fn jwks_fetches(&self) -> u64 {
        self.shared.0.jwks_fetches.load(Ordering::SeqCst)
    }

    /// Access tokens issued so far.
    pub fn tokens_issued(&self) -> u64 {
        self.shared.0.tokens_issued.load(Ordering::SeqCst)
    }

    /// A token for `client` as the token endpoint would issue it (no authentication).
    pub fn issue_for(&self, client: &str) -> Result<String> {
        let st = self.shared.0.state();
        let (_, policy) = st
            .clients
            .get(client)
            .ok_or_else(|| Error::new(format!("no client {client}")))?;
        Ok(sign_token(&st, &self.shared.0.issuer, client, policy))
    }
}

/// A 2048-bit RSA key pair, made now, as PKCS#8 PEM, and its public key (for a
/// JWT-bearer client: register the public key, give the PEM to the client).
pub fn rsa_key_pair() -> Result<(String, RsaPublicKey)> {
    let key = RsaPrivateKey::new(&mut rsa::rand_core::OsRng, 2048)
        .map_err(|e| Error::new(format!("RSA key generation: {e}")))?;
    let pem = key
        .to_pkcs8_pem(LineEnding::LF)
        .map_err(|e| Error::new(format!("PKCS#8 encoding: {e}")))?;
    Ok((pem.to_string(), key.to_public_key()))
}

fn new_key(kid: &str) -> Result<IdpKey> {
    let key = RsaPrivateKey::new(&mut rsa::rand_core::OsRng, 2048)
        .map_err(|e| Error::new(format!("RSA key generation: {e}")))?;
    Ok(IdpKey {
        kid: kid.to_owned(),
        key,
    })
}

/// `base` with an `OIDC` listener (SASL_PLAINTEXT, OAUTHBEARER only) whose tokens the
/// broker validates against `idp`'s JWKS (expected audience [`AUDIENCE`], issuer
/// [`TestIdp::issuer`]; JWKS refreshed every 2 s), sessions of [`REAUTH_MS`], and the
/// JVM property Kafka 4.x needs to fetch that URL.
pub fn oidc_cluster_config(base: ClusterConfig, idp: &TestIdp) -> ClusterConfig {
    let listeners = "PLAINTEXT://127.0.0.1:{client_port},CONTROLLER://127.0.0.1:{controller_port},\
        OIDC://127.0.0.1:{port.oidc}";
    base.with_extra_port("oidc")
        .with_property("listeners", listeners)
        .with_property("advertised.listeners", listeners)
        .with_property(
            "listener.security.protocol.map",
            "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT,OIDC:SASL_PLAINTEXT",
        )
        .with_property("listener.name.oidc.sasl.enabled.mechanisms", "OAUTHBEARER")
        .with_property(
            "listener.name.oidc.oauthbearer.sasl.jaas.config",
            "org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required;",
        )
        .with_property(
            "listener.name.oidc.oauthbearer.sasl.server.callback.handler.class",
            "org.apache.kafka.common.security.oauthbearer.OAuthBearerValidatorCallbackHandler",
        )
        .with_property("sasl.oauthbearer.jwks.endpoint.url", idp.jwks_url())
        .with_property("sasl.oauthbearer.jwks.endpoint.refresh.ms", "2000")
        .with_property("sasl.oauthbearer.expected.audience", AUDIENCE)
        .with_property("sasl.oauthbearer.expected.issuer", idp.issuer())
        .with_property("connections.max.reauth.ms", REAUTH_MS.to_string())
        .with_jvm_flag(format!(
            "-Dorg.apache.kafka.sasl.oauthbearer.allowed.urls={}",
            idp.jwks_url()
        ))
}

fn accept_loop(listener: TcpListener, shared: Arc<Shared>, stop: Arc<AtomicBool>) {
    while !stop.load(Ordering::SeqCst) {
        match listener.accept() {
            Ok((stream, _)) => {
                let shared = shared.clone();
                std::thread::spawn(move || {
                    let _ = serve(stream, &shared);
                });
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(_) => std::thread::sleep(Duration::from_millis(20)),
        }
    }
}

/// One HTTP/1.1 exchange (the answer closes the connection).
fn serve(stream: TcpStream, shared: &Shared) -> std::io::Result<()> {
    stream.set_nonblocking(false)?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let mut parts = line.split_whitespace();
    let (method, path) = (
        parts.next().unwrap_or("").to_owned(),
        parts.next().unwrap_or("").to_owned(),
    );
    let mut headers = HashMap::new();
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h)? == 0 || h.trim().is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_owned());
        }
    }
    let len: usize = headers
        .get("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0u8; len.min(1 << 20)];
    reader.read_exact(&mut body)?;
    let (status, json) = match (method.as_str(), path.as_str()) {
        ("GET", "/jwks") => {
            shared.jwks_fetches.fetch_add(1, Ordering::SeqCst);
            (200, jwks(&shared.state()))
        }
        ("POST", "/token") => token(shared, &headers, &String::from_utf8_lossy(&body)),
        _ => (404, serde_json::json!({ "error": "not_found" })),
    };
    let body = json.to_string();
    let reason = match status {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        _ => "Not Found",
    };
    let mut out = stream;
    write!(
        out,
        "HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\
         Cache-Control: no-store\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    out.flush()
}

fn jwks(st: &State) -> serde_json::Value {
    let keys: Vec<serde_json::Value> = st
        .published
        .iter()
        .map(|&i| {
            let k = &st.keys[i];
            serde_json::json!({
                "kty": "RSA",
                "use": "sig",
                "alg": "RS256",
                "kid": k.kid,
                "n": URL_SAFE_NO_PAD.encode(k.key.n().to_bytes_be()),
                "e": URL_SAFE_NO_PAD.encode(k.key.e().to_bytes_be()),
            })
        })
        .collect();
    serde_json::json!({ "keys": keys })
}

fn oauth_error(status: u16, error: &str, description: &str) -> (u16, serde_json::Value) {
    (
        status,
        serde_json::json!({ "error": error, "error_description": description }),
    )
}

fn form_decode(v: &str) -> String {
    let bytes = v.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
                match u8::from_str_radix(hex, 16) {
                    Ok(b) => {
                        out.push(b);
                        i += 2;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn token(
    shared: &Shared,
    headers: &HashMap<String, String>,
    body: &str,
) -> (u16, serde_json::Value) {
    let form: HashMap<String, String> = body
        .split('&')
        .filter_map(|p| p.split_once('='))
        .map(|(k, v)| (form_decode(k), form_decode(v)))
        .collect();
    let st = shared.state();
    let subject = match form.get("grant_type").map(String::as_str) {
        Some("client_credentials") => {
            let basic = headers
                .get("authorization")
                .and_then(|a| a.strip_prefix("Basic "))
                .and_then(|b| STANDARD.decode(b).ok())
                .map(|b| String::from_utf8_lossy(&b).into_owned());
            let Some((id, secret)) = basic.as_deref().and_then(|b| b.split_once(':')) else {
                return oauth_error(
                    401,
                    "invalid_client",
                    "HTTP Basic client authentication required",
                );
            };
            let (id, secret) = (form_decode(id), form_decode(secret));
            match st.clients.get(&id) {
                Some((s, _)) if *s == secret => id,
                _ => return oauth_error(401, "invalid_client", "client authentication failed"),
            }
        }
        Some("urn:ietf:params:oauth:grant-type:jwt-bearer") => {
            let Some(assertion) = form.get("assertion") else {
                return oauth_error(400, "invalid_request", "no assertion");
            };
            match check_assertion(&st, &shared.issuer, assertion) {
                Ok(sub) => sub,
                Err(why) => return oauth_error(400, "invalid_grant", &why),
            }
        }
        _ => return oauth_error(400, "unsupported_grant_type", "grant type not supported"),
    };
    let Some((_, policy)) = st.clients.get(&subject) else {
        return oauth_error(400, "invalid_grant", "unknown subject");
    };
    let token = sign_token(&st, &shared.issuer, &subject, policy);
    shared.tokens_issued.fetch_add(1, Ordering::SeqCst);
    (
        200,
        serde_json::json!({
            "access_token": token,
            "token_type": "Bearer",
            "scope": SCOPE,
        }),
    )
}

/// Verifies an RS256 assertion (RFC 7523 §3): signed by the key registered for its
/// `sub`, `aud` this provider, not expired. Returns the subject.
fn check_assertion(st: &State, issuer: &str, jwt: &str) -> std::result::Result<String, String> {
    let parts: Vec<&str> = jwt.split('.').collect();
    let [header, claims, sig] = parts.as_slice() else {
        return Err("not a compact JWS".into());
    };
    let decode = |p: &str| -> std::result::Result<serde_json::Value, String> {
        let bytes = URL_SAFE_NO_PAD.decode(p).map_err(|e| e.to_string())?;
        serde_json::from_slice(&bytes).map_err(|e| e.to_string())
    };
    if decode(header)?["alg"] != "RS256" {
        return Err("only RS256 assertions are accepted".into());
    }
    let claims = decode(claims)?;
    let sub = claims["sub"].as_str().ok_or("no sub")?.to_owned();
    let key = st
        .clients
        .get(&sub)
        .and_then(|(_, p)| p.assertion_key.clone())
        .ok_or("no assertion key registered for this subject")?;
    let sig = URL_SAFE_NO_PAD.decode(sig).map_err(|e| e.to_string())?;
    let sig = Signature::try_from(sig.as_slice()).map_err(|e| e.to_string())?;
    VerifyingKey::<Sha256>::new(key)
        .verify(format!("{header}.{}", parts[1]).as_bytes(), &sig)
        .map_err(|_| "assertion signature does not verify".to_owned())?;
    if claims["aud"] != issuer {
        return Err(format!("assertion aud is not {issuer}"));
    }
    let now = unix_now();
    if claims["exp"].as_u64().is_none_or(|exp| exp <= now) {
        return Err("assertion expired".into());
    }
    Ok(sub)
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn sign_token(st: &State, issuer: &str, subject: &str, policy: &ClientPolicy) -> String {
    let key = &st.keys[st.signing];
    let now = unix_now();
    let (iat, exp) = match policy.expired_by {
        Some(ago) => {
            let exp = now - ago.as_secs();
            (exp - policy.lifetime.as_secs().min(exp), exp)
        }
        None => (now, now + policy.lifetime.as_secs()),
    };
    let header = serde_json::json!({ "alg": "RS256", "typ": "JWT", "kid": key.kid });
    let claims = serde_json::json!({
        "iss": policy.issuer.clone().unwrap_or_else(|| issuer.to_owned()),
        "aud": policy.audience.clone().unwrap_or_else(|| AUDIENCE.to_owned()),
        "sub": subject,
        "iat": iat,
        "exp": exp,
        "scope": SCOPE,
    });
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let sig = SigningKey::<Sha256>::new(key.key.clone()).sign(input.as_bytes());
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig.to_bytes()))
}
