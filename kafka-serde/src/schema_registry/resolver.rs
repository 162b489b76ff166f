//! Finding the schema to write with (per topic) and the schema a record was written with
//! (per id), asking the registry once and caching the parsed schema.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, PoisonError, RwLock};

use kafka_schema_registry::{RegisteredSchema, Schema, SchemaRegistryClient};

use super::bridge::block_on;
use super::{RegistrySerdeError, SchemaSelection, SerdeConfig};

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

/// A schema id and the parsed schema it names.
pub(crate) type IdAndSchema<P> = (u32, Arc<P>);

/// The writer's side: per topic, the schema id to write and the schema to encode with.
pub(crate) struct WriterSchemas<F: Format> {
    registry: SchemaRegistryClient,
    config: SerdeConfig,
    own: Schema,
    own_parsed: Arc<F::Parsed>,
    record_name: Option<String>,
    by_topic: RwLock<HashMap<Box<str>, IdAndSchema<F::Parsed>>>,
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
        }
    }

    pub(crate) fn own_parsed(&self) -> &Arc<F::Parsed> {
        &self.own_parsed
    }

    pub(crate) fn config(&self) -> &SerdeConfig {
        &self.config
    }

    fn cached(&self, topic: &str) -> Option<(u32, Arc<F::Parsed>)> {
        let map = self.by_topic.read().unwrap_or_else(PoisonError::into_inner);
        map.get(topic).map(|(id, p)| (*id, Arc::clone(p)))
    }

    fn remember(&self, topic: &str, found: &(u32, Arc<F::Parsed>)) {
        let mut map = self
            .by_topic
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        if map.len() >= MAX_CACHED {
            map.clear();
        }
        map.insert(topic.into(), (found.0, Arc::clone(&found.1)));
    }

    /// The id and schema for `topic`; asks the registry (blocking) on the first call.
    pub(crate) fn get(&self, topic: &str) -> Result<(u32, Arc<F::Parsed>), RegistrySerdeError> {
        if let Some(hit) = self.cached(topic) {
            return Ok(hit);
        }
        block_on(self.get_async(topic))
    }

    /// The id and schema for `topic`; asks the registry on the first call.
    pub(crate) async fn get_async(
        &self,
        topic: &str,
    ) -> Result<(u32, Arc<F::Parsed>), RegistrySerdeError> {
        if let Some(hit) = self.cached(topic) {
            return Ok(hit);
        }
        let subject = self.config.subject(topic, self.record_name.as_deref())?;
        let registry_error = |source| RegistrySerdeError::Registry {
            subject: subject.clone(),
            source,
        };
        let found = match self.config.selection {
            SchemaSelection::AutoRegister => {
                let id = self
                    .registry
                    .register_with(&subject, &self.own, self.config.normalize)
                    .await
                    .map_err(registry_error)?;
                (id, Arc::clone(&self.own_parsed))
            }
            SchemaSelection::Lookup => {
                let found = self
                    .registry
                    .lookup(&subject, &self.own)
                    .await
                    .map_err(registry_error)?;
                (found.id, Arc::clone(&self.own_parsed))
            }
            SchemaSelection::UseLatest => {
                let latest = self
                    .registry
                    .latest(&subject)
                    .await
                    .map_err(registry_error)?;
                let parsed = parse_registered::<F>(&self.registry, &latest.schema).await?;
                (latest.id, parsed)
            }
            SchemaSelection::SchemaId(id) => {
                let schema = self
                    .registry
                    .schema_by_id(id)
                    .await
                    .map_err(|source| RegistrySerdeError::UnknownSchema { id, source })?;
                (id, parse_registered::<F>(&self.registry, &schema).await?)
            }
        };
        self.remember(topic, &found);
        Ok(found)
    }
}

/// The reader's side: the writer's schema of each id seen, parsed.
pub(crate) struct ReaderSchemas<F: Format> {
    registry: SchemaRegistryClient,
    by_id: RwLock<HashMap<u32, Arc<F::Parsed>>>,
}

impl<F: Format> ReaderSchemas<F> {
    pub(crate) fn new(registry: SchemaRegistryClient) -> Self {
        ReaderSchemas {
            registry,
            by_id: RwLock::new(HashMap::new()),
        }
    }

    fn cached(&self, id: u32) -> Option<Arc<F::Parsed>> {
        let map = self.by_id.read().unwrap_or_else(PoisonError::into_inner);
        map.get(&id).cloned()
    }

    /// The schema with `id`; asks the registry (blocking) the first time.
    pub(crate) fn get(&self, id: u32) -> Result<Arc<F::Parsed>, RegistrySerdeError> {
        if let Some(hit) = self.cached(id) {
            return Ok(hit);
        }
        block_on(self.get_async(id))
    }

    /// The schema with `id`; asks the registry the first time.
    pub(crate) async fn get_async(&self, id: u32) -> Result<Arc<F::Parsed>, RegistrySerdeError> {
        if let Some(hit) = self.cached(id) {
            return Ok(hit);
        }
        let schema = self
            .registry
            .schema_by_id(id)
            .await
            .map_err(|source| RegistrySerdeError::UnknownSchema { id, source })?;
        let parsed = parse_registered::<F>(&self.registry, &schema).await?;
        let mut map = self.by_id.write().unwrap_or_else(PoisonError::into_inner);
        if map.len() >= MAX_CACHED {
            map.clear();
        }
        map.insert(id, Arc::clone(&parsed));
        Ok(parsed)
    }
}
