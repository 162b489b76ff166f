//! [`RegistrySerdeError`]: why a registry-framed record could not be converted. It
//! reaches the application inside [`SerdeError::Custom`]; see
//! [`RegistrySerdeError::of`].

use crate::SerdeError;

/// Why a schema-registry serializer or deserializer failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RegistrySerdeError {
    /// The first byte is not the registry's magic byte 0 (an id follows) or 1 (a GUID
    /// follows).
    #[error("not schema-registry framed: magic byte {found}, expected 0 or 1")]
    BadMagicByte {
        /// The byte found.
        found: u8,
    },
    /// Too short for the magic byte and the schema id (5 bytes) or GUID (17 bytes).
    #[error("schema-registry frame too short: {len} byte(s)")]
    TooShort {
        /// The data's length.
        len: usize,
    },
    /// The record names a schema id the registry does not know (or cannot be asked for).
    #[error("schema id {id}: {source}")]
    UnknownSchema {
        /// The id in the record.
        id: u32,
        /// The registry's answer.
        source: kafka_schema_registry::Error,
    },
    /// The record names a schema GUID the registry does not know (or cannot be asked
    /// for).
    #[error("schema GUID {guid}: {source}")]
    UnknownGuid {
        /// The GUID in the record.
        guid: kafka_schema_registry::SchemaGuid,
        /// The registry's answer.
        source: kafka_schema_registry::Error,
    },
    /// The record's schema-id header (`__key_schema_id` / `__value_schema_id`) is not a
    /// magic byte 0 and a 4-byte id, or a magic byte 1 and a 16-byte GUID (then, for
    /// Protobuf, a message-index path).
    #[error("schema-id header {header}: {reason}")]
    BadSchemaIdHeader {
        /// The header's key.
        header: &'static str,
        /// What is wrong with its value.
        reason: String,
    },
    /// The serializer is to write the schema's GUID, and the registry gave none for it.
    #[error("topic {topic}: the registry gave no GUID for schema id {id}")]
    NoGuid {
        /// The topic written to.
        topic: String,
        /// The schema's numeric id.
        id: u32,
    },
    /// The serializer writes its schema id in a header, and was called through a method
    /// that returns only the payload: use the `*_with_headers_async` method.
    #[error("the schema id goes in a header: call serialize_with_headers_async")]
    NeedsHeaders,
    /// A registry call failed (registering, looking up the latest version, ...).
    #[error("subject {subject}: {source}")]
    Registry {
        /// The subject asked about.
        subject: String,
        /// The registry's answer.
        source: kafka_schema_registry::Error,
    },
    /// A schema (ours or the registry's) could not be parsed.
    #[error("schema: {0}")]
    Schema(String),
    /// The payload does not decode with the writer's schema (or does not resolve to the
    /// reader's).
    #[error("payload: {0}")]
    Payload(String),
    /// The value does not fit the schema it is written with.
    #[error("value does not match the schema: {0}")]
    Encode(String),
    /// The value is not valid under its JSON Schema.
    #[error("JSON Schema validation: {0}")]
    Validation(String),
    /// The subject name strategy cannot name a subject (a record strategy on a schema
    /// that has no record name).
    #[error("subject name: {0}")]
    Subject(String),
}

impl RegistrySerdeError {
    /// The registry error inside a [`SerdeError`], if it is one.
    pub fn of(error: &SerdeError) -> Option<&RegistrySerdeError> {
        match error {
            SerdeError::Custom(e) => e.downcast_ref(),
            _ => None,
        }
    }
}

impl From<RegistrySerdeError> for SerdeError {
    fn from(e: RegistrySerdeError) -> Self {
        SerdeError::Custom(Box::new(e))
    }
}
