//! Average and maximum over a sliding window, as the Java client's sampled stats
//! (`Avg`, `Max` over `metrics.num.samples` = 2 samples of `metrics.sample.window.ms` =
//! 30 s): the figures client telemetry (KIP-714) pushes as `….avg` / `….max` gauges, per
//! node for request latencies. Kept only for telemetry: a few adds under a short lock per
//! Produce or Fetch request or per batch, never per record.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// One sample's length (Java's `metrics.sample.window.ms` default).
const SAMPLE: Duration = Duration::from_secs(30);

#[derive(Debug, Clone, Copy)]
struct Sample {
    start: Instant,
    count: u64,
    total: f64,
    max: f64,
}

/// Avg and max of the values recorded in the current and the previous sample (so over
/// the last 30 to 60 s).
#[derive(Debug, Clone, Default)]
pub(crate) struct SampledStat {
    /// The previous and the current sample.
    samples: [Option<Sample>; 2],
}

impl SampledStat {
    pub(crate) fn record(&mut self, now: Instant, value: f64) {
        let current = match self.samples[1] {
            Some(s) if now.saturating_duration_since(s.start) < SAMPLE => s,
            old => {
                self.samples[0] = old;
                Sample {
                    start: now,
                    count: 0,
                    total: 0.0,
                    max: f64::NEG_INFINITY,
                }
            }
        };
        self.samples[1] = Some(Sample {
            count: current.count + 1,
            total: current.total + value,
            max: current.max.max(value),
            ..current
        });
    }

    /// `(avg, max)` over the samples not older than two sample lengths; `None` when
    /// nothing was recorded in them (Java's stats give NaN then; nothing is pushed).
    pub(crate) fn measure(&self, now: Instant) -> Option<(f64, f64)> {
        let (mut count, mut total, mut max) = (0u64, 0.0, f64::NEG_INFINITY);
        for s in self.samples.iter().flatten() {
            if now.saturating_duration_since(s.start) < 2 * SAMPLE {
                count += s.count;
                total += s.total;
                max = max.max(s.max);
            }
        }
        (count > 0).then(|| (total / count as f64, max))
    }
}

/// The windowed figures of one client.
#[derive(Debug, Default)]
pub(crate) struct Windows {
    /// Produce request latency (ms), by node id.
    pub produce_node_latency: Mutex<BTreeMap<i32, SampledStat>>,
    /// Fetch request latency (ms), by node id.
    pub fetch_node_latency: Mutex<BTreeMap<i32, SampledStat>>,
    /// Time batches waited in the accumulator before their Produce request (ms).
    pub record_queue_time: Mutex<SampledStat>,
    /// Fetch latency (ms), any broker.
    pub fetch_latency: Mutex<SampledStat>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

impl Windows {
    pub(crate) fn node_latency(&self, produce: bool, node: i32, latency: Duration) {
        let map = match produce {
            true => &self.produce_node_latency,
            false => &self.fetch_node_latency,
        };
        lock(map)
            .entry(node)
            .or_default()
            .record(Instant::now(), ms(latency));
    }

    pub(crate) fn queue_time(&self, waited: impl Iterator<Item = Duration>) {
        let now = Instant::now();
        let mut stat = lock(&self.record_queue_time);
        for w in waited {
            stat.record(now, ms(w));
        }
    }

    pub(crate) fn fetch(&self, latency: Duration) {
        lock(&self.fetch_latency).record(Instant::now(), ms(latency));
    }

    /// `(node, avg, max)` of each node with values in the window.
    pub(crate) fn nodes(&self, produce: bool, now: Instant) -> Vec<(i32, f64, f64)> {
        let map = match produce {
            true => &self.produce_node_latency,
            false => &self.fetch_node_latency,
        };
        lock(map)
            .iter()
            .filter_map(|(node, s)| s.measure(now).map(|(avg, max)| (*node, avg, max)))
            .collect()
    }

    pub(crate) fn queue_times(&self, now: Instant) -> Option<(f64, f64)> {
        lock(&self.record_queue_time).measure(now)
    }

    pub(crate) fn fetch_latencies(&self, now: Instant) -> Option<(f64, f64)> {
        lock(&self.fetch_latency).measure(now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn avg_and_max_over_the_last_two_samples() {
        let t0 = Instant::now();
        let mut s = SampledStat::default();
        assert_eq!(s.measure(t0), None, "nothing recorded: nothing to push");
        s.record(t0, 10.0);
        s.record(t0 + Duration::from_secs(1), 30.0);
        assert_eq!(s.measure(t0 + Duration::from_secs(2)), Some((20.0, 30.0)));
        // A new sample starts after 30 s; the first one still counts ...
        s.record(t0 + Duration::from_secs(31), 2.0);
        assert_eq!(s.measure(t0 + Duration::from_secs(32)), Some((14.0, 30.0)));
        // ... until it is two sample lengths old.
        assert_eq!(s.measure(t0 + Duration::from_secs(61)), Some((2.0, 2.0)));
        // And the second one ages out too.
        assert_eq!(s.measure(t0 + Duration::from_secs(92)), None);
        // A third sample drops the first.
        s.record(t0 + Duration::from_secs(62), 4.0);
        assert_eq!(s.measure(t0 + Duration::from_secs(63)), Some((3.0, 4.0)));
    }

    #[test]
    fn node_latencies_are_kept_per_node_and_role() {
        let w = Windows::default();
        w.node_latency(true, 1, Duration::from_millis(4));
        w.node_latency(true, 1, Duration::from_millis(8));
        w.node_latency(true, 2, Duration::from_millis(1));
        w.node_latency(false, 3, Duration::from_micros(1500));
        let now = Instant::now();
        assert_eq!(w.nodes(true, now), vec![(1, 6.0, 8.0), (2, 1.0, 1.0)]);
        assert_eq!(w.nodes(false, now), vec![(3, 1.5, 1.5)]);
        w.queue_time([Duration::from_millis(5), Duration::from_millis(1)].into_iter());
        assert_eq!(
            w.queue_times(now + Duration::from_secs(1)),
            Some((3.0, 5.0))
        );
        assert_eq!(w.fetch_latencies(now), None);
    }
}
