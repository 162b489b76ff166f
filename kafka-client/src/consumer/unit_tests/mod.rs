//! Unit tests of the consumer's state machines, without I/O (issue 15 item 6), in the
//! spirit of the Java client's `SubscriptionStateTest`, `FetchCollectorTest`,
//! `ConsumerCoordinatorTest` and the assignor tests. The fetch driver's and the
//! membership task's own tests (`fetcher.rs`, `membership.rs`) are children of those
//! modules, to reach their private handlers.

mod assignors;
mod close_and_commit;
mod commit_policy;
mod fetch_buffer;
mod handle;
mod lag;
mod record;
mod state;
mod stream;
mod subscription;

use std::sync::Arc;

use bytes::{Bytes, BytesMut};

use super::builder::ConsumerBuilder;
use super::fetch_buffer::CompletedFetch;
use super::state::Shared;
use super::subscription::{InitState, PartitionState};
use crate::records::{
    BatchBuilder, BatchMeta, Compression, ControlRecord, ControlRecordType, DecodeLimits,
    RecordBatch, decode_batches,
};
use crate::types::TopicPartition;

/// What a test batch holds.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Spec {
    pub base: i64,
    /// Data records (ignored for a control batch, which holds one marker).
    pub count: i64,
    pub pid: i64,
    pub txn: bool,
    pub control: Option<ControlRecordType>,
    pub leader_epoch: i32,
}

impl Spec {
    pub(crate) fn data(base: i64, count: i64) -> Self {
        Self {
            base,
            count,
            pid: -1,
            txn: false,
            control: None,
            leader_epoch: -1,
        }
    }

    pub(crate) fn txn(base: i64, count: i64, pid: i64) -> Self {
        Self {
            pid,
            txn: true,
            ..Self::data(base, count)
        }
    }

    pub(crate) fn marker(base: i64, pid: i64, kind: ControlRecordType) -> Self {
        Self {
            pid,
            txn: true,
            control: Some(kind),
            ..Self::data(base, 1)
        }
    }

    pub(crate) fn epoch(mut self, e: i32) -> Self {
        self.leader_epoch = e;
        self
    }
}

/// One encoded batch; values are `v<offset>`, keys `k<offset>`.
pub(crate) fn encode(s: Spec) -> Bytes {
    let mut b = BatchBuilder::new(Compression::None, 1 << 16);
    match s.control {
        Some(kind) => {
            let key = ControlRecord::new(kind).to_key();
            b.append(0, Some(&key), Some(&[0, 0, 0, 0, 0, 0]), &[])
                .unwrap();
        }
        None => {
            for i in 0..s.count {
                let k = format!("k{}", s.base + i);
                let v = format!("v{}", s.base + i);
                b.append(1_000 + i, Some(k.as_bytes()), Some(v.as_bytes()), &[])
                    .unwrap();
            }
        }
    }
    let meta = BatchMeta {
        producer_id: s.pid,
        producer_epoch: if s.pid >= 0 { 0 } else { -1 },
        base_sequence: if s.pid >= 0 { 0 } else { -1 },
        transactional: s.txn,
        is_control: s.control.is_some(),
        partition_leader_epoch: s.leader_epoch,
    };
    let bytes = b.finish(&meta).unwrap();
    // The base offset sits before the CRC'd part: rewriting it keeps the batch valid.
    let mut m = BytesMut::from(&bytes[..]);
    m[..8].copy_from_slice(&s.base.to_be_bytes());
    m.freeze()
}

pub(crate) fn batches(specs: &[Spec]) -> Vec<RecordBatch> {
    let mut all = BytesMut::new();
    for s in specs {
        all.extend_from_slice(&encode(*s));
    }
    decode_batches(all.freeze(), DecodeLimits::default())
        .map(|b| b.unwrap())
        .collect()
}

pub(crate) fn tp(topic: &str, partition: i32) -> TopicPartition {
    TopicPartition::new(topic, partition)
}

/// A fetch answer for `tp` under `epoch`, holding `bytes` bytes.
pub(crate) fn completed(
    tp: &TopicPartition,
    epoch: u64,
    specs: &[Spec],
    aborted: Vec<(i64, i64)>,
    bytes: usize,
) -> CompletedFetch {
    CompletedFetch::new(
        tp.clone(),
        Arc::from(tp.topic.as_str()),
        epoch,
        batches(specs),
        aborted,
        None,
        bytes,
    )
}

/// A partition positioned at `position`.
pub(crate) fn ready(topic: &str, position: i64) -> PartitionState {
    let mut p = PartitionState::new(Arc::from(topic), InitState::Ready);
    p.seek(position);
    p
}

/// A consumer's shared state with no task running, from a builder pointed nowhere.
pub(crate) fn shared_with(f: impl FnOnce(ConsumerBuilder) -> ConsumerBuilder) -> Arc<Shared> {
    let b = f(crate::consumer::Consumer::builder().bootstrap_servers(["127.0.0.1:1"]));
    let (client, config) = b.into_parts().expect("valid settings");
    Arc::new(Shared::new(client, config))
}

/// The rebalance steps queued for `poll`, as `revoke [..]`, `assigned [..]`, `lost [..]`.
pub(crate) fn events(sh: &Shared) -> Vec<String> {
    use super::state::AppEvent;
    sh.lock()
        .queued_events()
        .iter()
        .map(|e| match e {
            AppEvent::Revoke { partitions, .. } => format!("revoke {partitions:?}"),
            AppEvent::Assigned { partitions } => format!("assigned {partitions:?}"),
            AppEvent::Lost { partitions } => format!("lost {partitions:?}"),
        })
        .collect()
}

pub(crate) fn offsets(records: &[crate::consumer::ConsumerRecord]) -> Vec<(i32, i64)> {
    records.iter().map(|r| (r.partition, r.offset)).collect()
}

/// A consumer handle on `shared` with no background task (no fetcher, no membership).
pub(crate) fn consumer_on(shared: Arc<Shared>) -> super::Consumer {
    super::Consumer {
        inner: Arc::new(super::Handle {
            shared,
            runtime: tokio::runtime::Handle::current(),
        }),
    }
}

/// Metadata in which partition `i` of each `(topic, leaders)` is led by `leaders[i]`.
pub(crate) fn metadata_led_by(
    topics: &[(&str, &[Option<i32>])],
) -> crate::cluster::ClusterMetadata {
    let mut m = crate::cluster::ClusterMetadata::empty();
    for &(t, leaders) in topics {
        m.topics.insert(
            t.into(),
            Arc::new(crate::cluster::TopicInfo::led_by(t, leaders)),
        );
    }
    m
}

/// Caches metadata in which partition `i` of `t` is led by `leaders[i]`.
pub(crate) fn led_by(sh: &Shared, leaders: &[Option<i32>]) {
    sh.client
        .set_cached_metadata(metadata_led_by(&[("t", leaders)]));
}

/// `d` is within `lo_ms..=hi_ms` (a backoff, jittered ±20%).
pub(crate) fn assert_within(d: std::time::Duration, lo_ms: u64, hi_ms: u64) {
    assert!(
        d >= std::time::Duration::from_millis(lo_ms)
            && d <= std::time::Duration::from_millis(hi_ms),
        "{d:?} not within {lo_ms}..={hi_ms} ms"
    );
}
