//! One ConsumerGroupHeartbeat exchange: the request made of a [`Beat`], its answer
//! read back into an [`Answer`] or an error code. Versions 0-1 (Kafka 4.4 offers no
//! later one); version 1 has the client-made member id and the subscription regex.

use kafka_protocol::messages::consumer_group_heartbeat_request::TopicPartitions;
use kafka_protocol::messages::{ConsumerGroupHeartbeatRequest, GroupId, TopicName};
use kafka_protocol::protocol::{StrBytes, VersionRange};

use super::heartbeat_state::{Answer, Beat, ByTopicId, JOIN_EPOCH};
use crate::error::{Error, ErrorCode, ErrorContext, Result};
use crate::ops::CoordinatorLink;

/// The versions this client speaks.
pub(crate) const VERSIONS: VersionRange = VersionRange { min: 0, max: 1 };

fn s(v: &str) -> StrBytes {
    StrBytes::from_string(v.to_string())
}

/// The request for `beat` at `version`.
pub(crate) fn request(
    group: &str,
    beat: &Beat,
    version: i16,
) -> Result<ConsumerGroupHeartbeatRequest> {
    if version < 1 && beat.regex.is_some() {
        return Err(Error::Config(
            "a regex subscription needs ConsumerGroupHeartbeat v1 (Kafka 4.0 or later)".into(),
        ));
    }
    // Version 0: the coordinator makes the member id when the member joins.
    let member_id = if version < 1 && beat.epoch == JOIN_EPOCH && beat.member_id.is_empty() {
        String::new()
    } else {
        beat.member_id.clone()
    };
    Ok(ConsumerGroupHeartbeatRequest::default()
        .with_group_id(GroupId(s(group)))
        .with_member_id(s(&member_id))
        .with_member_epoch(beat.epoch)
        .with_instance_id(beat.instance_id.as_deref().map(s))
        .with_rack_id(beat.rack.as_deref().map(s))
        .with_rebalance_timeout_ms(beat.rebalance_timeout_ms)
        .with_subscribed_topic_names(
            beat.topics
                .as_ref()
                .map(|ts| ts.iter().map(|t| TopicName(s(t))).collect()),
        )
        .with_subscribed_topic_regex(if version >= 1 {
            beat.regex.as_deref().map(s)
        } else {
            None
        })
        .with_server_assignor(beat.assignor.as_deref().map(s))
        .with_topic_partitions(beat.owned.as_ref().map(to_wire)))
}

fn to_wire(owned: &ByTopicId) -> Vec<TopicPartitions> {
    owned
        .iter()
        .map(|(id, ps)| {
            TopicPartitions::default()
                .with_topic_id(*id)
                .with_partitions(ps.iter().copied().collect())
        })
        .collect()
}

/// The outcome of one exchange: an answer, an error code from the coordinator, or a
/// failure on the way (the request may or may not have arrived).
#[derive(Debug)]
pub(crate) enum Exchange {
    Answer(Answer),
    Code(ErrorCode, Option<String>),
    Failed(Error),
}

/// Sends `beat` to the group's coordinator.
pub(crate) async fn send(link: &CoordinatorLink, beat: &Beat) -> Exchange {
    let conn = match link.connection().await {
        Ok(c) => c,
        Err(e) => return Exchange::Failed(e),
    };
    let version = match conn.negotiate::<ConsumerGroupHeartbeatRequest>(VERSIONS) {
        Ok(v) => v,
        Err(e) => return Exchange::Failed(e),
    };
    let req = match request(&link.group_id, beat, version) {
        Ok(r) => r,
        Err(e) => return Exchange::Failed(e),
    };
    let resp = match conn
        .request_at(&req, version, link.client.config().request_timeout())
        .await
    {
        Ok(r) => r,
        Err(e) => {
            if CoordinatorLink::is_coordinator_error(&e) || e.is_retriable() {
                link.invalidate();
            }
            return Exchange::Failed(e);
        }
    };
    if let Some(code) = ErrorCode::from_code(resp.error_code) {
        if matches!(
            code,
            ErrorCode::NOT_COORDINATOR | ErrorCode::COORDINATOR_NOT_AVAILABLE
        ) {
            link.invalidate();
        }
        return Exchange::Code(code, resp.error_message.map(|m| m.to_string()));
    }
    let assignment = resp.assignment.map(|a| {
        let mut out = ByTopicId::new();
        for t in a.topic_partitions {
            out.entry(t.topic_id).or_default().extend(t.partitions);
        }
        out
    });
    Exchange::Answer(Answer {
        member_id: resp.member_id.map(|m| m.to_string()),
        epoch: resp.member_epoch,
        interval_ms: resp.heartbeat_interval_ms,
        assignment,
    })
}

/// The typed error for a fatal code, naming the group.
pub(crate) fn fatal_error(
    link: &CoordinatorLink,
    code: ErrorCode,
    message: Option<String>,
) -> Error {
    Error::broker(
        code,
        ErrorContext::default()
            .with_api(kafka_protocol::messages::ApiKey::ConsumerGroupHeartbeat)
            .with_resource(link.group_id.clone()),
        message,
    )
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    #[test]
    fn the_request_carries_the_beat_and_leaves_unchanged_fields_null() {
        let id = uuid::Uuid::from_u128(7);
        let beat = Beat {
            member_id: "m".into(),
            epoch: 3,
            instance_id: Some("i".into()),
            rack: None,
            rebalance_timeout_ms: -1,
            topics: None,
            regex: None,
            assignor: None,
            owned: Some(ByTopicId::from([(id, BTreeSet::from([2, 0]))])),
        };
        let req = request("g", &beat, 1).expect("valid");
        assert_eq!(req.group_id.0.as_str(), "g");
        assert_eq!((req.member_id.as_str(), req.member_epoch), ("m", 3));
        assert_eq!(req.instance_id.as_ref().map(|s| s.as_str()), Some("i"));
        assert!(req.subscribed_topic_names.is_none() && req.server_assignor.is_none());
        assert_eq!(req.rebalance_timeout_ms, -1);
        let owned = req.topic_partitions.expect("owned sent");
        assert_eq!(owned[0].topic_id, id);
        assert_eq!(owned[0].partitions, vec![0, 2]);
    }

    #[test]
    fn a_regex_needs_version_1() {
        let beat = Beat {
            regex: Some("t.*".into()),
            ..Beat::default()
        };
        let e = request("g", &beat, 0).expect_err("v0 has no regex");
        assert!(e.to_string().contains("regex"), "{e}");
        let req = request("g", &beat, 1).expect("v1");
        assert_eq!(
            req.subscribed_topic_regex.as_ref().map(|s| s.as_str()),
            Some("t.*")
        );
    }
}
