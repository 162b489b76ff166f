//! AWS Signature Version 4 (SigV4): the canonical request, the string to sign, the
//! derived signing key and the signature, plus the query-string ("presigned") form that
//! MSK IAM uses. HMAC-SHA256 and SHA-256 come from the `hmac`/`sha2` crates.

use std::time::{SystemTime, UNIX_EPOCH};

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use super::AwsCredentials;

/// The algorithm name in `X-Amz-Algorithm` and the string to sign.
pub(crate) const ALGORITHM: &str = "AWS4-HMAC-SHA256";

/// The SHA-256 of an empty body, hex.
pub(crate) const EMPTY_SHA256: &str =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/// A request to sign: the parts SigV4 reads.
#[derive(Debug, Clone)]
pub(crate) struct SignableRequest<'a> {
    pub method: &'a str,
    /// The absolute path, already URI-encoded (`/` for none).
    pub path: &'a str,
    /// Query parameters, not encoded (the signer encodes and sorts them).
    pub query: Vec<(String, String)>,
    /// Headers to sign (names any case; the signer lower-cases, trims and sorts).
    pub headers: Vec<(String, String)>,
    /// Hex SHA-256 of the body, or `UNSIGNED-PAYLOAD`.
    pub payload_hash: &'a str,
}

/// Where and when a signature applies.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Scope<'a> {
    pub time: SystemTime,
    pub region: &'a str,
    pub service: &'a str,
}

impl Scope<'_> {
    /// `YYYYMMDD/region/service/aws4_request`.
    pub(crate) fn credential_scope(&self) -> String {
        format!(
            "{}/{}/{}/aws4_request",
            &amz_date(self.time)[..8],
            self.region,
            self.service
        )
    }
}

/// `YYYYMMDD'T'HHMMSS'Z'` (ISO 8601 basic, UTC).
pub(crate) fn amz_date(t: SystemTime) -> String {
    let secs = t
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let (y, m, d) = civil_from_days((secs / 86_400) as i64);
    let s = secs % 86_400;
    format!(
        "{y:04}{m:02}{d:02}T{:02}{:02}{:02}Z",
        s / 3600,
        s / 60 % 60,
        s % 60
    )
}

/// The date of day `z` since 1970-01-01 (Howard Hinnant's `civil_from_days`).
pub(crate) fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// Days since 1970-01-01 of a date (the inverse of [`civil_from_days`]).
pub(crate) fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// URI-encodes per SigV4: unreserved characters (`A-Z a-z 0-9 - _ . ~`) stay, every other
/// byte becomes `%XX` (upper-case hex).
pub(crate) fn uri_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The canonical query string: each name and value encoded, sorted by name then value.
pub(crate) fn canonical_query(query: &[(String, String)]) -> String {
    let mut pairs: Vec<(String, String)> = query
        .iter()
        .map(|(k, v)| (uri_encode(k), uri_encode(v)))
        .collect();
    pairs.sort();
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

/// The canonical request and the signed-headers list.
pub(crate) fn canonical_request(req: &SignableRequest<'_>) -> (String, String) {
    let mut headers: Vec<(String, String)> = Vec::new();
    for (name, value) in &req.headers {
        let name = name.to_ascii_lowercase();
        let value = value.split_whitespace().collect::<Vec<_>>().join(" ");
        match headers.iter_mut().find(|(n, _)| *n == name) {
            Some((_, v)) => {
                v.push(',');
                v.push_str(&value);
            }
            None => headers.push((name, value)),
        }
    }
    headers.sort_by(|a, b| a.0.cmp(&b.0));
    let canonical_headers: String = headers.iter().map(|(n, v)| format!("{n}:{v}\n")).collect();
    let signed_headers = headers
        .iter()
        .map(|(n, _)| n.as_str())
        .collect::<Vec<_>>()
        .join(";");
    let request = format!(
        "{}\n{}\n{}\n{}\n{}\n{}",
        req.method,
        req.path,
        canonical_query(&req.query),
        canonical_headers,
        signed_headers,
        req.payload_hash
    );
    (request, signed_headers)
}

/// The string to sign for a canonical request.
pub(crate) fn string_to_sign(scope: &Scope<'_>, canonical_request: &str) -> String {
    format!(
        "{ALGORITHM}\n{}\n{}\n{}",
        amz_date(scope.time),
        scope.credential_scope(),
        hex(&Sha256::digest(canonical_request.as_bytes()))
    )
}

fn hmac(key: &[u8], data: &[u8]) -> [u8; 32] {
    // HMAC takes keys of any length.
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC accepts any key length");
    mac.update(data);
    mac.finalize().into_bytes().into()
}

/// The signing key: `HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service), "aws4_request")`.
pub(crate) fn signing_key(secret: &str, scope: &Scope<'_>) -> [u8; 32] {
    let date = &amz_date(scope.time)[..8];
    let k_date = hmac(format!("AWS4{secret}").as_bytes(), date.as_bytes());
    let k_region = hmac(&k_date, scope.region.as_bytes());
    let k_service = hmac(&k_region, scope.service.as_bytes());
    hmac(&k_service, b"aws4_request")
}

/// The hex signature of `string_to_sign`.
pub(crate) fn signature(secret: &str, scope: &Scope<'_>, string_to_sign: &str) -> String {
    hex(&hmac(
        &signing_key(secret, scope),
        string_to_sign.as_bytes(),
    ))
}

/// Lower-case hex.
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A request presigned in its query string: the parameters to append, in the order the
/// AWS Java SDK adds them (the session token first, `X-Amz-Signature` last).
#[derive(Debug, Clone)]
pub(crate) struct Presigned {
    /// The request's own query parameters followed by the `X-Amz-*` ones.
    pub query: Vec<(String, String)>,
}

#[cfg(test)]
impl Presigned {
    /// The value of query parameter `name`.
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Presigns a `GET` of `https://{host}{path}?{query}` with only `host` signed, valid for
/// `expires_secs` (query-string authentication).
pub(crate) fn presign(
    credentials: &AwsCredentials,
    scope: &Scope<'_>,
    host: &str,
    path: &str,
    query: &[(String, String)],
    expires_secs: u64,
    payload_hash: &str,
) -> Presigned {
    let mut q: Vec<(String, String)> = query.to_vec();
    let mut add = |k: &str, v: String| q.push((k.to_owned(), v));
    if let Some(token) = &credentials.session_token {
        add("X-Amz-Security-Token", token.expose().to_owned());
    }
    add("X-Amz-Algorithm", ALGORITHM.to_owned());
    add("X-Amz-Date", amz_date(scope.time));
    add("X-Amz-SignedHeaders", "host".to_owned());
    add("X-Amz-Expires", expires_secs.to_string());
    add(
        "X-Amz-Credential",
        format!("{}/{}", credentials.access_key_id, scope.credential_scope()),
    );
    let req = SignableRequest {
        method: "GET",
        path,
        query: q.clone(),
        headers: vec![("host".to_owned(), host.to_owned())],
        payload_hash,
    };
    let (canonical, _) = canonical_request(&req);
    let sts = string_to_sign(scope, &canonical);
    let sig = signature(credentials.secret_access_key.expose(), scope, &sts);
    q.push(("X-Amz-Signature".to_owned(), sig));
    Presigned { query: q }
}

#[cfg(test)]
mod tests {
    //! Test vectors re-typed from AWS's public SigV4 documentation (sources named per
    //! test); none of these files were copied from a repository.
    use std::time::Duration;

    use super::*;
    use crate::config::Secret;

    /// `YYYYMMDDTHHMMSSZ` → time.
    fn at(s: &str) -> SystemTime {
        let n = |r: std::ops::Range<usize>| s[r].parse::<u32>().unwrap();
        let days = days_from_civil(i64::from(n(0..4)), n(4..6), n(6..8));
        UNIX_EPOCH
            + Duration::from_secs(
                days as u64 * 86_400
                    + u64::from(n(9..11)) * 3600
                    + u64::from(n(11..13)) * 60
                    + u64::from(n(13..15)),
            )
    }

    #[test]
    fn dates_round_trip() {
        for s in [
            "19700101T000000Z",
            "20150830T123600Z",
            "20000229T235959Z",
            "21000301T010203Z",
        ] {
            assert_eq!(amz_date(at(s)), s);
        }
    }

    /// "Examples of how to derive a signing key for Signature Version 4" (AWS General
    /// Reference, "Deriving the signing key"): secret
    /// `wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY`, 20120215, us-east-1, iam.
    #[test]
    fn derived_signing_key_matches_aws_docs() {
        let scope = Scope {
            time: at("20120215T000000Z"),
            region: "us-east-1",
            service: "iam",
        };
        assert_eq!(
            hex(&signing_key(
                "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
                &scope
            )),
            "f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d"
        );
    }

    /// The SigV4 test suite published with the AWS General Reference
    /// ("Signature Version 4 test suite"), case `get-vanilla`: `GET /` to
    /// `example.amazonaws.com`, credentials `AKIDEXAMPLE` /
    /// `wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY`, region us-east-1, service `service`.
    #[test]
    fn test_suite_get_vanilla() {
        let scope = Scope {
            time: at("20150830T123600Z"),
            region: "us-east-1",
            service: "service",
        };
        let req = SignableRequest {
            method: "GET",
            path: "/",
            query: vec![],
            headers: vec![
                ("Host".into(), "example.amazonaws.com".into()),
                ("X-Amz-Date".into(), "20150830T123600Z".into()),
            ],
            payload_hash: EMPTY_SHA256,
        };
        let (canonical, signed) = canonical_request(&req);
        assert_eq!(signed, "host;x-amz-date");
        assert_eq!(
            canonical,
            "GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\n\
             host;x-amz-date\n\
             e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        let sts = string_to_sign(&scope, &canonical);
        assert_eq!(
            sts,
            "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\n\
             bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63"
        );
        assert_eq!(
            signature("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", &scope, &sts),
            "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"
        );
    }

    /// "Create a signed AWS API request" (IAM User Guide), the worked `ListUsers`
    /// example: `GET https://iam.amazonaws.com/?Action=ListUsers&Version=2010-05-08`,
    /// signed with the content-type, host and x-amz-date headers.
    #[test]
    fn iam_list_users_example() {
        let scope = Scope {
            time: at("20150830T123600Z"),
            region: "us-east-1",
            service: "iam",
        };
        let req = SignableRequest {
            method: "GET",
            path: "/",
            query: vec![
                ("Version".into(), "2010-05-08".into()),
                ("Action".into(), "ListUsers".into()),
            ],
            headers: vec![
                (
                    "Content-Type".into(),
                    "application/x-www-form-urlencoded; charset=utf-8".into(),
                ),
                ("Host".into(), "iam.amazonaws.com".into()),
                ("X-Amz-Date".into(), "20150830T123600Z".into()),
            ],
            payload_hash: EMPTY_SHA256,
        };
        let (canonical, _) = canonical_request(&req);
        assert_eq!(
            hex(&Sha256::digest(canonical.as_bytes())),
            "f536975d06c0309214f805bb90ccff089219ecd68b2577efef23edd43b7e1a59"
        );
        let sts = string_to_sign(&scope, &canonical);
        assert_eq!(
            signature("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", &scope, &sts),
            "5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7"
        );
    }

    /// Amazon S3 API Reference, "Authenticating Requests: Using Query Parameters (AWS
    /// Signature Version 4)", the presigned URL example: `GET /test.txt` on
    /// `examplebucket.s3.amazonaws.com`, 24 hours, `UNSIGNED-PAYLOAD`.
    #[test]
    fn s3_presigned_url_example() {
        let creds = AwsCredentials::new(
            "AKIAIOSFODNN7EXAMPLE",
            "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        );
        let scope = Scope {
            time: at("20130524T000000Z"),
            region: "us-east-1",
            service: "s3",
        };
        let p = presign(
            &creds,
            &scope,
            "examplebucket.s3.amazonaws.com",
            "/test.txt",
            &[],
            86_400,
            "UNSIGNED-PAYLOAD",
        );
        assert_eq!(
            p.get("X-Amz-Credential"),
            Some("AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request")
        );
        assert_eq!(
            p.get("X-Amz-Signature"),
            Some("aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404")
        );
        // A session token is signed too.
        let mut with_token = creds.clone();
        with_token.session_token = Some(Secret::new("token"));
        let q = presign(&with_token, &scope, "h", "/", &[], 900, EMPTY_SHA256);
        assert_eq!(q.get("X-Amz-Security-Token"), Some("token"));
    }

    #[test]
    fn encoding_and_sorting() {
        assert_eq!(
            uri_encode("kafka-cluster:Connect"),
            "kafka-cluster%3AConnect"
        );
        assert_eq!(uri_encode("a b/~é"), "a%20b%2F~%C3%A9");
        let q = canonical_query(&[("b".into(), "2".into()), ("a".into(), "1".into())]);
        assert_eq!(q, "a=1&b=2");
    }
}
