//! Delegation tokens (KIP-48): create, renew, expire (at the controller) and describe
//! (any broker). Brokers grant them only over authenticated connections (SASL, or TLS
//! with client certificates) and only with `delegation.token.secret.key` set. A client
//! authenticates with a token through SCRAM, the token id as user name and the HMAC
//! (base64, [`DelegationToken::hmac_base64`]) as password, with `tokenauth=true`.

use std::fmt;
use std::time::Duration;

use base64::Engine;
use bytes::Bytes;
use kafka_client::lowlevel::Target;
use kafka_client::{Error, ErrorCode, ErrorContext, Result};
use kafka_protocol::messages::create_delegation_token_request::CreatableRenewers;
use kafka_protocol::messages::describe_delegation_token_request::DescribeDelegationTokenOwner;
use kafka_protocol::messages::{
    ApiKey, CreateDelegationTokenRequest, DescribeDelegationTokenRequest,
    ExpireDelegationTokenRequest, RenewDelegationTokenRequest,
};
use kafka_protocol::protocol::{Request, StrBytes};

use crate::admin::{Admin, check_item, wire_str};
use crate::driver::{retry_controller_errors, retry_transient_errors};
use crate::one_request::OneRequest;

/// INVALID_PRINCIPAL_TYPE (67).
fn invalid_principal() -> ErrorCode {
    ErrorCode::from_code(67).unwrap_or(ErrorCode::INVALID_REQUEST)
}

/// Options for [`Admin::create_delegation_token`].
#[derive(Clone, Debug)]
pub struct CreateDelegationTokenOptions {
    timeout: Duration,
    max_lifetime: Option<Duration>,
    renewers: Vec<String>,
    owner: Option<String>,
}

impl Default for CreateDelegationTokenOptions {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(60),
            max_lifetime: None,
            renewers: Vec::new(),
            owner: None,
        }
    }
}

impl CreateDelegationTokenOptions {
    /// How long the whole call may take, retries included. Default 60 s.
    pub fn timeout(mut self, t: Duration) -> Self {
        self.timeout = t;
        self
    }

    /// The token's maximum lifetime (the broker's `delegation.token.max.lifetime.ms`
    /// when not set, and at most that).
    pub fn max_lifetime(mut self, d: Duration) -> Self {
        self.max_lifetime = Some(d);
        self
    }

    /// A principal (`User:bob`) allowed to renew the token; repeatable.
    pub fn renewer(mut self, principal: impl Into<String>) -> Self {
        self.renewers.push(principal.into());
        self
    }

    /// Create the token for another principal (`User:bob`; needs CreateTokens on it).
    pub fn owner(mut self, principal: impl Into<String>) -> Self {
        self.owner = Some(principal.into());
        self
    }
}

/// Options for renewing, expiring and describing tokens.
#[derive(Clone, Debug)]
pub struct DelegationTokenOptions {
    timeout: Duration,
}

impl Default for DelegationTokenOptions {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(60),
        }
    }
}

impl DelegationTokenOptions {
    /// How long the whole call may take, retries included. Default 60 s.
    pub fn timeout(mut self, t: Duration) -> Self {
        self.timeout = t;
        self
    }
}

/// A delegation token and what the cluster knows of it.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct DelegationToken {
    /// The token id (the SCRAM user name when authenticating with it).
    pub token_id: String,
    /// The HMAC (the SCRAM password, base64-encoded). Not printed by `Debug`.
    pub hmac: Vec<u8>,
    /// The owner, `User:alice`.
    pub owner: String,
    /// Who asked for it, `User:alice`.
    pub requester: String,
    /// Principals allowed to renew it.
    pub renewers: Vec<String>,
    /// When it was issued (ms since the epoch).
    pub issue_timestamp_ms: i64,
    /// When it expires unless renewed (ms since the epoch).
    pub expiry_timestamp_ms: i64,
    /// When it expires at the latest (ms since the epoch).
    pub max_timestamp_ms: i64,
}

impl DelegationToken {
    /// The HMAC in base64: the password for SCRAM with `tokenauth=true`.
    pub fn hmac_base64(&self) -> String {
        base64::engine::general_purpose::STANDARD.encode(&self.hmac)
    }
}

impl fmt::Debug for DelegationToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DelegationToken")
            .field("token_id", &self.token_id)
            .field("hmac", &"<redacted>")
            .field("owner", &self.owner)
            .field("requester", &self.requester)
            .field("renewers", &self.renewers)
            .field("issue_timestamp_ms", &self.issue_timestamp_ms)
            .field("expiry_timestamp_ms", &self.expiry_timestamp_ms)
            .field("max_timestamp_ms", &self.max_timestamp_ms)
            .finish()
    }
}

/// `User:alice` as (type, name); a typed error without the colon.
fn split_principal(api: ApiKey, principal: &str) -> Result<(StrBytes, StrBytes)> {
    match principal.split_once(':') {
        Some((kind, name)) if !kind.is_empty() && !name.is_empty() => {
            Ok((wire_str(kind), wire_str(name)))
        }
        _ => Err(Error::broker(
            invalid_principal(),
            ErrorContext::default()
                .with_api(api)
                .with_resource(principal),
            Some(format!(
                "a principal is TYPE:NAME (User:alice), not {principal:?}"
            )),
        )),
    }
}

fn joined(kind: &StrBytes, name: &StrBytes) -> String {
    format!("{kind}:{name}")
}

fn millis(d: Duration) -> i64 {
    d.as_millis().min(i64::MAX as u128) as i64
}

impl Admin {
    fn token_call(
        &self,
        operation: &'static str,
        api: ApiKey,
        timeout: Duration,
    ) -> OneRequest<'_> {
        let (target, retry): (Target, fn(&Error) -> bool) =
            if api == ApiKey::DescribeDelegationToken {
                (Target::Any, retry_transient_errors)
            } else {
                (Target::Controller, retry_controller_errors)
            };
        OneRequest {
            client: &self.client,
            operation,
            api,
            timeout,
            target,
            retry,
        }
    }

    /// Creates a delegation token for the authenticated principal (or the given owner).
    /// DELEGATION_TOKEN_REQUEST_NOT_ALLOWED over an unauthenticated connection,
    /// DELEGATION_TOKEN_AUTH_DISABLED without a secret key, INVALID_PRINCIPAL_TYPE for
    /// a renewer or owner that is not `TYPE:NAME` (checked before sending).
    ///
    /// # Cancel safety
    /// The admin client holds no state a dropped call could leave behind, and the next call
    /// works. The change may or may not have been applied: dropped after a request was
    /// sent, the broker (or controller, or coordinator) may still apply it. Read the state
    /// back to know.
    pub async fn create_delegation_token(
        &self,
        options: CreateDelegationTokenOptions,
    ) -> Result<DelegationToken> {
        let api = ApiKey::CreateDelegationToken;
        let mut req = CreateDelegationTokenRequest::default()
            .with_max_lifetime_ms(options.max_lifetime.map_or(-1, millis));
        for r in &options.renewers {
            let (kind, name) = split_principal(api, r)?;
            req.renewers.push(
                CreatableRenewers::default()
                    .with_principal_type(kind)
                    .with_principal_name(name),
            );
        }
        if let Some(owner) = &options.owner {
            let (kind, name) = split_principal(api, owner)?;
            req = req
                .with_owner_principal_type(Some(kind))
                .with_owner_principal_name(Some(name));
        }
        let renewers = options.renewers.clone();
        self.token_call("CreateDelegationToken", api, options.timeout)
            .run(|conn| {
                let (req, renewers) = (&req, &renewers);
                async move {
                    let resp = conn.request(req).await?;
                    check_item(
                        resp.error_code,
                        || ErrorContext::default().with_api(api),
                        None,
                    )?;
                    Ok(DelegationToken {
                        token_id: resp.token_id.to_string(),
                        hmac: resp.hmac.to_vec(),
                        owner: joined(&resp.principal_type, &resp.principal_name),
                        requester: joined(
                            &resp.token_requester_principal_type,
                            &resp.token_requester_principal_name,
                        ),
                        renewers: renewers.clone(),
                        issue_timestamp_ms: resp.issue_timestamp_ms,
                        expiry_timestamp_ms: resp.expiry_timestamp_ms,
                        max_timestamp_ms: resp.max_timestamp_ms,
                    })
                }
            })
            .await
    }

    /// Extends a token's expiry by `period` (the broker's renew interval when `None`),
    /// at most to its max timestamp; returns the new expiry (ms since the epoch).
    /// DELEGATION_TOKEN_OWNER_MISMATCH when the caller may not renew it,
    /// DELEGATION_TOKEN_NOT_FOUND, DELEGATION_TOKEN_EXPIRED.
    ///
    /// # Cancel safety
    /// The admin client holds no state a dropped call could leave behind, and the next call
    /// works. The change may or may not have been applied: dropped after a request was
    /// sent, the broker (or controller, or coordinator) may still apply it. Read the state
    /// back to know.
    pub async fn renew_delegation_token(
        &self,
        hmac: &[u8],
        period: Option<Duration>,
        options: DelegationTokenOptions,
    ) -> Result<i64> {
        let req = RenewDelegationTokenRequest::default()
            .with_hmac(Bytes::copy_from_slice(hmac))
            .with_renew_period_ms(period.map_or(-1, millis));
        self.expiry_call("RenewDelegationToken", &req, options.timeout, |r| {
            (r.error_code, r.expiry_timestamp_ms)
        })
        .await
    }

    /// Expires a token after `period` (at once when `None`); returns the new expiry.
    ///
    /// # Cancel safety
    /// The admin client holds no state a dropped call could leave behind, and the next call
    /// works. The change may or may not have been applied: dropped after a request was
    /// sent, the broker (or controller, or coordinator) may still apply it. Read the state
    /// back to know.
    pub async fn expire_delegation_token(
        &self,
        hmac: &[u8],
        period: Option<Duration>,
        options: DelegationTokenOptions,
    ) -> Result<i64> {
        let req = ExpireDelegationTokenRequest::default()
            .with_hmac(Bytes::copy_from_slice(hmac))
            .with_expiry_time_period_ms(period.map_or(-1, millis));
        self.expiry_call("ExpireDelegationToken", &req, options.timeout, |r| {
            (r.error_code, r.expiry_timestamp_ms)
        })
        .await
    }

    /// Renew and expire: one request to the controller whose answer is an error code
    /// and the token's new expiry.
    async fn expiry_call<R>(
        &self,
        operation: &'static str,
        req: &R,
        timeout: Duration,
        answer: fn(&R::Response) -> (i16, i64),
    ) -> Result<i64>
    where
        R: Request,
        R::Response: 'static,
    {
        let api = ApiKey::try_from(R::KEY).unwrap_or(ApiKey::RenewDelegationToken);
        self.token_call(operation, api, timeout)
            .run(|conn| async move {
                let resp = conn.request(req).await?;
                let (code, expiry) = answer(&resp);
                check_item(code, || ErrorContext::default().with_api(api), None)?;
                Ok(expiry)
            })
            .await
    }

    /// The tokens of `owners` (`User:alice`; every token the caller may see when
    /// `None`).
    ///
    /// # Cancel safety
    /// Cancel-safe: read-only, and the admin client holds no state a dropped call could
    /// leave behind. Dropping it changes nothing; the next call works.
    pub async fn describe_delegation_tokens(
        &self,
        owners: Option<Vec<String>>,
        options: DelegationTokenOptions,
    ) -> Result<Vec<DelegationToken>> {
        let api = ApiKey::DescribeDelegationToken;
        let owners = match owners {
            None => None,
            Some(list) => Some(
                list.iter()
                    .map(|o| {
                        let (kind, name) = split_principal(api, o)?;
                        Ok(DescribeDelegationTokenOwner::default()
                            .with_principal_type(kind)
                            .with_principal_name(name))
                    })
                    .collect::<Result<Vec<_>>>()?,
            ),
        };
        let req = DescribeDelegationTokenRequest::default().with_owners(owners);
        self.token_call("DescribeDelegationToken", api, options.timeout)
            .run(|conn| {
                let req = &req;
                async move {
                    let resp = conn.request(req).await?;
                    check_item(
                        resp.error_code,
                        || ErrorContext::default().with_api(api),
                        None,
                    )?;
                    Ok(resp
                        .tokens
                        .iter()
                        .map(|t| DelegationToken {
                            token_id: t.token_id.to_string(),
                            hmac: t.hmac.to_vec(),
                            owner: joined(&t.principal_type, &t.principal_name),
                            requester: joined(
                                &t.token_requester_principal_type,
                                &t.token_requester_principal_name,
                            ),
                            renewers: t
                                .renewers
                                .iter()
                                .map(|r| joined(&r.principal_type, &r.principal_name))
                                .collect(),
                            issue_timestamp_ms: t.issue_timestamp,
                            expiry_timestamp_ms: t.expiry_timestamp,
                            max_timestamp_ms: t.max_timestamp,
                        })
                        .collect())
                }
            })
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn principals_must_be_type_and_name() {
        let api = ApiKey::CreateDelegationToken;
        assert!(split_principal(api, "User:alice").is_ok());
        for bad in ["alice", "User:", ":alice"] {
            let e = split_principal(api, bad).unwrap_err();
            assert_eq!(e.code().map(|c| c.code()), Some(67), "{bad}");
        }
    }

    #[test]
    fn the_hmac_is_not_printed() {
        let t = DelegationToken {
            token_id: "id".into(),
            hmac: vec![1, 2, 3],
            owner: "User:a".into(),
            requester: "User:a".into(),
            renewers: vec![],
            issue_timestamp_ms: 0,
            expiry_timestamp_ms: 0,
            max_timestamp_ms: 0,
        };
        assert_eq!(t.hmac_base64(), "AQID");
        assert!(!format!("{t:?}").contains("AQID") && !format!("{t:?}").contains("[1, 2, 3]"));
    }
}
