//! Role credentials (Java's `awsRoleArn`): STS `AssumeRole`, signed with SigV4 by the
//! credentials of a source provider, answered with temporary credentials for the role,
//! cached until five minutes before they expire.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use sha2::{Digest, Sha256};

use super::credentials::{AwsCredentialsError, env};
use super::sigv4::{self, Scope, SignableRequest, amz_date, hex, uri_encode};
use super::web_identity::{parse_credentials, xml_value};
use super::{AwsCredentials, AwsCredentialsProvider};
use crate::config::TokenError;
use crate::types::BoxFuture;

const REFRESH_BEFORE: Duration = Duration::from_secs(300);
const STS_TIMEOUT: Duration = Duration::from_secs(10);

/// Temporary credentials of `role_arn`, assumed with the credentials of `source` (Java's
/// `awsRoleArn`, `awsRoleSessionName`, `awsRoleExternalId`, `awsStsRegion`). The STS
/// endpoint is `AWS_ENDPOINT_URL_STS` (or `AWS_ENDPOINT_URL`) when set, else
/// `https://sts.<region>.amazonaws.com` for the STS region given, else `AWS_REGION`,
/// else the global `https://sts.amazonaws.com` (signed for us-east-1).
#[derive(Debug)]
pub struct AssumeRoleCredentials {
    source: Arc<dyn AwsCredentialsProvider>,
    role_arn: String,
    session_name: String,
    external_id: Option<String>,
    region: String,
    endpoint: String,
    cached: tokio::sync::Mutex<Option<AwsCredentials>>,
}

impl AssumeRoleCredentials {
    /// Assumes `role_arn` with credentials from `source`.
    pub fn new(source: Arc<dyn AwsCredentialsProvider>, role_arn: impl Into<String>) -> Self {
        let region = env("AWS_REGION").or_else(|| env("AWS_DEFAULT_REGION"));
        let mut me = Self {
            source,
            role_arn: role_arn.into(),
            session_name: "kafka-rs".to_owned(),
            external_id: None,
            region: String::new(),
            endpoint: String::new(),
            cached: tokio::sync::Mutex::new(None),
        };
        me.set_region(region);
        me
    }

    fn set_region(&mut self, region: Option<String>) {
        self.region = region.clone().unwrap_or_else(|| "us-east-1".to_owned());
        self.endpoint = env("AWS_ENDPOINT_URL_STS")
            .or_else(|| env("AWS_ENDPOINT_URL"))
            .unwrap_or_else(|| match region {
                Some(r) => format!("https://sts.{r}.amazonaws.com"),
                None => "https://sts.amazonaws.com".to_owned(),
            });
    }

    /// The role session name (default `kafka-rs`).
    pub fn session_name(mut self, name: impl Into<String>) -> Self {
        self.session_name = name.into();
        self
    }

    /// The external id the role's trust policy requires.
    pub fn external_id(mut self, id: impl Into<String>) -> Self {
        self.external_id = Some(id.into());
        self
    }

    /// The STS region (its regional endpoint, and the signing region).
    pub fn sts_region(mut self, region: impl Into<String>) -> Self {
        self.set_region(Some(region.into()));
        self
    }

    /// Sends the STS request to `endpoint` (a URL) instead.
    pub fn with_endpoint(mut self, endpoint: impl Into<String>) -> Self {
        self.endpoint = endpoint.into();
        self
    }

    async fn assume(&self) -> Result<AwsCredentials, TokenError> {
        let source = self.source.credentials().await?;
        let mut form = vec![
            ("Action", "AssumeRole"),
            ("Version", "2011-06-15"),
            ("RoleArn", self.role_arn.as_str()),
            ("RoleSessionName", self.session_name.as_str()),
        ];
        if let Some(id) = &self.external_id {
            form.push(("ExternalId", id));
        }
        let body = form
            .iter()
            .map(|(k, v)| format!("{k}={}", uri_encode(v)))
            .collect::<Vec<_>>()
            .join("&");
        let headers = sign_post(
            &source,
            &self.endpoint,
            &self.region,
            &body,
            SystemTime::now(),
        );
        let fail = |why: String| {
            AwsCredentialsError::new(format!(
                "STS AssumeRole for {} at {}: {why}",
                self.role_arn, self.endpoint
            ))
        };
        let resp = super::http::post_form(&self.endpoint, &headers, &body, STS_TIMEOUT)
            .await
            .map_err(fail)?;
        let text = String::from_utf8_lossy(&resp.body);
        if resp.status != 200 {
            let code = xml_value(&text, "Code").unwrap_or("(no error code)");
            let message = xml_value(&text, "Message").unwrap_or("");
            return Err(fail(format!("HTTP {}: {code} {message}", resp.status)).into());
        }
        Ok(parse_credentials(&text).map_err(|e| fail(e.to_owned()))?)
    }
}

/// The headers (`X-Amz-Date`, `X-Amz-Security-Token`, `Authorization`) that sign a form
/// POST to STS at `url`.
pub(crate) fn sign_post(
    credentials: &AwsCredentials,
    url: &str,
    region: &str,
    body: &str,
    time: SystemTime,
) -> Vec<(String, String)> {
    let date = amz_date(time);
    let mut headers = vec![
        ("Content-Type".to_owned(), super::http::FORM.to_owned()),
        ("Host".to_owned(), super::http::authority(url).to_owned()),
        ("X-Amz-Date".to_owned(), date.clone()),
    ];
    if let Some(t) = &credentials.session_token {
        headers.push(("X-Amz-Security-Token".to_owned(), t.expose().to_owned()));
    }
    let scope = Scope {
        time,
        region,
        service: "sts",
    };
    let payload_hash = hex(&Sha256::digest(body.as_bytes()));
    let path = url
        .split_once("://")
        .map(|(_, r)| r)
        .and_then(|r| r.find('/').map(|i| &r[i..]))
        .unwrap_or("/");
    let req = SignableRequest {
        method: "POST",
        path,
        query: vec![],
        headers: headers.clone(),
        payload_hash: &payload_hash,
    };
    let (canonical, signed) = sigv4::canonical_request(&req);
    let sts = sigv4::string_to_sign(&scope, &canonical);
    let signature = sigv4::signature(credentials.secret_access_key.expose(), &scope, &sts);
    let mut out = vec![("X-Amz-Date".to_owned(), date)];
    if let Some(t) = &credentials.session_token {
        out.push(("X-Amz-Security-Token".to_owned(), t.expose().to_owned()));
    }
    out.push((
        "Authorization".to_owned(),
        format!(
            "{} Credential={}/{}, SignedHeaders={signed}, Signature={signature}",
            sigv4::ALGORITHM,
            credentials.access_key_id,
            scope.credential_scope()
        ),
    ));
    out
}

impl AwsCredentialsProvider for AssumeRoleCredentials {
    fn credentials(&self) -> BoxFuture<'_, Result<AwsCredentials, TokenError>> {
        Box::pin(async move {
            let mut cached = self.cached.lock().await;
            if let Some(c) = cached.as_ref() {
                if c.expires_at
                    .is_none_or(|t| t > SystemTime::now() + REFRESH_BEFORE)
                {
                    return Ok(c.clone());
                }
            }
            let c = self.assume().await?;
            *cached = Some(c.clone());
            Ok(c)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::StaticCredentials;
    use crate::aws::web_identity::tests::{ANSWER, fake_sts};

    /// The request's headers and body.
    fn split(req: &str) -> (Vec<(String, String)>, String) {
        let (head, body) = req.split_once("\r\n\r\n").unwrap();
        let headers = head
            .lines()
            .skip(1)
            .filter_map(|l| l.split_once(": "))
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        (headers, body.to_owned())
    }

    #[tokio::test]
    async fn assume_role_is_signed_by_the_source_credentials() {
        let (url, mut requests) = fake_sts(200, ANSWER).await;
        let source =
            AwsCredentials::new("AKIDSOURCE", "source-secret").with_session_token("srctok");
        let p = AssumeRoleCredentials::new(
            Arc::new(StaticCredentials::new(source.clone())),
            "arn:aws:iam::123456789012:role/msk",
        )
        .external_id("ext-1")
        .sts_region("eu-west-1")
        .with_endpoint(&url);
        let c = p.credentials().await.unwrap();
        assert_eq!(c.access_key_id, "ASIAEXAMPLE");
        let req = requests.recv().await.unwrap();
        let (headers, body) = split(&req);
        assert!(body.contains("Action=AssumeRole&") && body.contains("ExternalId=ext-1"));
        let get = |k: &str| {
            headers
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(k))
                .map(|(_, v)| v.clone())
                .unwrap_or_else(|| panic!("no {k} in {req}"))
        };
        let auth = get("Authorization");
        assert!(auth.contains("Credential=AKIDSOURCE/"), "{auth}");
        assert!(auth.contains("/eu-west-1/sts/aws4_request"), "{auth}");
        assert!(
            auth.contains("SignedHeaders=content-type;host;x-amz-date;x-amz-security-token"),
            "{auth}"
        );
        assert_eq!(get("X-Amz-Security-Token"), "srctok");
        assert!(!auth.contains("source-secret"));
        // What arrived is what was signed: re-sign the received request.
        let date = get("X-Amz-Date");
        let n = |r: std::ops::Range<usize>| date[r].parse::<u32>().unwrap();
        let days = sigv4::days_from_civil(i64::from(n(0..4)), n(4..6), n(6..8));
        let time = SystemTime::UNIX_EPOCH
            + Duration::from_secs(
                days as u64 * 86_400
                    + u64::from(n(9..11)) * 3600
                    + u64::from(n(11..13)) * 60
                    + u64::from(n(13..15)),
            );
        let again = sign_post(&source, &url, "eu-west-1", &body, time);
        assert_eq!(again.last().unwrap().1, auth);
        // Cached.
        p.credentials().await.unwrap();
        assert!(requests.try_recv().is_err());
    }

    #[tokio::test]
    async fn sts_refusal_is_typed() {
        let (url, _r) = fake_sts(
            403,
            "<ErrorResponse><Error><Code>AccessDenied</Code><Message>not allowed</Message></Error></ErrorResponse>",
        )
        .await;
        let p = AssumeRoleCredentials::new(
            Arc::new(StaticCredentials::new(AwsCredentials::new(
                "AKID", "s3cr3t",
            ))),
            "arn:aws:iam::1:role/x",
        )
        .with_endpoint(&url);
        let e = p.credentials().await.unwrap_err().to_string();
        assert!(
            e.contains("AccessDenied") && e.contains("arn:aws:iam::1:role/x"),
            "{e}"
        );
        assert!(!e.contains("s3cr3t"), "{e}");
    }
}
