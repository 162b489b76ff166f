//! Lower-level access, for kafka-admin and for applications that send Kafka requests
//! of their own: connections to named brokers, request routing targets, the protocol
//! operations the client already implements (coordinator lookup, ListOffsets, OffsetFetch, InitProducerId, the consumer's
//! embedded group protocol), and the retry helper
//! every built-in operation paces itself with.
//!
//! Requests and responses are the message types of the `kafka-protocol` crate (add it
//! to your own dependencies at the version this crate uses); they are not re-exported,
//! so this crate's public API does not move with that 0.x crate's. The typed handles
//! ([`Producer`](crate::Producer), [`Consumer`](crate::Consumer), kafka-admin's
//! `Admin`) are what most programs need; reach for this module when they lack a request.
//!
//! ```no_run
//! # async fn run() -> kafka_client::Result<()> {
//! use kafka_client::Client;
//! use kafka_client::lowlevel::{CoordinatorType, find_coordinators};
//!
//! let client = Client::builder().bootstrap_servers(["127.0.0.1:9092"]).build()?;
//! let found = find_coordinators(&client, CoordinatorType::Group, ["billing".to_string()]).await?;
//! println!("coordinator of billing: {:?}", found["billing"]);
//! # Ok(()) }
//! ```

pub use crate::client::Target;
pub use crate::net::{AsyncStream, BrokerVersions, Connection, ConnectionKind, Dial, DialFuture};
pub use crate::ops::consumer_protocol;
pub use crate::ops::init_producer_id::init_producer_id_on;
pub use crate::ops::list_offsets::{
    EARLIEST_LOCAL_TIMESTAMP, EARLIEST_TIMESTAMP, LATEST_TIERED_TIMESTAMP, LATEST_TIMESTAMP,
    ListedOffset, MAX_TIMESTAMP, list_offsets_on,
};
pub use crate::ops::offset_fetch::{CommittedOffset, FetchingMember, offset_fetch_on};
pub use crate::ops::{CoordinatorType, RetryClock, find_coordinators};

/// Makes every connection of clients built from `builder` open its byte stream with
/// `dial` instead of TCP (TLS and SASL, when configured, still run on top). This is the
/// seam kafka-sim's deterministic simulation uses to run the real producer and
/// consumer over in-memory pipes on tokio's paused clock; an application might use it
/// for a proxy or a Unix socket. Share the built [`Client`](crate::Client) with a
/// producer or consumer through their builders' `client(...)`.
pub fn with_dialer(
    mut builder: crate::ClientBuilder,
    dial: std::sync::Arc<dyn Dial>,
) -> crate::ClientBuilder {
    builder.dialer = Some(crate::net::Dialer(dial));
    builder
}

/// Makes clients built from `builder` ignore the leader hints (KIP-951) of
/// NOT_LEADER_OR_FOLLOWER and FENCED_LEADER_EPOCH answers: a moved partition is found by
/// a Metadata refresh, as before the client took hints. A measurement hook (the
/// reliability matrix's "before KIP-951" rows), not a setting: hidden from the docs, and
/// nothing a program should call.
#[doc(hidden)]
pub fn ignore_leader_hints(mut builder: crate::ClientBuilder) -> crate::ClientBuilder {
    builder.ignore_leader_hints = true;
    builder
}

/// Request and response types generated from Kafka 4.4's JSON schemas for the APIs and
/// versions `kafka-protocol` 0.18 lacks (share groups, streams groups, newer versions of
/// ListOffsets, OffsetCommit, OffsetFetch, ...). They implement kafka-protocol's traits,
/// so [`Connection::request`] sends them like kafka-protocol's own messages.
pub mod protocol_gen {
    pub use crate::protocol_gen::*;
}
