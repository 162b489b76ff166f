//! The rebalance protocol's requests: JoinGroup (with the member-id-required retry),
//! SyncGroup (the leader runs the assignor first) and LeaveGroup.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use bytes::Bytes;
use kafka_protocol::messages::join_group_request::JoinGroupRequestProtocol;
use kafka_protocol::messages::leave_group_request::MemberIdentity;
use kafka_protocol::messages::sync_group_request::SyncGroupRequestAssignment;
use kafka_protocol::messages::{
    ApiKey, GroupId, JoinGroupRequest, JoinGroupResponse, LeaveGroupRequest, SyncGroupRequest,
};
use kafka_protocol::protocol::{StrBytes, VersionRange};

use crate::client::Client;
use crate::consumer::builder::{AssignmentStrategy, ConsumerConfig};
use crate::error::{Error, ErrorCode, ErrorContext, Result};
use crate::types::TopicPartition;

use super::assignor::{self, Member};
use crate::ops::CoordinatorLink;
use crate::ops::consumer_protocol;

fn s(v: &str) -> StrBytes {
    StrBytes::from_string(v.to_string())
}

/// A JoinGroup answer we go on with.
#[derive(Debug)]
pub(crate) struct Joined {
    pub generation: i32,
    pub member_id: String,
    pub protocol: AssignmentStrategy,
    /// The members with their subscriptions, when we lead (and must assign).
    pub leader_members: Option<Vec<Member>>,
}

/// Why a join round did not complete.
#[derive(Debug)]
pub(crate) enum JoinError {
    /// Try again at once with this member id (MEMBER_ID_REQUIRED, UNKNOWN_MEMBER_ID).
    RetryWithMember(String),
    /// Try again after a backoff (coordinator moved, rebalance in progress, load).
    Retry(Error),
    /// Give up: the consumer cannot be a member (fenced, unauthorized, bad config).
    Fatal(Error),
}

fn classify(code: ErrorCode, ctx: ErrorContext, link: &CoordinatorLink) -> JoinError {
    let e = Error::broker(code, ctx, None);
    match code {
        ErrorCode::NOT_COORDINATOR | ErrorCode::COORDINATOR_NOT_AVAILABLE => {
            link.invalidate();
            JoinError::Retry(e)
        }
        ErrorCode::UNKNOWN_MEMBER_ID => JoinError::RetryWithMember(String::new()),
        ErrorCode::ILLEGAL_GENERATION | ErrorCode::REBALANCE_IN_PROGRESS => JoinError::Retry(e),
        c if c.is_retriable_for_membership() => JoinError::Retry(e),
        _ => JoinError::Fatal(e),
    }
}

fn transport_error(e: Error, link: &CoordinatorLink) -> JoinError {
    if CoordinatorLink::is_coordinator_error(&e) {
        link.invalidate();
    }
    if e.is_retriable() || matches!(e, Error::Deadline { .. }) {
        JoinError::Retry(e)
    } else {
        JoinError::Fatal(e)
    }
}

/// One JoinGroup request.
pub(crate) async fn join_group(
    link: &CoordinatorLink,
    config: &ConsumerConfig,
    member_id: &str,
    topics: &BTreeSet<String>,
    owned: &[TopicPartition],
    generation: i32,
) -> std::result::Result<Joined, JoinError> {
    let conn = link
        .connection()
        .await
        .map_err(|e| transport_error(e, link))?;
    let version = conn
        .negotiate::<JoinGroupRequest>(VersionRange { min: 0, max: 9 })
        .map_err(JoinError::Fatal)?;
    let protocols = config
        .strategies
        .iter()
        .map(|st| {
            // Eager members own nothing when they join: they revoked everything first.
            let (owned, user_data) = if st.is_cooperative() {
                (owned, Some(consumer_protocol::sticky_user_data(generation)))
            } else {
                (&[][..], None)
            };
            JoinGroupRequestProtocol::default()
                .with_name(s(st.name()))
                .with_metadata(consumer_protocol::encode_subscription(
                    topics, user_data, owned, generation,
                ))
        })
        .collect();
    let req = JoinGroupRequest::default()
        .with_group_id(GroupId(s(&link.group_id)))
        .with_session_timeout_ms(config.session_timeout.as_millis() as i32)
        .with_rebalance_timeout_ms(config.max_poll_interval.as_millis() as i32)
        .with_member_id(s(member_id))
        .with_group_instance_id(if version >= 5 {
            config.group_instance_id.as_deref().map(s)
        } else {
            None
        })
        .with_protocol_type(s("consumer"))
        .with_protocols(protocols);
    // The broker holds JoinGroup until every member joined, up to the rebalance timeout.
    let timeout = config.max_poll_interval + Duration::from_secs(5);
    let resp: JoinGroupResponse = conn
        .request_at(
            &req,
            version,
            timeout.max(link.client.config().request_timeout()),
        )
        .await
        .map_err(|e| transport_error(e, link))?;
    let ctx = || {
        ErrorContext::broker(conn.broker_id(), conn.address())
            .with_api(ApiKey::JoinGroup)
            .with_resource(link.group_id.clone())
    };
    match ErrorCode::from_code(resp.error_code) {
        None => {}
        Some(ErrorCode::MEMBER_ID_REQUIRED) => {
            return Err(JoinError::RetryWithMember(resp.member_id.to_string()));
        }
        Some(code) => return Err(classify(code, ctx(), link)),
    }
    let name = resp.protocol_name.as_deref().unwrap_or("");
    let protocol = AssignmentStrategy::from_name(name).ok_or_else(|| {
        JoinError::Fatal(Error::Protocol {
            context: ctx(),
            message: format!("the group chose protocol {name:?}, which this member did not offer"),
        })
    })?;
    let member_id = resp.member_id.to_string();
    let leads = resp.leader.as_str() == member_id && !resp.skip_assignment;
    let leader_members = if leads {
        let mut members = Vec::with_capacity(resp.members.len());
        for m in &resp.members {
            let subscription =
                consumer_protocol::decode_subscription(m.metadata.clone()).map_err(|e| {
                    JoinError::Fatal(Error::Protocol {
                        context: ctx(),
                        message: format!("member {}: {e}", m.member_id.as_str()),
                    })
                })?;
            members.push(Member {
                id: m.member_id.to_string(),
                instance_id: m.group_instance_id.as_ref().map(|i| i.to_string()),
                subscription,
            });
        }
        Some(members)
    } else {
        None
    };
    Ok(Joined {
        generation: resp.generation_id,
        member_id,
        protocol,
        leader_members,
    })
}

/// Runs the assignor for the members (the leader's job): partition counts come from
/// fresh metadata; topics that do not exist are left out.
pub(crate) async fn leader_plan(
    client: &Client,
    protocol: AssignmentStrategy,
    members: &[Member],
) -> Result<(BTreeMap<String, Vec<TopicPartition>>, BTreeMap<String, i32>)> {
    let topics: BTreeSet<&str> = members
        .iter()
        .flat_map(|m| m.subscription.topics.iter().map(String::as_str))
        .collect();
    let list: Vec<&str> = topics.into_iter().collect();
    let meta = client.refresh_topics(&list).await?;
    let counts: BTreeMap<String, i32> = list
        .iter()
        .filter_map(|t| {
            meta.topic(t)
                .map(|i| (t.to_string(), i.partitions.len() as i32))
        })
        .collect();
    Ok((assignor::assign(protocol, members, &counts), counts))
}

/// One SyncGroup request; returns our assignment.
pub(crate) async fn sync_group(
    link: &CoordinatorLink,
    config: &ConsumerConfig,
    joined: &Joined,
    plan: Option<&BTreeMap<String, Vec<TopicPartition>>>,
) -> std::result::Result<Vec<TopicPartition>, JoinError> {
    let conn = link
        .connection()
        .await
        .map_err(|e| transport_error(e, link))?;
    let version = conn
        .negotiate::<SyncGroupRequest>(VersionRange { min: 0, max: 5 })
        .map_err(JoinError::Fatal)?;
    let assignments = plan
        .map(|p| {
            p.iter()
                .map(|(member, parts)| {
                    SyncGroupRequestAssignment::default()
                        .with_member_id(s(member))
                        .with_assignment(consumer_protocol::encode_assignment(parts))
                })
                .collect()
        })
        .unwrap_or_default();
    let req = SyncGroupRequest::default()
        .with_group_id(GroupId(s(&link.group_id)))
        .with_generation_id(joined.generation)
        .with_member_id(s(&joined.member_id))
        .with_group_instance_id(if version >= 3 {
            config.group_instance_id.as_deref().map(s)
        } else {
            None
        })
        .with_protocol_type(if version >= 5 {
            Some(s("consumer"))
        } else {
            None
        })
        .with_protocol_name(if version >= 5 {
            Some(s(joined.protocol.name()))
        } else {
            None
        })
        .with_assignments(assignments);
    let timeout = config.max_poll_interval + Duration::from_secs(5);
    let resp = conn
        .request_at(
            &req,
            version,
            timeout.max(link.client.config().request_timeout()),
        )
        .await
        .map_err(|e| transport_error(e, link))?;
    if let Some(code) = ErrorCode::from_code(resp.error_code) {
        let ctx = ErrorContext::broker(conn.broker_id(), conn.address())
            .with_api(ApiKey::SyncGroup)
            .with_resource(link.group_id.clone());
        return Err(classify(code, ctx, link));
    }
    let bytes: Bytes = resp.assignment;
    consumer_protocol::decode_assignment(bytes)
        .map(|a| a.partitions)
        .map_err(|e| {
            JoinError::Fatal(Error::Protocol {
                context: ErrorContext::broker(conn.broker_id(), conn.address())
                    .with_api(ApiKey::SyncGroup),
                message: e.to_string(),
            })
        })
}

/// LeaveGroup for a dynamic member. Best effort: errors are only logged.
pub(crate) async fn leave_group(link: &CoordinatorLink, member_id: &str, reason: &str) {
    let result: Result<()> = async {
        let conn = link.connection().await?;
        let version = conn.negotiate::<LeaveGroupRequest>(VersionRange { min: 0, max: 5 })?;
        let req = if version >= 3 {
            LeaveGroupRequest::default()
                .with_group_id(GroupId(s(&link.group_id)))
                .with_members(vec![
                    MemberIdentity::default()
                        .with_member_id(s(member_id))
                        .with_reason(if version >= 5 { Some(s(reason)) } else { None }),
                ])
        } else {
            LeaveGroupRequest::default()
                .with_group_id(GroupId(s(&link.group_id)))
                .with_member_id(s(member_id))
        };
        let resp = conn
            .request_at(&req, version, link.client.config().request_timeout())
            .await?;
        Error::check(resp.error_code, ErrorContext::default)
    }
    .await;
    if let Err(e) = result {
        tracing::debug!(group = %link.group_id, error = %e, "LeaveGroup failed");
    }
}

#[cfg(test)]
#[path = "../unit_tests/join_errors.rs"]
mod classify_tests;
