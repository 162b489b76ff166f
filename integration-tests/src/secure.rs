//! A secured cluster for the security tests: TLS, mutual TLS and SASL listeners, the
//! `StandardAuthorizer`, SCRAM users created at format time, and certificates generated
//! in Rust (rcgen, ring backend) when the cluster starts.
//!
//! Listeners on every node (all on 127.0.0.1):
//!
//! | [`Listener`] | protocol | notes |
//! |---|---|---|
//! | `Plaintext` | PLAINTEXT | principal `ANONYMOUS`, a super user (the readiness probe and inter-broker traffic use it) |
//! | `Ssl` | SSL | server certificate with SAN `127.0.0.1`, `localhost`; no client authentication |
//! | `Mtls` | SSL | client certificate required; principal = the certificate's CN |
//! | `SaslPlaintext` | SASL_PLAINTEXT | PLAIN, SCRAM-SHA-256, SCRAM-SHA-512, OAUTHBEARER (unsecured JWTs) |
//! | `SaslSsl` | SASL_SSL | SCRAM-SHA-512 only |
//! | `WrongSan` | SSL | server certificate for `wrong.example.com` |
//! | `Expired` | SSL | server certificate that expired in 2021 |
//!
//! Users: [`ADMIN`] (a super user) and [`ALICE`] (no ACLs at start), with the same
//! passwords for PLAIN and both SCRAM mechanisms. `allow.everyone.if.no.acl.found=false`.
//! SASL sessions last `connections.max.reauth.ms` (KIP-368, [`REAUTH_MS`]), so clients
//! must re-authenticate.
//!
//! ```no_run
//! let secure = kafka_testbed::secure::SecureCluster::start(kafka_testbed::ClusterConfig::new(1))?;
//! let ssl = secure.address(kafka_testbed::secure::Listener::Ssl, 1);
//! let ca = &secure.certs().ca;
//! # Ok::<(), kafka_testbed::Error>(())
//! ```

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Child;

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, PKCS_RSA_SHA256,
};

use crate::cluster::KafkaCluster;
use crate::config::ClusterConfig;
use crate::error::{Error, Result};

/// The super user: name and password (PLAIN and SCRAM).
pub const ADMIN: (&str, &str) = ("admin", "admin-secret");
/// An ordinary user with no ACLs at start: name and password (PLAIN and SCRAM).
pub const ALICE: (&str, &str) = ("alice", "alice-secret");
/// `connections.max.reauth.ms` of the secured cluster: SASL sessions end after this.
pub const REAUTH_MS: u64 = 10_000;

/// A listener of the secured cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Listener {
    /// PLAINTEXT, principal ANONYMOUS (a super user).
    Plaintext,
    /// SSL without client authentication.
    Ssl,
    /// SSL with a client certificate required.
    Mtls,
    /// SASL_PLAINTEXT: PLAIN, SCRAM-SHA-256, SCRAM-SHA-512, OAUTHBEARER.
    SaslPlaintext,
    /// SASL_SSL: SCRAM-SHA-512 only.
    SaslSsl,
    /// SSL serving a certificate whose SAN names another host.
    WrongSan,
    /// SSL serving an expired certificate.
    Expired,
}

impl Listener {
    /// The extra-port name (`None` for the PLAINTEXT client port).
    fn port_name(self) -> Option<&'static str> {
        match self {
            Listener::Plaintext => None,
            Listener::Ssl => Some("ssl"),
            Listener::Mtls => Some("mtls"),
            Listener::SaslPlaintext => Some("sasl_plaintext"),
            Listener::SaslSsl => Some("sasl_ssl"),
            Listener::WrongSan => Some("wrongsan"),
            Listener::Expired => Some("expired"),
        }
    }
}

/// Paths of the PEM files generated for the cluster (all in one directory).
#[derive(Debug, Clone)]
pub struct TestCerts {
    /// The directory holding every file.
    pub dir: PathBuf,
    /// The CA certificate every broker and client certificate is signed with.
    pub ca: PathBuf,
    /// A different CA, which signed nothing the brokers use (for "untrusted CA").
    pub other_ca: PathBuf,
    /// The broker's key store: PKCS#8 key + certificate (SAN 127.0.0.1, localhost) + CA.
    pub broker_keystore: PathBuf,
    /// Client certificate chain, CN=admin (a super user on the mTLS listener).
    pub client_cert: PathBuf,
    /// Its private key, PKCS#8 (`BEGIN PRIVATE KEY`).
    pub client_key_pkcs8: PathBuf,
    /// The same key as SEC1 (`BEGIN EC PRIVATE KEY`).
    pub client_key_sec1: PathBuf,
    /// Client certificate chain, CN=admin, for an RSA key.
    pub client_rsa_cert: PathBuf,
    /// That RSA key as PKCS#1 (`BEGIN RSA PRIVATE KEY`).
    pub client_rsa_key_pkcs1: PathBuf,
    /// Client certificate chain, CN=alice (no ACLs at start).
    pub alice_cert: PathBuf,
    /// Its PKCS#8 key.
    pub alice_key: PathBuf,
    /// An expired client certificate (CN=admin) and its key, one PEM.
    pub expired_client: PathBuf,
}

/// A running secured cluster, its certificates, and where each listener is.
#[derive(Debug)]
pub struct SecureCluster {
    cluster: KafkaCluster,
    certs: TestCerts,
    remove_dir: bool,
    cleaner: Option<Child>,
}

impl SecureCluster {
    /// Generates the certificates, then starts `base` (node count, heap, ...) with the
    /// secured listeners, authorizer and SCRAM users added.
    pub fn start(base: ClusterConfig) -> Result<Self> {
        let dir = create_dir()?;
        let keep = std::env::var(crate::KEEP_ENV).is_ok_and(|v| !v.is_empty() && v != "0");
        let cleaner = if keep {
            None
        } else {
            Some(crate::process::spawn_dir_cleaner(std::process::id(), &dir)?)
        };
        let certs = match generate(&dir) {
            Ok(c) => c,
            Err(e) => {
                let _ = fs::remove_dir_all(&dir);
                return Err(e);
            }
        };
        let config = secure_config(base, &certs);
        let cluster = KafkaCluster::start(config)?;
        Ok(Self {
            cluster,
            certs,
            remove_dir: !keep,
            cleaner,
        })
    }

    /// The cluster (node control, logs, PLAINTEXT bootstrap).
    pub fn cluster(&self) -> &KafkaCluster {
        &self.cluster
    }

    /// The generated PEM files.
    pub fn certs(&self) -> &TestCerts {
        &self.certs
    }

    /// `127.0.0.1:port` of `listener` on node `id`.
    ///
    /// # Panics
    /// If `id` is not a node of the cluster.
    pub fn address(&self, listener: Listener, id: i32) -> String {
        match listener.port_name() {
            None => self.cluster.node_address(id),
            Some(name) => {
                let port = self
                    .cluster
                    .node_port(id, name)
                    .unwrap_or_else(|| panic!("no node {id} in the secured cluster"));
                format!("127.0.0.1:{port}")
            }
        }
    }

    /// `listener` on every node, comma-separated (a bootstrap list).
    pub fn bootstrap(&self, listener: Listener) -> String {
        self.cluster
            .node_ids()
            .into_iter()
            .map(|id| self.address(listener, id))
            .collect::<Vec<_>>()
            .join(",")
    }
}

impl Drop for SecureCluster {
    fn drop(&mut self) {
        if let Some(mut c) = self.cleaner.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        if self.remove_dir {
            let _ = fs::remove_dir_all(&self.certs.dir);
        }
    }
}

pub(crate) fn create_dir() -> Result<PathBuf> {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    let dir = std::env::temp_dir().join(format!(
        "kafka-testbed-certs-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).map_err(|e| Error::io(format!("creating {}", dir.display()), e))?;
    Ok(dir)
}

/// The secured listeners, stores, SASL and authorizer settings on top of `base`.
fn secure_config(base: ClusterConfig, certs: &TestCerts) -> ClusterConfig {
    let path = |p: &Path| p.display().to_string();
    let listeners = "PLAINTEXT://127.0.0.1:{client_port},CONTROLLER://127.0.0.1:{controller_port},\
        SSL://127.0.0.1:{port.ssl},MTLS://127.0.0.1:{port.mtls},\
        SASL_PLAINTEXT://127.0.0.1:{port.sasl_plaintext},SASL_SSL://127.0.0.1:{port.sasl_ssl},\
        WRONGSAN://127.0.0.1:{port.wrongsan},EXPIRED://127.0.0.1:{port.expired}";
    let plain_jaas = format!(
        "org.apache.kafka.common.security.plain.PlainLoginModule required user_{}=\"{}\" user_{}=\"{}\";",
        ADMIN.0, ADMIN.1, ALICE.0, ALICE.1
    );
    let scram_jaas = "org.apache.kafka.common.security.scram.ScramLoginModule required;";
    let oauth_jaas = "org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required \
        unsecuredLoginStringClaim_sub=\"admin\";";
    let mut config = base;
    for name in [
        "ssl",
        "mtls",
        "sasl_plaintext",
        "sasl_ssl",
        "wrongsan",
        "expired",
    ] {
        config = config.with_extra_port(name);
    }
    let mut format_args = Vec::new();
    for (user, password) in [ADMIN, ALICE] {
        for mechanism in ["SCRAM-SHA-256", "SCRAM-SHA-512"] {
            format_args.push("--add-scram".to_owned());
            format_args.push(format!("{mechanism}=[name={user},password={password}]"));
        }
    }
    config
        .with_format_args(format_args)
        .with_property("listeners", listeners)
        .with_property("advertised.listeners", listeners)
        .with_property(
            "listener.security.protocol.map",
            "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT,SSL:SSL,MTLS:SSL,\
             SASL_PLAINTEXT:SASL_PLAINTEXT,SASL_SSL:SASL_SSL,WRONGSAN:SSL,EXPIRED:SSL",
        )
        // TLS: PEM stores (the broker reads PKCS#8 keys only).
        .with_property("ssl.keystore.type", "PEM")
        .with_property("ssl.keystore.location", path(&certs.broker_keystore))
        .with_property("ssl.truststore.type", "PEM")
        .with_property("ssl.truststore.location", path(&certs.ca))
        .with_property("listener.name.mtls.ssl.client.auth", "required")
        .with_property(
            "listener.name.wrongsan.ssl.keystore.location",
            path(&certs.dir.join("broker-wrong-san.pem")),
        )
        .with_property(
            "listener.name.expired.ssl.keystore.location",
            path(&certs.dir.join("broker-expired.pem")),
        )
        .with_property(
            "ssl.principal.mapping.rules",
            "RULE:^CN=([^,]+).*$/$1/,DEFAULT",
        )
        // SASL.
        .with_property(
            "sasl.enabled.mechanisms",
            "PLAIN,SCRAM-SHA-256,SCRAM-SHA-512,OAUTHBEARER",
        )
        .with_property(
            "listener.name.sasl_ssl.sasl.enabled.mechanisms",
            "SCRAM-SHA-512",
        )
        .with_property(
            "listener.name.sasl_plaintext.plain.sasl.jaas.config",
            plain_jaas,
        )
        .with_property(
            "listener.name.sasl_plaintext.scram-sha-256.sasl.jaas.config",
            scram_jaas,
        )
        .with_property(
            "listener.name.sasl_plaintext.scram-sha-512.sasl.jaas.config",
            scram_jaas,
        )
        .with_property(
            "listener.name.sasl_plaintext.oauthbearer.sasl.jaas.config",
            oauth_jaas,
        )
        .with_property(
            "listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config",
            scram_jaas,
        )
        .with_property("connections.max.reauth.ms", REAUTH_MS.to_string())
        // Authorization.
        .with_property(
            "authorizer.class.name",
            "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
        )
        .with_property("super.users", "User:admin;User:ANONYMOUS")
        .with_property("allow.everyone.if.no.acl.found", "false")
}

/// A test-only 2048-bit RSA key (PKCS#8), used to exercise PKCS#1 client keys. Not a
/// secret: it protects nothing but throw-away test clusters. (`ring`, rcgen's backend
/// here, cannot generate RSA keys.)
const TEST_ONLY_RSA_KEY_PKCS8: &str = r"-----BEGIN PRIVATE KEY-----
MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQCeNZkpx65lpAkU
qZxrjKb+5nvQx5ae756pLC4zI7vSw2TSJgauYtWyafUHgc3TBJEk12dNPHdSoYzv
XWZxvPzQnXMKFLxs6LW5tcTnNVUEUPOUJhOhOHQWrOkMyBHVOYMgP4T6vFiyfRVz
4OS8qzPS+0a1eG/VpRMdckExiLpqZAYJA7vPBVUWvloeE7hKuYWYn3bRbwPQh+mf
7rajYVrrZk/eoIPHCDcA9u50Cz+mRTVDwKqATixCaC2nLN2P/9YWFEwmTDgvJsjC
PXHv0sl3mnjuassHQi5nim/e79hV9tMRoXCSJUuNxXqyFOHboeBkMEI7eJpM/B7z
gOBExDGdAgMBAAECggEABg4+JRPAEKLlOBW/53v0Pmh7D8Q79yxr0cTfpdR10Xzq
JIMRGWauEEyu9NEanDueBJ98FEA+vvpxBw53p93YfXGxYA7oIXEM16Vl+oWXkfk5
QY/ti2u6Qc3vg646xIMVikv0HpbL/FT+V7eheblB3A8DJ1oLSc2uPB/N8APwQrcu
8Z4is3dTWkWPC/0jTkyOEluKWWlZfrwiE3/1pSVaPzNHfM2JTNquKCIP8DEeL85r
bBnF0GNoRtiOuRB6oequVO2Mha+ewXIZyAzc+HJ0MAM15Pq+luiIg6lvVAIzNg9r
u6iRwAsrJ6BGPFGmn6/fwVEZP72HxzZUmO+5h9IXzwKBgQDZyfXY2CtCeoQyzSy1
66j/j93dwY0gZ8Ekkdx+umiHH7lMBsiaNpenedUzR/GHpiVr4GJw5c6SUE+V+bxl
qaLhaI9VTZdNqGXB9jBb0ZvDD/mHr2VARzmNAeISaghJiQcVQCpbJU2C3GGcGgVl
hBQSyfsZQ5X0MLSDPSnwWKHfDwKBgQC595vpbyttbXHknpjOe9uSPQwGQ4A7rTCe
NdEyIh81z+iLNUVAbCltt2Fnqr4WaEInu+4g4+crFxtxZSpJbONVkOfb1FrcO3Qb
PkjjKXLQeSQkGafzzFGOI+PCzRNQ7goKjdL94/JzWLaY+/tjGbXDRooCqfB5pEEY
piGeLF0kkwKBgQCpWqT0NFSfY0n9fxKvfEt0P1lVobauZkAIwevmF+pEeOTMO9Iu
KRmQv+qL7/vfcdFTq66g//K8T/szMnnPzDO+eGJNAQMQ/kvyohBEtiAbdQai/j8L
1tbn0XkMvKspE4cQfU7yhXVatyioDIv5vtUlLy81HBs1QdJ840kDfsiQ/QKBgC+W
Hr1TByfPM6+uradYpkz7dhI8P5oFrUUuvEM53AanFvhYP0pG4ysCG9itJksRjqwg
OMUNzF+IYCtaGcIELP/+PnZQFpf4VrOJ8pi+SHT0Kr1aG1IVXGEk6ek1FNZGsycU
N4NkSuwdLUxkXmVzdMFtUW9xEOnvkADAsiWJcKQlAoGAWcG8wSF0VBEgHjD3WiJB
niyh3Lz5x1cLhQqlPNR3pJAF/+Qxdmq3rAT5ZeHljF8/N7X4RMj6hJ2d7C1TV5Ym
A178VPlO0ey1YiEdKicJRHEMNtCZbkZMf68GoOASWbG8KqhXtGM+0NbfINHHFxT4
Eyk+UXp/F6pOCQwPXCl3hRk=
-----END PRIVATE KEY-----
";

pub(crate) fn rcgen_err(what: &str) -> impl FnOnce(rcgen::Error) -> Error + '_ {
    move |e| Error::new(format!("kafka-testbed: generating {what}: {e}"))
}

pub(crate) fn write(dir: &Path, name: &str, contents: &str) -> Result<PathBuf> {
    let path = dir.join(name);
    fs::write(&path, contents).map_err(|e| Error::io(format!("writing {}", path.display()), e))?;
    Ok(path)
}

pub(crate) fn ca_params(cn: &str) -> Result<CertificateParams> {
    let mut p = CertificateParams::new(Vec::<String>::new()).map_err(rcgen_err("CA params"))?;
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.distinguished_name = dn(cn);
    p.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    Ok(p)
}

fn dn(cn: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, cn);
    dn
}

pub(crate) fn leaf_params(
    cn: &str,
    sans: &[&str],
    eku: ExtendedKeyUsagePurpose,
) -> Result<CertificateParams> {
    let sans: Vec<String> = sans.iter().map(|s| (*s).to_owned()).collect();
    let mut p = CertificateParams::new(sans).map_err(rcgen_err("certificate params"))?;
    p.distinguished_name = dn(cn);
    p.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    p.extended_key_usages = vec![eku];
    Ok(p)
}

fn expire(p: &mut CertificateParams) {
    p.not_before = rcgen::date_time_ymd(2020, 1, 1);
    p.not_after = rcgen::date_time_ymd(2021, 1, 1);
}

/// Generates every certificate and key into `dir`.
fn generate(dir: &Path) -> Result<TestCerts> {
    let ca_key = KeyPair::generate().map_err(rcgen_err("CA key"))?;
    let root = ca_params("kafka-testbed CA")?;
    let ca_cert = root.self_signed(&ca_key).map_err(rcgen_err("CA"))?;
    let ca_pem = ca_cert.pem();
    let issuer = Issuer::new(root, ca_key);

    let other_key = KeyPair::generate().map_err(rcgen_err("other CA key"))?;
    let other_ca = ca_params("kafka-testbed untrusted CA")?
        .self_signed(&other_key)
        .map_err(rcgen_err("other CA"))?;

    // Broker key stores: PKCS#8 key, then the chain.
    let server = ExtendedKeyUsagePurpose::ServerAuth;
    let broker_store = |name: &str, cn: &str, sans: &[&str], expired: bool| -> Result<PathBuf> {
        let key = KeyPair::generate().map_err(rcgen_err("broker key"))?;
        let mut params = leaf_params(cn, sans, server.clone())?;
        if expired {
            expire(&mut params);
        }
        let cert = params.signed_by(&key, &issuer).map_err(rcgen_err(name))?;
        write(
            dir,
            name,
            &format!("{}{}{}", key.serialize_pem(), cert.pem(), ca_pem),
        )
    };
    let broker_keystore = broker_store("broker.pem", "broker", &["127.0.0.1", "localhost"], false)?;
    broker_store(
        "broker-wrong-san.pem",
        "broker",
        &["wrong.example.com"],
        false,
    )?;
    broker_store(
        "broker-expired.pem",
        "broker",
        &["127.0.0.1", "localhost"],
        true,
    )?;

    // Client certificates.
    let client = ExtendedKeyUsagePurpose::ClientAuth;
    let client_key = KeyPair::generate().map_err(rcgen_err("client key"))?;
    let client_cert = leaf_params("admin", &[], client.clone())?
        .signed_by(&client_key, &issuer)
        .map_err(rcgen_err("client certificate"))?;
    let client_key_pkcs8 = write(dir, "client.key", &client_key.serialize_pem())?;
    let sec1 = pkcs8_inner(&client_key.serialize_der())
        .and_then(|inner| ec_with_p256_params(&inner))
        .ok_or_else(|| Error::new("kafka-testbed: cannot convert the client key to SEC1"))?;
    let client_key_sec1 = write(dir, "client-sec1.key", &pem("EC PRIVATE KEY", &sec1))?;
    let client_cert_path = write(
        dir,
        "client.pem",
        &format!("{}{}", client_cert.pem(), ca_pem),
    )?;

    let rsa_key = KeyPair::from_pkcs8_pem_and_sign_algo(TEST_ONLY_RSA_KEY_PKCS8, &PKCS_RSA_SHA256)
        .map_err(rcgen_err("RSA key"))?;
    let rsa_cert = leaf_params("admin", &[], client.clone())?
        .signed_by(&rsa_key, &issuer)
        .map_err(rcgen_err("RSA client certificate"))?;
    let pkcs1 = pkcs8_inner(&rsa_key.serialize_der())
        .ok_or_else(|| Error::new("kafka-testbed: cannot convert the RSA key to PKCS#1"))?;
    let client_rsa_key_pkcs1 = write(dir, "client-rsa.key", &pem("RSA PRIVATE KEY", &pkcs1))?;
    let client_rsa_cert = write(
        dir,
        "client-rsa.pem",
        &format!("{}{}", rsa_cert.pem(), ca_pem),
    )?;

    let alice_key = KeyPair::generate().map_err(rcgen_err("alice key"))?;
    let alice_cert = leaf_params("alice", &[], client.clone())?
        .signed_by(&alice_key, &issuer)
        .map_err(rcgen_err("alice certificate"))?;
    let alice_key_path = write(dir, "alice.key", &alice_key.serialize_pem())?;
    let alice_cert_path = write(dir, "alice.pem", &format!("{}{}", alice_cert.pem(), ca_pem))?;

    let expired_key = KeyPair::generate().map_err(rcgen_err("expired client key"))?;
    let mut expired_params = leaf_params("admin", &[], client)?;
    expire(&mut expired_params);
    let expired_cert = expired_params
        .signed_by(&expired_key, &issuer)
        .map_err(rcgen_err("expired client certificate"))?;
    let expired_client = write(
        dir,
        "client-expired.pem",
        &format!(
            "{}{}{}",
            expired_key.serialize_pem(),
            expired_cert.pem(),
            ca_pem
        ),
    )?;

    Ok(TestCerts {
        dir: dir.to_path_buf(),
        ca: write(dir, "ca.pem", &ca_pem)?,
        other_ca: write(dir, "other-ca.pem", &other_ca.pem())?,
        broker_keystore,
        client_cert: client_cert_path,
        client_key_pkcs8,
        client_key_sec1,
        client_rsa_cert,
        client_rsa_key_pkcs1,
        alice_cert: alice_cert_path,
        alice_key: alice_key_path,
        expired_client,
    })
}

/// PEM-armours DER bytes.
fn pem(label: &str, der: &[u8]) -> String {
    const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut b64 = String::new();
    for chunk in der.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = u32::from(b[0]) << 16 | u32::from(b[1]) << 8 | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                b64.push(B64[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                b64.push('=');
            }
        }
    }
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(line).unwrap_or_default());
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

/// One DER element: (tag, contents, the rest of the input).
fn der_element(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let len = rest[..n]
            .iter()
            .fold(0usize, |acc, b| acc << 8 | usize::from(*b));
        (len, &rest[n..])
    };
    (rest.len() >= len).then(|| (tag, &rest[..len], &rest[len..]))
}

fn der_encode(tag: u8, contents: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = contents.len();
    if len < 0x80 {
        out.push(len as u8);
    } else if len < 0x100 {
        out.extend([0x81, len as u8]);
    } else {
        out.extend([0x82, (len >> 8) as u8, len as u8]);
    }
    out.extend_from_slice(contents);
    out
}

/// The private key inside a PKCS#8 `PrivateKeyInfo`: PKCS#1 for RSA, SEC1 for EC.
fn pkcs8_inner(pkcs8: &[u8]) -> Option<Vec<u8>> {
    let (0x30, info, _) = der_element(pkcs8)? else {
        return None;
    };
    let (0x02, _version, rest) = der_element(info)? else {
        return None;
    };
    let (0x30, _algorithm, rest) = der_element(rest)? else {
        return None;
    };
    let (0x04, key, _) = der_element(rest)? else {
        return None;
    };
    Some(key.to_vec())
}

/// A SEC1 `ECPrivateKey` with the P-256 curve named in `[0] parameters`, as OpenSSL
/// writes it (PKCS#8 leaves the parameters out of the inner key).
fn ec_with_p256_params(sec1: &[u8]) -> Option<Vec<u8>> {
    const P256_OID: &[u8] = &[0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
    let (0x30, body, _) = der_element(sec1)? else {
        return None;
    };
    let (0x02, version, rest) = der_element(body)? else {
        return None;
    };
    let (0x04, private, rest) = der_element(rest)? else {
        return None;
    };
    if rest.first() == Some(&0xa0) {
        return Some(sec1.to_vec());
    }
    let mut out = der_encode(0x02, version);
    out.extend(der_encode(0x04, private));
    out.extend(der_encode(0xa0, P256_OID));
    out.extend_from_slice(rest);
    Some(der_encode(0x30, &out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generates_parsable_material() {
        let dir = create_dir().unwrap();
        let certs = generate(&dir).unwrap();
        let sec1 = fs::read_to_string(&certs.client_key_sec1).unwrap();
        assert!(sec1.starts_with("-----BEGIN EC PRIVATE KEY-----"), "{sec1}");
        let rsa = fs::read_to_string(&certs.client_rsa_key_pkcs1).unwrap();
        assert!(rsa.starts_with("-----BEGIN RSA PRIVATE KEY-----"));
        let store = fs::read_to_string(&certs.broker_keystore).unwrap();
        assert!(store.starts_with("-----BEGIN PRIVATE KEY-----"));
        assert_eq!(store.matches("BEGIN CERTIFICATE").count(), 2);
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn pem_armour_round_trips_base64() {
        assert_eq!(
            pem("X", b"foobar"),
            "-----BEGIN X-----\nZm9vYmFy\n-----END X-----\n"
        );
        assert!(pem("X", b"fo").contains("Zm8="));
    }
}
