//! Consumer fetching against a real broker: every codec (data written by `kcat`),
//! seek, pause/resume, offsets for times, out-of-range handling per
//! `auto.offset.reset`, a topic that does not exist yet, the stream, and manual commits.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::consumer_util::{consumer, drain, kcat_produce, value_index};
use futures::StreamExt;
use kafka_client::Error;
use kafka_client::consumer::{AutoOffsetReset, OffsetAndMetadata, TopicPartition};

fn bootstrap() -> String {
    kafka_testbed::shared_cluster()
        .bootstrap_servers()
        .to_string()
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// Consumes `count` records of every codec; each record exactly once, offsets
/// contiguous per partition, keys matching values.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consumes_every_codec() {
    let b = bootstrap();
    let client = common::client(&b);
    for (codec, count) in [
        ("none", 100_000),
        ("lz4", 100_000),
        ("zstd", 100_000),
        ("snappy", 100_000),
        ("gzip", 100_000),
    ] {
        let topic = common::unique_topic(&format!("codec-{codec}"));
        common::create_topic(&client, &topic, 3, 1).await;
        let t0 = Instant::now();
        kcat_produce(&b, &topic, codec, count, 0, 100, None);
        let produced = t0.elapsed();
        let c = consumer(&b)
            .auto_offset_reset(AutoOffsetReset::Earliest)
            .build()
            .unwrap();
        c.assign((0..3).map(|p| (topic.clone(), p))).unwrap();
        let t1 = Instant::now();
        let records = drain(&c, count, Duration::from_secs(120)).await;
        let consumed = t1.elapsed();
        assert_eq!(records.len(), count, "{codec}");
        let mut seen = vec![false; count];
        let mut next: BTreeMap<i32, i64> = BTreeMap::new();
        for r in &records {
            let i = value_index(r);
            assert!(
                !std::mem::replace(&mut seen[i], true),
                "{codec}: record {i} twice"
            );
            assert_eq!(r.key.as_deref(), Some(format!("key-{i}").as_bytes()));
            assert_eq!(r.value.as_ref().unwrap().len(), 100);
            let n = next.entry(r.partition).or_insert(0);
            assert_eq!(
                r.offset, *n,
                "{codec}: offsets contiguous in partition {}",
                r.partition
            );
            *n += 1;
        }
        // Nothing more arrives.
        let extra = c.poll(Duration::from_millis(300)).await.unwrap();
        assert!(extra.is_empty(), "{codec}: unexpected extra records");
        println!("{codec}: {count} records produced in {produced:?}, consumed in {consumed:?}");
        c.close().await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seek_pause_resume_and_offsets_for_times() {
    let b = bootstrap();
    let client = common::client(&b);
    let topic = common::unique_topic("seek");
    common::create_topic(&client, &topic, 2, 1).await;
    kcat_produce(&b, &topic, "none", 100, 0, 20, Some(0));
    tokio::time::sleep(Duration::from_millis(50)).await;
    let t2 = now_ms();
    tokio::time::sleep(Duration::from_millis(50)).await;
    kcat_produce(&b, &topic, "none", 100, 100, 20, Some(0));
    kcat_produce(&b, &topic, "lz4", 50, 200, 20, Some(1));
    let p0 = TopicPartition::new(topic.clone(), 0);
    let p1 = TopicPartition::new(topic.clone(), 1);

    let c = consumer(&b)
        .auto_offset_reset(AutoOffsetReset::Earliest)
        .build()
        .unwrap();
    c.assign([p0.clone(), p1.clone()]).unwrap();
    assert_eq!(c.assignment(), BTreeSet::from([p0.clone(), p1.clone()]));
    let all = drain(&c, 250, Duration::from_secs(30)).await;
    assert_eq!(all.len(), 250);
    assert_eq!(c.position(p0.clone()).await.unwrap(), 200);
    assert_eq!(c.position(p1.clone()).await.unwrap(), 50);

    let ends = c.end_offsets([p0.clone(), p1.clone()]).await.unwrap();
    assert_eq!(ends, BTreeMap::from([(p0.clone(), 200), (p1.clone(), 50)]));
    let starts = c.beginning_offsets([p0.clone()]).await.unwrap();
    assert_eq!(starts[&p0], 0);

    // seek
    c.seek(p0.clone(), 10).unwrap();
    let r = drain(&c, 1, Duration::from_secs(10)).await;
    assert_eq!(
        (r[0].partition, r[0].offset, value_index(&r[0])),
        (0, 10, 10)
    );
    c.seek_to_end([p0.clone()]).unwrap();
    assert_eq!(c.position(p0.clone()).await.unwrap(), 200);
    c.seek_to_beginning([p0.clone()]).unwrap();
    assert_eq!(c.position(p0.clone()).await.unwrap(), 0);

    // offsets for times
    let found = c.offsets_for_times([(p0.clone(), t2)]).await.unwrap();
    let o = found[&p0].expect("an offset after t2");
    assert_eq!(o.offset, 100, "first record written after t2");
    assert!(o.timestamp >= t2);
    let none = c
        .offsets_for_times([(p0.clone(), now_ms() + 3_600_000)])
        .await
        .unwrap();
    assert_eq!(none[&p0], None, "no record an hour from now");
    c.seek_to_timestamp([p0.clone()], t2).await.unwrap();
    let r = drain(&c, 1, Duration::from_secs(10)).await;
    assert_eq!((r[0].partition, r[0].offset), (0, 100));

    // pause / resume
    c.seek_to_end([p0.clone()]).unwrap();
    c.seek(p1.clone(), 0).unwrap();
    c.pause([p1.clone()]).unwrap();
    assert_eq!(c.paused(), BTreeSet::from([p1.clone()]));
    let quiet = c.poll(Duration::from_millis(1500)).await.unwrap();
    assert!(
        quiet.is_empty(),
        "paused partition delivered {} records",
        quiet.len()
    );
    c.resume([p1.clone()]).unwrap();
    let r = drain(&c, 50, Duration::from_secs(10)).await;
    assert!(r.iter().all(|r| r.partition == 1));
    assert_eq!(r[0].offset, 0);

    // bad calls are errors, not panics
    let other = TopicPartition::new(topic.clone(), 7);
    assert!(matches!(
        c.seek(other.clone(), 0),
        Err(Error::InvalidState(_))
    ));
    assert!(matches!(c.pause([other]), Err(Error::InvalidState(_))));
    assert!(matches!(
        c.seek(p0.clone(), -5),
        Err(Error::InvalidState(_))
    ));
    assert!(matches!(
        c.subscribe([topic.clone()]),
        Err(Error::InvalidState(_))
    ));
    c.close().await.unwrap();
    assert!(matches!(c.poll(Duration::ZERO).await, Err(Error::Closed)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn out_of_range_follows_auto_offset_reset() {
    let b = bootstrap();
    let client = common::client(&b);
    let topic = common::unique_topic("oor");
    common::create_topic(&client, &topic, 1, 1).await;
    kcat_produce(&b, &topic, "none", 10, 0, 10, Some(0));
    let p0 = TopicPartition::new(topic.clone(), 0);

    // none: no committed offset is an error, and so is an out-of-range seek.
    let c = consumer(&b)
        .auto_offset_reset(AutoOffsetReset::None)
        .build()
        .unwrap();
    c.assign([p0.clone()]).unwrap();
    let errors = poll_errors(&c).await;
    assert!(
        matches!(&errors[0], Error::NoOffsetForPartition { partition: 0, .. }),
        "{errors:?}"
    );
    c.seek(p0.clone(), 1000).unwrap();
    let errors = poll_errors(&c).await;
    assert!(
        matches!(
            &errors[0],
            Error::OffsetOutOfRange {
                offset: 1000,
                partition: 0,
                ..
            }
        ),
        "{errors:?}"
    );
    c.seek(p0.clone(), 5).unwrap();
    let r = drain(&c, 5, Duration::from_secs(10)).await;
    assert_eq!(r[0].offset, 5);
    c.close().await.unwrap();

    // earliest
    let c = consumer(&b)
        .auto_offset_reset(AutoOffsetReset::Earliest)
        .build()
        .unwrap();
    c.assign([p0.clone()]).unwrap();
    let _ = drain(&c, 10, Duration::from_secs(10)).await;
    c.seek(p0.clone(), 1000).unwrap();
    let r = drain(&c, 10, Duration::from_secs(10)).await;
    assert_eq!(r[0].offset, 0, "reset to the log start");
    c.close().await.unwrap();

    // latest
    let c = consumer(&b)
        .auto_offset_reset(AutoOffsetReset::Latest)
        .build()
        .unwrap();
    c.assign([p0.clone()]).unwrap();
    c.seek(p0.clone(), 1000).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while c.position(p0.clone()).await.unwrap() != 10 {
        let _ = c.poll(Duration::from_millis(100)).await.unwrap();
        assert!(
            Instant::now() < deadline,
            "position never reset to the log end"
        );
    }
    kcat_produce(&b, &topic, "none", 3, 10, 10, Some(0));
    let r = drain(&c, 3, Duration::from_secs(10)).await;
    assert_eq!(
        r.iter().map(|r| r.offset).collect::<Vec<_>>(),
        vec![10, 11, 12]
    );
    c.close().await.unwrap();
}

async fn poll_errors(c: &kafka_client::Consumer) -> Vec<Error> {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let batch = c.poll(Duration::from_millis(500)).await.unwrap();
        if !batch.errors().is_empty() {
            assert!(batch.records().is_empty());
            return batch.errors().iter().map(|e| e.error.clone()).collect();
        }
        assert!(Instant::now() < deadline, "no partition error within 15 s");
    }
}

/// Subscribing to a topic that does not exist waits (no error, no crash) and picks the
/// topic up once it is created.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_topic_is_waited_for() {
    let b = bootstrap();
    let client = common::client(&b);
    let topic = common::unique_topic("later");
    let c = consumer(&b)
        .group_id(common::unique_topic("g-later"))
        .auto_offset_reset(AutoOffsetReset::Earliest)
        .build()
        .unwrap();
    c.subscribe([topic.clone()]).unwrap();
    let r = c.poll(Duration::from_secs(3)).await.unwrap();
    assert!(r.is_empty());
    assert!(c.assignment().is_empty());
    common::create_topic(&client, &topic, 2, 1).await;
    kcat_produce(&b, &topic, "none", 20, 0, 10, None);
    let r = drain(&c, 20, Duration::from_secs(30)).await;
    assert_eq!(r.len(), 20);
    c.close().await.unwrap();
}

/// The stream yields records one by one; manual commits (awaited and fire-and-forget)
/// store offsets with metadata.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stream_and_manual_commits() {
    let b = bootstrap();
    let client = common::client(&b);
    let topic = common::unique_topic("stream");
    common::create_topic(&client, &topic, 1, 1).await;
    kcat_produce(&b, &topic, "snappy", 30, 0, 10, Some(0));
    let group = common::unique_topic("g-stream");
    let p0 = TopicPartition::new(topic.clone(), 0);
    let c = consumer(&b)
        .group_id(group.clone())
        .enable_auto_commit(false)
        .auto_offset_reset(AutoOffsetReset::Earliest)
        .build()
        .unwrap();
    c.assign([p0.clone()]).unwrap();
    let got: Vec<_> = c.stream().take(30).collect().await;
    let offsets: Vec<i64> = got.into_iter().map(|r| r.unwrap().offset).collect();
    assert_eq!(offsets, (0..30).collect::<Vec<_>>());
    assert_eq!(c.committed([p0.clone()]).await.unwrap()[&p0], None);

    c.commit_offsets(BTreeMap::from([(
        p0.clone(),
        OffsetAndMetadata::new(12).with_metadata("twelve"),
    )]))
    .await
    .unwrap();
    let got = c.committed([p0.clone()]).await.unwrap()[&p0]
        .clone()
        .unwrap();
    assert_eq!((got.offset, got.metadata.as_deref()), (12, Some("twelve")));
    c.commit_offsets_async(BTreeMap::from([(p0.clone(), OffsetAndMetadata::new(20))]))
        .await
        .unwrap();
    c.commit().await.unwrap();
    assert_eq!(
        c.committed([p0.clone()]).await.unwrap()[&p0]
            .as_ref()
            .unwrap()
            .offset,
        30
    );
    c.close().await.unwrap();

    // A new consumer of the group starts at the committed offset.
    kcat_produce(&b, &topic, "none", 5, 30, 10, Some(0));
    let c2 = consumer(&b).group_id(group).build().unwrap();
    c2.assign([p0.clone()]).unwrap();
    let r = drain(&c2, 5, Duration::from_secs(10)).await;
    assert_eq!(r[0].offset, 30);
    c2.close().await.unwrap();
}

/// The stream takes a poll's worth of records at a time: what it holds and has not
/// yielded is never committed past (a commit while it holds them stops at its batch),
/// and dropping it gives them back, so the group's next member starts at the first
/// record not yielded, with auto-commit on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_stream_loses_no_record_across_a_restart() {
    let b = bootstrap();
    let client = common::client(&b);
    let topic = common::unique_topic("stream-hold");
    common::create_topic(&client, &topic, 1, 1).await;
    kcat_produce(&b, &topic, "none", 100, 0, 10, Some(0));
    let group = common::unique_topic("g-stream-hold");
    let p0 = TopicPartition::new(topic.clone(), 0);
    let c = consumer(&b)
        .group_id(group.clone())
        .auto_offset_reset(AutoOffsetReset::Earliest)
        .max_poll_records(50)
        .build()
        .unwrap();
    c.assign([p0.clone()]).unwrap();
    let mut s = Box::pin(c.stream());
    let mut seen = Vec::new();
    while seen.len() < 10 {
        seen.push(s.next().await.unwrap().unwrap().offset);
    }
    assert_eq!(seen, (0..10).collect::<Vec<_>>());
    assert!(
        c.position(p0.clone()).await.unwrap() > 10,
        "a batch was taken"
    );
    c.commit().await.unwrap();
    let committed = c.committed([p0.clone()]).await.unwrap()[&p0]
        .as_ref()
        .map_or(0, |o| o.offset);
    assert!(
        committed <= 10,
        "a commit while the stream holds records stops at them: {committed}"
    );
    drop(s);
    assert_eq!(c.position(p0.clone()).await.unwrap(), 10, "given back");
    c.close().await.unwrap();
    let after = c2_start(&b, &group, &p0).await;
    assert_eq!(
        after, 10,
        "the next member starts at the first record not yielded"
    );
}

/// The first offset a new member of `group` reads from `p0`.
async fn c2_start(b: &str, group: &str, p0: &TopicPartition) -> i64 {
    let c2 = consumer(b).group_id(group).build().unwrap();
    c2.assign([p0.clone()]).unwrap();
    let r = drain(&c2, 1, Duration::from_secs(10)).await;
    c2.close().await.unwrap();
    r[0].offset
}

/// Fetch-ahead with a small per-partition bound (many Fetches buffered ahead of
/// `poll`): a seek back, a seek forward and a pause/resume in the middle of prefetched
/// data neither skip nor repeat a record, and prefetched data of a paused partition
/// is not delivered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prefetched_data_follows_seek_and_pause() {
    let b = bootstrap();
    let client = common::client(&b);
    let topic = common::unique_topic("prefetch");
    common::create_topic(&client, &topic, 2, 1).await;
    let count = 20_000;
    kcat_produce(&b, &topic, "none", count, 0, 100, Some(0));
    kcat_produce(&b, &topic, "none", count, count, 100, Some(1));
    let p0 = TopicPartition::new(topic.clone(), 0);
    let p1 = TopicPartition::new(topic.clone(), 1);
    let c = consumer(&b)
        .auto_offset_reset(AutoOffsetReset::Earliest)
        .max_partition_fetch_bytes(16 * 1024)
        .max_partition_buffered_bytes(64 * 1024)
        .max_poll_records(100)
        .build()
        .unwrap();
    c.assign([p0.clone()]).unwrap();

    // At least `n` records of partition 0 with contiguous offsets from `from`, after
    // prefetch had time to fill; the next offset.
    async fn take(c: &kafka_client::Consumer, from: i64, n: usize) -> i64 {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let r = drain(c, n, Duration::from_secs(30)).await;
        for (i, r) in r.iter().enumerate() {
            assert_eq!((r.partition, r.offset), (0, from + i as i64));
            assert_eq!(value_index(r), (from as usize) + i);
        }
        assert_eq!(
            c.position(TopicPartition::new(r[0].topic.to_string(), 0))
                .await
                .unwrap(),
            from + r.len() as i64
        );
        from + r.len() as i64
    }
    take(&c, 0, 1000).await;
    // Back into data polled already, then forward past data buffered ahead.
    c.seek(p0.clone(), 500).unwrap();
    take(&c, 500, 700).await;
    c.seek(p0.clone(), 15_000).unwrap();
    let next = take(&c, 15_000, 300).await;
    // Paused with prefetched data: nothing of it comes out; resumed: it continues
    // exactly where it stopped.
    c.pause([p0.clone()]).unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let paused = c.poll(Duration::from_millis(300)).await.unwrap();
    assert!(paused.is_empty(), "records from a paused partition");
    c.resume([p0.clone()]).unwrap();
    take(&c, next, count - next as usize).await;
    let extra = c.poll(Duration::from_millis(300)).await.unwrap();
    assert!(extra.is_empty(), "records past the end");
    assert_eq!(c.position(p0.clone()).await.unwrap(), count as i64);

    // Reassignment drops prefetched data of the partition given up.
    c.seek(p0.clone(), 0).unwrap();
    take(&c, 0, 100).await;
    c.assign([p1.clone()]).unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let r = drain(&c, count, Duration::from_secs(30)).await;
    for (i, r) in r.iter().enumerate() {
        assert_eq!((r.partition, r.offset), (1, i as i64));
        assert_eq!(value_index(r), count + i);
    }
    c.close().await.unwrap();
}
