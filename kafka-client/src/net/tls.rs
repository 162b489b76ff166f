//! Turning rustls failures into typed [`Error::Tls`]s, and the server name a broker's
//! certificate must carry. The rustls configuration itself is built once at `build()`
//! (`config/tls_material.rs`).

use rustls::CertificateError;
use rustls::pki_types::ServerName;

use crate::error::{Error, ErrorContext, Result, TlsErrorKind};

/// The name the broker's certificate must carry: the host we connect to (an IP literal
/// or a DNS name).
pub(crate) fn server_name(host: &str) -> Result<ServerName<'static>, super::Fault> {
    ServerName::try_from(host.to_owned())
        .map_err(|e| super::Fault::connect(format!("{host:?} is not a valid TLS server name: {e}")))
}

/// A typed error for a rustls failure, if `e` carries one.
pub(crate) fn classify(e: &std::io::Error, context: &ErrorContext) -> Option<Error> {
    let tls = e.get_ref()?.downcast_ref::<rustls::Error>()?;
    Some(tls_error(tls, context.clone()))
}

/// The typed error for a rustls failure.
pub(crate) fn tls_error(e: &rustls::Error, context: ErrorContext) -> Error {
    use rustls::Error as E;
    let kind = match e {
        E::InvalidCertificate(c) => match c {
            CertificateError::UnknownIssuer => TlsErrorKind::UntrustedCertificate,
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
                TlsErrorKind::HostnameMismatch
            }
            CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
                TlsErrorKind::CertificateExpired
            }
            CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
                TlsErrorKind::CertificateNotYetValid
            }
            CertificateError::Revoked => TlsErrorKind::CertificateRevoked,
            _ => TlsErrorKind::InvalidCertificate,
        },
        E::AlertReceived(_) => TlsErrorKind::RejectedByPeer,
        _ => TlsErrorKind::Other,
    };
    let hint = match (kind, e) {
        (TlsErrorKind::CertificateRevoked, _) => {
            " (the broker's certificate is listed in the CRL of ssl.crl.location)"
        }
        (_, E::InvalidCertificate(CertificateError::UnknownRevocationStatus)) => {
            " (ssl.crl.location holds no CRL from the CA that issued the broker's certificate)"
        }
        (_, E::InvalidCertificate(CertificateError::ExpiredRevocationList)) => {
            " (the CRL in ssl.crl.location is past its next-update time: refresh it)"
        }
        _ => "",
    };
    let hint = match kind {
        TlsErrorKind::UntrustedCertificate => {
            " (the broker's certificate does not chain to a trusted CA: check ssl.ca.location)"
        }
        TlsErrorKind::HostnameMismatch => {
            " (the broker's certificate subjectAltName does not name this host)"
        }
        TlsErrorKind::RejectedByPeer => {
            " (the broker may require a client certificate, or not trust the one sent)"
        }
        _ => hint,
    };
    Error::Tls {
        context,
        kind,
        message: format!("{e}{hint}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_classification() {
        assert!(server_name("127.0.0.1").is_ok());
        assert!(server_name("localhost").is_ok());
        assert!(server_name("::1").is_ok());
        let e = tls_error(
            &rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer),
            ErrorContext::broker(None, "h:1"),
        );
        assert!(matches!(
            e,
            Error::Tls {
                kind: TlsErrorKind::UntrustedCertificate,
                ..
            }
        ));
        assert!(!e.is_retriable() && e.is_authentication_failure());
    }
}
