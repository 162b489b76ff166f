//! The simulated cluster: brokers that crash and restart, one topic's replicated
//! partitions, the idempotent producers' ids, the group coordinator (which moves), and
//! the broker's answer to each request. Answers that wait (a Produce until the high
//! watermark passes its batch, a JoinGroup until the round completes) wait on tokio's
//! paused clock.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bytes::Bytes;
use kafka_protocol::messages::fetch_response::{
    AbortedTransaction, FetchableTopicResponse, PartitionData,
};
use kafka_protocol::messages::join_group_response::JoinGroupResponseMember;
use kafka_protocol::messages::list_offsets_response::{
    ListOffsetsPartitionResponse, ListOffsetsTopicResponse,
};
use kafka_protocol::messages::metadata_response::{
    MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
};
use kafka_protocol::messages::produce_response::{PartitionProduceResponse, TopicProduceResponse};
use kafka_protocol::messages::{
    AddOffsetsToTxnRequest, AddPartitionsToTxnRequest, ApiKey, BrokerId,
    ConsumerGroupHeartbeatRequest, ConsumerGroupHeartbeatResponse, EndTxnRequest, FetchRequest,
    FetchResponse, FindCoordinatorRequest, FindCoordinatorResponse, HeartbeatRequest,
    InitProducerIdRequest, JoinGroupRequest, JoinGroupResponse, LeaveGroupRequest,
    ListOffsetsRequest, ListOffsetsResponse, MetadataResponse, OffsetCommitRequest,
    OffsetFetchRequest, OffsetFetchResponse, ProduceRequest, ProduceResponse, ProducerId,
    SyncGroupRequest, SyncGroupResponse, TopicName, TxnOffsetCommitRequest,
};
use kafka_protocol::protocol::{Decodable, StrBytes};
use kafka_testkit::raw::{Req, error_answer, frame, offset_fetch_answer};
use tokio::time::Instant;

use crate::group::{Group, JoinStart};
use crate::group848::Kip848;
use crate::replication::{Appended, BROKERS, Partition, code};
use crate::txn::Txns;

/// A topic's id (stable across runs).
pub(crate) fn topic_id(topic: &str) -> kafka_client::Uuid {
    let t = TOPICS.iter().position(|&n| n == topic).unwrap_or(0) as u128;
    kafka_client::Uuid::from_u128(0x5157 + t)
}

/// The topic the idempotent producers write and the group reads.
pub const TOPIC: &str = "sim";
/// The topic the transactional producer writes and the read_committed reader reads.
pub const TXN_TOPIC: &str = "txn";
/// The topics, in the order of their partitions in [`State::partitions`].
pub const TOPICS: [&str; 2] = [TOPIC, TXN_TOPIC];
/// Each topic's partition count.
pub const PARTITIONS: i32 = 3;

/// Where partition `partition` of `topic` is in [`State::partitions`].
pub(crate) fn slot(topic: &str, partition: i32) -> Option<usize> {
    let t = TOPICS.iter().position(|&n| n == topic)?;
    (0..PARTITIONS)
        .contains(&partition)
        .then(|| t * PARTITIONS as usize + partition as usize)
}
/// The one consumer group.
pub const GROUP: &str = "sim-group";
/// Port every simulated broker "listens" on (`broker-<id>:9092`).
pub const PORT: u16 = 9092;

const COORDINATOR_NOT_AVAILABLE: i16 = 15;
const NOT_COORDINATOR: i16 = 16;

/// The API versions the simulated brokers advertise.
const VERSIONS: &[(ApiKey, i16, i16)] = &[
    (ApiKey::ApiVersions, 0, 3),
    (ApiKey::Metadata, 1, 12),
    (ApiKey::Produce, 3, 12),
    (ApiKey::Fetch, 4, 12),
    (ApiKey::ListOffsets, 1, 7),
    (ApiKey::FindCoordinator, 0, 3),
    (ApiKey::InitProducerId, 0, 4),
    (ApiKey::JoinGroup, 0, 7),
    (ApiKey::SyncGroup, 0, 5),
    (ApiKey::Heartbeat, 0, 4),
    (ApiKey::OffsetCommit, 2, 9),
    (ApiKey::OffsetFetch, 1, 9),
    (ApiKey::ConsumerGroupHeartbeat, 0, 1),
    (ApiKey::LeaveGroup, 0, 4),
    (ApiKey::AddPartitionsToTxn, 0, 3),
    (ApiKey::AddOffsetsToTxn, 0, 3),
    (ApiKey::EndTxn, 0, 5),
    (ApiKey::TxnOffsetCommit, 0, 5),
];

/// The whole cluster's state, behind one lock (never held across an await).
#[derive(Debug)]
pub(crate) struct State {
    pub alive: Vec<bool>,
    /// Brokers whose disk is slow: their replicas lag.
    pub slow: Vec<bool>,
    /// Every topic's partitions (see [`slot`]).
    pub partitions: Vec<Partition>,
    /// The group coordinator's broker.
    pub coordinator: i32,
    pub group: Group,
    /// The KIP-848 group (same group id; members of one protocol per run).
    pub consumer_group: Kip848,
    /// The transaction coordinator's broker.
    pub txn_coordinator: i32,
    pub txns: Txns,
    /// Whether the brokers speak transaction protocol v2 (KIP-890).
    pub tv2: bool,
    next_producer_id: i64,
}

/// The cluster, shared by the connections, the fault driver and the checks.
#[derive(Debug, Clone)]
pub(crate) struct Cluster(Arc<Mutex<State>>);

fn name(s: &str) -> TopicName {
    TopicName(StrBytes::from_string(s.to_string()))
}

fn host(broker: i32) -> StrBytes {
    StrBytes::from_string(format!("broker-{broker}"))
}

impl Cluster {
    /// A cluster whose brokers speak transaction protocol v2 when `tv2`.
    pub fn new(tv2: bool) -> Self {
        let count = TOPICS.len() as i32 * PARTITIONS;
        Cluster(Arc::new(Mutex::new(State {
            alive: vec![true; BROKERS as usize],
            slow: vec![false; BROKERS as usize],
            partitions: (0..count)
                .map(|p| Partition::new(p % BROKERS + 1))
                .collect(),
            coordinator: 1,
            group: Group::default(),
            consumer_group: Kip848::default(),
            txn_coordinator: 2,
            txns: Txns {
                v2: tv2,
                ..Txns::default()
            },
            tv2,
            next_producer_id: 1000,
        })))
    }

    pub fn state(&self) -> MutexGuard<'_, State> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn alive(&self, broker: i32) -> bool {
        self.state().alive[(broker - 1) as usize]
    }

    /// One replication round: followers copy their leaders, ISR and high watermarks
    /// move, expired group members leave.
    pub fn tick(&self) {
        let mut st = self.state();
        let (alive, slow) = (st.alive.clone(), st.slow.clone());
        for p in &mut st.partitions {
            p.replicate(&alive, &slow);
        }
        st.group.tick(Instant::now());
        st.consumer_group.tick(Instant::now());
        let State {
            partitions, txns, ..
        } = &mut *st;
        txns.tick(partitions, Instant::now());
    }

    /// The next number of the run's event counter (orders what happens at one
    /// simulated instant).
    pub fn ticket(&self) -> u64 {
        self.state().consumer_group.ticket()
    }

    /// A fresh producer id.
    pub(crate) fn producer_id(st: &mut State) -> i64 {
        st.next_producer_id += 1;
        st.next_producer_id
    }

    /// Broker `node`'s answer to `req` (`None`: the connection closes).
    pub async fn answer(&self, node: i32, req: &Req) -> Option<Vec<u8>> {
        let body = &mut req.body.clone();
        let v = req.version;
        Some(match req.api {
            ApiKey::ApiVersions => {
                let mut r = req.clone();
                r.version = req.version.min(3);
                frame(
                    &r,
                    &crate::txn_api::api_versions(VERSIONS, self.state().tv2),
                )
            }
            ApiKey::Metadata => frame(req, &self.metadata()),
            ApiKey::Produce => {
                let r = ProduceRequest::decode(body, v).ok()?;
                if r.acks == 0 {
                    self.produce(node, r, v).await;
                    return Some(Vec::new());
                }
                frame(req, &self.produce(node, r, v).await)
            }
            ApiKey::Fetch => frame(req, &self.fetch(node, FetchRequest::decode(body, v).ok()?)),
            ApiKey::ListOffsets => frame(
                req,
                &self.list_offsets(node, ListOffsetsRequest::decode(body, v).ok()?),
            ),
            ApiKey::FindCoordinator => {
                let r = FindCoordinatorRequest::decode(body, v).ok()?;
                let st = self.state();
                let c = if r.key_type == 1 {
                    st.txn_coordinator
                } else {
                    st.coordinator
                };
                let up = st.alive[(c - 1) as usize];
                frame(
                    req,
                    &FindCoordinatorResponse::default()
                        .with_error_code(if up { 0 } else { COORDINATOR_NOT_AVAILABLE })
                        .with_node_id(BrokerId(if up { c } else { -1 }))
                        .with_host(host(c))
                        .with_port(i32::from(PORT)),
                )
            }
            ApiKey::InitProducerId => frame(
                req,
                &self.init_producer_id(node, InitProducerIdRequest::decode(body, v).ok()?),
            ),
            ApiKey::AddPartitionsToTxn => frame(
                req,
                &self.add_partitions_to_txn(node, AddPartitionsToTxnRequest::decode(body, v).ok()?),
            ),
            ApiKey::AddOffsetsToTxn => frame(
                req,
                &self.add_offsets_to_txn(node, AddOffsetsToTxnRequest::decode(body, v).ok()?),
            ),
            ApiKey::EndTxn => frame(
                req,
                &self.end_txn(node, EndTxnRequest::decode(body, v).ok()?, v),
            ),
            ApiKey::TxnOffsetCommit => frame(
                req,
                &self.txn_offset_commit(node, TxnOffsetCommitRequest::decode(body, v).ok()?, v),
            ),
            ApiKey::JoinGroup => {
                let r = JoinGroupRequest::decode(body, v).ok()?;
                frame(req, &self.join_group(node, r, v).await)
            }
            ApiKey::SyncGroup => {
                let r = SyncGroupRequest::decode(body, v).ok()?;
                frame(req, &self.sync_group(node, r).await)
            }
            ApiKey::Heartbeat => {
                let r = HeartbeatRequest::decode(body, v).ok()?;
                let code = self.coordinator_error(node).err().unwrap_or_else(|| {
                    self.state()
                        .group
                        .heartbeat(&r.member_id, r.generation_id, Instant::now())
                        .err()
                        .unwrap_or(0)
                });
                error_answer(req, code)
            }
            ApiKey::LeaveGroup => {
                let r = LeaveGroupRequest::decode(body, v).ok()?;
                let code = self.coordinator_error(node).err().unwrap_or(0);
                if code == 0 {
                    let mut st = self.state();
                    let now = Instant::now();
                    st.group.leave(&r.member_id, now);
                    for m in &r.members {
                        st.group.leave(&m.member_id, now);
                    }
                }
                error_answer(req, code)
            }
            ApiKey::ConsumerGroupHeartbeat => {
                let r = ConsumerGroupHeartbeatRequest::decode(body, v).ok()?;
                let resp = match self.coordinator_error(node) {
                    Err(code) => ConsumerGroupHeartbeatResponse::default().with_error_code(code),
                    Ok(()) => self.state().consumer_group.heartbeat(&r, v, Instant::now()),
                };
                frame(req, &resp)
            }
            ApiKey::OffsetCommit => {
                let r = OffsetCommitRequest::decode(body, v).ok()?;
                error_answer(req, self.offset_commit(node, &r))
            }
            ApiKey::OffsetFetch => {
                let r = OffsetFetchRequest::decode(body, v).ok()?;
                frame(req, &self.offset_fetch(node, &r, v))
            }
            _ => return None,
        })
    }

    fn metadata(&self) -> MetadataResponse {
        let st = self.state();
        let brokers = (1..=BROKERS)
            .filter(|b| st.alive[(b - 1) as usize])
            .map(|b| {
                MetadataResponseBroker::default()
                    .with_node_id(BrokerId(b))
                    .with_host(host(b))
                    .with_port(i32::from(PORT))
            })
            .collect();
        let topics = TOPICS
            .iter()
            .enumerate()
            .map(|(t, topic)| {
                let partitions = (0..PARTITIONS)
                    .map(|i| {
                        let p = &st.partitions[t * PARTITIONS as usize + i as usize];
                        MetadataResponsePartition::default()
                            .with_partition_index(i)
                            .with_error_code(if p.leader > 0 {
                                0
                            } else {
                                code::LEADER_NOT_AVAILABLE
                            })
                            .with_leader_id(BrokerId(p.leader))
                            .with_leader_epoch(p.epoch)
                            .with_replica_nodes((1..=BROKERS).map(BrokerId).collect())
                            .with_isr_nodes(p.isr.iter().copied().map(BrokerId).collect())
                    })
                    .collect();
                MetadataResponseTopic::default()
                    .with_name(Some(name(topic)))
                    .with_topic_id(topic_id(topic))
                    .with_partitions(partitions)
            })
            .collect();
        MetadataResponse::default()
            .with_brokers(brokers)
            .with_cluster_id(Some(StrBytes::from_static_str("kafka-sim")))
            .with_controller_id(BrokerId(1))
            .with_topics(topics)
    }

    async fn produce(&self, node: i32, r: ProduceRequest, version: i16) -> ProduceResponse {
        let timeout = Duration::from_millis(r.timeout_ms.max(0) as u64);
        let mut responses = Vec::new();
        {
            let mut st = self.state();
            // Protocol v2 (Produce v12+) adds the partition to the transaction.
            let implicit = st.tv2 && version >= 12;
            let txn_id = r.transactional_id.as_ref().map(|t| t.to_string());
            let State {
                partitions, txns, ..
            } = &mut *st;
            for t in r.topic_data {
                let mut parts = Vec::new();
                for p in t.partition_data {
                    let idx = p.index;
                    let at = slot(t.name.as_str(), idx);
                    let outcome = match at.and_then(|i| partitions.get_mut(i)) {
                        Some(part) => {
                            let check = |pid, epoch| {
                                txns.verify(
                                    txn_id.as_deref(),
                                    pid,
                                    epoch,
                                    at.unwrap_or(0),
                                    implicit,
                                )
                            };
                            part.append(node, p.records.unwrap_or_default(), check)
                        }
                        None => Appended::Refused(code::UNKNOWN_TOPIC_OR_PARTITION),
                    };
                    parts.push((idx, at.unwrap_or(0), outcome));
                }
                responses.push((t.name, parts));
            }
        }
        // acks=all: wait for the high watermark to pass each written batch, while the
        // leader stays the same.
        let deadline = Instant::now() + timeout;
        let mut out = Vec::new();
        for (topic, parts) in responses {
            let mut partition_responses = Vec::new();
            for (idx, at, outcome) in parts {
                let resp = PartitionProduceResponse::default().with_index(idx);
                let resp = match outcome {
                    Appended::Refused(code) => resp.with_error_code(code).with_base_offset(-1),
                    Appended::At { base, end, epoch } => {
                        let code = self.await_commit(node, at, end, epoch, deadline).await;
                        if code == 0 {
                            resp.with_base_offset(base).with_log_append_time_ms(-1)
                        } else {
                            resp.with_error_code(code).with_base_offset(-1)
                        }
                    }
                };
                partition_responses.push(resp);
            }
            out.push(
                TopicProduceResponse::default()
                    .with_name(topic)
                    .with_partition_responses(partition_responses),
            );
        }
        ProduceResponse::default().with_responses(out)
    }

    async fn await_commit(
        &self,
        node: i32,
        at: usize,
        end: i64,
        epoch: i32,
        deadline: Instant,
    ) -> i16 {
        loop {
            {
                let st = self.state();
                let p = &st.partitions[at];
                if !st.alive[(node - 1) as usize] || p.leader != node || p.epoch != epoch {
                    return code::NOT_LEADER_OR_FOLLOWER;
                }
                if p.hw >= end {
                    return 0;
                }
            }
            if Instant::now() >= deadline {
                return code::REQUEST_TIMED_OUT;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }

    fn fetch(&self, node: i32, r: FetchRequest) -> FetchResponse {
        let st = self.state();
        let committed_only = r.isolation_level == 1;
        let max_bytes = usize::try_from(r.max_bytes).unwrap_or(0).max(1);
        let topics = r
            .topics
            .iter()
            .map(|t| {
                let partitions = t
                    .partitions
                    .iter()
                    .map(|fp| {
                        let resp = PartitionData::default().with_partition_index(fp.partition);
                        let p = match served(
                            &st,
                            &t.topic,
                            fp.partition,
                            node,
                            fp.current_leader_epoch,
                        ) {
                            Ok(p) => p,
                            Err(code) => return resp.with_error_code(code),
                        };
                        let stable = p.last_stable();
                        let resp = resp
                            .with_high_watermark(p.hw)
                            .with_last_stable_offset(stable)
                            .with_log_start_offset(0);
                        if fp.fetch_offset < 0 || fp.fetch_offset > p.log_end() {
                            return resp.with_error_code(code::OFFSET_OUT_OF_RANGE);
                        }
                        let limit = if committed_only { stable } else { p.hw };
                        let part_max = usize::try_from(fp.partition_max_bytes).unwrap_or(0);
                        let aborted = committed_only.then(|| {
                            p.aborted_between(fp.fetch_offset, limit)
                                .into_iter()
                                .map(|(pid, first)| {
                                    AbortedTransaction::default()
                                        .with_producer_id(ProducerId(pid))
                                        .with_first_offset(first)
                                })
                                .collect()
                        });
                        resp.with_records(Some(p.read(
                            fp.fetch_offset,
                            limit,
                            part_max.min(max_bytes),
                        )))
                        .with_aborted_transactions(aborted)
                    })
                    .collect();
                FetchableTopicResponse::default()
                    .with_topic(t.topic.clone())
                    .with_partitions(partitions)
            })
            .collect();
        FetchResponse::default().with_responses(topics)
    }

    fn list_offsets(&self, node: i32, r: ListOffsetsRequest) -> ListOffsetsResponse {
        let st = self.state();
        let topics = r
            .topics
            .iter()
            .map(|t| {
                let partitions = t
                    .partitions
                    .iter()
                    .map(|lp| {
                        let resp = ListOffsetsPartitionResponse::default()
                            .with_partition_index(lp.partition_index)
                            .with_timestamp(-1);
                        let p = match served(
                            &st,
                            &t.name,
                            lp.partition_index,
                            node,
                            lp.current_leader_epoch,
                        ) {
                            Ok(p) => p,
                            Err(code) => return resp.with_error_code(code).with_offset(-1),
                        };
                        let offset = match lp.timestamp {
                            -2 => 0,
                            _ if r.isolation_level == 1 => p.last_stable(),
                            _ => p.hw,
                        };
                        resp.with_offset(offset).with_leader_epoch(p.epoch)
                    })
                    .collect();
                ListOffsetsTopicResponse::default()
                    .with_name(t.name.clone())
                    .with_partitions(partitions)
            })
            .collect();
        ListOffsetsResponse::default().with_topics(topics)
    }

    pub(crate) fn coordinator_error(&self, node: i32) -> Result<(), i16> {
        let st = self.state();
        if st.coordinator != node {
            Err(NOT_COORDINATOR)
        } else {
            Ok(())
        }
    }

    async fn join_group(&self, node: i32, r: JoinGroupRequest, v: i16) -> JoinGroupResponse {
        let fail = |code: i16| {
            JoinGroupResponse::default()
                .with_error_code(code)
                .with_generation_id(-1)
        };
        if let Err(code) = self.coordinator_error(node) {
            return fail(code);
        }
        let protocols = r
            .protocols
            .iter()
            .map(|p| (p.name.to_string(), p.metadata.clone()))
            .collect();
        let session = Duration::from_millis(r.session_timeout_ms.max(0) as u64);
        let rebalance = Duration::from_millis(r.rebalance_timeout_ms.max(0) as u64);
        let mut member = r.member_id.to_string();
        let start = self
            .state()
            .group
            .join(&member, protocols, session, rebalance, Instant::now());
        match start {
            JoinStart::NeedId(id) if v >= 4 => {
                return fail(crate::group::code::MEMBER_ID_REQUIRED)
                    .with_member_id(StrBytes::from_string(id));
            }
            JoinStart::NeedId(id) => {
                member = id;
                let protocols = r
                    .protocols
                    .iter()
                    .map(|p| (p.name.to_string(), p.metadata.clone()))
                    .collect();
                self.state()
                    .group
                    .join(&member, protocols, session, rebalance, Instant::now());
            }
            JoinStart::Error(code) => return fail(code),
            JoinStart::Waiting => {}
        }
        loop {
            {
                let mut st = self.state();
                if st.coordinator != node || !st.alive[(node - 1) as usize] {
                    return fail(NOT_COORDINATOR);
                }
                st.group.try_complete_join(Instant::now());
                if let Some(result) = st.group.join_result(&member) {
                    return match result {
                        Err(code) => fail(code),
                        Ok((generation, leader, protocol, members)) => JoinGroupResponse::default()
                            .with_generation_id(generation)
                            .with_protocol_type(Some(StrBytes::from_static_str("consumer")))
                            .with_protocol_name(Some(StrBytes::from_string(protocol)))
                            .with_leader(StrBytes::from_string(leader))
                            .with_member_id(StrBytes::from_string(member.clone()))
                            .with_members(
                                members
                                    .into_iter()
                                    .map(|(id, meta)| {
                                        JoinGroupResponseMember::default()
                                            .with_member_id(StrBytes::from_string(id))
                                            .with_metadata(meta)
                                    })
                                    .collect(),
                            ),
                    };
                }
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    async fn sync_group(&self, node: i32, r: SyncGroupRequest) -> SyncGroupResponse {
        let fail = |code: i16| SyncGroupResponse::default().with_error_code(code);
        if let Err(code) = self.coordinator_error(node) {
            return fail(code);
        }
        let assignments: Vec<(String, Bytes)> = r
            .assignments
            .iter()
            .map(|a| (a.member_id.to_string(), a.assignment.clone()))
            .collect();
        if let Err(code) = self
            .state()
            .group
            .sync(&r.member_id, r.generation_id, assignments)
        {
            return fail(code);
        }
        loop {
            {
                let st = self.state();
                if st.coordinator != node || !st.alive[(node - 1) as usize] {
                    return fail(NOT_COORDINATOR);
                }
                if let Some(result) = st.group.sync_result(&r.member_id, r.generation_id) {
                    return match result {
                        Err(code) => fail(code),
                        Ok(assignment) => SyncGroupResponse::default()
                            .with_protocol_type(Some(StrBytes::from_static_str("consumer")))
                            .with_protocol_name(Some(StrBytes::from_string(
                                st.group.protocol.clone(),
                            )))
                            .with_assignment(assignment),
                    };
                }
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// Stores an OffsetCommit's offsets; the error code every partition gets.
    fn offset_commit(&self, node: i32, r: &OffsetCommitRequest) -> i16 {
        let offsets: Vec<(i32, i64)> = r
            .topics
            .iter()
            .flat_map(|t| t.partitions.iter())
            .map(|p| (p.partition_index, p.committed_offset))
            .collect();
        if std::env::var_os("SIM_DEBUG").is_some() {
            eprintln!(
                "{:?} broker {node} OffsetCommit {} gen {} {:?}",
                Instant::now(),
                r.member_id,
                r.generation_id_or_member_epoch,
                offsets
            );
        }
        let (member, generation) = (r.member_id.as_str(), r.generation_id_or_member_epoch);
        if let Err(code) = self.coordinator_error(node) {
            return code;
        }
        let mut st = self.state();
        if is_kip848(member) {
            match st
                .consumer_group
                .validate(member, generation, Instant::now())
            {
                Ok(()) => {
                    st.group.store(member, generation, &offsets);
                    0
                }
                Err(code) => code,
            }
        } else {
            st.group
                .commit(member, generation, &offsets)
                .err()
                .unwrap_or(0)
        }
    }

    fn offset_fetch(&self, node: i32, r: &OffsetFetchRequest, version: i16) -> OffsetFetchResponse {
        offset_fetch_answer(r, version, |_, member| {
            self.coordinator_error(node)?;
            let mut st = self.state();
            if let Some((m, epoch)) = member.filter(|(m, _)| is_kip848(m)) {
                st.consumer_group.validate(m, epoch, Instant::now())?;
            }
            Ok(st
                .group
                .offsets
                .iter()
                .map(|(&p, &o)| ((TOPIC.to_string(), p), o))
                .collect())
        })
    }
}

/// Whether a member id is a KIP-848 member's (the classic coordinator makes ids
/// `member-N`; a KIP-848 member brings a UUID).
fn is_kip848(member: &str) -> bool {
    !member.is_empty() && !member.starts_with("member-")
}

/// The partition a Fetch or ListOffsets on `node` reads, or its error: unknown
/// partition, not the leader, or a stale or future leader epoch.
fn served<'a>(
    st: &'a State,
    topic: &str,
    partition: i32,
    node: i32,
    current_leader_epoch: i32,
) -> Result<&'a Partition, i16> {
    let p = slot(topic, partition)
        .and_then(|i| st.partitions.get(i))
        .ok_or(code::UNKNOWN_TOPIC_OR_PARTITION)?;
    if p.leader != node {
        Err(code::NOT_LEADER_OR_FOLLOWER)
    } else if current_leader_epoch >= 0 && current_leader_epoch < p.epoch {
        Err(code::FENCED_LEADER_EPOCH)
    } else if current_leader_epoch > p.epoch {
        Err(code::UNKNOWN_LEADER_EPOCH)
    } else {
        Ok(p)
    }
}
