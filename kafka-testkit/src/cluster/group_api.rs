//! The cluster's answers to the KIP-848 and share-group APIs (ConsumerGroupHeartbeat,
//! ShareGroupHeartbeat, ShareFetch, ShareAcknowledge) and the member checks of
//! OffsetCommit and OffsetFetch: decode the request, run the state machine of
//! `crate::groups` at the runtime's current time, encode the answer.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use kafka_client::Uuid;
use kafka_client::lowlevel::consumer_protocol;
use kafka_client::lowlevel::protocol_gen::share_acknowledge_response::{
    PartitionData as AckPartition, ShareAcknowledgeTopicResponse,
};
use kafka_client::lowlevel::protocol_gen::share_fetch_response::{
    AcquiredRecords, LeaderIdAndEpoch, PartitionData as SharePartitionData,
    ShareFetchableTopicResponse,
};
use kafka_client::lowlevel::protocol_gen::share_group_heartbeat_response::{
    Assignment as ShareAssignment, TopicPartitions as ShareTopicPartitions,
};
use kafka_client::lowlevel::protocol_gen::{
    ShareAcknowledgeRequest, ShareAcknowledgeResponse, ShareFetchRequest, ShareFetchResponse,
    ShareGroupHeartbeatRequest, ShareGroupHeartbeatResponse,
};
use kafka_protocol::messages::consumer_group_heartbeat_response::{
    Assignment as WireAssignment, TopicPartitions,
};
use kafka_protocol::messages::{ConsumerGroupHeartbeatRequest, ConsumerGroupHeartbeatResponse};
use kafka_protocol::protocol::{Decodable, StrBytes};
use tokio::time::Instant;

use super::{Inner, NOT_LEADER_OR_FOLLOWER, State};
use crate::groups::GroupTimes;
use crate::groups::assignor::{Assignment, Topics};
use crate::groups::consumer::{Answer, Beat};
use crate::groups::share::IdPartition;
use crate::log::PartitionLog;
use crate::raw::{Req, frame};

const UNKNOWN_TOPIC_ID: i16 = 100;

/// One acknowledgement batch: first offset, last offset, acknowledge types.
type AckBatch = (i64, i64, Vec<i8>);

fn s(v: String) -> StrBytes {
    StrBytes::from_string(v)
}

impl State {
    /// Every topic: name → (id, partitions).
    pub(super) fn topics_view(&self) -> Topics {
        self.topics
            .iter()
            .map(|(n, t)| {
                (
                    n.clone(),
                    (Uuid::from_u128(t.id), t.partitions.len() as i32),
                )
            })
            .collect()
    }

    fn by_id(&self) -> HashMap<Uuid, String> {
        self.topics
            .iter()
            .map(|(n, t)| (Uuid::from_u128(t.id), n.clone()))
            .collect()
    }

    /// Checks a consumer-group member's OffsetCommit or OffsetFetch: `Err(code)` for
    /// an unknown member or a stale epoch of a KIP-848 group; `Ok` for other groups.
    pub(super) fn check_member(
        &mut self,
        group: &str,
        member: &str,
        epoch: i32,
    ) -> Result<(), i16> {
        let topics = self.topics_view();
        if let Some(g) = self.classic_groups.get_mut(group)
            && !g.is_empty()
        {
            return g.validate_commit(member, epoch, Instant::now());
        }
        match self.consumer_groups.get_mut(group) {
            Some(g) if !g.is_empty() || !member.is_empty() => {
                g.validate_member(member, epoch, Instant::now(), &topics)
            }
            _ => Ok(()),
        }
    }
}

/// A ConsumerGroupHeartbeat request's fields, as the coordinator's state machine takes
/// them.
pub fn beat_of(r: &ConsumerGroupHeartbeatRequest) -> Beat {
    Beat {
        member_id: r.member_id.to_string(),
        epoch: r.member_epoch,
        instance_id: r.instance_id.as_ref().map(|i| i.to_string()),
        rebalance_timeout_ms: r.rebalance_timeout_ms,
        topics: r
            .subscribed_topic_names
            .as_ref()
            .map(|ts| ts.iter().map(|t| t.to_string()).collect()),
        regex: r.subscribed_topic_regex.as_ref().map(|x| x.to_string()),
        assignor: r.server_assignor.as_ref().map(|a| a.to_string()),
        owned: r.topic_partitions.as_ref().map(|tps| {
            let mut out = Assignment::new();
            for t in tps {
                out.entry(t.topic_id)
                    .or_default()
                    .extend(t.partitions.iter().copied());
            }
            out
        }),
    }
}

/// The ConsumerGroupHeartbeat answer for the state machine's outcome.
pub fn heartbeat_response(
    answer: Result<Answer, (i16, String)>,
    times: &GroupTimes,
) -> ConsumerGroupHeartbeatResponse {
    match answer {
        Ok(a) => ConsumerGroupHeartbeatResponse::default()
            .with_member_id(Some(s(a.member_id)))
            .with_member_epoch(a.epoch)
            .with_heartbeat_interval_ms(times.heartbeat_interval.as_millis() as i32)
            .with_assignment(a.assignment.map(|a| {
                WireAssignment::default().with_topic_partitions(
                    a.into_iter()
                        .map(|(id, ps)| {
                            TopicPartitions::default()
                                .with_topic_id(id)
                                .with_partitions(ps.into_iter().collect())
                        })
                        .collect(),
                )
            })),
        Err((code, message)) => ConsumerGroupHeartbeatResponse::default()
            .with_error_code(code)
            .with_error_message(Some(s(message))),
    }
}

impl Inner {
    pub(super) fn consumer_group_heartbeat(&self, req: &Req) -> Option<Vec<u8>> {
        let r = ConsumerGroupHeartbeatRequest::decode(&mut req.body.clone(), req.version).ok()?;
        let mut st = self.state();
        let topics = st.topics_view();
        let times = st.times.clone();
        let group = st
            .consumer_groups
            .entry(r.group_id.to_string())
            .or_default();
        let answer = group.heartbeat(beat_of(&r), req.version, &topics, &times, Instant::now());
        Some(frame(req, &heartbeat_response(answer, &times)))
    }

    pub(super) fn share_group_heartbeat(&self, req: &Req) -> Option<Vec<u8>> {
        let r = ShareGroupHeartbeatRequest::decode(&mut req.body.clone(), req.version).ok()?;
        let mut st = self.state();
        let topics = st.topics_view();
        let times = st.times.clone();
        let group = st.share_groups.entry(r.group_id.to_string()).or_default();
        let answer = group.heartbeat(
            r.member_id.as_str(),
            r.member_epoch,
            r.subscribed_topic_names
                .map(|ts| ts.iter().map(|t| t.to_string()).collect()),
            &topics,
            &times,
            Instant::now(),
        );
        let resp = match answer {
            Ok((member, epoch, assignment)) => ShareGroupHeartbeatResponse::default()
                .with_member_id(Some(s(member)))
                .with_member_epoch(epoch)
                .with_heartbeat_interval_ms(times.heartbeat_interval.as_millis() as i32)
                .with_assignment(assignment.map(|a| {
                    ShareAssignment::default().with_topic_partitions(
                        a.into_iter()
                            .map(|(id, ps)| {
                                ShareTopicPartitions::default()
                                    .with_topic_id(id)
                                    .with_partitions(ps.into_iter().collect())
                            })
                            .collect(),
                    )
                })),
            Err((code, message)) => ShareGroupHeartbeatResponse::default()
                .with_error_code(code)
                .with_error_message(Some(s(message))),
        };
        Some(frame(req, &resp))
    }

    pub(super) fn share_fetch(&self, node: i32, req: &Req) -> Option<Vec<u8>> {
        let r = ShareFetchRequest::decode(&mut req.body.clone(), req.version).ok()?;
        let group = r.group_id.as_ref()?.to_string();
        let member = r.member_id.as_ref()?.to_string();
        let added: Vec<IdPartition> = r
            .topics
            .iter()
            .flat_map(|t| t.partitions.iter().map(|p| (t.topic_id, p.partition_index)))
            .collect();
        let forgotten: Vec<IdPartition> = r
            .forgotten_topics_data
            .iter()
            .flat_map(|t| t.partitions.iter().map(|p| (t.topic_id, *p)))
            .collect();
        let acks: Vec<(IdPartition, Vec<AckBatch>)> = r
            .topics
            .iter()
            .flat_map(|t| {
                t.partitions.iter().map(|p| {
                    let batches = p
                        .acknowledgement_batches
                        .iter()
                        .map(|b| (b.first_offset, b.last_offset, b.acknowledge_types.clone()))
                        .collect();
                    ((t.topic_id, p.partition_index), batches)
                })
            })
            .filter(|(_, b): &(_, Vec<_>)| !b.is_empty())
            .collect();
        let mut st = self.state();
        let times = st.times.clone();
        let lock_ms = times.lock_timeout.as_millis() as i32;
        let names = st.by_id();
        let now = Instant::now();
        let st = &mut *st;
        let g = st.share_groups.entry(group).or_default();
        let session = match g.session(&member, r.share_session_epoch, &added, &forgotten) {
            Ok(s) => s,
            Err(code) => {
                return Some(frame(
                    req,
                    &ShareFetchResponse::default()
                        .with_error_code(code)
                        .with_acquisition_lock_timeout_ms(lock_ms),
                ));
            }
        };
        let mut out: BTreeMap<IdPartition, SharePartitionData> = BTreeMap::new();
        let entry = |out: &mut BTreeMap<IdPartition, SharePartitionData>, tp: IdPartition| {
            out.entry(tp)
                .or_insert_with(|| SharePartitionData::default().with_partition_index(tp.1))
                .clone()
        };
        for (tp, batches) in &acks {
            let code = match served(&st.topics, &names, node, *tp) {
                Err(code) => code,
                Ok(log) => g
                    .acknowledge(&member, *tp, log, batches, &times, now)
                    .err()
                    .unwrap_or(0),
            };
            let p = entry(&mut out, *tp).with_acknowledge_error_code(code);
            out.insert(*tp, p);
        }
        if r.share_session_epoch == -1 {
            g.close_session(&member, &times);
        } else {
            let max_records = if r.max_records > 0 {
                r.max_records as usize
            } else {
                500
            };
            let mut left = max_records;
            for tp in session {
                let p = entry(&mut out, tp);
                let p = match served(&st.topics, &names, node, tp) {
                    Err(code) => p.with_error_code(code),
                    Ok(log) if left > 0 => {
                        let got = g.acquire(&member, tp, log, left, &times, now);
                        if got.ranges.is_empty() {
                            out.remove(&tp);
                            continue;
                        }
                        let n: i64 = got.ranges.iter().map(|(f, l, _)| l - f + 1).sum();
                        left = left.saturating_sub(n as usize);
                        p.with_records(Some(got.records)).with_acquired_records(
                            got.ranges
                                .into_iter()
                                .map(|(f, l, c)| {
                                    AcquiredRecords::default()
                                        .with_first_offset(f)
                                        .with_last_offset(l)
                                        .with_delivery_count(c)
                                })
                                .collect(),
                        )
                    }
                    Ok(_) => {
                        out.remove(&tp);
                        continue;
                    }
                };
                out.insert(tp, p);
            }
        }
        let responses = by_topic(out, |id, parts| {
            ShareFetchableTopicResponse::default()
                .with_topic_id(id)
                .with_partitions(
                    parts
                        .into_iter()
                        .map(|p| {
                            p.with_current_leader(
                                LeaderIdAndEpoch::default()
                                    .with_leader_id(node)
                                    .with_leader_epoch(0),
                            )
                        })
                        .collect(),
                )
        });
        Some(frame(
            req,
            &ShareFetchResponse::default()
                .with_acquisition_lock_timeout_ms(lock_ms)
                .with_responses(responses),
        ))
    }

    pub(super) fn share_acknowledge(&self, node: i32, req: &Req) -> Option<Vec<u8>> {
        let r = ShareAcknowledgeRequest::decode(&mut req.body.clone(), req.version).ok()?;
        let group = r.group_id.as_ref()?.to_string();
        let member = r.member_id.as_ref()?.to_string();
        let mut st = self.state();
        let times = st.times.clone();
        let lock_ms = times.lock_timeout.as_millis() as i32;
        let names = st.by_id();
        let now = Instant::now();
        let st = &mut *st;
        let g = st.share_groups.entry(group).or_default();
        if r.share_session_epoch == 0 {
            return Some(frame(
                req,
                &ShareAcknowledgeResponse::default()
                    .with_error_code(crate::groups::consumer::INVALID_REQUEST)
                    .with_error_message(Some(s(
                        "ShareAcknowledge cannot open a share session".into()
                    ))),
            ));
        }
        if let Err(code) = g.session(&member, r.share_session_epoch, &[], &[]) {
            return Some(frame(
                req,
                &ShareAcknowledgeResponse::default()
                    .with_error_code(code)
                    .with_acquisition_lock_timeout_ms(lock_ms),
            ));
        }
        let mut out: BTreeMap<IdPartition, AckPartition> = BTreeMap::new();
        for t in &r.topics {
            for p in &t.partitions {
                let tp = (t.topic_id, p.partition_index);
                let batches: Vec<AckBatch> = p
                    .acknowledgement_batches
                    .iter()
                    .map(|b| (b.first_offset, b.last_offset, b.acknowledge_types.clone()))
                    .collect();
                let code = match served(&st.topics, &names, node, tp) {
                    Err(code) => code,
                    Ok(log) => g
                        .acknowledge(&member, tp, log, &batches, &times, now)
                        .err()
                        .unwrap_or(0),
                };
                out.insert(
                    tp,
                    AckPartition::default()
                        .with_partition_index(tp.1)
                        .with_error_code(code),
                );
            }
        }
        if r.share_session_epoch == -1 {
            g.close_session(&member, &times);
        }
        let responses = by_topic(out, |id, parts| {
            ShareAcknowledgeTopicResponse::default()
                .with_topic_id(id)
                .with_partitions(parts)
        });
        Some(frame(
            req,
            &ShareAcknowledgeResponse::default()
                .with_acquisition_lock_timeout_ms(lock_ms)
                .with_responses(responses),
        ))
    }
}

/// The log of a partition `node` leads, or the partition's error.
fn served<'a>(
    topics: &'a BTreeMap<String, super::Topic>,
    names: &HashMap<Uuid, String>,
    node: i32,
    tp: IdPartition,
) -> Result<&'a PartitionLog, i16> {
    let t = names
        .get(&tp.0)
        .and_then(|n| topics.get(n))
        .ok_or(UNKNOWN_TOPIC_ID)?;
    let p = usize::try_from(tp.1).map_err(|_| UNKNOWN_TOPIC_ID)?;
    let log = t.partitions.get(p).ok_or(UNKNOWN_TOPIC_ID)?;
    if t.leaders.get(p) != Some(&node) {
        return Err(NOT_LEADER_OR_FOLLOWER);
    }
    Ok(log)
}

/// Partitions grouped by topic id, in order.
fn by_topic<P, T>(parts: BTreeMap<IdPartition, P>, topic: impl Fn(Uuid, Vec<P>) -> T) -> Vec<T> {
    let mut grouped: BTreeMap<Uuid, Vec<P>> = BTreeMap::new();
    for ((id, _), p) in parts {
        grouped.entry(id).or_default().push(p);
    }
    grouped.into_iter().map(|(id, ps)| topic(id, ps)).collect()
}

/// The partitions of an assignment as (topic name, partition), for tests to read.
pub(super) fn named(a: &Assignment, names: &HashMap<Uuid, String>) -> BTreeSet<(String, i32)> {
    a.iter()
        .flat_map(|(id, ps)| {
            let n = names.get(id).cloned().unwrap_or_default();
            ps.iter().map(move |p| (n.clone(), *p))
        })
        .collect()
}

impl State {
    /// Whether `group` has finished rebalancing (see `Cluster::group_is_stable`).
    pub(super) fn group_is_stable(&self, group: &str) -> bool {
        if let Some(g) = self.classic_groups.get(group).filter(|g| !g.is_empty()) {
            return g.is_stable();
        }
        self.consumer_groups
            .get(group)
            .is_none_or(|g| g.is_reconciled())
    }

    /// The current assignment of each member of a classic, KIP-848 or share group.
    pub(super) fn group_assignment(
        &self,
        group: &str,
    ) -> BTreeMap<String, BTreeSet<(String, i32)>> {
        if let Some(g) = self.classic_groups.get(group).filter(|g| !g.is_empty()) {
            return g
                .assignments()
                .into_iter()
                .map(|(m, bytes)| {
                    let parts = consumer_protocol::decode_assignment(bytes)
                        .map(|a| {
                            a.partitions
                                .into_iter()
                                .map(|tp| (tp.topic, tp.partition))
                                .collect()
                        })
                        .unwrap_or_default();
                    (m, parts)
                })
                .collect();
        }
        let names = self.by_id();
        let raw = self
            .consumer_groups
            .get(group)
            .map(|g| g.assignments())
            .or_else(|| self.share_groups.get(group).map(|g| g.assignments()))
            .unwrap_or_default();
        raw.iter()
            .map(|(m, a)| (m.clone(), named(a, &names)))
            .collect()
    }
}
