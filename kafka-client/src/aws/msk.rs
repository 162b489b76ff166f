//! What Amazon MSK's IAM authentication signs: the `AWS_MSK_IAM` SASL payload (a JSON
//! object of a presigned `kafka-cluster:Connect` request to the broker host, format
//! `2020_10_22`) and the OAUTHBEARER token (the presigned URL for
//! `kafka.<region>.amazonaws.com`, base64url). Both follow Amazon's Java library
//! `aws-msk-iam-auth` byte for byte, JSON key order included (the library serialises a
//! `java.util.HashMap`; [`java_hashmap_order`] reproduces its iteration order).

use std::time::SystemTime;

use base64::Engine;

use super::AwsCredentials;
use super::sigv4::{EMPTY_SHA256, Scope, presign, uri_encode};

/// The payload format version.
pub(crate) const VERSION: &str = "2020_10_22";
/// The signing service name.
pub(crate) const SERVICE: &str = "kafka-cluster";
/// The action signed.
pub(crate) const ACTION: &str = "kafka-cluster:Connect";
/// How long a signature is valid, seconds (15 minutes, as the Java library).
pub(crate) const EXPIRES_SECS: u64 = 900;

/// What one signature needs.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SigningInput<'a> {
    pub credentials: &'a AwsCredentials,
    pub region: &'a str,
    pub user_agent: &'a str,
    pub time: SystemTime,
}

impl SigningInput<'_> {
    fn presign(&self, host: &str) -> Vec<(String, String)> {
        let scope = Scope {
            time: self.time,
            region: self.region,
            service: SERVICE,
        };
        presign(
            self.credentials,
            &scope,
            host,
            "/",
            &[("Action".to_owned(), ACTION.to_owned())],
            EXPIRES_SECS,
            EMPTY_SHA256,
        )
        .query
    }
}

/// The `AWS_MSK_IAM` client message for broker `host` (the host name only, no port).
pub(crate) fn auth_payload(input: &SigningInput<'_>, host: &str) -> Vec<u8> {
    // The Java library's insertion order: query parameters (lower-cased), version,
    // user-agent, then the signed headers (host).
    let mut entries: Vec<(String, String)> = input
        .presign(host)
        .into_iter()
        .map(|(k, v)| (k.to_ascii_lowercase(), v))
        .collect();
    entries.push(("version".to_owned(), VERSION.to_owned()));
    entries.push(("user-agent".to_owned(), input.user_agent.to_owned()));
    entries.push(("host".to_owned(), host.to_owned()));
    let mut json = String::from("{");
    for (i, idx) in java_hashmap_order(&entries).into_iter().enumerate() {
        if i > 0 {
            json.push(',');
        }
        let (k, v) = &entries[idx];
        json_string(&mut json, k);
        json.push(':');
        json_string(&mut json, v);
    }
    json.push('}');
    json.into_bytes()
}

/// The OAUTHBEARER token: `https://kafka.<region>.amazonaws.com?<presigned query>&User-Agent=..`,
/// base64url without padding.
pub(crate) fn oauth_token(input: &SigningInput<'_>) -> String {
    let host = format!("kafka.{}.amazonaws.com", input.region);
    let mut query = input.presign(&host);
    query.push(("User-Agent".to_owned(), input.user_agent.to_owned()));
    let query = query
        .iter()
        .map(|(k, v)| format!("{}={}", uri_encode(k), uri_encode(v)))
        .collect::<Vec<_>>()
        .join("&");
    let url = format!("https://{host}?{query}");
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(url)
}

/// The order in which a `java.util.HashMap` of the default capacity would iterate these
/// keys (inserted in slice order; no removals): by bucket
/// `(h ^ (h >>> 16)) & (capacity - 1)` of Java's `String.hashCode`, insertion order
/// within a bucket. The capacity doubles from 16 whenever the size passes 3/4 of it.
pub(crate) fn java_hashmap_order(entries: &[(String, String)]) -> Vec<usize> {
    let mut capacity = 16usize;
    while entries.len() > capacity * 3 / 4 {
        capacity *= 2;
    }
    let bucket = |key: &str| {
        let h = key
            .encode_utf16()
            .fold(0i32, |h, c| h.wrapping_mul(31).wrapping_add(i32::from(c)));
        let h = h as u32;
        ((h ^ (h >> 16)) as usize) & (capacity - 1)
    };
    let mut order: Vec<usize> = (0..entries.len()).collect();
    order.sort_by_key(|&i| bucket(&entries[i].0)); // stable: insertion order in a bucket
    order
}

/// Appends `s` as a JSON string the way Jackson writes it: `"` and `\` escaped, control
/// characters as `\n`-style or `\u00XX` escapes, everything else as it is (UTF-8).
fn json_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

/// The host part of a broker address `host:port` (`[v6]:port` too), lower-cased
/// without a trailing dot.
pub(crate) fn host_of(address: &str) -> &str {
    let host = if let Some(rest) = address.strip_prefix('[') {
        rest.split(']').next().unwrap_or(rest)
    } else {
        match address.rsplit_once(':') {
            Some((h, p)) if !h.contains(':') && p.bytes().all(|b| b.is_ascii_digit()) => h,
            _ => address,
        }
    };
    host.trim_end_matches('.')
}

/// AWS partitions' endpoint DNS suffixes and the region shapes of each.
const SUFFIXES: &[(&str, &[&str])] = &[
    (
        ".amazonaws.com",
        &[
            "us", "eu", "ap", "sa", "ca", "me", "af", "il", "mx", "us-gov",
        ],
    ),
    (
        ".api.aws",
        &[
            "us", "eu", "ap", "sa", "ca", "me", "af", "il", "mx", "us-gov",
        ],
    ),
    (".amazonaws.com.cn", &["cn"]),
    (".api.amazonwebservices.com.cn", &["cn"]),
    (".c2s.ic.gov", &["us-iso"]),
    (".sc2s.sgov.gov", &["us-isob"]),
    (".cloud.adc-e.uk", &["eu-isoe"]),
    (".csp.hci.ic.gov", &["us-isof"]),
    (".amazonaws.eu", &["eusc-de"]),
];

/// Whether `label` looks like a region of one of `prefixes`: `<prefix>-<word>-<digits>`.
fn region_shaped(label: &str, prefixes: &[&str]) -> bool {
    prefixes.iter().any(|p| {
        label
            .strip_prefix(p)
            .and_then(|r| r.strip_prefix('-'))
            .and_then(|r| r.rsplit_once('-'))
            .is_some_and(|(word, digits)| {
                !word.is_empty()
                    && word.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
                    && !digits.is_empty()
                    && digits.bytes().all(|b| b.is_ascii_digit())
            })
    })
}

/// The AWS region a broker host names, as the Java library reads it: the label just
/// before a partition's DNS suffix (`b-1.x.c2.kafka.us-east-1.amazonaws.com`), else the
/// first region-shaped label anywhere (`msk.eu-west-1.example.com`). `None` when the
/// host names no region (then the configured region is needed).
pub fn region_from_host(host: &str) -> Option<String> {
    let host = host_of(host.trim()).to_ascii_lowercase();
    let all: Vec<&str> = SUFFIXES
        .iter()
        .flat_map(|(_, p)| p.iter().copied())
        .collect();
    for (suffix, prefixes) in SUFFIXES {
        if let Some(head) = host.strip_suffix(suffix) {
            let label = head.rsplit('.').next().unwrap_or(head);
            if region_shaped(label, prefixes) {
                return Some(label.to_owned());
            }
        }
    }
    host.split('.')
        .find(|l| region_shaped(l, &all))
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use super::*;

    #[test]
    fn regions_from_hosts() {
        for (host, region) in [
            (
                "b-1.demo.abc123.c2.kafka.us-west-2.amazonaws.com:9098",
                Some("us-west-2"),
            ),
            (
                "b-1.demo.abc123.c2.kafka-serverless.eu-central-1.amazonaws.com",
                Some("eu-central-1"),
            ),
            (
                "boot-x.c1.kafka.cn-north-1.amazonaws.com.cn",
                Some("cn-north-1"),
            ),
            (
                "b-2.demo-us-west-1.c3.kafka.ap-southeast-2.amazonaws.com.",
                Some("ap-southeast-2"),
            ),
            ("msk.us-gov-west-1.example.org:9098", Some("us-gov-west-1")),
            ("MSK.EU-WEST-1.example.com", Some("eu-west-1")),
            ("localhost:9092", None),
            ("127.0.0.1:9098", None),
            ("[::1]:9098", None),
        ] {
            assert_eq!(region_from_host(host).as_deref(), region, "{host}");
        }
    }

    #[test]
    fn hashmap_order_is_javas() {
        // Inserted c, b, q, a, a java.util.HashMap iterates q, a, b, c: "q" (113) and
        // "a" (97) share bucket 1 (q first, inserted first), "b" is 2, "c" is 3.
        let e = |k: &str| (k.to_owned(), String::new());
        let order = java_hashmap_order(&[e("c"), e("b"), e("q"), e("a")]);
        assert_eq!(order, vec![2, 3, 1, 0]);
    }

    #[test]
    fn payload_shape_and_escaping() {
        let creds = AwsCredentials::new("AKID", "secret");
        let input = SigningInput {
            credentials: &creds,
            region: "us-east-1",
            user_agent: "ua \"q\"\n",
            time: UNIX_EPOCH + Duration::from_secs(1_700_000_000),
        };
        let p = String::from_utf8(auth_payload(&input, "h.kafka.us-east-1.amazonaws.com")).unwrap();
        assert!(p.starts_with('{') && p.ends_with('}'), "{p}");
        for k in [
            "\"version\":\"2020_10_22\"",
            "\"action\":\"kafka-cluster:Connect\"",
            "\"x-amz-expires\":\"900\"",
            "\"x-amz-credential\":\"AKID/20231114/us-east-1/kafka-cluster/aws4_request\"",
            "\"user-agent\":\"ua \\\"q\\\"\\n\"",
        ] {
            assert!(p.contains(k), "{k} in {p}");
        }
        assert!(!p.contains("secret"));
    }
}
