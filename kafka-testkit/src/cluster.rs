//! [`Cluster`]: an in-process Kafka-speaking cluster (one or more brokers over one
//! shared in-memory log) that keeps what is produced, and its fault controls.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use kafka_client::ErrorCode;
use kafka_client::records::Record;
use kafka_protocol::messages::create_topics_response::CreatableTopicResult;
use kafka_protocol::messages::delete_topics_response::DeletableTopicResult;
use kafka_protocol::messages::fetch_response::{
    AbortedTransaction, FetchableTopicResponse, PartitionData,
};
use kafka_protocol::messages::list_offsets_response::{
    ListOffsetsPartitionResponse, ListOffsetsTopicResponse,
};
use kafka_protocol::messages::metadata_response::{
    MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
};
use kafka_protocol::messages::produce_response::{PartitionProduceResponse, TopicProduceResponse};
use kafka_protocol::messages::{
    ApiKey, BrokerId, CreateTopicsRequest, CreateTopicsResponse, DeleteTopicsRequest,
    DeleteTopicsResponse, EndTxnRequest, FetchRequest, FetchResponse, FindCoordinatorResponse,
    InitProducerIdRequest, InitProducerIdResponse, ListOffsetsRequest, ListOffsetsResponse,
    MetadataRequest, MetadataResponse, OffsetCommitRequest, OffsetFetchRequest,
    OffsetFetchResponse, ProduceRequest, ProduceResponse, ProducerId, TopicName,
    TxnOffsetCommitRequest,
};
use kafka_protocol::protocol::{Decodable, StrBytes};
use tokio::net::TcpListener;

mod classic_api;
pub(crate) mod group_api;

use crate::coordinator;
use crate::faults::{Api, Fault, Faults};
use crate::groups::GroupTimes;
use crate::groups::classic::ClassicGroup;
use crate::groups::consumer::ConsumerGroup;
use crate::groups::share::ShareGroup;
use crate::log::PartitionLog;
use crate::raw::{Req, VERSIONS, api_versions, error_answer, frame, offset_fetch_answer};
use crate::server::{Handler, serve};

/// The admin APIs the cluster answers, besides the raw broker's and the coordinator's.
const ADMIN_VERSIONS: &[(ApiKey, i16, i16)] =
    &[(ApiKey::CreateTopics, 2, 7), (ApiKey::DeleteTopics, 1, 6)];

/// The KIP-848 and share-group APIs, and the member-aware versions of OffsetCommit and
/// OffsetFetch (these replace the coordinator's ranges).
const GROUP_VERSIONS: &[(ApiKey, i16, i16)] = &[
    (ApiKey::ConsumerGroupHeartbeat, 0, 1),
    (ApiKey::ShareGroupHeartbeat, 1, 1),
    (ApiKey::ShareFetch, 1, 1),
    (ApiKey::ShareAcknowledge, 1, 1),
    (ApiKey::OffsetCommit, 2, 9),
    (ApiKey::OffsetFetch, 1, 9),
];

// The protocol's error codes the broker answers with.
const OFFSET_OUT_OF_RANGE: i16 = 1;
const CORRUPT_MESSAGE: i16 = 2;
const UNKNOWN_TOPIC_OR_PARTITION: i16 = 3;
const LEADER_NOT_AVAILABLE: i16 = 5;
const NOT_LEADER_OR_FOLLOWER: i16 = 6;
const INVALID_TOPIC_EXCEPTION: i16 = 17;
const TOPIC_ALREADY_EXISTS: i16 = 36;
const INVALID_PARTITIONS: i16 = 37;
const INVALID_REPLICATION_FACTOR: i16 = 38;

/// Builds a [`Cluster`]: its topics, then [`start`](Self::start).
#[derive(Debug, Clone)]
pub struct ClusterBuilder {
    brokers: i32,
    topics: Vec<(String, i32)>,
    auto_create: Option<i32>,
    times: GroupTimes,
}

impl Default for ClusterBuilder {
    fn default() -> Self {
        ClusterBuilder {
            brokers: 1,
            topics: Vec::new(),
            auto_create: None,
            times: GroupTimes::default(),
        }
    }
}

impl ClusterBuilder {
    /// How many brokers (ids 1..=n, each on its own loopback port; default 1). Every
    /// broker holds every partition (one shared log, as if fully replicated); leaders
    /// are spread round-robin.
    pub fn brokers(mut self, n: i32) -> Self {
        self.brokers = n.max(1);
        self
    }

    /// A topic that exists from the start, with `partitions` partitions (at least 1).
    pub fn topic(mut self, name: impl Into<String>, partitions: i32) -> Self {
        self.topics.push((name.into(), partitions.max(1)));
        self
    }

    /// Creates unknown topics on first use (Metadata or Produce naming them) with
    /// `partitions` partitions, as a broker with `auto.create.topics.enable=true` does.
    /// Off by default: an unknown topic is UNKNOWN_TOPIC_OR_PARTITION.
    pub fn auto_create_topics(mut self, partitions: i32) -> Self {
        self.auto_create = Some(partitions.max(1));
        self
    }

    /// The heartbeat interval the coordinator asks KIP-848 and share-group members for
    /// (the broker's `group.consumer.heartbeat.interval.ms`; default 1 s here, 5 s on a
    /// broker, so that partitions move quickly in tests).
    pub fn group_heartbeat_interval(mut self, interval: Duration) -> Self {
        self.times.heartbeat_interval = interval;
        self
    }

    /// How long a KIP-848 or share-group member may stay silent before the coordinator
    /// removes it (`group.consumer.session.timeout.ms`; default 45 s).
    pub fn group_session_timeout(mut self, timeout: Duration) -> Self {
        self.times.session_timeout = timeout;
        self
    }

    /// How long a share-group member holds the records it acquired before they are
    /// available to others again (`group.share.record.lock.duration.ms`; default 30 s).
    pub fn share_record_lock_duration(mut self, lock: Duration) -> Self {
        self.times.lock_timeout = lock;
        self
    }

    /// How many times a share group delivers a record before archiving it
    /// (`group.share.delivery.count.limit`; default 5, at least 1).
    pub fn share_delivery_count_limit(mut self, limit: i16) -> Self {
        self.times.delivery_limit = limit.max(1);
        self
    }

    /// Binds a loopback port and starts serving; the cluster runs until the tokio
    /// runtime it was started in ends. Fails only if no port can be bound.
    pub async fn start(self) -> std::io::Result<Cluster> {
        let mut listeners = Vec::new();
        let mut nodes = Vec::new();
        for id in 1..=self.brokers {
            let listener = TcpListener::bind("127.0.0.1:0").await?;
            nodes.push(Node {
                id,
                port: listener.local_addr()?.port(),
                alive: AtomicBool::new(true),
            });
            listeners.push(listener);
        }
        let mut state = State {
            auto_create: self.auto_create,
            brokers: self.brokers,
            times: self.times,
            ..State::default()
        };
        for (name, partitions) in self.topics {
            state.create(&name, partitions);
        }
        let inner = Arc::new(Inner {
            nodes,
            state: Mutex::new(state),
            faults: Mutex::new(Faults::default()),
            group_changed: tokio::sync::Notify::new(),
        });
        for (i, listener) in listeners.into_iter().enumerate() {
            let node = i as i32 + 1;
            let port = inner.nodes[i].port;
            let handler_inner = inner.clone();
            let handler: Handler = Arc::new(move |req: Req| {
                let inner = handler_inner.clone();
                Box::pin(async move { inner.handle(node, &req).await })
            });
            let accept_inner = inner.clone();
            tokio::spawn(async move {
                while let Ok((sock, _)) = listener.accept().await {
                    // A killed broker takes connections and closes them at once.
                    if accept_inner.alive(node) {
                        tokio::spawn(serve(sock, port, handler.clone()));
                    }
                }
            });
        }
        Ok(Cluster { inner })
    }
}

/// An in-process Kafka-speaking cluster (brokers with ids from 1 on `127.0.0.1`) that
/// stores produced batches in memory and serves them to fetches. Cheap to clone; every clone
/// controls the same broker. See the [crate documentation](crate) for what it models.
///
/// Faults on demand:
///
/// ```
/// use std::time::Duration;
/// use kafka_client::ErrorCode;
/// use kafka_client::producer::{Producer, ProducerRecord};
/// use kafka_testkit::{Api, Cluster};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let cluster = Cluster::builder().brokers(3).topic("orders", 6).start().await?;
/// let producer = Producer::builder()
///     .bootstrap_servers([cluster.bootstrap_servers()])
///     .build()?;
///
/// // The next two Produce requests fail with a retriable error: the producer retries.
/// cluster.fail_next(Api::Produce, ErrorCode::NOT_LEADER_OR_FOLLOWER, 2);
/// let sent = ProducerRecord::new("orders").with_partition(0).with_value("a");
/// producer.send_and_wait(sent).await?;
///
/// // Partition 0's leader dies; its partitions fail over and nothing is lost.
/// cluster.kill(cluster.leader("orders", 0).unwrap());
/// let sent = ProducerRecord::new("orders").with_partition(0).with_value("b");
/// assert_eq!(producer.send_and_wait(sent).await?.offset, 1);
/// assert_eq!(cluster.records("orders", 0).len(), 2);
/// producer.close(Duration::from_secs(1)).await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Cluster {
    inner: Arc<Inner>,
}

impl Cluster {
    /// A builder with no topics.
    pub fn builder() -> ClusterBuilder {
        ClusterBuilder::default()
    }

    /// The address to give a client's `bootstrap.servers`: every broker's
    /// `127.0.0.1:<port>`, comma-separated.
    pub fn bootstrap_servers(&self) -> String {
        let all: Vec<String> = self
            .inner
            .nodes
            .iter()
            .map(|n| format!("127.0.0.1:{}", n.port))
            .collect();
        all.join(",")
    }

    /// The current leader of a partition, if the partition exists.
    pub fn leader(&self, topic: &str, partition: i32) -> Option<i32> {
        self.inner.state().leader(topic, partition)
    }

    /// Makes `broker` the partition's leader: clients that send to the old one get
    /// NOT_LEADER_OR_FOLLOWER and find the new one in the metadata. No effect for an
    /// unknown partition or broker.
    pub fn move_leader(&self, topic: &str, partition: i32, broker: i32) {
        if (1..=self.inner.nodes.len() as i32).contains(&broker) {
            self.inner.state().set_leader(topic, partition, broker);
        }
    }

    /// Stops a broker: its connections close and new ones are closed at once, and the
    /// partitions it led move to the next live broker (the log is shared, so nothing
    /// is lost). Killing the last live broker leaves its partitions without a leader.
    pub fn kill(&self, broker: i32) {
        let Some(node) = self.inner.node(broker) else {
            return;
        };
        node.alive.store(false, Ordering::SeqCst);
        let next = self
            .inner
            .nodes
            .iter()
            .map(|n| n.id)
            .cycle()
            .skip(broker as usize)
            .take(self.inner.nodes.len())
            .find(|&id| self.inner.alive(id));
        self.inner.state().fail_over(broker, next.unwrap_or(-1));
    }

    /// Starts a killed broker again (leaders stay where they moved; see
    /// [`move_leader`](Self::move_leader)).
    pub fn restart(&self, broker: i32) {
        if let Some(node) = self.inner.node(broker) {
            node.alive.store(true, Ordering::SeqCst);
        }
    }

    /// Creates a topic (no effect if it exists).
    pub fn create_topic(&self, name: &str, partitions: i32) {
        self.inner.state().create(name, partitions.max(1));
    }

    /// The partition count of `topic`, if it exists.
    pub fn partitions(&self, topic: &str) -> Option<i32> {
        self.inner
            .state()
            .topics
            .get(topic)
            .map(|t| t.partitions.len() as i32)
    }

    /// The data records (control records left out) of a partition in offset order;
    /// empty for an unknown partition.
    pub fn records(&self, topic: &str, partition: i32) -> Vec<Record> {
        self.inner
            .state()
            .log(topic, partition)
            .map(PartitionLog::records)
            .unwrap_or_default()
    }

    /// The end offset (high watermark) of a partition, if it exists.
    pub fn end_offset(&self, topic: &str, partition: i32) -> Option<i64> {
        self.inner
            .state()
            .log(topic, partition)
            .map(PartitionLog::end_offset)
    }

    /// The offset `group` committed for a partition, if any.
    pub fn committed_offset(&self, group: &str, topic: &str, partition: i32) -> Option<i64> {
        self.inner
            .state()
            .committed
            .get(&(group.to_string(), topic.to_string(), partition))
            .copied()
    }

    /// The members of a KIP-848 consumer group or a share group and the partitions each
    /// is assigned now (for a consumer group: what it may consume, which lags the
    /// target while partitions move). Empty for an unknown group.
    pub fn group_assignment(&self, group: &str) -> BTreeMap<String, BTreeSet<(String, i32)>> {
        self.inner.state().group_assignment(group)
    }

    /// Whether `group` is stable: for a KIP-848 consumer group, every member holds
    /// exactly its target assignment and has nothing left to revoke; for a classic
    /// group, the rebalance has completed (every member synced). True for a share group
    /// (its members take their target at once) and for an unknown group.
    pub fn group_is_stable(&self, group: &str) -> bool {
        self.inner.state().group_is_stable(group)
    }

    /// Makes the share group `group` start reading a partition from its first offset
    /// (`share.auto.offset.reset=earliest`, a group config on a broker) instead of its end
    /// (latest, the default). Applies to partitions the group has not read yet.
    pub fn share_group_from_earliest(&self, group: &str) {
        self.inner
            .state()
            .share_groups
            .entry(group.to_string())
            .or_default()
            .earliest = true;
    }

    /// The next `times` requests of `api` are answered with `code` as their error (for
    /// every partition of a Produce, Fetch or ListOffsets, every topic of a Metadata, the
    /// top-level error of the coordinator APIs), and change nothing.
    pub fn fail_next(&self, api: Api, code: ErrorCode, times: usize) {
        self.inner
            .faults()
            .add(api, Fault::Error(code.code()), times);
    }

    /// The next `times` requests of `api` are answered normally, `delay` late.
    pub fn delay_next(&self, api: Api, delay: Duration, times: usize) {
        self.inner.faults().add(api, Fault::Delay(delay), times);
    }

    /// The next `times` requests of `api` are not answered: the broker closes the
    /// connection they came on (before acting on them).
    pub fn drop_next(&self, api: Api, times: usize) {
        self.inner.faults().add(api, Fault::Drop, times);
    }

    /// How many requests of `api` the broker has received.
    pub fn requests(&self, api: Api) -> u64 {
        self.inner.faults().count(api)
    }
}

#[derive(Debug)]
struct Node {
    id: i32,
    port: u16,
    alive: AtomicBool,
}

#[derive(Debug)]
struct Inner {
    nodes: Vec<Node>,
    state: Mutex<State>,
    faults: Mutex<Faults>,
    /// Woken whenever a classic group changes (JoinGroup and SyncGroup wait on it).
    group_changed: tokio::sync::Notify,
}

#[derive(Debug, Default)]
struct Topic {
    id: u128,
    partitions: Vec<PartitionLog>,
    /// Leader broker of each partition (-1: none).
    leaders: Vec<i32>,
}

/// (group, topic, partition): where a committed offset belongs.
type GroupPartition = (String, String, i32);

#[derive(Debug, Default)]
struct State {
    brokers: i32,
    topics: BTreeMap<String, Topic>,
    auto_create: Option<i32>,
    committed: HashMap<GroupPartition, i64>,
    /// Transactional offsets waiting for their transaction's end: producer id → commits.
    pending_offsets: HashMap<i64, Vec<(GroupPartition, i64)>>,
    /// transactional id → (producer id, epoch).
    producers: HashMap<String, (i64, i16)>,
    next_producer_id: i64,
    next_topic_id: u64,
    times: GroupTimes,
    classic_groups: HashMap<String, ClassicGroup>,
    consumer_groups: HashMap<String, ConsumerGroup>,
    share_groups: HashMap<String, ShareGroup>,
}

impl State {
    fn create(&mut self, name: &str, partitions: i32) {
        if self.topics.contains_key(name) {
            return;
        }
        // Ids are never reused, also after deletes.
        self.next_topic_id += 1;
        let id = u128::from(self.next_topic_id);
        let brokers = self.brokers.max(1);
        // Leaders round-robin from a per-topic start, as Kafka spreads them.
        let first = ((self.next_topic_id - 1) % brokers as u64) as i32;
        self.topics
            .entry(name.to_string())
            .or_insert_with(|| Topic {
                id,
                partitions: (0..partitions).map(|_| PartitionLog::default()).collect(),
                leaders: (0..partitions).map(|p| (first + p) % brokers + 1).collect(),
            });
    }

    fn leader(&self, topic: &str, partition: i32) -> Option<i32> {
        let p = usize::try_from(partition).ok()?;
        self.topics.get(topic)?.leaders.get(p).copied()
    }

    fn set_leader(&mut self, topic: &str, partition: i32, broker: i32) {
        let Ok(p) = usize::try_from(partition) else {
            return;
        };
        if let Some(l) = self
            .topics
            .get_mut(topic)
            .and_then(|t| t.leaders.get_mut(p))
        {
            *l = broker;
        }
    }

    fn fail_over(&mut self, dead: i32, next: i32) {
        for t in self.topics.values_mut() {
            for l in t.leaders.iter_mut().filter(|l| **l == dead) {
                *l = next;
            }
        }
    }

    /// Whether `broker` leads the partition (false for an unknown one).
    fn leads(&self, broker: i32, topic: &str, partition: i32) -> bool {
        self.leader(topic, partition) == Some(broker)
    }

    /// The topic, created first when auto-creation is on.
    fn topic_or_create(&mut self, name: &str) -> Option<&mut Topic> {
        if !self.topics.contains_key(name) {
            let partitions = self.auto_create?;
            if name.is_empty() {
                return None;
            }
            self.create(name, partitions);
        }
        self.topics.get_mut(name)
    }

    fn log(&self, topic: &str, partition: i32) -> Option<&PartitionLog> {
        let p = usize::try_from(partition).ok()?;
        self.topics.get(topic)?.partitions.get(p)
    }

    fn log_mut(&mut self, topic: &str, partition: i32) -> Option<&mut PartitionLog> {
        let p = usize::try_from(partition).ok()?;
        self.topics.get_mut(topic)?.partitions.get_mut(p)
    }
}

fn name(s: &str) -> TopicName {
    TopicName(StrBytes::from_string(s.to_string()))
}

impl Inner {
    fn node(&self, broker: i32) -> Option<&Node> {
        self.nodes
            .get(usize::try_from(broker).ok()?.checked_sub(1)?)
    }

    fn alive(&self, broker: i32) -> bool {
        self.node(broker)
            .is_some_and(|n| n.alive.load(Ordering::SeqCst))
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn faults(&self) -> MutexGuard<'_, Faults> {
        self.faults.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Broker `node`'s answer to one request (`None`: close the connection).
    async fn handle(&self, node: i32, req: &Req) -> Option<(Vec<u8>, Duration)> {
        if !self.alive(node) {
            return None;
        }
        let fault = self.faults().take(req.api);
        match fault {
            Some(Fault::Drop) => None,
            Some(Fault::Error(code)) => Some((self.error(req, code)?, Duration::ZERO)),
            Some(Fault::Delay(d)) => Some((self.answer(node, req).await?, d)),
            None => Some((self.answer(node, req).await?, Duration::ZERO)),
        }
    }

    /// The answer, once it is ready (JoinGroup and SyncGroup wait for the group).
    async fn answer(&self, node: i32, req: &Req) -> Option<Vec<u8>> {
        match req.api {
            ApiKey::JoinGroup => self.join_group(req).await,
            ApiKey::SyncGroup => self.sync_group(req).await,
            _ => self.answer_now(node, req),
        }
    }

    fn error(&self, req: &Req, code: i16) -> Option<Vec<u8>> {
        match req.api {
            ApiKey::Metadata => {
                let mut r = self.metadata(req)?;
                for t in &mut r.topics {
                    t.error_code = code;
                    t.partitions.clear();
                }
                Some(frame(req, &r))
            }
            ApiKey::ListOffsets => Some(frame(req, &self.list_offsets(0, req, code)?)),
            ApiKey::Produce | ApiKey::Fetch => Some(error_answer(req, code)),
            ApiKey::ConsumerGroupHeartbeat => Some(frame(
                req,
                &kafka_protocol::messages::ConsumerGroupHeartbeatResponse::default()
                    .with_error_code(code),
            )),
            ApiKey::ShareGroupHeartbeat => Some(frame(
                req,
                &kafka_client::lowlevel::protocol_gen::ShareGroupHeartbeatResponse::default()
                    .with_error_code(code),
            )),
            ApiKey::ShareFetch => Some(frame(
                req,
                &kafka_client::lowlevel::protocol_gen::ShareFetchResponse::default()
                    .with_error_code(code),
            )),
            ApiKey::ShareAcknowledge => Some(frame(
                req,
                &kafka_client::lowlevel::protocol_gen::ShareAcknowledgeResponse::default()
                    .with_error_code(code),
            )),
            _ => coordinator::answer(req, code),
        }
    }

    fn answer_now(&self, node: i32, req: &Req) -> Option<Vec<u8>> {
        let body = &mut req.body.clone();
        let v = req.version;
        Some(match req.api {
            ApiKey::ApiVersions => {
                let mut r = req.clone();
                r.version = req.version.min(3);
                let mut by_key: BTreeMap<i16, (ApiKey, i16, i16)> = BTreeMap::new();
                for &(k, min, max) in VERSIONS
                    .iter()
                    .chain(coordinator::VERSIONS)
                    .chain(ADMIN_VERSIONS)
                    .chain(GROUP_VERSIONS)
                {
                    by_key.insert(k as i16, (k, min, max));
                }
                let all: Vec<(ApiKey, i16, i16)> = by_key.into_values().collect();
                frame(&r, &api_versions(&all))
            }
            ApiKey::CreateTopics => {
                let r = CreateTopicsRequest::decode(body, v).ok()?;
                frame(req, &self.create_topics(r))
            }
            ApiKey::DeleteTopics => {
                let r = DeleteTopicsRequest::decode(body, v).ok()?;
                frame(req, &self.delete_topics(r))
            }
            ApiKey::Metadata => frame(req, &self.metadata(req)?),
            ApiKey::Produce => frame(
                req,
                &self.produce(node, ProduceRequest::decode(body, v).ok()?),
            ),
            ApiKey::Fetch => frame(req, &self.fetch(node, FetchRequest::decode(body, v).ok()?)),
            ApiKey::ListOffsets => frame(req, &self.list_offsets(node, req, 0)?),
            ApiKey::FindCoordinator => {
                // The coordinator is the first live broker.
                let node = self.nodes.iter().find(|n| n.alive.load(Ordering::SeqCst))?;
                frame(
                    req,
                    &FindCoordinatorResponse::default()
                        .with_node_id(BrokerId(node.id))
                        .with_host(StrBytes::from_static_str("127.0.0.1"))
                        .with_port(i32::from(node.port)),
                )
            }
            ApiKey::InitProducerId => {
                let r = InitProducerIdRequest::decode(body, v).ok()?;
                frame(req, &self.init_producer_id(r))
            }
            ApiKey::EndTxn => {
                let r = EndTxnRequest::decode(body, v).ok()?;
                self.end_txn(&r);
                coordinator::answer(req, 0)?
            }
            ApiKey::Heartbeat => self.classic_heartbeat(req)?,
            ApiKey::LeaveGroup => self.leave_group(req)?,
            ApiKey::ConsumerGroupHeartbeat => self.consumer_group_heartbeat(req)?,
            ApiKey::ShareGroupHeartbeat => self.share_group_heartbeat(req)?,
            ApiKey::ShareFetch => self.share_fetch(node, req)?,
            ApiKey::ShareAcknowledge => self.share_acknowledge(node, req)?,
            ApiKey::OffsetCommit => {
                let r = OffsetCommitRequest::decode(body, v).ok()?;
                let mut st = self.state();
                let group = r.group_id.to_string();
                if let Err(code) =
                    st.check_member(&group, &r.member_id, r.generation_id_or_member_epoch)
                {
                    drop(st);
                    return coordinator::answer(req, code);
                }
                for t in &r.topics {
                    for p in &t.partitions {
                        let key = (
                            r.group_id.to_string(),
                            t.name.to_string(),
                            p.partition_index,
                        );
                        st.committed.insert(key, p.committed_offset);
                    }
                }
                drop(st);
                coordinator::answer(req, 0)?
            }
            ApiKey::TxnOffsetCommit => {
                let r = TxnOffsetCommitRequest::decode(body, v).ok()?;
                let mut st = self.state();
                let pending = st.pending_offsets.entry(r.producer_id.0).or_default();
                for t in &r.topics {
                    for p in &t.partitions {
                        let key = (
                            r.group_id.to_string(),
                            t.name.to_string(),
                            p.partition_index,
                        );
                        pending.push((key, p.committed_offset));
                    }
                }
                drop(st);
                coordinator::answer(req, 0)?
            }
            ApiKey::OffsetFetch => {
                let r = OffsetFetchRequest::decode(body, v).ok()?;
                frame(req, &self.offset_fetch(&r, v))
            }
            _ => coordinator::answer(req, 0)?,
        })
    }

    fn metadata(&self, req: &Req) -> Option<MetadataResponse> {
        let r = MetadataRequest::decode(&mut req.body.clone(), req.version).ok()?;
        let live: Vec<BrokerId> = self
            .nodes
            .iter()
            .filter(|n| n.alive.load(Ordering::SeqCst))
            .map(|n| BrokerId(n.id))
            .collect();
        let mut st = self.state();
        let names: Vec<String> = match &r.topics {
            None => st.topics.keys().cloned().collect(),
            // By name, or by topic id (v10+, as librdkafka asks for a KIP-848 assignment).
            Some(ts) => ts
                .iter()
                .filter_map(|t| match &t.name {
                    Some(n) => Some(n.to_string()),
                    None => st
                        .topics
                        .iter()
                        .find(|(_, x)| kafka_client::Uuid::from_u128(x.id) == t.topic_id)
                        .map(|(n, _)| n.clone()),
                })
                .collect(),
        };
        let topics = names
            .iter()
            .map(|n| match st.topic_or_create(n) {
                Some(t) => MetadataResponseTopic::default()
                    .with_name(Some(name(n)))
                    .with_topic_id(kafka_client::Uuid::from_u128(t.id))
                    .with_partitions(
                        t.leaders
                            .iter()
                            .enumerate()
                            .map(|(p, &leader)| {
                                let partition = MetadataResponsePartition::default()
                                    .with_partition_index(p as i32)
                                    .with_leader_id(BrokerId(leader))
                                    .with_replica_nodes(live.clone())
                                    .with_isr_nodes(live.clone());
                                if leader < 0 {
                                    partition.with_error_code(LEADER_NOT_AVAILABLE)
                                } else {
                                    partition
                                }
                            })
                            .collect(),
                    ),
                None => MetadataResponseTopic::default()
                    .with_name(Some(name(n)))
                    .with_error_code(if n.is_empty() {
                        INVALID_TOPIC_EXCEPTION
                    } else {
                        UNKNOWN_TOPIC_OR_PARTITION
                    }),
            })
            .collect();
        Some(
            MetadataResponse::default()
                .with_brokers(
                    self.nodes
                        .iter()
                        .filter(|n| n.alive.load(Ordering::SeqCst))
                        .map(|n| {
                            MetadataResponseBroker::default()
                                .with_node_id(BrokerId(n.id))
                                .with_host(StrBytes::from_static_str("127.0.0.1"))
                                .with_port(i32::from(n.port))
                        })
                        .collect(),
                )
                .with_cluster_id(Some(StrBytes::from_static_str("kafka-testkit")))
                .with_controller_id(live.first().copied().unwrap_or(BrokerId(-1)))
                .with_topics(topics),
        )
    }

    fn create_topics(&self, r: CreateTopicsRequest) -> CreateTopicsResponse {
        let mut st = self.state();
        let brokers = self.nodes.len() as i16;
        let topics = r
            .topics
            .iter()
            .map(|t| {
                let n = t.name.to_string();
                let partitions = if t.num_partitions == -1 {
                    1
                } else {
                    t.num_partitions
                };
                let rf = if t.replication_factor == -1 {
                    1
                } else {
                    t.replication_factor
                };
                let code = if n.is_empty() {
                    INVALID_TOPIC_EXCEPTION
                } else if st.topics.contains_key(&n) {
                    TOPIC_ALREADY_EXISTS
                } else if partitions < 1 {
                    INVALID_PARTITIONS
                } else if rf < 1 || rf > brokers {
                    INVALID_REPLICATION_FACTOR
                } else {
                    0
                };
                if code == 0 && !r.validate_only {
                    st.create(&n, partitions);
                }
                let id = st.topics.get(&n).map_or(0, |t| t.id);
                CreatableTopicResult::default()
                    .with_name(t.name.clone())
                    .with_error_code(code)
                    .with_topic_id(kafka_client::Uuid::from_u128(id))
                    .with_num_partitions(if code == 0 { partitions } else { -1 })
                    .with_replication_factor(if code == 0 { rf } else { -1 })
            })
            .collect();
        CreateTopicsResponse::default().with_topics(topics)
    }

    fn delete_topics(&self, r: DeleteTopicsRequest) -> DeleteTopicsResponse {
        let mut st = self.state();
        // Names (v0-5), or names or ids (v6+).
        let mut asked: Vec<(Option<String>, kafka_client::Uuid)> = r
            .topic_names
            .iter()
            .map(|n| (Some(n.to_string()), kafka_client::Uuid::nil()))
            .collect();
        asked.extend(
            r.topics
                .iter()
                .map(|t| (t.name.as_ref().map(|n| n.to_string()), t.topic_id)),
        );
        let responses = asked
            .into_iter()
            .map(|(n, id)| {
                let n = n.or_else(|| {
                    st.topics
                        .iter()
                        .find(|(_, t)| kafka_client::Uuid::from_u128(t.id) == id)
                        .map(|(n, _)| n.clone())
                });
                let removed = n.as_ref().and_then(|n| st.topics.remove(n));
                DeletableTopicResult::default()
                    .with_name(n.map(|n| name(&n)))
                    .with_topic_id(
                        removed
                            .as_ref()
                            .map_or(id, |t| kafka_client::Uuid::from_u128(t.id)),
                    )
                    .with_error_code(if removed.is_some() {
                        0
                    } else {
                        UNKNOWN_TOPIC_OR_PARTITION
                    })
            })
            .collect();
        DeleteTopicsResponse::default().with_responses(responses)
    }

    fn produce(&self, node: i32, r: ProduceRequest) -> ProduceResponse {
        let mut st = self.state();
        let responses = r
            .topic_data
            .into_iter()
            .map(|t| {
                let topic = t.name.to_string();
                let exists = st.topic_or_create(&topic).is_some();
                let partitions = t
                    .partition_data
                    .into_iter()
                    .map(|p| {
                        let resp = PartitionProduceResponse::default().with_index(p.index);
                        if exists && st.leader(&topic, p.index).is_some_and(|l| l != node) {
                            return resp
                                .with_error_code(NOT_LEADER_OR_FOLLOWER)
                                .with_base_offset(-1);
                        }
                        let log = if exists {
                            st.log_mut(&topic, p.index)
                        } else {
                            None
                        };
                        let Some(log) = log else {
                            return resp
                                .with_error_code(UNKNOWN_TOPIC_OR_PARTITION)
                                .with_base_offset(-1);
                        };
                        match p.records.and_then(|data| log.append(data)) {
                            Some(base) => resp.with_base_offset(base).with_log_append_time_ms(-1),
                            None => resp.with_error_code(CORRUPT_MESSAGE).with_base_offset(-1),
                        }
                    })
                    .collect();
                TopicProduceResponse::default()
                    .with_name(t.name)
                    .with_partition_responses(partitions)
            })
            .collect();
        ProduceResponse::default().with_responses(responses)
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
                    .map(|p| {
                        let resp = PartitionData::default().with_partition_index(p.partition);
                        let Some(log) = st.log(&t.topic, p.partition) else {
                            return resp.with_error_code(UNKNOWN_TOPIC_OR_PARTITION);
                        };
                        if !st.leads(node, &t.topic, p.partition) {
                            return resp.with_error_code(NOT_LEADER_OR_FOLLOWER);
                        }
                        let (end, stable) = (log.end_offset(), log.last_stable_offset());
                        let resp = resp
                            .with_high_watermark(end)
                            .with_last_stable_offset(stable)
                            .with_log_start_offset(0);
                        if p.fetch_offset < 0 || p.fetch_offset > end {
                            return resp.with_error_code(OFFSET_OUT_OF_RANGE);
                        }
                        let limit = if committed_only { stable } else { end };
                        let part_max = usize::try_from(p.partition_max_bytes).unwrap_or(0);
                        let records = log.read(p.fetch_offset, limit, part_max.min(max_bytes));
                        let aborted = committed_only.then(|| {
                            log.aborted_between(p.fetch_offset, limit)
                                .into_iter()
                                .map(|a| {
                                    AbortedTransaction::default()
                                        .with_producer_id(ProducerId(a.producer_id))
                                        .with_first_offset(a.first_offset)
                                })
                                .collect()
                        });
                        resp.with_records(Some(records))
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

    /// Broker `node`'s ListOffsets answer (`node` 0 with a `code`: every partition fails
    /// with it).
    fn list_offsets(&self, node: i32, req: &Req, code: i16) -> Option<ListOffsetsResponse> {
        let r = ListOffsetsRequest::decode(&mut req.body.clone(), req.version).ok()?;
        let st = self.state();
        let committed_only = r.isolation_level == 1;
        let topics = r
            .topics
            .iter()
            .map(|t| {
                let partitions = t
                    .partitions
                    .iter()
                    .map(|p| {
                        let resp = ListOffsetsPartitionResponse::default()
                            .with_partition_index(p.partition_index)
                            .with_timestamp(-1);
                        if code != 0 {
                            return resp.with_error_code(code).with_offset(-1);
                        }
                        let Some(log) = st.log(&t.name, p.partition_index) else {
                            return resp
                                .with_error_code(UNKNOWN_TOPIC_OR_PARTITION)
                                .with_offset(-1);
                        };
                        if !st.leads(node, &t.name, p.partition_index) {
                            return resp.with_error_code(NOT_LEADER_OR_FOLLOWER).with_offset(-1);
                        }
                        let offset = match p.timestamp {
                            -2 => 0,
                            -1 if committed_only => log.last_stable_offset(),
                            -1 => log.end_offset(),
                            ts if ts >= 0 => log.offset_for_time(ts),
                            // Max timestamp (-3) and later specials: not modelled.
                            _ => -1,
                        };
                        resp.with_offset(offset)
                    })
                    .collect();
                ListOffsetsTopicResponse::default()
                    .with_name(t.name.clone())
                    .with_partitions(partitions)
            })
            .collect();
        Some(ListOffsetsResponse::default().with_topics(topics))
    }

    fn init_producer_id(&self, r: InitProducerIdRequest) -> InitProducerIdResponse {
        let mut st = self.state();
        st.next_producer_id += 1;
        let fresh = 1000 + st.next_producer_id;
        let (id, epoch) = match r.transactional_id {
            None => (fresh, 0),
            Some(txn) => {
                let (id, epoch) = *st
                    .producers
                    .entry(txn.to_string())
                    .and_modify(|(_, e)| *e += 1)
                    .or_insert((fresh, 0));
                // A new instance of a transactional id aborts what the old one left open.
                drop(st);
                self.end_txn_of(id, epoch, false);
                (id, epoch)
            }
        };
        InitProducerIdResponse::default()
            .with_producer_id(ProducerId(id))
            .with_producer_epoch(epoch)
    }

    fn end_txn(&self, r: &EndTxnRequest) {
        self.end_txn_of(r.producer_id.0, r.producer_epoch, r.committed);
    }

    fn end_txn_of(&self, producer_id: i64, epoch: i16, commit: bool) {
        let mut st = self.state();
        for topic in st.topics.values_mut() {
            for log in &mut topic.partitions {
                if log.has_open(producer_id) {
                    log.end_transaction(producer_id, epoch, commit);
                }
            }
        }
        let pending = st.pending_offsets.remove(&producer_id).unwrap_or_default();
        if commit {
            st.committed.extend(pending);
        }
    }

    fn offset_fetch(&self, r: &OffsetFetchRequest, version: i16) -> OffsetFetchResponse {
        let mut st = self.state();
        offset_fetch_answer(r, version, |group, member| {
            if let Some((m, epoch)) = member {
                st.check_member(group, m, epoch)?;
            }
            Ok(st
                .committed
                .iter()
                .filter(|((g, _, _), _)| g == group)
                .map(|((_, t, p), o)| ((t.clone(), *p), *o))
                .collect())
        })
    }
}
