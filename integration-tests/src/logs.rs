//! Broker-log tails, the registry of live clusters' logs and the panic hook that prints
//! them when a test fails.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, Once, TryLockError};

/// Lines of each broker log printed when a test panics.
pub const PANIC_TAIL_LINES: usize = 60;

/// The last `lines` lines of a file (empty if it does not exist). Reads at most the
/// last 512 KiB.
pub fn tail_file(path: &Path, lines: usize) -> String {
    const MAX: u64 = 512 * 1024;
    let Ok(mut file) = File::open(path) else {
        return String::new();
    };
    let len = file.metadata().map(|m| m.len()).unwrap_or(0);
    let start = len.saturating_sub(MAX);
    if file.seek(SeekFrom::Start(start)).is_err() {
        return String::new();
    }
    let mut buf = Vec::new();
    if file.read_to_end(&mut buf).is_err() {
        return String::new();
    }
    tail_str(&String::from_utf8_lossy(&buf), lines)
}

/// The last `lines` lines of `text`.
pub(crate) fn tail_str(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// One node's log files.
#[derive(Debug, Clone)]
pub(crate) struct NodeLogs {
    pub(crate) id: i32,
    pub(crate) broker_log: PathBuf,
    pub(crate) jvm_out: PathBuf,
}

/// Tail of every node's broker log (and JVM output, if any), with headers.
pub(crate) fn report(title: &str, nodes: &[NodeLogs], lines: usize) -> String {
    let mut out = format!("==== {title} (last {lines} lines per node) ====\n");
    for node in nodes {
        out.push_str(&format!(
            "---- node {} {} ----\n{}\n",
            node.id,
            node.broker_log.display(),
            tail_file(&node.broker_log, lines)
        ));
        let jvm = tail_file(&node.jvm_out, lines.min(20));
        if !jvm.trim().is_empty() {
            out.push_str(&format!(
                "---- node {} JVM output {} ----\n{jvm}\n",
                node.id,
                node.jvm_out.display()
            ));
        }
    }
    out
}

#[derive(Debug)]
struct Registered {
    key: u64,
    dir: PathBuf,
    nodes: Vec<NodeLogs>,
}

static REGISTRY: Mutex<Vec<Registered>> = Mutex::new(Vec::new());

/// Records a live cluster's logs (and installs the panic hook); returns the key for
/// [`unregister`].
pub(crate) fn register(dir: &Path, nodes: Vec<NodeLogs>) -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    install_panic_hook();
    crate::trace::trace_client_if_set(crate::trace::TEST_TRACE_ENV);
    let key = NEXT.fetch_add(1, Ordering::Relaxed);
    lock_registry().push(Registered {
        key,
        dir: dir.to_owned(),
        nodes,
    });
    key
}

/// Forgets a cluster (it was dropped or detached).
pub(crate) fn unregister(key: u64) {
    lock_registry().retain(|r| r.key != key);
}

fn lock_registry() -> std::sync::MutexGuard<'static, Vec<Registered>> {
    REGISTRY
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The log tails of every live (started, not yet dropped) cluster in this process: what
/// the panic hook prints. Empty if there is none.
pub fn live_cluster_log_report(lines: usize) -> String {
    // `try_lock`: the hook may run on a thread that panicked while holding the lock.
    let registry = match REGISTRY.try_lock() {
        Ok(guard) => guard,
        Err(TryLockError::Poisoned(p)) => p.into_inner(),
        Err(TryLockError::WouldBlock) => return String::new(),
    };
    registry
        .iter()
        .map(|r| {
            report(
                &format!(
                    "kafka-testbed: broker logs of live cluster {}",
                    r.dir.display()
                ),
                &r.nodes,
                lines,
            )
        })
        .collect()
}

/// Installs (once) a panic hook that runs the previous hook, then prints
/// [`live_cluster_log_report`] to stderr (captured per test by the test harness).
pub fn install_panic_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            previous(info);
            let report = live_cluster_log_report(PANIC_TAIL_LINES);
            if !report.is_empty() {
                eprintln!("{report}");
            }
        }));
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tails_keep_the_last_lines() {
        assert_eq!(tail_str("a\nb\nc\n", 2), "b\nc");
        assert_eq!(tail_str("a", 5), "a");
        assert_eq!(tail_str("", 5), "");
        assert_eq!(tail_file(Path::new("/nonexistent/x.log"), 5), "");
    }

    #[test]
    fn registry_reports_until_unregistered() {
        let dir = std::env::temp_dir().join(format!("kafka-testbed-logs-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let log = dir.join("broker.log");
        std::fs::write(&log, "first\nsecond marker-line\n").unwrap();
        let key = register(
            &dir,
            vec![NodeLogs {
                id: 7,
                broker_log: log,
                jvm_out: dir.join("jvm.out"),
            }],
        );
        let report = live_cluster_log_report(1);
        assert!(report.contains("second marker-line"), "{report}");
        assert!(!report.contains("first"), "{report}");
        assert!(report.contains("node 7"), "{report}");
        unregister(key);
        assert!(!live_cluster_log_report(1).contains("marker-line"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
