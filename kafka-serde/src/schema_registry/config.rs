//! How a serializer picks its subject and schema id.

use crate::Field;

use super::{RegistrySerdeError, SchemaIdPlacement};

/// How a subject is named (Confluent's `*.subject.name.strategy`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum SubjectNameStrategy {
    /// `<topic>-key` / `<topic>-value` (the default).
    #[default]
    Topic,
    /// The record's fully qualified name (Avro record, Protobuf message, JSON Schema
    /// `title`).
    Record,
    /// `<topic>-<fully qualified record name>`.
    TopicRecord,
}

impl SubjectNameStrategy {
    /// The subject for `field` of a record in `topic` whose schema names `record`.
    pub fn subject(
        &self,
        topic: &str,
        field: Field,
        record: Option<&str>,
    ) -> Result<String, RegistrySerdeError> {
        let record = || {
            record.ok_or_else(|| {
                RegistrySerdeError::Subject(format!(
                    "{self:?} needs a record name, and the schema has none"
                ))
            })
        };
        Ok(match self {
            SubjectNameStrategy::Topic => format!("{topic}-{field}"),
            SubjectNameStrategy::Record => record()?.to_owned(),
            SubjectNameStrategy::TopicRecord => format!("{topic}-{}", record()?),
        })
    }
}

/// Which schema id a serializer writes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum SchemaSelection {
    /// Register the serializer's schema under the subject (or find it registered) and
    /// write its id (Confluent's `auto.register.schemas=true`, the default).
    #[default]
    AutoRegister,
    /// Look the serializer's schema up under the subject without registering it; an
    /// error if it is not there (`auto.register.schemas=false`).
    Lookup,
    /// Write with the subject's latest schema and its id (`use.latest.version=true`);
    /// the value is encoded with that schema.
    UseLatest,
    /// Write with this schema id, whatever the subject (`use.schema.id`); the value is
    /// encoded with the schema that id names.
    SchemaId(u32),
}

/// A registry serializer's or deserializer's settings.
///
/// ```
/// use kafka_serde::schema_registry::{SchemaSelection, SerdeConfig, SubjectNameStrategy};
/// let config = SerdeConfig::value()
///     .strategy(SubjectNameStrategy::TopicRecord)
///     .selection(SchemaSelection::UseLatest);
/// assert!(!config.is_key());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SerdeConfig {
    pub(crate) field: Field,
    pub(crate) strategy: SubjectNameStrategy,
    pub(crate) selection: SchemaSelection,
    pub(crate) normalize: bool,
    pub(crate) placement: SchemaIdPlacement,
}

impl SerdeConfig {
    /// For record values: topic strategy, auto-register.
    pub fn value() -> Self {
        SerdeConfig {
            field: Field::Value,
            strategy: SubjectNameStrategy::Topic,
            selection: SchemaSelection::AutoRegister,
            normalize: false,
            placement: SchemaIdPlacement::Prefix,
        }
    }

    /// For record keys: topic strategy, auto-register.
    pub fn key() -> Self {
        SerdeConfig {
            field: Field::Key,
            ..SerdeConfig::value()
        }
    }

    /// Sets the subject name strategy.
    pub fn strategy(mut self, strategy: SubjectNameStrategy) -> Self {
        self.strategy = strategy;
        self
    }

    /// Sets how the schema id is chosen.
    pub fn selection(mut self, selection: SchemaSelection) -> Self {
        self.selection = selection;
        self
    }

    /// Asks the registry to normalize schemas when registering or looking them up.
    pub fn normalize(mut self, normalize: bool) -> Self {
        self.normalize = normalize;
        self
    }

    /// Sets where the schema id is written: the payload's prefix (default) or the
    /// field's schema-id header (`__key_schema_id` / `__value_schema_id`).
    pub fn schema_id_placement(mut self, placement: SchemaIdPlacement) -> Self {
        self.placement = placement;
        self
    }

    /// Whether this is for keys.
    pub fn is_key(&self) -> bool {
        self.field == Field::Key
    }

    /// The subject for a record in `topic` whose schema names `record`.
    pub fn subject(&self, topic: &str, record: Option<&str>) -> Result<String, RegistrySerdeError> {
        self.strategy.subject(topic, self.field, record)
    }
}

impl Default for SerdeConfig {
    fn default() -> Self {
        SerdeConfig::value()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strategies_name_subjects_like_confluent() {
        let v = SerdeConfig::value();
        assert_eq!(
            v.subject("orders", Some("shop.Order")).unwrap(),
            "orders-value"
        );
        assert_eq!(
            SerdeConfig::key().subject("orders", None).unwrap(),
            "orders-key"
        );
        let r = v.strategy(SubjectNameStrategy::Record);
        assert_eq!(
            r.subject("orders", Some("shop.Order")).unwrap(),
            "shop.Order"
        );
        assert!(r.subject("orders", None).is_err());
        let tr = v.strategy(SubjectNameStrategy::TopicRecord);
        assert_eq!(
            tr.subject("orders", Some("shop.Order")).unwrap(),
            "orders-shop.Order"
        );
    }
}
