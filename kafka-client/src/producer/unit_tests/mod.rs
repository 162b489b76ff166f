//! Unit tests of the producer's state machines, without I/O (issue 15 item 6), in the
//! spirit of the Java client's `RecordAccumulatorTest`, `SenderTest` and
//! `TransactionManagerTest`. Time is tokio's paused clock where it matters.
//!
//! The sender's retry/split/verdict logic and the transactional producer's status are
//! private to `sender.rs` and `txn/mod.rs`: their tests (`sender_internals.rs`,
//! `txn_flow.rs` here) are wired from those files as child modules.

mod accumulator;
mod batch;
mod delivery;
mod identity_flow;
mod memory;
mod partitioner;
mod txn_state;

use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use super::accumulator::{DrainRules, PartitionState, TopicEntry};
use super::batch::{Order, ProducerBatch, ProducerIdent, Resources};
use super::delivery::DeliveryFuture;
use crate::cluster::TopicInfo;
use crate::records::Compression;

pub(crate) const P0: ProducerIdent = ProducerIdent { id: 7, epoch: 0 };
pub(crate) const P1: ProducerIdent = ProducerIdent { id: 7, epoch: 1 };

pub(crate) fn res(batch_size: usize) -> Arc<Resources> {
    Arc::new(Resources::new(1 << 20, batch_size, Compression::None))
}

pub(crate) fn topic_info(name: &str, leaders: &[Option<i32>]) -> TopicInfo {
    TopicInfo::led_by(name, leaders)
}

/// Partition 0 of a one-partition topic led by broker 1.
pub(crate) fn partition() -> (TopicEntry, Arc<PartitionState>) {
    let t = TopicEntry::new(&topic_info("t", &[Some(1)]));
    let p = t.partitions()[0].clone();
    (t, p)
}

/// Appends a record with a `len`-byte value (charging `len` bytes).
pub(crate) fn append(p: &PartitionState, res: &Arc<Resources>, len: usize) -> DeliveryFuture {
    p.append(res, 1000, None, Some(&vec![b'x'; len]), &[], len)
        .unwrap()
        .0
}

pub(crate) const LINGER: Duration = Duration::from_millis(10);
pub(crate) const TIMEOUT: Duration = Duration::from_secs(30);

pub(crate) fn rules(broker: i32, now: Instant) -> DrainRules {
    DrainRules {
        broker,
        now,
        force: false,
        linger: LINGER,
        delivery_timeout: TIMEOUT,
        producer: None,
    }
}

/// What one `take_ready` call did.
pub(crate) struct Took {
    pub batch: Option<ProducerBatch>,
    pub expired: Vec<ProducerBatch>,
    pub wake: Option<Instant>,
}

pub(crate) fn take(p: &PartitionState, r: &DrainRules) -> Took {
    take_budget(p, r, usize::MAX, true)
}

pub(crate) fn take_budget(p: &PartitionState, r: &DrainRules, budget: usize, first: bool) -> Took {
    let mut expired = Vec::new();
    let mut wake = None;
    let batch = p.take_ready(r, budget, first, &mut expired, &mut wake);
    Took {
        batch,
        expired,
        wake,
    }
}

/// Closes the open batch now (force).
pub(crate) fn take_now(
    p: &PartitionState,
    broker: i32,
    producer: Option<ProducerIdent>,
) -> Option<ProducerBatch> {
    let mut r = rules(broker, Instant::now());
    r.force = true;
    r.producer = producer;
    take(p, &r).batch
}

pub(crate) fn order(seq: u64) -> Order {
    Order::new(seq)
}

pub(crate) fn producer(idempotent: bool) -> super::Producer {
    super::Producer::builder()
        .bootstrap_servers(["127.0.0.1:1"])
        .enable_idempotence(idempotent)
        .build()
        .unwrap()
}

/// A transactional producer's shared state (protocol v1 unless `v2`), built without
/// InitProducerId.
pub(crate) fn txn_shared(v2: bool) -> Arc<super::shared::Shared> {
    let p = producer(true);
    let sh = p.shared();
    let mut config = sh.config.clone();
    config.transactional = Some(super::builder::TxnConfig {
        id: "tx".into(),
        timeout: Duration::from_secs(60),
    });
    let sh = Arc::new(super::shared::Shared::new(sh.client.clone(), false, config));
    if let Some(t) = &sh.txn {
        t.set_v2(v2);
    }
    sh
}
