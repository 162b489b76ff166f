//! [`KafkaVersion`]: which Apache Kafka the test bed runs (`KAFKA_VERSION`, default
//! [`DEFAULT_KAFKA_VERSION`]), and [`kafka_at_least`] for tests that need a newer broker.

use std::fmt;
use std::str::FromStr;

/// The Apache Kafka version the test bed runs unless `KAFKA_VERSION` says otherwise.
pub const DEFAULT_KAFKA_VERSION: &str = "4.4.0";

/// Environment variable selecting the Kafka version for this run, e.g. `KAFKA_VERSION=3.9.1`.
pub const VERSION_ENV: &str = "KAFKA_VERSION";

/// The versions CI tests: the default runs the full suite, the others a compatibility
/// subset (`scripts/test`). `dev-kafka fetch` resolves the jars of all of them.
pub const CI_VERSIONS: [&str; 4] = ["4.4.0", "4.1.1", "4.0.2", "3.9.1"];

/// An Apache Kafka release, `major.minor.patch`, ordered by version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct KafkaVersion {
    /// Major version (`4` in 4.1.1).
    pub major: u16,
    /// Minor version (`1` in 4.1.1).
    pub minor: u16,
    /// Patch version (the last `1` in 4.1.1).
    pub patch: u16,
}

impl KafkaVersion {
    /// A version from its three numbers.
    pub const fn new(major: u16, minor: u16, patch: u16) -> Self {
        Self {
            major,
            minor,
            patch,
        }
    }

    /// The version this run uses: `$KAFKA_VERSION` if set and non-empty, else
    /// [`DEFAULT_KAFKA_VERSION`].
    ///
    /// # Panics
    /// If `KAFKA_VERSION` is set to something that is not `major.minor.patch`: a typo must
    /// not silently test the default version instead.
    pub fn selected() -> Self {
        match std::env::var(VERSION_ENV) {
            Ok(v) if !v.trim().is_empty() => v.trim().parse().unwrap_or_else(|e| {
                panic!("kafka-testbed: {VERSION_ENV}={v:?} is not a Kafka version: {e}")
            }),
            _ => Self::default_version(),
        }
    }

    /// [`DEFAULT_KAFKA_VERSION`], parsed.
    pub fn default_version() -> Self {
        DEFAULT_KAFKA_VERSION
            .parse()
            .expect("DEFAULT_KAFKA_VERSION is a valid version")
    }

    /// Kafka before 4.0 logs through log4j 1 (reload4j); 4.0 and later through log4j2.
    pub fn uses_log4j1(self) -> bool {
        self.major < 4
    }

    /// The highest `transaction.version` feature level `kafka-storage format --feature`
    /// accepts: 2 from Kafka 4.0 on (KIP-890 part 2), 0 before (3.9 has only level 0:
    /// classic transactions).
    pub fn max_transaction_version(self) -> u8 {
        if self.major >= 4 { 2 } else { 0 }
    }

    /// Share groups (KIP-932) and their `share.coordinator.*` broker settings exist from
    /// 4.0 on (early access in 4.0 and 4.1, GA in 4.2).
    pub fn has_share_coordinator(self) -> bool {
        self >= Self::new(4, 0, 0)
    }
}

impl FromStr for KafkaVersion {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let parts: Vec<&str> = s.trim().split('.').collect();
        let [major, minor, patch] = parts.as_slice() else {
            return Err(format!("expected major.minor.patch, got {s:?}"));
        };
        let number = |part: &str| {
            if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
                return Err(format!("{part:?} in {s:?} is not a number"));
            }
            part.parse::<u16>()
                .map_err(|e| format!("{part:?} in {s:?}: {e}"))
        };
        Ok(Self::new(number(major)?, number(minor)?, number(patch)?))
    }
}

impl fmt::Display for KafkaVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
    }
}

/// Whether this run's broker ([`KafkaVersion::selected`]) is at least `min` (as
/// `"4.0.0"`). When it is not, prints `skipped: needs Kafka >= MIN for WHAT (running V)`
/// so the test can return early: use it only where an older broker cannot do `what`.
///
/// # Panics
/// If `min` is not a version.
pub fn kafka_at_least(min: &str, what: &str) -> bool {
    let min: KafkaVersion = min
        .parse()
        .unwrap_or_else(|e| panic!("kafka_at_least({min:?}): {e}"));
    let running = KafkaVersion::selected();
    if running >= min {
        return true;
    }
    println!("skipped: needs Kafka >= {min} for {what} (running {running})");
    eprintln!("skipped: needs Kafka >= {min} for {what} (running {running})");
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_orders_versions() {
        let v: KafkaVersion = "4.1.1".parse().unwrap();
        assert_eq!(v, KafkaVersion::new(4, 1, 1));
        assert_eq!(v.to_string(), "4.1.1");
        let old: KafkaVersion = " 3.9.1 ".parse().unwrap();
        assert!(old < v);
        assert!(KafkaVersion::new(4, 0, 2) < KafkaVersion::new(4, 1, 0));
        assert!(KafkaVersion::new(4, 10, 0) > KafkaVersion::new(4, 4, 0));
        assert!(old.uses_log4j1() && !v.uses_log4j1());
        assert!(!old.has_share_coordinator() && v.has_share_coordinator());
        assert_eq!(
            (old.max_transaction_version(), v.max_transaction_version()),
            (0, 2)
        );
    }

    #[test]
    fn rejects_malformed_versions() {
        for bad in ["4.1", "4.1.1.1", "4.x.1", "", "4..1", "-4.1.1", "4.1.1-rc1"] {
            assert!(bad.parse::<KafkaVersion>().is_err(), "{bad:?} parsed");
        }
    }

    #[test]
    fn docker_compose_follows_the_default_version() {
        let compose = include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../docker-compose.yml"
        ));
        let images: Vec<&str> = compose
            .lines()
            .filter_map(|l| l.trim().strip_prefix("image: apache/kafka:"))
            .collect();
        assert_eq!(images, [DEFAULT_KAFKA_VERSION; 3], "{compose}");
    }

    #[test]
    fn scripts_test_runs_the_subset_on_every_older_ci_version() {
        let script = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../scripts/test"));
        let line = script
            .lines()
            .find_map(|l| l.strip_prefix("COMPAT_VERSIONS=("))
            .expect("scripts/test sets COMPAT_VERSIONS");
        let listed: Vec<&str> = line.trim_end_matches(')').split_whitespace().collect();
        assert_eq!(listed, CI_VERSIONS[1..], "{line}");
    }

    #[test]
    fn default_and_ci_versions_parse() {
        assert_eq!(
            KafkaVersion::default_version().to_string(),
            DEFAULT_KAFKA_VERSION
        );
        assert_eq!(CI_VERSIONS[0], DEFAULT_KAFKA_VERSION);
        for v in CI_VERSIONS {
            assert!(v.parse::<KafkaVersion>().is_ok(), "{v}");
        }
    }
}
