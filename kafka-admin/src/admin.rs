//! The [`Admin`] handle and the small helpers its calls share. Retries are paced by
//! kafka-client's `lowlevel::RetryClock`, the same helper the consumer and producer use.

use std::time::Duration;

use kafka_client::lowlevel::Connection;
use kafka_client::{Client, Error, ErrorCode, ErrorContext, Result};
use kafka_protocol::messages::ApiKey;
use kafka_protocol::protocol::{Request, StrBytes};

/// The admin client. Cheap to clone; shares the [`Client`]'s connections and metadata.
#[derive(Clone, Debug)]
pub struct Admin {
    pub(crate) client: Client,
    /// The admin client built its [`Client`] (not one shared with others): closing the
    /// admin closes it, after the terminating telemetry push (KIP-714).
    owns_client: bool,
}

impl Admin {
    /// An admin client over an existing [`Client`] (which [`Admin::close`] leaves open).
    pub fn new(client: Client) -> Self {
        Self {
            client,
            owns_client: false,
        }
    }

    /// An admin client for a comma-separated bootstrap list, with default settings.
    pub fn connect(bootstrap_servers: &str) -> Result<Self> {
        Self::from_client_config(Client::builder().bootstrap_servers([bootstrap_servers]))
    }

    /// An admin client with its own [`Client`] built from `config` (which
    /// [`Admin::close`] closes).
    pub fn from_client_config(config: kafka_client::ClientBuilder) -> Result<Self> {
        Ok(Self {
            client: config.build()?,
            owns_client: true,
        })
    }

    /// The underlying client.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Closes the admin client. One that built its own client ([`Admin::connect`],
    /// [`Admin::from_client_config`]) sends its last, terminating telemetry push
    /// (KIP-714), waiting at most `timeout`, then closes the client: later calls on any
    /// clone fail with `Error::Closed`. One over a shared client ([`Admin::new`]) leaves
    /// the client, and its telemetry, to its other users.
    ///
    /// # Cancel safety
    /// Cancel-safe: dropped during the terminating push, the push still goes out (its
    /// task runs on) and the client is left open; a later `close` closes it.
    pub async fn close(&self, timeout: Duration) {
        if self.owns_client {
            self.client.close_with_timeout(timeout).await;
        }
    }

    /// Where a read that any broker answers goes: any broker, or, through
    /// `bootstrap.controllers` (KIP-919), the active controller (as Java's admin: only
    /// the quorum leader answers DescribeQuorum).
    pub(crate) fn any_broker_or_active_controller(&self) -> kafka_client::lowlevel::Target {
        use kafka_client::lowlevel::Target;
        if self.client.config().via_controllers() {
            Target::Controller
        } else {
            Target::Any
        }
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
