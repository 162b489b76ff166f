//! `SCRAM-SHA-256` and `SCRAM-SHA-512` (RFC 5802, RFC 7677), client side.
//!
//! The client checks that the server's nonce extends its own, that the iteration count
//! is sane, and, at the end, the server's signature: a peer that does not know the
//! user's credentials cannot complete the exchange.

use super::SaslFault;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256, Sha512};

use super::Mechanism;
use crate::config::Secret;

/// Fewest iterations accepted (Kafka's own minimum): a peer must not downgrade the
/// proof to something cheap to attack offline.
const MIN_ITERATIONS: u32 = 4096;
/// Most iterations accepted: a hostile peer must not make the client spin.
const MAX_ITERATIONS: u32 = 1_000_000;

/// The SCRAM hash function.
#[derive(Clone, Copy, Debug)]
pub(super) enum Hash {
    Sha256,
    Sha512,
}

impl Hash {
    fn hmac(self, key: &[u8], data: &[u8]) -> Vec<u8> {
        fn run<M: Mac + hmac::digest::KeyInit>(key: &[u8], data: &[u8]) -> Vec<u8> {
            // HMAC accepts keys of any length.
            let mut m = <M as hmac::digest::KeyInit>::new_from_slice(key)
                .unwrap_or_else(|_| <M as hmac::digest::KeyInit>::new(&Default::default()));
            m.update(data);
            m.finalize().into_bytes().to_vec()
        }
        match self {
            Hash::Sha256 => run::<Hmac<Sha256>>(key, data),
            Hash::Sha512 => run::<Hmac<Sha512>>(key, data),
        }
    }

    fn digest(self, data: &[u8]) -> Vec<u8> {
        match self {
            Hash::Sha256 => Sha256::digest(data).to_vec(),
            Hash::Sha512 => Sha512::digest(data).to_vec(),
        }
    }

    fn salted_password(self, password: &[u8], salt: &[u8], iterations: u32) -> Vec<u8> {
        match self {
            Hash::Sha256 => {
                let mut out = vec![0u8; 32];
                pbkdf2::pbkdf2_hmac::<Sha256>(password, salt, iterations, &mut out);
                out
            }
            Hash::Sha512 => {
                let mut out = vec![0u8; 64];
                pbkdf2::pbkdf2_hmac::<Sha512>(password, salt, iterations, &mut out);
                out
            }
        }
    }
}

enum State {
    Start,
    SentFirst { client_first_bare: String },
    SentFinal { server_signature: Vec<u8> },
    Done,
}

pub(super) struct Scram {
    hash: Hash,
    username: String,
    password: Secret,
    nonce: Option<String>,
    /// Sends the `tokenauth=true` extension: the credentials are a delegation token.
    token_auth: bool,
    state: State,
}

impl Scram {
    pub(super) fn new(hash: Hash, username: &str, password: &Secret) -> Self {
        Self {
            hash,
            username: username.to_owned(),
            password: password.clone(),
            nonce: None,
            token_auth: false,
            state: State::Start,
        }
    }

    /// Authenticates with a delegation token (KIP-48) when `on`.
    pub(super) fn token_auth(mut self, on: bool) -> Self {
        self.token_auth = on;
        self
    }

    #[cfg(test)]
    fn with_nonce(mut self, nonce: &str) -> Self {
        self.nonce = Some(nonce.to_owned());
        self
    }

    fn client_final(
        &mut self,
        client_first_bare: &str,
        server_first: &[u8],
    ) -> Result<Vec<u8>, SaslFault> {
        let server_first = std::str::from_utf8(server_first)
            .map_err(|_| "the server-first message is not UTF-8".to_owned())?;
        let attrs = parse_attributes(server_first)?;
        if attrs.first().is_some_and(|(k, _)| *k == 'm') {
            return Err("the server requires an unsupported SCRAM extension".into());
        }
        let get = |key: char| {
            attrs
                .iter()
                .find(|(k, _)| *k == key)
                .map(|(_, v)| *v)
                .ok_or_else(|| format!("the server-first message has no '{key}=' attribute"))
        };
        let server_nonce = get('r')?;
        let client_nonce = self.nonce.as_deref().unwrap_or_default();
        if !server_nonce.starts_with(client_nonce) || server_nonce.len() <= client_nonce.len() {
            return Err("the server nonce does not extend the client nonce".into());
        }
        let salt = B64
            .decode(get('s')?)
            .map_err(|_| "the salt is not valid base64".to_owned())?;
        let iterations: u32 = get('i')?
            .parse()
            .map_err(|_| "the iteration count is not a number".to_owned())?;
        if !(MIN_ITERATIONS..=MAX_ITERATIONS).contains(&iterations) {
            return Err(format!(
                "the server asked for {iterations} iterations, outside \
                 {MIN_ITERATIONS}..={MAX_ITERATIONS}"
            )
            .into());
        }
        let h = self.hash;
        let salted = h.salted_password(self.password.expose().as_bytes(), &salt, iterations);
        let client_key = h.hmac(&salted, b"Client Key");
        let stored_key = h.digest(&client_key);
        // c=biws is base64("n,,"): no channel binding, no authzid.
        let without_proof = format!("c=biws,r={server_nonce}");
        let auth_message = format!("{client_first_bare},{server_first},{without_proof}");
        let client_signature = h.hmac(&stored_key, auth_message.as_bytes());
        let proof: Vec<u8> = client_key
            .iter()
            .zip(&client_signature)
            .map(|(a, b)| a ^ b)
            .collect();
        let server_key = h.hmac(&salted, b"Server Key");
        let server_signature = h.hmac(&server_key, auth_message.as_bytes());
        self.state = State::SentFinal { server_signature };
        Ok(format!("{without_proof},p={}", B64.encode(proof)).into_bytes())
    }
}

impl Mechanism for Scram {
    fn initial(&mut self) -> Result<Vec<u8>, SaslFault> {
        let nonce = match &self.nonce {
            Some(n) => n.clone(),
            None => {
                let mut raw = [0u8; 24];
                super::random_bytes(&mut raw)?;
                let n = B64.encode(raw);
                self.nonce = Some(n.clone());
                n
            }
        };
        // Extensions follow the nonce in the client-first-bare message (RFC 5802 7.).
        let extensions = if self.token_auth {
            ",tokenauth=true"
        } else {
            ""
        };
        let client_first_bare = format!("n={},r={nonce}{extensions}", saslname(&self.username));
        let message = format!("n,,{client_first_bare}").into_bytes();
        self.state = State::SentFirst { client_first_bare };
        Ok(message)
    }

    fn step(&mut self, server: &[u8]) -> Result<Option<Vec<u8>>, SaslFault> {
        match std::mem::replace(&mut self.state, State::Done) {
            State::SentFirst { client_first_bare } => {
                self.client_final(&client_first_bare, server).map(Some)
            }
            State::SentFinal { server_signature } => {
                let text = std::str::from_utf8(server)
                    .map_err(|_| "the server-final message is not UTF-8".to_owned())?;
                match parse_attributes(text)?.first() {
                    Some(('e', err)) => Err(format!("the server reports: {err}").into()),
                    Some(('v', sig)) => {
                        let sig = B64
                            .decode(sig)
                            .map_err(|_| "the server signature is not valid base64".to_owned())?;
                        if constant_time_eq(&sig, &server_signature) {
                            Ok(None)
                        } else {
                            Err(
                                "the server signature is wrong: the peer does not know this \
                                 user's credentials"
                                    .into(),
                            )
                        }
                    }
                    _ => Err("the server-final message has no signature".into()),
                }
            }
            State::Start | State::Done => Err("unexpected SCRAM message from the broker".into()),
        }
    }
}

/// RFC 5802 `saslname`: `=` and `,` escaped as `=3D` and `=2C`.
fn saslname(username: &str) -> String {
    username.replace('=', "=3D").replace(',', "=2C")
}

/// `a=value,b=value` pairs; a value may itself contain `=`.
fn parse_attributes(msg: &str) -> Result<Vec<(char, &str)>, SaslFault> {
    msg.split(',')
        .map(|part| {
            let mut chars = part.chars();
            match (chars.next(), chars.next()) {
                (Some(k), Some('=')) if k.is_ascii_alphabetic() => Ok((k, &part[2..])),
                _ => Err("malformed SCRAM message from the broker".into()),
            }
        })
        .collect()
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    const SERVER_FIRST: &[u8] =
        b"r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";

    /// RFC 7677 section 3.
    #[test]
    fn rfc7677_sha256_vector() {
        let mut s = Scram::new(Hash::Sha256, "user", &Secret::new("pencil"))
            .with_nonce("rOprNGfwEbeRWgbNEkqO");
        assert_eq!(s.initial().unwrap(), b"n,,n=user,r=rOprNGfwEbeRWgbNEkqO");
        let final_msg = s.step(SERVER_FIRST).unwrap().unwrap();
        assert_eq!(
            String::from_utf8(final_msg).unwrap(),
            "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,\
             p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
        );
        assert_eq!(
            s.step(b"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=")
                .unwrap(),
            None
        );
    }

    #[test]
    fn wrong_server_signature_fails() {
        let mut s = Scram::new(Hash::Sha256, "user", &Secret::new("pencil"))
            .with_nonce("rOprNGfwEbeRWgbNEkqO");
        s.initial().unwrap();
        s.step(SERVER_FIRST).unwrap();
        let e = s
            .step(b"v=AAAATRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=")
            .unwrap_err();
        assert!(e.contains("signature is wrong"), "{e}");
        assert!(!e.contains("pencil"));
    }

    #[test]
    fn nonce_and_iterations_checked() {
        for (server_first, why) in [
            (&b"r=someoneelse123,s=QUJD,i=4096"[..], "nonce"),
            (b"r=abc,s=QUJD,i=4096", "nonce"),
            (b"r=abcX,s=QUJD,i=1", "iterations"),
            (b"m=ext,r=abcX,s=QUJD,i=4096", "extension"),
            (b"garbage", "malformed"),
        ] {
            let mut s = Scram::new(Hash::Sha512, "u", &Secret::new("p")).with_nonce("abc");
            s.initial().unwrap();
            let e = s.step(server_first).unwrap_err();
            assert!(e.contains(why), "{why}: {e}");
        }
    }

    /// The token extension is part of the client-first-bare message, so it is also in
    /// the proof's auth message: the proof differs from the one without it.
    #[test]
    fn token_auth_extension_sent_and_signed() {
        let mut plain = Scram::new(Hash::Sha256, "user", &Secret::new("pencil"))
            .with_nonce("rOprNGfwEbeRWgbNEkqO");
        let mut token = Scram::new(Hash::Sha256, "user", &Secret::new("pencil"))
            .token_auth(true)
            .with_nonce("rOprNGfwEbeRWgbNEkqO");
        plain.initial().unwrap();
        assert_eq!(
            token.initial().unwrap(),
            b"n,,n=user,r=rOprNGfwEbeRWgbNEkqO,tokenauth=true"
        );
        let a = plain.step(SERVER_FIRST).unwrap().unwrap();
        let b = token.step(SERVER_FIRST).unwrap().unwrap();
        assert_ne!(a, b);
    }

    #[test]
    fn usernames_escaped_and_nonces_random() {
        assert_eq!(saslname("a=b,c"), "a=3Db=2Cc");
        let mut a = Scram::new(Hash::Sha512, "x,y", &Secret::new("p"));
        let mut b = Scram::new(Hash::Sha512, "x,y", &Secret::new("p"));
        let (ma, mb) = (a.initial().unwrap(), b.initial().unwrap());
        assert_ne!(ma, mb);
        assert!(String::from_utf8(ma).unwrap().starts_with("n,,n=x=2Cy,r="));
    }
}
