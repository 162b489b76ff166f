//! The [`Admin`] handle and the retry clock shared by its calls.

use std::time::Duration;

use kafka_client::protocol::messages::ApiKey;
use kafka_client::protocol::protocol::{Request, StrBytes};
use kafka_client::{Client, Connection, Error, ErrorCode, ErrorContext, Result};
use tokio::time::Instant;

/// The admin client. Cheap to clone; shares the [`Client`]'s connections and metadata.
#[derive(Clone, Debug)]
pub struct Admin {
    pub(crate) client: Client,
}

impl Admin {
    /// An admin client over an existing [`Client`].
    pub fn new(client: Client) -> Self {
        Self { client }
    }

    /// An admin client for a comma-separated bootstrap list, with default settings.
    pub fn connect(bootstrap_servers: &str) -> Result<Self> {
        Ok(Self::new(
            Client::builder()
                .bootstrap_servers([bootstrap_servers])
                .build()?,
        ))
    }

    /// The underlying client.
    pub fn client(&self) -> &Client {
        &self.client
    }
}

/// Paces the retries of one admin call: exponential backoff until the call's deadline,
/// and a metadata refresh after errors that mean the controller or a leader moved.
pub(crate) struct RetryClock<'a> {
    client: &'a Client,
    operation: &'static str,
    timeout: Duration,
    deadline: Instant,
    attempt: u32,
}

impl<'a> RetryClock<'a> {
    pub(crate) fn new(client: &'a Client, operation: &'static str, timeout: Duration) -> Self {
        Self {
            client,
            operation,
            timeout,
            deadline: Instant::now() + timeout,
            attempt: 0,
        }
    }

    /// Time left before the deadline.
    pub(crate) fn remaining(&self) -> Duration {
        self.deadline.saturating_duration_since(Instant::now())
    }

    /// After `err`: returns it at once when it is not worth retrying; otherwise waits the
    /// backoff and returns `Ok`, or gives up with [`Error::Deadline`] when time is out.
    pub(crate) async fn retry_after(&mut self, err: Error) -> Result<()> {
        if !(err.is_retriable() || err.is_stale_metadata()) {
            return Err(err);
        }
        if err.is_stale_metadata()
            || matches!(err, Error::Connect { .. } | Error::ConnectionLost { .. })
        {
            let _ = self.client.metadata().await;
        }
        let wait = self.client.retry_backoff(self.attempt);
        self.attempt += 1;
        if Instant::now() + wait >= self.deadline {
            return Err(Error::Deadline {
                operation: self.operation.into(),
                timeout: self.timeout,
                last_error: err.to_string(),
            });
        }
        tracing::debug!(operation = self.operation, error = %err, ?wait, "retrying");
        tokio::time::sleep(wait).await;
        Ok(())
    }
}

/// A `Duration` as the `i32` milliseconds of a request's timeout field (saturating).
pub(crate) fn timeout_ms(d: Duration) -> i32 {
    d.as_millis().min(i32::MAX as u128) as i32
}

/// A string as the protocol's string type.
pub(crate) fn wire_str(s: &str) -> StrBytes {
    StrBytes::from_string(s.to_string())
}

/// The highest version of `R` both this crate's messages and the broker support.
pub(crate) fn version<R: Request>(conn: &Connection) -> Result<i16> {
    conn.negotiate::<R>(R::VERSIONS)
}

/// An item's error code (and message) as an [`Error`], or `None` for 0.
pub(crate) fn item_error(
    code: i16,
    context: impl FnOnce() -> ErrorContext,
    message: Option<&StrBytes>,
) -> Option<Error> {
    ErrorCode::from_code(code).map(|code| {
        Error::broker(
            code,
            context(),
            message.map(|m| m.to_string()).filter(|m| !m.is_empty()),
        )
    })
}

/// `Ok(())` for 0, else the item's error.
pub(crate) fn check_item(
    code: i16,
    context: impl FnOnce() -> ErrorContext,
    message: Option<&StrBytes>,
) -> Result<()> {
    item_error(code, context, message).map_or(Ok(()), Err)
}

/// A context naming the API and a resource.
pub(crate) fn context(api: ApiKey, resource: &str) -> ErrorContext {
    ErrorContext::default()
        .with_api(api)
        .with_resource(resource)
}
