//! The producer's statistics and metrics: what the sender reports at its clear points
//! (request sent, batch acknowledged, failed, retried), and `Producer::stats()`.
//!
//! Kept in its own file so the sender carries only one-line calls. The counters live in
//! the client's telemetry (`crate::observe`), so a producer sharing its client with
//! another producer shares its counters too.

use std::sync::Arc;

use super::Producer;
use super::accumulator::PartitionState;
use super::batch::ProducerBatch;
use super::shared::Shared;
use crate::observe::ProducerStats;

/// A Produce request with `batches` is about to go out.
pub(crate) fn request_sent(sh: &Shared, batches: &[(Arc<PartitionState>, ProducerBatch)]) {
    let in_use = sh.res.memory.capacity() - sh.res.memory.available();
    let now = tokio::time::Instant::now();
    sh.client.telemetry().produce_request(
        batches.iter().map(|(_, b)| {
            (
                b.records(),
                b.bytes().map_or(0, |x| x.len()),
                now.saturating_duration_since(b.created),
            )
        }),
        in_use,
    );
}

/// `b` was acknowledged at `base_offset` (-1 with `acks=0`) by `broker`.
pub(crate) fn acked(
    sh: &Shared,
    broker: i32,
    part: &PartitionState,
    b: &ProducerBatch,
    base_offset: i64,
) {
    sh.client.telemetry().batch_acked(
        broker,
        &part.topic.name,
        part.partition,
        b.records(),
        b.bytes().map_or(0, |x| x.len()),
        base_offset,
    );
}

/// `b` failed for good.
pub(crate) fn failed(sh: &Shared, b: &ProducerBatch) {
    sh.client.telemetry().batch_failed(b.records());
}

/// A batch goes back to its queue after a retriable error.
pub(crate) fn retried(sh: &Shared) {
    sh.client.telemetry().batch_retried();
}

impl Producer {
    /// This producer's figures now: records sent, acknowledged and failed, bytes,
    /// batches, requests, retries, buffer memory in use, and its client's network
    /// figures. Reading them costs a few atomic loads; nothing is kept for it otherwise.
    pub fn stats(&self) -> ProducerStats {
        let sh = &self.inner.shared;
        let client = &sh.client;
        let mut s = client.telemetry().producer.snapshot(client.stats());
        let memory = &sh.res.memory;
        s.buffer_memory_capacity = memory.capacity() as u64;
        s.buffer_memory_in_use = memory.capacity().saturating_sub(memory.available()) as u64;
        s
    }
}
