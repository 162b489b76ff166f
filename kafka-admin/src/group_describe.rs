//! Describe consumer groups at their coordinators, as the Java admin client does:
//! ConsumerGroupDescribe first (groups of the KIP-848 consumer protocol), then
//! DescribeGroups for the groups it does not know (classic groups, decoding each member's
//! consumer-protocol subscription and assignment bytes).

use std::collections::BTreeMap;

use kafka_client::lowlevel::Connection;
use kafka_client::{Error, ErrorCode, Result};
use kafka_protocol::messages::consumer_group_describe_response::{
    self as cgd, DescribedGroup as NewGroup,
};
use kafka_protocol::messages::describe_groups_response::{DescribedGroup, DescribedGroupMember};
use kafka_protocol::messages::{
    ApiKey, ConsumerGroupDescribeRequest, DescribeGroupsRequest, GroupId,
};

use crate::admin::{Admin, check_item, context, wire_str};
use crate::assignment::{
    MemberAssignment, MemberSubscription, decode_assignment, decode_subscription,
};
use crate::driver::Call;
use crate::group_types::{ConsumerGroupDescription, GroupState, GroupType, MemberDescription};
use crate::groups::{GroupsOptions, group_set};
use crate::types::TopicPartition;
use kafka_client::lowlevel::consumer_protocol::MalformedProtocolData;

type Described = (String, Result<ConsumerGroupDescription>);

fn classic_member(
    m: DescribedGroupMember,
    consumer: bool,
) -> std::result::Result<MemberDescription, MalformedProtocolData> {
    let (assignment, subscription) = if consumer {
        (
            decode_assignment(&m.member_assignment)?,
            Some(decode_subscription(&m.member_metadata)?),
        )
    } else {
        (MemberAssignment::default(), None)
    };
    Ok(MemberDescription {
        member_id: m.member_id.to_string(),
        group_instance_id: m.group_instance_id.map(|i| i.to_string()),
        client_id: m.client_id.to_string(),
        host: m.client_host.to_string(),
        assignment,
        subscription,
        member_epoch: None,
        target_assignment: None,
        subscribed_regex: None,
        classic_member: None,
    })
}

fn classic_group(g: DescribedGroup, conn: &Connection) -> Described {
    let group_id = g.group_id.0.to_string();
    let ctx = || context(ApiKey::DescribeGroups, &group_id);
    if let Err(e) = check_item(g.error_code, ctx, g.error_message.as_ref()) {
        return (group_id, Err(e));
    }
    let state = GroupState::parse(&g.group_state);
    if state == GroupState::Dead && g.members.is_empty() {
        // Brokers before DescribeGroups v6 describe a missing group as Dead, without error.
        let e = Error::broker(ErrorCode::GROUP_ID_NOT_FOUND, ctx(), None);
        return (group_id, Err(e));
    }
    let protocol_type = g.protocol_type.to_string();
    let consumer = protocol_type == "consumer";
    let members: std::result::Result<Vec<_>, MalformedProtocolData> = g
        .members
        .into_iter()
        .map(|m| classic_member(m, consumer))
        .collect();
    let result = match members {
        Err(e) => Err(Error::Protocol {
            context: ctx(),
            message: format!("a member's {e}"),
        }),
        Ok(members) => Ok(ConsumerGroupDescription {
            group_id: group_id.clone(),
            group_type: GroupType::Classic,
            is_simple_consumer_group: protocol_type.is_empty(),
            protocol_type,
            assignor: g.protocol_data.to_string(),
            state,
            members,
            group_epoch: None,
            assignment_epoch: None,
            coordinator: conn.broker_id().unwrap_or(-1),
            coordinator_address: conn.address().to_string(),
        }),
    };
    (group_id, result)
}

fn partitions(a: &cgd::Assignment) -> MemberAssignment {
    MemberAssignment {
        partitions: a
            .topic_partitions
            .iter()
            .flat_map(|t| {
                let topic = t.topic_name.0.to_string();
                t.partitions
                    .iter()
                    .map(move |p| TopicPartition::new(topic.clone(), *p))
            })
            .collect(),
        user_data: None,
    }
}

fn consumer_group(g: NewGroup, conn: &Connection) -> Described {
    let group_id = g.group_id.0.to_string();
    let ctx = || context(ApiKey::ConsumerGroupDescribe, &group_id);
    if let Err(e) = check_item(g.error_code, ctx, g.error_message.as_ref()) {
        return (group_id, Err(e));
    }
    let members = g
        .members
        .into_iter()
        .map(|m| MemberDescription {
            assignment: partitions(&m.assignment),
            subscription: Some(MemberSubscription {
                topics: m
                    .subscribed_topic_names
                    .iter()
                    .map(|t| t.0.to_string())
                    .collect(),
                owned_partitions: Default::default(),
                rack: m.rack_id.map(|r| r.to_string()),
            }),
            member_epoch: Some(m.member_epoch),
            target_assignment: Some(partitions(&m.target_assignment)),
            subscribed_regex: m.subscribed_topic_regex.map(|r| r.to_string()),
            // MemberType (v1): 0 classic, 1 consumer, -1 unknown.
            classic_member: match m.member_type {
                0 => Some(true),
                1 => Some(false),
                _ => None,
            },
            member_id: m.member_id.to_string(),
            group_instance_id: m.instance_id.map(|i| i.to_string()),
            client_id: m.client_id.to_string(),
            host: m.client_host.to_string(),
        })
        .collect();
    let description = ConsumerGroupDescription {
        group_id: group_id.clone(),
        group_type: GroupType::Consumer,
        is_simple_consumer_group: false,
        protocol_type: "consumer".into(),
        assignor: g.assignor_name.to_string(),
        state: GroupState::parse(&g.group_state),
        members,
        group_epoch: Some(g.group_epoch),
        assignment_epoch: Some(g.assignment_epoch),
        coordinator: conn.broker_id().unwrap_or(-1),
        coordinator_address: conn.address().to_string(),
    };
    (group_id, Ok(description))
}

/// Describes `groups` at the coordinator behind `conn`.
async fn describe_at(conn: Connection, groups: Vec<String>) -> Result<Vec<Described>> {
    let mut out = Vec::new();
    let mut classic = groups;
    if conn
        .versions()
        .range(ApiKey::ConsumerGroupDescribe)
        .is_some()
    {
        let req = ConsumerGroupDescribeRequest::default()
            .with_group_ids(classic.iter().map(|g| GroupId(wire_str(g))).collect());
        let resp = conn.request(&req).await?;
        classic.clear();
        for g in resp.groups {
            // GROUP_ID_NOT_FOUND here means "not a consumer-protocol group": it may be a
            // classic one. UNSUPPORTED_VERSION is a broker that advertises the API with
            // the new protocol switched off (Kafka 3.9's default): ask DescribeGroups, as
            // the Java admin client does.
            if g.error_code == ErrorCode::GROUP_ID_NOT_FOUND.code()
                || g.error_code == ErrorCode::UNSUPPORTED_VERSION.code()
            {
                classic.push(g.group_id.0.to_string());
            } else {
                out.push(consumer_group(g, &conn));
            }
        }
    }
    if !classic.is_empty() {
        let req = DescribeGroupsRequest::default()
            .with_groups(classic.iter().map(|g| GroupId(wire_str(g))).collect());
        let resp = conn.request(&req).await?;
        out.extend(resp.groups.into_iter().map(|g| classic_group(g, &conn)));
    }
    Ok(out)
}

impl Admin {
    /// Describes consumer groups at their coordinators: type, state, assignor, and members
    /// with their client id, host, subscription and assignment (for classic groups decoded
    /// from the consumer protocol's bytes). A group that does not exist gets
    /// GROUP_ID_NOT_FOUND.
    ///
    /// # Cancel safety
    /// Cancel-safe: read-only, and the admin client holds no state a dropped call could
    /// leave behind. Dropping it changes nothing; the next call works.
    pub async fn describe_consumer_groups<S: AsRef<str>>(
        &self,
        groups: impl IntoIterator<Item = S>,
        options: GroupsOptions,
    ) -> Result<BTreeMap<String, Result<ConsumerGroupDescription>>> {
        let items = group_set(groups);
        let client = &self.client;
        let call = Call::at_group_coordinators(
            client,
            "DescribeGroups",
            ApiKey::DescribeGroups,
            options.timeout_value(),
        );
        Ok(call
            .run_for_groups(items, |conn, batch| {
                describe_at(conn, batch.into_iter().map(|(g, ())| g).collect())
            })
            .await)
    }
}
