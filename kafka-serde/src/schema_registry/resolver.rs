//! Finding the schema to write with (per topic) and the schema a record was written with
//! (per id), asking the registry once and caching the parsed schema.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, PoisonError, RwLock};

use kafka_client::records::Header;
use kafka_schema_registry::{
    RegisteredSchema, Schema, SchemaGuid, SchemaIds, SchemaRegistryClient,
};

use super::bridge::block_on;
use super::id_header::{Framed, SchemaRef, WriterIds, begin_record, read_record};
use super::{RegistrySerdeError, SchemaIdPlacement, SchemaSelection, SerdeConfig};
use crate::Field;

/// Parsed schemas kept per serializer or deserializer; past this many the map starts over.
const MAX_CACHED: usize = 1000;

/// A schema format: how a registry schema (with its references, dependencies first)
/// becomes the format's parsed schema.
pub(crate) trait Format: Send + Sync + 'static {
    type Parsed: Send + Sync + 'static;

    fn parse(
        schema: &Schema,
        references: &[Arc<RegisteredSchema>],
    ) -> Result<Self::Parsed, RegistrySerdeError>;
}

/// The referenced schemas of `schema`, transitively, each once, dependencies first.
pub(crate) async fn fetch_references(
    registry: &SchemaRegistryClient,
    schema: &Schema,
) -> Result<Vec<Arc<RegisteredSchema>>, RegistrySerdeError> {
    let mut out = Vec::new();
    let mut seen = HashSet::new();
    visit(registry, schema, &mut seen, &mut out).await?;
    Ok(out)
}

fn visit<'a>(
    registry: &'a SchemaRegistryClient,
    schema: &'a Schema,
    seen: &'a mut HashSet<(String, i32)>,
    out: &'a mut Vec<Arc<RegisteredSchema>>,
) -> Pin<Box<dyn Future<Output = Result<(), RegistrySerdeError>> + Send + 'a>> {
    Box::pin(async move {
        for reference in &schema.references {
            if !seen.insert((reference.subject.clone(), reference.version)) {
                continue;
            }
            let found = registry
                .schema_by_version(&reference.subject, reference.version)
                .await
                .map_err(|source| RegistrySerdeError::Registry {
                    subject: reference.subject.clone(),
                    source,
                })?;
            visit(registry, &found.schema, seen, out).await?;
            out.push(found);
        }
        Ok(())
    })
}

async fn parse_registered<F: Format>(
    registry: &SchemaRegistryClient,
    schema: &Schema,
) -> Result<Arc<F::Parsed>, RegistrySerdeError> {
    let references = fetch_references(registry, schema).await?;
    Ok(Arc::new(F::parse(schema, &references)?))
}

/// A schema's ids and the parsed schema they name.
pub(crate) type IdAndSchema<P> = (SchemaIds, Arc<P>);

/// The writer's side: per topic, the schema id to write and the schema to encode with.
pub(crate) struct WriterSchemas<F: Format> {
    registry: SchemaRegistryClient,
    config: SerdeConfig,
    own: Schema,
    own_parsed: Arc<F::Parsed>,
    record_name: Option<String>,
    by_topic: RwLock<HashMap<Box<str>, IdAndSchema<F::Parsed>>>,
    /// The length of the last record written: the next one's buffer starts that big,
    /// so records of one size take one allocation each and no growth.
    last_len: AtomicUsize,
}

impl<F: Format> WriterSchemas<F> {
    pub(crate) fn new(
        registry: SchemaRegistryClient,
        config: SerdeConfig,
        own: Schema,
        own_parsed: F::Parsed,
        record_name: Option<String>,
    ) -> Self {
        WriterSchemas {
            registry,
            config,
            own,
            own_parsed: Arc::new(own_parsed),
            record_name,
            by_topic: RwLock::new(HashMap::new()),
            last_len: AtomicUsize::new(64),
        }
    }

    /// An empty buffer with room for a record as long as the last one.
    pub(crate) fn buffer(&self) -> Vec<u8> {
        Vec::with_capacity(self.last_len.load(Ordering::Relaxed))
    }

    /// Remembers a written record's length for [`buffer`](Self::buffer).
    pub(crate) fn written(&self, out: Vec<u8>) -> Vec<u8> {
        self.last_len.store(out.len().max(16), Ordering::Relaxed);
        out
    }

    pub(crate) fn own_parsed(&self) -> &Arc<F::Parsed> {
        &self.own_parsed
    }

    pub(crate) fn config(&self) -> &SerdeConfig {
        &self.config
    }

    fn cached(&self, topic: &str) -> Option<IdAndSchema<F::Parsed>> {
        let map = self.by_topic.read().unwrap_or_else(PoisonError::into_inner);
        map.get(topic).map(|(ids, p)| (*ids, Arc::clone(p)))
    }

    fn remember(&self, topic: &str, found: &IdAndSchema<F::Parsed>) {
        let mut map = self
            .by_topic
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        if map.len() >= MAX_CACHED {
            map.clear();
        }
        map.insert(topic.into(), (found.0, Arc::clone(&found.1)));
    }

    /// Starts a record for `topic` written with `ids`: the prefix into `out`, or the
    /// schema-id header onto `headers` (with the Protobuf message-index path `indexes`).
    pub(crate) fn begin_record(
        &self,
        out: &mut Vec<u8>,
        headers: &mut Vec<Header>,
        topic: &str,
        ids: SchemaIds,
        indexes: Option<&[i32]>,
    ) -> Result<(), RegistrySerdeError> {
        let writer = WriterIds {
            field: self.config.field,
            placement: self.config.placement,
            id: ids.id,
            guid: ids.guid,
            topic,
        };
        begin_record(out, headers, writer, indexes)
    }

    /// An error unless the schema id goes in the payload's prefix (for the methods that
    /// return the payload alone).
    pub(crate) fn prefix_only(&self) -> Result<(), RegistrySerdeError> {
        match self.config.placement {
            SchemaIdPlacement::Prefix => Ok(()),
            _ => Err(RegistrySerdeError::NeedsHeaders),
        }
    }

    /// The ids and schema for `topic`; asks the registry (blocking) on the first call.
    pub(crate) fn get(&self, topic: &str) -> Result<IdAndSchema<F::Parsed>, RegistrySerdeError> {
        if let Some(hit) = self.cached(topic) {
            return Ok(hit);
        }
        block_on(self.get_async(topic))
    }

    /// The ids and schema for `topic`; asks the registry on the first call.
    pub(crate) async fn get_async(
        &self,
        topic: &str,
    ) -> Result<IdAndSchema<F::Parsed>, RegistrySerdeError> {
        if let Some(hit) = self.cached(topic) {
            return Ok(hit);
        }
        let subject = self.config.subject(topic, self.record_name.as_deref())?;
        let registry_error = |source| RegistrySerdeError::Registry {
            subject: subject.clone(),
            source,
        };
        let (mut ids, parsed) = match self.config.selection {
            SchemaSelection::AutoRegister => {
                let ids = self
                    .registry
                    .register_full(&subject, &self.own, self.config.normalize)
                    .await
                    .map_err(registry_error)?;
                (ids, Arc::clone(&self.own_parsed))
            }
            SchemaSelection::Lookup => {
                let found = self
                    .registry
                    .lookup(&subject, &self.own)
                    .await
                    .map_err(registry_error)?;
                let ids = SchemaIds {
                    id: found.id,
                    guid: found.guid,
                };
                (ids, Arc::clone(&self.own_parsed))
            }
            SchemaSelection::UseLatest => {
                let latest = self
                    .registry
                    .latest(&subject)
                    .await
                    .map_err(registry_error)?;
                let parsed = parse_registered::<F>(&self.registry, &latest.schema).await?;
                let ids = SchemaIds {
                    id: latest.id,
                    guid: latest.guid,
                };
                (ids, parsed)
            }
            SchemaSelection::SchemaId(id) => {
                let schema = self
                    .registry
                    .schema_by_id(id)
                    .await
                    .map_err(|source| RegistrySerdeError::UnknownSchema { id, source })?;
                let parsed = parse_registered::<F>(&self.registry, &schema).await?;
                (SchemaIds { id, guid: None }, parsed)
            }
        };
        if self.config.placement == SchemaIdPlacement::HeaderGuid && ids.guid.is_none() {
            // Some registries answer a register with the id alone; a lookup of the
            // same schema under the subject carries the GUID.
            if self.config.selection == SchemaSelection::AutoRegister {
                let found = self
                    .registry
                    .lookup(&subject, &self.own)
                    .await
                    .map_err(registry_error)?;
                ids.guid = found.guid;
            }
            if ids.guid.is_none() {
                return Err(RegistrySerdeError::NoGuid {
                    topic: topic.to_owned(),
                    id: ids.id,
                });
            }
        }
        let found = (ids, parsed);
        self.remember(topic, &found);
        Ok(found)
    }
}

/// The reader's side: the writer's schema of each id or GUID seen, parsed.
pub(crate) struct ReaderSchemas<F: Format> {
    registry: SchemaRegistryClient,
    field: Field,
    by_ref: RwLock<HashMap<SchemaRef, Arc<F::Parsed>>>,
}

impl<F: Format> ReaderSchemas<F> {
    pub(crate) fn new(registry: SchemaRegistryClient) -> Self {
        ReaderSchemas {
            registry,
            field: Field::Value,
            by_ref: RwLock::new(HashMap::new()),
        }
    }

    /// Reads the schema-id header of `field` (values by default).
    pub(crate) fn set_field(&mut self, field: Field) {
        self.field = field;
    }

    /// A record's schema reference, Protobuf message-index path and bare payload, from
    /// its schema-id header or its prefix.
    pub(crate) fn frame<'a>(
        &self,
        headers: &[Header],
        data: &'a [u8],
        protobuf: bool,
    ) -> Result<Framed<'a>, RegistrySerdeError> {
        read_record(self.field, headers, data, protobuf)
    }

    fn cached(&self, schema: SchemaRef) -> Option<Arc<F::Parsed>> {
        let map = self.by_ref.read().unwrap_or_else(PoisonError::into_inner);
        map.get(&schema).cloned()
    }

    /// The schema `schema` names; asks the registry (blocking) the first time.
    pub(crate) fn get(&self, schema: SchemaRef) -> Result<Arc<F::Parsed>, RegistrySerdeError> {
        if let Some(hit) = self.cached(schema) {
            return Ok(hit);
        }
        block_on(self.get_async(schema))
    }

    /// The schema `schema` names; asks the registry the first time.
    pub(crate) async fn get_async(
        &self,
        schema: SchemaRef,
    ) -> Result<Arc<F::Parsed>, RegistrySerdeError> {
        if let Some(hit) = self.cached(schema) {
            return Ok(hit);
        }
        let parsed = match schema {
            SchemaRef::Id(id) => {
                let found = self
                    .registry
                    .schema_by_id(id)
                    .await
                    .map_err(|source| RegistrySerdeError::UnknownSchema { id, source })?;
                parse_registered::<F>(&self.registry, &found).await?
            }
            SchemaRef::Guid(guid) => {
                let found = self.by_guid(guid).await?;
                parse_registered::<F>(&self.registry, &found.schema).await?
            }
        };
        let mut map = self.by_ref.write().unwrap_or_else(PoisonError::into_inner);
        if map.len() >= MAX_CACHED {
            map.clear();
        }
        map.insert(schema, Arc::clone(&parsed));
        Ok(parsed)
    }

    async fn by_guid(&self, guid: SchemaGuid) -> Result<Arc<RegisteredSchema>, RegistrySerdeError> {
        self.registry
            .schema_by_guid(guid)
            .await
            .map_err(|source| RegistrySerdeError::UnknownGuid { guid, source })
    }
}
