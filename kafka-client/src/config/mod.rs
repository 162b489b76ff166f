//! Typed configuration: builders validated once at `build()`.

mod client;
mod properties;

pub(crate) use client::backoff;
pub use client::{BrokerAddress, ClientBuilder, ClientConfig};
pub use properties::{Properties, bad_value};
