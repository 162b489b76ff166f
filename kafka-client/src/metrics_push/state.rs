//! The push state machine of client telemetry (KIP-714), as the Java client's
//! `ClientTelemetryReporter`: get a subscription (GetTelemetrySubscriptions), push the
//! subscribed metrics every push interval (PushTelemetry), fetch the subscription again
//! when the broker says it changed, and push once more, terminating, on close.
//!
//! Telemetry never fails a user call: errors only move this machine (back off, fetch the
//! subscription again, or stop pushing for good).

use std::time::Duration;

use tokio::time::Instant;

use crate::error::ErrorCode;
use crate::records::Compression;

/// What the broker asked for in GetTelemetrySubscriptions.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Subscription {
    pub instance_id: uuid::Uuid,
    pub id: i32,
    /// Compression types the broker accepts, in its order of preference (empty: none).
    pub accepted: Vec<Compression>,
    pub interval: Duration,
    pub max_bytes: usize,
    pub delta: bool,
    /// Metric name prefixes; empty: nothing; `*` (or one empty string): everything.
    pub metrics: Vec<String>,
}

impl Subscription {
    /// Whether the metric `name` is subscribed.
    pub(crate) fn wants(&self, name: &str) -> bool {
        self.metrics
            .iter()
            .any(|p| p == "*" || p.is_empty() || name.starts_with(p.as_str()))
    }

    /// The compression to push with: the broker's first accepted type the client can
    /// write, else none.
    pub(crate) fn compression(&self) -> Compression {
        self.accepted
            .iter()
            .copied()
            .find(|c| matches!(c, Compression::Zstd | Compression::Lz4 | Compression::Gzip))
            .unwrap_or(Compression::None)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Phase {
    SubscriptionNeeded,
    SubscriptionInProgress,
    PushNeeded,
    PushInProgress,
    TerminatingPushNeeded,
    TerminatingPushInProgress,
    Terminated,
}

/// What the push task does next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Action {
    /// Send GetTelemetrySubscriptions.
    Subscribe,
    /// Send PushTelemetry (`terminating` on close).
    Push { terminating: bool },
    /// Nothing before this instant.
    WaitUntil(Instant),
    /// A request is out: wait for its answer.
    WaitAnswer,
    /// Telemetry is over.
    Stop,
}

/// How a request ended.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Answer<T> {
    Ok(T),
    /// The broker answered with this error.
    Error(ErrorCode),
    /// No answer (connection lost, timeout, no broker).
    Failed,
}

/// The machine. `retry` spaces attempts after failures.
#[derive(Debug)]
pub(crate) struct PushState {
    phase: Phase,
    next_at: Instant,
    retry: Duration,
    subscription: Option<Subscription>,
    /// Pushes the broker accepted.
    pushes: u64,
}

/// The first push comes after a random part of the interval, as in Java (spreads the
/// pushes of clients that start together); `jitter` is in `0.5..1.5`.
fn first_push_delay(interval: Duration, jitter: f64) -> Duration {
    interval.mul_f64(jitter.clamp(0.0, 2.0))
}

impl PushState {
    pub(crate) fn new(now: Instant, retry: Duration) -> Self {
        Self {
            phase: Phase::SubscriptionNeeded,
            next_at: now,
            retry,
            subscription: None,
            pushes: 0,
        }
    }

    #[cfg(test)]
    pub(crate) fn phase(&self) -> Phase {
        self.phase
    }

    pub(crate) fn subscription(&self) -> Option<&Subscription> {
        self.subscription.as_ref()
    }

    /// Pushes the broker accepted so far.
    pub(crate) fn pushes(&self) -> u64 {
        self.pushes
    }

    /// The client instance id to send (nil until the broker gave one).
    pub(crate) fn instance_id(&self) -> uuid::Uuid {
        self.subscription
            .as_ref()
            .map(|s| s.instance_id)
            .unwrap_or_default()
    }

    /// What to do at `now`; `Subscribe` and `Push` move to the in-progress phase.
    pub(crate) fn next(&mut self, now: Instant) -> Action {
        match self.phase {
            Phase::SubscriptionInProgress
            | Phase::PushInProgress
            | Phase::TerminatingPushInProgress => Action::WaitAnswer,
            Phase::Terminated => Action::Stop,
            Phase::TerminatingPushNeeded => {
                self.phase = Phase::TerminatingPushInProgress;
                Action::Push { terminating: true }
            }
            _ if now < self.next_at => Action::WaitUntil(self.next_at),
            Phase::SubscriptionNeeded => {
                self.phase = Phase::SubscriptionInProgress;
                Action::Subscribe
            }
            Phase::PushNeeded => {
                self.phase = Phase::PushInProgress;
                Action::Push { terminating: false }
            }
        }
    }

    /// The GetTelemetrySubscriptions answer. `jitter` (in `0.5..1.5`) places the first
    /// push of a new subscription.
    pub(crate) fn on_subscription(
        &mut self,
        now: Instant,
        answer: Answer<Subscription>,
        jitter: f64,
    ) {
        if self.phase != Phase::SubscriptionInProgress {
            return; // closed meanwhile
        }
        match answer {
            Answer::Ok(s) => {
                // No metrics asked for: ask again after the interval, push nothing.
                let (phase, wait) = if s.metrics.is_empty() {
                    (Phase::SubscriptionNeeded, s.interval)
                } else if self.pushes == 0 {
                    (Phase::PushNeeded, first_push_delay(s.interval, jitter))
                } else {
                    (Phase::PushNeeded, s.interval)
                };
                self.phase = phase;
                self.next_at = now + wait;
                self.subscription = Some(s);
            }
            // The broker has no telemetry plugin, or refuses this client: stop for good.
            Answer::Error(
                ErrorCode::UNSUPPORTED_VERSION
                | ErrorCode::INVALID_REQUEST
                | ErrorCode::INVALID_RECORD
                | ErrorCode::CLUSTER_AUTHORIZATION_FAILED,
            ) => self.phase = Phase::Terminated,
            Answer::Error(_) | Answer::Failed => {
                self.phase = Phase::SubscriptionNeeded;
                self.next_at = now + self.retry;
            }
        }
    }

    /// The PushTelemetry answer.
    pub(crate) fn on_push(&mut self, now: Instant, answer: Answer<()>) {
        let interval = self
            .subscription
            .as_ref()
            .map_or(self.retry, |s| s.interval);
        match self.phase {
            Phase::TerminatingPushInProgress => {
                self.phase = Phase::Terminated;
                return;
            }
            Phase::PushInProgress => {}
            _ => return,
        }
        match answer {
            Answer::Ok(()) => {
                self.pushes += 1;
                self.phase = Phase::PushNeeded;
                self.next_at = now + interval;
            }
            // The subscription changed, or the codec is not accepted: ask again now.
            Answer::Error(ErrorCode::UNKNOWN_SUBSCRIPTION_ID)
            | Answer::Error(ErrorCode::UNSUPPORTED_COMPRESSION_TYPE) => {
                self.phase = Phase::SubscriptionNeeded;
                self.next_at = now;
            }
            // Too much, or too often: the next push at the next interval.
            Answer::Error(ErrorCode::TELEMETRY_TOO_LARGE)
            | Answer::Error(ErrorCode::THROTTLING_QUOTA_EXCEEDED) => {
                self.phase = Phase::PushNeeded;
                self.next_at = now + interval;
            }
            Answer::Error(
                ErrorCode::UNSUPPORTED_VERSION
                | ErrorCode::INVALID_REQUEST
                | ErrorCode::INVALID_RECORD
                | ErrorCode::CLUSTER_AUTHORIZATION_FAILED,
            ) => self.phase = Phase::Terminated,
            Answer::Error(_) | Answer::Failed => {
                self.phase = Phase::SubscriptionNeeded;
                self.next_at = now + interval.min(self.retry.max(Duration::from_secs(1)));
            }
        }
    }

    /// The client closes: one terminating push when a subscription with metrics is
    /// held, else stop at once.
    pub(crate) fn close(&mut self) {
        let subscribed = self
            .subscription
            .as_ref()
            .is_some_and(|s| !s.metrics.is_empty());
        self.phase = match self.phase {
            Phase::Terminated | Phase::TerminatingPushInProgress => self.phase,
            // A push already out: its answer is awaited, then the terminating one.
            _ if subscribed => Phase::TerminatingPushNeeded,
            _ => Phase::Terminated,
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RETRY: Duration = Duration::from_millis(100);
    const INTERVAL: Duration = Duration::from_secs(5);

    fn sub(metrics: &[&str]) -> Subscription {
        Subscription {
            instance_id: uuid::Uuid::from_u128(7),
            id: 3,
            accepted: vec![Compression::Zstd, Compression::Lz4],
            interval: INTERVAL,
            max_bytes: 1 << 20,
            delta: false,
            metrics: metrics.iter().map(|s| s.to_string()).collect(),
        }
    }

    fn subscribed(metrics: &[&str]) -> PushState {
        let mut s = PushState::new(Instant::now(), RETRY);
        assert_eq!(s.next(Instant::now()), Action::Subscribe);
        assert_eq!(s.next(Instant::now()), Action::WaitAnswer);
        s.on_subscription(Instant::now(), Answer::Ok(sub(metrics)), 1.0);
        s
    }

    async fn until_push(s: &mut PushState) -> Duration {
        let start = Instant::now();
        loop {
            match s.next(Instant::now()) {
                Action::WaitUntil(t) => tokio::time::sleep_until(t).await,
                Action::Push { terminating: false } => return start.elapsed(),
                other => panic!("{other:?}"),
            }
        }
    }

    #[tokio::test(start_paused = true)]
    async fn pushes_every_interval_after_the_subscription() {
        let mut s = subscribed(&["org.apache.kafka.client"]);
        assert_eq!(s.instance_id(), uuid::Uuid::from_u128(7));
        assert_eq!(until_push(&mut s).await, INTERVAL, "jitter 1.0");
        s.on_push(Instant::now(), Answer::Ok(()));
        assert_eq!(until_push(&mut s).await, INTERVAL);
        s.on_push(Instant::now(), Answer::Ok(()));
        assert_eq!(s.pushes(), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn the_first_push_is_jittered() {
        let mut s = PushState::new(Instant::now(), RETRY);
        s.next(Instant::now());
        s.on_subscription(Instant::now(), Answer::Ok(sub(&["*"])), 0.5);
        assert_eq!(until_push(&mut s).await, INTERVAL / 2);
    }

    #[tokio::test(start_paused = true)]
    async fn no_metrics_asked_means_no_push_and_a_new_subscription_later() {
        let mut s = subscribed(&[]);
        assert_eq!(
            s.next(Instant::now()),
            Action::WaitUntil(Instant::now() + INTERVAL)
        );
        tokio::time::advance(INTERVAL).await;
        assert_eq!(s.next(Instant::now()), Action::Subscribe);
        s.close();
        assert_eq!(s.phase(), Phase::Terminated, "nothing to push on close");
    }

    #[tokio::test(start_paused = true)]
    async fn a_changed_subscription_is_fetched_again_at_once() {
        let mut s = subscribed(&["*"]);
        until_push(&mut s).await;
        s.on_push(Instant::now(), Answer::Ok(()));
        until_push(&mut s).await;
        s.on_push(
            Instant::now(),
            Answer::Error(ErrorCode::UNKNOWN_SUBSCRIPTION_ID),
        );
        assert_eq!(s.next(Instant::now()), Action::Subscribe);
        s.on_subscription(Instant::now(), Answer::Ok(sub(&["*"])), 0.5);
        assert_eq!(
            until_push(&mut s).await,
            INTERVAL,
            "no first-push jitter after a push"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn throttled_or_too_large_waits_one_interval() {
        for code in [
            ErrorCode::THROTTLING_QUOTA_EXCEEDED,
            ErrorCode::TELEMETRY_TOO_LARGE,
        ] {
            let mut s = subscribed(&["*"]);
            until_push(&mut s).await;
            s.on_push(Instant::now(), Answer::Error(code));
            assert_eq!(until_push(&mut s).await, INTERVAL, "{code}");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn failures_back_off_and_refusals_stop_for_good() {
        let mut s = PushState::new(Instant::now(), RETRY);
        s.next(Instant::now());
        s.on_subscription(Instant::now(), Answer::Failed, 1.0);
        assert_eq!(
            s.next(Instant::now()),
            Action::WaitUntil(Instant::now() + RETRY)
        );
        tokio::time::advance(RETRY).await;
        assert_eq!(s.next(Instant::now()), Action::Subscribe);
        s.on_subscription(
            Instant::now(),
            Answer::Error(ErrorCode::UNSUPPORTED_VERSION),
            1.0,
        );
        assert_eq!(s.next(Instant::now()), Action::Stop);

        let mut s = subscribed(&["*"]);
        until_push(&mut s).await;
        s.on_push(Instant::now(), Answer::Error(ErrorCode::INVALID_RECORD));
        assert_eq!(s.next(Instant::now()), Action::Stop);
    }

    #[tokio::test(start_paused = true)]
    async fn close_sends_one_terminating_push() {
        let mut s = subscribed(&["*"]);
        s.close();
        assert_eq!(s.next(Instant::now()), Action::Push { terminating: true });
        assert_eq!(s.next(Instant::now()), Action::WaitAnswer);
        s.on_push(Instant::now(), Answer::Failed);
        assert_eq!(
            s.next(Instant::now()),
            Action::Stop,
            "once, answered or not"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn close_during_a_push_terminates_after_its_answer() {
        let mut s = subscribed(&["*"]);
        until_push(&mut s).await;
        s.close();
        // The push out is answered first; then the terminating one goes.
        s.on_push(Instant::now(), Answer::Ok(()));
        assert_eq!(s.next(Instant::now()), Action::Push { terminating: true });
        s.on_push(Instant::now(), Answer::Ok(()));
        assert_eq!(s.next(Instant::now()), Action::Stop);
    }

    #[test]
    fn subscription_prefixes_and_compression() {
        let s = sub(&["org.apache.kafka.producer."]);
        assert!(s.wants("org.apache.kafka.producer.records.sent"));
        assert!(!s.wants("org.apache.kafka.consumer.records.fetched"));
        assert!(sub(&["*"]).wants("anything"));
        assert!(sub(&[""]).wants("anything"));
        assert!(!sub(&[]).wants("anything"));
        assert_eq!(s.compression(), Compression::Zstd);
        let mut s = sub(&["*"]);
        s.accepted = vec![Compression::Snappy, Compression::Lz4];
        assert_eq!(s.compression(), Compression::Lz4, "the first we can write");
        s.accepted.clear();
        assert_eq!(s.compression(), Compression::None);
    }
}
