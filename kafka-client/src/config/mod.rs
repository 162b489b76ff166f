//! Typed configuration: builders validated once at `build()`.

mod client;

pub(crate) use client::backoff;
pub use client::{BrokerAddress, ClientBuilder, ClientConfig};
