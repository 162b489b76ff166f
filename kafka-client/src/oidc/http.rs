//! One token request (RFC 6749 §4.4 / RFC 7523 §2.1): a form POST to the token endpoint,
//! and its answer read into a token or a typed [`OidcError`].

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};

use super::OidcError;
use crate::config::Secret;

/// Longest OAuth `error_description` kept in an error.
const MAX_DESCRIPTION: usize = 300;

/// A token the endpoint issued.
#[derive(Debug)]
pub(crate) struct Issued {
    pub(crate) access_token: Secret,
    /// From `expires_in`, else from the JWT's `exp` claim.
    pub(crate) expires_at: SystemTime,
}

/// `scheme://host[:port]/path` of `url`: no user info, query or fragment, so an error
/// never carries a credential someone put in the URL.
pub(crate) fn display_url(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(u) => format!(
            "{}://{}{}{}",
            u.scheme(),
            u.host_str().unwrap_or(""),
            u.port().map(|p| format!(":{p}")).unwrap_or_default(),
            u.path()
        ),
        Err(_) => "(an invalid URL)".to_owned(),
    }
}

/// `application/x-www-form-urlencoded` encoding of one value.
pub(crate) fn form_encode(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for b in v.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'*' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// `Authorization: Basic` for a client id and secret (RFC 6749 §2.3.1: each
/// form-encoded first).
pub(crate) fn basic_auth(id: &str, secret: &Secret) -> Secret {
    let raw = format!("{}:{}", form_encode(id), form_encode(secret.expose()));
    Secret::new(format!("Basic {}", STANDARD.encode(raw)))
}

/// POSTs `form` to `url` and reads the answer. `secrets` are masked in anything the
/// identity provider echoes back.
pub(crate) async fn request_token(
    http: &reqwest::Client,
    url: &str,
    authorization: Option<&Secret>,
    form: &[(&str, &str)],
    secrets: &[&str],
    timeout: Duration,
) -> Result<Issued, OidcError> {
    let shown = display_url(url);
    let body = form
        .iter()
        .map(|(k, v)| format!("{}={}", form_encode(k), form_encode(v)))
        .collect::<Vec<_>>()
        .join("&");
    let mut req = http
        .post(url)
        .timeout(timeout)
        .header("Content-Type", "application/x-www-form-urlencoded")
        .header("Accept", "application/json")
        .body(body);
    if let Some(a) = authorization {
        req = req.header("Authorization", a.expose());
    }
    let unreachable = |e: reqwest::Error| OidcError::Unreachable {
        url: shown.clone(),
        reason: transport_reason(&e),
    };
    let resp = req.send().await.map_err(unreachable)?;
    let status = resp.status().as_u16();
    let bytes = resp.bytes().await.map_err(unreachable)?;
    parse_answer(&shown, status, &bytes, secrets, SystemTime::now())
}

/// The cause chain of a transport error, without the URL (reqwest adds it, with any
/// query string).
fn transport_reason(e: &reqwest::Error) -> String {
    let what = if e.is_timeout() {
        "timed out".to_owned()
    } else if e.is_connect() {
        "connection failed".to_owned()
    } else {
        "request failed".to_owned()
    };
    let mut causes = Vec::new();
    let mut src = std::error::Error::source(e);
    while let Some(s) = src {
        causes.push(s.to_string());
        src = s.source();
    }
    match causes.last() {
        Some(root) => format!("{what}: {root}"),
        None => what,
    }
}

/// Reads the token endpoint's answer: a token, or the typed error it describes.
pub(crate) fn parse_answer(
    url: &str,
    status: u16,
    body: &[u8],
    secrets: &[&str],
    now: SystemTime,
) -> Result<Issued, OidcError> {
    let json: Option<serde_json::Value> = serde_json::from_slice(body).ok();
    let field = |name: &str| {
        json.as_ref()
            .and_then(|j| j.get(name))
            .and_then(|v| v.as_str())
            .map(|s| mask(s, secrets))
    };
    if !(200..300).contains(&status) {
        return Err(OidcError::Rejected {
            url: url.to_owned(),
            status,
            error: field("error"),
            description: field("error_description"),
        });
    }
    let bad = |reason: String| OidcError::BadResponse {
        url: url.to_owned(),
        reason,
    };
    let Some(json) = json else {
        return Err(bad(format!("the body ({} bytes) is not JSON", body.len())));
    };
    let token = json
        .get("access_token")
        .and_then(|v| v.as_str())
        .filter(|t| !t.is_empty())
        .ok_or_else(|| bad("no access_token".into()))?;
    if let Some(t) = json.get("token_type").and_then(|v| v.as_str()) {
        if !t.eq_ignore_ascii_case("bearer") {
            return Err(bad(format!("token_type {t:?}, not Bearer")));
        }
    }
    let from_expires_in = json
        .get("expires_in")
        .and_then(|v| {
            v.as_u64()
                .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
        })
        .map(|s| now + Duration::from_secs(s));
    let expires_at = match from_expires_in.or_else(|| jwt_exp(token)) {
        Some(t) => t,
        None => {
            return Err(bad(
                "neither expires_in nor a JWT exp claim says when the token expires".into(),
            ));
        }
    };
    // The JWT's own exp wins when it is earlier: that is what the broker checks.
    let expires_at = match jwt_exp(token) {
        Some(exp) if exp < expires_at => exp,
        _ => expires_at,
    };
    if expires_at <= now {
        let ago = now.duration_since(expires_at).unwrap_or_default();
        return Err(bad(format!(
            "the token expired {}s before it was received",
            ago.as_secs()
        )));
    }
    Ok(Issued {
        access_token: Secret::new(token),
        expires_at,
    })
}

/// The `exp` claim of a JWT (a compact JWS), if it is one and has one.
pub(crate) fn jwt_exp(token: &str) -> Option<SystemTime> {
    let payload = token.split('.').nth(1)?;
    let bytes = URL_SAFE_NO_PAD.decode(payload.trim_end_matches('=')).ok()?;
    let claims: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    let exp = claims.get("exp")?.as_f64()?;
    (exp > 0.0).then(|| UNIX_EPOCH + Duration::from_secs(exp as u64))
}

/// `s` truncated, with every secret replaced by `***`.
fn mask(s: &str, secrets: &[&str]) -> String {
    let mut out = s.to_owned();
    for secret in secrets.iter().filter(|s| s.len() >= 4) {
        out = out.replace(secret, "***");
    }
    if out.len() > MAX_DESCRIPTION {
        let mut cut = MAX_DESCRIPTION;
        while !out.is_char_boundary(cut) {
            cut -= 1;
        }
        out.truncate(cut);
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jwt(claims: &str) -> String {
        format!(
            "{}.{}.sig",
            URL_SAFE_NO_PAD.encode(r#"{"alg":"RS256"}"#),
            URL_SAFE_NO_PAD.encode(claims)
        )
    }

    #[test]
    fn oauth_errors_are_typed_and_masked() {
        let e = parse_answer(
            "http://idp/token",
            401,
            br#"{"error":"invalid_client","error_description":"bad secret hunter22"}"#,
            &["hunter22"],
            SystemTime::now(),
        )
        .unwrap_err();
        assert_eq!(
            e,
            OidcError::Rejected {
                url: "http://idp/token".into(),
                status: 401,
                error: Some("invalid_client".into()),
                description: Some("bad secret ***".into()),
            }
        );
        assert!(!e.to_string().contains("hunter22"));
        assert!(!e.is_retriable());
        let e = parse_answer("u", 503, b"<html>down</html>", &[], SystemTime::now()).unwrap_err();
        assert!(
            e.is_retriable() && e.to_string().contains("HTTP 503"),
            "{e}"
        );
    }

    #[test]
    fn expiry_from_expires_in_or_the_jwt() {
        let now = UNIX_EPOCH + Duration::from_secs(1_000_000);
        let t = jwt(r#"{"exp":1000600,"sub":"a"}"#);
        let body = format!(r#"{{"access_token":"{t}","token_type":"Bearer"}}"#);
        let i = parse_answer("u", 200, body.as_bytes(), &[], now).unwrap();
        assert_eq!(i.expires_at, now + Duration::from_secs(600));
        let body = format!(r#"{{"access_token":"{t}","expires_in":300}}"#);
        let i = parse_answer("u", 200, body.as_bytes(), &[], now).unwrap();
        assert_eq!(i.expires_at, now + Duration::from_secs(300));
        let old = jwt(r#"{"exp":999000}"#);
        let body = format!(r#"{{"access_token":"{old}"}}"#);
        let e = parse_answer("u", 200, body.as_bytes(), &[], now).unwrap_err();
        assert!(e.to_string().contains("expired"), "{e}");
        let e = parse_answer("u", 200, br#"{"access_token":"opaque"}"#, &[], now).unwrap_err();
        assert!(e.to_string().contains("expires"), "{e}");
        let e = parse_answer("u", 200, b"{}", &[], now).unwrap_err();
        assert!(e.to_string().contains("access_token"), "{e}");
    }

    #[test]
    fn urls_and_forms() {
        assert_eq!(
            display_url("https://user:pw@idp.example.com:8443/t?key=abc"),
            "https://idp.example.com:8443/t"
        );
        assert_eq!(form_encode("a b&c=d/é"), "a+b%26c%3Dd%2F%C3%A9");
        assert_eq!(
            basic_auth("id", &Secret::new("s:e")).expose(),
            format!("Basic {}", STANDARD.encode("id:s%3Ae"))
        );
    }
}
