//! The jobs as run by this SDK (`kafka-client`), inside a client child process.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{BufMut, Bytes, BytesMut};
use futures::StreamExt;
use kafka_client::consumer::{AutoOffsetReset, Consumer, TopicPartition};
use kafka_client::producer::{Acks, Producer, ProducerRecord};
use kafka_client::records::Compression;
use kafka_serde::{BytesSerde, Nullable, TypedConsumer, TypedProducer, TypedRecord};

use crate::alloc_count::Snapshot;
use crate::payload;
use crate::spec::{
    CONSUMER_PREFETCH_BYTES, ChildReport, Codec, Handle, Percentiles, ProducerSettings,
    latency_histogram,
};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The SDK's codec for the benchmark's `codec`.
pub fn compression(codec: Codec) -> Compression {
    match codec {
        Codec::None => Compression::None,
        Codec::Lz4 => Compression::Lz4,
        Codec::Zstd => Compression::Zstd,
        Codec::Gzip => Compression::Gzip,
    }
}

/// A producer with the benchmark's settings (idempotence as the row asks: on in the
/// issue's configurations, off in the like-for-like rows, as for the other clients).
pub fn producer(bootstrap: &str, s: &ProducerSettings) -> Result<Producer, BoxError> {
    Ok(Producer::builder()
        .bootstrap_servers([bootstrap])
        .client_id("bench-kafka-rs")
        .acks(Acks::All)
        .linger(Duration::from_millis(s.linger_ms))
        .batch_size(s.batch_bytes)
        .max_request_size(s.max_request_bytes)
        .buffer_memory(s.buffer_bytes)
        .max_in_flight(s.in_flight)
        .enable_idempotence(s.idempotence)
        .compression(compression(s.codec))
        .build()?)
}

/// Sends `records` values from the pool as fast as `send` accepts them, then flushes.
///
/// The delivery futures are dropped: the clock stops when `flush` returns (every record
/// acknowledged or failed) and the harness checks afterwards, from the partitions' end
/// offsets, that every record landed. Holding millions of futures would only measure the
/// benchmark's own memory.
pub async fn produce(
    bootstrap: &str,
    topic: &str,
    records: u64,
    size: usize,
    s: &ProducerSettings,
) -> Result<ChildReport, BoxError> {
    produce_with(bootstrap, topic, records, size, s, Handle::Bytes).await
}

/// [`produce`] through `handle`: the byte-level `Producer::send`, or kafka-serde's
/// `TypedProducer::send` with the no-op bytes serializer.
pub async fn produce_with(
    bootstrap: &str,
    topic: &str,
    records: u64,
    size: usize,
    s: &ProducerSettings,
    handle: Handle,
) -> Result<ChildReport, BoxError> {
    let pool = payload::pool(size);
    let producer = producer(bootstrap, s)?;
    let typed = TypedProducer::<Bytes, Bytes>::new(producer.clone(), BytesSerde, BytesSerde);
    let topic: Arc<str> = topic.into();
    // Metadata and the connection, outside the clock (one record; the harness knows).
    producer
        .send_and_wait(ProducerRecord::new(topic.clone()).with_value(pool[0].clone()))
        .await?;
    let half = records / 2;
    let mut mark = Snapshot::now();
    let t0 = Instant::now();
    for i in 0..records {
        if i == half {
            mark = Snapshot::now();
        }
        let value = &pool[(i % pool.len() as u64) as usize];
        // The future resolves on acknowledgement; see above for why it is dropped.
        let delivery = match handle {
            Handle::Typed | Handle::TypedStream => {
                typed.send(TypedRecord::new(topic.clone(), value)).await?
            }
            Handle::Bytes | Handle::Stream => {
                producer
                    .send(ProducerRecord::new(topic.clone()).with_value(value.clone()))
                    .await?
            }
        };
        drop(delivery);
    }
    producer.flush().await;
    let secs = t0.elapsed().as_secs_f64();
    let (allocs, alloc_bytes) = mark.per_record_since(records - half);
    producer.close(Duration::from_secs(30)).await?;
    Ok(ChildReport {
        records,
        bytes: records * size as u64,
        secs,
        allocs_per_record: Some(allocs),
        alloc_bytes_per_record: Some(alloc_bytes),
        ..ChildReport::default()
    })
}

fn consumer(bootstrap: &str, fetch_max_wait: Duration) -> Result<Consumer, BoxError> {
    Ok(Consumer::builder()
        .bootstrap_servers([bootstrap])
        .auto_offset_reset(AutoOffsetReset::Earliest)
        .enable_auto_commit(false)
        .fetch_max_wait(fetch_max_wait)
        .max_buffered_bytes(CONSUMER_PREFETCH_BYTES)
        .build()?)
}

/// Drains `records` records from all partitions of `topic`, from offset 0.
pub async fn consume(
    bootstrap: &str,
    topic: &str,
    partitions: i32,
    records: u64,
) -> Result<ChildReport, BoxError> {
    consume_with(bootstrap, topic, partitions, records, Handle::Bytes).await
}

/// What one read of the drain loop gives: records, their value bytes, or a failure.
type Got = Result<(u64, u64), BoxError>;

/// The drain's count, and the allocation mark taken when it passes half way.
struct Tally {
    records: u64,
    half: u64,
    mark: Option<Snapshot>,
    n: u64,
    bytes: u64,
    reads: u64,
}

impl Tally {
    /// Counts one read; `false` once every record is in.
    fn add(&mut self, got: Got) -> Result<bool, BoxError> {
        let (count, size) = got?;
        self.n += count;
        self.bytes += size;
        self.reads += 1;
        if self.mark.is_none() && self.n >= self.half {
            self.mark = Some(Snapshot::now());
        }
        Ok(self.n < self.records)
    }

    fn stalled(&self) -> BoxError {
        format!("stalled at {} of {} records", self.n, self.records).into()
    }
}

/// [`consume`] through `handle`: `Consumer::poll` or `stream`, or kafka-serde's
/// `TypedConsumer::poll` or `stream` with the no-op bytes deserializer.
pub async fn consume_with(
    bootstrap: &str,
    topic: &str,
    partitions: i32,
    records: u64,
    handle: Handle,
) -> Result<ChildReport, BoxError> {
    let consumer = consumer(bootstrap, Duration::from_millis(500))?;
    let typed = TypedConsumer::<Option<Bytes>, Bytes>::new(
        consumer.clone(),
        Nullable(BytesSerde),
        BytesSerde,
    );
    let half = records / 2;
    let mark = Snapshot::now();
    let t0 = Instant::now();
    consumer.assign((0..partitions).map(|p| TopicPartition::new(topic, p)))?;
    for p in 0..partitions {
        consumer.seek(TopicPartition::new(topic, p), 0)?;
    }
    let mut t = Tally {
        records,
        half,
        mark: None,
        n: 0,
        bytes: 0,
        reads: 0,
    };
    // One deadline for the whole drain, so the streams pay no timer per record.
    let drain = async {
        match handle {
            Handle::Bytes => loop {
                let batch = consumer.poll(Duration::from_secs(10)).await?;
                let got = if let Some(e) = batch.errors().first() {
                    Err(e.clone().into_error().into())
                } else if batch.is_empty() {
                    Err(t.stalled())
                } else {
                    let size = batch
                        .records()
                        .iter()
                        .map(|r| r.value.as_ref().map_or(0, |v| v.len() as u64))
                        .sum();
                    Ok((batch.len() as u64, size))
                };
                if !t.add(got)? {
                    break Ok::<(), BoxError>(());
                }
            },
            Handle::Typed => loop {
                let batch = typed.poll(Duration::from_secs(10)).await?;
                let got = if let Some(e) = batch.errors().first() {
                    Err(e.clone().into_error().into())
                } else if batch.records().is_empty() {
                    Err(t.stalled())
                } else {
                    let mut size = 0;
                    for r in batch.records() {
                        size += r.as_ref().map_err(|e| e.to_string())?.value.len() as u64;
                    }
                    Ok((batch.records().len() as u64, size))
                };
                if !t.add(got)? {
                    break Ok(());
                }
            },
            Handle::Stream => {
                let mut stream = std::pin::pin!(consumer.stream());
                loop {
                    let got = match stream.next().await {
                        Some(Ok(r)) => Ok((1, r.value.as_ref().map_or(0, |v| v.len() as u64))),
                        Some(Err(e)) => Err(e.into()),
                        None => Err(t.stalled()),
                    };
                    if !t.add(got)? {
                        break Ok(());
                    }
                }
            }
            Handle::TypedStream => {
                let mut stream = std::pin::pin!(typed.stream());
                loop {
                    let got = match stream.next().await {
                        Some(Ok(r)) => Ok((1, r.value.len() as u64)),
                        Some(Err(e)) => Err(e.to_string().into()),
                        None => Err(t.stalled()),
                    };
                    if !t.add(got)? {
                        break Ok(());
                    }
                }
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(300), drain)
        .await
        .map_err(|_| t.stalled())??;
    let secs = t0.elapsed().as_secs_f64();
    let (n, bytes, reads) = (t.n, t.bytes, t.reads);
    let (allocs, alloc_bytes) = t.mark.unwrap_or(mark).per_record_since(n - half);
    consumer.close().await?;
    let polls = matches!(handle, Handle::Bytes | Handle::Typed).then_some(reads);
    Ok(ChildReport {
        records: n,
        bytes,
        secs,
        allocs_per_record: Some(allocs),
        alloc_bytes_per_record: Some(alloc_bytes),
        polls,
        ..ChildReport::default()
    })
}

/// Nanoseconds since `epoch`, written into the first 8 bytes of a value.
fn stamped(template: &Bytes, epoch: Instant, buf: &mut BytesMut) -> Bytes {
    buf.reserve(template.len());
    buf.put_u64(epoch.elapsed().as_nanos() as u64);
    buf.put_slice(&template[8..]);
    buf.split().freeze()
}

fn stamp_of(value: &[u8]) -> Option<u64> {
    Some(u64::from_be_bytes(value.get(..8)?.try_into().ok()?))
}

/// End-to-end latency: a producer (paced at `rate`, or one record at a time when 0) and
/// a consumer of the same one-partition topic in this process.
#[allow(clippy::too_many_arguments)]
pub async fn latency(
    bootstrap: &str,
    topic: &str,
    rate: u64,
    records: u64,
    warmup: u64,
    size: usize,
    s: &ProducerSettings,
) -> Result<ChildReport, BoxError> {
    let pool = payload::pool(size.max(8));
    let producer = producer(bootstrap, s)?;
    let topic_name: Arc<str> = topic.into();
    let max_wait = if rate == 0 {
        Duration::ZERO
    } else {
        Duration::from_millis(500)
    };
    let consumer = consumer(bootstrap, max_wait)?;
    consumer.assign([TopicPartition::new(topic, 0)])?;
    consumer.seek(TopicPartition::new(topic, 0), 0)?;
    producer
        .send_and_wait(ProducerRecord::new(topic_name.clone()).with_value(pool[0].clone()))
        .await?;
    let total = warmup + records + 1;
    let epoch = Instant::now();
    let mut hist = latency_histogram();
    let t0 = Instant::now();
    if rate == 0 {
        let mut buf = BytesMut::new();
        let mut seen = 1u64; // the warm-up record above
        for i in 0..warmup + records {
            let value = stamped(&pool[(i % pool.len() as u64) as usize], epoch, &mut buf);
            drop(
                producer
                    .send(ProducerRecord::new(topic_name.clone()).with_value(value))
                    .await?,
            );
            let target = seen + 1;
            while seen < target {
                let batch = consumer.poll(Duration::from_secs(30)).await?;
                for r in batch.records() {
                    seen += 1;
                    let now = epoch.elapsed().as_nanos() as u64;
                    if let Some(sent) = r.value.as_deref().and_then(stamp_of)
                        && i >= warmup
                        && seen == target
                    {
                        hist.record((now.saturating_sub(sent) / 1000).max(1))?;
                    }
                }
                if batch.is_empty() {
                    return Err(format!("record {i} not consumed within 30 s").into());
                }
            }
        }
    } else {
        let consumer_task = tokio::spawn(async move {
            let mut hist = latency_histogram();
            let mut seen = 0u64;
            while seen < total {
                let batch = consumer.poll(Duration::from_secs(30)).await?;
                if batch.is_empty() {
                    return Err::<_, BoxError>(format!("stalled at {seen} of {total}").into());
                }
                let now = epoch.elapsed().as_nanos() as u64;
                for r in batch.records() {
                    seen += 1;
                    if seen > warmup + 1
                        && let Some(sent) = r.value.as_deref().and_then(stamp_of)
                    {
                        hist.record((now.saturating_sub(sent) / 1000).max(1))?;
                    }
                }
            }
            consumer.close().await?;
            Ok(hist)
        });
        let mut buf = BytesMut::new();
        let start = Instant::now();
        let mut tick = tokio::time::interval(Duration::from_millis(1));
        let mut sent = 0u64;
        while sent < warmup + records {
            tick.tick().await;
            let due = ((start.elapsed().as_secs_f64() * rate as f64) as u64).min(warmup + records);
            while sent < due {
                let value = stamped(&pool[(sent % pool.len() as u64) as usize], epoch, &mut buf);
                drop(
                    producer
                        .send(ProducerRecord::new(topic_name.clone()).with_value(value))
                        .await?,
                );
                sent += 1;
            }
        }
        hist = consumer_task.await??;
    }
    let secs = t0.elapsed().as_secs_f64();
    producer.close(Duration::from_secs(30)).await?;
    Ok(ChildReport {
        records,
        bytes: records * size as u64,
        secs,
        latency: Some(Percentiles::from_histogram(&hist)),
        ..ChildReport::default()
    })
}

/// `scale`: sends `records` values with an 8-byte counter as the key (murmur2 spreads
/// the keys uniformly over the partitions), the first one outside the clock.
pub async fn produce_keyed(
    bootstrap: &str,
    topic: &str,
    records: u64,
    size: usize,
    s: &ProducerSettings,
) -> Result<ChildReport, BoxError> {
    let pool = payload::pool(size);
    let producer = producer(bootstrap, s)?;
    let topic: Arc<str> = topic.into();
    let keyed = |i: u64, value: Bytes| {
        ProducerRecord::new(topic.clone())
            .with_key(Bytes::copy_from_slice(&i.to_be_bytes()))
            .with_value(value)
    };
    producer
        .send_and_wait(keyed(u64::MAX, pool[0].clone()))
        .await?;
    let t0 = Instant::now();
    for i in 0..records {
        let value = pool[(i % pool.len() as u64) as usize].clone();
        drop(producer.send(keyed(i, value)).await?);
    }
    producer.flush().await;
    let secs = t0.elapsed().as_secs_f64();
    let stats = producer.stats();
    // For profiling by hand (the harness keeps a child's standard error only on failure).
    eprintln!(
        "produce_keyed: {} Produce requests, {} batches ({:.1} per request, {:.1} records each)",
        stats.produce_requests,
        stats.batches_sent,
        stats.batches_sent as f64 / stats.produce_requests.max(1) as f64,
        stats.records_sent as f64 / stats.batches_sent.max(1) as f64,
    );
    producer.close(Duration::from_secs(60)).await?;
    Ok(ChildReport {
        records,
        bytes: records * size as u64,
        secs,
        requests: Some(stats.produce_requests),
        ..ChildReport::default()
    })
}

/// `scale`: one group member of a fresh group on `topic`. With `records` > 0: from the
/// earliest offset, the time to the first record and then `secs` from the first record to
/// the last. With 0: from the end (no record comes), polling the idle partitions for
/// `idle_secs` once all `partitions` are assigned, then the resident memory.
pub async fn scale_consume(
    bootstrap: &str,
    topic: &str,
    partitions: i32,
    group: &str,
    records: u64,
    sessions: bool,
    idle_secs: u64,
) -> Result<ChildReport, BoxError> {
    let consumer = Consumer::builder()
        .bootstrap_servers([bootstrap])
        .group_id(group)
        .auto_offset_reset(if records == 0 {
            AutoOffsetReset::Latest
        } else {
            AutoOffsetReset::Earliest
        })
        .enable_auto_commit(false)
        .max_buffered_bytes(CONSUMER_PREFETCH_BYTES)
        .fetch_sessions(sessions)
        .build()?;
    let t0 = Instant::now();
    consumer.subscribe([topic])?;
    if records == 0 {
        let deadline = Instant::now() + Duration::from_secs(300);
        while consumer.assignment().len() < partitions as usize {
            if Instant::now() > deadline {
                return Err(format!(
                    "{} of {partitions} partitions assigned after 300 s",
                    consumer.assignment().len()
                )
                .into());
            }
            drop(consumer.poll(Duration::from_millis(200)).await?);
        }
        let assigned = t0.elapsed().as_secs_f64();
        let idle_until = Instant::now() + Duration::from_secs(idle_secs);
        while Instant::now() < idle_until {
            drop(consumer.poll(Duration::from_millis(500)).await?);
        }
        let rss = crate::rusage::current_rss_mib();
        consumer.close().await?;
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
        let batch = consumer.poll(Duration::from_secs(1)).await?;
        if let Some(e) = batch.errors().first() {
            return Err(e.clone().into_error().into());
        }
        if batch.is_empty() {
            if last.elapsed() > Duration::from_secs(120) {
                return Err(format!("stalled at {n} of {records} records").into());
            }
            continue;
        }
        last = Instant::now();
        first.get_or_insert(last);
        for r in batch.records() {
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
    consumer.close().await?;
    Ok(report)
}
