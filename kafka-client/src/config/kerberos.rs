//! [`KerberosConfig`]: who the client is for SASL `GSSAPI` (principal, keytab or
//! password), which service it asks tickets for (`sasl.kerberos.service.name`, default
//! `kafka`), and where the realm's KDCs are (options, or a `krb5.conf` the client is
//! pointed at). The Kerberos exchanges themselves are in `src/kerberos/` (feature
//! `gssapi`).

use std::fmt;
use std::path::PathBuf;

use super::Secret;
use crate::error::{Error, Result};

/// The Kerberos service name brokers use by default (`kafka/<host>@REALM`).
pub const DEFAULT_SERVICE_NAME: &str = "kafka";

/// The client's long-term key: read from a keytab, or derived from a password.
#[derive(Clone, PartialEq, Eq)]
pub(crate) enum KerberosKey {
    Keytab(PathBuf),
    Password(Secret),
}

/// Kerberos settings for SASL `GSSAPI` (build with [`KerberosConfig::keytab`] or
/// [`KerberosConfig::password`], use with [`super::SaslConfig::gssapi`]).
///
/// The client logs in to the KDC (AS exchange) when the first connection needs a
/// ticket, asks a service ticket for `<service name>/<broker host>@REALM` per broker
/// host (TGS exchange), and caches both; a ticket is re-acquired once 80% of its
/// lifetime has passed (Java's `sasl.kerberos.ticket.renew.window.factor`), so
/// connections opened later always present a live ticket. The broker host is the host
/// part of the broker's address as the client knows it (bootstrap or advertised
/// listener), not canonicalized through DNS.
///
/// ```
/// use kafka_client::config::{KerberosConfig, SaslConfig};
/// let krb = KerberosConfig::keytab("alice@EXAMPLE.COM", "/etc/kafka/alice.keytab")
///     .kdc("kdc.example.com:88")
///     .service_name("kafka");
/// let sasl = SaslConfig::gssapi(krb);
/// assert_eq!(sasl.mechanism().name(), "GSSAPI");
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct KerberosConfig {
    pub(crate) principal: String,
    pub(crate) key: KerberosKey,
    pub(crate) service_name: String,
    pub(crate) realm: Option<String>,
    pub(crate) kdcs: Vec<String>,
    pub(crate) krb5_conf: Option<PathBuf>,
}

impl fmt::Debug for KerberosConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let key = match &self.key {
            KerberosKey::Keytab(p) => format!("keytab {}", p.display()),
            KerberosKey::Password(_) => "password ***".to_owned(),
        };
        f.debug_struct("KerberosConfig")
            .field("principal", &self.principal)
            .field("key", &key)
            .field("service_name", &self.service_name)
            .field("realm", &self.realm)
            .field("kdcs", &self.kdcs)
            .field("krb5_conf", &self.krb5_conf)
            .finish()
    }
}

impl KerberosConfig {
    /// Log in as `principal` (`name[/instance][@REALM]`) with the key for it in the
    /// keytab file at `path` (`sasl.kerberos.keytab`). The keytab is read at each login,
    /// so a rotated keytab is picked up at the next ticket re-acquisition.
    pub fn keytab(principal: impl Into<String>, path: impl Into<PathBuf>) -> Self {
        Self::new(principal.into(), KerberosKey::Keytab(path.into()))
    }

    /// Log in as `principal` with a password (the key is derived from it with the salt
    /// the KDC names).
    pub fn password(principal: impl Into<String>, password: impl Into<Secret>) -> Self {
        Self::new(principal.into(), KerberosKey::Password(password.into()))
    }

    fn new(principal: String, key: KerberosKey) -> Self {
        Self {
            principal,
            key,
            service_name: DEFAULT_SERVICE_NAME.to_owned(),
            realm: None,
            kdcs: Vec::new(),
            krb5_conf: None,
        }
    }

    /// The brokers' Kerberos service name (`sasl.kerberos.service.name`, default
    /// `kafka`).
    pub fn service_name(mut self, name: impl Into<String>) -> Self {
        self.service_name = name.into();
        self
    }

    /// The realm, when the principal does not name one (`sasl.kerberos.realm`).
    pub fn realm(mut self, realm: impl Into<String>) -> Self {
        self.realm = Some(realm.into());
        self
    }

    /// Adds a KDC, `host` or `host:port` (port 88 by default); tried in order
    /// (`sasl.kerberos.kdc`).
    pub fn kdc(mut self, kdc: impl Into<String>) -> Self {
        self.kdcs.push(kdc.into());
        self
    }

    /// Reads the default realm and the realm's KDCs from this `krb5.conf`
    /// (`[libdefaults] default_realm`, `[realms] REALM = { kdc = ... }`), once, when the
    /// configuration is built (`sasl.kerberos.krb5.conf`). KDCs set with
    /// [`KerberosConfig::kdc`] come first.
    pub fn krb5_conf(mut self, path: impl Into<PathBuf>) -> Self {
        self.krb5_conf = Some(path.into());
        self
    }

    /// The client principal as given.
    pub fn principal_name(&self) -> &str {
        &self.principal
    }

    /// Checks the settings and resolves the realm and KDCs (reading `krb5.conf` if one
    /// is named). Returns the complete settings.
    pub(crate) fn resolve(&self) -> Result<ResolvedKerberos> {
        let err = |m: String| Error::Config(format!("sasl.mechanism GSSAPI: {m}"));
        if self.principal.trim().is_empty() {
            return Err(err("sasl.kerberos.principal is empty".into()));
        }
        if self.service_name.trim().is_empty() || self.service_name.contains(['/', '@']) {
            return Err(err(format!(
                "sasl.kerberos.service.name {:?} must be a plain name such as kafka",
                self.service_name
            )));
        }
        match &self.key {
            KerberosKey::Password(p) if p.is_empty() => {
                return Err(err("the password is empty".into()));
            }
            _ => {}
        }
        let conf = match &self.krb5_conf {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|e| err(format!("cannot read krb5.conf {}: {e}", path.display())))?;
                Some(crate::kerberos::Krb5Conf::parse(&text))
            }
            None => None,
        };
        let (name, principal_realm) = match self.principal.rsplit_once('@') {
            Some((n, r)) => (n.to_owned(), Some(r.to_owned())),
            None => (self.principal.clone(), None),
        };
        let realm = principal_realm
            .or_else(|| self.realm.clone())
            .or_else(|| conf.as_ref().and_then(|c| c.default_realm.clone()))
            .filter(|r| !r.is_empty())
            .ok_or_else(|| {
                err(
                    "no realm: name it in the principal (name@REALM), sasl.kerberos.realm \
                     or krb5.conf's default_realm"
                        .into(),
                )
            })?;
        let mut kdcs: Vec<String> = self.kdcs.iter().map(|k| with_port(k)).collect();
        if let Some(c) = &conf {
            kdcs.extend(c.kdcs(&realm).iter().map(|k| with_port(k)));
        }
        if kdcs.is_empty() {
            return Err(err(format!(
                "no KDC for realm {realm}: set sasl.kerberos.kdc or sasl.kerberos.krb5.conf"
            )));
        }
        Ok(ResolvedKerberos {
            name,
            realm,
            kdcs,
            key: self.key.clone(),
            service_name: self.service_name.clone(),
        })
    }
}

fn with_port(kdc: &str) -> String {
    let kdc = kdc.trim();
    let has_port = match kdc.rsplit_once(':') {
        Some((host, port)) => !host.ends_with(':') && port.parse::<u16>().is_ok(),
        None => false,
    };
    if has_port {
        kdc.to_owned()
    } else {
        format!("{kdc}:88")
    }
}

/// [`KerberosConfig`] checked and completed: the principal's name components, its
/// realm, the KDCs to ask (`host:port`).
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct ResolvedKerberos {
    /// The principal without realm (`name` or `name/instance`).
    pub(crate) name: String,
    pub(crate) realm: String,
    pub(crate) kdcs: Vec<String>,
    pub(crate) key: KerberosKey,
    pub(crate) service_name: String,
}

impl fmt::Debug for ResolvedKerberos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResolvedKerberos")
            .field("principal", &format_args!("{}@{}", self.name, self.realm))
            .field("kdcs", &self.kdcs)
            .field("service_name", &self.service_name)
            .finish_non_exhaustive()
    }
}

/// What a `GSSAPI` [`super::SaslConfig`] shares between its clones: the settings, their
/// resolved form (set when the client configuration is built) and the ticket caches.
pub(crate) struct KerberosCredentials {
    pub(crate) config: KerberosConfig,
    pub(crate) resolved: std::sync::OnceLock<ResolvedKerberos>,
    #[cfg(feature = "gssapi")]
    pub(crate) login: crate::kerberos::Login,
}

impl KerberosCredentials {
    pub(crate) fn new(config: KerberosConfig) -> Self {
        Self {
            config,
            resolved: std::sync::OnceLock::new(),
            #[cfg(feature = "gssapi")]
            login: crate::kerberos::Login::default(),
        }
    }

    /// Resolves the settings (once) and checks that this build can use them.
    pub(crate) fn validate(&self) -> Result<()> {
        if cfg!(not(feature = "gssapi")) {
            return Err(Error::Config(
                "sasl.mechanism GSSAPI needs kafka-client built with the `gssapi` feature".into(),
            ));
        }
        if self.resolved.get().is_none() {
            let r = self.config.resolve()?;
            let _ = self.resolved.set(r);
        }
        Ok(())
    }
}

impl fmt::Debug for KerberosCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.config.fmt(f)
    }
}

/// `GSSAPI` settings collected from properties (see `SECURITY_OPTIONS`).
#[derive(Clone, Debug, Default)]
pub(crate) struct KerberosBuilder {
    pub(crate) service_name: Option<String>,
    pub(crate) principal: Option<String>,
    pub(crate) keytab: Option<PathBuf>,
    pub(crate) realm: Option<String>,
    pub(crate) kdcs: Vec<String>,
    pub(crate) krb5_conf: Option<PathBuf>,
}

impl KerberosBuilder {
    /// Whether any Kerberos property was given.
    pub(crate) fn is_set(&self) -> bool {
        self.service_name.is_some()
            || self.principal.is_some()
            || self.keytab.is_some()
            || self.realm.is_some()
            || !self.kdcs.is_empty()
            || self.krb5_conf.is_some()
    }

    /// The configuration, with `password` (`sasl.password`) when there is no keytab.
    pub(crate) fn build(self, password: Option<Secret>) -> Result<KerberosConfig> {
        let principal = self.principal.ok_or_else(|| {
            Error::Config("sasl.mechanism GSSAPI needs sasl.kerberos.principal".into())
        })?;
        let mut c = match (self.keytab, password) {
            (Some(path), None) => KerberosConfig::keytab(principal, path),
            (None, Some(pw)) => KerberosConfig::password(principal, pw),
            (Some(_), Some(_)) => {
                return Err(Error::Config(
                    "sasl.mechanism GSSAPI: give sasl.kerberos.keytab or sasl.password, not both"
                        .into(),
                ));
            }
            (None, None) => {
                return Err(Error::Config(
                    "sasl.mechanism GSSAPI needs sasl.kerberos.keytab (or sasl.password)".into(),
                ));
            }
        };
        if let Some(s) = self.service_name {
            c = c.service_name(s);
        }
        c.realm = self.realm;
        c.kdcs = self.kdcs;
        c.krb5_conf = self.krb5_conf;
        Ok(c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn realm_and_kdcs_resolve() {
        let r = KerberosConfig::password("alice@EX.COM", "pw")
            .kdc("kdc1")
            .kdc("kdc2:8888")
            .resolve()
            .unwrap();
        assert_eq!((r.name.as_str(), r.realm.as_str()), ("alice", "EX.COM"));
        assert_eq!(r.kdcs, ["kdc1:88", "kdc2:8888"]);
        let e = KerberosConfig::password("alice", "pw")
            .kdc("k")
            .resolve()
            .unwrap_err()
            .to_string();
        assert!(e.contains("no realm"), "{e}");
        let e = KerberosConfig::password("alice@EX.COM", "pw")
            .resolve()
            .unwrap_err()
            .to_string();
        assert!(e.contains("no KDC for realm EX.COM"), "{e}");
        let e = KerberosConfig::password("a@R", "pw")
            .kdc("k")
            .service_name("kafka/x")
            .resolve()
            .unwrap_err()
            .to_string();
        assert!(e.contains("service.name"), "{e}");
    }

    #[test]
    fn debug_hides_the_password() {
        let c = KerberosConfig::password("alice@EX.COM", "hunter2");
        let d = format!("{c:?}");
        assert!(d.contains("alice@EX.COM") && !d.contains("hunter2"), "{d}");
    }

    #[test]
    fn krb5_conf_supplies_realm_and_kdcs() {
        let dir = std::env::temp_dir().join(format!("krb5-conf-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("krb5.conf");
        std::fs::write(
            &path,
            "[libdefaults]\n  default_realm = TEST.REALM\n[realms]\n  TEST.REALM = {\n    kdc = 127.0.0.1:7088\n  }\n",
        )
        .unwrap();
        let r = KerberosConfig::keytab("alice", "/nonexistent.keytab")
            .krb5_conf(&path)
            .resolve()
            .unwrap();
        assert_eq!(r.realm, "TEST.REALM");
        assert_eq!(r.kdcs, ["127.0.0.1:7088"]);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
