//! Heartbeats: what the group task sends every `heartbeat.interval` while the member is
//! in a generation, independent of how often the application polls, and what each
//! answer means for the member.

use kafka_protocol::messages::{ApiKey, GroupId, HeartbeatRequest};
use kafka_protocol::protocol::{StrBytes, VersionRange};

use crate::error::{Error, ErrorCode, ErrorContext, Result};

use crate::ops::CoordinatorLink;

/// What a heartbeat answer asks the member to do.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum HeartbeatOutcome {
    /// All well.
    Ok,
    /// The group is rebalancing: rejoin (keeping the member id).
    Rejoin,
    /// The member's generation is gone (ILLEGAL_GENERATION, or UNKNOWN_MEMBER_ID when
    /// `reset_member` is set): its partitions are lost; rejoin.
    Lost { reset_member: bool },
    /// The coordinator moved or could not be reached: rediscover and try again.
    Retry,
}

/// Sends one heartbeat and classifies the answer. Fatal errors (a fenced static member,
/// authorization) come back as `Err`.
pub(crate) async fn heartbeat(
    link: &CoordinatorLink,
    generation: i32,
    member_id: &str,
    instance_id: Option<&str>,
) -> Result<HeartbeatOutcome> {
    let conn = match link.connection().await {
        Ok(c) => c,
        Err(e) if e.is_retriable() || matches!(e, Error::Deadline { .. }) => {
            return Ok(HeartbeatOutcome::Retry);
        }
        Err(e) => return Err(e),
    };
    let version = conn.negotiate::<HeartbeatRequest>(VersionRange { min: 0, max: 4 })?;
    let req = HeartbeatRequest::default()
        .with_group_id(GroupId(StrBytes::from_string(link.group_id.clone())))
        .with_generation_id(generation)
        .with_member_id(StrBytes::from_string(member_id.to_string()))
        .with_group_instance_id(if version >= 3 {
            instance_id.map(|s| StrBytes::from_string(s.to_string()))
        } else {
            None
        });
    let resp = match conn
        .request_at(&req, version, link.client.config().request_timeout())
        .await
    {
        Ok(r) => r,
        Err(e) if e.is_retriable() => {
            link.invalidate();
            return Ok(HeartbeatOutcome::Retry);
        }
        Err(e) => return Err(e),
    };
    Ok(match ErrorCode::from_code(resp.error_code) {
        None => HeartbeatOutcome::Ok,
        Some(ErrorCode::REBALANCE_IN_PROGRESS) => HeartbeatOutcome::Rejoin,
        Some(ErrorCode::ILLEGAL_GENERATION) => HeartbeatOutcome::Lost {
            reset_member: false,
        },
        Some(ErrorCode::UNKNOWN_MEMBER_ID) => HeartbeatOutcome::Lost { reset_member: true },
        Some(ErrorCode::NOT_COORDINATOR | ErrorCode::COORDINATOR_NOT_AVAILABLE) => {
            link.invalidate();
            HeartbeatOutcome::Retry
        }
        Some(code) if code.is_retriable() => HeartbeatOutcome::Retry,
        Some(code) => {
            return Err(Error::broker(
                code,
                ErrorContext::broker(conn.broker_id(), conn.address())
                    .with_api(ApiKey::Heartbeat)
                    .with_resource(link.group_id.clone()),
                None,
            ));
        }
    })
}
