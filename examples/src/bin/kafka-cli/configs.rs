//! `kafka-cli configs ...`: describe and alter the configs of topics, brokers (one, or
//! the cluster-wide defaults), broker loggers, groups and client-metrics
//! subscriptions — what `kafka-configs.sh --entity-type topics|brokers|broker-loggers|
//! groups|client-metrics` does. For users, clients and IPs (`kafka-configs.sh`'s
//! quota entities) it routes to the quota commands; SCRAM credentials are
//! `kafka-cli users scram`.

use clap::{Args, Subcommand, ValueEnum};
use kafka_admin::{
    AlterConfigOp, AlterConfigsOptions, ConfigEntry, ConfigResource, ConfigResourceType,
    DescribeConfigsOptions, QuotaEntityType,
};

use crate::Ctx;
use crate::exit::{Failure, check_items};
use crate::quotas;

/// The entity types of `kafka-configs.sh`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum EntityType {
    /// A topic (`--entity-name` the topic).
    Topics,
    /// A broker (`--entity-name` its id), or every broker with `--entity-default`.
    Brokers,
    /// A broker's log4j loggers (`--entity-name` the broker id).
    BrokerLoggers,
    /// A consumer or share group.
    Groups,
    /// A client-metrics subscription (KIP-714).
    ClientMetrics,
    /// A user principal's quotas.
    Users,
    /// A client id's quotas.
    Clients,
    /// A client IP's quotas.
    Ips,
}

/// Which entity the command is about.
#[derive(Args, Debug)]
pub struct Entity {
    /// The kind of entity.
    #[arg(long, value_enum)]
    entity_type: EntityType,
    /// Its name: topic, broker id, group, user, client id, IP.
    #[arg(long, conflicts_with = "entity_default")]
    entity_name: Option<String>,
    /// The default entity (brokers, users, clients, IPs).
    #[arg(long)]
    entity_default: bool,
}

#[derive(Subcommand, Debug)]
pub enum ConfigsCommand {
    /// Show an entity's configs: its overrides, or every value with `--all`.
    Describe {
        #[command(flatten)]
        entity: Entity,
        /// Every config, with its source, not only the overrides.
        #[arg(long)]
        all: bool,
        /// One JSON object per config instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Set or remove configs of one entity.
    Alter {
        #[command(flatten)]
        entity: Entity,
        /// Set configs, `key=value[,key=value...]`; repeatable. A value holding commas
        /// is written in brackets, as Kafka's tool takes it: `k=[a,b]`.
        #[arg(long, value_parser = parse_pairs)]
        add_config: Vec<Vec<(String, String)>>,
        /// Remove configs by key, `key[,key...]`; repeatable.
        #[arg(long, value_delimiter = ',')]
        delete_config: Vec<String>,
    },
}

/// Splits `k=v,k2=[a,b]` into pairs; commas inside brackets belong to the value.
fn parse_pairs(s: &str) -> Result<Vec<(String, String)>, String> {
    let mut pairs = Vec::new();
    let (mut depth, mut start) = (0usize, 0usize);
    let mut parts = Vec::new();
    for (i, c) in s.char_indices() {
        match c {
            '[' => depth += 1,
            ']' => depth = depth.saturating_sub(1),
            ',' if depth == 0 => {
                parts.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&s[start..]);
    for part in parts.into_iter().filter(|p| !p.trim().is_empty()) {
        let (k, v) = part
            .split_once('=')
            .ok_or_else(|| format!("expected key=value, got {part:?}"))?;
        let v = v.trim();
        let v = v
            .strip_prefix('[')
            .and_then(|v| v.strip_suffix(']'))
            .unwrap_or(v);
        pairs.push((k.trim().to_string(), v.to_string()));
    }
    Ok(pairs)
}

impl Entity {
    /// The config resource for the non-quota entity types.
    fn resource(&self) -> Result<ConfigResource, Failure> {
        let name = self.entity_name.as_deref();
        let needs_name = |what: &str| {
            name.map(str::to_owned)
                .ok_or_else(|| Failure::Usage(format!("--entity-type {what} needs --entity-name")))
        };
        let broker_id = |what: &str| -> Result<String, Failure> {
            let n = needs_name(what)?;
            n.parse::<i32>()
                .map_err(|_| Failure::Usage(format!("broker id {n:?} is not a number")))?;
            Ok(n)
        };
        Ok(match self.entity_type {
            EntityType::Topics => ConfigResource::topic(needs_name("topics")?),
            EntityType::Brokers if self.entity_default => ConfigResource::broker_defaults(),
            EntityType::Brokers => {
                ConfigResource::new(ConfigResourceType::Broker, broker_id("brokers")?)
            }
            EntityType::BrokerLoggers => ConfigResource::new(
                ConfigResourceType::BrokerLogger,
                broker_id("broker-loggers")?,
            ),
            EntityType::Groups => ConfigResource::group(needs_name("groups")?),
            EntityType::ClientMetrics => ConfigResource::new(
                ConfigResourceType::ClientMetrics,
                needs_name("client-metrics")?,
            ),
            EntityType::Users | EntityType::Clients | EntityType::Ips => {
                return Err(Failure::Usage(
                    "users, clients and ips have quotas, not configs: use `kafka-cli quotas`"
                        .into(),
                ));
            }
        })
    }

    /// `Some` for the quota entity types: the entity as the quota commands take it.
    fn quota_part(&self) -> Option<(QuotaEntityType, Option<&str>)> {
        let kind = match self.entity_type {
            EntityType::Users => QuotaEntityType::User,
            EntityType::Clients => QuotaEntityType::ClientId,
            EntityType::Ips => QuotaEntityType::Ip,
            _ => return None,
        };
        Some((kind, self.entity_name.as_deref()))
    }
}

pub async fn run(ctx: &Ctx, cmd: ConfigsCommand) -> Result<(), Failure> {
    match cmd {
        ConfigsCommand::Describe { entity, all, json } => {
            if let Some(part) = entity.quota_part() {
                let parts = if entity.entity_name.is_some() || entity.entity_default {
                    vec![part]
                } else {
                    Vec::new()
                };
                return quotas::describe(ctx, parts, json).await;
            }
            let resource = entity.resource()?;
            let described = ctx
                .admin
                .describe_configs(
                    [resource],
                    DescribeConfigsOptions::default().timeout(ctx.timeout),
                )
                .await?;
            check_items("configs of", described, |r, entries| {
                if !json {
                    let which = if all { "All" } else { "Dynamic" };
                    let name = if r.name.is_empty() {
                        "default"
                    } else {
                        r.name.as_str()
                    };
                    println!("{which} configs for {} {name} are:", r.resource_type);
                }
                for e in entries.values().filter(|e| all || is_override(r, e)) {
                    print_entry(e, json);
                }
            })
        }
        ConfigsCommand::Alter {
            entity,
            add_config,
            delete_config,
        } => {
            let add: Vec<(String, String)> = add_config.into_iter().flatten().collect();
            if add.is_empty() && delete_config.is_empty() {
                return Err(Failure::Usage(
                    "nothing to change: give --add-config or --delete-config".into(),
                ));
            }
            if let Some(part) = entity.quota_part() {
                if entity.entity_name.is_none() && !entity.entity_default {
                    return Err(Failure::Usage(
                        "configs alter needs --entity-name or --entity-default".into(),
                    ));
                }
                let mut values = Vec::with_capacity(add.len());
                for (k, v) in add {
                    let v: f64 = v
                        .parse()
                        .map_err(|_| Failure::Usage(format!("quota {k}: {v:?} is not a number")))?;
                    values.push((k, v));
                }
                return quotas::alter(ctx, vec![part], values, delete_config).await;
            }
            let resource = entity.resource()?;
            let ops: Vec<AlterConfigOp> = add
                .into_iter()
                .map(|(k, v)| AlterConfigOp::set(k, v))
                .chain(delete_config.into_iter().map(AlterConfigOp::delete))
                .collect();
            let results = ctx
                .admin
                .incremental_alter_configs(
                    [(resource, ops)],
                    AlterConfigsOptions::default().timeout(ctx.timeout),
                )
                .await?;
            check_items("configs of", results, |r, ()| {
                println!(
                    "Completed updating config for {} {}.",
                    r.resource_type, r.name
                );
            })
        }
    }
}

/// What `kafka-configs.sh --describe` shows without `--all`: the values set on the
/// entity itself (a topic's overrides, not the cluster-wide defaults it inherits).
fn is_override(resource: &ConfigResource, e: &ConfigEntry) -> bool {
    use kafka_admin::ConfigSource as S;
    match resource.resource_type {
        ConfigResourceType::Topic => e.source == S::DynamicTopicConfig,
        ConfigResourceType::Broker if resource.name.is_empty() => {
            e.source == S::DynamicDefaultBrokerConfig
        }
        ConfigResourceType::Broker => e.source == S::DynamicBrokerConfig,
        ConfigResourceType::BrokerLogger => e.source == S::DynamicBrokerLoggerConfig,
        ConfigResourceType::Group => e.source == S::GroupConfig,
        ConfigResourceType::ClientMetrics => e.source == S::ClientMetricsConfig,
        _ => !matches!(e.source, S::DefaultConfig | S::StaticBrokerConfig),
    }
}

fn print_entry(e: &ConfigEntry, json: bool) {
    let source = format!("{:?}", e.source);
    if json {
        let line = serde_json::json!({
            "name": e.name,
            "value": e.value,
            "source": source,
            "sensitive": e.is_sensitive,
            "readOnly": e.is_read_only,
        });
        println!("{line}");
    } else {
        let value = match (&e.value, e.is_sensitive) {
            (_, true) => "<sensitive>".to_string(),
            (Some(v), false) => v.clone(),
            (None, false) => "null".to_string(),
        };
        println!(
            "  {}={} sensitive={} source={}",
            e.name, value, e.is_sensitive, source
        );
    }
}

#[cfg(test)]
mod tests {
    use super::parse_pairs;

    #[test]
    fn pairs_split_on_commas_outside_brackets() {
        assert_eq!(
            parse_pairs("a=1,b=[x,y],c=z").unwrap(),
            vec![
                ("a".to_string(), "1".to_string()),
                ("b".to_string(), "x,y".to_string()),
                ("c".to_string(), "z".to_string()),
            ]
        );
    }

    #[test]
    fn a_pair_without_equals_is_named_in_the_error() {
        let e = parse_pairs("a=1,oops").unwrap_err();
        assert!(e.contains("\"oops\""), "{e}");
    }
}
