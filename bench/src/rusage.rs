//! Resource use of a child process (CPU and peak RSS from `wait4(2)`) and of a thread
//! (`getrusage(RUSAGE_THREAD)`).
//!
//! Why `libc` and `unsafe`: the standard library's `Child::wait` drops the kernel's
//! rusage; `wait4` returns the CPU times (user and system, every thread) of the child
//! after its last thread ended, which `/proc/<pid>/stat` can no longer give then.
//!
//! Peak RSS is *not* taken from `ru_maxrss`: when a child is spawned with `vfork` (as
//! `std::process::Command` does) and then `exec`s, the kernel folds the *parent's*
//! high-water mark into the child's `ru_maxrss`. Instead [`peak_rss_poller`] reads the
//! child's own `VmHWM` from `/proc/<pid>/status` every 20 ms while it runs; `VmHWM` is
//! itself a high-water mark, so the last read misses at most the final 20 ms.
#![allow(unsafe_code)]

use std::process::Child;
use std::time::{Duration, Instant};

/// What a finished child used.
#[derive(Clone, Copy, Debug, Default)]
pub struct Usage {
    /// User CPU seconds, all threads.
    pub user_secs: f64,
    /// System CPU seconds, all threads.
    pub sys_secs: f64,
    /// Peak resident set size in MiB (replaced by the `VmHWM` poller's figure).
    pub peak_rss_mib: f64,
    /// Wall-clock seconds from spawn to exit.
    pub wall_secs: f64,
    /// Exit code (None when killed by a signal).
    pub exit_code: Option<i32>,
}

impl Usage {
    /// User + system CPU seconds.
    pub fn cpu_secs(&self) -> f64 {
        self.user_secs + self.sys_secs
    }
}

fn secs(tv: libc::timeval) -> f64 {
    tv.tv_sec as f64 + tv.tv_usec as f64 / 1e6
}

/// Waits for `child` (spawned at `started`) and returns what it used. The child is
/// reaped here, so `Child::wait` must not be called on it afterwards.
pub fn wait_child(child: &Child, started: Instant) -> std::io::Result<Usage> {
    let pid = child.id() as libc::pid_t;
    let mut status: libc::c_int = 0;
    // SAFETY: `rusage` is plain old data that the kernel fills; zeroed is a valid value.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: valid pointers to locals; `pid` is our own unreaped child.
        let r = unsafe { libc::wait4(pid, &mut status, 0, &mut ru) };
        if r == pid {
            break;
        }
        let err = std::io::Error::last_os_error();
        if err.kind() != std::io::ErrorKind::Interrupted {
            return Err(err);
        }
    }
    let exit_code = libc::WIFEXITED(status).then(|| libc::WEXITSTATUS(status));
    Ok(Usage {
        user_secs: secs(ru.ru_utime),
        sys_secs: secs(ru.ru_stime),
        peak_rss_mib: ru.ru_maxrss as f64 / 1024.0,
        wall_secs: started.elapsed().as_secs_f64(),
        exit_code,
    })
}

/// Reads a child's `VmHWM` until [`RssPoller::finish`].
#[derive(Debug)]
pub struct RssPoller {
    stop: std::sync::mpsc::Sender<()>,
    thread: std::thread::JoinHandle<Option<f64>>,
}

impl RssPoller {
    /// Stops polling; the last `VmHWM` read, in MiB.
    pub fn finish(self) -> Option<f64> {
        let _ = self.stop.send(());
        self.thread.join().ok().flatten()
    }
}

fn vm_hwm_mib(pid: u32) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kib: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()?;
    Some(kib / 1024.0)
}

/// Starts polling `pid`'s `VmHWM`. The last successful read wins (not the largest: the
/// first reads may still see the pre-`exec` image).
pub fn peak_rss_poller(pid: u32) -> RssPoller {
    let (stop, rx) = std::sync::mpsc::channel::<()>();
    let thread = std::thread::spawn(move || {
        let mut last = None;
        loop {
            if let Some(v) = vm_hwm_mib(pid) {
                last = Some(v);
            }
            match rx.recv_timeout(Duration::from_millis(20)) {
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
                _ => return last,
            }
        }
    });
    RssPoller { stop, thread }
}

/// CPU time (user + system) of the calling thread.
pub fn thread_cpu() -> Duration {
    // SAFETY: as above; RUSAGE_THREAD fills the struct for the calling thread.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: valid pointer to a local.
    let r = unsafe { libc::getrusage(libc::RUSAGE_THREAD, &mut ru) };
    if r != 0 {
        return Duration::ZERO;
    }
    Duration::from_secs_f64(secs(ru.ru_utime) + secs(ru.ru_stime))
}

/// CPU time (user + system) of this whole process so far.
pub fn process_cpu() -> Duration {
    // SAFETY: as above.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: valid pointer to a local.
    let r = unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    if r != 0 {
        return Duration::ZERO;
    }
    Duration::from_secs_f64(secs(ru.ru_utime) + secs(ru.ru_stime))
}

/// This process's resident set size now (`VmRSS` of `/proc/self/status`), MiB.
pub fn current_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let kib: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kib / 1024.0)
}
