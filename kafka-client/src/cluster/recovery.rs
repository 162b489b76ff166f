//! Metadata recovery (KIP-899, KIP-1102): when the client goes back to its bootstrap
//! servers.
//!
//! Before its first Metadata answer the client knows only the bootstrap addresses; after
//! it, only the brokers that answer named. With `metadata.recovery.strategy=rebootstrap`
//! (the default, as in the Java client 4.x) it *rebootstraps*, resolving and asking the
//! bootstrap addresses again, when
//! - a round over every known broker found none reachable (connect failures only), or
//! - no known broker has answered a Metadata request for
//!   `metadata.recovery.rebootstrap.trigger.ms` (brokers reachable but not answering), or
//! - a broker answered Metadata with REBOOTSTRAP_REQUIRED (KIP-1102).
//!
//! With `none` it never does: once bootstrapped, losing every known broker is reported
//! (`Error::BrokersUnreachable` from a consumer's poll, the Metadata deadline error
//! elsewhere) until one of them answers again.

use std::time::Duration;

use tokio::time::Instant;

/// What the client does when no broker it knows answers Metadata any more
/// (`metadata.recovery.strategy`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum MetadataRecoveryStrategy {
    /// Resolve and ask the bootstrap servers again (the default, as in Java 4.x).
    #[default]
    Rebootstrap,
    /// Keep to the brokers the last Metadata answer named.
    None,
}

impl std::str::FromStr for MetadataRecoveryStrategy {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "rebootstrap" => Ok(Self::Rebootstrap),
            "none" => Ok(Self::None),
            other => Err(format!(
                "unknown metadata recovery strategy {other:?}: use rebootstrap or none"
            )),
        }
    }
}

/// Where the next Metadata request goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Phase {
    /// The bootstrap addresses (before the first answer, and after a rebootstrap).
    Bootstrap,
    /// The brokers the last answer named.
    Known,
}

/// Why a round of Metadata attempts over the known brokers ended without an answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum RoundFailure {
    /// Not one known broker could be connected to.
    AllUnreachable,
    /// Some were reachable but none answered usefully (errors, timeouts).
    NoAnswer,
}

/// The recovery state machine (one per [`crate::Client`]).
#[derive(Debug)]
pub(crate) struct Recovery {
    strategy: MetadataRecoveryStrategy,
    trigger: Duration,
    phase: Phase,
    /// The first failed Metadata attempt since the last answer (or rebootstrap).
    failing_since: Option<Instant>,
    rebootstraps: u64,
}

impl Recovery {
    pub(crate) fn new(strategy: MetadataRecoveryStrategy, trigger: Duration) -> Self {
        Self {
            strategy,
            trigger,
            phase: Phase::Bootstrap,
            failing_since: None,
            rebootstraps: 0,
        }
    }

    pub(crate) fn phase(&self) -> Phase {
        self.phase
    }

    /// Rebootstraps so far.
    #[cfg(test)]
    pub(crate) fn rebootstraps(&self) -> u64 {
        self.rebootstraps
    }

    /// A broker answered Metadata: from now on the known brokers are asked.
    pub(crate) fn answered(&mut self) {
        self.phase = Phase::Known;
        self.failing_since = None;
    }

    /// A round over the current phase's addresses ended with no answer at `now`.
    /// Returns whether the client rebootstraps (the next round goes to the bootstrap
    /// addresses).
    pub(crate) fn round_failed(&mut self, now: Instant, why: RoundFailure) -> bool {
        let since = *self.failing_since.get_or_insert(now);
        let due = why == RoundFailure::AllUnreachable
            || now.saturating_duration_since(since) >= self.trigger;
        due && self.rebootstrap(now)
    }

    /// A broker answered REBOOTSTRAP_REQUIRED (KIP-1102). Returns whether the client
    /// rebootstraps (not with strategy `none`).
    pub(crate) fn rebootstrap_required(&mut self, now: Instant) -> bool {
        self.failing_since.get_or_insert(now);
        self.rebootstrap(now)
    }

    fn rebootstrap(&mut self, now: Instant) -> bool {
        if self.strategy == MetadataRecoveryStrategy::None || self.phase == Phase::Bootstrap {
            return false;
        }
        self.phase = Phase::Bootstrap;
        self.failing_since = Some(now);
        self.rebootstraps += 1;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TRIGGER: Duration = Duration::from_secs(300);

    fn bootstrapped(strategy: MetadataRecoveryStrategy) -> Recovery {
        let mut r = Recovery::new(strategy, TRIGGER);
        assert_eq!(r.phase(), Phase::Bootstrap, "a new client asks bootstrap");
        r.answered();
        assert_eq!(r.phase(), Phase::Known);
        r
    }

    #[tokio::test(start_paused = true)]
    async fn every_known_broker_unreachable_rebootstraps_at_once() {
        let mut r = bootstrapped(MetadataRecoveryStrategy::Rebootstrap);
        assert!(r.round_failed(Instant::now(), RoundFailure::AllUnreachable));
        assert_eq!(r.phase(), Phase::Bootstrap);
        assert_eq!(r.rebootstraps(), 1);
        // While bootstrapping, a failed round is no new rebootstrap.
        assert!(!r.round_failed(Instant::now(), RoundFailure::AllUnreachable));
        assert_eq!(r.rebootstraps(), 1);
        r.answered();
        assert_eq!(r.phase(), Phase::Known);
    }

    #[tokio::test(start_paused = true)]
    async fn reachable_but_silent_brokers_rebootstrap_after_the_trigger() {
        let mut r = bootstrapped(MetadataRecoveryStrategy::Rebootstrap);
        assert!(!r.round_failed(Instant::now(), RoundFailure::NoAnswer));
        tokio::time::advance(TRIGGER - Duration::from_secs(1)).await;
        assert!(!r.round_failed(Instant::now(), RoundFailure::NoAnswer));
        assert_eq!(r.phase(), Phase::Known);
        tokio::time::advance(Duration::from_secs(1)).await;
        assert!(r.round_failed(Instant::now(), RoundFailure::NoAnswer));
        assert_eq!(r.phase(), Phase::Bootstrap);
    }

    #[tokio::test(start_paused = true)]
    async fn an_answer_restarts_the_trigger_clock() {
        let mut r = bootstrapped(MetadataRecoveryStrategy::Rebootstrap);
        assert!(!r.round_failed(Instant::now(), RoundFailure::NoAnswer));
        tokio::time::advance(TRIGGER - Duration::from_secs(1)).await;
        r.answered();
        tokio::time::advance(Duration::from_secs(2)).await;
        assert!(
            !r.round_failed(Instant::now(), RoundFailure::NoAnswer),
            "the silence began again at the answer"
        );
        assert_eq!(r.rebootstraps(), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn rebootstrap_required_rebootstraps_at_once() {
        let mut r = bootstrapped(MetadataRecoveryStrategy::Rebootstrap);
        assert!(r.rebootstrap_required(Instant::now()));
        assert_eq!(r.phase(), Phase::Bootstrap);
    }

    #[tokio::test(start_paused = true)]
    async fn strategy_none_never_goes_back_to_bootstrap() {
        let mut r = bootstrapped(MetadataRecoveryStrategy::None);
        assert!(!r.round_failed(Instant::now(), RoundFailure::AllUnreachable));
        tokio::time::advance(TRIGGER * 2).await;
        assert!(!r.round_failed(Instant::now(), RoundFailure::NoAnswer));
        assert!(!r.rebootstrap_required(Instant::now()));
        assert_eq!(r.phase(), Phase::Known);
        assert_eq!(r.rebootstraps(), 0);
    }

    #[test]
    fn strategy_parses_and_names_bad_values() {
        assert_eq!(
            "REBOOTSTRAP".parse::<MetadataRecoveryStrategy>(),
            Ok(MetadataRecoveryStrategy::Rebootstrap)
        );
        assert_eq!(
            " none".parse::<MetadataRecoveryStrategy>(),
            Ok(MetadataRecoveryStrategy::None)
        );
        let err = "sometimes".parse::<MetadataRecoveryStrategy>().unwrap_err();
        assert!(err.contains("sometimes"), "{err}");
    }
}
