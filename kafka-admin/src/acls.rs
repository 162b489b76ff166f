//! ACLs: create (CreateAcls) and delete (DeleteAcls) at the controller, describe
//! (DescribeAcls) at any broker. Without an authorizer the brokers answer
//! SECURITY_DISABLED.

use std::collections::BTreeMap;
use std::time::Duration;

use kafka_client::lowlevel::Target;
use kafka_client::{Error, ErrorCode, ErrorContext, Result};
use kafka_protocol::messages::create_acls_request::AclCreation;
use kafka_protocol::messages::delete_acls_request::DeleteAclsFilter;
use kafka_protocol::messages::describe_acls_response::DescribeAclsResource;
use kafka_protocol::messages::{ApiKey, CreateAclsRequest, DeleteAclsRequest, DescribeAclsRequest};

use crate::acl_types::{
    AclBinding, AclBindingFilter, AclOperation, AclPermissionType, PatternType, ResourceType,
};
use crate::admin::{Admin, check_item, wire_str};
use crate::driver::{Call, fixed, retry_controller_errors, retry_transient_errors};

/// Options for the ACL calls.
#[derive(Clone, Debug)]
pub struct AclsOptions {
    timeout: Duration,
}

impl Default for AclsOptions {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(60),
        }
    }
}

impl AclsOptions {
    /// How long the whole call may take, retries included. Default 60 s.
    pub fn timeout(mut self, t: Duration) -> Self {
        self.timeout = t;
        self
    }
}

fn acl_context(api: ApiKey, item: &impl std::fmt::Display) -> ErrorContext {
    ErrorContext::default()
        .with_api(api)
        .with_resource(item.to_string())
}

fn creation(b: &AclBinding) -> AclCreation {
    AclCreation::default()
        .with_resource_type(b.resource_type.code())
        .with_resource_name(wire_str(&b.resource_name))
        .with_resource_pattern_type(b.pattern_type.code())
        .with_principal(wire_str(&b.principal))
        .with_host(wire_str(&b.host))
        .with_operation(b.operation.code())
        .with_permission_type(b.permission.code())
}

fn delete_filter(f: &AclBindingFilter) -> DeleteAclsFilter {
    DeleteAclsFilter::default()
        .with_resource_type_filter(f.resource_type.code())
        .with_resource_name_filter(f.resource_name.as_deref().map(wire_str))
        .with_pattern_type_filter(f.pattern_type.code())
        .with_principal_filter(f.principal.as_deref().map(wire_str))
        .with_host_filter(f.host.as_deref().map(wire_str))
        .with_operation(f.operation.code())
        .with_permission_type(f.permission.code())
}

fn described(resources: Vec<DescribeAclsResource>) -> Vec<AclBinding> {
    let mut out = Vec::new();
    for r in resources {
        for a in r.acls {
            out.push(AclBinding {
                resource_type: ResourceType::from_code(r.resource_type),
                resource_name: r.resource_name.to_string(),
                pattern_type: PatternType::from_code(r.pattern_type),
                principal: a.principal.to_string(),
                host: a.host.to_string(),
                operation: AclOperation::from_code(a.operation),
                permission: AclPermissionType::from_code(a.permission_type),
            });
        }
    }
    out
}

/// Why a binding cannot be created, if it cannot.
fn invalid_binding(b: &AclBinding) -> Option<&'static str> {
    if matches!(
        b.resource_type,
        ResourceType::Any | ResourceType::Unknown(_)
    ) {
        Some("resource type ANY or UNKNOWN")
    } else if matches!(
        b.pattern_type,
        PatternType::Any | PatternType::Match | PatternType::Unknown(_)
    ) {
        Some("pattern type ANY, MATCH or UNKNOWN")
    } else if matches!(b.operation, AclOperation::Any | AclOperation::Unknown(_)) {
        Some("operation ANY or UNKNOWN")
    } else if matches!(
        b.permission,
        AclPermissionType::Any | AclPermissionType::Unknown(_)
    ) {
        Some("permission ANY or UNKNOWN")
    } else {
        None
    }
}

impl Admin {
    /// Creates ACLs, with a result per ACL (SECURITY_DISABLED without an authorizer, ...).
    /// A binding with a filter-only value (`Any`, `Match`) fails with INVALID_REQUEST
    /// without being sent. Creating an ACL that exists succeeds.
    ///
    /// # Cancel safety
    /// The admin client holds no state a dropped call could leave behind, and the next call
    /// works. The change may or may not have been applied: dropped after a request was
    /// sent, the broker (or controller, or coordinator) may still apply it. Read the state
    /// back to know.
    pub async fn create_acls(
        &self,
        acls: impl IntoIterator<Item = AclBinding>,
        options: AclsOptions,
    ) -> Result<BTreeMap<AclBinding, Result<()>>> {
        // As in Java, bindings with filter-only values (`Any`, `Match`) or unknown codes are
        // rejected here: the controller would fail the whole request for them.
        let mut items: BTreeMap<AclBinding, ()> = BTreeMap::new();
        let mut invalid = BTreeMap::new();
        for acl in acls {
            match invalid_binding(&acl) {
                Some(why) => {
                    let e = Error::broker(
                        ErrorCode::INVALID_REQUEST,
                        acl_context(ApiKey::CreateAcls, &acl),
                        Some(format!("an ACL binding cannot have {why}")),
                    );
                    invalid.insert(acl, Err(e));
                }
                None => {
                    items.insert(acl, ());
                }
            }
        }
        let call = Call::new(
            &self.client,
            "CreateAcls",
            ApiKey::CreateAcls,
            options.timeout,
        )
        .retry(retry_controller_errors);
        let mut results = call
            .run(
                items,
                |keys| fixed(Target::Controller, keys),
                |conn, batch| async move {
                    let req = CreateAclsRequest::default()
                        .with_creations(batch.iter().map(|(b, ())| creation(b)).collect());
                    let resp = conn.request(&req).await?;
                    // Results come in the order of the creations.
                    Ok(batch
                        .into_iter()
                        .zip(resp.results)
                        .map(|((b, ()), r)| {
                            let ctx = || acl_context(ApiKey::CreateAcls, &b);
                            let result = check_item(r.error_code, ctx, r.error_message.as_ref());
                            (b, result)
                        })
                        .collect())
                },
            )
            .await;
        results.append(&mut invalid);
        Ok(results)
    }

    /// Lists the ACLs matching `filter`.
    ///
    /// # Cancel safety
    /// Cancel-safe: read-only, and the admin client holds no state a dropped call could
    /// leave behind. Dropping it changes nothing; the next call works.
    pub async fn describe_acls(
        &self,
        filter: AclBindingFilter,
        options: AclsOptions,
    ) -> Result<Vec<AclBinding>> {
        let items = BTreeMap::from([(filter.clone(), ())]);
        let call = Call::new(
            &self.client,
            "DescribeAcls",
            ApiKey::DescribeAcls,
            options.timeout,
        )
        .retry(retry_transient_errors);
        let mut results = call
            .run(
                items,
                |keys| fixed(Target::Any, keys),
                |conn, batch| async move {
                    let mut out = Vec::new();
                    for (f, ()) in batch {
                        let req = DescribeAclsRequest::default()
                            .with_resource_type_filter(f.resource_type.code())
                            .with_resource_name_filter(f.resource_name.as_deref().map(wire_str))
                            .with_pattern_type_filter(f.pattern_type.code())
                            .with_principal_filter(f.principal.as_deref().map(wire_str))
                            .with_host_filter(f.host.as_deref().map(wire_str))
                            .with_operation(f.operation.code())
                            .with_permission_type(f.permission.code());
                        let resp = conn.request(&req).await?;
                        let ctx = || acl_context(ApiKey::DescribeAcls, &f);
                        let result = check_item(resp.error_code, ctx, resp.error_message.as_ref())
                            .map(|()| described(resp.resources));
                        out.push((f, result));
                    }
                    Ok(out)
                },
            )
            .await;
        results.remove(&filter).unwrap_or_else(|| {
            Err(Error::Protocol {
                context: acl_context(ApiKey::DescribeAcls, &filter),
                message: "no result for the filter".into(),
            })
        })
    }

    /// Deletes the ACLs matching each filter, with the deleted ACLs per filter. A filter
    /// fails as a whole when the broker reports an error for it or for any ACL it matched.
    ///
    /// # Cancel safety
    /// The admin client holds no state a dropped call could leave behind, and the next call
    /// works. The change may or may not have been applied: dropped after a request was
    /// sent, the broker (or controller, or coordinator) may still apply it. Read the state
    /// back to know.
    pub async fn delete_acls(
        &self,
        filters: impl IntoIterator<Item = AclBindingFilter>,
        options: AclsOptions,
    ) -> Result<BTreeMap<AclBindingFilter, Result<Vec<AclBinding>>>> {
        let items: BTreeMap<AclBindingFilter, ()> = filters.into_iter().map(|f| (f, ())).collect();
        let call = Call::new(
            &self.client,
            "DeleteAcls",
            ApiKey::DeleteAcls,
            options.timeout,
        )
        .retry(retry_controller_errors);
        Ok(call
            .run(
                items,
                |keys| fixed(Target::Controller, keys),
                |conn, batch| async move {
                    let req = DeleteAclsRequest::default()
                        .with_filters(batch.iter().map(|(f, ())| delete_filter(f)).collect());
                    let resp = conn.request(&req).await?;
                    Ok(batch
                        .into_iter()
                        .zip(resp.filter_results)
                        .map(|((f, ()), r)| {
                            let ctx = || acl_context(ApiKey::DeleteAcls, &f);
                            let result = check_item(r.error_code, ctx, r.error_message.as_ref())
                                .and_then(|()| {
                                    r.matching_acls
                                        .into_iter()
                                        .map(|m| {
                                            let b = AclBinding {
                                                resource_type: ResourceType::from_code(
                                                    m.resource_type,
                                                ),
                                                resource_name: m.resource_name.to_string(),
                                                pattern_type: PatternType::from_code(
                                                    m.pattern_type,
                                                ),
                                                principal: m.principal.to_string(),
                                                host: m.host.to_string(),
                                                operation: AclOperation::from_code(m.operation),
                                                permission: AclPermissionType::from_code(
                                                    m.permission_type,
                                                ),
                                            };
                                            let ctx = || acl_context(ApiKey::DeleteAcls, &b);
                                            check_item(m.error_code, ctx, m.error_message.as_ref())
                                                .map(|()| b)
                                        })
                                        .collect()
                                });
                            (f, result)
                        })
                        .collect())
                },
            )
            .await)
    }
}
