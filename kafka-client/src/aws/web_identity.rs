//! Web identity credentials (as on EKS with IAM roles for service accounts): the OIDC
//! token in a file is exchanged at STS (`AssumeRoleWithWebIdentity`, an unsigned
//! request) for temporary credentials, cached until five minutes before they expire.

use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::credentials::{AwsCredentialsError, env};
use super::sigv4::{days_from_civil, uri_encode};
use super::{AwsCredentials, AwsCredentialsProvider};
use crate::config::{Secret, TokenError};
use crate::types::BoxFuture;

/// Credentials are renewed this long before they expire.
const REFRESH_BEFORE: Duration = Duration::from_secs(300);
/// How long the STS request may take.
const STS_TIMEOUT: Duration = Duration::from_secs(10);

/// Temporary credentials for `role_arn`, obtained from STS with the web identity token
/// read from `token_file` (re-read at every exchange, since it is rotated). The STS
/// endpoint is `AWS_ENDPOINT_URL_STS` (or `AWS_ENDPOINT_URL`) when set, else the regional
/// `https://sts.<region>.amazonaws.com` (region given, else `AWS_REGION`,
/// `AWS_DEFAULT_REGION`), else `https://sts.amazonaws.com`.
#[derive(Debug)]
pub struct WebIdentityCredentials {
    role_arn: String,
    token_file: PathBuf,
    session_name: String,
    endpoint: String,
    cached: tokio::sync::Mutex<Option<AwsCredentials>>,
}

impl WebIdentityCredentials {
    /// Assumes `role_arn` with the token in `token_file`.
    pub fn new(
        role_arn: impl Into<String>,
        token_file: impl Into<PathBuf>,
        session_name: Option<String>,
        region: Option<String>,
    ) -> Self {
        let region = region.or_else(|| env("AWS_REGION").or_else(|| env("AWS_DEFAULT_REGION")));
        let endpoint = env("AWS_ENDPOINT_URL_STS")
            .or_else(|| env("AWS_ENDPOINT_URL"))
            .unwrap_or_else(|| match region {
                Some(r) => format!("https://sts.{r}.amazonaws.com"),
                None => "https://sts.amazonaws.com".to_owned(),
            });
        Self {
            role_arn: role_arn.into(),
            token_file: token_file.into(),
            session_name: session_name.unwrap_or_else(default_session_name),
            endpoint,
            cached: tokio::sync::Mutex::new(None),
        }
    }

    /// From `AWS_WEB_IDENTITY_TOKEN_FILE`, `AWS_ROLE_ARN` and (optional)
    /// `AWS_ROLE_SESSION_NAME`; `None` unless both of the first two are set.
    pub fn from_env() -> Option<Self> {
        let file = env("AWS_WEB_IDENTITY_TOKEN_FILE")?;
        let role = env("AWS_ROLE_ARN")?;
        Some(Self::new(role, file, env("AWS_ROLE_SESSION_NAME"), None))
    }

    /// Sends the STS request to `endpoint` (a URL) instead.
    pub fn with_endpoint(mut self, endpoint: impl Into<String>) -> Self {
        self.endpoint = endpoint.into();
        self
    }

    async fn assume_role(&self) -> Result<AwsCredentials, AwsCredentialsError> {
        let token = std::fs::read_to_string(&self.token_file).map_err(|e| {
            AwsCredentialsError::new(format!(
                "web identity token file {}: {e}",
                self.token_file.display()
            ))
        })?;
        let form = [
            ("Action", "AssumeRoleWithWebIdentity"),
            ("Version", "2011-06-15"),
            ("RoleArn", &self.role_arn),
            ("RoleSessionName", &self.session_name),
            ("WebIdentityToken", token.trim()),
        ]
        .iter()
        .map(|(k, v)| format!("{k}={}", uri_encode(v)))
        .collect::<Vec<_>>()
        .join("&");
        let fail = |why: String| {
            AwsCredentialsError::new(format!(
                "STS AssumeRoleWithWebIdentity for {} at {}: {why}",
                self.role_arn, self.endpoint
            ))
        };
        let resp = super::http::post_form(&self.endpoint, &[], &form, STS_TIMEOUT)
            .await
            .map_err(fail)?;
        let body = String::from_utf8_lossy(&resp.body);
        if resp.status != 200 {
            let code = xml_value(&body, "Code").unwrap_or("(no error code)");
            let message = xml_value(&body, "Message").unwrap_or("");
            return Err(fail(format!("HTTP {}: {code} {message}", resp.status)));
        }
        parse_credentials(&body).map_err(|e| fail(e.to_owned()))
    }
}

impl AwsCredentialsProvider for WebIdentityCredentials {
    fn credentials(&self) -> BoxFuture<'_, Result<AwsCredentials, TokenError>> {
        Box::pin(async move {
            let mut cached = self.cached.lock().await;
            if let Some(c) = cached.as_ref() {
                let fresh = c
                    .expires_at
                    .is_none_or(|t| t > SystemTime::now() + REFRESH_BEFORE);
                if fresh {
                    return Ok(c.clone());
                }
            }
            let c = self.assume_role().await?;
            *cached = Some(c.clone());
            Ok(c)
        })
    }
}

fn default_session_name() -> String {
    let millis = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0);
    format!("kafka-rs-{millis}")
}

/// The text of the first `<tag>...</tag>` in `xml`.
pub(crate) fn xml_value<'a>(xml: &'a str, tag: &str) -> Option<&'a str> {
    let open = format!("<{tag}>");
    let start = xml.find(&open)? + open.len();
    let end = xml[start..].find(&format!("</{tag}>"))? + start;
    Some(xml[start..end].trim())
}

/// The credentials in an `AssumeRoleWithWebIdentityResponse`.
pub(crate) fn parse_credentials(xml: &str) -> Result<AwsCredentials, &'static str> {
    let creds = xml_value(xml, "Credentials").ok_or("the answer has no <Credentials>")?;
    let id = xml_value(creds, "AccessKeyId").ok_or("the answer has no AccessKeyId")?;
    let secret = xml_value(creds, "SecretAccessKey").ok_or("the answer has no SecretAccessKey")?;
    let token = xml_value(creds, "SessionToken").ok_or("the answer has no SessionToken")?;
    let expiry = xml_value(creds, "Expiration").ok_or("the answer has no Expiration")?;
    let mut c =
        AwsCredentials::new(id, unescape(secret)).with_session_token(Secret::new(unescape(token)));
    c.expires_at = Some(parse_iso8601(expiry).ok_or("the Expiration is not an ISO 8601 time")?);
    Ok(c)
}

fn unescape(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&amp;", "&")
}

/// `YYYY-MM-DDTHH:MM:SS[.fff]Z`.
pub(crate) fn parse_iso8601(s: &str) -> Option<SystemTime> {
    let b = s.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || b[10] != b'T' || !s.ends_with('Z') {
        return None;
    }
    let n = |r: std::ops::Range<usize>| s.get(r)?.parse::<u32>().ok();
    let days = days_from_civil(i64::from(n(0..4)?), n(5..7)?, n(8..10)?);
    let secs = days * 86_400
        + i64::from(n(11..13)?) * 3600
        + i64::from(n(14..16)?) * 60
        + i64::from(n(17..19)?);
    Some(UNIX_EPOCH + Duration::from_secs(u64::try_from(secs).ok()?))
}

#[cfg(test)]
pub(crate) mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    pub(crate) const ANSWER: &str = "<AssumeRoleWithWebIdentityResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">\
        <AssumeRoleWithWebIdentityResult><Credentials>\
        <AccessKeyId>ASIAEXAMPLE</AccessKeyId><SecretAccessKey>sec/ret+key</SecretAccessKey>\
        <SessionToken>tok&amp;en</SessionToken><Expiration>2099-01-02T03:04:05Z</Expiration>\
        </Credentials></AssumeRoleWithWebIdentityResult></AssumeRoleWithWebIdentityResponse>";

    /// A one-shot HTTP server: answers each connection with `status` and `body`, and
    /// hands back the requests it read.
    pub(crate) async fn fake_sts(
        status: u16,
        body: &'static str,
    ) -> (String, tokio::sync::mpsc::UnboundedReceiver<String>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/", listener.local_addr().unwrap());
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        tokio::spawn(async move {
            while let Ok((mut s, _)) = listener.accept().await {
                let mut buf = vec![0u8; 65536];
                let mut got = Vec::new();
                // Headers, then the body by Content-Length.
                loop {
                    let n = s.read(&mut buf).await.unwrap_or(0);
                    got.extend_from_slice(&buf[..n]);
                    let text = String::from_utf8_lossy(&got).into_owned();
                    if let Some(i) = text.find("\r\n\r\n") {
                        let len: usize = text
                            .lines()
                            .find_map(|l| l.strip_prefix("Content-Length: "))
                            .and_then(|v| v.trim().parse().ok())
                            .unwrap_or(0);
                        if got.len() >= i + 4 + len || n == 0 {
                            break;
                        }
                    }
                    if n == 0 {
                        break;
                    }
                }
                let _ = tx.send(String::from_utf8_lossy(&got).into_owned());
                let answer = format!(
                    "HTTP/1.1 {status} X\r\nContent-Type: text/xml\r\nContent-Length: {}\r\n\r\n{body}",
                    body.len()
                );
                let _ = s.write_all(answer.as_bytes()).await;
            }
        });
        (url, rx)
    }

    fn token_file(name: &str, token: &str) -> PathBuf {
        let p = std::env::temp_dir().join(format!("kafka-webid-{}-{name}", std::process::id()));
        std::fs::write(&p, token).unwrap();
        p
    }

    #[tokio::test]
    async fn exchanges_the_token_and_caches() {
        let (url, mut requests) = fake_sts(200, ANSWER).await;
        let file = token_file("ok", "eyJ.web.identity\n");
        let p = WebIdentityCredentials::new(
            "arn:aws:iam::123456789012:role/kafka",
            &file,
            Some("sess".into()),
            None,
        )
        .with_endpoint(&url);
        let c = p.credentials().await.unwrap();
        assert_eq!(c.access_key_id, "ASIAEXAMPLE");
        assert_eq!(c.secret_access_key.expose(), "sec/ret+key");
        assert_eq!(c.session_token.as_ref().unwrap().expose(), "tok&en");
        assert_eq!(
            c.expires_at,
            Some(UNIX_EPOCH + Duration::from_secs(4_071_006_245))
        );
        let req = requests.recv().await.unwrap();
        assert!(req.starts_with("POST / HTTP/1.1\r\n"), "{req}");
        assert!(req.contains("Action=AssumeRoleWithWebIdentity"), "{req}");
        assert!(
            req.contains("RoleArn=arn%3Aaws%3Aiam%3A%3A123456789012%3Arole%2Fkafka"),
            "{req}"
        );
        assert!(
            req.contains("WebIdentityToken=eyJ.web.identity&")
                || req.ends_with("WebIdentityToken=eyJ.web.identity"),
            "{req}"
        );
        // Cached: no second request.
        p.credentials().await.unwrap();
        assert!(requests.try_recv().is_err());
        let _ = std::fs::remove_file(file);
    }

    #[tokio::test]
    async fn sts_errors_are_typed_and_name_the_role() {
        let (url, _r) = fake_sts(
            400,
            "<ErrorResponse><Error><Type>Sender</Type><Code>InvalidIdentityToken</Code>\
             <Message>Token expired</Message></Error></ErrorResponse>",
        )
        .await;
        let file = token_file("bad", "expired-token-value");
        let p = WebIdentityCredentials::new("arn:aws:iam::1:role/r", &file, None, None)
            .with_endpoint(&url);
        let e = p.credentials().await.unwrap_err().to_string();
        assert!(
            e.contains("InvalidIdentityToken") && e.contains("arn:aws:iam::1:role/r"),
            "{e}"
        );
        assert!(!e.contains("expired-token-value"), "{e}");
        let missing = WebIdentityCredentials::new("arn:r", "/nonexistent/token", None, None)
            .with_endpoint(&url);
        let e = missing.credentials().await.unwrap_err().to_string();
        assert!(e.contains("/nonexistent/token"), "{e}");
        // Nobody listening.
        let down = WebIdentityCredentials::new("arn:r", &file, None, None)
            .with_endpoint("http://127.0.0.1:1/");
        assert!(down.credentials().await.is_err());
        let _ = std::fs::remove_file(file);
    }

    #[test]
    fn iso_times() {
        assert_eq!(
            parse_iso8601("1970-01-02T00:00:01Z"),
            Some(UNIX_EPOCH + Duration::from_secs(86_401))
        );
        assert!(parse_iso8601("2024-01-01 00:00:00").is_none());
        assert!(parse_iso8601("2024-01-01T00:00:00.123Z").is_some());
    }
}
