//! A cluster and certificates for the TLS reload, encrypted-key and revocation tests
//! (`tests/tls_reload.rs`), generated in Rust (rcgen, ring) when the cluster starts.
//!
//! Two CAs, both trusted by the broker for client certificates, so a client can rotate
//! to a certificate from the second while its old connections (first CA) stay up.
//! Listeners (all 127.0.0.1):
//!
//! | [`RotationListener`] | protocol | notes |
//! |---|---|---|
//! | `Plaintext` | PLAINTEXT | principal `ANONYMOUS` (super user): setup |
//! | `Mtls` | SSL | client certificate required, from either CA; principal = CN |
//! | `Revoked` | SSL | serves a broker certificate the first CA has revoked (in [`RotationCerts::crl`]) |
//!
//! Super users: `admin` and `ANONYMOUS`; `alice` has no ACLs, so a connection made with
//! her certificate is told `TOPIC_AUTHORIZATION_FAILED`: which certificate a connection
//! presented is visible from the outside.

use std::fs;
use std::path::{Path, PathBuf};

use pkcs8::PrivateKeyInfo;
use pkcs8::der::pem::LineEnding;
use pkcs8::pkcs5::pbes2;
use rcgen::{
    CertificateRevocationListParams, ExtendedKeyUsagePurpose, Issuer, KeyIdMethod, KeyPair,
    RevocationReason, RevokedCertParams, SerialNumber,
};

use crate::cluster::KafkaCluster;
use crate::config::ClusterConfig;
use crate::error::{Error, Result};
use crate::secure::{ca_params, create_dir, leaf_params, rcgen_err, write};

/// The password of [`RotationCerts::admin_key_encrypted`].
pub const KEY_PASSWORD: &str = "test-only key password";

/// A listener of the rotation cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RotationListener {
    /// PLAINTEXT (principal ANONYMOUS, a super user).
    Plaintext,
    /// SSL with a client certificate (from either CA) required.
    Mtls,
    /// SSL serving a revoked certificate.
    Revoked,
}

/// The PEM files (one directory).
#[derive(Debug, Clone)]
pub struct RotationCerts {
    /// The directory holding every file.
    pub dir: PathBuf,
    /// The first CA (signed the broker certificates and the first client certificate).
    pub ca: PathBuf,
    /// The second CA (signed the rotated client certificates).
    pub ca2: PathBuf,
    /// A CRL of the first CA revoking the `Revoked` listener's certificate.
    pub crl: PathBuf,
    /// CN=admin from the first CA: chain, and PKCS#8 key.
    pub admin_ca1: (PathBuf, PathBuf),
    /// CN=admin from the second CA.
    pub admin_ca2: (PathBuf, PathBuf),
    /// CN=alice (no ACLs) from the second CA.
    pub alice_ca2: (PathBuf, PathBuf),
    /// The first admin key as an encrypted PKCS#8 (`ENCRYPTED PRIVATE KEY`, PBES2:
    /// PBKDF2-SHA256 + AES-256-CBC) with [`KEY_PASSWORD`].
    pub admin_key_encrypted: PathBuf,
}

/// A running cluster with the rotation listeners.
#[derive(Debug)]
pub struct RotationCluster {
    cluster: KafkaCluster,
    certs: RotationCerts,
}

impl RotationCluster {
    /// Generates the certificates and starts `base` with the listeners above.
    pub fn start(base: ClusterConfig) -> Result<Self> {
        let dir = create_dir()?;
        let certs = match generate(&dir) {
            Ok(c) => c,
            Err(e) => {
                let _ = fs::remove_dir_all(&dir);
                return Err(e);
            }
        };
        let cluster = KafkaCluster::start(config(base, &certs))?;
        Ok(Self { cluster, certs })
    }

    /// The cluster.
    pub fn cluster(&self) -> &KafkaCluster {
        &self.cluster
    }

    /// The generated files.
    pub fn certs(&self) -> &RotationCerts {
        &self.certs
    }

    /// `127.0.0.1:port` of `listener` on node 1.
    pub fn address(&self, listener: RotationListener) -> String {
        let name = match listener {
            RotationListener::Plaintext => return self.cluster.node_address(1),
            RotationListener::Mtls => "mtls",
            RotationListener::Revoked => "revoked",
        };
        let port = self.cluster.node_port(1, name).unwrap_or_default();
        format!("127.0.0.1:{port}")
    }
}

impl Drop for RotationCluster {
    fn drop(&mut self) {
        if std::env::var(crate::KEEP_ENV).map_or(true, |v| v.is_empty() || v == "0") {
            let _ = fs::remove_dir_all(&self.certs.dir);
        }
    }
}

fn config(base: ClusterConfig, certs: &RotationCerts) -> ClusterConfig {
    let path = |p: &Path| p.display().to_string();
    let listeners = "PLAINTEXT://127.0.0.1:{client_port},CONTROLLER://127.0.0.1:{controller_port},\
        MTLS://127.0.0.1:{port.mtls},REVOKED://127.0.0.1:{port.revoked}";
    base.with_extra_port("mtls")
        .with_extra_port("revoked")
        .with_property("listeners", listeners)
        .with_property("advertised.listeners", listeners)
        .with_property(
            "listener.security.protocol.map",
            "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT,MTLS:SSL,REVOKED:SSL",
        )
        .with_property("ssl.keystore.type", "PEM")
        .with_property("ssl.keystore.location", path(&certs.dir.join("broker.pem")))
        .with_property("ssl.truststore.type", "PEM")
        .with_property(
            "ssl.truststore.location",
            path(&certs.dir.join("trusted-cas.pem")),
        )
        .with_property("listener.name.mtls.ssl.client.auth", "required")
        .with_property(
            "listener.name.revoked.ssl.keystore.location",
            path(&certs.dir.join("broker-revoked.pem")),
        )
        .with_property(
            "ssl.principal.mapping.rules",
            "RULE:^CN=([^,]+).*$/$1/,DEFAULT",
        )
        .with_property(
            "authorizer.class.name",
            "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
        )
        .with_property("super.users", "User:admin;User:ANONYMOUS")
        .with_property("allow.everyone.if.no.acl.found", "false")
}

/// The serial of the revoked broker certificate.
const REVOKED_SERIAL: u64 = 0x5eed_0bad;

fn generate(dir: &Path) -> Result<RotationCerts> {
    let ca1_key = KeyPair::generate().map_err(rcgen_err("CA key"))?;
    let ca1_params = ca_params("kafka-testbed rotation CA 1")?;
    let ca1_pem = ca1_params
        .self_signed(&ca1_key)
        .map_err(rcgen_err("CA 1"))?
        .pem();
    let ca1 = Issuer::new(ca1_params, ca1_key);
    let ca2_key = KeyPair::generate().map_err(rcgen_err("CA 2 key"))?;
    let ca2_params = ca_params("kafka-testbed rotation CA 2")?;
    let ca2_pem = ca2_params
        .self_signed(&ca2_key)
        .map_err(rcgen_err("CA 2"))?
        .pem();
    let ca2 = Issuer::new(ca2_params, ca2_key);
    write(dir, "trusted-cas.pem", &format!("{ca1_pem}{ca2_pem}"))?;

    let server = ExtendedKeyUsagePurpose::ServerAuth;
    for (name, serial) in [("broker.pem", 1u64), ("broker-revoked.pem", REVOKED_SERIAL)] {
        let key = KeyPair::generate().map_err(rcgen_err("broker key"))?;
        let mut params = leaf_params("broker", &["127.0.0.1", "localhost"], server.clone())?;
        params.serial_number = Some(SerialNumber::from(serial));
        let cert = params.signed_by(&key, &ca1).map_err(rcgen_err(name))?;
        write(
            dir,
            name,
            &format!("{}{}{ca1_pem}", key.serialize_pem(), cert.pem()),
        )?;
    }
    let crl = CertificateRevocationListParams {
        this_update: rcgen::date_time_ymd(2020, 1, 1),
        next_update: rcgen::date_time_ymd(2099, 1, 1),
        crl_number: SerialNumber::from(1u64),
        issuing_distribution_point: None,
        revoked_certs: vec![RevokedCertParams {
            serial_number: SerialNumber::from(REVOKED_SERIAL),
            revocation_time: rcgen::date_time_ymd(2021, 1, 1),
            reason_code: Some(RevocationReason::KeyCompromise),
            invalidity_date: None,
        }],
        key_identifier_method: KeyIdMethod::Sha256,
    }
    .signed_by(&ca1)
    .map_err(rcgen_err("CRL"))?;
    let crl = write(
        dir,
        "ca1.crl.pem",
        &crl.pem().map_err(rcgen_err("CRL PEM"))?,
    )?;

    let leaf = |cn: &str, issuer: &Issuer<'static, KeyPair>, ca_pem: &str, file: &str| {
        client_leaf(dir, cn, issuer, ca_pem, file)
    };
    let (admin1_chain, admin1_key_path, admin1_key) = leaf("admin", &ca1, &ca1_pem, "admin-ca1")?;
    let (admin2_chain, admin2_key, _) = leaf("admin", &ca2, &ca2_pem, "admin-ca2")?;
    let (alice_chain, alice_key, _) = leaf("alice", &ca2, &ca2_pem, "alice-ca2")?;
    let encrypted = encrypt_pkcs8(&admin1_key.serialize_der())?;
    Ok(RotationCerts {
        dir: dir.to_path_buf(),
        ca: write(dir, "ca1.pem", &ca1_pem)?,
        ca2: write(dir, "ca2.pem", &ca2_pem)?,
        crl,
        admin_ca1: (admin1_chain, admin1_key_path),
        admin_ca2: (admin2_chain, admin2_key),
        alice_ca2: (alice_chain, alice_key),
        admin_key_encrypted: write(dir, "admin-ca1-encrypted.key", &encrypted)?,
    })
}

/// A client certificate (chain file) and its PKCS#8 key (file), signed by `issuer`.
fn client_leaf(
    dir: &Path,
    cn: &str,
    issuer: &Issuer<'static, KeyPair>,
    ca_pem: &str,
    file: &str,
) -> Result<(PathBuf, PathBuf, KeyPair)> {
    let key = KeyPair::generate().map_err(rcgen_err("client key"))?;
    let cert = leaf_params(cn, &[], ExtendedKeyUsagePurpose::ClientAuth)?
        .signed_by(&key, issuer)
        .map_err(rcgen_err(file))?;
    let chain = write(
        dir,
        &format!("{file}.pem"),
        &format!("{}{ca_pem}", cert.pem()),
    )?;
    let key_path = write(dir, &format!("{file}.key"), &key.serialize_pem())?;
    Ok((chain, key_path, key))
}

/// Encrypts a PKCS#8 key with [`KEY_PASSWORD`] (PBES2, PBKDF2-SHA256, AES-256-CBC).
fn encrypt_pkcs8(der: &[u8]) -> Result<String> {
    let fail =
        |e: &dyn std::fmt::Display| Error::new(format!("kafka-testbed: encrypting a key: {e}"));
    let info = PrivateKeyInfo::try_from(der).map_err(|e| fail(&e))?;
    let salt = *b"kafka-rs-testbed";
    let iv = *b"0123456789abcdef";
    let params =
        pbes2::Parameters::pbkdf2_sha256_aes256cbc(10_000, &salt, &iv).map_err(|e| fail(&e))?;
    let doc = info
        .encrypt_with_params(params, KEY_PASSWORD)
        .map_err(|e| fail(&e))?;
    let pem = doc
        .to_pem("ENCRYPTED PRIVATE KEY", LineEnding::LF)
        .map_err(|e| fail(&e))?;
    Ok(pem.to_string())
}
