//! The transactional producer against a real broker, once on a cluster formatted with
//! transaction.version=1 (AddPartitionsToTxn, AddOffsetsToTxn) and once with
//! transaction.version=2 (KIP-890: partitions added by Produce, epoch bumped at every
//! EndTxn): commit and abort visibility at both isolation levels, fencing by a second
//! instance, offsets committed inside the transaction, a dropped guard aborting, and a
//! transaction the coordinator aborted on its timeout (KIP-588).

mod common;

use std::time::Duration;

use common::txn::{read_all, values};
use kafka_client::consumer::{AutoOffsetReset, IsolationLevel, OffsetAndMetadata, TopicPartition};
use kafka_client::producer::{Producer, ProducerRecord, TransactionalProducer};
use kafka_client::{Error, TransactionErrorKind};
use kafka_testbed::{ClusterConfig, KafkaCluster};

const QUIET: Duration = Duration::from_secs(3);

async fn transactional(bootstrap: &str, id: &str) -> TransactionalProducer {
    Producer::builder()
        .bootstrap_servers([bootstrap])
        .transactional_id(id)
        .transaction_timeout(Duration::from_secs(20))
        .linger(Duration::from_millis(2))
        .build_transactional()
        .await
        .expect("transactional producer")
}

async fn send_values(txn: &kafka_client::producer::Transaction<'_>, topic: &str, vals: &[&str]) {
    let mut futs = Vec::new();
    for (i, v) in vals.iter().enumerate() {
        let r = ProducerRecord::new(topic)
            .with_key(format!("k{}", i % 3))
            .with_value(v.to_string());
        futs.push(txn.send(r).await.expect("queued"));
    }
    for f in futs {
        f.await.expect("acknowledged");
    }
}

async fn scenarios(tv: u8) {
    // The coordinator looks for timed-out transactions every 500 ms (default 10 s).
    let cluster = KafkaCluster::start(
        ClusterConfig::new(1)
            .with_transaction_version(tv)
            .with_property(
                "transaction.abort.timed.out.transaction.cleanup.interval.ms",
                "500",
            ),
    )
    .expect("cluster");
    let b = cluster.bootstrap_servers();
    let client = common::client(&b);
    let topic = common::unique_topic(&format!("txn-v{tv}"));
    common::create_topic(&client, &topic, 3, 1).await;

    // Commit, abort, commit: read_committed sees both commits only; read_uncommitted
    // sees the aborted records too.
    let mut p = transactional(&b, &format!("txn-basic-{tv}-{}", std::process::id())).await;
    assert_eq!(p.uses_transaction_v2(), tv >= 2, "protocol detected");
    let t = p.begin().await.unwrap();
    send_values(&t, &topic, &["c1", "c2", "c3"]).await;
    t.commit().await.expect("commit");
    let t = p.begin().await.unwrap();
    send_values(&t, &topic, &["a1", "a2", "a3", "a4"]).await;
    t.abort().await.expect("abort");
    let t = p.begin().await.unwrap();
    send_values(&t, &topic, &["c4", "c5"]).await;
    t.commit().await.expect("second commit");
    // A guard dropped open is aborted in the background.
    {
        let t = p.begin().await.unwrap();
        send_values(&t, &topic, &["d1", "d2"]).await;
    }
    let t = p.begin().await.unwrap(); // waits for the drop's abort
    send_values(&t, &topic, &["c6"]).await;
    t.commit().await.expect("commit after dropped guard");

    let mut committed =
        values(&read_all(&b, &topic, 3, IsolationLevel::ReadCommitted, QUIET).await);
    committed.sort();
    assert_eq!(
        committed,
        ["c1", "c2", "c3", "c4", "c5", "c6"],
        "read_committed"
    );
    let mut all = values(&read_all(&b, &topic, 3, IsolationLevel::ReadUncommitted, QUIET).await);
    all.sort();
    assert_eq!(
        all,
        [
            "a1", "a2", "a3", "a4", "c1", "c2", "c3", "c4", "c5", "c6", "d1", "d2"
        ],
        "read_uncommitted sees aborted records too"
    );
    println!("v{tv}: read_committed 6 of 12 written (6 aborted hidden), duplicates 0");

    // Fencing: a second instance with the same id fences the first, whose open
    // transaction never becomes visible.
    let fence_topic = common::unique_topic(&format!("txn-fence-v{tv}"));
    common::create_topic(&client, &fence_topic, 1, 1).await;
    let id = format!("txn-fence-{tv}-{}", std::process::id());
    let mut first = transactional(&b, &id).await;
    let t1 = first.begin().await.unwrap();
    send_values(&t1, &fence_topic, &["zombie1", "zombie2"]).await;
    let mut second = transactional(&b, &id).await; // fences `first`, aborts its txn
    let err = t1
        .commit()
        .await
        .expect_err("the fenced instance cannot commit");
    assert_eq!(
        err.transaction_kind(),
        Some(TransactionErrorKind::Fatal),
        "fenced is fatal: {err}"
    );
    assert!(err.is_fenced(), "fenced: {err:?}");
    let again = first
        .begin()
        .await
        .expect_err("a fenced producer stays fatal");
    assert!(again.is_fenced(), "{again}");
    let t2 = second.begin().await.unwrap();
    send_values(&t2, &fence_topic, &["fresh"]).await;
    t2.commit().await.expect("the new instance commits");
    let seen = values(&read_all(&b, &fence_topic, 1, IsolationLevel::ReadCommitted, QUIET).await);
    assert_eq!(seen, ["fresh"], "the zombie's transaction is never visible");
    println!("v{tv}: fenced instance got {err}");

    // Offsets inside the transaction: visible to the group only when it commits.
    let group = format!("txn-group-{tv}-{}", std::process::id());
    let consumer = common::consumer_util::consumer(&b)
        .group_id(group.clone())
        .enable_auto_commit(false)
        .isolation_level(IsolationLevel::ReadCommitted)
        .auto_offset_reset(AutoOffsetReset::Earliest)
        .build()
        .unwrap();
    consumer.subscribe([topic.as_str()]).unwrap();
    let got = common::consumer_util::drain(&consumer, 6, Duration::from_secs(30)).await;
    assert_eq!(got.len(), 6);
    let meta = consumer.group_metadata().expect("group member");
    assert!(meta.generation_id > 0, "joined: {meta:?}");
    let tp0 = TopicPartition::new(topic.as_str(), 0);
    let out_topic = common::unique_topic(&format!("txn-out-v{tv}"));
    common::create_topic(&client, &out_topic, 1, 1).await;
    // Aborted: the offset is not committed.
    let t = p.begin().await.unwrap();
    send_values(&t, &out_topic, &["x"]).await;
    t.send_offsets([(tp0.clone(), OffsetAndMetadata::new(1))], &meta)
        .await
        .expect("send_offsets");
    t.abort().await.unwrap();
    let c = consumer.committed([tp0.clone()]).await.unwrap();
    assert!(
        c.get(&tp0).and_then(|o| o.as_ref()).is_none(),
        "an aborted transaction's offsets are not committed: {c:?}"
    );
    // Committed: the offset is.
    let t = p.begin().await.unwrap();
    send_values(&t, &out_topic, &["y"]).await;
    t.send_offsets([(tp0.clone(), OffsetAndMetadata::new(2))], &meta)
        .await
        .expect("send_offsets");
    t.commit().await.unwrap();
    let c = consumer.committed([tp0.clone()]).await.unwrap();
    assert_eq!(
        c.get(&tp0).and_then(|o| o.as_ref()).map(|o| o.offset),
        Some(2),
        "committed with the transaction"
    );
    // A stale generation is refused (zombie fencing by group metadata): abortable.
    let mut stale = meta.clone();
    stale.generation_id = meta.generation_id + 100;
    let t = p.begin().await.unwrap();
    let err = t
        .send_offsets([(tp0.clone(), OffsetAndMetadata::new(3))], &stale)
        .await
        .expect_err("a wrong generation is refused");
    assert_eq!(
        err.transaction_kind(),
        Some(TransactionErrorKind::Abortable),
        "{err}"
    );
    t.abort().await.unwrap();
    let t = p.begin().await.expect("usable after an abortable error");
    t.commit().await.unwrap();
    consumer.close().await.unwrap();
    p.close(Duration::from_secs(10)).await.unwrap();
    second.close(Duration::from_secs(10)).await.unwrap();
    drop(first);
    println!("v{tv}: offsets committed only with the transaction; stale generation refused: {err}");

    timed_out_transaction(&b, tv, &client).await;
}

/// A transaction left open past its timeout: the coordinator aborts it and bumps the
/// epoch. The records sent after that fail with a typed error (INVALID_PRODUCER_EPOCH on
/// Produce is abortable, KIP-588), the commit fails, nothing of the transaction is ever
/// visible, and the producer either recovers or reports a fatal (fenced) error; a new
/// instance with the same id works.
async fn timed_out_transaction(b: &str, tv: u8, client: &kafka_client::Client) {
    let topic = common::unique_topic(&format!("txn-timeout-v{tv}"));
    common::create_topic(client, &topic, 1, 1).await;
    let id = format!("txn-timeout-{tv}-{}", std::process::id());
    let mut p = Producer::builder()
        .bootstrap_servers([b])
        .transactional_id(id.as_str())
        .transaction_timeout(Duration::from_secs(1))
        .linger(Duration::from_millis(2))
        .build_transactional()
        .await
        .expect("transactional producer");
    let t = p.begin().await.unwrap();
    send_values(&t, &topic, &["early"]).await;
    // Past the timeout and the coordinator's next check: it aborts and bumps the epoch.
    tokio::time::sleep(Duration::from_secs(4)).await;
    let late = t
        .send(ProducerRecord::new(topic.as_str()).with_value("late"))
        .await
        .expect("queued")
        .await;
    let commit = t.commit().await;
    println!("v{tv}: after the coordinator's timeout: late send {late:?}; commit {commit:?}");
    let commit = commit.expect_err("a transaction the coordinator aborted cannot commit");
    assert!(
        commit.transaction_kind().is_some(),
        "typed as a transaction error: {commit:?}"
    );
    if let Err(e) = &late
        && e.code() == Some(kafka_client::ErrorCode::INVALID_PRODUCER_EPOCH)
    {
        assert_eq!(
            commit.transaction_kind(),
            Some(TransactionErrorKind::Abortable),
            "INVALID_PRODUCER_EPOCH on Produce is abortable (KIP-588): {commit:?}"
        );
    }
    match p.begin().await {
        Ok(t) => {
            send_values(&t, &topic, &["recovered"]).await;
            t.commit().await.expect("the recovered producer commits");
            println!("v{tv}: the producer recovered after the timeout");
        }
        Err(e) => {
            assert_eq!(
                e.transaction_kind(),
                Some(TransactionErrorKind::Fatal),
                "a producer that cannot go on says so: {e:?}"
            );
            println!("v{tv}: the producer is fenced after the timeout: {e}");
        }
    }
    let mut fresh = transactional(b, &id).await;
    let t = fresh.begin().await.unwrap();
    send_values(&t, &topic, &["fresh"]).await;
    t.commit().await.expect("a new instance commits");
    let seen = values(&read_all(b, &topic, 1, IsolationLevel::ReadCommitted, QUIET).await);
    assert!(
        !seen.iter().any(|v| v == "early" || v == "late"),
        "the timed-out transaction is never visible: {seen:?}"
    );
    assert_eq!(seen.last().map(String::as_str), Some("fresh"), "{seen:?}");
    fresh.close(Duration::from_secs(10)).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transactions_on_protocol_v1() {
    scenarios(1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transactions_on_protocol_v2() {
    if !kafka_testbed::kafka_at_least("4.0.0", "transaction.version=2 (KIP-890 part 2)") {
        return;
    }
    scenarios(2).await;
}

#[tokio::test]
async fn bad_transactional_settings_are_typed() {
    let err = Producer::builder()
        .bootstrap_servers(["127.0.0.1:1"])
        .build_transactional()
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Config(_)), "{err}");
    let err = Producer::builder()
        .bootstrap_servers(["127.0.0.1:1"])
        .transactional_id("x")
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("build_transactional"), "{err}");
    let err = Producer::builder()
        .bootstrap_servers(["127.0.0.1:1"])
        .transactional_id("x")
        .enable_idempotence(false)
        .build_transactional()
        .await
        .unwrap_err();
    assert!(err.to_string().contains("idempotence"), "{err}");
}
