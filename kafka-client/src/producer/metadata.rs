//! The producer's metadata task: refreshes the leaders of topics that a sender asked
//! about (leader error, lost connection) or that have partitions without a leader,
//! and every `metadata.max.age` for every topic (to see new partitions). Partitions
//! move to their new leader's sender through the routing epoch. Batches of a partition
//! without a leader wait here until their delivery timeout.

use std::collections::HashSet;
use std::sync::Arc;

use tokio::time::Instant;

use super::batch::ProducerBatch;
use super::shared::Shared;

/// Runs until the producer is closed and idle, or aborted.
pub(crate) async fn run(sh: Arc<Shared>) {
    let max_age = sh.client.config().metadata_max_age;
    let mut last_full = Instant::now();
    let mut failures = 0u32;
    let mut leaderless_rounds = 0u32;
    loop {
        if sh.may_stop() {
            return;
        }
        let now = Instant::now();
        let mut wanted: HashSet<Arc<str>> =
            std::mem::take(&mut *sh.refresh.topics.lock().unwrap_or_else(|e| e.into_inner()));
        let leaderless = sh.leaderless();
        let mut waiting = false;
        let mut expired: Vec<ProducerBatch> = Vec::new();
        for p in &leaderless {
            if p.expire_unsent(now, sh.config.delivery_timeout, &mut expired) {
                waiting = true;
                wanted.insert(p.topic.name.clone());
            }
        }
        for mut b in expired {
            let e = b.timeout_error(sh.config.delivery_timeout);
            sh.fail_batch(b, e);
        }
        if now.duration_since(last_full) >= max_age {
            wanted.extend(sh.topics().keys().cloned());
            last_full = now;
        }
        if !wanted.is_empty() {
            let names: Vec<&str> = wanted.iter().map(|t| &**t).collect();
            match sh.client.refresh_topics(&names).await {
                Ok(m) => {
                    failures = 0;
                    for name in &names {
                        match m.topic(name) {
                            Some(info) => {
                                if let Err(e) = sh.register_topic(info) {
                                    tracing::warn!(topic = %name, error = %e, "cannot route topic");
                                }
                            }
                            None => sh.topic_missing(name),
                        }
                    }
                }
                Err(e) => {
                    failures = failures.saturating_add(1);
                    tracing::debug!(error = %e, "producer metadata refresh failed");
                    sh.refresh
                        .topics
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .extend(wanted);
                }
            }
        }
        // Wake again: soon while partitions wait for a leader or refreshes fail, else at
        // the next periodic refresh (or on request).
        let still_waiting = waiting && sh.leaderless().iter().any(|p| p.has_unsent());
        leaderless_rounds = if still_waiting {
            leaderless_rounds.saturating_add(1)
        } else {
            0
        };
        let mut next = last_full + max_age;
        if failures > 0 {
            next = next.min(Instant::now() + sh.client.retry_backoff(failures - 1));
        } else if still_waiting {
            next = next.min(Instant::now() + sh.client.retry_backoff(leaderless_rounds - 1));
        }
        if sh.is_closing() {
            next = next.min(Instant::now() + Shared::STOP_POLL);
        }
        tokio::select! {
            () = sh.refresh.notify.notified() => {}
            () = tokio::time::sleep_until(next) => {}
        }
    }
}
