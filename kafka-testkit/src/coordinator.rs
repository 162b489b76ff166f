//! The scripted fake broker's answers for the coordinator APIs (a group with one
//! member, a transaction coordinator that accepts everything), the error answer for
//! each API errors are injected into (both fake brokers), and the OffsetFetch answer
//! builder every fake broker shares. Answers mirror the request (its topics and
//! partitions), so they are well-formed for whatever the client asked.

use std::collections::BTreeMap;

use kafka_protocol::messages::add_partitions_to_txn_response::{
    AddPartitionsToTxnPartitionResult, AddPartitionsToTxnTopicResult,
};
use kafka_protocol::messages::join_group_response::JoinGroupResponseMember;
use kafka_protocol::messages::leave_group_response::MemberResponse;
use kafka_protocol::messages::offset_commit_response::{
    OffsetCommitResponsePartition, OffsetCommitResponseTopic,
};
use kafka_protocol::messages::offset_fetch_response::{
    OffsetFetchResponseGroup, OffsetFetchResponsePartition, OffsetFetchResponsePartitions,
    OffsetFetchResponseTopic, OffsetFetchResponseTopics,
};
use kafka_protocol::messages::txn_offset_commit_response::{
    TxnOffsetCommitResponsePartition, TxnOffsetCommitResponseTopic,
};
use kafka_protocol::messages::{
    AddOffsetsToTxnResponse, AddPartitionsToTxnRequest, AddPartitionsToTxnResponse, ApiKey,
    BrokerId, EndTxnResponse, FetchResponse, FindCoordinatorResponse, GroupId, HeartbeatResponse,
    InitProducerIdResponse, JoinGroupRequest, JoinGroupResponse, LeaveGroupRequest,
    LeaveGroupResponse, OffsetCommitRequest, OffsetCommitResponse, OffsetFetchRequest,
    OffsetFetchResponse, ProduceResponse, ProducerId, SyncGroupRequest, SyncGroupResponse,
    TopicName, TxnOffsetCommitRequest, TxnOffsetCommitResponse,
};
use kafka_protocol::protocol::{Decodable, StrBytes};

use crate::raw::{Req, fetch, frame, produce_ok};

/// The member id the fake group coordinator gives its only member.
const MEMBER: &str = "fake-member-1";
/// The producer id the fake broker hands out.
pub const PRODUCER_ID: i64 = 4_000;

/// Versions of the coordinator APIs the fake broker advertises.
pub const VERSIONS: &[(ApiKey, i16, i16)] = &[
    (ApiKey::FindCoordinator, 0, 3),
    (ApiKey::InitProducerId, 0, 4),
    (ApiKey::JoinGroup, 0, 7),
    (ApiKey::SyncGroup, 0, 5),
    (ApiKey::Heartbeat, 0, 4),
    (ApiKey::OffsetCommit, 2, 8),
    (ApiKey::OffsetFetch, 1, 7),
    (ApiKey::LeaveGroup, 0, 4),
    (ApiKey::AddPartitionsToTxn, 0, 3),
    (ApiKey::EndTxn, 0, 3),
    (ApiKey::AddOffsetsToTxn, 0, 3),
    (ApiKey::TxnOffsetCommit, 0, 3),
];

fn s(v: &'static str) -> StrBytes {
    StrBytes::from_static_str(v)
}

/// The well-formed answer to a coordinator API, with `code` as its error (0: success);
/// `None` for an API this module does not answer or a request that does not decode.
pub fn answer(req: &Req, code: i16) -> Option<Vec<u8>> {
    let v = req.version;
    let body = &mut req.body.clone();
    Some(match req.api {
        ApiKey::FindCoordinator => frame(
            req,
            &FindCoordinatorResponse::default()
                .with_error_code(code)
                .with_node_id(BrokerId(1))
                .with_host(s("127.0.0.1"))
                .with_port(req.port as i32),
        ),
        ApiKey::InitProducerId => frame(
            req,
            &InitProducerIdResponse::default()
                .with_error_code(code)
                .with_producer_id(ProducerId(PRODUCER_ID))
                .with_producer_epoch(0),
        ),
        ApiKey::JoinGroup => {
            let jr = JoinGroupRequest::decode(body, v).ok()?;
            let first = jr.protocols.first()?;
            let mut r = JoinGroupResponse::default()
                .with_error_code(code)
                .with_generation_id(1)
                .with_protocol_name(Some(first.name.clone()))
                .with_leader(s(MEMBER))
                .with_member_id(s(MEMBER))
                .with_members(vec![
                    JoinGroupResponseMember::default()
                        .with_member_id(s(MEMBER))
                        .with_metadata(first.metadata.clone()),
                ]);
            if v >= 7 {
                r = r.with_protocol_type(Some(jr.protocol_type.clone()));
            }
            frame(req, &r)
        }
        ApiKey::SyncGroup => {
            let sr = SyncGroupRequest::decode(body, v).ok()?;
            let mine = sr.assignments.iter().find(|a| a.member_id == sr.member_id);
            let mut r = SyncGroupResponse::default()
                .with_error_code(code)
                .with_assignment(mine.map(|a| a.assignment.clone()).unwrap_or_default());
            if v >= 5 {
                r = r
                    .with_protocol_type(sr.protocol_type.clone())
                    .with_protocol_name(sr.protocol_name.clone());
            }
            frame(req, &r)
        }
        ApiKey::Heartbeat => frame(req, &HeartbeatResponse::default().with_error_code(code)),
        ApiKey::LeaveGroup => {
            let lr = LeaveGroupRequest::decode(body, v).ok()?;
            let members = lr
                .members
                .iter()
                .map(|m| MemberResponse::default().with_member_id(m.member_id.clone()))
                .collect();
            let mut r = LeaveGroupResponse::default().with_error_code(code);
            if v >= 3 {
                r = r.with_members(members);
            }
            frame(req, &r)
        }
        ApiKey::OffsetCommit => {
            let cr = OffsetCommitRequest::decode(body, v).ok()?;
            let topics = cr
                .topics
                .iter()
                .map(|t| {
                    OffsetCommitResponseTopic::default()
                        .with_name(t.name.clone())
                        .with_partitions(
                            t.partitions
                                .iter()
                                .map(|p| {
                                    OffsetCommitResponsePartition::default()
                                        .with_partition_index(p.partition_index)
                                        .with_error_code(code)
                                })
                                .collect(),
                        )
                })
                .collect();
            frame(req, &OffsetCommitResponse::default().with_topics(topics))
        }
        ApiKey::OffsetFetch => {
            let fr = OffsetFetchRequest::decode(body, v).ok()?;
            let r = offset_fetch_answer(&fr, v, |_, _| {
                if code == 0 {
                    Ok(BTreeMap::new())
                } else {
                    Err(code)
                }
            });
            frame(req, &r)
        }
        ApiKey::AddPartitionsToTxn => {
            let ar = AddPartitionsToTxnRequest::decode(body, v).ok()?;
            frame(req, &add_partitions_answer(&ar, code))
        }
        ApiKey::EndTxn => frame(req, &EndTxnResponse::default().with_error_code(code)),
        ApiKey::AddOffsetsToTxn => frame(
            req,
            &AddOffsetsToTxnResponse::default().with_error_code(code),
        ),
        ApiKey::TxnOffsetCommit => {
            let tr = TxnOffsetCommitRequest::decode(body, v).ok()?;
            frame(req, &txn_offset_commit_answer(&tr, code))
        }
        _ => return None,
    })
}

/// An OffsetFetch's group: its id, the topics and partitions asked for (`None`: all),
/// and the member asking (id, epoch).
type AskedGroup = (
    String,
    Option<Vec<(String, Vec<i32>)>>,
    Option<(String, i32)>,
);

/// The AddPartitionsToTxn answer (v0-v3, one transaction) to `r`: `code` for every
/// partition it names.
pub fn add_partitions_answer(
    r: &AddPartitionsToTxnRequest,
    code: i16,
) -> AddPartitionsToTxnResponse {
    let results = r
        .v3_and_below_topics
        .iter()
        .map(|t| {
            AddPartitionsToTxnTopicResult::default()
                .with_name(t.name.clone())
                .with_results_by_partition(
                    t.partitions
                        .iter()
                        .map(|&p| {
                            AddPartitionsToTxnPartitionResult::default()
                                .with_partition_index(p)
                                .with_partition_error_code(code)
                        })
                        .collect(),
                )
        })
        .collect();
    AddPartitionsToTxnResponse::default().with_results_by_topic_v3_and_below(results)
}

/// The TxnOffsetCommit answer to `r`: `code` for every partition it names.
pub fn txn_offset_commit_answer(r: &TxnOffsetCommitRequest, code: i16) -> TxnOffsetCommitResponse {
    let topics = r
        .topics
        .iter()
        .map(|t| {
            TxnOffsetCommitResponseTopic::default()
                .with_name(t.name.clone())
                .with_partitions(
                    t.partitions
                        .iter()
                        .map(|p| {
                            TxnOffsetCommitResponsePartition::default()
                                .with_partition_index(p.partition_index)
                                .with_error_code(code)
                        })
                        .collect(),
                )
        })
        .collect();
    TxnOffsetCommitResponse::default().with_topics(topics)
}

/// A group's committed offsets: (topic, partition) → offset.
pub type GroupOffsets = BTreeMap<(String, i32), i64>;

/// The OffsetFetch answer to `r` (at `version`: one group at top level before v8, a
/// list of groups from v8) with each group's offsets from `offsets(group, member)`
/// (`member`: the member id and epoch a v9 request names), or the group's error code.
/// Partitions asked for and not committed answer -1; a request naming no topics gets
/// every committed partition of the group.
pub fn offset_fetch_answer(
    r: &OffsetFetchRequest,
    version: i16,
    mut offsets: impl FnMut(&str, Option<(&str, i32)>) -> Result<GroupOffsets, i16>,
) -> OffsetFetchResponse {
    // (asked topics or None for all) per group, with the member.
    let groups: Vec<AskedGroup> = if version >= 8 {
        r.groups
            .iter()
            .map(|g| {
                let topics = g.topics.as_ref().map(|ts| {
                    ts.iter()
                        .map(|t| (t.name.to_string(), t.partition_indexes.clone()))
                        .collect()
                });
                let member = g
                    .member_id
                    .as_ref()
                    .map(|m| (m.to_string(), g.member_epoch));
                (g.group_id.to_string(), topics, member)
            })
            .collect()
    } else {
        let topics = r.topics.as_ref().map(|ts| {
            ts.iter()
                .map(|t| (t.name.to_string(), t.partition_indexes.clone()))
                .collect()
        });
        vec![(r.group_id.to_string(), topics, None)]
    };
    let mut answers = Vec::new();
    for (group, asked, member) in groups {
        let found = offsets(&group, member.as_ref().map(|(m, e)| (m.as_str(), *e)));
        let rows: Vec<(String, Vec<(i32, i64)>)> = match (&found, asked) {
            (Err(_), _) => Vec::new(),
            (Ok(all), Some(asked)) => asked
                .into_iter()
                .map(|(t, ps)| {
                    let row = ps
                        .iter()
                        .map(|&p| (p, all.get(&(t.clone(), p)).copied().unwrap_or(-1)))
                        .collect();
                    (t, row)
                })
                .collect(),
            (Ok(all), None) => {
                let mut by: BTreeMap<String, Vec<(i32, i64)>> = BTreeMap::new();
                for ((t, p), o) in all {
                    by.entry(t.clone()).or_default().push((*p, *o));
                }
                by.into_iter().collect()
            }
        };
        answers.push((group, found.err().unwrap_or(0), rows));
    }
    if version >= 8 {
        let groups = answers
            .into_iter()
            .map(|(g, code, rows)| {
                OffsetFetchResponseGroup::default()
                    .with_group_id(GroupId(StrBytes::from_string(g)))
                    .with_error_code(code)
                    .with_topics(
                        rows.into_iter()
                            .map(|(t, ps)| {
                                OffsetFetchResponseTopics::default()
                                    .with_name(TopicName(StrBytes::from_string(t)))
                                    .with_partitions(
                                        ps.into_iter()
                                            .map(|(p, o)| {
                                                OffsetFetchResponsePartitions::default()
                                                    .with_partition_index(p)
                                                    .with_committed_offset(o)
                                                    .with_metadata(Some(s("")))
                                            })
                                            .collect(),
                                    )
                            })
                            .collect(),
                    )
            })
            .collect();
        return OffsetFetchResponse::default().with_groups(groups);
    }
    let (_, code, rows) = answers.pop().unwrap_or_default();
    OffsetFetchResponse::default()
        .with_error_code(code)
        .with_topics(
            rows.into_iter()
                .map(|(t, ps)| {
                    OffsetFetchResponseTopic::default()
                        .with_name(TopicName(StrBytes::from_string(t)))
                        .with_partitions(
                            ps.into_iter()
                                .map(|(p, o)| {
                                    OffsetFetchResponsePartition::default()
                                        .with_partition_index(p)
                                        .with_committed_offset(o)
                                        .with_metadata(Some(s("")))
                                })
                                .collect(),
                        )
                })
                .collect(),
        )
}

/// An answer to `req` carrying `code`: for Produce and Fetch every partition fails
/// with it, for the coordinator APIs (FindCoordinator, JoinGroup, OffsetCommit, EndTxn, ...)
/// it is the top-level (or per-partition) error of their answer.
///
/// # Panics
/// For an API without an error answer here (Metadata, ApiVersions, ListOffsets, ...), or
/// a request that does not decode.
pub fn error_answer(req: &Req, code: i16) -> Vec<u8> {
    match req.api {
        ApiKey::Produce => {
            let mut r: ProduceResponse = produce_ok(req);
            for t in &mut r.responses {
                for p in &mut t.partition_responses {
                    p.error_code = code;
                    p.base_offset = -1;
                }
            }
            frame(req, &r)
        }
        ApiKey::Fetch => {
            let mut r: FetchResponse = fetch(req, |_, _| bytes::Bytes::new());
            for t in &mut r.responses {
                for p in &mut t.partitions {
                    p.error_code = code;
                }
            }
            frame(req, &r)
        }
        _ => answer(req, code).unwrap_or_else(|| panic!("no error answer for {:?}", req.api)),
    }
}
