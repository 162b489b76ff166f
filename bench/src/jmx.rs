//! Request counts from the broker, the same way for every client: the broker's JMX
//! agent is started on demand (`jcmd <pid> ManagementAgent.start`), and Kafka's
//! `JmxTool` samples the `Count` of
//! `kafka.network:type=RequestMetrics,name=TotalTimeMs,request=Produce` (and
//! `request=FetchConsumer`) every 250 ms for the whole run, and `Count` and `Mean` of
//! `name=RequestBytes,request=FetchConsumer` (Yammer's `Mean` is the exact running
//! sum ÷ count, so Mean × Count is every consumer Fetch request's bytes so far), and the
//! same for `request=Produce` (the bytes producers put on the wire, for the compression
//! ratios). A
//! run's requests are the difference between the last sample before it started and the
//! first sample taken after it ended (runs are sequential and nothing else produces in
//! between).

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

const PRODUCE: &str = "kafka.network:type=RequestMetrics,name=TotalTimeMs,request=Produce";
const FETCH: &str = "kafka.network:type=RequestMetrics,name=TotalTimeMs,request=FetchConsumer";
const FETCH_BYTES: &str =
    "kafka.network:type=RequestMetrics,name=RequestBytes,request=FetchConsumer";
const PRODUCE_BYTES: &str = "kafka.network:type=RequestMetrics,name=RequestBytes,request=Produce";

/// One sample: (unix ms, counts).
type Sample = (u64, Counts);

/// The running sampler.
#[derive(Debug)]
pub struct RequestCounter {
    child: Child,
    samples: Arc<Mutex<Vec<Sample>>>,
}

/// Counts at one moment.
#[derive(Clone, Copy, Debug, Default)]
pub struct Counts {
    /// Produce requests so far.
    pub produce: u64,
    /// Consumer Fetch requests so far.
    pub fetch: u64,
    /// Bytes of every consumer Fetch request so far (request bodies, as the broker
    /// counts them).
    pub fetch_request_bytes: f64,
    /// Bytes of every Produce request so far (what the producers put on the wire:
    /// compressed batches plus request framing).
    pub produce_request_bytes: f64,
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

impl RequestCounter {
    /// Opens the broker's JMX port and starts `JmxTool` (pinned with `taskset` to
    /// `core`, the broker's).
    pub fn start(broker_pid: u32, tools_cp: &str, core: usize) -> Result<Self, BoxError> {
        let port = kafka_testbed::free_ports(1)?[0];
        let out = Command::new("jcmd")
            .arg(broker_pid.to_string())
            .arg("ManagementAgent.start")
            .arg(format!("jmxremote.port={port}"))
            .arg(format!("jmxremote.rmi.port={port}"))
            .arg("jmxremote.authenticate=false")
            .arg("jmxremote.ssl=false")
            .arg("jmxremote.host=127.0.0.1")
            .stdin(Stdio::null())
            .output()?;
        if !out.status.success() {
            return Err(format!(
                "jcmd ManagementAgent.start failed: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            )
            .into());
        }
        let url = format!("service:jmx:rmi:///jndi/rmi://127.0.0.1:{port}/jmxrmi");
        let mut child = Command::new("taskset")
            .args(["-c", &core.to_string()])
            .arg(kafka_testbed::jars::java_binary()?)
            .args(["-Xmx64m", "-XX:TieredStopAtLevel=1", "-cp", tools_cp])
            .arg("org.apache.kafka.tools.JmxTool")
            .args(["--jmx-url", &url])
            .args(["--object-name", PRODUCE, "--object-name", FETCH])
            .args(["--object-name", FETCH_BYTES, "--object-name", PRODUCE_BYTES])
            .args(["--attributes", "Count,Mean", "--reporting-interval", "250"])
            .args(["--wait"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()?;
        let stdout = child.stdout.take().ok_or("JmxTool stdout")?;
        let samples = Arc::new(Mutex::new(Vec::new()));
        let s = samples.clone();
        std::thread::spawn(move || {
            // The header quotes the object names (which hold commas) with their
            // attribute (`...:Count`); data lines are `time,value,...` in the header's order.
            let mut cols: Option<[usize; 6]> = None;
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if line.starts_with("\"time\"") {
                    let names: Vec<&str> = line.trim_matches('"').split("\",\"").collect();
                    let at = |suffix: &str| names.iter().position(|n| n.ends_with(suffix));
                    cols = (|| {
                        Some([
                            at("name=TotalTimeMs,request=Produce:Count")?,
                            at("name=TotalTimeMs,request=FetchConsumer:Count")?,
                            at("name=RequestBytes,request=FetchConsumer:Count")?,
                            at("name=RequestBytes,request=FetchConsumer:Mean")?,
                            at("name=RequestBytes,request=Produce:Count")?,
                            at("name=RequestBytes,request=Produce:Mean")?,
                        ])
                    })();
                    continue;
                }
                let Some([p, f, bc, bm, pc, pm]) = cols else {
                    continue;
                };
                let fields: Vec<&str> = line.split(',').collect();
                let num = |i: usize| fields.get(i).and_then(|v| v.trim().parse::<f64>().ok());
                if let (Some(p), Some(f)) = (num(p), num(f)) {
                    let bytes = num(bc).zip(num(bm)).map_or(0.0, |(c, m)| c * m);
                    let produce_bytes = num(pc).zip(num(pm)).map_or(0.0, |(c, m)| c * m);
                    // Stamped on arrival: JmxTool queries and prints at once.
                    s.lock().unwrap_or_else(|e| e.into_inner()).push((
                        now_ms(),
                        Counts {
                            produce: p as u64,
                            fetch: f as u64,
                            fetch_request_bytes: bytes,
                            produce_request_bytes: produce_bytes,
                        },
                    ));
                }
            }
        });
        let counter = RequestCounter { child, samples };
        counter.wait_sample_after(now_ms(), Duration::from_secs(60))?;
        Ok(counter)
    }

    /// The counts of the first sample taken after unix time `after_ms`.
    fn wait_sample_after(&self, after_ms: u64, timeout: Duration) -> Result<Counts, BoxError> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(&(_, counts)) = self
                .samples
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .iter()
                .find(|s| s.0 > after_ms)
            {
                return Ok(counts);
            }
            if Instant::now() > deadline {
                return Err("JmxTool gave no sample (is the broker's JMX agent up?)".into());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The counts now (the next sample), for the start or the end of a run.
    pub fn counts(&self) -> Result<Counts, BoxError> {
        self.wait_sample_after(now_ms() + 20, Duration::from_secs(10))
    }

    /// Stops `JmxTool`.
    pub fn stop(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
