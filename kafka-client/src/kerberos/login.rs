//! The ticket caches of one `GSSAPI` configuration: the TGT, and a service ticket per
//! broker host, each re-acquired per `renewal.rs`. A service ticket is fetched with the
//! current TGT (logging in again first when the TGT is due).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::KerberosFailure;
use super::exchange::{self, ServiceTicket};
use super::renewal::Slot;
use crate::config::ResolvedKerberos;

/// The ticket caches.
#[derive(Debug, Default)]
pub(crate) struct Login {
    tgt: Slot<ServiceTicket>,
    services: Mutex<HashMap<String, Arc<Slot<ServiceTicket>>>>,
}

fn lifetime(t: &ServiceTicket) -> Duration {
    Duration::from_secs(t.lifetime_secs.max(0) as u64)
}

impl Login {
    /// A live service ticket for `settings.service_name/host`.
    pub(crate) async fn service_ticket(
        &self,
        settings: &ResolvedKerberos,
        host: &str,
    ) -> Result<ServiceTicket, KerberosFailure> {
        let slot = self
            .services
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(host.to_owned())
            .or_default()
            .clone();
        slot.get(|| async {
            let tgt = self
                .tgt
                .get(|| async {
                    let t = exchange::login(settings).await?;
                    tracing::debug!(
                        principal = %format_args!("{}@{}", settings.name, settings.realm),
                        lifetime_secs = t.lifetime_secs,
                        "Kerberos login"
                    );
                    let l = lifetime(&t);
                    Ok((t, l))
                })
                .await?;
            let t = exchange::service_ticket(settings, &tgt, &settings.service_name, host).await?;
            let l = lifetime(&t);
            Ok((t, l))
        })
        .await
    }
}
