//! Configs: describe (DescribeConfigs) and incremental alter (IncrementalAlterConfigs).
//!
//! As in the Java admin client, a broker's own resources (its configs, its loggers) go to
//! that broker; other resources go to any broker for reads and to the controller for
//! writes.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use kafka_client::Result;
use kafka_client::lowlevel::Target;
use kafka_protocol::messages::describe_configs_request::DescribeConfigsResource;
use kafka_protocol::messages::describe_configs_response::DescribeConfigsResourceResult;
use kafka_protocol::messages::incremental_alter_configs_request::{
    AlterConfigsResource, AlterableConfig,
};
use kafka_protocol::messages::{ApiKey, DescribeConfigsRequest, IncrementalAlterConfigsRequest};

use crate::admin::{Admin, check_item, context, version, wire_str};
use crate::driver::{Call, Route, retry_controller_errors, retry_transient_errors};

use crate::config_types::{ConfigEntry, ConfigResourceType};

/// A resource that has configs: a topic, a broker, a broker's loggers, a group, ...
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConfigResource {
    /// What kind of resource.
    pub resource_type: ConfigResourceType,
    /// Its name: topic name, broker id, group id; empty for the cluster-wide broker
    /// defaults.
    pub name: String,
}

impl ConfigResource {
    /// A resource of any type.
    pub fn new(resource_type: ConfigResourceType, name: impl Into<String>) -> Self {
        Self {
            resource_type,
            name: name.into(),
        }
    }

    /// A topic's configs.
    pub fn topic(name: impl Into<String>) -> Self {
        Self::new(ConfigResourceType::Topic, name)
    }

    /// One broker's configs.
    pub fn broker(id: i32) -> Self {
        Self::new(ConfigResourceType::Broker, id.to_string())
    }

    /// The cluster-wide default broker configs.
    pub fn broker_defaults() -> Self {
        Self::new(ConfigResourceType::Broker, "")
    }

    /// One broker's log levels.
    pub fn broker_logger(id: i32) -> Self {
        Self::new(ConfigResourceType::BrokerLogger, id.to_string())
    }

    /// A consumer group's configs.
    pub fn group(name: impl Into<String>) -> Self {
        Self::new(ConfigResourceType::Group, name)
    }

    /// The broker that must answer for this resource, if any: a broker's own configs and
    /// loggers live on that broker.
    fn owner(&self) -> Option<i32> {
        match self.resource_type {
            ConfigResourceType::Broker | ConfigResourceType::BrokerLogger => self.name.parse().ok(),
            _ => None,
        }
    }
}

impl fmt::Display for ConfigResource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.resource_type, self.name.as_str()) {
            (ConfigResourceType::Broker, "") => write!(f, "broker defaults"),
            (t, name) => write!(f, "{t} {name}"),
        }
    }
}

/// One change of [`Admin::incremental_alter_configs`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AlterConfigOp {
    name: String,
    op: i8,
    value: Option<String>,
}

impl AlterConfigOp {
    /// Set `name` to `value`.
    pub fn set(name: impl Into<String>, value: impl Into<String>) -> Self {
        Self::with(name, 0, Some(value.into()))
    }

    /// Remove `name`'s override: it reverts to its default.
    pub fn delete(name: impl Into<String>) -> Self {
        Self::with(name, 1, None)
    }

    /// Add `value` to a list config (e.g. `cleanup.policy`).
    pub fn append(name: impl Into<String>, value: impl Into<String>) -> Self {
        Self::with(name, 2, Some(value.into()))
    }

    /// Remove `value` from a list config.
    pub fn subtract(name: impl Into<String>, value: impl Into<String>) -> Self {
        Self::with(name, 3, Some(value.into()))
    }

    fn with(name: impl Into<String>, op: i8, value: Option<String>) -> Self {
        Self {
            name: name.into(),
            op,
            value,
        }
    }

    fn to_wire(&self) -> AlterableConfig {
        AlterableConfig::default()
            .with_name(wire_str(&self.name))
            .with_config_operation(self.op)
            .with_value(self.value.as_deref().map(wire_str))
    }
}

/// Options for [`Admin::describe_configs`].
#[derive(Clone, Debug)]
pub struct DescribeConfigsOptions {
    timeout: Duration,
    include_synonyms: bool,
    include_documentation: bool,
}

impl Default for DescribeConfigsOptions {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(60),
            include_synonyms: false,
            include_documentation: false,
        }
    }
}

impl DescribeConfigsOptions {
    /// How long the whole call may take, retries included. Default 60 s.
    pub fn timeout(mut self, t: Duration) -> Self {
        self.timeout = t;
        self
    }

    /// Also return each config's synonyms (the other places its value may come from, in
    /// precedence order). Default false.
    pub fn include_synonyms(mut self, v: bool) -> Self {
        self.include_synonyms = v;
        self
    }

    /// Also return each config's documentation (DescribeConfigs v3+). Default false.
    pub fn include_documentation(mut self, v: bool) -> Self {
        self.include_documentation = v;
        self
    }
}

/// Options for [`Admin::incremental_alter_configs`].
#[derive(Clone, Debug)]
pub struct AlterConfigsOptions {
    timeout: Duration,
    validate_only: bool,
}

impl Default for AlterConfigsOptions {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(60),
            validate_only: false,
        }
    }
}

impl AlterConfigsOptions {
    /// How long the whole call may take, retries included. Default 60 s.
    pub fn timeout(mut self, t: Duration) -> Self {
        self.timeout = t;
        self
    }

    /// Only validate the changes; apply nothing.
    pub fn validate_only(mut self, v: bool) -> Self {
        self.validate_only = v;
        self
    }
}

fn route(r: &ConfigResource, otherwise: Target) -> Route {
    Route::To(r.owner().map_or(otherwise, Target::Broker))
}

fn resource_key(resource_type: i8, name: &str) -> ConfigResource {
    ConfigResource::new(ConfigResourceType::from_code(resource_type), name)
}

impl Admin {
    /// Describes resources' configs: per resource, every config by name with its value,
    /// source, sensitivity, read-only flag and (with the options) synonyms and
    /// documentation. A missing topic gets UNKNOWN_TOPIC_OR_PARTITION.
    ///
    /// # Cancel safety
    /// Cancel-safe: read-only, and the admin client holds no state a dropped call could
    /// leave behind. Dropping it changes nothing; the next call works.
    pub async fn describe_configs(
        &self,
        resources: impl IntoIterator<Item = ConfigResource>,
        options: DescribeConfigsOptions,
    ) -> Result<BTreeMap<ConfigResource, Result<BTreeMap<String, ConfigEntry>>>> {
        let items: BTreeMap<ConfigResource, ()> = resources.into_iter().map(|r| (r, ())).collect();
        let call = Call::new(
            &self.client,
            "DescribeConfigs",
            ApiKey::DescribeConfigs,
            options.timeout,
        )
        .retry(retry_transient_errors);
        let options = &options;
        Ok(call
            .run(
                items,
                |keys| async move {
                    Ok(keys
                        .into_iter()
                        .map(|k| {
                            let r = route(&k, Target::Any);
                            (k, r)
                        })
                        .collect())
                },
                |conn, batch| async move {
                    let v = version::<DescribeConfigsRequest>(&conn)?;
                    let resources = batch
                        .iter()
                        .map(|(r, ())| {
                            DescribeConfigsResource::default()
                                .with_resource_type(r.resource_type.code())
                                .with_resource_name(wire_str(&r.name))
                                .with_configuration_keys(None)
                        })
                        .collect();
                    let req = DescribeConfigsRequest::default()
                        .with_resources(resources)
                        .with_include_synonyms(options.include_synonyms)
                        .with_include_documentation(v >= 3 && options.include_documentation);
                    let resp = conn.request(&req).await?;
                    Ok(resp
                        .results
                        .into_iter()
                        .map(|r| {
                            let key = resource_key(r.resource_type, &r.resource_name);
                            let ctx = || context(ApiKey::DescribeConfigs, &key.to_string());
                            let entries = check_item(r.error_code, ctx, r.error_message.as_ref())
                                .map(|()| entries(r.configs, v));
                            (key, entries)
                        })
                        .collect())
                },
            )
            .await)
    }

    /// Applies config changes (set, delete, append, subtract), with a result per
    /// resource: INVALID_CONFIG for an unknown or invalid config, UNKNOWN_TOPIC_OR_PARTITION
    /// for a missing topic, POLICY_VIOLATION, ... Changes to one resource apply together
    /// or not at all.
    ///
    /// # Cancel safety
    /// The admin client holds no state a dropped call could leave behind, and the next call
    /// works. The change may or may not have been applied: dropped after a request was
    /// sent, the broker (or controller, or coordinator) may still apply it — and where the
    /// call sends several requests (one per broker, leader or coordinator), some may have
    /// been applied and others not. Read the state back to know.
    pub async fn incremental_alter_configs(
        &self,
        changes: impl IntoIterator<Item = (ConfigResource, Vec<AlterConfigOp>)>,
        options: AlterConfigsOptions,
    ) -> Result<BTreeMap<ConfigResource, Result<()>>> {
        let mut items: BTreeMap<ConfigResource, Vec<AlterConfigOp>> = BTreeMap::new();
        for (resource, ops) in changes {
            items.entry(resource).or_default().extend(ops);
        }
        let call = Call::new(
            &self.client,
            "IncrementalAlterConfigs",
            ApiKey::IncrementalAlterConfigs,
            options.timeout,
        )
        .retry(retry_controller_errors);
        let validate_only = options.validate_only;
        Ok(call
            .run(
                items,
                |keys| async move {
                    Ok(keys
                        .into_iter()
                        .map(|k| {
                            let r = route(&k, Target::Controller);
                            (k, r)
                        })
                        .collect())
                },
                |conn, batch| async move {
                    let resources = batch
                        .iter()
                        .map(|(r, ops)| {
                            AlterConfigsResource::default()
                                .with_resource_type(r.resource_type.code())
                                .with_resource_name(wire_str(&r.name))
                                .with_configs(ops.iter().map(AlterConfigOp::to_wire).collect())
                        })
                        .collect();
                    let req = IncrementalAlterConfigsRequest::default()
                        .with_resources(resources)
                        .with_validate_only(validate_only);
                    let resp = conn.request(&req).await?;
                    Ok(resp
                        .responses
                        .into_iter()
                        .map(|r| {
                            let key = resource_key(r.resource_type, &r.resource_name);
                            let ctx = || context(ApiKey::IncrementalAlterConfigs, &key.to_string());
                            let result = check_item(r.error_code, ctx, r.error_message.as_ref());
                            (key, result)
                        })
                        .collect())
                },
            )
            .await)
    }
}

fn entries(
    configs: Vec<DescribeConfigsResourceResult>,
    version: i16,
) -> BTreeMap<String, ConfigEntry> {
    configs
        .into_iter()
        .map(|c| {
            let entry = ConfigEntry::from_wire(c, version);
            (entry.name.clone(), entry)
        })
        .collect()
}
