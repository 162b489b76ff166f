//! The registry's data types, as its REST API spells them in JSON.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::SchemaGuid;

/// The kind of a schema. The registry omits `schemaType` for Avro.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum SchemaType {
    /// Apache Avro (the registry's default).
    #[default]
    Avro,
    /// Protocol Buffers (a `.proto` file's text).
    Protobuf,
    /// JSON Schema.
    Json,
}

impl SchemaType {
    fn is_avro(&self) -> bool {
        *self == SchemaType::Avro
    }
}

impl fmt::Display for SchemaType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SchemaType::Avro => "AVRO",
            SchemaType::Protobuf => "PROTOBUF",
            SchemaType::Json => "JSON",
        })
    }
}

/// A reference from one schema to another registered one (a Protobuf import, a named
/// Avro type, a JSON Schema `$ref`).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct SchemaReference {
    /// The name the referring schema uses (an import path, a full type name, a URL).
    pub name: String,
    /// The subject the referenced schema is registered under.
    pub subject: String,
    /// Its version in that subject.
    pub version: i32,
}

impl SchemaReference {
    /// A reference named `name` to `subject` at `version`.
    pub fn new(name: impl Into<String>, subject: impl Into<String>, version: i32) -> Self {
        SchemaReference {
            name: name.into(),
            subject: subject.into(),
            version,
        }
    }
}

/// A schema: its text, its kind and its references.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Schema {
    /// The schema's text (Avro JSON, `.proto` source, JSON Schema document).
    pub schema: String,
    /// Its kind.
    #[serde(
        rename = "schemaType",
        default,
        skip_serializing_if = "SchemaType::is_avro"
    )]
    pub schema_type: SchemaType,
    /// The schemas it refers to.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub references: Vec<SchemaReference>,
}

impl Schema {
    /// An Avro schema from its JSON text.
    pub fn avro(schema: impl Into<String>) -> Self {
        Schema::new(SchemaType::Avro, schema)
    }

    /// A Protobuf schema from a `.proto` file's text.
    pub fn protobuf(schema: impl Into<String>) -> Self {
        Schema::new(SchemaType::Protobuf, schema)
    }

    /// A JSON Schema from its JSON text.
    pub fn json(schema: impl Into<String>) -> Self {
        Schema::new(SchemaType::Json, schema)
    }

    /// A schema of kind `schema_type` without references.
    pub fn new(schema_type: SchemaType, schema: impl Into<String>) -> Self {
        Schema {
            schema: schema.into(),
            schema_type,
            references: Vec::new(),
        }
    }

    /// Adds a reference.
    pub fn reference(mut self, reference: SchemaReference) -> Self {
        self.references.push(reference);
        self
    }
}

/// A schema as registered under a subject: with its id and version. Made by the
/// registry client, not by users: `#[non_exhaustive]`, so a field the registry API adds
/// later is not a breaking change (`scripts/semver-check` flagged `guid` as one).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub struct RegisteredSchema {
    /// The subject.
    pub subject: String,
    /// The schema's global id (what the wire format carries).
    pub id: u32,
    /// Its version within the subject.
    pub version: i32,
    /// Its GUID, when the registry gives one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub guid: Option<SchemaGuid>,
    /// The schema itself.
    #[serde(flatten)]
    pub schema: Schema,
}

/// The ids a registered schema is known by: the numeric id the wire format's prefix
/// carries, and the GUID (when the registry gives one) a schema-id header may carry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SchemaIds {
    /// The global numeric id.
    pub id: u32,
    /// The GUID, if the registry's answer had one.
    pub guid: Option<SchemaGuid>,
}

/// A subject's or the global compatibility level.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum CompatibilityLevel {
    /// No checks.
    None,
    /// New schemas read data written with the latest one.
    Backward,
    /// ... with every earlier one.
    BackwardTransitive,
    /// The latest schema reads data written with new ones.
    Forward,
    /// ... and every earlier one does.
    ForwardTransitive,
    /// Backward and forward.
    Full,
    /// Backward and forward, transitively.
    FullTransitive,
}

/// A subject's or the global mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Mode {
    /// Registering and reading are allowed.
    Readwrite,
    /// Only reading.
    Readonly,
    /// Only reading, and what the registry is told is checked less.
    ReadonlyOverride,
    /// Schemas are imported with given ids (migrations).
    Import,
}

/// Which versions a lookup addresses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Version {
    /// The latest (highest non-deleted) version.
    Latest,
    /// One version number.
    Number(i32),
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Version::Latest => f.write_str("latest"),
            Version::Number(n) => write!(f, "{n}"),
        }
    }
}

impl From<i32> for Version {
    fn from(n: i32) -> Self {
        Version::Number(n)
    }
}
