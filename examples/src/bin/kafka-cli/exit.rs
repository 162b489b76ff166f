//! Failures and the exit codes they map to.

use std::process::ExitCode;

/// Why the command failed, deciding its exit code.
#[derive(Debug)]
pub enum Failure {
    /// Bad arguments (exit 2).
    Usage(String),
    /// The cluster could not be reached, or refused us (exit 3).
    Unreachable(String),
    /// The cluster answered, and an operation or some of its items failed (exit 1).
    Failed(String),
}

impl Failure {
    /// Prints the failure to stderr and returns its exit code.
    pub fn report(self) -> ExitCode {
        let (code, msg) = match self {
            Failure::Usage(m) => (2, m),
            Failure::Unreachable(m) => (3, m),
            Failure::Failed(m) => (1, m),
        };
        eprintln!("kafka-cli: {msg}");
        ExitCode::from(code)
    }
}

impl From<kafka_client::Error> for Failure {
    fn from(e: kafka_client::Error) -> Self {
        use kafka_client::Error as E;
        match e {
            E::Bootstrap { .. } | E::Connect { .. } | E::Authentication { .. } | E::Tls { .. } => {
                Failure::Unreachable(e.to_string())
            }
            E::Config(m) => Failure::Usage(m),
            other => Failure::Failed(other.to_string()),
        }
    }
}

/// Prints each item's failure to stderr; returns `Err` when any item failed.
pub fn check_items<K: std::fmt::Display, T>(
    what: &str,
    results: impl IntoIterator<Item = (K, Result<T, kafka_client::Error>)>,
    mut on_ok: impl FnMut(&K, T),
) -> Result<(), Failure> {
    let mut failed = 0usize;
    for (key, result) in results {
        match result {
            Ok(v) => on_ok(&key, v),
            Err(e) => {
                failed += 1;
                eprintln!("{what} {key}: {e}");
            }
        }
    }
    if failed == 0 {
        Ok(())
    } else {
        Err(Failure::Failed(format!("{failed} {what}(s) failed")))
    }
}
