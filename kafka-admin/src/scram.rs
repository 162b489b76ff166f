//! SCRAM credentials: describe (DescribeUserScramCredentials, any broker) and upsert or
//! delete (AlterUserScramCredentials, the controller). The salted password is computed
//! here, as Kafka requires: `Hi(password, salt, iterations)`, PBKDF2 with HMAC-SHA-256
//! or -512 (RFC 5802), over a fresh random salt.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use bytes::Bytes;
use kafka_client::lowlevel::Target;
use kafka_client::{Error, ErrorContext, Result};
use kafka_protocol::messages::alter_user_scram_credentials_request::{
    ScramCredentialDeletion, ScramCredentialUpsertion,
};
use kafka_protocol::messages::describe_user_scram_credentials_request::UserName;
use kafka_protocol::messages::{
    AlterUserScramCredentialsRequest, ApiKey, DescribeUserScramCredentialsRequest,
};

use crate::admin::{Admin, check_item, wire_str};
use crate::codes;
use crate::driver::{Call, fixed, retry_controller_errors, retry_transient_errors};
use crate::one_request::OneRequest;

/// The fewest iterations Kafka accepts for a SCRAM credential.
pub const MIN_SCRAM_ITERATIONS: i32 = 4096;
/// The most iterations Kafka accepts for a SCRAM credential.
pub const MAX_SCRAM_ITERATIONS: i32 = 16384;
const SALT_BYTES: usize = 32;

/// A SCRAM mechanism.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ScramMechanism {
    /// SCRAM-SHA-256.
    Sha256,
    /// SCRAM-SHA-512.
    Sha512,
}

impl ScramMechanism {
    fn code(self) -> i8 {
        match self {
            Self::Sha256 => 1,
            Self::Sha512 => 2,
        }
    }

    fn from_code(code: i8) -> Option<Self> {
        match code {
            1 => Some(Self::Sha256),
            2 => Some(Self::Sha512),
            _ => None,
        }
    }

    /// The SASL mechanism name: `SCRAM-SHA-256` or `SCRAM-SHA-512`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Sha256 => "SCRAM-SHA-256",
            Self::Sha512 => "SCRAM-SHA-512",
        }
    }

    /// `Hi(password, salt, iterations)` of RFC 5802 for this mechanism's hash.
    pub fn salted_password(self, password: &[u8], salt: &[u8], iterations: u32) -> Vec<u8> {
        match self {
            Self::Sha256 => {
                let mut out = [0u8; 32];
                pbkdf2::pbkdf2_hmac::<sha2::Sha256>(password, salt, iterations, &mut out);
                out.to_vec()
            }
            Self::Sha512 => {
                let mut out = [0u8; 64];
                pbkdf2::pbkdf2_hmac::<sha2::Sha512>(password, salt, iterations, &mut out);
                out.to_vec()
            }
        }
    }
}

impl fmt::Display for ScramMechanism {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One credential a user has, as [`Admin::describe_user_scram_credentials`] reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ScramCredentialInfo {
    /// The mechanism.
    pub mechanism: ScramMechanism,
    /// The iteration count.
    pub iterations: i32,
}

/// One change to a user's SCRAM credentials.
#[derive(Clone, PartialEq, Eq)]
pub enum ScramAlteration {
    /// Create or replace the user's credential for `mechanism`.
    Upsert {
        /// The mechanism.
        mechanism: ScramMechanism,
        /// Iterations, [`MIN_SCRAM_ITERATIONS`]..=[`MAX_SCRAM_ITERATIONS`].
        iterations: i32,
        /// The password (not printed by `Debug`).
        password: String,
    },
    /// Delete the user's credential for `mechanism`.
    Delete {
        /// The mechanism.
        mechanism: ScramMechanism,
    },
}

impl fmt::Debug for ScramAlteration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Upsert {
                mechanism,
                iterations,
                ..
            } => f
                .debug_struct("Upsert")
                .field("mechanism", mechanism)
                .field("iterations", iterations)
                .field("password", &"<redacted>")
                .finish(),
            Self::Delete { mechanism } => f
                .debug_struct("Delete")
                .field("mechanism", mechanism)
                .finish(),
        }
    }
}

/// Options for the SCRAM calls.
#[derive(Clone, Debug)]
pub struct ScramOptions {
    timeout: Duration,
}

impl Default for ScramOptions {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(60),
        }
    }
}

impl ScramOptions {
    /// How long the whole call may take, retries included. Default 60 s.
    pub fn timeout(mut self, t: Duration) -> Self {
        self.timeout = t;
        self
    }
}

fn user_context(api: ApiKey, user: &str) -> ErrorContext {
    ErrorContext::default().with_api(api).with_resource(user)
}

/// What Kafka would refuse: an empty user name, an empty password or an iteration count
/// out of range (UNACCEPTABLE_CREDENTIAL, checked before the salting work).
fn invalid_alteration(user: &str, alterations: &[ScramAlteration]) -> Option<Error> {
    let why = if user.is_empty() {
        "an empty user name".to_string()
    } else {
        alterations.iter().find_map(|a| match a {
            ScramAlteration::Upsert { password, .. } if password.is_empty() => {
                Some("an empty password".to_string())
            }
            ScramAlteration::Upsert { iterations, .. }
                if !(MIN_SCRAM_ITERATIONS..=MAX_SCRAM_ITERATIONS).contains(iterations) =>
            {
                Some(format!(
                    "{iterations} iterations (must be {MIN_SCRAM_ITERATIONS}..={MAX_SCRAM_ITERATIONS})"
                ))
            }
            _ => None,
        })?
    };
    Some(Error::broker(
        codes::unacceptable_credential(),
        user_context(ApiKey::AlterUserScramCredentials, user),
        Some(format!("a SCRAM credential cannot have {why}")),
    ))
}

fn random_salt() -> Result<Vec<u8>> {
    let mut salt = vec![0u8; SALT_BYTES];
    getrandom::fill(&mut salt)
        .map_err(|e| Error::InvalidState(format!("no random bytes for a SCRAM salt: {e}")))?;
    Ok(salt)
}

impl Admin {
    /// The SCRAM credentials of `users` (every user with one when `None`), with a result
    /// per user: RESOURCE_NOT_FOUND for a user without credentials.
    ///
    /// # Cancel safety
    /// Cancel-safe: read-only, and the admin client holds no state a dropped call could
    /// leave behind. Dropping it changes nothing; the next call works.
    pub async fn describe_user_scram_credentials(
        &self,
        users: Option<Vec<String>>,
        options: ScramOptions,
    ) -> Result<BTreeMap<String, Result<Vec<ScramCredentialInfo>>>> {
        let api = ApiKey::DescribeUserScramCredentials;
        let req = DescribeUserScramCredentialsRequest::default().with_users(users.map(|us| {
            us.iter()
                .map(|u| UserName::default().with_name(wire_str(u)))
                .collect()
        }));
        let one = OneRequest {
            client: &self.client,
            operation: "DescribeUserScramCredentials",
            api,
            timeout: options.timeout,
            target: Target::Any,
            retry: retry_transient_errors,
        };
        one.run(|conn| {
            let req = &req;
            async move {
                let resp = conn.request(req).await?;
                let ctx = || ErrorContext::default().with_api(api);
                check_item(resp.error_code, ctx, resp.error_message.as_ref())?;
                let mut out = BTreeMap::new();
                for r in resp.results {
                    let user = r.user.to_string();
                    let ctx = || user_context(api, &user);
                    let result =
                        check_item(r.error_code, ctx, r.error_message.as_ref()).map(|()| {
                            r.credential_infos
                                .iter()
                                .filter_map(|c| {
                                    Some(ScramCredentialInfo {
                                        mechanism: ScramMechanism::from_code(c.mechanism)?,
                                        iterations: c.iterations,
                                    })
                                })
                                .collect()
                        });
                    out.insert(user, result);
                }
                Ok(out)
            }
        })
        .await
    }

    /// Upserts or deletes users' SCRAM credentials, with a result per user
    /// (RESOURCE_NOT_FOUND when deleting a credential that does not exist,
    /// UNACCEPTABLE_CREDENTIAL for an out-of-range iteration count or empty password,
    /// ...). Several changes of one user are sent one per request, in order (Kafka
    /// refuses a request naming a user twice); after a failed one, the user's later
    /// changes are not sent.
    ///
    /// # Cancel safety
    /// The admin client holds no state a dropped call could leave behind, and the next call
    /// works. The change may or may not have been applied: dropped after a request was
    /// sent, the broker (or controller, or coordinator) may still apply it — one request
    /// per change of a user, in order: a prefix of the changes may have been applied. Read
    /// the state back to know.
    pub async fn alter_user_scram_credentials(
        &self,
        alterations: impl IntoIterator<Item = (String, ScramAlteration)>,
        options: ScramOptions,
    ) -> Result<BTreeMap<String, Result<()>>> {
        let api = ApiKey::AlterUserScramCredentials;
        let mut by_user: BTreeMap<String, Vec<ScramAlteration>> = BTreeMap::new();
        for (user, a) in alterations {
            by_user.entry(user).or_default().push(a);
        }
        let mut invalid = BTreeMap::new();
        // Kafka refuses a request naming a user twice (DUPLICATE_RESOURCE), so the n-th
        // change of every user goes in the n-th request.
        let mut rounds: Vec<BTreeMap<String, WireAlteration>> = Vec::new();
        for (user, alts) in by_user {
            if let Some(e) = invalid_alteration(&user, &alts) {
                invalid.insert(user, Err(e));
                continue;
            }
            for (n, a) in alts.into_iter().enumerate() {
                if rounds.len() <= n {
                    rounds.push(BTreeMap::new());
                }
                rounds[n].insert(user.clone(), to_wire(&user, a)?);
            }
        }
        let call = Call::new(
            &self.client,
            "AlterUserScramCredentials",
            api,
            options.timeout,
        )
        .retry(retry_controller_errors);
        let mut results: BTreeMap<String, Result<()>> = BTreeMap::new();
        for mut round in rounds {
            round.retain(|user, _| !results.get(user).is_some_and(Result::is_err));
            let answered = call
                .run(
                    round,
                    |keys| fixed(Target::Controller, keys),
                    |conn, batch| async move {
                        let mut req = AlterUserScramCredentialsRequest::default();
                        for (_, a) in batch {
                            match a {
                                WireAlteration::Delete(d) => req.deletions.push(d),
                                WireAlteration::Upsert(u) => req.upsertions.push(u),
                            }
                        }
                        let resp = conn.request(&req).await?;
                        Ok(resp
                            .results
                            .into_iter()
                            .map(|r| {
                                let user = r.user.to_string();
                                let ctx = || user_context(api, &user);
                                let result =
                                    check_item(r.error_code, ctx, r.error_message.as_ref());
                                (user, result)
                            })
                            .collect())
                    },
                )
                .await;
            results.extend(answered);
        }
        results.append(&mut invalid);
        Ok(results)
    }
}

/// One change as sent.
#[derive(Clone, Debug)]
enum WireAlteration {
    Delete(ScramCredentialDeletion),
    Upsert(ScramCredentialUpsertion),
}

/// The change as sent, with a fresh salt and the salted password for an upsert.
fn to_wire(user: &str, a: ScramAlteration) -> Result<WireAlteration> {
    Ok(match a {
        ScramAlteration::Delete { mechanism } => WireAlteration::Delete(
            ScramCredentialDeletion::default()
                .with_name(wire_str(user))
                .with_mechanism(mechanism.code()),
        ),
        ScramAlteration::Upsert {
            mechanism,
            iterations,
            password,
        } => {
            let salt = random_salt()?;
            let salted = mechanism.salted_password(password.as_bytes(), &salt, iterations as u32);
            WireAlteration::Upsert(
                ScramCredentialUpsertion::default()
                    .with_name(wire_str(user))
                    .with_mechanism(mechanism.code())
                    .with_iterations(iterations)
                    .with_salt(Bytes::from(salt))
                    .with_salted_password(Bytes::from(salted)),
            )
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn salted_password_is_rfc_7677s_hi() {
        // RFC 7677's SCRAM-SHA-256 example: password "pencil", salt
        // W22ZaJ0SNY7soEsUEjb6gQ==, 4096 iterations; its SaltedPassword gives the
        // example's ClientKey, checked here through the HMAC chain.
        use base64::Engine;
        use hmac::{Hmac, Mac};
        let salt = base64::engine::general_purpose::STANDARD
            .decode("W22ZaJ0SNY7soEsUEjb6gQ==")
            .unwrap();
        let salted = ScramMechanism::Sha256.salted_password(b"pencil", &salt, 4096);
        assert_eq!(salted.len(), 32);
        let mut mac = Hmac::<sha2::Sha256>::new_from_slice(&salted).unwrap();
        mac.update(b"Server Key");
        let server_key = mac.finalize().into_bytes();
        // ServerSignature of the RFC's exchange = HMAC(ServerKey, AuthMessage).
        let auth = "n=user,r=rOprNGfwEbeRWgbNEkqO,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096,c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0";
        let mut mac = Hmac::<sha2::Sha256>::new_from_slice(&server_key).unwrap();
        mac.update(auth.as_bytes());
        let sig = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
        assert_eq!(sig, "6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=");
        assert_eq!(
            ScramMechanism::Sha512
                .salted_password(b"p", b"s", 4096)
                .len(),
            64
        );
    }

    #[test]
    fn unacceptable_credentials_are_refused_before_sending() {
        let up = |iterations, password: &str| ScramAlteration::Upsert {
            mechanism: ScramMechanism::Sha256,
            iterations,
            password: password.into(),
        };
        let code = |user: &str, a| invalid_alteration(user, &[a]).and_then(|e| e.code());
        let bad = Some(codes::unacceptable_credential());
        assert_eq!(code("u", up(100, "pw")), bad);
        assert_eq!(code("u", up(4096, "")), bad);
        assert_eq!(code("", up(4096, "pw")), bad);
        assert_eq!(code("u", up(4096, "pw")), None);
        assert!(!format!("{:?}", up(4096, "secret")).contains("secret"));
    }
}
