//! In-band re-authentication (KIP-368). When the broker grants a SASL session of limited
//! lifetime, the connection task runs a new SaslHandshake + SaslAuthenticate exchange on
//! the same connection at a random point between 85 % and 95 % of the lifetime
//! (measured from the start of the previous exchange), as the Java client does.
//!
//! The rules follow Java's `KafkaChannel`/`SaslClientAuthenticator`: the credentials
//! (a token from the provider) are fetched first while requests keep flowing; then the
//! exchange's requests are written after whatever was already queued, and no other
//! request is written until it completes. Requests already in flight are answered first
//! (the broker handles a connection's requests in order) and go to their callers as
//! usual; requests made meanwhile wait in the connection's queue. A failure (no token,
//! the broker refusing) ends the connection with [`Error::Authentication`].

use std::time::Duration;

use kafka_protocol::messages::{
    SaslAuthenticateRequest, SaslAuthenticateResponse, SaslHandshakeRequest, SaslHandshakeResponse,
};
use tokio::time::Instant;

use super::sasl::{Exchange, Step};
use crate::config::SaslConfig;
use crate::error::{ErrorContext, Result};
use crate::types::BoxFuture;

/// What the connection set-up learnt for re-authentication.
#[derive(Clone)]
pub(crate) struct ReauthSetup {
    pub(crate) sasl: SaslConfig,
    pub(crate) handshake_version: i16,
    pub(crate) authenticate_version: i16,
    /// The session lifetime the broker granted.
    pub(crate) lifetime: Duration,
    /// When the exchange that got it began.
    pub(crate) started: Instant,
}

/// When to re-authenticate a session of `lifetime` that began at `started`: at a random
/// point between 85 % and 95 % of it (`share` in 0..1 picks the point).
pub(crate) fn due(started: Instant, lifetime: Duration, share: f64) -> Instant {
    started + lifetime.mul_f64(0.85 + share.clamp(0.0, 1.0) * 0.10)
}

enum State {
    /// Until the next re-authentication is due.
    Waiting(Instant),
    /// Getting the credentials (the provider's token).
    Preparing(BoxFuture<'static, Result<Exchange>>),
    /// SaslHandshake written, its answer awaited.
    Handshake(Exchange),
    /// A SaslAuthenticate written, its answer awaited.
    Authenticating(Exchange),
    /// The broker granted a session that does not expire, or the exchange failed.
    Off,
}

/// The re-authentication state of one connection.
pub(crate) struct Reauth {
    sasl: SaslConfig,
    context: ErrorContext,
    pub(crate) handshake_version: i16,
    pub(crate) authenticate_version: i16,
    state: State,
    /// When the current exchange began.
    started: Instant,
    /// When the broker's current session ends.
    session_end: Instant,
}

impl Reauth {
    pub(crate) fn new(setup: ReauthSetup, context: ErrorContext) -> Self {
        Self {
            state: State::Waiting(due(setup.started, setup.lifetime, fastrand::f64())),
            sasl: setup.sasl,
            context,
            handshake_version: setup.handshake_version,
            authenticate_version: setup.authenticate_version,
            started: setup.started,
            session_end: setup.started + setup.lifetime,
        }
    }

    /// When the broker's current session ends.
    pub(crate) fn session_end(&self) -> Instant {
        self.session_end
    }

    /// Whether other requests may be written now: not during the exchange.
    pub(crate) fn allows_requests(&self) -> bool {
        !matches!(self.state, State::Handshake(_) | State::Authenticating(_))
    }

    /// Whether [`Reauth::ready`] has something to wait for.
    pub(crate) fn is_pending(&self) -> bool {
        matches!(self.state, State::Waiting(_) | State::Preparing(_))
    }

    /// Resolves with the SaslHandshake to write once a re-authentication is due and its
    /// credentials are ready. Cancel-safe: a token request under way is kept.
    pub(crate) async fn ready(&mut self) -> Result<SaslHandshakeRequest> {
        loop {
            match &mut self.state {
                State::Waiting(due) => {
                    tokio::time::sleep_until(*due).await;
                    self.started = Instant::now();
                    let (sasl, context) = (self.sasl.clone(), self.context.clone());
                    tracing::debug!(broker = ?context.address, "re-authenticating (KIP-368)");
                    self.state = State::Preparing(Box::pin(async move {
                        Exchange::start(&sasl, &context).await
                    }));
                }
                State::Preparing(fut) => {
                    let result = fut.await;
                    return match result {
                        Ok(exchange) => {
                            let req = exchange.handshake_request();
                            self.state = State::Handshake(exchange);
                            Ok(req)
                        }
                        Err(e) => {
                            self.state = State::Off;
                            Err(e)
                        }
                    };
                }
                _ => std::future::pending::<()>().await,
            }
        }
    }

    /// The SaslHandshake answer: the first SaslAuthenticate to write.
    pub(crate) fn on_handshake(
        &mut self,
        resp: &SaslHandshakeResponse,
    ) -> Result<SaslAuthenticateRequest> {
        let State::Handshake(mut exchange) = std::mem::replace(&mut self.state, State::Off) else {
            return Err(self.unexpected("SaslHandshake"));
        };
        exchange.check_handshake(resp)?;
        let req = exchange.first()?;
        self.state = State::Authenticating(exchange);
        Ok(req)
    }

    /// A SaslAuthenticate answer: the next request to write, or `None` when the session
    /// is renewed (and the next re-authentication scheduled).
    pub(crate) fn on_authenticate(
        &mut self,
        resp: &SaslAuthenticateResponse,
    ) -> Result<Option<SaslAuthenticateRequest>> {
        let State::Authenticating(mut exchange) = std::mem::replace(&mut self.state, State::Off)
        else {
            return Err(self.unexpected("SaslAuthenticate"));
        };
        match exchange.on_authenticate(resp)? {
            Step::Send(req) => {
                self.state = State::Authenticating(exchange);
                Ok(Some(req))
            }
            Step::Done(lifetime) => {
                if let Some(lifetime) = lifetime {
                    self.session_end = self.started + lifetime;
                    self.state = State::Waiting(due(self.started, lifetime, fastrand::f64()));
                } else {
                    self.session_end = Instant::now() + Duration::from_secs(365 * 24 * 3600);
                }
                Ok(None)
            }
        }
    }

    fn unexpected(&self, api: &str) -> crate::Error {
        crate::Error::Protocol {
            context: self.context.clone(),
            message: format!("unexpected {api} response during re-authentication"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn due_between_85_and_95_percent() {
        let t0 = Instant::now();
        let life = Duration::from_secs(10);
        assert_eq!(due(t0, life, 0.0), t0 + Duration::from_millis(8_500));
        assert_eq!(due(t0, life, 1.0), t0 + Duration::from_millis(9_500));
        assert_eq!(due(t0, life, 7.0), t0 + Duration::from_millis(9_500));
    }
}
