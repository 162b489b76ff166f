//! An async client for the Confluent Schema Registry REST API.
//!
//! [`SchemaRegistryClient`] registers and looks up schemas (by global id, by subject and
//! version, latest), checks compatibility, reads and sets compatibility levels and modes,
//! follows references and deletes subjects and versions, softly or for good. Ids,
//! schemas by id and numbered versions are cached in bounded maps. It speaks HTTP or
//! HTTPS with rustls (no OpenSSL), authenticates with basic auth or a bearer token,
//! retries 5xx answers, 429s, connection failures and timeouts with exponential backoff,
//! and reports the registry's own `error_code` (40401, 409, ...) in [`Error::Registry`].
//!
//! The serializers for Avro, Protobuf and JSON Schema that use it are in `kafka-serde`
//! (features `avro`, `protobuf`, `json-schema`).
//!
//! ```no_run
//! use kafka_schema_registry::{RegistryConfig, Schema, error};
//!
//! # async fn run() -> kafka_schema_registry::Result<()> {
//! let registry = RegistryConfig::new("http://localhost:8081").build()?;
//! let schema = Schema::avro(r#"{"type":"record","name":"Order","fields":[{"name":"id","type":"long"}]}"#);
//! let id = registry.register("orders-value", &schema).await?;
//! assert_eq!(*registry.schema_by_id(id).await?, schema);
//! let latest = registry.latest("orders-value").await?;
//! assert_eq!(latest.id, id);
//! match registry.latest("no-such-subject").await {
//!     Err(e) if e.error_code() == Some(error::SUBJECT_NOT_FOUND) => {}
//!     other => panic!("{other:?}"),
//! }
//! # Ok(()) }
//! ```
#![deny(missing_docs)]
#![deny(unsafe_code)]

mod cache;
mod client;
mod config;
pub mod error;
mod guid;
mod http;
mod types;

/// The README's example, compiled as a doctest.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;

pub use client::SchemaRegistryClient;
pub use config::{Auth, RegistryConfig};
pub use error::{Error, Result};
pub use guid::{ParseGuidError, SchemaGuid};
pub use types::{
    CompatibilityLevel, Mode, RegisteredSchema, Schema, SchemaIds, SchemaReference, SchemaType,
    Version,
};
