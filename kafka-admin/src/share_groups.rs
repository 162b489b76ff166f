//! Describe share groups (KIP-932) at their coordinators with ShareGroupDescribe
//! (Kafka 4.4's v1, from kafka-client's generated messages): state, epochs, assignor,
//! and members with their subscription and assignment (topic names and ids).

use std::collections::BTreeMap;

use kafka_client::lowlevel::Connection;
use kafka_client::lowlevel::protocol_gen::share_group_describe_request::ShareGroupDescribeRequest;
use kafka_client::lowlevel::protocol_gen::share_group_describe_response::DescribedGroup;
use kafka_client::{Result, Uuid};
use kafka_protocol::messages::ApiKey;

use crate::admin::{Admin, check_item, context, wire_str};
use crate::driver::Call;
use crate::group_types::GroupState;
use crate::groups::{GroupsOptions, group_set};
use crate::types::TopicPartition;

/// One member of a share group.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShareMemberDescription {
    /// The member id.
    pub member_id: String,
    /// The member epoch.
    pub member_epoch: i32,
    /// The client id.
    pub client_id: String,
    /// The client's host.
    pub host: String,
    /// The member's rack, if it gave one.
    pub rack: Option<String>,
    /// The subscribed topics.
    pub subscribed_topics: Vec<String>,
    /// The assigned partitions (a share group assigns a partition to many members).
    pub assignment: Vec<TopicPartition>,
    /// Topic ids of the assigned topics.
    pub topic_ids: BTreeMap<String, Uuid>,
}

/// A share group as its coordinator describes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShareGroupDescription {
    /// The group id.
    pub group_id: String,
    /// The group's state (`Empty`, `Stable`, `Dead`, ...).
    pub state: GroupState,
    /// The group epoch.
    pub group_epoch: i32,
    /// The epoch of the current target assignment.
    pub assignment_epoch: i32,
    /// The server-side assignor.
    pub assignor: String,
    /// The members.
    pub members: Vec<ShareMemberDescription>,
    /// The coordinator's node id.
    pub coordinator: i32,
}

type Described = (String, Result<ShareGroupDescription>);

fn share_group(g: DescribedGroup, conn: &Connection) -> Described {
    let group_id = g.group_id.to_string();
    let ctx = || context(ApiKey::ShareGroupDescribe, &group_id);
    if let Err(e) = check_item(g.error_code, ctx, g.error_message.as_ref()) {
        return (group_id, Err(e));
    }
    let members = g
        .members
        .into_iter()
        .map(|m| {
            let mut assignment = Vec::new();
            let mut topic_ids = BTreeMap::new();
            for t in &m.assignment.topic_partitions {
                let topic = t.topic_name.to_string();
                topic_ids.insert(topic.clone(), t.topic_id);
                assignment.extend(
                    t.partitions
                        .iter()
                        .map(|p| TopicPartition::new(topic.clone(), *p)),
                );
            }
            assignment.sort();
            ShareMemberDescription {
                member_id: m.member_id.to_string(),
                member_epoch: m.member_epoch,
                client_id: m.client_id.to_string(),
                host: m.client_host.to_string(),
                rack: m.rack_id.map(|r| r.to_string()),
                subscribed_topics: m
                    .subscribed_topic_names
                    .iter()
                    .map(|t| t.to_string())
                    .collect(),
                assignment,
                topic_ids,
            }
        })
        .collect();
    let description = ShareGroupDescription {
        group_id: group_id.clone(),
        state: GroupState::parse(&g.group_state),
        group_epoch: g.group_epoch,
        assignment_epoch: g.assignment_epoch,
        assignor: g.assignor_name.to_string(),
        members,
        coordinator: conn.broker_id().unwrap_or(-1),
    };
    (group_id, Ok(description))
}

async fn describe_at(conn: Connection, groups: Vec<String>) -> Result<Vec<Described>> {
    let req = ShareGroupDescribeRequest::default()
        .with_group_ids(groups.iter().map(|g| wire_str(g)).collect());
    let resp = conn.request(&req).await?;
    Ok(resp
        .groups
        .into_iter()
        .map(|g| share_group(g, &conn))
        .collect())
}

impl Admin {
    /// Describes share groups (KIP-932) at their coordinators: state, epochs, assignor
    /// and members with subscription and assignment. A group that does not exist, or
    /// is not a share group, gets its error (GROUP_ID_NOT_FOUND).
    ///
    /// # Cancel safety
    /// Cancel-safe: read-only, and the admin client holds no state a dropped call could
    /// leave behind. Dropping it changes nothing; the next call works.
    pub async fn describe_share_groups<S: AsRef<str>>(
        &self,
        groups: impl IntoIterator<Item = S>,
        options: GroupsOptions,
    ) -> Result<BTreeMap<String, Result<ShareGroupDescription>>> {
        let items = group_set(groups);
        let client = &self.client;
        let call = Call::at_group_coordinators(
            client,
            "ShareGroupDescribe",
            ApiKey::ShareGroupDescribe,
            options.timeout_value(),
        );
        Ok(call
            .run_for_groups(items, |conn, batch| {
                describe_at(conn, batch.into_iter().map(|(g, ())| g).collect())
            })
            .await)
    }
}
