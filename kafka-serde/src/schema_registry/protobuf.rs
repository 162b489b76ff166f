//! Protobuf through the registry (`prost` message types): [`ProtobufSerializer`] and
//! [`ProtobufDeserializer`]. After the 5-byte header comes the message-index path (which
//! message of the `.proto` file, nested ones included, see [`message_indexes`]) and then
//! the message's Protobuf encoding, as Confluent's serializers write them.

use std::marker::PhantomData;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::Bytes;
use kafka_client::records::Header;
use kafka_schema_registry::{RegisteredSchema, Schema, SchemaIds, SchemaRegistryClient};

use super::resolver::{Format, ReaderSchemas, WriterSchemas};
use super::{RegistrySerdeError, SerdeConfig};
use crate::{Deserializer, Field, SerdeError, Serializer};

/// The registry's schema is not parsed: the message type is the application's, and the
/// message-index path comes from the serializer's own `.proto` source.
struct ProtobufFormat;

impl Format for ProtobufFormat {
    type Parsed = ();

    fn parse(_: &Schema, _: &[Arc<RegisteredSchema>]) -> Result<(), RegistrySerdeError> {
        Ok(())
    }
}

/// The message-index path of `message` in `proto_source`: the index of its top-level
/// message among the file's messages, then of each nested message within its parent.
/// `message` is the full name (`package.Outer.Inner`) or the name without the package.
///
/// ```
/// use kafka_serde::schema_registry::message_indexes;
/// let proto = r#"
///     syntax = "proto3";
///     package shop;
///     message Customer { string name = 1; }
///     message Order {
///         enum Status { NEW = 0; }
///         message Line { string sku = 1; }
///         message Payment { message Card { string last4 = 1; } }
///     }
/// "#;
/// assert_eq!(message_indexes(proto, "shop.Customer").unwrap(), vec![0]);
/// assert_eq!(message_indexes(proto, "Order.Line").unwrap(), vec![1, 0]);
/// assert_eq!(message_indexes(proto, "shop.Order.Payment.Card").unwrap(), vec![1, 1, 0]);
/// assert!(message_indexes(proto, "shop.Nope").is_err());
/// ```
pub fn message_indexes(proto_source: &str, message: &str) -> Result<Vec<i32>, RegistrySerdeError> {
    let tokens = tokenize(proto_source);
    let mut package = String::new();
    // Per open block: Some((name, index path, nested message count)) for a message.
    let mut stack: Vec<Option<(String, Vec<i32>, i32)>> = Vec::new();
    let mut top_level = 0;
    let mut i = 0;
    while i < tokens.len() {
        match tokens[i] {
            "package" if stack.is_empty() => {
                package = tokens.get(i + 1).copied().unwrap_or_default().to_owned();
                i += 2;
                continue;
            }
            "message" if tokens.get(i + 2) == Some(&"{") => {
                let name = tokens[i + 1];
                let at_top = stack.is_empty();
                let (full, path) = match stack.last_mut() {
                    Some(Some((parent, path, count))) => {
                        let mut p = path.clone();
                        p.push(*count);
                        *count += 1;
                        (format!("{parent}.{name}"), p)
                    }
                    _ if at_top => {
                        top_level += 1;
                        (name.to_owned(), vec![top_level - 1])
                    }
                    _ => {
                        // A message inside a non-message block (extend, ...): not indexed.
                        stack.push(None);
                        i += 3;
                        continue;
                    }
                };
                let qualified = if package.is_empty() {
                    full.clone()
                } else {
                    format!("{package}.{full}")
                };
                if qualified == message || full == message {
                    return Ok(path);
                }
                stack.push(Some((full, path, 0)));
                i += 3;
                continue;
            }
            "{" => stack.push(None),
            "}" => {
                stack.pop();
            }
            _ => {}
        }
        i += 1;
    }
    Err(RegistrySerdeError::Schema(format!(
        "no message {message:?} in the .proto source"
    )))
}

/// Identifiers (dots included), string literals and single punctuation, comments dropped.
fn tokenize(source: &str) -> Vec<&str> {
    let bytes = source.as_bytes();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        if c.is_ascii_whitespace() {
            i += 1;
        } else if source[i..].starts_with("//") {
            i += source[i..].find('\n').unwrap_or(source.len() - i);
        } else if source[i..].starts_with("/*") {
            i += source[i + 2..]
                .find("*/")
                .map_or(source.len() - i, |e| e + 4);
        } else if c == b'"' || c == b'\'' {
            let end = source[i + 1..]
                .find(c as char)
                .map_or(source.len(), |e| i + e + 2);
            tokens.push(&source[i..end]);
            i = end;
        } else if c.is_ascii_alphanumeric() || c == b'_' || c == b'.' {
            let start = i;
            while i < bytes.len()
                && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_' || bytes[i] == b'.')
            {
                i += 1;
            }
            tokens.push(&source[start..i]);
        } else {
            tokens.push(&source[i..i + 1]);
            i += 1;
        }
    }
    tokens
}

/// Serializes `prost` messages of one type, with the registry id of their `.proto`
/// schema and the message's index path in it.
pub struct ProtobufSerializer<M> {
    schemas: WriterSchemas<ProtobufFormat>,
    indexes: Vec<i32>,
    /// The length of the last record's framing (magic byte, id, message-index path; less
    /// with the id in a header): the next record's buffer is allocated at exactly its
    /// framing plus the message, so `Bytes::from` takes it over without a second
    /// allocation (a `Vec` with spare capacity costs one).
    prefix_len: AtomicUsize,
    _type: PhantomData<fn(&M)>,
}

impl<M> std::fmt::Debug for ProtobufSerializer<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProtobufSerializer")
            .field("config", self.schemas.config())
            .field("indexes", &self.indexes)
            .finish_non_exhaustive()
    }
}

impl<M> ProtobufSerializer<M> {
    /// A serializer of `message` (its full name) from the `.proto` file `proto_source`.
    pub fn new(
        registry: SchemaRegistryClient,
        proto_source: &str,
        message: &str,
        config: SerdeConfig,
    ) -> Result<Self, RegistrySerdeError> {
        Self::with_schema(registry, Schema::protobuf(proto_source), message, config)
    }

    /// Like [`new`](Self::new) for a schema with references: its imports, each
    /// registered under its own subject
    /// ([`SchemaReference`](kafka_schema_registry::SchemaReference) named by the import
    /// path).
    pub fn with_schema(
        registry: SchemaRegistryClient,
        schema: Schema,
        message: &str,
        config: SerdeConfig,
    ) -> Result<Self, RegistrySerdeError> {
        let indexes = message_indexes(&schema.schema, message)?;
        Ok(ProtobufSerializer {
            schemas: WriterSchemas::new(registry, config, schema, (), Some(message.to_owned())),
            prefix_len: AtomicUsize::new(6 + indexes.len()),
            indexes,
            _type: PhantomData,
        })
    }

    /// The message-index path written before each message.
    pub fn indexes(&self) -> &[i32] {
        &self.indexes
    }

    /// Registers or looks up the schema for `topic` now.
    pub async fn prepare(&self, topic: &str) -> Result<u32, RegistrySerdeError> {
        Ok(self.schemas.get_async(topic).await?.0.id)
    }
}

impl<M: prost::Message> ProtobufSerializer<M> {
    fn encode(
        &self,
        topic: &str,
        headers: &mut Vec<Header>,
        ids: SchemaIds,
        message: &M,
    ) -> Result<Vec<u8>, RegistrySerdeError> {
        let hint = self.prefix_len.load(Ordering::Relaxed);
        let mut out = Vec::with_capacity(hint + message.encoded_len());
        self.schemas
            .begin_record(&mut out, headers, topic, ids, Some(&self.indexes))?;
        if out.len() != hint {
            self.prefix_len.store(out.len(), Ordering::Relaxed);
        }
        message
            .encode(&mut out)
            .expect("a Vec grows to hold any message");
        Ok(out)
    }

    /// Serializes without blocking. The schema id must go in the prefix
    /// ([`RegistrySerdeError::NeedsHeaders`] otherwise).
    pub async fn serialize_async(
        &self,
        topic: &str,
        message: &M,
    ) -> Result<Vec<u8>, RegistrySerdeError> {
        self.schemas.prefix_only()?;
        self.serialize_with_headers_async(topic, &mut Vec::new(), message)
            .await
    }

    /// Serializes without blocking, pushing the schema-id header (with the
    /// message-index path) onto `headers` if the config places the id in one.
    pub async fn serialize_with_headers_async(
        &self,
        topic: &str,
        headers: &mut Vec<Header>,
        message: &M,
    ) -> Result<Vec<u8>, RegistrySerdeError> {
        let (ids, _) = self.schemas.get_async(topic).await?;
        self.encode(topic, headers, ids, message)
    }
}

impl<M: prost::Message> Serializer<M> for ProtobufSerializer<M> {
    fn serialize(
        &self,
        topic: &str,
        headers: &mut Vec<Header>,
        message: &M,
    ) -> Result<Option<Bytes>, SerdeError> {
        let (ids, _) = self.schemas.get(topic)?;
        Ok(Some(self.encode(topic, headers, ids, message)?.into()))
    }
}

/// Deserializes registry-framed Protobuf into a `prost` message type. The record's
/// schema id must be known to the registry (checked once per id); the message-index path
/// is read past, and the payload decoded as `M`.
pub struct ProtobufDeserializer<M> {
    writers: ReaderSchemas<ProtobufFormat>,
    _type: PhantomData<fn() -> M>,
}

impl<M> std::fmt::Debug for ProtobufDeserializer<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProtobufDeserializer")
            .finish_non_exhaustive()
    }
}

impl<M> ProtobufDeserializer<M> {
    /// A deserializer of `M`.
    pub fn new(registry: SchemaRegistryClient) -> Self {
        ProtobufDeserializer {
            writers: ReaderSchemas::new(registry),
            _type: PhantomData,
        }
    }

    /// Reads keys: the `__key_schema_id` header, when a record has one (values, and
    /// `__value_schema_id`, by default).
    pub fn for_keys(mut self) -> Self {
        self.writers.set_field(Field::Key);
        self
    }
}

fn decode<M: prost::Message + Default>(payload: &[u8]) -> Result<M, RegistrySerdeError> {
    M::decode(payload).map_err(|e| RegistrySerdeError::Payload(e.to_string()))
}

impl<M: prost::Message + Default> ProtobufDeserializer<M> {
    /// Deserializes without blocking; also returns the message-index path.
    pub async fn deserialize_async(
        &self,
        data: &[u8],
    ) -> Result<(Vec<i32>, M), RegistrySerdeError> {
        self.deserialize_with_headers_async(&[], data).await
    }

    /// Deserializes without blocking, reading the schema id and message-index path from
    /// the record's schema-id header when it has one.
    pub async fn deserialize_with_headers_async(
        &self,
        headers: &[Header],
        data: &[u8],
    ) -> Result<(Vec<i32>, M), RegistrySerdeError> {
        let (schema, indexes, payload) = self.writers.frame(headers, data, true)?;
        self.writers.get_async(schema).await?;
        Ok((indexes.unwrap_or_default(), decode(payload)?))
    }
}

impl<M: prost::Message + Default> Deserializer<M> for ProtobufDeserializer<M> {
    fn deserialize(
        &self,
        _topic: &str,
        headers: &[Header],
        data: Option<&Bytes>,
    ) -> Result<M, SerdeError> {
        let data = data.ok_or(SerdeError::Null)?;
        let (schema, _, payload) = self.writers.frame(headers, data, true)?;
        self.writers.get(schema)?;
        Ok(decode(payload)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_indexes_skip_comments_strings_and_other_blocks() {
        let proto = r#"
            syntax = "proto3";
            // message Commented { }
            /* message Block { } */
            package a.b;
            option java_package = "message Fake {";
            enum Top { A = 0; }
            service S { rpc Call (First) returns (Second) {} }
            message First {
                oneof choice { string x = 1; int32 y = 2; }
                enum Inner { B = 0; }
                map<string, int32> counts = 3;
            }
            message Second {
                message A {}
                message B { message C { message D {} } }
            }
        "#;
        assert_eq!(message_indexes(proto, "a.b.First").unwrap(), vec![0]);
        assert_eq!(message_indexes(proto, "a.b.Second").unwrap(), vec![1]);
        assert_eq!(message_indexes(proto, "Second.A").unwrap(), vec![1, 0]);
        assert_eq!(
            message_indexes(proto, "a.b.Second.B.C.D").unwrap(),
            vec![1, 1, 0, 0]
        );
        assert!(message_indexes(proto, "Commented").is_err());
        assert!(message_indexes(proto, "Block").is_err());
        assert!(message_indexes(proto, "Fake").is_err());
    }
}
