//! A pure-Rust, async (tokio) Apache Kafka client.
//!
//! - [`Client`]: connections, version negotiation and the metadata cache; the base of
//!   every other handle.
//! - [`lowlevel`]: connections to named brokers and raw requests (`kafka-protocol`
//!   messages), for admin code and requests the typed handles lack.
//! - [`records`]: the record batch v2 codec (CRC-32C, gzip, snappy, lz4, zstd), pure Rust.
//!
//! Errors are one typed [`Error`] with predicates ([`Error::is_retriable`],
//! [`Error::code`]) and context naming the broker, API, topic and partition.
#![deny(missing_docs)]
#![deny(unsafe_code)]

#[cfg(feature = "aws-msk-iam")]
pub mod aws;
mod client;
pub mod cluster;
pub mod config;
pub mod consumer;
#[cfg(test)]
mod docs_gen;
pub mod error;
mod kerberos;
pub mod lowlevel;
mod metrics_push;
mod net;
pub mod observe;
#[cfg(feature = "oidc")]
pub mod oidc;
mod ops;
pub mod producer;
mod protocol_gen;
pub mod records;
pub mod share;
mod types;

/// Keys, values and header values are `Bytes` (cheaply cloned, shared slices).
pub use bytes::Bytes;
pub use client::Client;
pub use cluster::{
    BrokerInfo, ClusterMetadata, MetadataRecoveryStrategy, PartitionInfo, TopicInfo,
};
pub use config::{BrokerAddress, ClientBuilder, ClientConfig};
pub use consumer::{Consumer, ConsumerBuilder, ConsumerRecord, ConsumerRecords};
pub use error::{
    Error, ErrorCode, ErrorContext, KerberosFailure, Result, TlsErrorKind, TransactionErrorKind,
};
pub use producer::{
    Acks, DeliveryFuture, Producer, ProducerBuilder, ProducerRecord, RecordMetadata,
};
pub use records::{Compression, Header};
pub use share::{AcknowledgeType, ShareConsumer, ShareConsumerBuilder, ShareRecord};
pub use types::{BoxFuture, GroupMetadata, OffsetAndMetadata, OffsetAndTimestamp, TopicPartition};
/// Topic ids are UUIDs.
pub use uuid::Uuid;

/// Entry points for the `fuzz/` targets (not part of the API).
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub use net::fuzzing;
