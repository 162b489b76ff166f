//! Avro through the registry (`apache-avro`): [`AvroSerializer`] / [`AvroDeserializer`]
//! for `serde` types, [`AvroValueSerializer`] / [`AvroValueDeserializer`] for the generic
//! [`Value`]. The payload after the 5-byte header is the Avro binary encoding, as
//! Confluent's serializers write it.

use std::marker::PhantomData;
use std::sync::Arc;

use apache_avro::types::Value;
use bytes::Bytes;
use kafka_client::records::Header;
use kafka_schema_registry::{RegisteredSchema, Schema, SchemaRegistryClient};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::avro_encode::{Names, encode_value};
use super::avro_serde_encode::encode_serde;
use super::resolver::{Format, ReaderSchemas, WriterSchemas, fetch_references};
use super::{RegistrySerdeError, SerdeConfig};
use crate::{Deserializer, Field, SerdeError, Serializer};

/// A parsed Avro schema and the named types it refers to.
#[derive(Debug)]
pub struct ParsedAvro {
    schema: apache_avro::Schema,
    references: Vec<apache_avro::Schema>,
    /// The named types of both, for the direct encoders.
    names: Names,
}

impl ParsedAvro {
    /// The schema.
    pub fn schema(&self) -> &apache_avro::Schema {
        &self.schema
    }

    fn refs(&self) -> Vec<&apache_avro::Schema> {
        self.references.iter().collect()
    }

    fn refs_with_main(&self) -> Vec<&apache_avro::Schema> {
        self.references
            .iter()
            .chain(std::iter::once(&self.schema))
            .collect()
    }

    fn record_name(&self) -> Option<String> {
        self.schema.name().map(|n| n.fullname(None))
    }

    /// Appends the Avro encoding of `value` to `out`: straight from the value when it is
    /// in the schema's shape, else through `apache-avro`'s resolution.
    pub(super) fn encode(
        &self,
        out: &mut Vec<u8>,
        value: &Value,
    ) -> Result<(), RegistrySerdeError> {
        let start = out.len();
        if encode_value(out, value, &self.schema, &self.names).is_ok() {
            return Ok(());
        }
        out.truncate(start);
        self.encode_resolved(out, value)
    }

    /// The general path: `value` resolved to the schema (record fields by name, defaults,
    /// a union's branch, a string for an enum, promotions), then encoded by `apache-avro`.
    /// A value that does not resolve but validates as it is is written as it is
    /// (resolution refuses, for one, a bytes decimal shorter than its precision's
    /// maximum, which is how Confluent's serializers write them).
    fn encode_resolved(&self, out: &mut Vec<u8>, value: &Value) -> Result<(), RegistrySerdeError> {
        let encode = |e: apache_avro::Error| RegistrySerdeError::Encode(e.to_string());
        let resolved = if self.references.is_empty() {
            value.clone().resolve(&self.schema)
        } else {
            value.clone().resolve_schemata(&self.schema, self.refs())
        };
        let datum = match resolved {
            Ok(resolved) => {
                apache_avro::to_avro_datum_schemata(&self.schema, self.refs(), resolved)
            }
            Err(e) => {
                let valid = if self.references.is_empty() {
                    value.validate(&self.schema)
                } else {
                    value.validate_schemata(self.refs_with_main())
                };
                if !valid {
                    return Err(encode(e));
                }
                apache_avro::to_avro_datum_schemata(&self.schema, self.refs(), value.clone())
            }
        }
        .map_err(encode)?;
        out.extend_from_slice(&datum);
        Ok(())
    }

    /// Writes a `serde` value straight into the output, walking the schema (no
    /// intermediate `Value`, no allocation); a value that encoder does not take as it is
    /// goes through a `Value` and [`encode_resolved`](Self::encode_resolved).
    pub(super) fn encode_serde<T: Serialize + ?Sized>(
        &self,
        out: &mut Vec<u8>,
        value: &T,
    ) -> Result<(), RegistrySerdeError> {
        let start = out.len();
        if encode_serde(out, value, &self.schema, &self.names).is_ok() {
            return Ok(());
        }
        out.truncate(start);
        self.encode_resolved(out, &to_value(value)?)
    }

    fn decode(
        &self,
        mut payload: &[u8],
        reader: Option<&ParsedAvro>,
    ) -> Result<Value, RegistrySerdeError> {
        let payload_error = |e: apache_avro::Error| RegistrySerdeError::Payload(e.to_string());
        let value =
            apache_avro::from_avro_datum_schemata(&self.schema, self.refs(), &mut payload, None)
                .map_err(payload_error)?;
        match reader {
            Some(r) if r.references.is_empty() => value.resolve(&r.schema),
            Some(r) => value.resolve_schemata(&r.schema, r.refs()),
            None => Ok(value),
        }
        .map_err(payload_error)
    }
}

struct AvroFormat;

impl Format for AvroFormat {
    type Parsed = ParsedAvro;

    fn parse(
        schema: &Schema,
        references: &[Arc<RegisteredSchema>],
    ) -> Result<ParsedAvro, RegistrySerdeError> {
        parse_avro(schema, references)
    }
}

pub(super) fn parse_avro(
    schema: &Schema,
    references: &[Arc<RegisteredSchema>],
) -> Result<ParsedAvro, RegistrySerdeError> {
    let schema_error = |e: apache_avro::Error| RegistrySerdeError::Schema(e.to_string());
    if references.is_empty() {
        let schema = apache_avro::Schema::parse_str(&schema.schema).map_err(schema_error)?;
        return Ok(ParsedAvro {
            names: Names::of([&schema]),
            schema,
            references: Vec::new(),
        });
    }
    let texts = references
        .iter()
        .map(|r| r.schema.schema.as_str())
        .chain(std::iter::once(schema.schema.as_str()));
    let mut all = apache_avro::Schema::parse_list(texts).map_err(schema_error)?;
    let main = all
        .pop()
        .ok_or_else(|| RegistrySerdeError::Schema("empty schema list".into()))?;
    Ok(ParsedAvro {
        names: Names::of(all.iter().chain([&main])),
        schema: main,
        references: all,
    })
}

/// The shared part of the two Avro serializers.
struct AvroWriter {
    schemas: WriterSchemas<AvroFormat>,
}

impl AvroWriter {
    fn new(
        registry: SchemaRegistryClient,
        schema: Schema,
        references: &[Arc<RegisteredSchema>],
        config: SerdeConfig,
    ) -> Result<Self, RegistrySerdeError> {
        let parsed = parse_avro(&schema, references)?;
        let name = parsed.record_name();
        Ok(AvroWriter {
            schemas: WriterSchemas::new(registry, config, schema, parsed, name),
        })
    }

    async fn with_references(
        registry: SchemaRegistryClient,
        schema: Schema,
        config: SerdeConfig,
    ) -> Result<Self, RegistrySerdeError> {
        let references = fetch_references(&registry, &schema).await?;
        AvroWriter::new(registry, schema, &references, config)
    }

    fn write(
        &self,
        topic: &str,
        headers: &mut Vec<Header>,
        value: &Value,
    ) -> Result<Vec<u8>, RegistrySerdeError> {
        let (ids, schema) = self.schemas.get(topic)?;
        let mut out = self.schemas.buffer();
        self.schemas
            .begin_record(&mut out, headers, topic, ids, None)?;
        schema.encode(&mut out, value)?;
        Ok(self.schemas.written(out))
    }

    async fn write_async(
        &self,
        topic: &str,
        headers: &mut Vec<Header>,
        value: &Value,
    ) -> Result<Vec<u8>, RegistrySerdeError> {
        let (ids, schema) = self.schemas.get_async(topic).await?;
        let mut out = self.schemas.buffer();
        self.schemas
            .begin_record(&mut out, headers, topic, ids, None)?;
        schema.encode(&mut out, value)?;
        Ok(self.schemas.written(out))
    }

    fn write_serde<T: Serialize + ?Sized>(
        &self,
        topic: &str,
        headers: &mut Vec<Header>,
        ids_and_schema: (kafka_schema_registry::SchemaIds, Arc<ParsedAvro>),
        value: &T,
    ) -> Result<Vec<u8>, RegistrySerdeError> {
        let (ids, schema) = ids_and_schema;
        let mut out = self.schemas.buffer();
        self.schemas
            .begin_record(&mut out, headers, topic, ids, None)?;
        schema.encode_serde(&mut out, value)?;
        Ok(self.schemas.written(out))
    }
}

fn to_value<T: Serialize + ?Sized>(value: &T) -> Result<Value, RegistrySerdeError> {
    apache_avro::to_value(value).map_err(|e| RegistrySerdeError::Encode(e.to_string()))
}

/// Serializes `serde` types as Avro with a registry schema id.
///
/// The value is turned into an Avro [`Value`] and resolved against the schema (so record
/// fields go by name and an `Option` fills a `["null", T]` union).
pub struct AvroSerializer<T: ?Sized> {
    writer: AvroWriter,
    _type: PhantomData<fn(&T)>,
}

impl<T: ?Sized> std::fmt::Debug for AvroSerializer<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AvroSerializer")
            .field("config", self.writer.schemas.config())
            .field("schema", self.writer.schemas.own_parsed().schema())
            .finish_non_exhaustive()
    }
}

impl<T: ?Sized> AvroSerializer<T> {
    /// A serializer of `schema` (Avro JSON text, no references) for the topics it is
    /// used with.
    pub fn new(
        registry: SchemaRegistryClient,
        schema: &str,
        config: SerdeConfig,
    ) -> Result<Self, RegistrySerdeError> {
        Ok(AvroSerializer {
            writer: AvroWriter::new(registry, Schema::avro(schema), &[], config)?,
            _type: PhantomData,
        })
    }

    /// A serializer of a schema that refers to other registered schemas (named types).
    pub async fn with_references(
        registry: SchemaRegistryClient,
        schema: Schema,
        config: SerdeConfig,
    ) -> Result<Self, RegistrySerdeError> {
        Ok(AvroSerializer {
            writer: AvroWriter::with_references(registry, schema, config).await?,
            _type: PhantomData,
        })
    }

    /// Registers or looks up the schema for `topic` now, so the first record does not
    /// wait for the registry.
    pub async fn prepare(&self, topic: &str) -> Result<u32, RegistrySerdeError> {
        Ok(self.writer.schemas.get_async(topic).await?.0.id)
    }
}

impl<T: Serialize + ?Sized> AvroSerializer<T> {
    /// Serializes without blocking: the registry is asked asynchronously on a miss.
    /// The schema id must go in the prefix ([`RegistrySerdeError::NeedsHeaders`]
    /// otherwise).
    pub async fn serialize_async(
        &self,
        topic: &str,
        value: &T,
    ) -> Result<Vec<u8>, RegistrySerdeError> {
        self.writer.schemas.prefix_only()?;
        self.serialize_with_headers_async(topic, &mut Vec::new(), value)
            .await
    }

    /// Serializes without blocking, pushing the schema-id header (if the config places
    /// the id in one) onto `headers`.
    pub async fn serialize_with_headers_async(
        &self,
        topic: &str,
        headers: &mut Vec<Header>,
        value: &T,
    ) -> Result<Vec<u8>, RegistrySerdeError> {
        let found = self.writer.schemas.get_async(topic).await?;
        self.writer.write_serde(topic, headers, found, value)
    }
}

impl<T: Serialize + ?Sized> Serializer<T> for AvroSerializer<T> {
    fn serialize(
        &self,
        topic: &str,
        headers: &mut Vec<Header>,
        value: &T,
    ) -> Result<Option<Bytes>, SerdeError> {
        let found = self.writer.schemas.get(topic)?;
        Ok(Some(
            self.writer
                .write_serde(topic, headers, found, value)?
                .into(),
        ))
    }
}

/// Serializes generic Avro [`Value`]s with a registry schema id.
pub struct AvroValueSerializer {
    writer: AvroWriter,
}

impl std::fmt::Debug for AvroValueSerializer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AvroValueSerializer")
            .field("config", self.writer.schemas.config())
            .finish_non_exhaustive()
    }
}

impl AvroValueSerializer {
    /// A serializer of `schema` (Avro JSON text, no references).
    pub fn new(
        registry: SchemaRegistryClient,
        schema: &str,
        config: SerdeConfig,
    ) -> Result<Self, RegistrySerdeError> {
        Ok(AvroValueSerializer {
            writer: AvroWriter::new(registry, Schema::avro(schema), &[], config)?,
        })
    }

    /// A serializer of a schema with references to other registered schemas.
    pub async fn with_references(
        registry: SchemaRegistryClient,
        schema: Schema,
        config: SerdeConfig,
    ) -> Result<Self, RegistrySerdeError> {
        Ok(AvroValueSerializer {
            writer: AvroWriter::with_references(registry, schema, config).await?,
        })
    }

    /// Registers or looks up the schema for `topic` now, so the first record does not
    /// wait for the registry.
    pub async fn prepare(&self, topic: &str) -> Result<u32, RegistrySerdeError> {
        Ok(self.writer.schemas.get_async(topic).await?.0.id)
    }

    /// Serializes without blocking. The schema id must go in the prefix
    /// ([`RegistrySerdeError::NeedsHeaders`] otherwise).
    pub async fn serialize_async(
        &self,
        topic: &str,
        value: &Value,
    ) -> Result<Vec<u8>, RegistrySerdeError> {
        self.writer.schemas.prefix_only()?;
        self.writer.write_async(topic, &mut Vec::new(), value).await
    }

    /// Serializes without blocking, pushing the schema-id header (if the config places
    /// the id in one) onto `headers`.
    pub async fn serialize_with_headers_async(
        &self,
        topic: &str,
        headers: &mut Vec<Header>,
        value: &Value,
    ) -> Result<Vec<u8>, RegistrySerdeError> {
        self.writer.write_async(topic, headers, value).await
    }
}

impl Serializer<Value> for AvroValueSerializer {
    fn serialize(
        &self,
        topic: &str,
        headers: &mut Vec<Header>,
        value: &Value,
    ) -> Result<Option<Bytes>, SerdeError> {
        Ok(Some(self.writer.write(topic, headers, value)?.into()))
    }
}

/// The shared part of the two Avro deserializers.
struct AvroReader {
    writers: ReaderSchemas<AvroFormat>,
    reader: Option<ParsedAvro>,
}

impl AvroReader {
    fn new(
        registry: SchemaRegistryClient,
        reader: Option<&str>,
    ) -> Result<Self, RegistrySerdeError> {
        let reader = reader
            .map(|s| parse_avro(&Schema::avro(s), &[]))
            .transpose()?;
        Ok(AvroReader {
            writers: ReaderSchemas::new(registry),
            reader,
        })
    }

    fn read(&self, headers: &[Header], data: Option<&Bytes>) -> Result<Value, SerdeError> {
        let data = data.ok_or(SerdeError::Null)?;
        let (schema, _, payload) = self.writers.frame(headers, data, false)?;
        let writer = self.writers.get(schema)?;
        Ok(writer.decode(payload, self.reader.as_ref())?)
    }

    async fn read_async(
        &self,
        headers: &[Header],
        data: &[u8],
    ) -> Result<Value, RegistrySerdeError> {
        let (schema, _, payload) = self.writers.frame(headers, data, false)?;
        let writer = self.writers.get_async(schema).await?;
        writer.decode(payload, self.reader.as_ref())
    }
}

/// Deserializes registry-framed Avro into `serde` types.
///
/// Decodes with the writer's schema (fetched by the record's id, then cached) and, when
/// a reader schema is set, resolves to it (Avro schema resolution: a consumer on a newer
/// compatible schema reads old records, defaults filled in).
pub struct AvroDeserializer<T> {
    reader: AvroReader,
    _type: PhantomData<fn() -> T>,
}

impl<T> std::fmt::Debug for AvroDeserializer<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AvroDeserializer")
            .field(
                "reader_schema",
                &self.reader.reader.as_ref().map(|r| &r.schema),
            )
            .finish_non_exhaustive()
    }
}

impl<T> AvroDeserializer<T> {
    /// A deserializer that reads each record with its writer's schema.
    pub fn new(registry: SchemaRegistryClient) -> Self {
        AvroDeserializer {
            reader: AvroReader {
                writers: ReaderSchemas::new(registry),
                reader: None,
            },
            _type: PhantomData,
        }
    }

    /// A deserializer that resolves every record to `reader_schema`.
    pub fn with_reader_schema(
        registry: SchemaRegistryClient,
        reader_schema: &str,
    ) -> Result<Self, RegistrySerdeError> {
        Ok(AvroDeserializer {
            reader: AvroReader::new(registry, Some(reader_schema))?,
            _type: PhantomData,
        })
    }

    /// Reads keys: the `__key_schema_id` header, when a record has one (values, and
    /// `__value_schema_id`, by default).
    pub fn for_keys(mut self) -> Self {
        self.reader.writers.set_field(Field::Key);
        self
    }
}

impl<T: DeserializeOwned> AvroDeserializer<T> {
    /// Deserializes without blocking: the registry is asked asynchronously on a miss.
    pub async fn deserialize_async(&self, data: &[u8]) -> Result<T, RegistrySerdeError> {
        self.deserialize_with_headers_async(&[], data).await
    }

    /// Deserializes without blocking, reading the schema id from the record's
    /// schema-id header when it has one.
    pub async fn deserialize_with_headers_async(
        &self,
        headers: &[Header],
        data: &[u8],
    ) -> Result<T, RegistrySerdeError> {
        let value = self.reader.read_async(headers, data).await?;
        from_value(&value)
    }
}

fn from_value<T: DeserializeOwned>(value: &Value) -> Result<T, RegistrySerdeError> {
    apache_avro::from_value(value).map_err(|e| RegistrySerdeError::Payload(e.to_string()))
}

impl<T: DeserializeOwned> Deserializer<T> for AvroDeserializer<T> {
    fn deserialize(
        &self,
        _topic: &str,
        headers: &[Header],
        data: Option<&Bytes>,
    ) -> Result<T, SerdeError> {
        let value = self.reader.read(headers, data)?;
        Ok(from_value(&value)?)
    }
}

/// Deserializes registry-framed Avro into generic [`Value`]s.
pub struct AvroValueDeserializer {
    reader: AvroReader,
}

impl std::fmt::Debug for AvroValueDeserializer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AvroValueDeserializer")
            .finish_non_exhaustive()
    }
}

impl AvroValueDeserializer {
    /// A deserializer that reads each record with its writer's schema.
    pub fn new(registry: SchemaRegistryClient) -> Self {
        AvroValueDeserializer {
            reader: AvroReader {
                writers: ReaderSchemas::new(registry),
                reader: None,
            },
        }
    }

    /// A deserializer that resolves every record to `reader_schema`.
    pub fn with_reader_schema(
        registry: SchemaRegistryClient,
        reader_schema: &str,
    ) -> Result<Self, RegistrySerdeError> {
        Ok(AvroValueDeserializer {
            reader: AvroReader::new(registry, Some(reader_schema))?,
        })
    }

    /// Reads keys: the `__key_schema_id` header, when a record has one (values, and
    /// `__value_schema_id`, by default).
    pub fn for_keys(mut self) -> Self {
        self.reader.writers.set_field(Field::Key);
        self
    }

    /// Deserializes without blocking.
    pub async fn deserialize_async(&self, data: &[u8]) -> Result<Value, RegistrySerdeError> {
        self.reader.read_async(&[], data).await
    }

    /// Deserializes without blocking, reading the schema id from the record's
    /// schema-id header when it has one.
    pub async fn deserialize_with_headers_async(
        &self,
        headers: &[Header],
        data: &[u8],
    ) -> Result<Value, RegistrySerdeError> {
        self.reader.read_async(headers, data).await
    }
}

impl Deserializer<Value> for AvroValueDeserializer {
    fn deserialize(
        &self,
        _topic: &str,
        headers: &[Header],
        data: Option<&Bytes>,
    ) -> Result<Value, SerdeError> {
        self.reader.read(headers, data)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Serialize)]
    struct Line {
        sku: String,
        qty: i32,
    }

    #[derive(Serialize)]
    struct Order {
        id: i64,
        note: Option<String>,
        lines: Vec<Line>,
        tags: std::collections::BTreeMap<String, String>,
        paid: bool,
    }

    const ORDER: &str = r#"{"type":"record","name":"Order","fields":[
        {"name":"id","type":"long"},
        {"name":"note","type":["null","string"],"default":null},
        {"name":"lines","type":{"type":"array","items":{"type":"record","name":"Line","fields":[
            {"name":"sku","type":"string"},{"name":"qty","type":"int"}]}}},
        {"name":"tags","type":{"type":"map","values":"string"}},
        {"name":"paid","type":"boolean"}]}"#;

    #[test]
    fn direct_serde_encoding_equals_the_value_path() {
        let parsed = parse_avro(&Schema::avro(ORDER), &[]).unwrap();
        for note in [None, Some("fragile".to_owned())] {
            let order = Order {
                id: -42,
                note,
                lines: vec![Line {
                    sku: "tea".into(),
                    qty: 3,
                }],
                tags: [("k".to_owned(), "v".to_owned())].into(),
                paid: true,
            };
            let mut direct = Vec::new();
            apache_avro::write_avro_datum_ref(&parsed.schema, &order, &mut direct)
                .expect("the schema-aware serializer takes this value");
            let mut via_value = vec![0, 0, 0, 0, 9];
            parsed
                .encode(&mut via_value, &to_value(&order).unwrap())
                .unwrap();
            assert_eq!(direct, via_value[5..]);
            let mut serde_path = vec![0, 0, 0, 0, 9];
            parsed.encode_serde(&mut serde_path, &order).unwrap();
            assert_eq!(serde_path, via_value);
        }
    }
}
