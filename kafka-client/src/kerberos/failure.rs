//! [`KerberosFailure`]: why a Kerberos login or service-ticket request failed, as
//! [`crate::Error::Kerberos`] carries it. Names the principal or KDC concerned, never a
//! password or key.

use std::fmt;

/// Why the client could not get (or use) a Kerberos ticket for SASL `GSSAPI`.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum KerberosFailure {
    /// The KDC does not know the client principal (`KDC_ERR_C_PRINCIPAL_UNKNOWN`).
    ClientUnknown {
        /// The client principal asked for.
        principal: String,
    },
    /// The KDC does not know the service principal (`KDC_ERR_S_PRINCIPAL_UNKNOWN`):
    /// usually a wrong `sasl.kerberos.service.name` or a broker host name that is not
    /// the one in the broker's principal.
    ServiceUnknown {
        /// The service principal asked for (`service/host@REALM`).
        principal: String,
    },
    /// The KDC rejected the pre-authentication (`KDC_ERR_PREAUTH_FAILED`), or the
    /// KDC's answer could not be decrypted with the client's key: a wrong password, or
    /// a keytab whose key is older than the KDC's.
    PreauthFailed {
        /// The client principal.
        principal: String,
    },
    /// The clocks of this host and the KDC (or broker) differ by more than the allowed
    /// skew (`KRB_AP_ERR_SKEW`).
    ClockSkew,
    /// Another error from the KDC.
    Kdc {
        /// The Kerberos error code (RFC 4120 7.5.9).
        code: u32,
        /// Its name (`KDC_ERR_...`).
        name: &'static str,
        /// The KDC's explanation (`e-text`), when it sent one.
        text: Option<String>,
    },
    /// No KDC answered: none configured was reachable.
    KdcUnreachable {
        /// The KDCs tried (`host:port`).
        kdcs: Vec<String>,
        /// The last error.
        reason: String,
    },
    /// The keytab could not be read or holds no usable key for the principal.
    Keytab {
        /// The keytab's path.
        path: String,
        /// What was wrong.
        reason: String,
    },
    /// A malformed or unexpected message from the KDC or the broker, or a check of one
    /// failed (a wrong checksum, a reply for another request).
    Protocol(String),
}

impl fmt::Display for KerberosFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KerberosFailure::ClientUnknown { principal } => {
                write!(f, "the KDC does not know the client principal {principal}")
            }
            KerberosFailure::ServiceUnknown { principal } => write!(
                f,
                "the KDC does not know the service principal {principal} (check \
                 sasl.kerberos.service.name and the broker's host name)"
            ),
            KerberosFailure::PreauthFailed { principal } => write!(
                f,
                "pre-authentication of {principal} failed: wrong password or stale keytab key"
            ),
            KerberosFailure::ClockSkew => {
                f.write_str("clock skew too great between this host and the KDC or broker")
            }
            KerberosFailure::Kdc { code, name, text } => {
                write!(f, "the KDC answered {name} ({code})")?;
                match text {
                    Some(t) if !t.is_empty() => write!(f, ": {t}"),
                    _ => Ok(()),
                }
            }
            KerberosFailure::KdcUnreachable { kdcs, reason } => {
                write!(f, "no KDC reachable (tried {}): {reason}", kdcs.join(", "))
            }
            KerberosFailure::Keytab { path, reason } => write!(f, "keytab {path}: {reason}"),
            KerberosFailure::Protocol(m) => write!(f, "Kerberos protocol error: {m}"),
        }
    }
}

impl std::error::Error for KerberosFailure {}

/// The name of a Kerberos error code (RFC 4120 7.5.9).
#[cfg_attr(not(feature = "gssapi"), allow(dead_code))]
pub(crate) fn error_name(code: u32) -> &'static str {
    match code {
        1 => "KDC_ERR_NAME_EXP",
        2 => "KDC_ERR_SERVICE_EXP",
        3 => "KDC_ERR_BAD_PVNO",
        6 => "KDC_ERR_C_PRINCIPAL_UNKNOWN",
        7 => "KDC_ERR_S_PRINCIPAL_UNKNOWN",
        8 => "KDC_ERR_PRINCIPAL_NOT_UNIQUE",
        9 => "KDC_ERR_NULL_KEY",
        12 => "KDC_ERR_POLICY",
        13 => "KDC_ERR_BADOPTION",
        14 => "KDC_ERR_ETYPE_NOSUPP",
        18 => "KDC_ERR_CLIENT_REVOKED",
        23 => "KDC_ERR_KEY_EXPIRED",
        24 => "KDC_ERR_PREAUTH_FAILED",
        25 => "KDC_ERR_PREAUTH_REQUIRED",
        31 => "KRB_AP_ERR_BAD_INTEGRITY",
        32 => "KRB_AP_ERR_TKT_EXPIRED",
        33 => "KRB_AP_ERR_TKT_NYV",
        34 => "KRB_AP_ERR_REPEAT",
        35 => "KRB_AP_ERR_NOT_US",
        36 => "KRB_AP_ERR_BADMATCH",
        37 => "KRB_AP_ERR_SKEW",
        41 => "KRB_AP_ERR_MODIFIED",
        60 => "KRB_ERR_GENERIC",
        68 => "KDC_ERR_WRONG_REALM",
        _ => "KRB_ERR_UNKNOWN",
    }
}

/// The failure for a KRB-ERROR `code` answered to a request for `client`/`service`.
#[cfg_attr(not(feature = "gssapi"), allow(dead_code))]
pub(crate) fn from_code(
    code: u32,
    text: Option<String>,
    client: &str,
    service: &str,
) -> KerberosFailure {
    match code {
        6 => KerberosFailure::ClientUnknown {
            principal: client.to_owned(),
        },
        7 => KerberosFailure::ServiceUnknown {
            principal: service.to_owned(),
        },
        24 | 31 => KerberosFailure::PreauthFailed {
            principal: client.to_owned(),
        },
        37 => KerberosFailure::ClockSkew,
        _ => KerberosFailure::Kdc {
            code,
            name: error_name(code),
            text,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_map_to_named_failures() {
        let c = "alice@EXAMPLE.COM";
        let s = "kafka/broker1@EXAMPLE.COM";
        assert_eq!(
            from_code(6, None, c, s),
            KerberosFailure::ClientUnknown {
                principal: c.into()
            }
        );
        assert!(from_code(7, None, c, s).to_string().contains(s));
        assert!(matches!(
            from_code(24, None, c, s),
            KerberosFailure::PreauthFailed { .. }
        ));
        assert_eq!(from_code(37, None, c, s), KerberosFailure::ClockSkew);
        let other = from_code(12, Some("policy".into()), c, s).to_string();
        assert!(other.contains("KDC_ERR_POLICY (12): policy"), "{other}");
    }
}
