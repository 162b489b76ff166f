//! `Consumer::stats()`: the consumer's figures on demand, and per-partition lag.

use super::Consumer;
use super::builder::{ConsumerConfig, IsolationLevel};
use super::subscription::PartitionState;
use crate::observe::ConsumerStats;

/// A partition's lag: the end of what may be read (high watermark, or last stable
/// offset under `read_committed`) minus the position. None while either is unknown.
pub(crate) fn lag(config: &ConsumerConfig, p: &PartitionState) -> Option<i64> {
    let end = match config.isolation_level {
        IsolationLevel::ReadCommitted => p.last_stable_offset,
        IsolationLevel::ReadUncommitted => p.high_watermark,
    };
    (end >= 0 && p.position >= 0).then(|| (end - p.position).max(0))
}

impl Consumer {
    /// This consumer's figures now: records and bytes fetched, fetch requests and
    /// latency, rebalances, commits and commit failures, lag per assigned partition,
    /// and its client's network figures. Reading them costs a few atomic loads and one
    /// short lock; nothing is kept for it otherwise.
    pub fn stats(&self) -> ConsumerStats {
        let shared = self.shared();
        let client = &shared.client;
        let mut s = client.telemetry().consumer.snapshot(client.stats());
        let st = shared.lock();
        for (tp, p) in st.partitions().iter() {
            if let Some(lag) = lag(&shared.config, p) {
                s.lag.insert(tp.clone(), lag);
            }
        }
        s
    }
}
