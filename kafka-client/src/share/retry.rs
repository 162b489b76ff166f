//! Pacing of the share consumer's retries, sans-I/O: a backoff per broker after a
//! failed ShareFetch (no answer, or an answer that failed as a whole or in every
//! partition), growing from `retry.backoff.ms` to `retry.backoff.max.ms` and cleared
//! by the next success; and the earliest time the topic routes may be looked up
//! again, so a leader that is not elected yet does not turn into a loop of Metadata
//! requests.

use std::collections::HashMap;
use std::time::Duration;

use tokio::time::Instant;

use crate::config::backoff;

/// The defaults of `retry.backoff.ms` and `retry.backoff.max.ms`.
const DEFAULT_INITIAL: Duration = Duration::from_millis(100);
const DEFAULT_MAX: Duration = Duration::from_secs(1);

/// One broker's failures in a row and when it may be asked again.
#[derive(Clone, Copy, Debug)]
struct Failing {
    failures: u32,
    until: Instant,
}

/// Backoffs by broker, and the pacing of route refreshes.
#[derive(Debug)]
pub(crate) struct Retry {
    initial: Duration,
    max: Duration,
    brokers: HashMap<i32, Failing>,
    /// When the routes were last looked up (refreshed from a broker).
    routes_at: Option<Instant>,
}

impl Default for Retry {
    fn default() -> Self {
        Self::new(DEFAULT_INITIAL, DEFAULT_MAX)
    }
}

impl Retry {
    /// Backoffs from `initial` doubling up to `max` (jittered ±20 %).
    pub(crate) fn new(initial: Duration, max: Duration) -> Self {
        Self {
            initial,
            max: max.max(initial),
            brokers: HashMap::new(),
            routes_at: None,
        }
    }

    /// A request to `broker` failed at `now`: returns when it may be asked again.
    pub(crate) fn failed(&mut self, broker: i32, now: Instant) -> Instant {
        let f = self.brokers.entry(broker).or_insert(Failing {
            failures: 0,
            until: now,
        });
        f.until = now + backoff(self.initial, self.max, f.failures);
        f.failures = f.failures.saturating_add(1);
        f.until
    }

    /// A request to `broker` succeeded: no backoff any more.
    pub(crate) fn succeeded(&mut self, broker: i32) {
        self.brokers.remove(&broker);
    }

    /// Whether `broker` may be asked at `now`.
    pub(crate) fn ready(&self, broker: i32, now: Instant) -> bool {
        self.brokers.get(&broker).is_none_or(|f| f.until <= now)
    }

    /// The earliest end of a backoff still running at `now`.
    pub(crate) fn next_ready(&self, now: Instant) -> Option<Instant> {
        self.brokers
            .values()
            .map(|f| f.until)
            .filter(|u| *u > now)
            .min()
    }

    /// The routes were looked up at `now`.
    pub(crate) fn routes_refreshed(&mut self, now: Instant) {
        self.routes_at = Some(now);
    }

    /// The earliest time the routes may be looked up again: `retry.backoff.ms` after
    /// the last lookup.
    pub(crate) fn routes_due(&self) -> Option<Instant> {
        self.routes_at.map(|at| at + self.initial)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[tokio::test(start_paused = true)]
    async fn backoff_grows_to_the_cap_and_a_success_clears_it() {
        let mut r = Retry::new(100 * MS, 1000 * MS);
        let now = Instant::now();
        assert!(r.ready(1, now));
        assert_eq!(r.next_ready(now), None);
        let mut waits = Vec::new();
        for _ in 0..6 {
            let now = Instant::now();
            let until = r.failed(1, now);
            assert!(!r.ready(1, now), "a failed broker waits");
            assert!(r.ready(2, now), "other brokers do not");
            assert_eq!(r.next_ready(now), Some(until));
            waits.push(until - now);
            tokio::time::sleep_until(until).await;
            assert!(r.ready(1, Instant::now()));
        }
        // 100, 200, 400, 800, 1000, 1000 ms, each jittered by at most 20 %.
        for (w, base) in waits.iter().zip([100, 200, 400, 800, 1000, 1000]) {
            let (lo, hi) = (base * 8 / 10, base * 12 / 10);
            assert!(
                (lo * MS..=hi * MS).contains(w),
                "{w:?} not within {lo}..{hi} ms"
            );
        }
        r.failed(1, Instant::now());
        r.succeeded(1);
        assert!(r.ready(1, Instant::now()));
        let w = r.failed(1, Instant::now()) - Instant::now();
        assert!(
            w <= 120 * MS,
            "the growth starts over after a success: {w:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn route_lookups_are_spaced_by_the_initial_backoff() {
        let mut r = Retry::new(100 * MS, 1000 * MS);
        assert_eq!(r.routes_due(), None, "the first lookup is due at once");
        let now = Instant::now();
        r.routes_refreshed(now);
        assert_eq!(r.routes_due(), Some(now + 100 * MS));
    }
}
