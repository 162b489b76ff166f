//! Cancel safety of `Consumer` and `TypedConsumer` against the test bed's single-node
//! cluster: every call dropped at every poll point k = 0..k_max, then the documented
//! contract checked — polls lose and duplicate nothing (every offset read exactly once,
//! in order), lookups and seeks leave the positions as they were, a commit is either
//! applied or not and the next one works, and a dropped `unsubscribe`/`close` still
//! finishes (the listener's `revoked` runs once) and the next call works.

mod cancel_safety_support;
mod common;

use std::cell::Cell;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use cancel_safety_support::{eventually, sweep, within};
use common::consumer_util::consumer;
use common::{client, create_topic, unique_topic};
use kafka_client::consumer::{
    AutoOffsetReset, Consumer, GroupProtocol, OffsetAndMetadata, RebalanceListener, TopicPartition,
};
use kafka_client::{BoxFuture, Error, Producer, ProducerRecord};
use kafka_serde::{StringSerde, TypedConsumer};

fn bootstrap() -> String {
    kafka_testbed::shared_cluster()
        .bootstrap_servers()
        .to_string()
}

/// A 1-partition topic holding `n` records `v0`..`v{n-1}`, written in batches of 5.
async fn topic_with(prefix: &str, n: usize) -> String {
    let t = unique_topic(prefix);
    create_topic(&client(&bootstrap()), &t, 1, 1).await;
    let p = Producer::builder()
        .bootstrap_servers([bootstrap()])
        .build()
        .expect("producer");
    for chunk in (0..n).collect::<Vec<_>>().chunks(5) {
        let mut futs = Vec::new();
        for i in chunk {
            let r = ProducerRecord::new(t.as_str()).with_value(format!("v{i}"));
            futs.push(p.send(r).await.expect("queued"));
        }
        for f in futs {
            f.await.expect("delivered");
        }
    }
    p.close(Duration::from_secs(10)).await.expect("close");
    t
}

fn assigned(topic: &str, group: Option<&str>) -> Consumer {
    let mut b = consumer(&bootstrap())
        .auto_offset_reset(AutoOffsetReset::Earliest)
        .enable_auto_commit(false)
        .max_poll_records(4);
    if let Some(g) = group {
        b = b.group_id(g);
    }
    let c = b.build().expect("consumer");
    c.assign([TopicPartition::new(topic, 0)]).expect("assign");
    c
}

/// `Consumer::poll` dropped at every poll point of every call until all records were
/// read: each offset exactly once, in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn poll_loses_nothing() {
    const N: usize = 40;
    let topic = topic_with("cs-poll", N).await;
    let c = assigned(&topic, None);
    let mut offsets = Vec::new();
    let mut k_max_seen = 0;
    let mut drops = 0;
    while offsets.len() < N {
        let (records, k) = sweep(
            "Consumer::poll",
            "records buffered or being fetched",
            async |k| within(k, c.poll(Duration::from_secs(5))).await,
            async |_| drops += 1,
        )
        .await;
        k_max_seen = k_max_seen.max(k);
        let (records, errors) = records.expect("poll").into_parts();
        assert!(errors.is_empty(), "{errors:?}");
        offsets.extend(records.iter().map(|r| r.offset));
    }
    assert_eq!(
        offsets,
        (0..N as i64).collect::<Vec<_>>(),
        "each once, in order"
    );
    assert!(drops > 0 && k_max_seen >= 1, "polls were dropped ({drops})");
    c.close().await.expect("close");
}

/// `TypedConsumer::poll`: the same, through the deserializing wrapper.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typed_poll_loses_nothing() {
    const N: usize = 20;
    let topic = topic_with("cs-typed-poll", N).await;
    let c: TypedConsumer<Option<String>, String> = TypedConsumer::new(
        assigned(&topic, None),
        kafka_serde::Nullable(StringSerde),
        StringSerde,
    );
    let mut values = Vec::new();
    while values.len() < N {
        let (records, _) = sweep(
            "TypedConsumer::poll",
            "",
            async |k| within(k, c.poll(Duration::from_secs(5))).await,
            async |_| {},
        )
        .await;
        for r in records.expect("poll") {
            values.push(r.expect("deserialized").value);
        }
    }
    let want: Vec<String> = (0..N).map(|i| format!("v{i}")).collect();
    assert_eq!(values, want);
}

/// The read-only lookups: a drop changes nothing and the next call answers the same.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lookups_change_nothing() {
    let topic = topic_with("cs-lookup", 10).await;
    let group = unique_topic("cs-lookup-g");
    let tp = TopicPartition::new(topic.clone(), 0);
    let c = assigned(&topic, Some(&group));
    c.commit_offsets(BTreeMap::from([(tp.clone(), OffsetAndMetadata::new(3))]))
        .await
        .expect("seed commit");
    // `position` waiting for the committed offset of a newly assigned partition: a
    // fresh consumer per try, so each try has that wait.
    let (at, _) = sweep(
        "Consumer::position",
        "waits for the committed offset",
        async |k| {
            let fresh = assigned(&topic, Some(&group));
            let got = within(k, fresh.position(tp.clone())).await;
            if got.is_none() {
                assert_eq!(fresh.position(tp.clone()).await.expect("next call"), 3);
            }
            fresh.close().await.expect("close");
            got
        },
        async |_| {},
    )
    .await;
    assert_eq!(at.expect("position"), 3);
    c.seek(tp.clone(), 7).expect("seek");

    macro_rules! lookup {
        ($name:literal, $call:expr) => {{
            let want = $call.await.expect($name);
            let (got, _) = sweep(
                $name,
                "",
                async |k| within(k, $call).await,
                async |_| {
                    assert_eq!(c.position(tp.clone()).await.expect("position"), 7);
                    assert_eq!($call.await.expect($name), want, "next call after a drop");
                },
            )
            .await;
            assert_eq!(got.expect($name), want);
        }};
    }
    lookup!("Consumer::position", c.position(tp.clone()));
    lookup!("Consumer::committed", c.committed([tp.clone()]));
    lookup!(
        "Consumer::beginning_offsets",
        c.beginning_offsets([tp.clone()])
    );
    lookup!("Consumer::end_offsets", c.end_offsets([tp.clone()]));
    lookup!(
        "Consumer::offsets_for_times",
        c.offsets_for_times([(tp.clone(), 0)])
    );

    // Seeks: a dropped one moved nothing; the completed one moved the position.
    let (r, _) = sweep(
        "Consumer::seek_to_committed",
        "",
        async |k| within(k, c.seek_to_committed([tp.clone()])).await,
        async |k| {
            let at = c.position(tp.clone()).await.expect("position");
            assert_eq!(at, 7, "a seek dropped at poll {k} moved the position");
        },
    )
    .await;
    r.expect("seek_to_committed");
    assert_eq!(c.position(tp.clone()).await.expect("position"), 3);
    c.seek(tp.clone(), 7).expect("seek");
    let (r, _) = sweep(
        "Consumer::seek_to_timestamp",
        "",
        async |k| within(k, c.seek_to_timestamp([tp.clone()], 0)).await,
        async |k| {
            let at = c.position(tp.clone()).await.expect("position");
            assert_eq!(at, 7, "a seek dropped at poll {k} moved the position");
        },
    )
    .await;
    r.expect("seek_to_timestamp");
    assert_eq!(c.position(tp.clone()).await.expect("position"), 0);
    c.close().await.expect("close");
}

/// Commits: a dropped one is applied or not (the stored offset is the old or the new
/// one), and the next commit works.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commits_are_applied_or_not() {
    let topic = topic_with("cs-commit", 30).await;
    let group = unique_topic("cs-commit-g");
    let tp = TopicPartition::new(topic.clone(), 0);
    let c = assigned(&topic, Some(&group));
    let stored = async || {
        c.committed([tp.clone()]).await.expect("committed")[&tp]
            .as_ref()
            .map(|o| o.offset)
    };
    let mut last = None;
    let want = Cell::new(0);
    sweep(
        "Consumer::commit_offsets",
        "",
        async |k| {
            want.set(100 + k as i64);
            let offsets = BTreeMap::from([(tp.clone(), OffsetAndMetadata::new(want.get()))]);
            within(k, c.commit_offsets(offsets)).await
        },
        async |k| {
            let now = stored().await;
            assert!(
                now == last || now == Some(want.get()),
                "commit dropped at {k}: stored {now:?}, before {last:?}, sent {}",
                want.get()
            );
            last = now;
        },
    )
    .await
    .0
    .expect("commit_offsets");
    assert_eq!(stored().await, Some(want.get()));
    c.close().await.expect("close");

    // A fresh group, so positions start at 0 and `commit` stores what polls returned.
    let c = assigned(&topic, Some(&unique_topic("cs-commit-g2")));
    let stored = async || {
        c.committed([tp.clone()]).await.expect("committed")[&tp]
            .as_ref()
            .map(|o| o.offset)
    };
    let mut before = stored().await;
    let read = Cell::new(0i64);
    sweep(
        "Consumer::commit",
        "after polls",
        async |k| {
            let batch = c.poll(Duration::from_secs(5)).await.expect("poll");
            read.set(read.get() + batch.records().len() as i64);
            within(k, c.commit()).await
        },
        async |k| {
            let now = stored().await;
            assert!(
                now == before || now == Some(read.get()),
                "commit dropped at {k}: stored {now:?}, before {before:?}, position {}",
                read.get()
            );
            before = now;
        },
    )
    .await
    .0
    .expect("commit");
    assert_eq!(
        stored().await,
        Some(read.get()),
        "the completed commit stored the position"
    );
    c.close().await.expect("close");
}

/// A listener whose `revoked` takes a while (so a drop can land inside it) and counts
/// its runs.
#[derive(Default)]
struct SlowRevoke {
    revoked: AtomicUsize,
    assigned: AtomicUsize,
}

impl RebalanceListener for SlowRevoke {
    fn assigned(&self, _c: Consumer, _p: Vec<TopicPartition>) -> BoxFuture<'static, ()> {
        self.assigned.fetch_add(1, Ordering::SeqCst);
        Box::pin(async {})
    }
    fn revoked(&self, _c: Consumer, parts: Vec<TopicPartition>) -> BoxFuture<'static, ()> {
        if !parts.is_empty() {
            self.revoked.fetch_add(1, Ordering::SeqCst);
        }
        Box::pin(tokio::time::sleep(Duration::from_millis(300)))
    }
}

fn member(group: &str, listener: Arc<SlowRevoke>) -> Consumer {
    consumer(&bootstrap())
        .group_id(group)
        .group_protocol(GroupProtocol::Consumer)
        .auto_offset_reset(AutoOffsetReset::Earliest)
        .rebalance_listener(listener)
        .build()
        .expect("member")
}

/// Subscribes and polls until the member owns the partition.
async fn join(c: &Consumer, topic: &str, l: &SlowRevoke) {
    let before = l.assigned.load(Ordering::SeqCst);
    c.subscribe([topic]).expect("subscribe");
    eventually("assignment", Duration::from_secs(30), async || {
        c.poll(Duration::from_millis(100)).await.expect("poll");
        l.assigned.load(Ordering::SeqCst) > before && !c.assignment().is_empty()
    })
    .await;
}

/// `Consumer::unsubscribe` dropped at every poll point: the leaving finishes in the
/// background (`revoked` once per round), the next `unsubscribe` works, and the member
/// can join again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unsubscribe_finishes_once() {
    let topic = topic_with("cs-unsub", 5).await;
    let group = unique_topic("cs-unsub-g");
    let l = Arc::new(SlowRevoke::default());
    let c = member(&group, l.clone());
    let rounds = Cell::new(0);
    sweep(
        "Consumer::unsubscribe",
        "group member, slow revoked listener",
        async |k| {
            join(&c, &topic, &l).await;
            rounds.set(rounds.get() + 1);
            within(k, c.unsubscribe())
                .await
                .map(|r| r.expect("unsubscribe"))
        },
        async |k| {
            c.unsubscribe().await.expect("the next unsubscribe");
            assert!(c.assignment().is_empty() && c.subscription().is_empty());
            assert_eq!(
                l.revoked.load(Ordering::SeqCst),
                rounds.get(),
                "revoked once per round (drop at {k})"
            );
        },
    )
    .await;
    assert_eq!(l.revoked.load(Ordering::SeqCst), rounds.get());
    join(&c, &topic, &l).await;
    c.close().await.expect("close");
}

/// `Consumer::close_with_timeout` (and `close`) dropped at every poll point: the consumer
/// ends up closed, `revoked` ran once, and the next close returns `Ok`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn close_finishes_once() {
    let topic = topic_with("cs-close", 5).await;
    for name in ["Consumer::close_with_timeout", "Consumer::close"] {
        sweep(
            name,
            "group member, slow revoked listener",
            async |k| {
                let l = Arc::new(SlowRevoke::default());
                let c = member(&unique_topic("cs-close-g"), l.clone());
                join(&c, &topic, &l).await;
                let done = if name == "Consumer::close" {
                    within(k, c.close()).await
                } else {
                    within(k, c.close_with_timeout(Duration::from_secs(20))).await
                };
                if done.is_none() {
                    c.close().await.expect("the next close");
                }
                let polled = c.poll(Duration::from_millis(10)).await;
                assert!(matches!(polled, Err(Error::Closed)), "{polled:?}");
                assert_eq!(l.revoked.load(Ordering::SeqCst), 1, "drop at {k}");
                done.map(|r| r.expect("close"))
            },
            async |_| {},
        )
        .await;
    }
}
