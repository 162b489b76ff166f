//! Client quotas: describe (DescribeClientQuotas, any broker) and alter
//! (AlterClientQuotas, the controller).

use std::collections::BTreeMap;
use std::time::Duration;

use kafka_client::lowlevel::Target;
use kafka_client::{Error, ErrorContext, Result};
use kafka_protocol::messages::alter_client_quotas_request::{EntityData, EntryData, OpData};
use kafka_protocol::messages::describe_client_quotas_request::ComponentData;
use kafka_protocol::messages::{AlterClientQuotasRequest, ApiKey, DescribeClientQuotasRequest};
use kafka_protocol::protocol::StrBytes;

use crate::admin::{Admin, check_item, wire_str};
use crate::codes;
use crate::driver::{Call, fixed, retry_controller_errors, retry_transient_errors};
use crate::one_request::OneRequest;
use crate::quota_types::{QuotaAlteration, QuotaEntity, QuotaEntityType, QuotaFilter, QuotaMatch};

/// Options for the quota calls.
#[derive(Clone, Debug)]
pub struct QuotasOptions {
    timeout: Duration,
    validate_only: bool,
}

impl Default for QuotasOptions {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(60),
            validate_only: false,
        }
    }
}

impl QuotasOptions {
    /// How long the whole call may take, retries included. Default 60 s.
    pub fn timeout(mut self, t: Duration) -> Self {
        self.timeout = t;
        self
    }

    /// Alterations only: validate, change nothing.
    pub fn validate_only(mut self, v: bool) -> Self {
        self.validate_only = v;
        self
    }
}

fn entity_from_wire(
    parts: impl IntoIterator<Item = (StrBytes, Option<StrBytes>)>,
) -> Result<QuotaEntity> {
    let mut entity = QuotaEntity::default();
    for (kind, name) in parts {
        let kind: QuotaEntityType =
            kind.parse()
                .map_err(|e: crate::UnknownQuotaEntityType| Error::Protocol {
                    context: ErrorContext::default().with_api(ApiKey::DescribeClientQuotas),
                    message: e.to_string(),
                })?;
        entity.parts.insert(kind, name.map(|n| n.to_string()));
    }
    Ok(entity)
}

fn entity_to_wire(entity: &QuotaEntity) -> Vec<EntityData> {
    entity
        .parts
        .iter()
        .map(|(kind, name)| {
            EntityData::default()
                .with_entity_type(wire_str(kind.as_str()))
                .with_entity_name(name.as_deref().map(wire_str))
        })
        .collect()
}

/// An alteration Kafka would refuse as a whole request: an empty entity, a blank key,
/// or a value that is not a positive finite number.
fn invalid_alteration(entity: &QuotaEntity, ops: &[QuotaAlteration]) -> Option<Error> {
    let why = if entity.parts.is_empty() {
        "an entity with no parts".to_string()
    } else if let Some(op) = ops.iter().find(|op| op.key.trim().is_empty()) {
        format!("an empty quota key ({op:?})")
    } else if let Some(op) = ops
        .iter()
        .find(|op| op.value.is_some_and(|v| !v.is_finite() || v <= 0.0))
    {
        format!(
            "quota {} = {:?}: a quota must be a positive number",
            op.key, op.value
        )
    } else {
        return None;
    };
    Some(Error::broker(
        codes::invalid_config(),
        ErrorContext::default()
            .with_api(ApiKey::AlterClientQuotas)
            .with_resource(entity.to_string()),
        Some(why),
    ))
}

impl Admin {
    /// The quotas of the entities matching `filter`: entity → (key → value).
    ///
    /// # Cancel safety
    /// Cancel-safe: read-only, and the admin client holds no state a dropped call could
    /// leave behind. Dropping it changes nothing; the next call works.
    pub async fn describe_client_quotas(
        &self,
        filter: QuotaFilter,
        options: QuotasOptions,
    ) -> Result<BTreeMap<QuotaEntity, BTreeMap<String, f64>>> {
        let api = ApiKey::DescribeClientQuotas;
        let components = filter
            .components()
            .iter()
            .map(|(kind, m)| {
                let (match_type, name) = match m {
                    QuotaMatch::Exact(n) => (0, Some(wire_str(n))),
                    QuotaMatch::Default => (1, None),
                    QuotaMatch::Any => (2, None),
                };
                ComponentData::default()
                    .with_entity_type(wire_str(kind.as_str()))
                    .with_match_type(match_type)
                    .with_match(name)
            })
            .collect();
        let req = DescribeClientQuotasRequest::default()
            .with_components(components)
            .with_strict(filter.is_strict());
        let one = OneRequest {
            client: &self.client,
            operation: "DescribeClientQuotas",
            api,
            timeout: options.timeout,
            target: Target::Any,
            retry: retry_transient_errors,
        };
        one.run(|conn| {
            let req = &req;
            async move {
                let resp = conn.request(req).await?;
                let ctx = || ErrorContext::default().with_api(api);
                check_item(resp.error_code, ctx, resp.error_message.as_ref())?;
                let mut out = BTreeMap::new();
                for entry in resp.entries.unwrap_or_default() {
                    let entity = entity_from_wire(
                        entry
                            .entity
                            .into_iter()
                            .map(|e| (e.entity_type, e.entity_name)),
                    )?;
                    let values = entry
                        .values
                        .into_iter()
                        .map(|v| (v.key.to_string(), v.value))
                        .collect();
                    out.insert(entity, values);
                }
                Ok(out)
            }
        })
        .await
    }

    /// Sets or removes quotas, with a result per entity (INVALID_REQUEST for an unknown
    /// key, INVALID_CONFIG for a bad value, ...). An alteration with an empty entity,
    /// an empty key or a value that is not a positive number fails with INVALID_CONFIG
    /// without being sent.
    ///
    /// # Cancel safety
    /// The admin client holds no state a dropped call could leave behind, and the next call
    /// works. The change may or may not have been applied: dropped after a request was
    /// sent, the broker (or controller, or coordinator) may still apply it. Read the state
    /// back to know.
    pub async fn alter_client_quotas(
        &self,
        alterations: impl IntoIterator<Item = (QuotaEntity, Vec<QuotaAlteration>)>,
        options: QuotasOptions,
    ) -> Result<BTreeMap<QuotaEntity, Result<()>>> {
        let api = ApiKey::AlterClientQuotas;
        let mut invalid = BTreeMap::new();
        let mut items = BTreeMap::new();
        for (entity, ops) in alterations {
            match invalid_alteration(&entity, &ops) {
                Some(e) => {
                    invalid.insert(entity, Err(e));
                }
                None => {
                    items.insert(entity, ops);
                }
            }
        }
        let validate_only = options.validate_only;
        let call = Call::new(&self.client, "AlterClientQuotas", api, options.timeout)
            .retry(retry_controller_errors);
        let mut results = call
            .run(
                items,
                |keys| fixed(Target::Controller, keys),
                |conn, batch| async move {
                    let entries = batch
                        .iter()
                        .map(|(entity, ops)| {
                            EntryData::default()
                                .with_entity(entity_to_wire(entity))
                                .with_ops(
                                    ops.iter()
                                        .map(|op| {
                                            OpData::default()
                                                .with_key(wire_str(&op.key))
                                                .with_value(op.value.unwrap_or(0.0))
                                                .with_remove(op.value.is_none())
                                        })
                                        .collect(),
                                )
                        })
                        .collect();
                    let req = AlterClientQuotasRequest::default()
                        .with_entries(entries)
                        .with_validate_only(validate_only);
                    let resp = conn.request(&req).await?;
                    let mut out = Vec::new();
                    for entry in resp.entries {
                        let entity = entity_from_wire(
                            entry
                                .entity
                                .into_iter()
                                .map(|e| (e.entity_type, e.entity_name)),
                        )?;
                        let ctx = || {
                            ErrorContext::default()
                                .with_api(api)
                                .with_resource(entity.to_string())
                        };
                        let result =
                            check_item(entry.error_code, ctx, entry.error_message.as_ref());
                        out.push((entity, result));
                    }
                    Ok(out)
                },
            )
            .await;
        results.append(&mut invalid);
        Ok(results)
    }
}
