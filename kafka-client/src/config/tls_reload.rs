//! TLS material that changes while the client runs (certificate rotation): the rustls
//! configuration each new connection uses comes from a [`TlsSource`]: fixed at build,
//! re-read when the named files change ([`TlsConfig::reload_files`]), or asked of a
//! [`TlsConfigProvider`] callback. Established connections keep the material they were
//! made with (TLS does not change a live session's certificates).

use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use super::{PemSource, TlsConfig, TokenError};
use crate::error::{Error, Result};
use crate::types::BoxFuture;

/// Supplies the TLS configuration for new connections (say, certificates fetched from a
/// secrets manager). Called at every new connection: return quickly, from a cache.
///
/// ```
/// use kafka_client::BoxFuture;
/// use kafka_client::config::{TlsConfig, TlsConfigProvider, TokenError};
///
/// #[derive(Debug)]
/// struct FromVault;
///
/// impl TlsConfigProvider for FromVault {
///     fn tls_config(&self) -> BoxFuture<'_, Result<TlsConfig, TokenError>> {
///         Box::pin(async {
///             Ok(TlsConfig::new().client_cert_pem("-----BEGIN CERTIFICATE-----...", "..."))
///         })
///     }
/// }
/// ```
pub trait TlsConfigProvider: Send + Sync + fmt::Debug {
    /// The configuration for the next connection (its own `provider` is not used).
    fn tls_config(&self) -> BoxFuture<'_, std::result::Result<TlsConfig, TokenError>>;
}

/// A provider in a [`TlsConfig`]: equal when it is the same provider.
#[derive(Clone, Debug)]
pub(crate) struct ProviderRef(pub(crate) Arc<dyn TlsConfigProvider>);

impl PartialEq for ProviderRef {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Eq for ProviderRef {}

/// Modification time and length of each named file (`None`: absent or unreadable).
type Stamps = Vec<Option<(SystemTime, u64)>>;

fn stamps(tls: &TlsConfig) -> Stamps {
    [&tls.ca, &tls.client_cert, &tls.client_key, &tls.crl]
        .into_iter()
        .flatten()
        .filter_map(|src| match src {
            PemSource::File(p) => Some(
                std::fs::metadata(p)
                    .ok()
                    .and_then(|m| Some((m.modified().ok()?, m.len()))),
            ),
            PemSource::Inline(_) => None,
        })
        .collect()
}

/// Where each new connection's rustls configuration comes from.
pub(crate) struct TlsSource {
    mode: Mode,
}

enum Mode {
    Fixed(Arc<rustls::ClientConfig>),
    Files {
        settings: TlsConfig,
        /// The stamps last seen and the configuration in use.
        state: Mutex<(Stamps, Arc<rustls::ClientConfig>)>,
    },
    Provider {
        provider: Arc<dyn TlsConfigProvider>,
        cache: Mutex<Option<(TlsConfig, Arc<rustls::ClientConfig>)>>,
    },
}

impl fmt::Debug for TlsSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self.mode {
            Mode::Fixed(_) => "TlsSource::Fixed",
            Mode::Files { .. } => "TlsSource::Files",
            Mode::Provider { .. } => "TlsSource::Provider",
        })
    }
}

impl TlsSource {
    /// Checks and loads `settings` (a provider is first asked at the first connection).
    pub(crate) fn new(settings: &TlsConfig) -> Result<Self> {
        let mode = if let Some(p) = &settings.provider {
            Mode::Provider {
                provider: p.0.clone(),
                cache: Mutex::new(None),
            }
        } else if settings.reload_files {
            let before = stamps(settings);
            let config = super::tls_material::client_config(settings)?;
            Mode::Files {
                settings: settings.clone(),
                state: Mutex::new((before, config)),
            }
        } else {
            Mode::Fixed(super::tls_material::client_config(settings)?)
        };
        Ok(Self { mode })
    }

    /// The configuration for a new connection.
    pub(crate) async fn current(&self) -> Result<Arc<rustls::ClientConfig>> {
        match &self.mode {
            Mode::Fixed(c) => Ok(c.clone()),
            Mode::Files { settings, state } => {
                let now = stamps(settings);
                let mut state = state.lock().unwrap_or_else(|e| e.into_inner());
                if now != state.0 {
                    state.0 = now;
                    match super::tls_material::client_config(settings) {
                        Ok(c) => {
                            tracing::info!("TLS material reloaded: the files changed");
                            state.1 = c;
                        }
                        Err(e) => tracing::warn!(
                            error = %e,
                            "TLS files changed but do not load; keeping the previous material"
                        ),
                    }
                }
                Ok(state.1.clone())
            }
            Mode::Provider { provider, cache } => {
                let settings = provider.tls_config().await.map_err(|e| {
                    Error::Config(format!("the TLS configuration provider failed: {e}"))
                })?;
                if settings.provider.is_some() {
                    return Err(Error::Config(
                        "the TLS configuration provider returned a TlsConfig with a provider"
                            .into(),
                    ));
                }
                if let Some((last, config)) = &*cache.lock().unwrap_or_else(|e| e.into_inner()) {
                    if *last == settings && !names_files(&settings) {
                        return Ok(config.clone());
                    }
                }
                let config = super::tls_material::client_config(&settings)?;
                *cache.lock().unwrap_or_else(|e| e.into_inner()) = Some((settings, config.clone()));
                Ok(config)
            }
        }
    }
}

/// Whether `tls` reads files (whose contents may have changed since the last build).
fn names_files(tls: &TlsConfig) -> bool {
    [&tls.ca, &tls.client_cert, &tls.client_key, &tls.crl]
        .into_iter()
        .flatten()
        .any(|s| matches!(s, PemSource::File(_)))
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    /// Two throw-away self-signed CA certificates (OpenSSL, P-256).
    const CA_A: &str = include_str!("testdata/ca-a.pem");
    const CA_B: &str = include_str!("testdata/ca-b.pem");

    #[tokio::test]
    async fn files_are_reloaded_when_they_change_and_bad_files_keep_the_old() {
        let dir = std::env::temp_dir().join(format!("kafka-tls-reload-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let ca = dir.join("ca.pem");
        std::fs::write(&ca, CA_A).unwrap();
        let source = TlsSource::new(&TlsConfig::new().ca_file(&ca).reload_files(true)).unwrap();
        let first = source.current().await.unwrap();
        assert!(
            Arc::ptr_eq(&first, &source.current().await.unwrap()),
            "unchanged"
        );
        // A half-written file: the last good material stays.
        std::fs::write(&ca, "-----BEGIN CERTIFICATE-----\ntrunc").unwrap();
        assert!(Arc::ptr_eq(&first, &source.current().await.unwrap()));
        // The new file in full: new material.
        std::fs::write(&ca, CA_B).unwrap();
        let second = source.current().await.unwrap();
        assert!(!Arc::ptr_eq(&first, &second), "reloaded");
        assert!(Arc::ptr_eq(&second, &source.current().await.unwrap()));
        // Without reload_files the file is read once.
        let fixed = TlsSource::new(&TlsConfig::new().ca_file(&ca)).unwrap();
        let a = fixed.current().await.unwrap();
        std::fs::write(&ca, CA_A).unwrap();
        assert!(Arc::ptr_eq(&a, &fixed.current().await.unwrap()));
        // Bad at build: an error, not a silent start.
        std::fs::write(&ca, "not a pem").unwrap();
        assert!(TlsSource::new(&TlsConfig::new().ca_file(&ca).reload_files(true)).is_err());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[derive(Debug)]
    struct Counting(AtomicUsize, TlsConfig);

    impl TlsConfigProvider for Counting {
        fn tls_config(&self) -> BoxFuture<'_, std::result::Result<TlsConfig, TokenError>> {
            Box::pin(async move {
                self.0.fetch_add(1, Ordering::SeqCst);
                Ok(self.1.clone())
            })
        }
    }

    #[tokio::test]
    async fn provider_is_asked_per_connection_and_its_answer_cached() {
        let p = Arc::new(Counting(AtomicUsize::new(0), TlsConfig::new()));
        let source = TlsSource::new(&TlsConfig::new().provider(p.clone())).unwrap();
        let a = source.current().await.unwrap();
        let b = source.current().await.unwrap();
        assert_eq!(p.0.load(Ordering::SeqCst), 2);
        assert!(Arc::ptr_eq(&a, &b), "same answer, same rustls config");
        let bad = Arc::new(Counting(
            AtomicUsize::new(0),
            TlsConfig::new().ca_pem("garbage"),
        ));
        let source = TlsSource::new(&TlsConfig::new().provider(bad)).unwrap();
        let e = source.current().await.unwrap_err().to_string();
        assert!(e.contains("no CERTIFICATE"), "{e}");
    }
}
