//! When to ask the identity provider for a token: the cached token is used until a
//! random point between `factor` and `factor + jitter` of its lifetime; then each call
//! asks for a new one, keeping the old one while it is still valid if the identity
//! provider fails, and after a failure waits a backoff (doubling, ±20 %) before asking
//! again. Times are tokio's, so the tests run on a paused clock.

use std::time::Duration;

use tokio::time::Instant;

use super::OidcError;
use crate::config::OAuthBearerToken;

/// What the provider should do now.
#[derive(Debug)]
pub(crate) enum Next {
    /// Hand out this token.
    Use(OAuthBearerToken),
    /// Ask the identity provider.
    Fetch,
    /// Still backing off after a failure, and no valid token: this error.
    Fail(OidcError),
}

#[derive(Debug)]
struct Cached {
    token: OAuthBearerToken,
    refresh_at: Instant,
    expires_at: Instant,
}

/// The cache and retry state of one provider.
#[derive(Debug)]
pub(crate) struct Refresh {
    cached: Option<Cached>,
    failures: u32,
    retry_at: Option<Instant>,
    last_error: Option<OidcError>,
    factor: f64,
    jitter: f64,
    backoff: Duration,
    backoff_max: Duration,
}

impl Refresh {
    pub(crate) fn new(factor: f64, jitter: f64, backoff: Duration, backoff_max: Duration) -> Self {
        Self {
            cached: None,
            failures: 0,
            retry_at: None,
            last_error: None,
            factor,
            jitter,
            backoff,
            backoff_max,
        }
    }

    fn valid(&self, now: Instant) -> Option<&OAuthBearerToken> {
        self.cached
            .as_ref()
            .filter(|c| now < c.expires_at)
            .map(|c| &c.token)
    }

    pub(crate) fn next(&self, now: Instant) -> Next {
        if let Some(c) = self.cached.as_ref().filter(|c| now < c.refresh_at) {
            return Next::Use(c.token.clone());
        }
        if self.retry_at.is_some_and(|r| now < r) {
            if let Some(t) = self.valid(now) {
                return Next::Use(t.clone());
            }
            if let Some(e) = &self.last_error {
                return Next::Fail(e.clone());
            }
        }
        Next::Fetch
    }

    /// A new token, valid for `lifetime` from `now`.
    pub(crate) fn fetched(&mut self, now: Instant, token: OAuthBearerToken, lifetime: Duration) {
        let share = self.factor + fastrand::f64() * self.jitter;
        self.cached = Some(Cached {
            token,
            refresh_at: now + lifetime.mul_f64(share.min(1.0)),
            expires_at: now + lifetime,
        });
        self.failures = 0;
        self.retry_at = None;
        self.last_error = None;
    }

    /// The request failed: the still-valid cached token, or the error.
    pub(crate) fn failed(
        &mut self,
        now: Instant,
        error: OidcError,
    ) -> Result<OAuthBearerToken, OidcError> {
        self.failures = self.failures.saturating_add(1);
        let exp = self.failures.saturating_sub(1).min(16);
        let wait = self
            .backoff
            .saturating_mul(1 << exp)
            .min(self.backoff_max)
            .mul_f64(0.8 + fastrand::f64() * 0.4);
        self.retry_at = Some(now + wait);
        self.last_error = Some(error.clone());
        match self.valid(now) {
            Some(t) => Ok(t.clone()),
            None => Err(error),
        }
    }

    /// Failed requests in a row.
    pub(crate) fn failures(&self) -> u32 {
        self.failures
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn down() -> OidcError {
        OidcError::Unreachable {
            url: "http://idp/t".into(),
            reason: "connection refused".into(),
        }
    }

    fn value(n: &Next) -> Option<&str> {
        match n {
            Next::Use(t) => Some(t.value.expose()),
            _ => None,
        }
    }

    /// The token is reused until 80-85 % of its life, refreshed after.
    #[tokio::test(start_paused = true)]
    async fn refreshes_within_the_window() {
        let mut r = Refresh::new(
            0.8,
            0.05,
            Duration::from_millis(100),
            Duration::from_secs(10),
        );
        assert!(matches!(r.next(Instant::now()), Next::Fetch));
        r.fetched(
            Instant::now(),
            OAuthBearerToken::new("a"),
            Duration::from_secs(100),
        );
        tokio::time::advance(Duration::from_secs(79)).await;
        assert_eq!(value(&r.next(Instant::now())), Some("a"));
        tokio::time::advance(Duration::from_secs(7)).await;
        assert!(matches!(r.next(Instant::now()), Next::Fetch));
    }

    /// While the identity provider is down the old token serves until it expires; retries
    /// back off (doubling, capped); a success resets everything.
    #[tokio::test(start_paused = true)]
    async fn keeps_the_valid_token_and_backs_off() {
        let mut r = Refresh::new(0.8, 0.0, Duration::from_secs(1), Duration::from_secs(4));
        r.fetched(
            Instant::now(),
            OAuthBearerToken::new("a"),
            Duration::from_secs(100),
        );
        tokio::time::advance(Duration::from_secs(81)).await;
        assert!(matches!(r.next(Instant::now()), Next::Fetch));
        let t = r
            .failed(Instant::now(), down())
            .expect("old token still valid");
        assert_eq!(t.value.expose(), "a");
        // Backing off (0.8-1.2 s): the old token, no request.
        assert_eq!(value(&r.next(Instant::now())), Some("a"));
        tokio::time::advance(Duration::from_millis(1_300)).await;
        assert!(matches!(r.next(Instant::now()), Next::Fetch));
        r.failed(Instant::now(), down()).unwrap();
        r.failed(Instant::now(), down()).unwrap();
        r.failed(Instant::now(), down()).unwrap();
        assert_eq!(r.failures(), 4);
        // Capped at 4 s (+20 %).
        tokio::time::advance(Duration::from_millis(4_900)).await;
        assert!(matches!(r.next(Instant::now()), Next::Fetch));
        // The token expires: now the error, until the backoff ends.
        tokio::time::advance(Duration::from_secs(20)).await;
        let e = r.failed(Instant::now(), down()).unwrap_err();
        assert_eq!(e, down());
        assert!(matches!(r.next(Instant::now()), Next::Fail(_)));
        tokio::time::advance(Duration::from_secs(5)).await;
        assert!(matches!(r.next(Instant::now()), Next::Fetch));
        r.fetched(
            Instant::now(),
            OAuthBearerToken::new("b"),
            Duration::from_secs(100),
        );
        assert_eq!(r.failures(), 0);
        assert_eq!(value(&r.next(Instant::now())), Some("b"));
    }
}
