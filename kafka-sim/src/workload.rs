//! The workload a run drives through the SDK's real code: two idempotent producers
//! (acks=all) sending numbered records to seeded partitions, and a consumer group (the
//! classic protocol or KIP-848's, by seed) whose members poll and commit after every
//! poll (mostly in the background, so commits overlap); one member may crash (dropped
//! without leaving) and be replaced. Under KIP-848 visiting members join and leave
//! while the faults last, so that targets change while members fetch their new
//! partitions' committed offsets; in a classic group one member pauses (only
//! heartbeats) until a newcomer's rebalance reaches it. What each side saw is recorded
//! for the invariants.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use kafka_client::consumer::{AutoOffsetReset, Consumer, GroupProtocol};
use kafka_client::lowlevel::with_dialer;
use kafka_client::producer::{Acks, Producer, ProducerRecord};
use kafka_client::{Client, ClientBuilder, OffsetAndMetadata, TopicPartition};

use crate::cluster::{GROUP, TOPIC};
use crate::faults::{Chaos, Stream};
use crate::net::SimDialer;

/// How one send ended.
#[derive(Debug, Clone)]
pub enum Sent {
    /// Acknowledged at this offset.
    Acked(i64),
    /// Failed; `indeterminate` is the SDK's verdict that the record may have been
    /// written (`Error::is_indeterminate`), `false` that it definitely was not.
    Failed {
        /// The verdict.
        indeterminate: bool,
        /// The error's text.
        error: String,
    },
    /// Never resolved before the run's deadline.
    Unresolved,
}

/// One record sent: its number (also its value), partition and outcome.
#[derive(Debug, Clone)]
pub struct SendRecord {
    /// The record's number; its value is the number in decimal.
    pub number: u64,
    /// The partition it was sent to.
    pub partition: i32,
    /// How the send ended.
    pub outcome: Sent,
}

/// A record a consumer member delivered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivered {
    /// Which consumer (0 and 1 from the start, 2 the replacement of a crashed one,
    /// 3 and up the KIP-848 visitors, one per visit: slot 0 odd, slot 1 even; in a
    /// classic group 3 is the newcomer that joins after member 1 paused).
    pub incarnation: usize,
    /// Its group member id and generation when `poll` returned the record.
    pub member: String,
    /// The generation (the member epoch under KIP-848).
    pub generation: i32,
    /// The run's event counter when `poll` returned it (orders it against the
    /// coordinator's assignments).
    pub at: u64,
    /// Partition.
    pub partition: i32,
    /// Offset.
    pub offset: i64,
    /// The record's number (its value).
    pub number: u64,
}

/// What the workload saw.
#[derive(Debug, Default)]
pub struct History {
    /// Every send, in send order.
    pub sends: Vec<SendRecord>,
    /// Every record delivered by a consumer member, in delivery order.
    pub delivered: Vec<Delivered>,
    /// Whether the consumers caught up with every partition before the deadline.
    pub consumers_caught_up: bool,
    /// Whether the group ran KIP-848's protocol (else the classic one).
    pub kip848: bool,
}

/// Builds a client that dials the simulated brokers.
pub(crate) fn client(dialer: &SimDialer, id: &str, request_timeout: Duration) -> Client {
    let builder = ClientBuilder::new()
        .bootstrap_servers(["broker-1:9092", "broker-2:9092", "broker-3:9092"])
        .client_id(id)
        .request_timeout(request_timeout)
        .connect_timeout(Duration::from_secs(2));
    with_dialer(builder, Arc::new(dialer.clone()))
        .build()
        .expect("the simulation's client configuration is valid")
}

/// One idempotent producer of a run.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ProducerSpec {
    pub name: &'static str,
    /// Its random stream.
    pub index: usize,
    /// Its records are numbered from here.
    pub first: u64,
    pub records: u64,
    pub request_timeout: Duration,
    pub delivery_timeout: Duration,
}

/// The patient producer: its delivery timeout outlasts every fault, so each of its
/// sends must be acknowledged (L1).
pub(crate) const PATIENT: ProducerSpec = ProducerSpec {
    name: "patient",
    index: 0,
    first: 0,
    records: 200,
    request_timeout: Duration::from_secs(5),
    delivery_timeout: Duration::from_secs(60),
};

/// The hasty producer: short timeouts, so sends fail while faults last; its failures
/// exercise the verdicts (I8) and the epoch bumps that follow failed batches.
pub(crate) const HASTY: ProducerSpec = ProducerSpec {
    name: "hasty",
    index: 1,
    first: 1_000_000,
    records: 120,
    request_timeout: Duration::from_millis(700),
    delivery_timeout: Duration::from_millis(1500),
};

/// Sends the records of `spec` through one idempotent producer (acks=all); returns
/// their outcomes.
pub(crate) async fn produce(
    dialer: SimDialer,
    chaos: Chaos,
    spec: ProducerSpec,
    deadline: Duration,
) -> Vec<SendRecord> {
    let producer = Producer::builder()
        .client(client(&dialer, spec.name, spec.request_timeout))
        .enable_idempotence(true)
        .acks(Acks::All)
        .linger(Duration::from_millis(2))
        .delivery_timeout(spec.delivery_timeout)
        .build()
        .expect("the simulation's producer configuration is valid");
    let results: Arc<Mutex<Vec<SendRecord>>> = Arc::new(Mutex::new(Vec::new()));
    let mut pending = Vec::new();
    for number in spec.first..spec.first + spec.records {
        let (partition, pause) = chaos.with(Stream::Producer(spec.index), |r| {
            (r.i32(0..3), r.u64(0..80))
        });
        if pause > 20 {
            tokio::time::sleep(Duration::from_millis(pause)).await;
        }
        let record = ProducerRecord::new(TOPIC)
            .with_partition(partition)
            .with_value(number.to_string());
        let index = {
            let mut all = results.lock().unwrap_or_else(|e| e.into_inner());
            all.push(SendRecord {
                number,
                partition,
                outcome: Sent::Unresolved,
            });
            all.len() - 1
        };
        match producer.send(record).await {
            Ok(delivery) => {
                let results = results.clone();
                pending.push(tokio::spawn(async move {
                    let outcome = match delivery.await {
                        Ok(meta) => Sent::Acked(meta.offset),
                        Err(e) => Sent::Failed {
                            indeterminate: e.is_indeterminate(),
                            error: e.to_string(),
                        },
                    };
                    results.lock().unwrap_or_else(|e| e.into_inner())[index].outcome = outcome;
                }));
            }
            Err(e) => {
                results.lock().unwrap_or_else(|e| e.into_inner())[index].outcome = Sent::Failed {
                    indeterminate: e.is_indeterminate(),
                    error: e.to_string(),
                };
            }
        }
    }
    let all_done = async {
        for p in pending {
            let _ = p.await;
        }
    };
    let _ = tokio::time::timeout(deadline, all_done).await;
    let _ = tokio::time::timeout(
        Duration::from_secs(5),
        producer.close(Duration::from_secs(1)),
    )
    .await;
    results.lock().unwrap_or_else(|e| e.into_inner()).clone()
}

/// The first visitor's incarnation.
const FIRST_VISITOR: usize = 3;

/// Visitors in the group at once, at most.
pub(crate) const VISITORS: usize = 2;

/// The visitors of one slot (of [`VISITORS`]), one after another while the faults
/// last: each arrives after a seeded pause (0.1-1 s), consumes and commits as the
/// others do for a seeded stay (0.2-1.5 s), and leaves the group (`close`). Every
/// arrival and departure moves the group's epoch and the members' targets, so the
/// members' committed-offset lookups for their new partitions meet epochs moving under
/// them (a lookup queued behind a held heartbeat that moves the member's epoch is
/// answered STALE_MEMBER_EPOCH).
pub(crate) async fn visit(
    slot: usize,
    dialer: SimDialer,
    chaos: Chaos,
    protocol: GroupProtocol,
    delivered: Arc<Mutex<Vec<Delivered>>>,
) {
    let mut incarnation = FIRST_VISITOR + slot;
    while chaos.active() {
        let (pause, stay) = chaos.with(Stream::Visitors, |r| (r.u64(100..1000), r.u64(200..1500)));
        tokio::time::sleep(Duration::from_millis(pause)).await;
        if !chaos.active() {
            break;
        }
        let stop = Arc::new(AtomicBool::new(false));
        let member = tokio::spawn(consume(
            dialer.clone(),
            incarnation,
            protocol,
            stop.clone(),
            delivered.clone(),
        ));
        tokio::time::sleep(Duration::from_millis(stay)).await;
        stop.store(true, Ordering::SeqCst);
        let _ = member.await;
        incarnation += VISITORS;
    }
}

/// One consumer member: polls and commits until `stop`; records what it delivered.
pub(crate) async fn consume(
    dialer: SimDialer,
    incarnation: usize,
    protocol: GroupProtocol,
    stop: Arc<AtomicBool>,
    delivered: Arc<Mutex<Vec<Delivered>>>,
) {
    consume_pausing(dialer, incarnation, protocol, stop, delivered, None).await;
}

/// When a member pauses: `after` its start (once it holds partitions) it pauses all of
/// them and tells `paused`, and a new member (see [`nudge`]) joins soon after. The
/// paused member polls (nothing), commits nothing and only heartbeats, as a paused or
/// slow consumer does; it resumes once its generation changes, so it must learn of the
/// rebalance the newcomer starts from its heartbeat's answer (REBALANCE_IN_PROGRESS),
/// or the group waits for it until its rebalance timeout (`max.poll.interval`, 300 s:
/// past the run's deadline).
#[derive(Debug, Clone)]
pub(crate) struct Pause {
    pub after: Duration,
    pub paused: Arc<tokio::sync::Notify>,
}

/// The member that joins `after` a member paused (`paused` told), as incarnation 3,
/// and stays until `stop`.
pub(crate) async fn nudge(
    dialer: SimDialer,
    protocol: GroupProtocol,
    paused: Arc<tokio::sync::Notify>,
    after: Duration,
    stop: Arc<AtomicBool>,
    delivered: Arc<Mutex<Vec<Delivered>>>,
) {
    loop {
        if stop.load(Ordering::SeqCst) {
            return;
        }
        if tokio::time::timeout(Duration::from_millis(100), paused.notified())
            .await
            .is_ok()
        {
            break;
        }
    }
    tokio::time::sleep(after).await;
    consume(dialer, 3, protocol, stop, delivered).await;
}

/// [`consume`], pausing once as `pause` says.
pub(crate) async fn consume_pausing(
    dialer: SimDialer,
    incarnation: usize,
    protocol: GroupProtocol,
    stop: Arc<AtomicBool>,
    delivered: Arc<Mutex<Vec<Delivered>>>,
    mut pause: Option<Pause>,
) {
    let started = tokio::time::Instant::now();
    let mut paused_in: Option<i32> = None;
    let consumer = Consumer::builder()
        .client(client(
            &dialer,
            &format!("sim-consumer-{incarnation}"),
            Duration::from_secs(5),
        ))
        .group_id(GROUP)
        .group_protocol(protocol)
        // The group starts with offset 0 committed for every partition, so `latest` is
        // never the right answer: a consumer that falls back to its reset policy when
        // it should not skips records (C1).
        .auto_offset_reset(AutoOffsetReset::Latest)
        .enable_auto_commit(false)
        .session_timeout(Duration::from_secs(6))
        .heartbeat_interval(Duration::from_secs(1))
        .max_poll_records(50)
        .build()
        .expect("the simulation's consumer configuration is valid");
    if consumer.subscribe([TOPIC]).is_err() {
        return;
    }
    let mut polls = 0u64;
    while !stop.load(Ordering::SeqCst) {
        let generation = consumer.group_metadata().map_or(-1, |g| g.generation_id);
        if let Some(p) = pause.take_if(|p| started.elapsed() >= p.after) {
            let held = consumer.assignment();
            if !held.is_empty() && consumer.pause(held).is_ok() {
                paused_in = Some(generation);
                p.paused.notify_one();
            } else {
                pause = Some(p);
            }
        }
        if paused_in.is_some_and(|g| g != generation) {
            let _ = consumer.resume(consumer.paused());
            paused_in = None;
        }
        if let Ok(records) = consumer.poll(Duration::from_millis(100)).await {
            let (records, _) = records.into_parts();
            if records.is_empty() {
                continue;
            }
            {
                let (member, generation) = consumer
                    .group_metadata()
                    .map_or((String::new(), -1), |g| (g.member_id, g.generation_id));
                let at = dialer.cluster.ticket();
                let mut d = delivered.lock().unwrap_or_else(|e| e.into_inner());
                for r in &records {
                    let number = r
                        .value
                        .as_deref()
                        .and_then(|v| std::str::from_utf8(v).ok())
                        .and_then(|v| v.parse().ok())
                        .unwrap_or(u64::MAX);
                    d.push(Delivered {
                        incarnation,
                        member: member.clone(),
                        generation,
                        at,
                        partition: r.partition,
                        offset: r.offset,
                        number,
                    });
                }
            }
            // Commits run in the background, several at once when answers are slow;
            // every fourth poll also commits and waits (I6 checks their order).
            let mut offsets = BTreeMap::new();
            for r in &records {
                offsets.insert(
                    TopicPartition::new(TOPIC, r.partition),
                    OffsetAndMetadata::new(r.offset + 1),
                );
            }
            polls += 1;
            if polls % 4 == 0 {
                let _ = consumer.commit_offsets(offsets).await;
            } else {
                drop(consumer.commit_offsets_async(offsets));
            }
        }
    }
    let _ = tokio::time::timeout(Duration::from_secs(5), consumer.close()).await;
}
