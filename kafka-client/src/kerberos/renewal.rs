//! When tickets are re-acquired: a cached ticket is used until 80% of its lifetime has
//! passed (Java's default `sasl.kerberos.ticket.renew.window.factor`), then the next
//! caller fetches a new one. If that fails while the old ticket is still valid (with a
//! margin), the old one keeps serving and the next caller tries again, so a KDC outage
//! shorter than the remaining 20% goes unnoticed. Times are tokio `Instant`s measured
//! from when the ticket arrived, so clock skew with the KDC does not matter here.

use std::future::Future;
use std::time::Duration;

use tokio::sync::Mutex;
use tokio::time::Instant;

use super::KerberosFailure;

/// The share of a ticket's lifetime after which it is re-acquired.
const RENEW_WINDOW_FACTOR: f64 = 0.8;
/// An old ticket is not used in its last minute.
const EXPIRY_MARGIN: Duration = Duration::from_secs(60);

#[derive(Debug)]
struct Cached<T> {
    value: T,
    refresh_at: Instant,
    usable_until: Instant,
}

/// One cached ticket (or anything with a lifetime), re-fetched on demand.
#[derive(Debug)]
pub(crate) struct Slot<T>(Mutex<Option<Cached<T>>>);

impl<T> Default for Slot<T> {
    fn default() -> Self {
        Self(Mutex::new(None))
    }
}

impl<T: Clone> Slot<T> {
    /// The cached value while it is fresh; otherwise the result of `fetch` (the value
    /// and its lifetime), cached. Concurrent callers wait for one fetch.
    pub(crate) async fn get<F, Fut>(&self, fetch: F) -> Result<T, KerberosFailure>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<(T, Duration), KerberosFailure>>,
    {
        let mut slot = self.0.lock().await;
        if let Some(c) = slot.as_ref().filter(|c| Instant::now() < c.refresh_at) {
            return Ok(c.value.clone());
        }
        match fetch().await {
            Ok((value, lifetime)) => {
                let now = Instant::now();
                *slot = Some(Cached {
                    value: value.clone(),
                    refresh_at: now + lifetime.mul_f64(RENEW_WINDOW_FACTOR),
                    usable_until: now + lifetime.saturating_sub(EXPIRY_MARGIN),
                });
                Ok(value)
            }
            Err(e) => match slot.as_ref() {
                Some(c) if Instant::now() < c.usable_until => {
                    tracing::warn!(
                        error = %e,
                        "Kerberos ticket re-acquisition failed; using the current ticket until it expires"
                    );
                    Ok(c.value.clone())
                }
                _ => {
                    *slot = None;
                    Err(e)
                }
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;

    async fn fetch_ok(
        calls: &AtomicU32,
        lifetime: Duration,
    ) -> Result<(u32, Duration), KerberosFailure> {
        Ok((calls.fetch_add(1, Ordering::SeqCst) + 1, lifetime))
    }

    #[tokio::test(start_paused = true)]
    async fn tickets_are_reacquired_after_80_percent_of_their_lifetime() {
        let slot = Slot::default();
        let calls = AtomicU32::new(0);
        let life = Duration::from_secs(1000);
        assert_eq!(slot.get(|| fetch_ok(&calls, life)).await.unwrap(), 1);
        tokio::time::advance(Duration::from_secs(799)).await;
        assert_eq!(
            slot.get(|| fetch_ok(&calls, life)).await.unwrap(),
            1,
            "still fresh"
        );
        tokio::time::advance(Duration::from_secs(2)).await;
        assert_eq!(
            slot.get(|| fetch_ok(&calls, life)).await.unwrap(),
            2,
            "re-acquired"
        );
        assert_eq!(calls.load(Ordering::SeqCst), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn a_failed_reacquisition_keeps_the_old_ticket_until_it_expires() {
        let slot = Slot::default();
        let calls = AtomicU32::new(0);
        let life = Duration::from_secs(1000);
        let down = || async { Err::<(u32, Duration), _>(KerberosFailure::ClockSkew) };
        assert_eq!(slot.get(|| fetch_ok(&calls, life)).await.unwrap(), 1);
        tokio::time::advance(Duration::from_secs(900)).await;
        assert_eq!(slot.get(down).await.unwrap(), 1, "old ticket still valid");
        tokio::time::advance(Duration::from_secs(50)).await;
        assert_eq!(
            slot.get(down).await.unwrap_err(),
            KerberosFailure::ClockSkew,
            "in the last minute the old ticket is not used"
        );
        assert_eq!(slot.get(|| fetch_ok(&calls, life)).await.unwrap(), 2);
    }
}
