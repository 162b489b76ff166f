//! Networking: transport (TCP, TLS), SASL, framing, the per-connection task, version negotiation, and the
//! connection pool.

mod connection;
mod fault;
mod frame;
#[cfg(test)]
mod fuzz_pass;
#[cfg(any(test, feature = "fuzzing"))]
#[doc(hidden)]
pub mod fuzzing;
mod handshake;
mod pool;
mod reauth;
#[cfg(test)]
mod reauth_tests;
mod sasl;
mod shape;
mod throttle;
pub(crate) mod tls;
mod transport;
mod versions;
mod write_queue;

pub use connection::Connection;
pub(crate) use fault::Fault;
pub use pool::ConnectionKind;
pub(crate) use pool::{NodeKey, Pool};
pub(crate) use transport::Dialer;
pub use transport::{AsyncStream, Dial, DialFuture};
pub use versions::BrokerVersions;
