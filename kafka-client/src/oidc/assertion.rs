//! JWT-bearer assertions (RFC 7523, KIP-1139): a JWT the client signs with its private
//! key (RS256 or ES256, with ring) and sends as `assertion` in the token request.

use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::rand::SystemRandom;
use ring::signature::{self, EcdsaKeyPair, RsaKeyPair};
use rustls_pki_types::PrivateKeyDer;
use rustls_pki_types::pem::PemObject;

use super::OidcError;
use crate::config::{AssertionAlgorithm, OidcConfig, PemSource, Secret};

/// A loaded signing key and the claims to put in each assertion.
pub(crate) struct Signer {
    key: Key,
    iss: String,
    sub: String,
    aud: Option<String>,
    exp: u64,
    nbf: u64,
    jti: bool,
    rng: SystemRandom,
}

enum Key {
    Rsa(RsaKeyPair),
    Ec(EcdsaKeyPair),
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signer")
            .field("iss", &self.iss)
            .field("sub", &self.sub)
            .finish_non_exhaustive()
    }
}

impl Signer {
    /// Reads and parses the key named in `config` (once).
    pub(crate) fn load(config: &OidcConfig, key: &PemSource) -> Result<Self, OidcError> {
        let cfg = |m: String| OidcError::Config(m);
        let pem = match key {
            PemSource::File(p) => Secret::new(
                std::fs::read_to_string(p)
                    .map_err(|e| cfg(format!("reading the assertion key {}: {e}", p.display())))?,
            ),
            PemSource::Inline(s) => s.clone(),
        };
        let der = PrivateKeyDer::from_pem_slice(pem.expose().as_bytes()).map_err(|_| {
            cfg(format!(
                "{} holds no unencrypted PEM private key",
                key.describe()
            ))
        })?;
        let rng = SystemRandom::new();
        let unusable = |why: &str| {
            cfg(format!(
                "{} is not a usable {} key: {why}",
                key.describe(),
                config.assertion_algorithm.name()
            ))
        };
        let key = match (config.assertion_algorithm, &der) {
            (AssertionAlgorithm::Rs256, PrivateKeyDer::Pkcs8(d)) => Key::Rsa(
                RsaKeyPair::from_pkcs8(d.secret_pkcs8_der())
                    .map_err(|e| unusable(&e.to_string()))?,
            ),
            (AssertionAlgorithm::Rs256, PrivateKeyDer::Pkcs1(d)) => Key::Rsa(
                RsaKeyPair::from_der(d.secret_pkcs1_der()).map_err(|e| unusable(&e.to_string()))?,
            ),
            (AssertionAlgorithm::Es256, PrivateKeyDer::Pkcs8(d)) => Key::Ec(
                EcdsaKeyPair::from_pkcs8(
                    &signature::ECDSA_P256_SHA256_FIXED_SIGNING,
                    d.secret_pkcs8_der(),
                    &rng,
                )
                .map_err(|e| unusable(&e.to_string()))?,
            ),
            _ => return Err(unusable("give it as PKCS#8 (RSA keys also as PKCS#1)")),
        };
        let claim = |c: &Option<String>, name: &str| {
            c.clone().ok_or_else(|| {
                cfg(format!(
                    "the assertion needs sasl.oauthbearer.assertion.claim.{name}"
                ))
            })
        };
        Ok(Self {
            key,
            iss: claim(&config.claim_iss, "iss")?,
            sub: claim(&config.claim_sub, "sub")?,
            aud: config.claim_aud.clone(),
            exp: config.claim_exp.as_secs().max(1),
            nbf: config.claim_nbf.as_secs(),
            jti: config.claim_jti,
            rng,
        })
    }

    /// A fresh assertion, issued at `now`.
    pub(crate) fn sign(&self, now: SystemTime) -> Result<Secret, OidcError> {
        let iat = now
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let alg = match self.key {
            Key::Rsa(_) => "RS256",
            Key::Ec(_) => "ES256",
        };
        let header = serde_json::json!({ "alg": alg, "typ": "JWT" });
        let mut claims = serde_json::json!({
            "iss": self.iss,
            "sub": self.sub,
            "iat": iat,
            "exp": iat + self.exp,
            "nbf": iat.saturating_sub(self.nbf),
        });
        if let Some(aud) = &self.aud {
            claims["aud"] = aud.clone().into();
        }
        if self.jti {
            let mut b = [0u8; 16];
            ring::rand::SecureRandom::fill(&self.rng, &mut b)
                .map_err(|_| OidcError::Config("no secure random source".into()))?;
            claims["jti"] = b
                .iter()
                .map(|x| format!("{x:02x}"))
                .collect::<String>()
                .into();
        }
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let failed = |_| OidcError::Config("signing the assertion failed".into());
        let sig = match &self.key {
            Key::Rsa(k) => {
                let mut sig = vec![0u8; k.public().modulus_len()];
                k.sign(
                    &signature::RSA_PKCS1_SHA256,
                    &self.rng,
                    input.as_bytes(),
                    &mut sig,
                )
                .map_err(failed)?;
                sig
            }
            Key::Ec(k) => k
                .sign(&self.rng, input.as_bytes())
                .map_err(failed)?
                .as_ref()
                .to_vec(),
        };
        Ok(Secret::new(format!(
            "{input}.{}",
            URL_SAFE_NO_PAD.encode(sig)
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// An EC P-256 key made in the test; the assertion verifies with its public key.
    #[test]
    fn es256_assertion_verifies_and_carries_the_claims() {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
            .unwrap();
        let pem = format!(
            "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
            base64::engine::general_purpose::STANDARD.encode(pkcs8.as_ref())
        );
        let key = PemSource::Inline(Secret::new(pem));
        let config = OidcConfig::jwt_bearer("http://idp/t", key.clone(), "app", "svc", "idp")
            .assertion_algorithm(AssertionAlgorithm::Es256);
        let signer = Signer::load(&config, &key).unwrap();
        let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let jwt = signer.sign(now).unwrap();
        let parts: Vec<&str> = jwt.expose().split('.').collect();
        assert_eq!(parts.len(), 3);
        let claims: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
        assert_eq!(claims["sub"], "svc");
        assert_eq!(claims["aud"], "idp");
        assert_eq!(claims["exp"], 1_700_000_300u64);
        let pair = EcdsaKeyPair::from_pkcs8(
            &signature::ECDSA_P256_SHA256_FIXED_SIGNING,
            pkcs8.as_ref(),
            &rng,
        )
        .unwrap();
        let public = signature::UnparsedPublicKey::new(
            &signature::ECDSA_P256_SHA256_FIXED,
            ring::signature::KeyPair::public_key(&pair).as_ref(),
        );
        let input = format!("{}.{}", parts[0], parts[1]);
        public
            .verify(input.as_bytes(), &URL_SAFE_NO_PAD.decode(parts[2]).unwrap())
            .expect("signature verifies");
    }

    #[test]
    fn unusable_keys_are_named_not_shown() {
        let key = PemSource::Inline(Secret::new(
            "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
        ));
        let config = OidcConfig::jwt_bearer("http://idp/t", key.clone(), "a", "b", "c");
        let e = Signer::load(&config, &key).unwrap_err().to_string();
        assert!(e.contains("in-memory PEM") && !e.contains("AAAA"), "{e}");
        let missing = PemSource::File("/nonexistent/key.pem".into());
        let e = Signer::load(&config, &missing).unwrap_err().to_string();
        assert!(e.contains("/nonexistent/key.pem"), "{e}");
    }
}
