//! Leader election (ElectLeaders, at the controller): preferred or unclean, for some
//! partitions or all.

use std::collections::BTreeMap;
use std::time::Duration;

use kafka_client::lowlevel::Target;
use kafka_client::{Error, ErrorCode, ErrorContext, Result};
use kafka_protocol::messages::elect_leaders_request::TopicPartitions;
use kafka_protocol::messages::elect_leaders_response::ReplicaElectionResult;
use kafka_protocol::messages::{ApiKey, ElectLeadersRequest, TopicName};

use crate::admin::{Admin, check_item, timeout_ms, wire_str};
use crate::driver::{Call, fixed};
use crate::one_request::OneRequest;
use crate::types::TopicPartition;

/// Which leader to elect.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ElectionType {
    /// The preferred replica (first of the replica list), when it is in sync.
    Preferred,
    /// Any live replica, even one out of sync (may lose records).
    Unclean,
}

impl ElectionType {
    fn code(self) -> i8 {
        match self {
            Self::Preferred => 0,
            Self::Unclean => 1,
        }
    }
}

/// Options for [`Admin::elect_leaders`].
#[derive(Clone, Debug)]
pub struct ElectLeadersOptions {
    timeout: Duration,
}

impl Default for ElectLeadersOptions {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(60),
        }
    }
}

impl ElectLeadersOptions {
    /// How long the whole call may take, retries included. Default 60 s.
    pub fn timeout(mut self, t: Duration) -> Self {
        self.timeout = t;
        self
    }
}

/// Retry only a moved controller and transport failures: PREFERRED_LEADER_NOT_AVAILABLE
/// and ELIGIBLE_LEADERS_NOT_AVAILABLE are answers, not reasons to wait.
fn retry_election_errors(e: &Error) -> bool {
    match e.code() {
        Some(c) => c == ErrorCode::NOT_CONTROLLER,
        None => e.is_retriable(),
    }
}

fn results(api: ApiKey, answers: Vec<ReplicaElectionResult>) -> Vec<(TopicPartition, Result<()>)> {
    let mut out = Vec::new();
    for t in answers {
        let topic = t.topic.0.to_string();
        for p in t.partition_result {
            let tp = TopicPartition::new(topic.clone(), p.partition_id);
            let ctx = || {
                ErrorContext::default()
                    .with_api(api)
                    .with_resource(&tp.topic)
                    .with_partition(tp.partition)
            };
            let result = check_item(p.error_code, ctx, p.error_message.as_ref());
            out.push((tp, result));
        }
    }
    out
}

impl Admin {
    /// Elects leaders for `partitions` (every partition when `None`), with a result per
    /// partition: ELECTION_NOT_NEEDED when the wanted leader already leads,
    /// PREFERRED_LEADER_NOT_AVAILABLE when the preferred replica is down or out of sync,
    /// ELIGIBLE_LEADERS_NOT_AVAILABLE, UNKNOWN_TOPIC_OR_PARTITION, ... With `None` the
    /// map holds the partitions the controller reported on.
    ///
    /// # Cancel safety
    /// The admin client holds no state a dropped call could leave behind, and the next call
    /// works. The change may or may not have been applied: dropped after a request was
    /// sent, the broker (or controller, or coordinator) may still apply it. Read the state
    /// back to know.
    pub async fn elect_leaders(
        &self,
        election: ElectionType,
        partitions: Option<Vec<TopicPartition>>,
        options: ElectLeadersOptions,
    ) -> Result<BTreeMap<TopicPartition, Result<()>>> {
        let api = ApiKey::ElectLeaders;
        let timeout = options.timeout;
        let request = move |parts: Option<Vec<TopicPartitions>>| {
            ElectLeadersRequest::default()
                .with_election_type(election.code())
                .with_topic_partitions(parts)
                .with_timeout_ms(timeout_ms(timeout))
        };
        let Some(partitions) = partitions else {
            let one = OneRequest {
                client: &self.client,
                operation: "ElectLeaders",
                api,
                timeout,
                target: Target::Controller,
                retry: retry_election_errors,
            };
            return one
                .run(|conn| async move {
                    let resp = conn.request(&request(None)).await?;
                    let ctx = || ErrorContext::default().with_api(api);
                    check_item(resp.error_code, ctx, None)?;
                    Ok(results(api, resp.replica_election_results)
                        .into_iter()
                        .collect())
                })
                .await;
        };
        let items: BTreeMap<TopicPartition, ()> =
            partitions.into_iter().map(|tp| (tp, ())).collect();
        let call =
            Call::new(&self.client, "ElectLeaders", api, timeout).retry(retry_election_errors);
        Ok(call
            .run(
                items,
                |keys| fixed(Target::Controller, keys),
                |conn, batch| async move {
                    let mut by_topic: BTreeMap<&str, Vec<i32>> = BTreeMap::new();
                    for (tp, ()) in &batch {
                        by_topic.entry(&tp.topic).or_default().push(tp.partition);
                    }
                    let parts = by_topic
                        .into_iter()
                        .map(|(t, ps)| {
                            TopicPartitions::default()
                                .with_topic(TopicName(wire_str(t)))
                                .with_partitions(ps)
                        })
                        .collect();
                    let resp = conn.request(&request(Some(parts))).await?;
                    let ctx = || ErrorContext::default().with_api(api);
                    check_item(resp.error_code, ctx, None)?;
                    Ok(results(api, resp.replica_election_results))
                },
            )
            .await)
    }
}
