//! The handle end to end over a scripted share partition (one topic, one partition,
//! leader 1) that acquires, locks, counts deliveries and applies acknowledgements as
//! the broker does, on tokio's paused clock. The real broker is tested in
//! `integration-tests/tests/share_consumer.rs`.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use tokio::time::Instant;
use uuid::Uuid;

use super::exchange::{
    AckAsk, Acquired, FetchAsk, PartitionAnswer, ShareAnswer, ShareWire, TopicRoute,
};
use super::membership::{HeartbeatReply, HeartbeatRequest};
use super::{
    AcknowledgeError, AcknowledgeType, AcknowledgementMode, AcknowledgementResults, NotHeldReason,
    ShareConsumer, ShareConsumerBuilder,
};
use crate::error::{ErrorCode, Result};
use crate::records::{BatchBuilder, BatchMeta, Compression};
use crate::types::BoxFuture;

pub(super) const TOPIC: Uuid = Uuid::from_u128(0x5ca1e);
const LOCK: Duration = Duration::from_secs(30);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Slot {
    Available(i16),
    Acquired { count: i16, until: Instant },
    Done,
}

#[derive(Debug)]
struct Partition {
    slots: Vec<Slot>,
    /// Each member's next session epoch.
    sessions: BTreeMap<String, i32>,
}

/// The scripted broker.
#[derive(Debug)]
pub(super) struct Sim(Mutex<Partition>);

impl Sim {
    pub(super) fn new(records: usize) -> Arc<Self> {
        Arc::new(Self(Mutex::new(Partition {
            slots: vec![Slot::Available(0); records],
            sessions: BTreeMap::new(),
        })))
    }

    pub(super) fn slot(&self, offset: usize) -> Slot {
        self.0.lock().unwrap().slots[offset]
    }

    /// The partition's leader died: what was acquired is available again (the new
    /// leader knows only the acknowledged state) and no member has a session.
    pub(super) fn crash(&self) {
        let mut p = self.0.lock().unwrap();
        for s in &mut p.slots {
            if let Slot::Acquired { count, .. } = *s {
                *s = Slot::Available(count);
            }
        }
        p.sessions.clear();
    }

    fn session(&self, member: &str, epoch: i32) -> Option<ErrorCode> {
        let mut p = self.0.lock().unwrap();
        match (epoch, p.sessions.get(member).copied()) {
            (-1, _) => {
                // Closing the session releases what the member still holds (the
                // script does not track owners: tests close one member at a time,
                // after acknowledging what the others hold).
                for s in &mut p.slots {
                    if let Slot::Acquired { count, .. } = *s {
                        *s = Slot::Available(count);
                    }
                }
                p.sessions.remove(member);
                None
            }
            (0, _) => {
                p.sessions.insert(member.to_string(), 1);
                None
            }
            (e, Some(expected)) if e == expected => {
                p.sessions.insert(member.to_string(), e + 1);
                None
            }
            _ => ErrorCode::from_code(123),
        }
    }

    /// Applies acknowledgements; the partition's error when one was not acquired.
    fn apply(&self, batches: &[super::acks::AckBatch]) -> Option<ErrorCode> {
        let mut p = self.0.lock().unwrap();
        let now = Instant::now();
        let mut error = None;
        for b in batches {
            for o in b.first..=b.last {
                let t = if b.types.len() == 1 {
                    b.types[0]
                } else {
                    b.types[(o - b.first) as usize]
                };
                let slot = &mut p.slots[o as usize];
                match *slot {
                    Slot::Acquired { count, until } if until > now => {
                        *slot = match t {
                            2 => Slot::Available(count),
                            4 => Slot::Acquired {
                                count,
                                until: now + LOCK,
                            },
                            _ => Slot::Done,
                        };
                    }
                    _ => error = ErrorCode::from_code(121),
                }
            }
        }
        error
    }

    fn acquire(&self, max: usize) -> (Bytes, Vec<Acquired>) {
        let mut p = self.0.lock().unwrap();
        let now = Instant::now();
        let mut out = BytesMut::new();
        let mut acquired = Vec::new();
        for o in 0..p.slots.len() {
            if acquired.len() >= max {
                break;
            }
            let count = match p.slots[o] {
                Slot::Available(c) => c,
                Slot::Acquired { count, until } if until <= now => count,
                _ => continue,
            };
            p.slots[o] = Slot::Acquired {
                count: count + 1,
                until: now + LOCK,
            };
            acquired.push(Acquired {
                first: o as i64,
                last: o as i64,
                delivery_count: count + 1,
            });
            let mut b = BatchBuilder::new(Compression::None, 1 << 16);
            b.append(0, None, Some(format!("v{o}").as_bytes()), &[])
                .unwrap();
            let bytes = b.finish(&BatchMeta::default()).unwrap();
            let mut m = BytesMut::from(&bytes[..]);
            m[..8].copy_from_slice(&(o as i64).to_be_bytes());
            out.extend_from_slice(&m);
        }
        (out.freeze(), acquired)
    }
}

impl ShareWire for Sim {
    fn heartbeat(&self, req: HeartbeatRequest) -> BoxFuture<'_, Result<HeartbeatReply>> {
        Box::pin(async move {
            let leaving = req.member_epoch == -1;
            Ok(HeartbeatReply {
                member_epoch: if leaving { -1 } else { 1 },
                heartbeat_interval_ms: 1000,
                assignment: (!leaving).then(|| [(TOPIC, [0].into())].into()),
                ..HeartbeatReply::default()
            })
        })
    }

    fn fetch(&self, _broker: i32, ask: FetchAsk) -> BoxFuture<'_, Result<ShareAnswer>> {
        Box::pin(async move {
            let acks: Vec<_> = ask.partitions.iter().flat_map(|(_, b)| b.clone()).collect();
            if ask.session_epoch == 0 && !acks.is_empty() {
                // As Kafka: acknowledgements in the ShareFetch that opens a session.
                return Ok(ShareAnswer {
                    error: Some(ErrorCode::INVALID_REQUEST),
                    ..ShareAnswer::default()
                });
            }
            if let Some(e) = self.session(&ask.member_id, ask.session_epoch) {
                return Ok(ShareAnswer {
                    error: Some(e),
                    ..ShareAnswer::default()
                });
            }
            let ack_error = self.apply(&acks);
            let (records, acquired) = self.acquire(ask.max_records as usize);
            if acquired.is_empty() {
                tokio::time::sleep(Duration::from_millis(ask.max_wait_ms as u64)).await;
            }
            Ok(ShareAnswer {
                lock_timeout_ms: Some(LOCK.as_millis() as i32),
                partitions: vec![PartitionAnswer {
                    id: (TOPIC, 0),
                    ack_error,
                    records,
                    acquired,
                    ..PartitionAnswer::default()
                }],
                ..ShareAnswer::default()
            })
        })
    }

    fn acknowledge(&self, _broker: i32, ask: AckAsk) -> BoxFuture<'_, Result<ShareAnswer>> {
        Box::pin(async move {
            let acks: Vec<_> = ask.partitions.iter().flat_map(|(_, b)| b.clone()).collect();
            let error = self.apply(&acks);
            if let Some(e) = self.session(&ask.member_id, ask.session_epoch) {
                return Ok(ShareAnswer {
                    error: Some(e),
                    ..ShareAnswer::default()
                });
            }
            Ok(ShareAnswer {
                partitions: vec![PartitionAnswer {
                    id: (TOPIC, 0),
                    error,
                    ..PartitionAnswer::default()
                }],
                ..ShareAnswer::default()
            })
        })
    }

    fn routes(
        &self,
        _topics: Vec<String>,
        _refresh: bool,
    ) -> BoxFuture<'_, Result<Vec<TopicRoute>>> {
        Box::pin(async move {
            Ok(vec![TopicRoute {
                id: TOPIC,
                name: Arc::from("t"),
                leaders: [(0, 1)].into(),
            }])
        })
    }
}

fn consumer(sim: &Arc<Sim>, mode: AcknowledgementMode, max: usize) -> ShareConsumer {
    consumer_with(
        sim,
        ShareConsumerBuilder::new()
            .acknowledgement_mode(mode)
            .max_poll_records(max),
    )
}

fn consumer_with(sim: &Arc<Sim>, b: ShareConsumerBuilder) -> ShareConsumer {
    let config = b
        .group_id("g")
        .fetch_max_wait(Duration::from_millis(100))
        .build_config()
        .unwrap();
    let c = ShareConsumer::with_wire(
        sim.clone(),
        config,
        &tokio::runtime::Handle::current(),
        super::retry::Retry::default(),
    );
    c.subscribe(["t"]).unwrap();
    c
}

const WAIT: Duration = Duration::from_secs(5);

#[tokio::test(start_paused = true)]
async fn implicit_mode_accepts_the_previous_poll_on_the_next() {
    let sim = Sim::new(4);
    let c = consumer(&sim, AcknowledgementMode::Implicit, 2);
    let first = c.poll(WAIT).await.unwrap();
    assert_eq!(first.iter().map(|r| r.offset).collect::<Vec<_>>(), [0, 1]);
    assert!(first.iter().all(|r| r.delivery_count == 1));
    c.acknowledge(&first[1], AcknowledgeType::Release).unwrap();
    let second = c.poll(WAIT).await.unwrap();
    // 0 accepted implicitly, 1 released and delivered again with count 2.
    assert_eq!(sim.slot(0), Slot::Done);
    let offsets: Vec<(i64, i16)> = second
        .iter()
        .map(|r| (r.offset, r.delivery_count))
        .collect();
    assert_eq!(offsets, [(1, 2), (2, 1)]);
    let e = c
        .acknowledge(&first[0], AcknowledgeType::Reject)
        .unwrap_err();
    assert!(
        matches!(e, AcknowledgeError::NotFromLatestPoll { offset: 0, .. }),
        "{e}"
    );
    let results = c.commit().await.unwrap();
    let tp = crate::TopicPartition::new("t", 0);
    assert_eq!(results[&tp].offsets, [1, 2].into());
    assert!(results[&tp].error.is_none());
    assert_eq!((sim.slot(1), sim.slot(2)), (Slot::Done, Slot::Done));
    c.close().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn explicit_mode_needs_every_record_acknowledged_and_reject_is_final() {
    let sim = Sim::new(3);
    let c = consumer(&sim, AcknowledgementMode::Explicit, 3);
    let got = c.poll(WAIT).await.unwrap();
    assert_eq!(got.len(), 3);
    c.acknowledge(&got[0], AcknowledgeType::Reject).unwrap();
    let e = c.poll(WAIT).await.unwrap_err();
    assert!(e.to_string().contains("2 record(s)"), "{e}");
    c.acknowledge(&got[1], AcknowledgeType::Accept).unwrap();
    c.acknowledge(&got[2], AcknowledgeType::Accept).unwrap();
    let e = c
        .acknowledge(&got[2], AcknowledgeType::Release)
        .unwrap_err();
    assert!(matches!(
        e,
        AcknowledgeError::AlreadyAcknowledged {
            previous: AcknowledgeType::Accept,
            ..
        }
    ));
    assert!(
        c.poll(Duration::from_millis(300)).await.unwrap().is_empty(),
        "reject is never redelivered"
    );
    assert!((0..3).all(|o| sim.slot(o) == Slot::Done));
    c.close().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn expired_locks_redeliver_and_late_acks_are_refused_typed() {
    let sim = Sim::new(1);
    let calls = Arc::new(Mutex::new(Vec::<AcknowledgementResults>::new()));
    let seen = calls.clone();
    let slow = consumer_with(
        &sim,
        ShareConsumerBuilder::new()
            .acknowledgement_mode(AcknowledgementMode::Explicit)
            .acknowledgement_commit_callback(Arc::new(move |r: &AcknowledgementResults| {
                seen.lock().unwrap().push(r.clone())
            })),
    );
    let got = slow.poll(WAIT).await.unwrap();
    tokio::time::advance(LOCK + Duration::from_secs(1)).await;
    let other = consumer(&sim, AcknowledgementMode::Explicit, 10);
    let again = other.poll(WAIT).await.unwrap();
    assert_eq!((again[0].offset, again[0].delivery_count), (0, 2));
    let e = slow
        .acknowledge(&got[0], AcknowledgeType::Accept)
        .unwrap_err();
    assert!(
        matches!(
            e,
            AcknowledgeError::NotHeld {
                reason: NotHeldReason::LockExpired,
                ..
            }
        ),
        "{e}"
    );
    // A record of another consumer is not this one's to acknowledge.
    let e = slow
        .acknowledge(&again[0], AcknowledgeType::Accept)
        .unwrap_err();
    assert!(matches!(
        e,
        AcknowledgeError::NotHeld {
            reason: NotHeldReason::Unknown,
            ..
        }
    ));
    other
        .acknowledge(&again[0], AcknowledgeType::Accept)
        .unwrap();
    other.commit().await.unwrap();
    assert_eq!(sim.slot(0), Slot::Done);
    assert!(
        calls.lock().unwrap().is_empty(),
        "nothing of `slow` was sent"
    );
}

#[tokio::test(start_paused = true)]
async fn renew_keeps_a_record_past_its_first_lock() {
    let sim = Sim::new(1);
    let c = consumer(&sim, AcknowledgementMode::Explicit, 1);
    let got = c.poll(WAIT).await.unwrap();
    tokio::time::advance(LOCK - Duration::from_secs(2)).await;
    c.acknowledge(&got[0], AcknowledgeType::Renew).unwrap();
    let r = c.commit().await.unwrap();
    assert!(
        r.is_empty() || r.values().all(|c| c.error.is_none()),
        "{r:?}"
    );
    tokio::time::advance(Duration::from_secs(10)).await;
    c.acknowledge(&got[0], AcknowledgeType::Accept).unwrap();
    let r = c.commit().await.unwrap();
    assert!(r.values().all(|c| c.error.is_none()), "{r:?}");
    assert_eq!(sim.slot(0), Slot::Done);
}

#[tokio::test(start_paused = true)]
async fn close_releases_what_is_held_and_later_calls_fail_typed() {
    let sim = Sim::new(4);
    let c = consumer(&sim, AcknowledgementMode::Explicit, 4);
    let got = c.poll(WAIT).await.unwrap();
    c.acknowledge(&got[0], AcknowledgeType::Accept).unwrap();
    c.close_with_timeout(WAIT).await.unwrap();
    assert_eq!(sim.slot(0), Slot::Done);
    assert!(
        (1..4).all(|o| sim.slot(o) == Slot::Available(1)),
        "released, counted once"
    );
    let e = c.acknowledge(&got[1], AcknowledgeType::Accept).unwrap_err();
    assert_eq!(e, AcknowledgeError::Closed);
    assert!(matches!(c.poll(WAIT).await, Err(crate::Error::Closed)));
    assert!(matches!(c.commit().await, Err(crate::Error::Closed)));
    c.close().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn three_members_split_the_records_each_accepted_once() {
    let sim = Sim::new(60);
    let members: Vec<ShareConsumer> = (0..3)
        .map(|_| consumer(&sim, AcknowledgementMode::Implicit, 7))
        .collect();
    let mut seen: BTreeMap<i64, usize> = BTreeMap::new();
    for _ in 0..10 {
        for m in &members {
            for r in m.poll(Duration::from_millis(200)).await.unwrap() {
                *seen.entry(r.offset).or_default() += 1;
            }
        }
    }
    for m in &members {
        m.close().await.unwrap();
    }
    assert_eq!(seen.len(), 60);
    assert!(seen.values().all(|n| *n == 1), "{seen:?}");
    assert!((0..60).all(|o| sim.slot(o) == Slot::Done));
}
