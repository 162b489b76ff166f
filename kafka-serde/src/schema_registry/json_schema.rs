//! JSON Schema through the registry: [`JsonSchemaSerializer`] and
//! [`JsonSchemaDeserializer`] for `serde` types. The payload after the 5-byte header is
//! the value as compact JSON (what Confluent's serializers write); it is validated
//! against the schema (`jsonschema`) before it is written, and optionally when read.

use std::marker::PhantomData;
use std::sync::Arc;

use bytes::Bytes;
use kafka_client::records::Header;
use kafka_schema_registry::{RegisteredSchema, Schema, SchemaIds, SchemaRegistryClient};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::resolver::{Format, ReaderSchemas, WriterSchemas};
use super::{RegistrySerdeError, SerdeConfig};
use crate::{Deserializer, Field, SerdeError, Serializer};

/// A parsed JSON Schema and its compiled validator.
pub struct ParsedJsonSchema {
    schema: serde_json::Value,
    validator: jsonschema::Validator,
}

impl std::fmt::Debug for ParsedJsonSchema {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ParsedJsonSchema")
            .field("schema", &self.schema)
            .finish_non_exhaustive()
    }
}

impl ParsedJsonSchema {
    /// The schema document.
    pub fn schema(&self) -> &serde_json::Value {
        &self.schema
    }

    fn title(&self) -> Option<String> {
        self.schema
            .get("title")
            .and_then(|t| t.as_str())
            .map(str::to_owned)
    }

    fn validate(&self, value: &serde_json::Value) -> Result<(), RegistrySerdeError> {
        self.validator
            .validate(value)
            .map_err(|e| RegistrySerdeError::Validation(format!("{e} at {}", e.instance_path())))
    }
}

fn parse_json_schema(
    schema: &Schema,
    references: &[Arc<RegisteredSchema>],
) -> Result<ParsedJsonSchema, RegistrySerdeError> {
    let schema_error = |e: &dyn std::fmt::Display| RegistrySerdeError::Schema(e.to_string());
    let document: serde_json::Value =
        serde_json::from_str(&schema.schema).map_err(|e| schema_error(&e))?;
    let mut known = Vec::new();
    for (reference, registered) in schema.references.iter().zip(references) {
        let contents: serde_json::Value =
            serde_json::from_str(&registered.schema.schema).map_err(|e| schema_error(&e))?;
        known.push((reference.name.clone(), contents));
    }
    let options = jsonschema::options().with_retriever(References(known));
    let validator = options.build(&document).map_err(|e| schema_error(&e))?;
    Ok(ParsedJsonSchema {
        schema: document,
        validator,
    })
}

/// Resolves a `$ref` to a referenced schema by the reference's name (the whole URI, or
/// its path without the leading `/`).
struct References(Vec<(String, serde_json::Value)>);

impl jsonschema::Retrieve for References {
    fn retrieve(
        &self,
        uri: &jsonschema::Uri<String>,
    ) -> Result<serde_json::Value, Box<dyn std::error::Error + Send + Sync>> {
        let path = uri.path().as_str().trim_start_matches('/');
        self.0
            .iter()
            .find(|(name, _)| name == uri.as_str() || name == path)
            .map(|(_, contents)| contents.clone())
            .ok_or_else(|| format!("no schema reference named {}", uri.as_str()).into())
    }
}

struct JsonSchemaFormat;

impl Format for JsonSchemaFormat {
    type Parsed = ParsedJsonSchema;

    fn parse(
        schema: &Schema,
        references: &[Arc<RegisteredSchema>],
    ) -> Result<ParsedJsonSchema, RegistrySerdeError> {
        parse_json_schema(schema, references)
    }
}

/// Serializes `serde` types as JSON validated against a registered JSON Schema.
///
/// The record strategies name the subject after the schema's `title`.
pub struct JsonSchemaSerializer<T: ?Sized> {
    schemas: WriterSchemas<JsonSchemaFormat>,
    validate: bool,
    _type: PhantomData<fn(&T)>,
}

impl<T: ?Sized> std::fmt::Debug for JsonSchemaSerializer<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JsonSchemaSerializer")
            .field("config", self.schemas.config())
            .field("validate", &self.validate)
            .finish_non_exhaustive()
    }
}

impl<T: ?Sized> JsonSchemaSerializer<T> {
    /// A serializer of `schema` (a JSON Schema document, no references).
    pub fn new(
        registry: SchemaRegistryClient,
        schema: &str,
        config: SerdeConfig,
    ) -> Result<Self, RegistrySerdeError> {
        let own = Schema::json(schema);
        let parsed = parse_json_schema(&own, &[])?;
        let title = parsed.title();
        Ok(JsonSchemaSerializer {
            schemas: WriterSchemas::new(registry, config, own, parsed, title),
            validate: true,
            _type: PhantomData,
        })
    }

    /// Whether values are validated before they are written (default true).
    pub fn validate(mut self, validate: bool) -> Self {
        self.validate = validate;
        self
    }

    /// Registers or looks up the schema for `topic` now.
    pub async fn prepare(&self, topic: &str) -> Result<u32, RegistrySerdeError> {
        Ok(self.schemas.get_async(topic).await?.0.id)
    }

    /// Validates (through a `serde_json::Value`), then writes `value` itself, so fields
    /// keep their declaration order (a `Value`'s map would sort them).
    fn encode<V: Serialize + ?Sized>(
        &self,
        topic: &str,
        headers: &mut Vec<Header>,
        (ids, schema): (SchemaIds, Arc<ParsedJsonSchema>),
        value: &V,
    ) -> Result<Vec<u8>, RegistrySerdeError> {
        let encode_error = |e: serde_json::Error| RegistrySerdeError::Encode(e.to_string());
        if self.validate {
            schema.validate(&serde_json::to_value(value).map_err(encode_error)?)?;
        }
        let mut out = self.schemas.buffer();
        self.schemas
            .begin_record(&mut out, headers, topic, ids, None)?;
        serde_json::to_writer(&mut out, value).map_err(encode_error)?;
        Ok(self.schemas.written(out))
    }
}

impl<T: Serialize + ?Sized> JsonSchemaSerializer<T> {
    /// Serializes without blocking: the registry is asked asynchronously on a miss.
    /// The schema id must go in the prefix ([`RegistrySerdeError::NeedsHeaders`]
    /// otherwise).
    pub async fn serialize_async(
        &self,
        topic: &str,
        value: &T,
    ) -> Result<Vec<u8>, RegistrySerdeError> {
        self.schemas.prefix_only()?;
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
        let found = self.schemas.get_async(topic).await?;
        self.encode(topic, headers, found, value)
    }
}

impl<T: Serialize + ?Sized> Serializer<T> for JsonSchemaSerializer<T> {
    fn serialize(
        &self,
        topic: &str,
        headers: &mut Vec<Header>,
        value: &T,
    ) -> Result<Option<Bytes>, SerdeError> {
        let found = self.schemas.get(topic)?;
        Ok(Some(self.encode(topic, headers, found, value)?.into()))
    }
}

/// Deserializes registry-framed JSON into `serde` types; optionally validates each value
/// against its writer's schema (fetched by id, then cached).
pub struct JsonSchemaDeserializer<T> {
    writers: ReaderSchemas<JsonSchemaFormat>,
    validate: bool,
    _type: PhantomData<fn() -> T>,
}

impl<T> std::fmt::Debug for JsonSchemaDeserializer<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JsonSchemaDeserializer")
            .field("validate", &self.validate)
            .finish_non_exhaustive()
    }
}

impl<T> JsonSchemaDeserializer<T> {
    /// A deserializer that checks the frame and parses the JSON, without validating.
    pub fn new(registry: SchemaRegistryClient) -> Self {
        JsonSchemaDeserializer {
            writers: ReaderSchemas::new(registry),
            validate: false,
            _type: PhantomData,
        }
    }

    /// Whether each value is validated against its writer's schema (default false; the
    /// schema is then fetched and compiled once per id).
    pub fn validate(mut self, validate: bool) -> Self {
        self.validate = validate;
        self
    }

    /// Reads keys: the `__key_schema_id` header, when a record has one (values, and
    /// `__value_schema_id`, by default).
    pub fn for_keys(mut self) -> Self {
        self.writers.set_field(Field::Key);
        self
    }
}

fn parse_payload<T: DeserializeOwned>(
    payload: &[u8],
    schema: Option<&ParsedJsonSchema>,
) -> Result<T, RegistrySerdeError> {
    let payload_error = |e: serde_json::Error| RegistrySerdeError::Payload(e.to_string());
    match schema {
        Some(schema) => {
            let value: serde_json::Value =
                serde_json::from_slice(payload).map_err(payload_error)?;
            schema.validate(&value)?;
            serde_json::from_value(value).map_err(payload_error)
        }
        None => serde_json::from_slice(payload).map_err(payload_error),
    }
}

impl<T: DeserializeOwned> JsonSchemaDeserializer<T> {
    /// Deserializes without blocking.
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
        let (schema_ref, _, payload) = self.writers.frame(headers, data, false)?;
        let schema = if self.validate {
            Some(self.writers.get_async(schema_ref).await?)
        } else {
            None
        };
        parse_payload(payload, schema.as_deref())
    }
}

impl<T: DeserializeOwned> Deserializer<T> for JsonSchemaDeserializer<T> {
    fn deserialize(
        &self,
        _topic: &str,
        headers: &[Header],
        data: Option<&Bytes>,
    ) -> Result<T, SerdeError> {
        let data = data.ok_or(SerdeError::Null)?;
        let (schema_ref, _, payload) = self.writers.frame(headers, data, false)?;
        let schema = if self.validate {
            Some(self.writers.get(schema_ref)?)
        } else {
            None
        };
        Ok(parse_payload(payload, schema.as_deref())?)
    }
}
