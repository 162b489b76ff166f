//! Serdes framed in the schema-registry wire format, byte-compatible with Confluent's
//! serializers (features `schema-registry`, `avro`, `json-schema`, `protobuf`).
//!
//! A framed key or value is the magic byte 0, the schema's registry id as 4 bytes
//! big-endian, then (Protobuf only) the message-index path, then the payload. As an
//! option ([`SchemaIdPlacement`]) the id (or the schema's GUID) goes in a record header
//! instead, as newer Confluent clients write it; the deserializers read the header when
//! a record has one and the prefix otherwise. The
//! serializers pick a subject with a [`SubjectNameStrategy`] and an id with a
//! [`SchemaSelection`] (auto-register, look up, latest, fixed id), ask the registry once
//! per topic and cache the answer; the deserializers fetch each writer schema once per
//! id. A record that is not framed, names an unknown id or does not decode fails alone,
//! as a [`DeserializeError`](crate::DeserializeError) from the typed consumer, whose
//! error downcasts to [`RegistrySerdeError`] (see [`RegistrySerdeError::of`]).
//!
//! The [`Serializer`](crate::Serializer) traits are synchronous: on a cache miss the
//! registry call blocks the caller (with `block_in_place` on a multi-threaded tokio
//! runtime). Call `prepare` on a serializer, or use the `*_async` methods, to keep that
//! off a runtime thread.
//!
//! ```no_run
//! # #[cfg(feature = "avro")]
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use kafka_serde::schema_registry::{AvroDeserializer, AvroSerializer, SerdeConfig};
//! use kafka_schema_registry::SchemaRegistryClient;
//!
//! #[derive(serde::Serialize, serde::Deserialize, Debug, PartialEq)]
//! struct Order { id: i64, item: String }
//! const SCHEMA: &str = r#"{"type":"record","name":"Order","fields":[
//!     {"name":"id","type":"long"},{"name":"item","type":"string"}]}"#;
//!
//! let registry = SchemaRegistryClient::from_url("http://localhost:8081")?;
//! let ser = AvroSerializer::<Order>::new(registry.clone(), SCHEMA, SerdeConfig::value())?;
//! let bytes = ser.serialize_async("orders", &Order { id: 1, item: "tea".into() }).await?;
//! let de = AvroDeserializer::<Order>::new(registry);
//! assert_eq!(de.deserialize_async(&bytes).await?, Order { id: 1, item: "tea".into() });
//! # Ok(()) }
//! ```

#[cfg(feature = "avro")]
mod avro;
#[cfg(feature = "avro")]
mod avro_encode;
#[cfg(all(test, feature = "avro"))]
mod avro_encode_tests;
#[cfg(feature = "avro")]
mod avro_serde_encode;
mod bridge;
mod config;
mod error;
mod id_header;
#[cfg(feature = "json-schema")]
mod json_schema;
#[cfg(feature = "protobuf")]
mod protobuf;
mod resolver;
pub mod wire;

#[cfg(feature = "avro")]
pub use avro::{
    AvroDeserializer, AvroSerializer, AvroValueDeserializer, AvroValueSerializer, ParsedAvro,
};
pub use config::{SchemaSelection, SerdeConfig, SubjectNameStrategy};
pub use error::RegistrySerdeError;
pub use id_header::{
    GUID_MAGIC_BYTE, KEY_SCHEMA_ID_HEADER, SchemaIdPlacement, SchemaRef, VALUE_SCHEMA_ID_HEADER,
    schema_id_header,
};
#[cfg(feature = "json-schema")]
pub use json_schema::{JsonSchemaDeserializer, JsonSchemaSerializer, ParsedJsonSchema};
pub use kafka_schema_registry::{self as registry, SchemaRegistryClient};
#[cfg(feature = "protobuf")]
pub use protobuf::{ProtobufDeserializer, ProtobufSerializer, message_indexes};
