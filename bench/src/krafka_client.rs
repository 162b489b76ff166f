//! The jobs as run by krafka (crates.io, the other pure-Rust client; version pinned in
//! `bench/Cargo.toml`), inside a client child process.
//!
//! Settings made equal to the others' (see [`ProducerSettings`]): acks=all, idempotence
//! as the row asks (krafka's default is on), `linger`, `batch_size`, `max_request_size`,
//! `buffer_memory`, compression, and at most `in_flight` requests per connection
//! (`max_in_flight_requests` on the `Kafka` builder). Where it cannot be made equal:
//! krafka keeps **at most one batch in flight per partition** (its engine sends a
//! partition's next batch only when the previous one is answered, so "a retry cannot
//! reorder a partition") and five requests per broker, fixed; with one partition it has
//! one Produce request out at a time where the others have up to five. Its `Record`
//! takes the topic as a `String`, so every record carries its own copy of the name. The
//! consumer's prefetch bound counts records (`max_buffered_records`), not bytes: it gets
//! [`CONSUMER_PREFETCH_BYTES`] divided by the value size. It always checks CRCs.
//!
//! `scale` (partition scaling) runs its keyed producer ([`produce_keyed`]: krafka's
//! default partitioner, murmur2 of the key as Java's) and its group member
//! ([`scale_consume`]: a classic group, krafka's default; krafka always uses incremental
//! fetch sessions, with no switch to turn them off).

use std::time::{Duration, Instant};

use bytes::Bytes;
use krafka::consumer::AutoOffsetReset;
use krafka::producer::Acks;
use krafka::{Compression, Kafka, Record};

use crate::alloc_count::Snapshot;
use crate::payload;
use crate::spec::{CONSUMER_PREFETCH_BYTES, ChildReport, Codec, ProducerSettings};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

async fn connect(bootstrap: &str, in_flight: usize) -> Result<Kafka, BoxError> {
    Ok(Kafka::builder(bootstrap)
        .client_id("bench-krafka")
        .max_in_flight_requests(in_flight)
        .connect()
        .await?)
}

/// A producer with the benchmark's settings.
pub async fn producer(
    bootstrap: &str,
    s: &ProducerSettings,
) -> Result<krafka::producer::Producer, BoxError> {
    let kafka = connect(bootstrap, s.in_flight).await?;
    Ok(kafka
        .producer()
        .acks(Acks::All)
        .idempotent(s.idempotence)
        .linger(Duration::from_millis(s.linger_ms))
        .batch_size(s.batch_bytes)
        .max_request_size(s.max_request_bytes)
        .buffer_memory(s.buffer_bytes)
        .compression(match s.codec {
            Codec::None => Compression::None,
            Codec::Lz4 => Compression::Lz4,
            Codec::Zstd => Compression::Zstd,
            Codec::Gzip => Compression::Gzip,
        })
        .build()
        .await?)
}

/// Sends `records` pool values (`enqueue`, the handles dropped: the clock stops when
/// `flush` returns, as for ours), the first one outside the clock.
pub async fn produce(
    bootstrap: &str,
    topic: &str,
    records: u64,
    size: usize,
    s: &ProducerSettings,
) -> Result<ChildReport, BoxError> {
    let pool = payload::pool(size);
    let p = producer(bootstrap, s).await?;
    drop(p.send(Record::new(topic, pool[0].clone())).await?);
    let half = records / 2;
    let mut mark = Snapshot::now();
    let t0 = Instant::now();
    for i in 0..records {
        if i == half {
            mark = Snapshot::now();
        }
        let value: Bytes = pool[(i % pool.len() as u64) as usize].clone();
        drop(p.enqueue(Record::new(topic, value)).await?);
    }
    p.flush().await?;
    let secs = t0.elapsed().as_secs_f64();
    let (allocs, alloc_bytes) = mark.per_record_since(records - half);
    p.close().await?;
    Ok(ChildReport {
        records,
        bytes: records * size as u64,
        secs,
        allocs_per_record: Some(allocs),
        alloc_bytes_per_record: Some(alloc_bytes),
        ..ChildReport::default()
    })
}

/// `scale`: sends `records` values with an 8-byte counter as the key, the first one
/// outside the clock (as ours and rdkafka's keyed producers). krafka's default
/// partitioner sends a keyed record to `murmur2(key) mod partitions`, Java's and ours
/// (rdkafka gets `partitioner=murmur2_random`), so every client spreads the same keys the
/// same way. Handles are dropped as in [`produce`]; the clock stops when `flush` returns.
pub async fn produce_keyed(
    bootstrap: &str,
    topic: &str,
    records: u64,
    size: usize,
    s: &ProducerSettings,
) -> Result<ChildReport, BoxError> {
    let pool = payload::pool(size);
    let p = producer(bootstrap, s).await?;
    let keyed = |i: u64, value: Bytes| Record::new(topic, value).key(i.to_be_bytes().to_vec());
    drop(p.send(keyed(u64::MAX, pool[0].clone())).await?);
    let t0 = Instant::now();
    for i in 0..records {
        let value = pool[(i % pool.len() as u64) as usize].clone();
        drop(p.enqueue(keyed(i, value)).await?);
    }
    p.flush().await?;
    let secs = t0.elapsed().as_secs_f64();
    p.close().await?;
    Ok(ChildReport {
        records,
        bytes: records * size as u64,
        secs,
        ..ChildReport::default()
    })
}

/// `scale`: one member of a fresh classic group on `topic` (see
/// [`crate::sdk_client::scale_consume`]). With `records` > 0: from the earliest offset,
/// the time from `subscribe` to the first record, then `secs` from the first record to
/// the last. With 0: from the end (no record comes); once `Consumer::assignment` holds all
/// `partitions`, it polls the idle partitions for `idle_secs`, then reports its resident
/// memory. krafka always uses fetch sessions (the job's `sessions` does not apply).
pub async fn scale_consume(
    bootstrap: &str,
    topic: &str,
    partitions: i32,
    group: &str,
    records: u64,
    idle_secs: u64,
) -> Result<ChildReport, BoxError> {
    let kafka = connect(bootstrap, 5).await?;
    let prefetch_records = (CONSUMER_PREFETCH_BYTES / crate::scale::SIZE).max(500) as i32;
    let c = kafka
        .consumer(group)
        .auto_offset_reset(if records == 0 {
            AutoOffsetReset::Latest
        } else {
            AutoOffsetReset::Earliest
        })
        .enable_auto_commit(false)
        .fetch_max_wait(Duration::from_millis(500))
        .max_partition_fetch_bytes(1 << 20)
        .fetch_max_bytes(50 << 20)
        .max_buffered_records(prefetch_records)
        .build()
        .await?;
    let assigned = |a: std::collections::HashMap<String, Vec<i32>>| -> usize {
        a.get(topic).map_or(0, Vec::len)
    };
    let t0 = Instant::now();
    c.subscribe([topic]).await?;
    if records == 0 {
        let deadline = Instant::now() + Duration::from_secs(300);
        loop {
            let n = assigned(c.assignment().await);
            if n >= partitions as usize {
                break;
            }
            if Instant::now() > deadline {
                return Err(format!("{n} of {partitions} partitions assigned after 300 s").into());
            }
            drop(c.poll(Duration::from_millis(200)).await?);
        }
        let assigned = t0.elapsed().as_secs_f64();
        let idle_until = Instant::now() + Duration::from_secs(idle_secs);
        while Instant::now() < idle_until {
            drop(c.poll(Duration::from_millis(500)).await?);
        }
        let rss = crate::rusage::current_rss_mib();
        c.close().await?;
        return Ok(ChildReport {
            secs: assigned,
            rss_now_mib: rss,
            ..ChildReport::default()
        });
    }
    let (mut n, mut bytes) = (0u64, 0u64);
    let mut first: Option<Instant> = None;
    let mut last = Instant::now();
    while n < records {
        let batch = c.poll(Duration::from_secs(1)).await?;
        if batch.is_empty() {
            if last.elapsed() > Duration::from_secs(120) {
                return Err(format!("stalled at {n} of {records} records").into());
            }
            continue;
        }
        last = Instant::now();
        first.get_or_insert(last);
        for r in &batch {
            bytes += r.value.as_ref().map_or(0, |v| v.len() as u64);
        }
        n += batch.len() as u64;
    }
    let first = first.unwrap_or(t0);
    let report = ChildReport {
        records: n,
        bytes,
        secs: last.duration_since(first).as_secs_f64(),
        first_record_secs: Some(first.duration_since(t0).as_secs_f64()),
        ..ChildReport::default()
    };
    c.close().await?;
    Ok(report)
}

/// Drains `records` records from all partitions of `topic`, from offset 0 (no group:
/// direct assignment).
pub async fn consume(
    bootstrap: &str,
    topic: &str,
    partitions: i32,
    records: u64,
    size: usize,
) -> Result<ChildReport, BoxError> {
    let kafka = connect(bootstrap, 5).await?;
    let prefetch_records = (CONSUMER_PREFETCH_BYTES / size.max(1)).max(500) as i32;
    let c = kafka
        .consumer_without_group()
        .auto_offset_reset(AutoOffsetReset::Earliest)
        .enable_auto_commit(false)
        .fetch_max_wait(Duration::from_millis(500))
        .max_partition_fetch_bytes(1 << 20)
        .fetch_max_bytes(50 << 20)
        .max_buffered_records(prefetch_records)
        .build()
        .await?;
    let half = records / 2;
    let mut mark = Snapshot::now();
    let t0 = Instant::now();
    c.assign(topic, (0..partitions).collect()).await?;
    for p in 0..partitions {
        c.seek(topic, p, 0).await?;
    }
    let (mut n, mut bytes, mut marked, mut polls) = (0u64, 0u64, false, 0u64);
    while n < records {
        let batch = c.poll(Duration::from_secs(10)).await?;
        if batch.is_empty() {
            return Err(format!("stalled at {n} of {records} records").into());
        }
        for r in &batch {
            bytes += r.value.as_ref().map_or(0, |v| v.len() as u64);
        }
        n += batch.len() as u64;
        polls += 1;
        if !marked && n >= half {
            marked = true;
            mark = Snapshot::now();
        }
    }
    let secs = t0.elapsed().as_secs_f64();
    let (allocs, alloc_bytes) = mark.per_record_since(n - half);
    c.close().await?;
    Ok(ChildReport {
        records: n,
        bytes,
        secs,
        allocs_per_record: Some(allocs),
        alloc_bytes_per_record: Some(alloc_bytes),
        polls: Some(polls),
        ..ChildReport::default()
    })
}
