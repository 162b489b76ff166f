//! [`SchemaRegistryClient`]: the REST API's calls, with bounded caches in front.

use std::sync::Arc;

use reqwest::Method;
use serde::{Deserialize, Serialize};

use crate::cache::BoundedCache;
use crate::http::{Request, Transport};
use crate::{
    CompatibilityLevel, Mode, RegisteredSchema, RegistryConfig, Result, Schema, SchemaGuid,
    SchemaIds, Version,
};

/// An async client of a Confluent-compatible schema registry. Cheap to clone (an `Arc`).
///
/// Registered ids, schemas by id and numbered versions are cached (bounded, see
/// [`RegistryConfig::cache_capacity`]): ids and numbered versions never change meaning,
/// so a cached answer is never stale; `latest` is always asked.
#[derive(Clone, Debug)]
pub struct SchemaRegistryClient {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    transport: Transport,
    ids: BoundedCache<(String, Schema), SchemaIds>,
    by_id: BoundedCache<u32, Arc<Schema>>,
    by_guid: BoundedCache<SchemaGuid, Arc<RegisteredSchema>>,
    versions: BoundedCache<(String, i32), Arc<RegisteredSchema>>,
}

const NO_BODY: Option<&()> = None;

/// A register answer: the id, and the GUID where the registry gives one.
#[derive(Deserialize)]
struct IdAndGuid {
    id: u32,
    #[serde(default)]
    guid: Option<SchemaGuid>,
}

#[derive(Serialize)]
struct RegisterBody<'a> {
    #[serde(flatten)]
    schema: &'a Schema,
}

#[derive(Deserialize)]
struct Compatible {
    is_compatible: bool,
}

#[derive(Serialize, Deserialize)]
struct CompatibilityBody {
    #[serde(alias = "compatibilityLevel")]
    compatibility: CompatibilityLevel,
}

#[derive(Serialize, Deserialize)]
struct ModeBody {
    mode: Mode,
}

impl SchemaRegistryClient {
    /// A client for `config`; no request is made yet.
    pub fn new(config: RegistryConfig) -> Result<Self> {
        let capacity = config.cache_capacity;
        Ok(SchemaRegistryClient {
            inner: Arc::new(Inner {
                transport: Transport::new(&config)?,
                ids: BoundedCache::new(capacity),
                by_id: BoundedCache::new(capacity),
                by_guid: BoundedCache::new(capacity),
                versions: BoundedCache::new(capacity),
            }),
        })
    }

    /// A client for the registry at `url` with the default configuration.
    pub fn from_url(url: impl AsRef<str>) -> Result<Self> {
        RegistryConfig::new(url).build()
    }

    async fn call<B: Serialize, T: serde::de::DeserializeOwned>(
        &self,
        method: Method,
        path: &[&str],
        query: &[(&str, &str)],
        body: Option<&B>,
    ) -> Result<T> {
        self.inner
            .transport
            .send(Request {
                method,
                path,
                query,
                body,
            })
            .await
    }

    /// Registers `schema` under `subject` (or finds it registered) and returns its id.
    /// Cached per subject and schema.
    pub async fn register(&self, subject: &str, schema: &Schema) -> Result<u32> {
        self.register_with(subject, schema, false).await
    }

    /// [`register`](Self::register), asking the registry to normalize the schema first.
    pub async fn register_with(
        &self,
        subject: &str,
        schema: &Schema,
        normalize: bool,
    ) -> Result<u32> {
        Ok(self.register_full(subject, schema, normalize).await?.id)
    }

    /// [`register_with`](Self::register_with), returning the schema's GUID too when the
    /// registry's answer carries one (newer registries do; some answer with the id only:
    /// then [`lookup`](Self::lookup) may have it). Cached per subject and schema.
    pub async fn register_full(
        &self,
        subject: &str,
        schema: &Schema,
        normalize: bool,
    ) -> Result<SchemaIds> {
        let key = (subject.to_owned(), schema.clone());
        if let Some(ids) = self.inner.ids.get(&key) {
            return Ok(ids);
        }
        let query: &[(&str, &str)] = if normalize {
            &[("normalize", "true")]
        } else {
            &[]
        };
        let IdAndGuid { id, guid } = self
            .call(
                Method::POST,
                &["subjects", subject, "versions"],
                query,
                Some(&RegisterBody { schema }),
            )
            .await?;
        let ids = SchemaIds { id, guid };
        self.inner.ids.insert(key, ids);
        self.inner.by_id.insert(id, Arc::new(schema.clone()));
        Ok(ids)
    }

    /// Looks `schema` up under `subject` without registering it: its id and version, or
    /// an error with code 40401 (no subject) / 40403 (not registered there).
    pub async fn lookup(&self, subject: &str, schema: &Schema) -> Result<RegisteredSchema> {
        let found: RegisteredSchema = self
            .call(
                Method::POST,
                &["subjects", subject],
                &[],
                Some(&RegisterBody { schema }),
            )
            .await?;
        let ids = SchemaIds {
            id: found.id,
            guid: found.guid,
        };
        self.inner
            .ids
            .insert((subject.to_owned(), schema.clone()), ids);
        Ok(found)
    }

    /// The schema with global id `id` (error code 40403 if there is none). Cached.
    pub async fn schema_by_id(&self, id: u32) -> Result<Arc<Schema>> {
        if let Some(schema) = self.inner.by_id.get(&id) {
            return Ok(schema);
        }
        let schema: Schema = self
            .call(
                Method::GET,
                &["schemas", "ids", &id.to_string()],
                &[],
                NO_BODY,
            )
            .await?;
        let schema = Arc::new(schema);
        self.inner.by_id.insert(id, Arc::clone(&schema));
        Ok(schema)
    }

    /// The schema with GUID `guid` (`GET /schemas/guids/{guid}`; error code 40403 if
    /// there is none), with a subject, version and id it is registered under. Cached.
    pub async fn schema_by_guid(&self, guid: SchemaGuid) -> Result<Arc<RegisteredSchema>> {
        if let Some(found) = self.inner.by_guid.get(&guid) {
            return Ok(found);
        }
        let found: RegisteredSchema = self
            .call(
                Method::GET,
                &["schemas", "guids", &guid.to_string()],
                &[],
                NO_BODY,
            )
            .await?;
        let found = Arc::new(found);
        self.inner.by_guid.insert(guid, Arc::clone(&found));
        self.inner
            .by_id
            .insert(found.id, Arc::new(found.schema.clone()));
        Ok(found)
    }

    /// The schema cached for `id`, without asking the registry.
    pub fn cached_schema_by_id(&self, id: u32) -> Option<Arc<Schema>> {
        self.inner.by_id.get(&id)
    }

    /// A subject's schema at `version` (numbered versions are cached, `Latest` is not).
    pub async fn schema_by_version(
        &self,
        subject: &str,
        version: impl Into<Version>,
    ) -> Result<Arc<RegisteredSchema>> {
        let version = version.into();
        if let Version::Number(n) = version {
            if let Some(found) = self.inner.versions.get(&(subject.to_owned(), n)) {
                return Ok(found);
            }
        }
        let found: RegisteredSchema = self
            .call(
                Method::GET,
                &["subjects", subject, "versions", &version.to_string()],
                &[],
                NO_BODY,
            )
            .await?;
        let found = Arc::new(found);
        self.inner
            .versions
            .insert((subject.to_owned(), found.version), Arc::clone(&found));
        self.inner
            .by_id
            .insert(found.id, Arc::new(found.schema.clone()));
        Ok(found)
    }

    /// A subject's latest schema.
    pub async fn latest(&self, subject: &str) -> Result<Arc<RegisteredSchema>> {
        self.schema_by_version(subject, Version::Latest).await
    }

    /// Every subject's name.
    pub async fn subjects(&self) -> Result<Vec<String>> {
        self.call(Method::GET, &["subjects"], &[], NO_BODY).await
    }

    /// A subject's version numbers.
    pub async fn versions(&self, subject: &str) -> Result<Vec<i32>> {
        self.call(
            Method::GET,
            &["subjects", subject, "versions"],
            &[],
            NO_BODY,
        )
        .await
    }

    /// Whether `schema` is compatible with `subject`'s `version` under its compatibility
    /// level.
    pub async fn is_compatible(
        &self,
        subject: &str,
        version: impl Into<Version>,
        schema: &Schema,
    ) -> Result<bool> {
        let answer: Compatible = self
            .call(
                Method::POST,
                &[
                    "compatibility",
                    "subjects",
                    subject,
                    "versions",
                    &version.into().to_string(),
                ],
                &[],
                Some(&RegisterBody { schema }),
            )
            .await?;
        Ok(answer.is_compatible)
    }

    /// The compatibility level of `subject` (falling back to the global one), or the
    /// global one for `None`.
    pub async fn compatibility(&self, subject: Option<&str>) -> Result<CompatibilityLevel> {
        let body: CompatibilityBody = match subject {
            Some(s) => {
                self.call(
                    Method::GET,
                    &["config", s],
                    &[("defaultToGlobal", "true")],
                    NO_BODY,
                )
                .await?
            }
            None => self.call(Method::GET, &["config"], &[], NO_BODY).await?,
        };
        Ok(body.compatibility)
    }

    /// Sets the compatibility level of `subject`, or the global one for `None`.
    pub async fn set_compatibility(
        &self,
        subject: Option<&str>,
        level: CompatibilityLevel,
    ) -> Result<CompatibilityLevel> {
        let path: Vec<&str> = std::iter::once("config").chain(subject).collect();
        let body: CompatibilityBody = self
            .call(
                Method::PUT,
                &path,
                &[],
                Some(&CompatibilityBody {
                    compatibility: level,
                }),
            )
            .await?;
        Ok(body.compatibility)
    }

    /// The mode of `subject`, or the global one for `None`.
    pub async fn mode(&self, subject: Option<&str>) -> Result<Mode> {
        let path: Vec<&str> = std::iter::once("mode").chain(subject).collect();
        let body: ModeBody = self.call(Method::GET, &path, &[], NO_BODY).await?;
        Ok(body.mode)
    }

    /// Sets the mode of `subject`, or the global one for `None`.
    pub async fn set_mode(&self, subject: Option<&str>, mode: Mode) -> Result<Mode> {
        let path: Vec<&str> = std::iter::once("mode").chain(subject).collect();
        let body: ModeBody = self
            .call(Method::PUT, &path, &[], Some(&ModeBody { mode }))
            .await?;
        Ok(body.mode)
    }

    /// Deletes a subject: softly, or for good with `permanent` (which the registry only
    /// allows after a soft delete). Returns the deleted versions.
    pub async fn delete_subject(&self, subject: &str, permanent: bool) -> Result<Vec<i32>> {
        let query: &[(&str, &str)] = if permanent {
            &[("permanent", "true")]
        } else {
            &[]
        };
        let deleted = self
            .call(Method::DELETE, &["subjects", subject], query, NO_BODY)
            .await?;
        self.forget_subject(subject);
        Ok(deleted)
    }

    /// Deletes one version of a subject (softly, or for good with `permanent`).
    pub async fn delete_version(
        &self,
        subject: &str,
        version: impl Into<Version>,
        permanent: bool,
    ) -> Result<i32> {
        let query: &[(&str, &str)] = if permanent {
            &[("permanent", "true")]
        } else {
            &[]
        };
        let deleted = self
            .call(
                Method::DELETE,
                &["subjects", subject, "versions", &version.into().to_string()],
                query,
                NO_BODY,
            )
            .await?;
        self.forget_subject(subject);
        Ok(deleted)
    }

    /// The ids of the schemas that refer to `subject`'s `version`.
    pub async fn referenced_by(
        &self,
        subject: &str,
        version: impl Into<Version>,
    ) -> Result<Vec<u32>> {
        self.call(
            Method::GET,
            &[
                "subjects",
                subject,
                "versions",
                &version.into().to_string(),
                "referencedby",
            ],
            &[],
            NO_BODY,
        )
        .await
    }

    fn forget_subject(&self, subject: &str) {
        self.inner.ids.retain(|(s, _)| s != subject);
        self.inner.versions.retain(|(s, _)| s != subject);
    }
}
