//! Client child processes: the harness runs every measured client as a child pinned to
//! the client core (`taskset -c 1`), so its CPU time and peak RSS come from the kernel's
//! accounting of that process alone (`wait4`). Our client and rdkafka run as this same
//! binary in `client` mode (`kafka-bench client '<job json>'`), printing one JSON
//! [`ChildReport`] line; Java runs its tools directly.

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::broker::CLIENT_CORE;
use crate::null_broker::NullBroker;
use crate::rusage::{self, Usage};
use crate::spec::{ChildReport, ClientKind, Job, ProducerSettings};
use crate::{krafka_client, rdkafka_client, sdk_client};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A finished child: what it printed and what it used.
#[derive(Debug)]
pub struct Finished {
    /// Standard output.
    pub stdout: String,
    /// Standard error (the tail, for error messages).
    pub stderr: String,
    /// CPU, peak RSS, wall time.
    pub usage: Usage,
}

/// Runs `cmd` pinned to the client core and waits for it, with a time limit.
pub fn run_pinned(cmd: &Command, limit: Duration) -> Result<Finished, BoxError> {
    let mut pinned = Command::new("taskset");
    pinned
        .args(["-c", &CLIENT_CORE.to_string()])
        .arg(cmd.get_program())
        .args(cmd.get_args())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(dir) = cmd.get_current_dir() {
        pinned.current_dir(dir);
    }
    let started = Instant::now();
    let mut child = pinned.spawn()?;
    // Drain both pipes on threads so a chatty child never blocks on a full pipe.
    let mut out = child.stdout.take().ok_or("stdout")?;
    let mut err = child.stderr.take().ok_or("stderr")?;
    let out_t = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = out.read_to_string(&mut s);
        s
    });
    let err_t = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });
    // A watchdog kills a child that overruns its limit (then wait4 returns).
    let pid = child.id();
    let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
    std::thread::spawn(move || {
        if done_rx.recv_timeout(limit).is_err() {
            let _ = kafka_testbed::send_signal(pid, "KILL");
        }
    });
    // Peak RSS: the last `VmHWM` read while the child runs (see `rusage::peak_rss_poller`).
    let rss = rusage::peak_rss_poller(pid);
    let mut usage = rusage::wait_child(&child, started)?;
    let _ = done_tx.send(());
    usage.peak_rss_mib = rss.finish().unwrap_or(usage.peak_rss_mib);
    let stdout = out_t.join().unwrap_or_default();
    let stderr = err_t.join().unwrap_or_default();
    Ok(Finished {
        stdout,
        stderr,
        usage,
    })
}

/// The command that runs `job` with `client` (ours or rdkafka) in a child.
pub fn client_command(client: ClientKind, job: &Job) -> Result<Command, BoxError> {
    let mut c = Command::new(std::env::current_exe()?);
    c.arg("client")
        .arg(serde_json::to_string(&client)?)
        .arg(serde_json::to_string(job)?);
    Ok(c)
}

/// Parses the last JSON line of a client child's output.
pub fn parse_report(f: &Finished) -> Result<ChildReport, BoxError> {
    let line = f
        .stdout
        .lines()
        .rev()
        .find(|l| l.starts_with('{'))
        .ok_or_else(|| {
            format!(
                "the client printed no report (exit {:?}): {}",
                f.usage.exit_code,
                tail(&f.stderr, 15)
            )
        })?;
    Ok(serde_json::from_str(line)?)
}

/// The last `n` lines of `s`.
pub fn tail(s: &str, n: usize) -> String {
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// `client` mode: runs one job in this process and prints its report.
pub fn client_main(client: &str, job: &str) -> Result<(), BoxError> {
    let client: ClientKind = serde_json::from_str(client)?;
    let job: Job = serde_json::from_str(job)?;
    let report = match client {
        ClientKind::Sdk => tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()?
            .block_on(sdk_job(job))?,
        ClientKind::Rdkafka => rdkafka_job(job)?,
        ClientKind::Krafka => tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()?
            .block_on(krafka_job(job))?,
        ClientKind::Java => return Err("Java runs its own tools, not this binary".into()),
    };
    println!("{}", serde_json::to_string(&report)?);
    Ok(())
}

async fn sdk_job(job: Job) -> Result<ChildReport, BoxError> {
    match job {
        Job::Produce {
            bootstrap,
            topic,
            records,
            size,
            settings,
        } => sdk_client::produce(&bootstrap, &topic, records, size, &settings).await,
        Job::Consume {
            bootstrap,
            topic,
            partitions,
            records,
            ..
        } => sdk_client::consume(&bootstrap, &topic, partitions, records).await,
        Job::Latency {
            bootstrap,
            topic,
            rate,
            records,
            warmup,
            size,
            settings,
        } => sdk_client::latency(&bootstrap, &topic, rate, records, warmup, size, &settings).await,
        Job::ShareConsume {
            bootstrap,
            topic,
            group,
            members,
            records,
        } => crate::share_consume::ours(&bootstrap, &topic, &group, members, records).await,
        Job::ScaleProduce {
            bootstrap,
            topic,
            records,
            size,
            settings,
        } => sdk_client::produce_keyed(&bootstrap, &topic, records, size, &settings).await,
        Job::ScaleConsume {
            bootstrap,
            topic,
            partitions,
            group,
            records,
            sessions,
            idle_secs,
        } => {
            sdk_client::scale_consume(
                &bootstrap, &topic, partitions, &group, records, sessions, idle_secs,
            )
            .await
        }
        Job::NullBroker {
            records,
            size,
            partitions,
            handle,
            keyed,
            codec,
        } => null_broker_job(records, size, partitions, handle, keyed, codec).await,
        Job::NullConsume {
            records,
            size,
            partitions,
            batch_records,
            codec,
            handle,
        } => null_consume_job(records, size, partitions, batch_records, codec, handle).await,
    }
}

fn rdkafka_job(job: Job) -> Result<ChildReport, BoxError> {
    match job {
        Job::Produce {
            bootstrap,
            topic,
            records,
            size,
            settings,
        } => rdkafka_client::produce(&bootstrap, &topic, records, size, &settings),
        Job::Consume {
            bootstrap,
            topic,
            partitions,
            records,
            ..
        } => rdkafka_client::consume(&bootstrap, &topic, partitions, records),
        Job::Latency {
            bootstrap,
            topic,
            rate,
            records,
            warmup,
            size,
            settings,
        } => rdkafka_client::latency(&bootstrap, &topic, rate, records, warmup, size, &settings),
        Job::NullBroker { .. } | Job::NullConsume { .. } => {
            Err("the null broker measures our client only".into())
        }
        Job::ShareConsume { .. } => Err("rdkafka has no share consumer".into()),
        Job::ScaleProduce {
            bootstrap,
            topic,
            records,
            size,
            settings,
        } => rdkafka_client::produce_keyed(&bootstrap, &topic, records, size, &settings),
        Job::ScaleConsume {
            bootstrap,
            topic,
            partitions,
            group,
            records,
            idle_secs,
            ..
        } => rdkafka_client::scale_consume(
            &bootstrap, &topic, partitions, &group, records, idle_secs,
        ),
    }
}

async fn krafka_job(job: Job) -> Result<ChildReport, BoxError> {
    match job {
        Job::Produce {
            bootstrap,
            topic,
            records,
            size,
            settings,
        } => krafka_client::produce(&bootstrap, &topic, records, size, &settings).await,
        Job::Consume {
            bootstrap,
            topic,
            partitions,
            records,
            size,
        } => krafka_client::consume(&bootstrap, &topic, partitions, records, size).await,
        Job::ScaleProduce {
            bootstrap,
            topic,
            records,
            size,
            settings,
        } => krafka_client::produce_keyed(&bootstrap, &topic, records, size, &settings).await,
        Job::ScaleConsume {
            bootstrap,
            topic,
            partitions,
            group,
            records,
            idle_secs,
            ..
        } => {
            krafka_client::scale_consume(&bootstrap, &topic, partitions, &group, records, idle_secs)
                .await
        }
        _ => Err("krafka runs the producer, consumer and scale jobs only".into()),
    }
}

/// Our consumer against the in-process null broker, which answers every Fetch with the
/// same batches (1 MiB per partition, like `max.partition.fetch.bytes`); CPU as for
/// [`null_broker_job`].
async fn null_consume_job(
    records: u64,
    size: usize,
    partitions: i32,
    batch_records: usize,
    codec: crate::spec::Codec,
    handle: crate::spec::Handle,
) -> Result<ChildReport, BoxError> {
    let compression = crate::sdk_client::compression(codec);
    let template =
        crate::null_broker::FetchTemplate::new(size, batch_records, 1 << 20, compression)?;
    let sink =
        NullBroker::start_with(partitions, Some(crate::broker::BROKER_CORE), Some(template))?;
    let bootstrap = sink.addr.to_string();
    let cpu0 = rusage::process_cpu();
    let mut report =
        sdk_client::consume_with(&bootstrap, "null-topic", partitions, records, handle).await?;
    let requests = sink
        .counters
        .fetch_requests
        .load(std::sync::atomic::Ordering::Relaxed);
    let sink_cpu = sink.stop();
    let cpu = rusage::process_cpu()
        .saturating_sub(cpu0)
        .saturating_sub(sink_cpu);
    report.client_cpu_secs = Some(cpu.as_secs_f64());
    report.requests = Some(requests);
    Ok(report)
}

/// Our producer against the in-process null broker: the sink's thread is moved to the
/// broker core, the client stays on the client core, and the sink's CPU time is taken
/// out of the process's.
async fn null_broker_job(
    records: u64,
    size: usize,
    partitions: i32,
    handle: crate::spec::Handle,
    keyed: bool,
    codec: crate::spec::Codec,
) -> Result<ChildReport, BoxError> {
    let sink = NullBroker::start(partitions, Some(crate::broker::BROKER_CORE))?;
    let bootstrap = sink.addr.to_string();
    let cpu0 = rusage::process_cpu();
    // Idempotent, as the settings (the sink answers InitProducerId).
    let settings = ProducerSettings::standard(codec, true);
    let mut report = if keyed {
        sdk_client::produce_keyed(&bootstrap, "null-topic", records, size, &settings).await?
    } else {
        sdk_client::produce_with(&bootstrap, "null-topic", records, size, &settings, handle).await?
    };
    let requests = sink
        .counters
        .produce_requests
        .load(std::sync::atomic::Ordering::Relaxed);
    let sink_cpu = sink.stop();
    let cpu = rusage::process_cpu()
        .saturating_sub(cpu0)
        .saturating_sub(sink_cpu);
    report.client_cpu_secs = Some(cpu.as_secs_f64());
    report.requests = Some(requests);
    Ok(report)
}
