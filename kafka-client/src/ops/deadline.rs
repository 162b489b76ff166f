//! The caller's deadline, seen by the waits an operation starts on its way (issue #16,
//! "a deadline is overshot").
//!
//! An operation with a timeout (an admin call, a coordinator lookup) runs its attempts
//! inside [`within`]; the Metadata wait (bootstrap included) started on the way ends at
//! that deadline rather than after its own `default.api.timeout.ms`, and reports what it
//! met so far (each address and its fault), so the caller's deadline error carries the
//! real cause. Whatever else is in flight at the deadline (a connect, a request) is
//! cancelled by the caller's bound ([`crate::ops::RetryClock::bound`]): no wait runs past
//! it. Connections are not closed by a caller giving up: an answer that comes later is
//! read and dropped.
//!
//! The scope is a tokio task-local: it reaches every future polled by the task that set
//! it (joined futures included), not tasks it spawns.

use std::future::Future;
use std::time::Duration;

use tokio::time::Instant;

tokio::task_local! {
    static DEADLINE: Instant;
}

/// Runs `fut` with `deadline` as the current deadline (or the current one, when that is
/// earlier: an inner scope never extends an outer one).
pub(crate) async fn within<F: Future>(deadline: Instant, fut: F) -> F::Output {
    let deadline = current().map_or(deadline, |outer| outer.min(deadline));
    DEADLINE.scope(deadline, fut).await
}

/// The deadline of the innermost [`within`] scope this task runs in, if any.
pub(crate) fn current() -> Option<Instant> {
    DEADLINE.try_with(|d| *d).ok()
}

/// `own` (an operation's own deadline) or the caller's, whichever comes first; and
/// whether the caller's is the one that counts.
pub(crate) fn earliest(own: Instant) -> (Instant, bool) {
    match current() {
        Some(caller) if caller < own => (caller, true),
        _ => (own, false),
    }
}

/// The time from `start` to `deadline`, to the nearest millisecond: what an error says
/// a wait ending at the caller's deadline was given (`3s`, not `2.999874572s`).
pub(crate) fn span(start: Instant, deadline: Instant) -> Duration {
    let d = deadline.saturating_duration_since(start);
    Duration::from_millis(((d.as_micros() + 500) / 1000) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    use crate::config::BrokerAddress;
    use crate::error::Error;
    use crate::net::{AsyncStream, Dial, DialFuture};
    use crate::ops::RetryClock;
    use crate::{Client, lowlevel};

    /// A broker that takes the connection and never says a word (its end is kept open).
    #[derive(Default)]
    struct BlackHole(Mutex<Vec<tokio::io::DuplexStream>>);

    impl Dial for BlackHole {
        fn dial(&self, _addr: &BrokerAddress) -> DialFuture {
            let (ours, theirs) = tokio::io::duplex(64 * 1024);
            self.0.lock().unwrap().push(theirs);
            Box::pin(async move { Ok(Box::new(ours) as Box<dyn AsyncStream>) })
        }
    }

    /// Connecting never completes (a SYN into a firewall that drops it).
    struct NeverConnects;

    impl Dial for NeverConnects {
        fn dial(&self, _addr: &BrokerAddress) -> DialFuture {
            Box::pin(std::future::pending())
        }
    }

    /// The first connection is refused (a real failure); every later one never
    /// completes (the deadline cuts it short).
    #[derive(Default)]
    struct RefusedThenSilent(std::sync::atomic::AtomicUsize);

    impl Dial for RefusedThenSilent {
        fn dial(&self, _addr: &BrokerAddress) -> DialFuture {
            if self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst) == 0 {
                let refused = std::io::Error::new(
                    std::io::ErrorKind::ConnectionRefused,
                    "refused by the test",
                );
                return Box::pin(async move { Err(refused) });
            }
            Box::pin(std::future::pending())
        }
    }

    /// A client with the Java defaults' long waits (30 s request, 60 s API timeout).
    fn client(dial: Arc<dyn Dial>) -> Client {
        let builder = Client::builder()
            .bootstrap_servers(["blackhole:9092"])
            .connect_timeout(Duration::from_secs(30))
            .request_timeout(Duration::from_secs(30))
            .api_timeout(Duration::from_secs(60));
        lowlevel::with_dialer(builder, dial).build().unwrap()
    }

    /// The quickstart's overshoot (issue #16): a 3 s operation whose Metadata wait
    /// would otherwise run its own 60 s (or a 30 s connect) ends at 3 s exactly, and
    /// its deadline error names the address and what it did not do.
    async fn ends_at_the_callers_deadline(dial: Arc<dyn Dial>, fault: &str) {
        let c = client(dial);
        let started = Instant::now();
        let mut clock = RetryClock::new(&c, "CreateTopics", Duration::from_secs(3));
        let err = match clock.bound(c.metadata()).await {
            Ok(_) => panic!("a black hole answered"),
            Err(e) => clock.retry_after(e).await.expect_err("past the deadline"),
        };
        assert_eq!(started.elapsed(), Duration::from_secs(3), "{err}");
        let Error::Deadline {
            operation,
            timeout,
            last_error,
        } = &err
        else {
            panic!("expected Deadline, got {err:?}");
        };
        assert_eq!(
            (operation.as_str(), *timeout),
            ("CreateTopics", Duration::from_secs(3))
        );
        let cause = last_error.as_deref().expect("a cause").to_string();
        assert!(
            cause.contains("blackhole:9092") && cause.contains(fault),
            "{cause}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_silent_bootstrap_server_ends_at_the_callers_deadline() {
        ends_at_the_callers_deadline(Arc::new(BlackHole::default()), "no answer").await;
    }

    #[tokio::test(start_paused = true)]
    async fn a_connect_that_never_completes_ends_at_the_callers_deadline() {
        ends_at_the_callers_deadline(Arc::new(NeverConnects), "no answer").await;
    }

    #[tokio::test(start_paused = true)]
    async fn without_a_caller_the_metadata_wait_keeps_its_own_timeout() {
        let c = client(Arc::new(BlackHole::default()));
        let started = Instant::now();
        let err = c.metadata().await.expect_err("a black hole answered");
        assert_eq!(started.elapsed(), Duration::from_secs(60), "{err}");
        assert!(
            matches!(err, Error::Bootstrap { timeout, .. } if timeout == Duration::from_secs(60))
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_pending_attempt_ends_at_the_deadline_with_the_last_retried_cause() {
        let c = client(Arc::new(NeverConnects));
        let mut clock = RetryClock::new(&c, "op", Duration::from_secs(2));
        let first = Error::Connect {
            context: crate::ErrorContext::default(),
            reason: "refused".into(),
        };
        clock.backoff(first).await.expect("room for a retry");
        let started = Instant::now();
        let err = clock
            .bound(std::future::pending::<crate::Result<()>>())
            .await
            .expect_err("never completes");
        assert!(started.elapsed() < Duration::from_secs(2));
        assert_eq!(clock.remaining(), Duration::ZERO);
        assert!(
            matches!(&err, Error::Deadline { last_error: Some(e), .. } if e.to_string().contains("refused")),
            "{err:?}"
        );
        // A deadline error is final: retrying it returns it at once.
        let again = clock.retry_after(err.clone()).await.expect_err("final");
        assert_eq!(again.to_string(), err.to_string());
    }

    /// A Metadata wait whose every attempt the deadline cuts short (or that starts past
    /// its deadline) reports the last real failure, not "no answer before the deadline"
    /// or "the deadline came before any attempt" (issue #16).
    #[tokio::test(start_paused = true)]
    async fn a_wait_the_deadline_cuts_short_reports_the_last_real_failure() {
        let c = client(Arc::new(RefusedThenSilent::default()));
        let second = Duration::from_secs(1);
        // The refusal, then a silent retry the deadline cuts: the refusal is kept.
        let first = within(Instant::now() + second, c.metadata())
            .await
            .expect_err("refused");
        assert!(
            matches!(&first, Error::Bootstrap { attempts, .. } if attempts.contains("refused by the test")),
            "{first:?}"
        );
        // Only a silent attempt, cut by the deadline: the earlier wait's refusal.
        let started = Instant::now();
        let cut = within(started + second, c.metadata())
            .await
            .expect_err("silent");
        assert_eq!(started.elapsed(), second, "ends at its deadline");
        let text = cut.to_string();
        assert!(
            matches!(cut, Error::Connect { .. }) && text.contains("refused by the test"),
            "{cut:?}"
        );
        assert!(!text.contains("no answer"), "{text}");
        // No attempt at all (the deadline has passed): the refusal again.
        let none = within(Instant::now(), c.metadata())
            .await
            .expect_err("no time");
        assert!(
            none.to_string().contains("refused by the test")
                && !none.to_string().contains("before any attempt"),
            "{none:?}"
        );
        // What a caller's deadline error carries (an admin call, a lookup).
        let mut clock = RetryClock::new(&c, "op", second);
        let err = match clock.bound(c.metadata()).await {
            Ok(_) => panic!("a silent broker answered"),
            Err(e) => clock.retry_after(e).await.expect_err("past the deadline"),
        };
        assert!(
            matches!(&err, Error::Deadline { last_error: Some(e), .. } if e.to_string().contains("refused by the test")),
            "{err:?}"
        );
    }

    /// Without any real failure, a wait the deadline cuts short still says so.
    #[tokio::test(start_paused = true)]
    async fn without_a_real_failure_the_cut_wait_says_no_answer() {
        let c = client(Arc::new(NeverConnects));
        let err = within(Instant::now() + Duration::from_secs(1), c.metadata())
            .await
            .expect_err("silent");
        assert!(
            matches!(&err, Error::Bootstrap { attempts, .. } if attempts.contains("no answer before the deadline")),
            "{err:?}"
        );
        let err = within(Instant::now(), c.metadata())
            .await
            .expect_err("no time");
        assert!(err.to_string().contains("before any attempt"), "{err:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn scopes_nest_and_never_extend() {
        assert_eq!(current(), None);
        let now = Instant::now();
        let outer = now + Duration::from_secs(3);
        within(outer, async {
            assert_eq!(current(), Some(outer));
            within(now + Duration::from_secs(10), async {
                assert_eq!(current(), Some(outer), "an inner scope never extends");
            })
            .await;
            let inner = now + Duration::from_secs(1);
            within(inner, async {
                assert_eq!(current(), Some(inner));
                assert_eq!(earliest(now + Duration::from_secs(60)), (inner, true));
                assert_eq!(
                    earliest(now + Duration::from_millis(500)),
                    (now + Duration::from_millis(500), false)
                );
            })
            .await;
            assert_eq!(current(), Some(outer));
        })
        .await;
        assert_eq!(current(), None);
        assert_eq!(earliest(now), (now, false));
        let d = span(now, now + Duration::from_micros(2_999_874));
        assert_eq!(d, Duration::from_secs(3), "to the nearest millisecond");
    }
}
