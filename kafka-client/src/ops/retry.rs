//! One retry helper for every operation that retries a request until a deadline: the
//! consumer's commits and coordinator lookups, the producer's transaction requests and
//! every kafka-admin call pace themselves with a [`RetryClock`].

use std::future::Future;
use std::time::Duration;

use tokio::time::Instant;

use crate::client::Client;
use crate::error::{Error, Result};
use crate::ops::deadline;

/// Paces the retries of one operation: exponential backoff with jitter (the client's
/// `retry.backoff.ms` .. `retry.backoff.max.ms`) until the operation's deadline, and a
/// metadata refresh after errors that mean a leader, a coordinator or the controller
/// moved. A wait never runs past the deadline: when the next backoff would, the
/// operation ends with [`Error::Deadline`] carrying the last real error as its cause.
///
/// An attempt run through [`RetryClock::bound`] ends at the deadline too, whatever it
/// waits for (a bootstrap, a Metadata refresh, a connection, an answer), so the
/// operation as a whole returns by its deadline plus scheduling slack (the tests allow
/// 1 s on a loaded machine; see `docs/DESIGN.md`, "Deadlines").
#[derive(Debug)]
pub struct RetryClock {
    client: Client,
    operation: String,
    timeout: Duration,
    deadline: Instant,
    attempt: u32,
    /// The last error a retry was decided on (the cause when an attempt runs out).
    last: Option<Error>,
}

impl RetryClock {
    /// A clock for `operation` (named in the deadline error) ending `timeout` from now,
    /// or at the deadline of the operation it runs within, when that comes first (an
    /// attempt run through another clock's [`RetryClock::bound`]).
    pub fn new(client: &Client, operation: impl Into<String>, timeout: Duration) -> Self {
        let now = Instant::now();
        let (deadline, _) = deadline::earliest(now + timeout);
        Self {
            client: client.clone(),
            operation: operation.into(),
            timeout: deadline::span(now, deadline),
            deadline,
            attempt: 0,
            last: None,
        }
    }

    /// Runs one attempt of the operation, ending it at the deadline: the Metadata wait
    /// it may start (bootstrap included) ends there with what it met, and anything still
    /// pending then is dropped, giving [`Error::Deadline`] with the last real error known
    /// (this clock's last retried error, else the client's last failed Metadata attempt)
    /// as its cause. Dropping a wait does not close a connection.
    pub async fn bound<T>(&self, attempt: impl Future<Output = Result<T>>) -> Result<T> {
        let scoped = deadline::within(self.deadline, attempt);
        match tokio::time::timeout_at(self.deadline, scoped).await {
            // A wait that ended at the deadline (a bootstrap naming each address): the
            // operation is over, with that as its cause.
            Ok(Err(e)) if self.remaining().is_zero() && is_worth_retrying(&e) => {
                Err(self.expired(Some(e)))
            }
            Ok(outcome) => outcome,
            Err(_elapsed) => Err(self.expired(None)),
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
    /// An [`Error::Deadline`] (an attempt of this operation ran out) is returned as is.
    pub async fn retry_after(&mut self, err: Error) -> Result<()> {
        if !is_worth_retrying(&err) {
            return Err(err);
        }
        if err.is_stale_metadata()
            || matches!(err, Error::Connect { .. } | Error::ConnectionLost { .. })
        {
            // Bounded like an attempt: a refresh never runs past the deadline.
            let _ = self.bound(self.client.metadata()).await;
        }
        self.backoff(err).await
    }

    /// Waits the next backoff after `err`, which the caller has decided to retry; gives
    /// up with [`Error::Deadline`] (cause: `err`) when the wait would pass the deadline.
    pub async fn backoff(&mut self, err: Error) -> Result<()> {
        if matches!(err, Error::Deadline { .. }) {
            return Err(err); // an attempt already ran out of time
        }
        let wait = self.client.retry_backoff(self.attempt);
        self.attempt += 1;
        if Instant::now() + wait >= self.deadline {
            return Err(self.expired(Some(err)));
        }
        tracing::debug!(operation = %self.operation, error = %err, ?wait, "retrying");
        self.last = Some(err);
        tokio::time::sleep(wait).await;
        Ok(())
    }

    /// The deadline error for this operation, with `last` as its cause; without one, the
    /// last error this clock retried, else the client's last failed Metadata attempt.
    pub fn expired(&self, last: Option<Error>) -> Error {
        let last = last
            .or_else(|| self.last.clone())
            .or_else(|| self.client.last_metadata_error());
        Error::Deadline {
            operation: self.operation.clone(),
            timeout: self.timeout,
            last_error: last.map(Box::new),
        }
    }
}

/// Whether another attempt might succeed (a deadline error is final).
fn is_worth_retrying(e: &Error) -> bool {
    e.is_retriable() || e.is_stale_metadata()
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
