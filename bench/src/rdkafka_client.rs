//! The jobs as run by rust-rdkafka (librdkafka), inside a client child process.
//!
//! The producer is a `BaseProducer` polled by the sending thread itself (librdkafka's own
//! `rdkafka_performance` method), with a context that counts delivery reports; the
//! consumer a `BaseConsumer` with direct assignment.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::Message;
use rdkafka::producer::{BaseProducer, BaseRecord, DeliveryResult, Producer, ProducerContext};
use rdkafka::{ClientContext, Offset, TopicPartitionList};

use crate::alloc_count::Snapshot;
use crate::payload;
use crate::spec::{
    CONSUMER_PREFETCH_BYTES, ChildReport, Percentiles, ProducerSettings, latency_histogram,
};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Counts delivery reports.
#[derive(Debug, Default)]
pub struct Counting {
    delivered: AtomicU64,
    failed: AtomicU64,
}

impl ClientContext for Counting {}

impl ProducerContext for Counting {
    type DeliveryOpaque = ();
    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        match result {
            Ok(_) => self.delivered.fetch_add(1, Ordering::Relaxed),
            Err(_) => self.failed.fetch_add(1, Ordering::Relaxed),
        };
    }
}

/// librdkafka's spelling of the benchmark's settings.
pub fn producer_config(bootstrap: &str, s: &ProducerSettings) -> ClientConfig {
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", bootstrap)
        .set("client.id", "bench-rdkafka")
        .set("acks", "all")
        .set("enable.idempotence", s.idempotence.to_string())
        .set("linger.ms", s.linger_ms.to_string())
        .set("batch.size", s.batch_bytes.to_string())
        // The count limit must not bind before the byte limit (defaults: 10000, 100000).
        .set("batch.num.messages", "1000000")
        .set("message.max.bytes", s.max_request_bytes.to_string())
        .set("max.in.flight", s.in_flight.to_string())
        .set("compression.codec", s.codec.name())
        .set(
            "queue.buffering.max.kbytes",
            (s.buffer_bytes / 1024).to_string(),
        )
        .set("queue.buffering.max.messages", "10000000");
    c
}

fn producer(bootstrap: &str, s: &ProducerSettings) -> Result<BaseProducer<Counting>, BoxError> {
    Ok(producer_config(bootstrap, s).create_with_context(Counting::default())?)
}

/// Sends one record, polling for delivery reports while the queue is full.
fn send(p: &BaseProducer<Counting>, topic: &str, value: &[u8]) -> Result<(), BoxError> {
    let mut record = BaseRecord::<(), [u8]>::to(topic).payload(value);
    loop {
        match p.send(record) {
            Ok(()) => return Ok(()),
            Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), r)) => {
                record = r;
                p.poll(Duration::from_millis(1));
            }
            Err((e, _)) => return Err(e.into()),
        }
    }
}

/// Waits until `n` records have a delivery report.
fn wait_delivered(p: &BaseProducer<Counting>, n: u64) -> Result<(), BoxError> {
    let deadline = Instant::now() + Duration::from_secs(120);
    let ctx = p.context();
    while ctx.delivered.load(Ordering::Relaxed) + ctx.failed.load(Ordering::Relaxed) < n {
        p.poll(Duration::from_millis(100));
        if Instant::now() > deadline {
            return Err("delivery reports missing after 120 s".into());
        }
    }
    Ok(())
}

/// Sends `records` pool values as fast as librdkafka takes them; the clock stops when
/// every delivery report is in.
pub fn produce(
    bootstrap: &str,
    topic: &str,
    records: u64,
    size: usize,
    s: &ProducerSettings,
) -> Result<ChildReport, BoxError> {
    let pool = payload::pool(size);
    let p = producer(bootstrap, s)?;
    // Metadata and the connection, outside the clock (one record, as for the others).
    send(&p, topic, &pool[0])?;
    wait_delivered(&p, 1)?;
    let half = records / 2;
    let mut mark = Snapshot::now();
    let t0 = Instant::now();
    for i in 0..records {
        if i == half {
            mark = Snapshot::now();
        }
        send(&p, topic, &pool[(i % pool.len() as u64) as usize])?;
        if i % 1024 == 0 {
            p.poll(Duration::ZERO);
        }
    }
    p.flush(Duration::from_secs(120))?;
    wait_delivered(&p, records + 1)?;
    let secs = t0.elapsed().as_secs_f64();
    let (allocs, alloc_bytes) = mark.per_record_since(records - half);
    Ok(ChildReport {
        records,
        bytes: records * size as u64,
        secs,
        errors: p.context().failed.load(Ordering::Relaxed),
        allocs_per_record: Some(allocs),
        alloc_bytes_per_record: Some(alloc_bytes),
        ..ChildReport::default()
    })
}

fn consumer(bootstrap: &str, fetch_wait_ms: u32) -> Result<BaseConsumer, BoxError> {
    Ok(consumer_config(bootstrap, fetch_wait_ms).create()?)
}

/// The consumer settings every rdkafka consumer gets.
fn consumer_config(bootstrap: &str, fetch_wait_ms: u32) -> ClientConfig {
    ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("client.id", "bench-rdkafka")
        // Required by librdkafka's consumer even with direct assignment; never joined.
        .set("group.id", "bench-rdkafka-unused")
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("auto.offset.reset", "earliest")
        // Equal work: Java and ours check CRCs by default, librdkafka does not.
        .set("check.crcs", "true")
        .set("fetch.wait.max.ms", fetch_wait_ms.to_string())
        .set("max.partition.fetch.bytes", "1048576")
        .set("fetch.max.bytes", "52428800")
        .set(
            "queued.max.messages.kbytes",
            (CONSUMER_PREFETCH_BYTES / 1024).to_string(),
        )
        // Equal buffering: the byte bound above is the one that applies (the default
        // queued.min.messages, 100,000, is ~10 MB of 100 B records, a third of it).
        .set("queued.min.messages", "10000000")
        // With a queue bound reached librdkafka postpones the partition's next fetch by
        // this much (default 1000 ms since 2.4): at 100 B that capped it near 0.4 M
        // records/s, waiting. Its docs say to lower it when the queue thresholds are set
        // low; 10 ms keeps it fetching without spinning.
        .set("fetch.queue.backoff.ms", "10")
        .clone()
}

fn assign_from_zero(c: &BaseConsumer, topic: &str, partitions: i32) -> Result<(), BoxError> {
    let mut tpl = TopicPartitionList::new();
    for p in 0..partitions {
        tpl.add_partition_offset(topic, p, Offset::Offset(0))?;
    }
    c.assign(&tpl)?;
    Ok(())
}

/// Drains `records` records from all partitions of `topic`, from offset 0.
pub fn consume(
    bootstrap: &str,
    topic: &str,
    partitions: i32,
    records: u64,
) -> Result<ChildReport, BoxError> {
    let c = consumer(bootstrap, 500)?;
    let half = records / 2;
    let mut mark = Snapshot::now();
    let t0 = Instant::now();
    assign_from_zero(&c, topic, partitions)?;
    let (mut n, mut bytes) = (0u64, 0u64);
    let mut idle = Instant::now();
    while n < records {
        match c.poll(Duration::from_millis(100)) {
            Some(Ok(m)) => {
                bytes += m.payload().map_or(0, |v| v.len() as u64);
                n += 1;
                if n == half {
                    mark = Snapshot::now();
                }
                idle = Instant::now();
            }
            Some(Err(e)) => return Err(e.into()),
            None if idle.elapsed() > Duration::from_secs(10) => {
                return Err(format!("stalled at {n} of {records} records").into());
            }
            None => {}
        }
    }
    let secs = t0.elapsed().as_secs_f64();
    let (allocs, alloc_bytes) = mark.per_record_since(n - half);
    Ok(ChildReport {
        records: n,
        bytes,
        secs,
        allocs_per_record: Some(allocs),
        alloc_bytes_per_record: Some(alloc_bytes),
        ..ChildReport::default()
    })
}

/// End-to-end latency; see [`crate::spec::Job::Latency`]. The consumer polls on its own
/// thread; the producer is paced in 1 ms steps on this one.
#[allow(clippy::too_many_arguments)]
pub fn latency(
    bootstrap: &str,
    topic: &str,
    rate: u64,
    records: u64,
    warmup: u64,
    size: usize,
    s: &ProducerSettings,
) -> Result<ChildReport, BoxError> {
    let pool = payload::pool(size.max(8));
    let p = producer(bootstrap, s)?;
    let c = consumer(bootstrap, if rate == 0 { 0 } else { 500 })?;
    assign_from_zero(&c, topic, 1)?;
    send(&p, topic, &pool[0])?;
    wait_delivered(&p, 1)?;
    let epoch = Instant::now();
    let stamp = |buf: &mut Vec<u8>, i: u64| {
        buf.clear();
        buf.extend_from_slice(&(epoch.elapsed().as_nanos() as u64).to_be_bytes());
        buf.extend_from_slice(&pool[(i % pool.len() as u64) as usize][8..]);
    };
    let read = |m: &rdkafka::message::BorrowedMessage<'_>| -> Option<u64> {
        Some(u64::from_be_bytes(m.payload()?.get(..8)?.try_into().ok()?))
    };
    let total = warmup + records + 1;
    let mut hist = latency_histogram();
    let mut buf = Vec::with_capacity(size.max(8));
    let t0 = Instant::now();
    if rate == 0 {
        let mut seen = 0u64;
        for i in 0..warmup + records {
            stamp(&mut buf, i);
            send(&p, topic, &buf)?;
            p.poll(Duration::ZERO);
            let target = i + 2; // the warm-up record, then this one
            let deadline = Instant::now() + Duration::from_secs(30);
            while seen < target {
                if let Some(m) = c.poll(Duration::from_millis(100)) {
                    let m = m?;
                    seen += 1;
                    let now = epoch.elapsed().as_nanos() as u64;
                    if seen == target
                        && i >= warmup
                        && let Some(sent) = read(&m)
                    {
                        hist.record((now.saturating_sub(sent) / 1000).max(1))?;
                    }
                } else if Instant::now() > deadline {
                    return Err(format!("record {i} not consumed within 30 s").into());
                }
            }
        }
    } else {
        let consumer_thread = std::thread::spawn(move || -> Result<_, BoxError> {
            let mut hist = latency_histogram();
            let mut seen = 0u64;
            let mut idle = Instant::now();
            while seen < total {
                match c.poll(Duration::from_millis(100)) {
                    Some(m) => {
                        let m = m?;
                        seen += 1;
                        let now = epoch.elapsed().as_nanos() as u64;
                        if seen > warmup + 1
                            && let Some(sent) = read(&m)
                        {
                            hist.record((now.saturating_sub(sent) / 1000).max(1))?;
                        }
                        idle = Instant::now();
                    }
                    None if idle.elapsed() > Duration::from_secs(30) => {
                        return Err(format!("stalled at {seen} of {total}").into());
                    }
                    None => {}
                }
            }
            Ok(hist)
        });
        let start = Instant::now();
        let mut sent = 0u64;
        while sent < warmup + records {
            let due = ((start.elapsed().as_secs_f64() * rate as f64) as u64).min(warmup + records);
            while sent < due {
                stamp(&mut buf, sent);
                send(&p, topic, &buf)?;
                sent += 1;
            }
            p.poll(Duration::ZERO);
            std::thread::sleep(Duration::from_millis(1));
        }
        hist = consumer_thread
            .join()
            .map_err(|_| "the consumer thread panicked")??;
    }
    let secs = t0.elapsed().as_secs_f64();
    p.flush(Duration::from_secs(30))?;
    Ok(ChildReport {
        records,
        bytes: records * size as u64,
        secs,
        errors: p.context().failed.load(Ordering::Relaxed),
        latency: Some(Percentiles::from_histogram(&hist)),
        ..ChildReport::default()
    })
}

/// `scale`: sends `records` values keyed by an 8-byte counter, the first one outside
/// the clock. The partitioner is set to `murmur2_random` (Java's and ours: murmur2 of
/// the key) instead of librdkafka's default `consistent_random` (CRC-32), so every
/// client spreads the same keys the same way.
pub fn produce_keyed(
    bootstrap: &str,
    topic: &str,
    records: u64,
    size: usize,
    s: &ProducerSettings,
) -> Result<ChildReport, BoxError> {
    let pool = payload::pool(size);
    let p: BaseProducer<Counting> = producer_config(bootstrap, s)
        .set("partitioner", "murmur2_random")
        .create_with_context(Counting::default())?;
    let send_keyed = |i: u64, value: &[u8]| -> Result<(), BoxError> {
        let key = i.to_be_bytes();
        let mut record = BaseRecord::<[u8], [u8]>::to(topic)
            .key(&key[..])
            .payload(value);
        loop {
            match p.send(record) {
                Ok(()) => return Ok(()),
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), r)) => {
                    record = r;
                    p.poll(Duration::from_millis(1));
                }
                Err((e, _)) => return Err(e.into()),
            }
        }
    };
    send_keyed(u64::MAX, &pool[0])?;
    wait_delivered(&p, 1)?;
    let t0 = Instant::now();
    for i in 0..records {
        send_keyed(i, &pool[(i % pool.len() as u64) as usize])?;
        if i % 1024 == 0 {
            p.poll(Duration::ZERO);
        }
    }
    p.flush(Duration::from_secs(300))?;
    wait_delivered(&p, records + 1)?;
    let secs = t0.elapsed().as_secs_f64();
    Ok(ChildReport {
        records,
        bytes: records * size as u64,
        secs,
        errors: p.context().failed.load(Ordering::Relaxed),
        ..ChildReport::default()
    })
}

/// `scale`: one group member of a fresh group on `topic`; see
/// [`crate::sdk_client::scale_consume`] (librdkafka never uses fetch sessions).
pub fn scale_consume(
    bootstrap: &str,
    topic: &str,
    partitions: i32,
    group: &str,
    records: u64,
    idle_secs: u64,
) -> Result<ChildReport, BoxError> {
    let c: BaseConsumer = consumer_config(bootstrap, 500)
        .set("group.id", group)
        .set(
            "auto.offset.reset",
            if records == 0 { "latest" } else { "earliest" },
        )
        .create()?;
    let t0 = Instant::now();
    c.subscribe(&[topic])?;
    if records == 0 {
        let deadline = Instant::now() + Duration::from_secs(300);
        loop {
            if let Some(Err(e)) = c.poll(Duration::from_millis(200)) {
                return Err(e.into());
            }
            let assigned = c.assignment()?.count();
            if assigned >= partitions as usize {
                break;
            }
            if Instant::now() > deadline {
                return Err(
                    format!("{assigned} of {partitions} partitions assigned after 300 s").into(),
                );
            }
        }
        let assigned = t0.elapsed().as_secs_f64();
        let idle_until = Instant::now() + Duration::from_secs(idle_secs);
        while Instant::now() < idle_until {
            if let Some(Err(e)) = c.poll(Duration::from_millis(500)) {
                return Err(e.into());
            }
        }
        return Ok(ChildReport {
            secs: assigned,
            rss_now_mib: crate::rusage::current_rss_mib(),
            ..ChildReport::default()
        });
    }
    let (mut n, mut bytes) = (0u64, 0u64);
    let mut first: Option<Instant> = None;
    let mut last = Instant::now();
    while n < records {
        match c.poll(Duration::from_millis(100)) {
            Some(Ok(m)) => {
                bytes += m.payload().map_or(0, |v| v.len() as u64);
                n += 1;
                last = Instant::now();
                first.get_or_insert(last);
            }
            Some(Err(e)) => return Err(e.into()),
            None if last.elapsed() > Duration::from_secs(120) => {
                return Err(format!("stalled at {n} of {records} records").into());
            }
            None => {}
        }
    }
    let first = first.unwrap_or(t0);
    Ok(ChildReport {
        records: n,
        bytes,
        secs: last.duration_since(first).as_secs_f64(),
        first_record_secs: Some(first.duration_since(t0).as_secs_f64()),
        ..ChildReport::default()
    })
}
