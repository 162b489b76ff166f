//! The share consumer through a partition leader change, on tokio's paused clock: the
//! scripted share partition of `handle_tests.rs` behind two brokers. A killed leader
//! answers nothing (its connections refuse), and the metadata goes on naming it until
//! the controller elects another; a leader that moved but lives answers
//! NOT_LEADER_OR_FOLLOWER. The real cluster is `integration-tests/tests/share_faults.rs`.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::exchange::{AckAsk, FetchAsk, PartitionAnswer, ShareAnswer, ShareWire, TopicRoute};
use super::handle_tests::{Sim, Slot, TOPIC};
use super::membership::{HeartbeatReply, HeartbeatRequest};
use super::{AcknowledgementMode, ShareConsumer, ShareConsumerBuilder};
use crate::error::{Error, ErrorCode, ErrorContext, Result};
use crate::types::BoxFuture;

/// One ShareFetch as the brokers saw it.
#[derive(Clone, Copy, Debug)]
struct Seen {
    broker: i32,
    epoch: i32,
    acks: bool,
}

#[derive(Debug, Default)]
struct Net {
    /// The broker that leads the partition.
    leader: i32,
    /// The leader the metadata names (lags behind `leader` until an election).
    published: i32,
    dead: BTreeSet<i32>,
    fetches: Vec<Seen>,
    route_lookups: usize,
}

/// Two brokers in front of one scripted share partition.
#[derive(Debug)]
struct Brokers {
    sim: Arc<Sim>,
    net: Mutex<Net>,
}

impl Brokers {
    fn new(records: usize) -> Arc<Self> {
        Arc::new(Self {
            sim: Sim::new(records),
            net: Mutex::new(Net {
                leader: 1,
                published: 1,
                ..Net::default()
            }),
        })
    }

    /// SIGKILL of the leader: broker 2 leads (from the acknowledged state), the
    /// metadata names broker 1 until [`elect`](Self::elect).
    fn kill_leader(&self) {
        let mut n = self.net.lock().unwrap();
        let old = n.leader;
        n.dead.insert(old);
        n.leader = 2;
        self.sim.crash();
    }

    /// The controller publishes the new leader.
    fn elect(&self) {
        let mut n = self.net.lock().unwrap();
        n.published = n.leader;
    }

    /// A leadership move (broker 1 lives on), published at once.
    fn move_leader(&self) {
        let mut n = self.net.lock().unwrap();
        n.leader = 2;
        n.published = 2;
        self.sim.crash();
    }

    fn fetches_to(&self, broker: i32) -> usize {
        let n = self.net.lock().unwrap();
        n.fetches.iter().filter(|f| f.broker == broker).count()
    }

    fn net<T>(&self, f: impl FnOnce(&Net) -> T) -> T {
        f(&self.net.lock().unwrap())
    }
}

fn lost(broker: i32) -> Error {
    Error::ConnectionLost {
        context: ErrorContext {
            broker: Some(broker),
            ..ErrorContext::default()
        },
        reason: "connection refused".into(),
    }
}

impl ShareWire for Brokers {
    fn heartbeat(&self, req: HeartbeatRequest) -> BoxFuture<'_, Result<HeartbeatReply>> {
        self.sim.heartbeat(req)
    }

    fn fetch(&self, broker: i32, ask: FetchAsk) -> BoxFuture<'_, Result<ShareAnswer>> {
        let (dead, leader) = {
            let mut n = self.net.lock().unwrap();
            n.fetches.push(Seen {
                broker,
                epoch: ask.session_epoch,
                acks: ask.partitions.iter().any(|(_, b)| !b.is_empty()),
            });
            (n.dead.contains(&broker), n.leader == broker)
        };
        if dead {
            return Box::pin(async move { Err(lost(broker)) });
        }
        if leader {
            return self.sim.fetch(broker, ask);
        }
        Box::pin(async move {
            Ok(ShareAnswer {
                partitions: ask
                    .partitions
                    .iter()
                    .map(|(id, acks)| PartitionAnswer {
                        id: *id,
                        error: Some(ErrorCode::NOT_LEADER_OR_FOLLOWER),
                        ack_error: (!acks.is_empty()).then_some(ErrorCode::NOT_LEADER_OR_FOLLOWER),
                        ..PartitionAnswer::default()
                    })
                    .collect(),
                ..ShareAnswer::default()
            })
        })
    }

    fn acknowledge(&self, broker: i32, ask: AckAsk) -> BoxFuture<'_, Result<ShareAnswer>> {
        let (dead, leader) = self.net(|n| (n.dead.contains(&broker), n.leader == broker));
        if dead {
            return Box::pin(async move { Err(lost(broker)) });
        }
        if leader {
            return self.sim.acknowledge(broker, ask);
        }
        // The old leader holds nothing of the partition any more (closing its session
        // releases nothing there).
        Box::pin(async move {
            Ok(ShareAnswer {
                partitions: ask
                    .partitions
                    .iter()
                    .map(|(id, _)| PartitionAnswer {
                        id: *id,
                        error: Some(ErrorCode::NOT_LEADER_OR_FOLLOWER),
                        ..PartitionAnswer::default()
                    })
                    .collect(),
                ..ShareAnswer::default()
            })
        })
    }

    fn routes(
        &self,
        _topics: Vec<String>,
        refresh: bool,
    ) -> BoxFuture<'_, Result<Vec<TopicRoute>>> {
        let leader = {
            let mut n = self.net.lock().unwrap();
            n.route_lookups += usize::from(refresh);
            n.published
        };
        Box::pin(async move {
            Ok(vec![TopicRoute {
                id: TOPIC,
                name: Arc::from("t"),
                leaders: [(0, leader)].into(),
            }])
        })
    }
}

fn member(brokers: &Arc<Brokers>) -> ShareConsumer {
    let config = ShareConsumerBuilder::new()
        .group_id("g")
        .acknowledgement_mode(AcknowledgementMode::Implicit)
        .max_poll_records(10)
        .fetch_max_wait(Duration::from_millis(100))
        .build_config()
        .unwrap();
    let c = ShareConsumer::with_wire(
        brokers.clone(),
        config,
        &tokio::runtime::Handle::current(),
        super::retry::Retry::new(Duration::from_millis(100), Duration::from_secs(1)),
    );
    c.subscribe(["t"]).unwrap();
    c
}

/// Polls until `seen` holds `n` records (each with its delivery counts) or `limit`
/// polls passed.
async fn poll_until(c: &ShareConsumer, seen: &mut BTreeMap<i64, Vec<i16>>, n: usize, limit: usize) {
    for _ in 0..limit {
        if seen.len() >= n {
            return;
        }
        for r in c.poll(Duration::from_millis(200)).await.unwrap() {
            seen.entry(r.offset).or_default().push(r.delivery_count);
        }
    }
}

#[tokio::test(start_paused = true)]
async fn a_killed_leader_is_abandoned_and_the_new_one_delivers_the_rest() {
    const N: usize = 100;
    let brokers = Brokers::new(N);
    let c = member(&brokers);
    let mut seen = BTreeMap::new();
    poll_until(&c, &mut seen, 30, 50).await;
    assert_eq!(seen.len(), 30, "before the kill");
    let lookups_before = brokers.net(|n| n.route_lookups);

    brokers.kill_leader();
    let to_dead_before = brokers.fetches_to(1);
    // 10 s before the controller elects a new leader: the metadata still names the
    // dead one. The consumer keeps asking it and the metadata, but paced.
    let start = tokio::time::Instant::now();
    while start.elapsed() < Duration::from_secs(10) {
        for r in c.poll(Duration::from_millis(200)).await.unwrap() {
            seen.entry(r.offset).or_default().push(r.delivery_count);
        }
    }
    let to_dead = brokers.fetches_to(1) - to_dead_before;
    let lookups = brokers.net(|n| n.route_lookups) - lookups_before;
    assert!(to_dead >= 2, "the dead leader was retried: {to_dead}");
    assert!(
        to_dead <= 40,
        "{to_dead} fetches to the dead leader in 10 s: the backoff (up to 1 s) paces them"
    );
    assert!(lookups >= 2, "the routes were looked up again: {lookups}");
    assert!(lookups <= 120, "{lookups} route lookups in 10 s: paced");
    assert_eq!(brokers.fetches_to(2), 0, "nothing names broker 2 yet");

    brokers.elect();
    poll_until(&c, &mut seen, N, 200).await;
    assert_eq!(seen.len(), N, "every record delivered after the election");
    assert!(brokers.fetches_to(2) > 0);
    c.close().await.unwrap();
    assert!(
        (0..N).all(|o| brokers.sim.slot(o) == Slot::Done),
        "every record accepted"
    );
    // What broker 1 had handed out and not seen accepted came back, counted.
    assert!(
        seen.values().any(|counts| counts.iter().any(|d| *d > 1)),
        "the records held at the kill were redelivered with delivery count 2: {seen:?}"
    );
    let opening_with_acks: Vec<Seen> = brokers.net(|n| {
        n.fetches
            .iter()
            .filter(|f| f.epoch == 0 && f.acks)
            .copied()
            .collect()
    });
    assert!(
        opening_with_acks.is_empty(),
        "a ShareFetch opening a session carried acknowledgements: {opening_with_acks:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_moved_leader_answering_not_leader_is_left_for_the_new_one() {
    const N: usize = 60;
    let brokers = Brokers::new(N);
    let c = member(&brokers);
    let mut seen = BTreeMap::new();
    poll_until(&c, &mut seen, 20, 50).await;
    assert_eq!(seen.len(), 20);

    brokers.move_leader();
    let to_old_before = brokers.fetches_to(1);
    poll_until(&c, &mut seen, N, 200).await;
    assert_eq!(seen.len(), N, "every record delivered by the new leader");
    let to_old = brokers.fetches_to(1) - to_old_before;
    // One fetch answered NOT_LEADER_OR_FOLLOWER (maybe one more in flight with it, and
    // one that forgets the partition in the old session), not a loop.
    assert!(
        to_old <= 4,
        "{to_old} fetches to the old leader after the move"
    );
    c.close().await.unwrap();
    let open: Vec<(usize, Slot)> = (0..N)
        .map(|o| (o, brokers.sim.slot(o)))
        .filter(|(_, s)| *s != Slot::Done)
        .collect();
    assert!(open.is_empty(), "not accepted: {open:?}, seen {seen:?}");
}
