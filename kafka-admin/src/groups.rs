//! Groups: list (ListGroups on every broker) and delete (DeleteGroups, at each group's
//! coordinator). Describing is in `group_describe.rs`.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use kafka_client::lowlevel::{Connection, Target};
use kafka_client::{Error, ErrorContext, Result};
use kafka_protocol::messages::{ApiKey, DeleteGroupsRequest, GroupId, ListGroupsRequest};

use crate::admin::{Admin, check_item, context, version, wire_str};
use crate::driver::{Call, Route, retry_coordinator_errors};
use crate::group_types::{GroupListing, GroupState, GroupType};

/// Options for [`Admin::list_groups`].
#[derive(Clone, Debug)]
pub struct ListGroupsOptions {
    timeout: Duration,
    states: Vec<GroupState>,
    types: Vec<GroupType>,
}

impl Default for ListGroupsOptions {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(60),
            states: Vec::new(),
            types: Vec::new(),
        }
    }
}

impl ListGroupsOptions {
    /// How long the whole call may take, retries included. Default 60 s.
    pub fn timeout(mut self, t: Duration) -> Self {
        self.timeout = t;
        self
    }

    /// Only groups in these states (ListGroups v4+). Default: all.
    pub fn states(mut self, states: impl IntoIterator<Item = GroupState>) -> Self {
        self.states = states.into_iter().collect();
        self
    }

    /// Only groups of these types (ListGroups v5+). Default: all.
    pub fn types(mut self, types: impl IntoIterator<Item = GroupType>) -> Self {
        self.types = types.into_iter().collect();
        self
    }
}

/// Options for [`Admin::describe_consumer_groups`] and [`Admin::delete_consumer_groups`].
#[derive(Clone, Debug)]
pub struct GroupsOptions {
    timeout: Duration,
}

impl Default for GroupsOptions {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(60),
        }
    }
}

impl GroupsOptions {
    /// How long the whole call may take, retries included. Default 60 s.
    pub fn timeout(mut self, t: Duration) -> Self {
        self.timeout = t;
        self
    }

    pub(crate) fn timeout_value(&self) -> Duration {
        self.timeout
    }
}

fn unsupported_filter(conn: &Connection, min: i16) -> Error {
    let broker_versions = match conn.versions().range(ApiKey::ListGroups) {
        Some((lo, hi)) => format!("{lo}..={hi}"),
        None => "none".into(),
    };
    Error::UnsupportedVersion {
        api: ApiKey::ListGroups,
        context: ErrorContext::broker(conn.broker_id(), conn.address()),
        client_min: min,
        client_max: 5,
        broker_versions,
    }
}

async fn list_on(conn: Connection, options: &ListGroupsOptions) -> Result<Vec<GroupListing>> {
    let v = version::<ListGroupsRequest>(&conn)?;
    if (!options.states.is_empty() && v < 4) || (!options.types.is_empty() && v < 5) {
        return Err(unsupported_filter(
            &conn,
            if options.types.is_empty() { 4 } else { 5 },
        ));
    }
    let req = ListGroupsRequest::default()
        .with_states_filter(
            options
                .states
                .iter()
                .map(|s| wire_str(s.as_str()))
                .collect(),
        )
        .with_types_filter(options.types.iter().map(|t| wire_str(t.as_str())).collect());
    let resp = conn.request(&req).await?;
    let ctx =
        || ErrorContext::broker(conn.broker_id(), conn.address()).with_api(ApiKey::ListGroups);
    check_item(resp.error_code, ctx, None)?;
    Ok(resp
        .groups
        .into_iter()
        .map(|g| GroupListing {
            group_id: g.group_id.0.to_string(),
            protocol_type: g.protocol_type.to_string(),
            state: (v >= 4).then(|| GroupState::parse(&g.group_state)),
            group_type: (v >= 5).then(|| GroupType::parse(&g.group_type)),
        })
        .collect())
}

impl Admin {
    /// Lists the groups of every broker (each broker coordinates some groups). Fails as a
    /// whole when a broker cannot answer before the timeout, since its groups would be
    /// missing.
    ///
    /// # Cancel safety
    /// Cancel-safe: read-only, and the admin client holds no state a dropped call could
    /// leave behind. Dropping it changes nothing; the next call works.
    pub async fn list_groups(
        &self,
        options: ListGroupsOptions,
    ) -> Result<BTreeMap<String, GroupListing>> {
        let call = Call::new(
            &self.client,
            "ListGroups",
            ApiKey::ListGroups,
            options.timeout,
        )
        .retry(retry_coordinator_errors);
        let brokers: BTreeMap<i32, ()> = call
            .bound(self.client.metadata())
            .await?
            .brokers
            .keys()
            .map(|id| (*id, ()))
            .collect();
        let options = &options;
        let per_broker = call
            .run(
                brokers,
                |ids| async move {
                    Ok(ids
                        .into_iter()
                        .map(|id| (id, Route::To(Target::Broker(id))))
                        .collect())
                },
                |conn, batch| async move {
                    let id = batch.first().map_or(-1, |b| b.0);
                    Ok(vec![(id, list_on(conn, options).await)])
                },
            )
            .await;
        let mut groups = BTreeMap::new();
        for (_, listed) in per_broker {
            for g in listed? {
                groups.insert(g.group_id.clone(), g);
            }
        }
        Ok(groups)
    }

    /// Deletes consumer groups (with their committed offsets), with a result per group:
    /// GROUP_NOT_EMPTY while it has members, GROUP_ID_NOT_FOUND when it does not exist.
    ///
    /// # Cancel safety
    /// The admin client holds no state a dropped call could leave behind, and the next call
    /// works. The change may or may not have been applied: dropped after a request was
    /// sent, the broker (or controller, or coordinator) may still apply it — and where the
    /// call sends several requests (one per broker, leader or coordinator), some may have
    /// been applied and others not. Read the state back to know.
    pub async fn delete_consumer_groups<S: AsRef<str>>(
        &self,
        groups: impl IntoIterator<Item = S>,
        options: GroupsOptions,
    ) -> Result<BTreeMap<String, Result<()>>> {
        self.delete_groups(groups, options).await
    }

    /// Deletes share groups (KIP-932) with their start offsets and share-partition
    /// state (Java's `Admin.deleteShareGroups`; DeleteGroups serves every group type),
    /// with a result per group: GROUP_NOT_EMPTY while it has members,
    /// GROUP_ID_NOT_FOUND when it does not exist.
    ///
    /// # Cancel safety
    /// The admin client holds no state a dropped call could leave behind, and the next call
    /// works. The change may or may not have been applied: dropped after a request was
    /// sent, the coordinators may still apply it, for some groups and not others. Read
    /// the state back to know.
    pub async fn delete_share_groups<S: AsRef<str>>(
        &self,
        groups: impl IntoIterator<Item = S>,
        options: GroupsOptions,
    ) -> Result<BTreeMap<String, Result<()>>> {
        self.delete_groups(groups, options).await
    }

    async fn delete_groups<S: AsRef<str>>(
        &self,
        groups: impl IntoIterator<Item = S>,
        options: GroupsOptions,
    ) -> Result<BTreeMap<String, Result<()>>> {
        let items = group_set(groups);
        let client = &self.client;
        let call = Call::at_group_coordinators(
            client,
            "DeleteGroups",
            ApiKey::DeleteGroups,
            options.timeout,
        );
        Ok(call
            .run_for_groups(items, |conn, batch| async move {
                let req = DeleteGroupsRequest::default()
                    .with_groups_names(batch.iter().map(|(g, ())| GroupId(wire_str(g))).collect());
                let resp = conn.request(&req).await?;
                Ok(resp
                    .results
                    .into_iter()
                    .map(|r| {
                        let g = r.group_id.0.to_string();
                        let result =
                            check_item(r.error_code, || context(ApiKey::DeleteGroups, &g), None);
                        (g, result)
                    })
                    .collect())
            })
            .await)
    }
}

pub(crate) fn group_set<S: AsRef<str>>(
    groups: impl IntoIterator<Item = S>,
) -> BTreeMap<String, ()> {
    let set: BTreeSet<String> = groups.into_iter().map(|g| g.as_ref().to_string()).collect();
    set.into_iter().map(|g| (g, ())).collect()
}
