//! One retry helper for every operation that retries a request until a deadline: the
//! consumer's commits and coordinator lookups, the producer's transaction requests and
//! every kafka-admin call pace themselves with a [`RetryClock`].

use std::time::Duration;

use tokio::time::Instant;

use crate::client::Client;
use crate::error::{Error, Result};

/// Paces the retries of one operation: exponential backoff with jitter (the client's
/// `retry.backoff.ms` .. `retry.backoff.max.ms`) until the operation's deadline, and a
/// metadata refresh after errors that mean a leader, a coordinator or the controller
/// moved. A wait never runs past the deadline: when the next backoff would, the
/// operation ends with [`Error::Deadline`] carrying the last real error as its cause.
#[derive(Debug)]
pub struct RetryClock {
    client: Client,
    operation: String,
    timeout: Duration,
    deadline: Instant,
    attempt: u32,
}

impl RetryClock {
    /// A clock for `operation` (named in the deadline error) ending `timeout` from now.
    pub fn new(client: &Client, operation: impl Into<String>, timeout: Duration) -> Self {
        Self {
            client: client.clone(),
            operation: operation.into(),
            timeout,
            deadline: Instant::now() + timeout,
            attempt: 0,
        }
    }

    /// Time left before the deadline.
    pub fn remaining(&self) -> Duration {
        self.deadline.saturating_duration_since(Instant::now())
    }

    /// The deadline.
    pub fn deadline(&self) -> Instant {
        self.deadline
    }

    /// Attempts waited for so far.
    pub fn attempts(&self) -> u32 {
        self.attempt
    }

    /// After `err`: returns it at once when it is not worth retrying (neither retriable
    /// nor stale metadata); otherwise refreshes metadata when the error says a leader or
    /// connection moved, waits the backoff and returns `Ok`, or gives up with
    /// [`Error::Deadline`] (cause: `err`) when the wait would pass the deadline.
    pub async fn retry_after(&mut self, err: Error) -> Result<()> {
        if !(err.is_retriable() || err.is_stale_metadata()) {
            return Err(err);
        }
        if err.is_stale_metadata()
            || matches!(err, Error::Connect { .. } | Error::ConnectionLost { .. })
        {
            let _ = self.client.metadata().await;
        }
        self.backoff(err).await
    }

    /// Waits the next backoff after `err`, which the caller has decided to retry; gives
    /// up with [`Error::Deadline`] (cause: `err`) when the wait would pass the deadline.
    pub async fn backoff(&mut self, err: Error) -> Result<()> {
        let wait = self.client.retry_backoff(self.attempt);
        self.attempt += 1;
        if Instant::now() + wait >= self.deadline {
            return Err(self.expired(Some(err)));
        }
        tracing::debug!(operation = %self.operation, error = %err, ?wait, "retrying");
        tokio::time::sleep(wait).await;
        Ok(())
    }

    /// The deadline error for this operation, with `last` as its cause.
    pub fn expired(&self, last: Option<Error>) -> Error {
        Error::Deadline {
            operation: self.operation.clone(),
            timeout: self.timeout,
            last_error: last.map(Box::new),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::{ErrorCode, ErrorContext};

    fn client() -> Client {
        Client::builder()
            .bootstrap_servers(["127.0.0.1:1"])
            .retry_backoff(Duration::from_millis(100), Duration::from_millis(100))
            .build()
            .expect("valid settings")
    }

    fn code(c: ErrorCode) -> Error {
        Error::broker(c, ErrorContext::default(), None)
    }

    #[tokio::test(start_paused = true)]
    async fn a_final_error_is_returned_at_once_without_waiting() {
        let mut clock = RetryClock::new(&client(), "op", Duration::from_secs(10));
        let start = Instant::now();
        let e = clock
            .retry_after(code(ErrorCode::TOPIC_AUTHORIZATION_FAILED))
            .await
            .expect_err("not retriable");
        assert_eq!(e.code(), Some(ErrorCode::TOPIC_AUTHORIZATION_FAILED));
        assert_eq!(Instant::now(), start);
        assert_eq!(clock.attempts(), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn retriable_errors_wait_the_backoff_until_the_deadline_then_carry_the_cause() {
        let mut clock = RetryClock::new(&client(), "finding things", Duration::from_millis(350));
        let start = Instant::now();
        let mut waits = 0;
        let err = loop {
            match clock.backoff(code(ErrorCode::REQUEST_TIMED_OUT)).await {
                Ok(()) => waits += 1,
                Err(e) => break e,
            }
        };
        // Backoff 100 ms (jitter 0.8-1.2): two to four waits fit in 350 ms.
        assert!((2..=4).contains(&waits), "waited {waits} times");
        assert!(Instant::now() - start <= Duration::from_millis(350));
        match &err {
            Error::Deadline {
                operation,
                timeout,
                last_error,
            } => {
                assert_eq!(operation, "finding things");
                assert_eq!(*timeout, Duration::from_millis(350));
                let cause = last_error.as_deref().expect("a cause");
                assert_eq!(cause.code(), Some(ErrorCode::REQUEST_TIMED_OUT));
            }
            other => panic!("expected Deadline, got {other:?}"),
        }
        let source = std::error::Error::source(&err).expect("chained");
        assert!(source.to_string().contains("REQUEST_TIMED_OUT"), "{source}");
        assert!(err.to_string().contains("REQUEST_TIMED_OUT"), "{err}");
    }

    #[tokio::test(start_paused = true)]
    async fn remaining_shrinks_with_time() {
        let clock = RetryClock::new(&client(), "op", Duration::from_secs(5));
        tokio::time::sleep(Duration::from_secs(2)).await;
        assert_eq!(clock.remaining(), Duration::from_secs(3));
        tokio::time::sleep(Duration::from_secs(4)).await;
        assert_eq!(clock.remaining(), Duration::ZERO);
    }
}
