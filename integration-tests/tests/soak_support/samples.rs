//! The test process sampled every 10 s: resident memory (`VmRSS` of
//! `/proc/self/status`) and open file descriptors (entries of `/proc/self/fd`), and the
//! least-squares slope of each over the run.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use tokio::time::Instant;

use super::sleep_until_or_done;

/// One sample.
#[derive(Debug, Clone, Copy)]
pub struct Sample {
    /// Seconds since the soak started.
    pub at: f64,
    /// Resident set size, KiB.
    pub rss_kib: u64,
    /// Open file descriptors.
    pub fds: u64,
}

/// The process now, `None` off Linux.
pub fn sample(start: Instant) -> Option<Sample> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let rss_kib = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    let fds = std::fs::read_dir("/proc/self/fd").ok()?.count() as u64;
    Some(Sample {
        at: start.elapsed().as_secs_f64(),
        rss_kib,
        fds,
    })
}

/// Samples every `every` until `done`; returns the samples.
pub async fn run_sampler(start: Instant, every: Duration, done: Arc<AtomicBool>) -> Vec<Sample> {
    let mut out = Vec::with_capacity(512);
    let mut k = 0u32;
    while !done.load(std::sync::atomic::Ordering::Relaxed) {
        if let Some(s) = sample(start) {
            out.push(s);
        }
        k += 1;
        sleep_until_or_done(start + every * k, &done).await;
    }
    out
}

/// The least-squares line through `(x, y)`: `(slope, mean of y)`; `None` with fewer
/// than two distinct x.
pub fn least_squares(points: &[(f64, f64)]) -> Option<(f64, f64)> {
    let n = points.len() as f64;
    if points.len() < 2 {
        return None;
    }
    let mx = points.iter().map(|p| p.0).sum::<f64>() / n;
    let my = points.iter().map(|p| p.1).sum::<f64>() / n;
    let sxx: f64 = points.iter().map(|p| (p.0 - mx).powi(2)).sum();
    let sxy: f64 = points.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    (sxx > 0.0).then(|| (sxy / sxx, my))
}

/// Slopes per hour over the samples at or after `warmup`.
#[derive(Debug, Clone, Copy)]
pub struct Slopes {
    /// Samples used.
    pub samples: usize,
    /// Hours they span.
    pub hours: f64,
    /// RSS slope, MiB per hour, and mean RSS, MiB.
    pub rss_mib_per_hour: f64,
    /// Mean RSS over the window, MiB.
    pub rss_mean_mib: f64,
    /// First and last RSS of the window, MiB.
    pub rss_first_last_mib: (f64, f64),
    /// Highest RSS of the whole run, MiB.
    pub rss_peak_mib: f64,
    /// Descriptor slope per hour.
    pub fds_per_hour: f64,
    /// Mean descriptors over the window.
    pub fds_mean: f64,
    /// Fewest and most descriptors over the window.
    pub fds_min_max: (u64, u64),
}

/// The slopes of `samples` after `warmup`.
pub fn slopes(samples: &[Sample], warmup: Duration) -> Option<Slopes> {
    let window: Vec<&Sample> = samples
        .iter()
        .filter(|s| s.at >= warmup.as_secs_f64())
        .collect();
    let hours = |s: &Sample| s.at / 3600.0;
    let mib = |s: &Sample| s.rss_kib as f64 / 1024.0;
    let rss: Vec<(f64, f64)> = window.iter().map(|s| (hours(s), mib(s))).collect();
    let fds: Vec<(f64, f64)> = window.iter().map(|s| (hours(s), s.fds as f64)).collect();
    let (rss_slope, rss_mean) = least_squares(&rss)?;
    let (fd_slope, fd_mean) = least_squares(&fds)?;
    Some(Slopes {
        samples: window.len(),
        hours: (window.last()?.at - window.first()?.at) / 3600.0,
        rss_mib_per_hour: rss_slope,
        rss_mean_mib: rss_mean,
        rss_first_last_mib: (mib(window.first()?), mib(window.last()?)),
        rss_peak_mib: samples.iter().map(mib).fold(0.0, f64::max),
        fds_per_hour: fd_slope,
        fds_mean: fd_mean,
        fds_min_max: (
            window.iter().map(|s| s.fds).min()?,
            window.iter().map(|s| s.fds).max()?,
        ),
    })
}

/// The 1-, 5- and 15-minute load averages (`/proc/loadavg`).
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}
