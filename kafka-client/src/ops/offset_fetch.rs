//! OffsetFetch, written once: a group's committed offsets from its coordinator, for the
//! consumer (positions of newly assigned partitions) and kafka-admin
//! (`list_consumer_group_offsets`). Versions 1-9: one group at the top level before v8,
//! the batched `groups` layout from v8; `require_stable` from v7 (a partition whose
//! offsets a transaction is committing answers UNSTABLE_OFFSET_COMMIT, retriable); a
//! consumer-protocol member's id and epoch from v9 (KIP-848: the coordinator checks
//! them, STALE_MEMBER_EPOCH / UNKNOWN_MEMBER_ID when they are not current).

use std::collections::BTreeMap;
use std::time::Duration;

use kafka_protocol::messages::offset_fetch_request::{
    OffsetFetchRequestGroup, OffsetFetchRequestTopic, OffsetFetchRequestTopics,
};
use kafka_protocol::messages::{ApiKey, GroupId, OffsetFetchRequest, TopicName};
use kafka_protocol::protocol::{StrBytes, VersionRange};

use crate::error::{Error, ErrorCode, ErrorContext, Result};
use crate::net::Connection;
use crate::types::{OffsetAndMetadata, TopicPartition};

/// One partition's committed offset (`None`: nothing committed) or its own error.
pub type CommittedOffset = Result<Option<OffsetAndMetadata>>;

fn wire(s: &str) -> StrBytes {
    StrBytes::from_string(s.to_string())
}

fn by_topic(partitions: &[TopicPartition]) -> BTreeMap<&str, Vec<i32>> {
    let mut topics: BTreeMap<&str, Vec<i32>> = BTreeMap::new();
    for tp in partitions {
        topics
            .entry(tp.topic.as_str())
            .or_default()
            .push(tp.partition);
    }
    topics
}

/// A consumer-protocol (KIP-848) group member asking for its group's offsets: OffsetFetch
/// v9 carries its id and epoch, which the coordinator validates (STALE_MEMBER_EPOCH when
/// the epoch is not the member's current one, UNKNOWN_MEMBER_ID when the member is not
/// in the group). Administrators and classic members ask without one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FetchingMember<'a> {
    /// The member id.
    pub member_id: &'a str,
    /// The member epoch.
    pub member_epoch: i32,
}

/// The request for `group` at `version`: `partitions`, or every committed partition
/// when `None`.
fn request(
    group: &str,
    partitions: Option<&[TopicPartition]>,
    require_stable: bool,
    member: Option<FetchingMember<'_>>,
    version: i16,
) -> OffsetFetchRequest {
    let asked = partitions.map(by_topic);
    let mut req = OffsetFetchRequest::default();
    if version >= 8 {
        let topics = asked.as_ref().map(|ts| {
            ts.iter()
                .map(|(t, ps)| {
                    OffsetFetchRequestTopics::default()
                        .with_name(TopicName(wire(t)))
                        .with_partition_indexes(ps.clone())
                })
                .collect()
        });
        let mut g = OffsetFetchRequestGroup::default()
            .with_group_id(GroupId(wire(group)))
            .with_topics(topics);
        if let (Some(m), true) = (member, version >= 9) {
            g = g
                .with_member_id(Some(wire(m.member_id)))
                .with_member_epoch(m.member_epoch);
        }
        req = req.with_groups(vec![g]);
    } else {
        let topics = asked.as_ref().map(|ts| {
            ts.iter()
                .map(|(t, ps)| {
                    OffsetFetchRequestTopic::default()
                        .with_name(TopicName(wire(t)))
                        .with_partition_indexes(ps.clone())
                })
                .collect()
        });
        req = req.with_group_id(GroupId(wire(group))).with_topics(topics);
    }
    if version >= 7 {
        req = req.with_require_stable(require_stable);
    }
    req
}

/// One partition's row as the response gives it.
fn committed(offset: i64, epoch: i32, metadata: Option<&StrBytes>) -> Option<OffsetAndMetadata> {
    (offset >= 0).then(|| OffsetAndMetadata {
        offset,
        metadata: metadata.map(|m| m.to_string()).filter(|m| !m.is_empty()),
        leader_epoch: (epoch >= 0).then_some(epoch),
    })
}

/// Sends one OffsetFetch for `group` on `conn` (its coordinator's connection). Each
/// partition gets its committed offset or its own typed error; with `partitions` given,
/// every one asked for is in the answer (`None` when the broker left it out). `member`:
/// the consumer-protocol member asking (sent from v9; `None` for an administrator or a
/// classic member). The outer error is the group's (NOT_COORDINATOR,
/// GROUP_AUTHORIZATION_FAILED, STALE_MEMBER_EPOCH, ...) or a failed request.
pub async fn offset_fetch_on(
    conn: &Connection,
    group: &str,
    partitions: Option<&[TopicPartition]>,
    require_stable: bool,
    member: Option<FetchingMember<'_>>,
    timeout: Duration,
) -> Result<Vec<(TopicPartition, CommittedOffset)>> {
    let version = conn.negotiate::<OffsetFetchRequest>(VersionRange { min: 1, max: 9 })?;
    let req = request(group, partitions, require_stable, member, version);
    let resp = conn.request_at(&req, version, timeout).await?;
    let ctx = || {
        ErrorContext::broker(conn.broker_id(), conn.address())
            .with_api(ApiKey::OffsetFetch)
            .with_resource(group.to_string())
    };
    let group_error = |code: i16| ErrorCode::from_code(code).map(|c| Error::broker(c, ctx(), None));
    // (topic, partition, error code, offset, leader epoch, metadata) as either layout has it.
    type Row<'a> = (&'a str, i32, i16, i64, i32, Option<&'a StrBytes>);
    // The two layouts' topic types differ (group-level from v8, top-level before) but
    // have the same fields: one reader for both.
    macro_rules! rows_of {
        ($topics:expr) => {
            $topics
                .iter()
                .flat_map(|t| {
                    t.partitions.iter().map(move |p| {
                        (
                            t.name.0.as_str(),
                            p.partition_index,
                            p.error_code,
                            p.committed_offset,
                            p.committed_leader_epoch,
                            p.metadata.as_ref(),
                        )
                    })
                })
                .collect()
        };
    }
    let raw: Vec<Row<'_>> = if version >= 8 {
        let Some(g) = resp.groups.iter().find(|g| g.group_id.0.as_str() == group) else {
            return Err(Error::Protocol {
                context: ctx(),
                message: "the response did not mention the group".into(),
            });
        };
        if let Some(e) = group_error(g.error_code) {
            return Err(e);
        }
        rows_of!(g.topics)
    } else {
        if let Some(e) = group_error(resp.error_code) {
            return Err(e);
        }
        rows_of!(resp.topics)
    };
    let mut rows: Vec<(TopicPartition, CommittedOffset)> = raw
        .into_iter()
        .map(|(topic, partition, code, offset, epoch, meta)| {
            let answer = match ErrorCode::from_code(code) {
                Some(c) => Err(Error::broker(
                    c,
                    ctx()
                        .with_resource(topic.to_string())
                        .with_partition(partition),
                    None,
                )),
                None => Ok(committed(offset, epoch, meta)),
            };
            (TopicPartition::new(topic, partition), answer)
        })
        .collect();
    if let Some(asked) = partitions {
        for tp in asked {
            if !rows.iter().any(|(t, _)| t == tp) {
                rows.push((tp.clone(), Ok(None)));
            }
        }
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_request_layout_follows_the_version() {
        let parts = [TopicPartition::new("b", 1), TopicPartition::new("a", 0)];
        let v7 = request("g", Some(&parts), true, None, 7);
        assert_eq!(v7.group_id.0.as_str(), "g");
        assert!(v7.require_stable);
        let topics = v7.topics.as_ref().expect("asked partitions");
        assert_eq!(topics[0].name.0.as_str(), "a");
        assert_eq!(topics[1].partition_indexes, vec![1]);
        assert!(v7.groups.is_empty());

        let v8 = request("g", None, false, None, 8);
        assert_eq!(v8.groups.len(), 1);
        assert_eq!(v8.groups[0].group_id.0.as_str(), "g");
        assert!(
            v8.groups[0].topics.is_none(),
            "None asks for every partition"
        );
        assert!(!v8.require_stable);

        let v6 = request("g", Some(&parts), true, None, 6);
        assert!(!v6.require_stable, "v6 has no require_stable");
    }

    #[test]
    fn a_consumer_protocol_member_sends_its_id_and_epoch_from_v9() {
        let me = FetchingMember {
            member_id: "m-1",
            member_epoch: 7,
        };
        let v9 = request("g", None, true, Some(me), 9);
        let g = &v9.groups[0];
        assert_eq!(g.member_id.as_ref().map(|m| m.as_str()), Some("m-1"));
        assert_eq!(g.member_epoch, 7);

        let admin = request("g", None, true, None, 9);
        assert_eq!(admin.groups[0].member_id, None, "no member: null id");
        assert_eq!(admin.groups[0].member_epoch, -1, "no member: epoch -1");

        let v8 = request("g", None, true, Some(me), 8);
        assert_eq!(v8.groups[0].member_id, None, "v8 has no member fields");
    }

    #[test]
    fn rows_read_negative_offsets_as_nothing_committed() {
        assert_eq!(committed(-1, 5, None), None);
        let m = StrBytes::from_static_str("");
        let c = committed(10, -1, Some(&m)).expect("committed");
        assert_eq!((c.offset, c.leader_epoch, c.metadata), (10, None, None));
        let m = StrBytes::from_static_str("note");
        let c = committed(10, 3, Some(&m)).expect("committed");
        assert_eq!(
            (c.leader_epoch, c.metadata.as_deref()),
            (Some(3), Some("note"))
        );
    }
}
