//! Describe the KRaft metadata quorum (DescribeQuorum for `__cluster_metadata`-0;
//! brokers forward it to the active controller).

use std::time::Duration;

use kafka_client::{Error, ErrorContext, Result};
use kafka_protocol::messages::describe_quorum_request::{PartitionData, TopicData};
use kafka_protocol::messages::describe_quorum_response::ReplicaState;
use kafka_protocol::messages::{ApiKey, DescribeQuorumRequest, TopicName};

use crate::admin::{Admin, check_item, wire_str};
use crate::driver::retry_transient_errors;
use crate::one_request::OneRequest;

const METADATA_TOPIC: &str = "__cluster_metadata";

/// Options for [`Admin::describe_metadata_quorum`].
#[derive(Clone, Debug)]
pub struct QuorumOptions {
    timeout: Duration,
}

impl Default for QuorumOptions {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(60),
        }
    }
}

impl QuorumOptions {
    /// How long the whole call may take, retries included. Default 60 s.
    pub fn timeout(mut self, t: Duration) -> Self {
        self.timeout = t;
        self
    }
}

/// A voter or observer of the metadata log.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct QuorumReplica {
    /// Node id.
    pub id: i32,
    /// Its metadata log end offset.
    pub log_end_offset: i64,
    /// When the leader last heard from it (ms since the epoch), if known.
    pub last_fetch_timestamp: Option<i64>,
    /// When it was last caught up (ms since the epoch), if known.
    pub last_caught_up_timestamp: Option<i64>,
}

/// The metadata quorum, as [`Admin::describe_metadata_quorum`] reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct QuorumInfo {
    /// The active controller (quorum leader).
    pub leader_id: i32,
    /// The leader's epoch.
    pub leader_epoch: i32,
    /// The metadata log's high watermark.
    pub high_watermark: i64,
    /// The voters.
    pub voters: Vec<QuorumReplica>,
    /// The observers (brokers that are not voters).
    pub observers: Vec<QuorumReplica>,
}

impl QuorumInfo {
    /// How far `replica` is behind the leader's log end, in records.
    pub fn lag(&self, replica: &QuorumReplica) -> i64 {
        let leader_end = self
            .voters
            .iter()
            .find(|v| v.id == self.leader_id)
            .map_or(self.high_watermark, |v| v.log_end_offset);
        (leader_end - replica.log_end_offset).max(0)
    }
}

fn replica(r: &ReplicaState) -> QuorumReplica {
    QuorumReplica {
        id: r.replica_id.0,
        log_end_offset: r.log_end_offset,
        last_fetch_timestamp: (r.last_fetch_timestamp >= 0).then_some(r.last_fetch_timestamp),
        last_caught_up_timestamp: (r.last_caught_up_timestamp >= 0)
            .then_some(r.last_caught_up_timestamp),
    }
}

impl Admin {
    /// The KRaft metadata quorum: leader, voters, observers and how far each is behind.
    ///
    /// # Cancel safety
    /// Cancel-safe: read-only, and the admin client holds no state a dropped call could
    /// leave behind. Dropping it changes nothing; the next call works.
    pub async fn describe_metadata_quorum(&self, options: QuorumOptions) -> Result<QuorumInfo> {
        let api = ApiKey::DescribeQuorum;
        let one = OneRequest {
            client: &self.client,
            operation: "DescribeQuorum",
            api,
            timeout: options.timeout,
            target: self.any_broker_or_active_controller(),
            retry: retry_transient_errors,
        };
        one.run(|conn| async move {
            let req = DescribeQuorumRequest::default().with_topics(vec![
                TopicData::default()
                    .with_topic_name(TopicName(wire_str(METADATA_TOPIC)))
                    .with_partitions(vec![PartitionData::default().with_partition_index(0)]),
            ]);
            let resp = conn.request(&req).await?;
            let ctx = || ErrorContext::default().with_api(api);
            check_item(resp.error_code, ctx, resp.error_message.as_ref())?;
            let p = resp
                .topics
                .into_iter()
                .flat_map(|t| t.partitions)
                .next()
                .ok_or_else(|| Error::Protocol {
                    context: ErrorContext::default().with_api(api),
                    message: "the answer has no metadata partition".into(),
                })?;
            let ctx = || {
                ErrorContext::default()
                    .with_api(api)
                    .with_resource(METADATA_TOPIC)
            };
            check_item(p.error_code, ctx, p.error_message.as_ref())?;
            Ok(QuorumInfo {
                leader_id: p.leader_id.0,
                leader_epoch: p.leader_epoch,
                high_watermark: p.high_watermark,
                voters: p.current_voters.iter().map(replica).collect(),
                observers: p.observers.iter().map(replica).collect(),
            })
        })
        .await
    }
}
