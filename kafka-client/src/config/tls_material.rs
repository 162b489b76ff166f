//! TLS material with rustls: building the client configuration from [`TlsConfig`] (at
//! `build()`, and again when `tls_reload.rs` sees new material). Turning rustls failures
//! into typed errors is the transport's (`net/tls.rs`).
//!
//! Encrypted PKCS#8 keys are decrypted by the `pkcs8` crate (PBES2: PBKDF2 or scrypt,
//! AES-CBC; pure Rust). CRLs are checked by rustls' webpki verifier, for the broker's
//! own certificate (not the intermediates), and an unknown status is an error.
//!
//! One crypto provider, explicitly: `ring` (no OpenSSL, no aws-lc). Trust comes from the
//! Mozilla roots compiled in (`webpki-roots`) or from the PEM CA the user names; the
//! host name is checked against the certificate's subjectAltName (DNS name or IP
//! address) unless the user turned that off.

use std::fmt;
use std::sync::Arc;

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{
    CertificateDer, CertificateRevocationListDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName,
    UnixTime,
};
use rustls::{CertificateError, DigitallySignedStruct, RootCertStore, SignatureScheme};

use super::{PemSource, TlsConfig};
use crate::error::{Error, Result};

/// The one crypto provider this client uses.
pub(crate) fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Builds the rustls client configuration: reads the named PEM files (only those), checks
/// that they hold what they should, and sets up verification.
pub(crate) fn client_config(tls: &TlsConfig) -> Result<Arc<rustls::ClientConfig>> {
    let provider = provider();
    let mut roots = RootCertStore::empty();
    match &tls.ca {
        None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
        Some(src) => {
            let certs = read_certs(src, "ssl.ca.location")?;
            let (added, ignored) = roots.add_parsable_certificates(certs);
            if added == 0 {
                return Err(Error::Config(format!(
                    "ssl.ca.location {}: no usable CA certificate ({ignored} could not be parsed)",
                    src.describe()
                )));
            }
        }
    }
    let mut verifier_builder =
        WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone());
    if let Some(src) = &tls.crl {
        verifier_builder = verifier_builder
            .with_crls(read_crls(src)?)
            .only_check_end_entity_revocation();
    }
    let webpki = verifier_builder
        .build()
        .map_err(|e| Error::Config(format!("TLS trust store and CRLs: {e}")))?;
    let verifier: Arc<dyn ServerCertVerifier> = if tls.verify_hostname {
        webpki
    } else {
        Arc::new(NoHostnameVerifier(webpki))
    };
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::Config(format!("TLS: {e}")))?
        .dangerous()
        .with_custom_certificate_verifier(verifier);
    let config = match (&tls.client_cert, &tls.client_key) {
        (None, None) => builder.with_no_client_auth(),
        (Some(cert), Some(key_src)) => {
            let chain = read_certs(cert, "ssl.certificate.location")?;
            let key = read_key(key_src, tls.key_password.as_ref())?;
            builder.with_client_auth_cert(chain, key).map_err(|e| {
                Error::Config(format!(
                    "client certificate {} and key {} do not form a usable pair: {e}",
                    cert.describe(),
                    key_src.describe()
                ))
            })?
        }
        _ => {
            return Err(Error::Config(
                "a client certificate needs both the certificate chain and the private key \
                 (ssl.certificate.location and ssl.key.location)"
                    .into(),
            ));
        }
    };
    Ok(Arc::new(config))
}

fn read_pem(src: &PemSource, what: &str) -> Result<Vec<u8>> {
    match src {
        PemSource::Inline(s) => Ok(s.expose().as_bytes().to_vec()),
        PemSource::File(p) => std::fs::read(p)
            .map_err(|e| Error::Config(format!("{what} {}: cannot read: {e}", p.display()))),
    }
}

fn read_certs(src: &PemSource, what: &str) -> Result<Vec<CertificateDer<'static>>> {
    let pem = read_pem(src, what)?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| Error::Config(format!("{what} {}: bad PEM: {e}", src.describe())))?;
    if certs.is_empty() {
        return Err(Error::Config(format!(
            "{what} {}: no CERTIFICATE found in the PEM",
            src.describe()
        )));
    }
    Ok(certs)
}

/// The CRLs (`X509 CRL` blocks) in the PEM.
fn read_crls(src: &PemSource) -> Result<Vec<CertificateRevocationListDer<'static>>> {
    let what = "ssl.crl.location";
    let pem = read_pem(src, what)?;
    let crls = CertificateRevocationListDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| Error::Config(format!("{what} {}: bad PEM: {e}", src.describe())))?;
    if crls.is_empty() {
        return Err(Error::Config(format!(
            "{what} {}: no X509 CRL found in the PEM",
            src.describe()
        )));
    }
    Ok(crls)
}

/// The first private key in the PEM: PKCS#8 (`PRIVATE KEY`, or `ENCRYPTED PRIVATE KEY`
/// with `password`), PKCS#1 (`RSA PRIVATE KEY`) or SEC1 (`EC PRIVATE KEY`). Error
/// messages name the source, never the key or the password.
fn read_key(src: &PemSource, password: Option<&super::Secret>) -> Result<PrivateKeyDer<'static>> {
    let what = "ssl.key.location";
    let pem = read_pem(src, what)?;
    let text = String::from_utf8_lossy(&pem);
    let fail = |why: &str| Error::Config(format!("{what} {}: {why}", src.describe()));
    if text.contains("-----BEGIN ENCRYPTED PRIVATE KEY-----") {
        let password = password
            .ok_or_else(|| fail("the key is encrypted: give its password (ssl.key.password)"))?;
        let (label, doc) =
            pkcs8::SecretDocument::from_pem(pem_block(&text, "ENCRYPTED PRIVATE KEY"))
                .map_err(|_| fail("the ENCRYPTED PRIVATE KEY block is not valid PEM"))?;
        debug_assert_eq!(label, "ENCRYPTED PRIVATE KEY");
        let info = pkcs8::EncryptedPrivateKeyInfo::try_from(doc.as_bytes()).map_err(|_| {
            fail("the ENCRYPTED PRIVATE KEY is not a PKCS#8 EncryptedPrivateKeyInfo")
        })?;
        let plain = info.decrypt(password.expose().as_bytes()).map_err(|e| {
            fail(&format!(
                "cannot decrypt the key (wrong ssl.key.password, or an unsupported scheme: \
                 PBES2 with PBKDF2 or scrypt and AES-CBC are supported): {e}"
            ))
        })?;
        return Ok(PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
            plain.as_bytes().to_vec(),
        )));
    }
    PrivateKeyDer::from_pem_slice(&pem).map_err(|_| {
        fail(if text.contains("Proc-Type: 4,ENCRYPTED") {
            "legacy OpenSSL-encrypted keys (Proc-Type: 4,ENCRYPTED) are not supported; \
             convert with `openssl pkcs8 -topk8 -v2 aes-256-cbc`"
        } else {
            "no PKCS#8, PKCS#1 or SEC1 private key found in the PEM"
        })
    })
}

/// The first `label` block of `text`, armour included (a file may hold certificates too).
fn pem_block<'a>(text: &'a str, label: &str) -> &'a str {
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    match (text.find(&begin), text.find(&end)) {
        (Some(b), Some(e)) if e > b => &text[b..e + end.len()],
        _ => text,
    }
}

/// Checks the chain, dates and key usage like the default verifier, but accepts a
/// certificate that does not name the host (`ssl.endpoint.identification.algorithm=`).
struct NoHostnameVerifier(Arc<WebPkiServerVerifier>);

impl fmt::Debug for NoHostnameVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("NoHostnameVerifier")
    }
}

impl ServerCertVerifier for NoHostnameVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
        {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn system_roots_load_and_errors_name_the_file() {
        client_config(&TlsConfig::new()).expect("webpki roots");
        let e = client_config(&TlsConfig::new().ca_file("/nonexistent/ca.pem"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("/nonexistent/ca.pem"), "{e}");
        let e = client_config(&TlsConfig::new().ca_pem("not a pem"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("no CERTIFICATE"), "{e}");
    }

    #[test]
    fn key_errors_never_show_the_key() {
        let key = "-----BEGIN ENCRYPTED PRIVATE KEY-----\nc2VjcmV0LWtleS1ieXRlcw==\n-----END ENCRYPTED PRIVATE KEY-----\n";
        let e = read_key(&PemSource::Inline(key.into()), None)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("encrypted") && e.contains("ssl.key.password"),
            "{e}"
        );
        assert!(!e.contains("c2VjcmV0"), "{e}");
        let e = read_key(&PemSource::Inline(key.into()), Some(&"pw".into()))
            .unwrap_err()
            .to_string();
        assert!(!e.contains("c2VjcmV0") && !e.contains("pw\""), "{e}");
    }

    /// A throw-away P-256 key encrypted by OpenSSL 3 (`openssl genpkey -algorithm EC
    /// -pkeyopt ec_paramgen_curve:P-256 | openssl pkcs8 -topk8 -v2 aes-256-cbc -passout
    /// pass:test-only`), so decryption is checked against another implementation.
    const OPENSSL_ENCRYPTED_KEY: &str = include_str!("testdata/openssl-encrypted-p256.pem");
    const OPENSSL_PLAIN_KEY: &str = include_str!("testdata/openssl-plain-p256.pem");

    #[test]
    fn openssl_encrypted_pkcs8_keys_decrypt() {
        let src = PemSource::Inline(OPENSSL_ENCRYPTED_KEY.into());
        let key = read_key(&src, Some(&"test-only".into())).unwrap();
        let plain = read_key(&PemSource::Inline(OPENSSL_PLAIN_KEY.into()), None).unwrap();
        assert_eq!(key.secret_der(), plain.secret_der());
        let e = read_key(&src, Some(&"wrong".into()))
            .unwrap_err()
            .to_string();
        assert!(e.contains("cannot decrypt"), "{e}");
    }

    #[test]
    fn crl_errors_name_the_file() {
        let e = client_config(&TlsConfig::new().crl_pem("no crl here"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("no X509 CRL"), "{e}");
        let e = client_config(&TlsConfig::new().crl_file("/nonexistent/x.crl"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("/nonexistent/x.crl"), "{e}");
    }
}
