//! A pure-Rust, async (tokio) Apache Kafka client.
//!
//! - [`Client`]: connections, version negotiation and the metadata cache; the base of
//!   every other handle, and raw request access for admin code.
//! - [`records`]: the record batch v2 codec (CRC-32C, gzip, snappy, lz4, zstd), pure Rust.
//!
//! Errors are one typed [`Error`] with predicates ([`Error::is_retriable`],
//! [`Error::code`]) and context naming the broker, API, topic and partition.
#![deny(missing_docs)]
#![deny(unsafe_code)]

mod client;
pub mod cluster;
pub mod config;
pub mod consumer;
pub mod error;
pub mod net;
pub mod observe;
pub mod producer;
pub mod records;

pub use client::{Client, Target};
pub use cluster::{BrokerInfo, ClusterMetadata, PartitionInfo, TopicInfo};
pub use config::{BrokerAddress, ClientBuilder, ClientConfig};
pub use consumer::{Consumer, ConsumerBuilder, ConsumerRecord, ConsumerRecords};
pub use error::{Error, ErrorCode, ErrorContext, Result, TlsErrorKind, TransactionErrorKind};
pub use net::{Connection, ConnectionKind};
pub use producer::{
    Acks, DeliveryFuture, Producer, ProducerBuilder, ProducerRecord, RecordMetadata,
};
/// Topic ids are UUIDs.
pub use uuid::Uuid;

/// The wire-message crate this client speaks through, re-exported so admin code and
/// applications can build raw requests for [`Client::send`].
pub use kafka_protocol as protocol;
