//! Serializers and deserializers for [`kafka_client`] records.
//!
//! The core client moves bytes; this crate turns them into types and back. Every
//! conversion is fallible and sees the topic and headers, as in the Java client:
//!
//! - [`BytesSerde`]: `Bytes` and `Vec<u8>`, as they are;
//! - [`StringSerde`]: UTF-8 strings, strictly (invalid UTF-8 is an error, never a
//!   replacement character);
//! - [`JsonSerde`]: any `serde` type through `serde_json`;
//! - [`Nullable`]: wraps any of them to map Kafka's null (a tombstone value, a missing
//!   key) to `None`;
//! - [`TypedProducer`] and [`TypedConsumer`]: the byte-level handles with a key and a
//!   value serde on top. A record that fails to deserialize is a per-record
//!   [`DeserializeError`] carrying its topic, partition, offset and raw bytes; the
//!   records after it are still delivered;
//! - `schema_registry` (features `schema-registry`, `avro`): Avro in the schema-registry
//!   wire format, byte-compatible with Confluent's serializers.
//!
//! ```
//! use kafka_serde::{Deserializer, JsonSerde, Serializer};
//!
//! #[derive(serde::Serialize, serde::Deserialize, PartialEq, Debug)]
//! struct Order { id: u32, item: String }
//!
//! let serde = JsonSerde::<Order>::new();
//! let mut headers = Vec::new();
//! let bytes = serde.serialize("orders", &mut headers, &Order { id: 7, item: "tea".into() }).unwrap();
//! let back: Order = serde.deserialize("orders", &headers, bytes.as_ref()).unwrap();
//! assert_eq!(back, Order { id: 7, item: "tea".into() });
//! ```
#![deny(missing_docs)]
#![deny(unsafe_code)]

mod error;
mod impls;
#[cfg(feature = "schema-registry")]
pub mod schema_registry;
mod traits;
mod typed;

pub use error::SerdeError;
pub use impls::{BytesSerde, JsonSerde, Nullable, StringSerde};
pub use traits::{Deserializer, Serializer};
pub use typed::{
    ConsumeError, DeserializeError, Field, ProduceError, TypedConsumer, TypedConsumerRecord,
    TypedProducer, TypedRecord, TypedRecords,
};
