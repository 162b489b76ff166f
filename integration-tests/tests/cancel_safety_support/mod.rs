//! The cancel-safety harness's driver: a future polled at most `k` times, then dropped
//! (a `select!` whose other branch won), for k = 0, 1, 2, ... until a try completes
//! within its k polls; and the report line each case prints (`k_max`: the polls the
//! completing try needed, so every k below it was a drop point).
//!
//! Each case names the method it covers as a string literal `"Type::method"`;
//! `cancel_safety_coverage.rs` requires one for every documented contract.
#![allow(dead_code)]

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

/// More polls than any call here needs: a case reaching it fails.
pub const CAP: usize = 400;

/// `inner`, polled at most `left` more times: then it is dropped and the wrapper yields
/// `None`. A poll happens only when the inner future's waker fired (or on the first
/// poll), so each poll is a real suspension point of the call.
pub struct PollLimit<F> {
    inner: Option<Pin<Box<F>>>,
    left: usize,
}

impl<F: Future> Future for PollLimit<F> {
    type Output = Option<F::Output>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        if self.left == 0 {
            // Dropped here, at this poll point, before the caller moves on.
            self.inner = None;
            return Poll::Ready(None);
        }
        self.left -= 1;
        let Some(inner) = self.inner.as_mut() else {
            return Poll::Ready(None);
        };
        match inner.as_mut().poll(cx) {
            Poll::Ready(v) => Poll::Ready(Some(v)),
            Poll::Pending => Poll::Pending,
        }
    }
}

/// Runs `fut` for at most `k` polls: `Some(output)` when it completed within them,
/// `None` when it was dropped at poll point `k` (k = 0: dropped without being polled).
pub async fn within<F: Future>(k: usize, fut: F) -> Option<F::Output> {
    PollLimit {
        inner: Some(Box::pin(fut)),
        left: k,
    }
    .await
}

/// Prints one case's result (`--nocapture` shows it; docs/reliability.md's table is
/// made from these lines) and checks that it dropped at least once when it could.
pub fn report(case: &str, scenario: &str, k_max: usize, started: Instant) {
    assert!(
        k_max < CAP,
        "{case} ({scenario}): did not complete in {CAP} polls"
    );
    println!(
        "cancel_safety case={case} scenario={scenario:?} k_max={k_max} drops={k_max} wall_ms={}",
        started.elapsed().as_millis()
    );
}

/// Sweeps one call: `attempt(k)` builds the setup and returns the call's future for
/// this k; `after_drop(k)` checks the contract after try k was dropped. Returns the
/// completing try's output and its k.
pub async fn sweep<T>(
    case: &str,
    scenario: &str,
    mut attempt: impl AsyncFnMut(usize) -> Option<T>,
    mut after_drop: impl AsyncFnMut(usize),
) -> (T, usize) {
    let started = Instant::now();
    for k in 0..CAP {
        match attempt(k).await {
            Some(v) => {
                report(case, scenario, k, started);
                return (v, k);
            }
            None => after_drop(k).await,
        }
    }
    panic!("{case} ({scenario}): did not complete in {CAP} polls");
}

/// Waits until `f` holds, polling every 50 ms, failing after `limit`.
pub async fn eventually(what: &str, limit: Duration, mut f: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !f().await {
        assert!(Instant::now() < deadline, "{what}: not within {limit:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
