//! Cancel safety of `TransactionalProducer` and `Transaction` against the test bed's
//! single-node cluster: every call dropped at every poll point k = 0..k_max, then the
//! contract checked by reading the topic back at read_committed and read_uncommitted —
//! a dropped commit still commits (in the background, awaited by the next `begin`), a
//! dropped abort still aborts, a dropped `send_offsets` dooms the transaction (neither
//! its records nor its offsets become visible), a dropped `begin` leaves the pending
//! abort to the next one — and the next call works.
//!
//! k = 0 drops a future never polled: an `async fn` has not started, so nothing
//! happened, except that a `commit`/`abort` future owns its `Transaction`, whose drop
//! aborts it.

mod cancel_safety_support;
mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use cancel_safety_support::{eventually, sweep, within};
use common::txn::{read_all, values};
use common::{client, create_topic, unique_topic};
use kafka_admin::{
    Admin, GroupOffsetsOptions, ListGroupOffsetsOptions, ListOffsetsOptions, OffsetSpec,
};
use kafka_client::consumer::IsolationLevel;
use kafka_client::{
    GroupMetadata, OffsetAndMetadata, Producer, ProducerRecord, TopicPartition,
    TransactionErrorKind, producer::TransactionalProducer,
};

fn bootstrap() -> String {
    kafka_testbed::shared_cluster()
        .bootstrap_servers()
        .to_string()
}

async fn topic(prefix: &str) -> String {
    let t = unique_topic(prefix);
    create_topic(&client(&bootstrap()), &t, 1, 1).await;
    t
}

async fn txp(id: &str) -> TransactionalProducer {
    Producer::builder()
        .bootstrap_servers([bootstrap()])
        .transactional_id(id)
        .transaction_timeout(Duration::from_secs(30))
        .build_transactional()
        .await
        .expect("transactional producer")
}

fn rec(topic: &str, value: String) -> ProducerRecord {
    ProducerRecord::new(topic).with_value(value)
}

/// How often each value is readable at `isolation`.
async fn visible(topic: &str, isolation: IsolationLevel) -> BTreeMap<String, usize> {
    let mut seen = BTreeMap::new();
    for v in values(&read_all(&bootstrap(), topic, 1, isolation, Duration::from_secs(2)).await) {
        *seen.entry(v).or_default() += 1;
    }
    seen
}

/// Whether `topic`-0 has no open transaction: its last stable offset (read_committed)
/// caught up with its high watermark.
async fn no_open_transaction(topic: &str) -> bool {
    let admin = Admin::new(client(&bootstrap()));
    let tp = TopicPartition::new(topic, 0);
    let mut ends = Vec::new();
    for committed in [false, true] {
        let opts = ListOffsetsOptions::default().read_committed(committed);
        let listed = admin
            .list_offsets([(tp.clone(), OffsetSpec::Latest)], opts)
            .await
            .expect("ListOffsets");
        ends.push(listed[&tp].as_ref().ok().and_then(|o| o.offset));
    }
    ends[0].is_some() && ends[0] == ends[1]
}

/// Commits one more transaction: the producer works after the drops.
async fn commit_one(p: &mut TransactionalProducer, topic: &str, value: &str) {
    let t = p.begin().await.expect("begin after the drops");
    let _queued = t.send(rec(topic, value.into())).await.expect("queued");
    t.commit().await.expect("commit after the drops");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commit_dropped_still_commits() {
    let topic = topic("cs-txn-commit").await;
    let mut p = txp(&unique_topic("cs-txn-commit-id")).await;
    let (_, k_max) = sweep(
        "Transaction::commit",
        "",
        async |k| {
            let t = p.begin().await.expect("begin");
            for i in 0..3 {
                let _queued = t
                    .send(rec(&topic, format!("c{k}-{i}")))
                    .await
                    .expect("queued");
            }
            let done = within(k, t.commit()).await;
            // Dropped or not, the transaction ends without another call on the producer
            // (a dropped commit/abort runs on as a task; k = 0 drops the Transaction).
            eventually(
                "no open transaction after a dropped commit",
                Duration::from_secs(20),
                async || no_open_transaction(&topic).await,
            )
            .await;
            done.map(|r| r.expect("commit"))
        },
        async |_| {},
    )
    .await;
    commit_one(&mut p, &topic, "after").await;
    let committed = visible(&topic, IsolationLevel::ReadCommitted).await;
    let all = visible(&topic, IsolationLevel::ReadUncommitted).await;
    for i in 0..3 {
        // Never polled: the future dropped its Transaction, which aborts.
        let want = (k_max == 0).then_some(&1);
        assert_eq!(committed.get(&format!("c0-{i}")), want);
        for k in 1..=k_max {
            assert_eq!(
                committed.get(&format!("c{k}-{i}")),
                Some(&1),
                "commit dropped at poll {k} still commits: {committed:?}"
            );
        }
    }
    assert_eq!(committed.get("after"), Some(&1));
    assert!(all.values().all(|n| *n == 1), "no duplicates: {all:?}");
    p.close(Duration::from_secs(10)).await.expect("close");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn abort_dropped_still_aborts() {
    let topic = topic("cs-txn-abort").await;
    let mut p = txp(&unique_topic("cs-txn-abort-id")).await;
    sweep(
        "Transaction::abort",
        "",
        async |k| {
            let t = p.begin().await.expect("begin");
            for i in 0..3 {
                let _queued = t
                    .send(rec(&topic, format!("a{k}-{i}")))
                    .await
                    .expect("queued");
            }
            let done = within(k, t.abort()).await;
            // Dropped or not, the transaction ends without another call on the producer
            // (a dropped commit/abort runs on as a task; k = 0 drops the Transaction).
            eventually(
                "no open transaction after a dropped abort",
                Duration::from_secs(20),
                async || no_open_transaction(&topic).await,
            )
            .await;
            done.map(|r| r.expect("abort"))
        },
        async |_| {},
    )
    .await;
    commit_one(&mut p, &topic, "after").await;
    let committed = visible(&topic, IsolationLevel::ReadCommitted).await;
    assert_eq!(
        committed.keys().collect::<Vec<_>>(),
        ["after"],
        "only the last transaction is visible"
    );
    p.close(Duration::from_secs(10)).await.expect("close");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_offsets_dropped_dooms_the_transaction() {
    let topic = topic("cs-txn-offsets").await;
    let group = unique_topic("cs-txn-offsets-g");
    let tp = TopicPartition::new(topic.clone(), 0);
    let admin = Admin::new(client(&bootstrap()));
    admin
        .alter_consumer_group_offsets(
            &group,
            [(tp.clone(), OffsetAndMetadata::new(1))],
            GroupOffsetsOptions::default(),
        )
        .await
        .expect("seed the group");
    let gm = GroupMetadata {
        group_id: group.clone(),
        generation_id: -1,
        member_id: String::new(),
        group_instance_id: None,
    };
    let mut p = txp(&unique_topic("cs-txn-offsets-id")).await;
    let (_, k_max) = sweep(
        "Transaction::send_offsets",
        "",
        async |k| {
            let t = p.begin().await.expect("begin");
            let _queued = t.send(rec(&topic, format!("o{k}"))).await.expect("queued");
            let offsets = [(tp.clone(), OffsetAndMetadata::new(100 + k as i64))];
            match within(k, t.send_offsets(offsets, &gm)).await {
                Some(r) => {
                    r.expect("send_offsets");
                    t.commit().await.expect("commit");
                    Some(())
                }
                None if k == 0 => {
                    // Never polled: nothing was sent, the transaction goes on.
                    t.commit().await.expect("commit without offsets");
                    None
                }
                None => {
                    let e = t
                        .commit()
                        .await
                        .expect_err("a cancelled send_offsets dooms it");
                    assert_eq!(
                        e.transaction_kind(),
                        Some(TransactionErrorKind::Abortable),
                        "{e}"
                    );
                    None
                }
            }
        },
        async |_| {},
    )
    .await;
    let committed = visible(&topic, IsolationLevel::ReadCommitted).await;
    for k in 1..k_max {
        assert_eq!(
            committed.get(&format!("o{k}")),
            None,
            "doomed transaction {k}"
        );
    }
    assert_eq!(committed.get(&format!("o{k_max}")), Some(&1));
    let offsets = admin
        .list_consumer_group_offsets(&group, ListGroupOffsetsOptions::default())
        .await
        .expect("group offsets");
    let at = offsets[&tp]
        .as_ref()
        .expect("partition result")
        .as_ref()
        .expect("committed");
    assert_eq!(
        at.offset,
        100 + k_max as i64,
        "only the completed call's offsets"
    );
    p.close(Duration::from_secs(10)).await.expect("close");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn begin_dropped_while_an_abort_is_pending() {
    let topic = topic("cs-txn-begin").await;
    let mut p = txp(&unique_topic("cs-txn-begin-id")).await;
    sweep(
        "TransactionalProducer::begin",
        "a dropped transaction's abort pending",
        async |k| {
            {
                let t = p.begin().await.expect("begin");
                let _queued = t.send(rec(&topic, format!("b{k}"))).await.expect("queued");
            } // dropped open: aborted in the background
            match within(k, p.begin()).await {
                Some(t) => {
                    let t = t.expect("begin");
                    let _queued = t.send(rec(&topic, "done".into())).await.expect("queued");
                    t.commit().await.expect("commit");
                    Some(())
                }
                None => None,
            }
        },
        async |_| {},
    )
    .await;
    commit_one(&mut p, &topic, "after").await;
    let committed = visible(&topic, IsolationLevel::ReadCommitted).await;
    assert_eq!(
        committed.keys().collect::<Vec<_>>(),
        ["after", "done"],
        "every dropped transaction aborted, nothing merged: {committed:?}"
    );
    assert!(committed.values().all(|n| *n == 1));
    p.close(Duration::from_secs(10)).await.expect("close");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_dropped_is_not_in_the_transaction() {
    let main = topic("cs-txn-send").await;
    let mut p = txp(&unique_topic("cs-txn-send-id")).await;
    let mut topics = Vec::new();
    let (_, k_max) = sweep(
        "Transaction::send",
        "first send to a topic (metadata wait)",
        async |k| {
            let fresh = topic("cs-txn-send-k").await;
            topics.push(fresh.clone());
            let t = p.begin().await.expect("begin");
            let done = within(k, t.send(rec(&fresh, format!("s{k}")))).await;
            let _queued = t
                .send(rec(&main, format!("next-{k}")))
                .await
                .expect("the next send");
            t.commit().await.expect("commit");
            done.map(|r| drop(r.expect("queued")))
        },
        async |_| {},
    )
    .await;
    let c = client(&bootstrap());
    for (k, t) in topics.iter().enumerate() {
        let written = common::produce::fetch_all(&c, t, 0).await;
        let ours = written
            .iter()
            .filter(|r| r.value.as_deref() == Some(format!("s{k}").as_bytes()))
            .count();
        let want = usize::from(k == k_max);
        assert_eq!(ours, want, "try {k}: a dropped send was not queued");
    }
    let committed = visible(&main, IsolationLevel::ReadCommitted).await;
    assert_eq!(committed.len(), k_max + 1);
    p.close(Duration::from_secs(10)).await.expect("close");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn close_dropped_never_commits_the_open_transaction() {
    let topic = topic("cs-txn-close").await;
    let id = unique_topic("cs-txn-close-id");
    sweep(
        "TransactionalProducer::close",
        "a dropped transaction's abort pending",
        async |k| {
            let mut p = txp(&id).await;
            commit_one(&mut p, &topic, &format!("kept-{k}")).await;
            {
                let t = p.begin().await.expect("begin");
                let _queued = t
                    .send(rec(&topic, format!("open-{k}")))
                    .await
                    .expect("queued");
            }
            within(k, p.close(Duration::from_secs(10)))
                .await
                .map(|r| r.expect("close"))
        },
        async |_| {},
    )
    .await;
    // The next producer with the id works (and fences whatever was left).
    let mut p = txp(&id).await;
    commit_one(&mut p, &topic, "after").await;
    p.close(Duration::from_secs(10)).await.expect("close");
    let committed = visible(&topic, IsolationLevel::ReadCommitted).await;
    assert!(
        committed.keys().all(|v| !v.starts_with("open-")),
        "{committed:?}"
    );
    assert!(committed.values().all(|n| *n == 1));
    assert_eq!(committed.get("after"), Some(&1));
}
