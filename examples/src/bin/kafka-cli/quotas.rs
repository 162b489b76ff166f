//! `kafka-cli quotas ...`: describe and alter client quotas (what
//! `kafka-configs.sh --entity-type users|clients|ips` does for quotas).

use std::collections::BTreeMap;

use clap::{Args, Subcommand};
use kafka_admin::{
    QuotaAlteration, QuotaEntity, QuotaEntityType, QuotaFilter, QuotaMatch, QuotasOptions,
};

use crate::Ctx;
use crate::exit::{Failure, check_items};

/// Which entity a quota command is about. Describe: what is given filters (all quotas
/// when nothing is); alter: what is given is the entity.
#[derive(Args, Debug)]
pub struct EntityArgs {
    /// A user principal name.
    #[arg(long, conflicts_with = "user_default")]
    user: Option<String>,
    /// The default user.
    #[arg(long)]
    user_default: bool,
    /// A client id.
    #[arg(long, conflicts_with = "client_default")]
    client_id: Option<String>,
    /// The default client id.
    #[arg(long)]
    client_default: bool,
    /// A client IP address.
    #[arg(long, conflicts_with = "ip_default")]
    ip: Option<String>,
    /// The default IP.
    #[arg(long)]
    ip_default: bool,
}

impl EntityArgs {
    /// `(type, None = default entity)` for each part given.
    fn parts(&self) -> Vec<(QuotaEntityType, Option<&str>)> {
        [
            (QuotaEntityType::User, &self.user, self.user_default),
            (
                QuotaEntityType::ClientId,
                &self.client_id,
                self.client_default,
            ),
            (QuotaEntityType::Ip, &self.ip, self.ip_default),
        ]
        .into_iter()
        .filter_map(|(kind, name, default)| match name {
            Some(n) => Some((kind, Some(n.as_str()))),
            None => default.then_some((kind, None)),
        })
        .collect()
    }
}

#[derive(Subcommand, Debug)]
pub enum QuotasCommand {
    /// Show quotas: of the entity given, or all.
    Describe {
        #[command(flatten)]
        entity: EntityArgs,
        /// One JSON object per entity instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Set or remove quotas of one entity.
    Alter {
        #[command(flatten)]
        entity: EntityArgs,
        /// Set quotas, `key=value[,key=value...]` (producer_byte_rate,
        /// consumer_byte_rate, request_percentage, controller_mutation_rate,
        /// connection_creation_rate); repeatable.
        #[arg(long, value_delimiter = ',', value_parser = parse_quota)]
        add_config: Vec<(String, f64)>,
        /// Remove quotas by key; repeatable.
        #[arg(long, value_delimiter = ',')]
        delete_config: Vec<String>,
    },
}

fn parse_quota(s: &str) -> Result<(String, f64), String> {
    let (k, v) = s
        .split_once('=')
        .ok_or_else(|| format!("expected key=value, got {s:?}"))?;
    let v: f64 = v
        .trim()
        .parse()
        .map_err(|_| format!("quota {k}: {v:?} is not a number"))?;
    Ok((k.trim().to_string(), v))
}

/// Kafka's tool prints an entity as `user-principal 'alice', client-id 'app'`.
fn describe_entity(entity: &QuotaEntity) -> String {
    entity
        .parts
        .iter()
        .map(|(kind, name)| {
            let kind = match kind {
                QuotaEntityType::User => "user-principal",
                QuotaEntityType::ClientId => "client-id",
                QuotaEntityType::Ip => "ip",
            };
            match name {
                Some(n) => format!("{kind} '{n}'"),
                None => format!("the default {kind}"),
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

pub async fn run(ctx: &Ctx, cmd: QuotasCommand) -> Result<(), Failure> {
    match cmd {
        QuotasCommand::Describe { entity, json } => describe(ctx, entity.parts(), json).await,
        QuotasCommand::Alter {
            entity,
            add_config,
            delete_config,
        } => alter(ctx, entity.parts(), add_config, delete_config).await,
    }
}

/// Prints the quotas of the entities matching `parts` (every quota when empty).
pub async fn describe(
    ctx: &Ctx,
    parts: Vec<(QuotaEntityType, Option<&str>)>,
    json: bool,
) -> Result<(), Failure> {
    let opts = QuotasOptions::default().timeout(ctx.timeout);
    let mut filter = QuotaFilter::all();
    for (kind, name) in parts {
        let m = name.map_or(QuotaMatch::Default, |n| QuotaMatch::Exact(n.into()));
        filter = filter.component(kind, m);
    }
    let quotas = ctx.admin.describe_client_quotas(filter, opts).await?;
    for (entity, values) in &quotas {
        if json {
            let parts: BTreeMap<&str, Option<&str>> = entity
                .parts
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_deref()))
                .collect();
            let line = serde_json::json!({ "entity": parts, "quotas": values });
            println!("{line}");
        } else {
            let values: Vec<String> = values.iter().map(|(k, v)| format!("{k}={v:?}")).collect();
            println!(
                "Quota configs for {} are {}",
                describe_entity(entity),
                values.join(", ")
            );
        }
    }
    Ok(())
}

/// Sets `add_config` and removes `delete_config` on the entity `parts` names.
pub async fn alter(
    ctx: &Ctx,
    parts: Vec<(QuotaEntityType, Option<&str>)>,
    add_config: Vec<(String, f64)>,
    delete_config: Vec<String>,
) -> Result<(), Failure> {
    if parts.is_empty() {
        return Err(Failure::Usage(
            "quotas alter needs an entity: --user, --client-id, --ip or a --*-default".into(),
        ));
    }
    if add_config.is_empty() && delete_config.is_empty() {
        return Err(Failure::Usage(
            "nothing to change: give --add-config or --delete-config".into(),
        ));
    }
    let mut target = QuotaEntity::default();
    for (kind, name) in parts {
        target = target.and(kind, name);
    }
    let mut ops: Vec<QuotaAlteration> = add_config
        .into_iter()
        .map(|(k, v)| QuotaAlteration::set(k, v))
        .collect();
    ops.extend(delete_config.into_iter().map(QuotaAlteration::remove));
    let opts = QuotasOptions::default().timeout(ctx.timeout);
    let results = ctx.admin.alter_client_quotas([(target, ops)], opts).await?;
    check_items("quota entity", results, |e, ()| {
        println!("Completed updating quotas for {}.", describe_entity(e));
    })
}
