//! Consumer group lag: per partition, the committed offset against the end offset, as
//! `kafka-consumer-groups.sh --describe` reports it.

use std::collections::BTreeMap;
use std::time::Duration;

use kafka_client::Result;
use kafka_client::lowlevel::RetryClock;

use crate::admin::Admin;
use crate::group_offsets::{ListGroupOffsetsOptions, PartitionResults};
use crate::groups::GroupsOptions;
use crate::offsets::{ListOffsetsOptions, OffsetSpec};
use crate::types::TopicPartition;

/// Options for [`Admin::consumer_group_lag`].
#[derive(Clone, Debug)]
pub struct GroupLagOptions {
    timeout: Duration,
    read_committed: bool,
}

impl Default for GroupLagOptions {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(60),
            read_committed: false,
        }
    }
}

impl GroupLagOptions {
    /// How long each step (describe, committed offsets, end offsets) may take. Default
    /// 60 s.
    pub fn timeout(mut self, t: Duration) -> Self {
        self.timeout = t;
        self
    }

    /// Measure against the last stable offset instead of the high watermark. Default
    /// false, as Kafka's own tool does.
    pub fn read_committed(mut self, v: bool) -> Self {
        self.read_committed = v;
        self
    }
}

/// One partition's lag.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct PartitionLag {
    /// The group's committed offset, if any.
    pub committed: Option<i64>,
    /// The partition's end offset (log end offset).
    pub end_offset: i64,
    /// `end_offset - committed`, when something is committed.
    pub lag: Option<i64>,
    /// The member the partition is assigned to, if any.
    pub member_id: Option<String>,
    /// That member's client id.
    pub client_id: Option<String>,
    /// That member's host.
    pub host: Option<String>,
}

impl Admin {
    /// A consumer group's lag for every partition it has committed offsets for or has
    /// assigned to a member. GROUP_ID_NOT_FOUND fails the call; a partition whose end
    /// offset cannot be found (its topic was deleted, ...) gets that error.
    ///
    /// # Cancel safety
    /// Cancel-safe: read-only, and the admin client holds no state a dropped call could
    /// leave behind. Dropping it changes nothing; the next call works.
    pub async fn consumer_group_lag(
        &self,
        group: &str,
        options: GroupLagOptions,
    ) -> Result<PartitionResults<PartitionLag>> {
        // One deadline for the three calls: each one's clock ends by it.
        let clock = RetryClock::new(&self.client, "ConsumerGroupLag", options.timeout);
        clock.bound(self.lag_of(group, &options)).await
    }

    async fn lag_of(
        &self,
        group: &str,
        options: &GroupLagOptions,
    ) -> Result<PartitionResults<PartitionLag>> {
        let described = self
            .describe_consumer_groups([group], GroupsOptions::default().timeout(options.timeout))
            .await?
            .remove(group)
            .unwrap_or_else(|| unreachable_group(group))?;
        let committed = self
            .list_consumer_group_offsets(
                group,
                ListGroupOffsetsOptions::default().timeout(options.timeout),
            )
            .await?;
        let mut owners: BTreeMap<TopicPartition, (String, String, String)> = BTreeMap::new();
        for m in &described.members {
            for tp in &m.assignment.partitions {
                let owner = (m.member_id.clone(), m.client_id.clone(), m.host.clone());
                owners.insert(tp.clone(), owner);
            }
        }
        let mut partitions: Vec<TopicPartition> = committed.keys().cloned().collect();
        partitions.extend(
            owners
                .keys()
                .filter(|tp| !committed.contains_key(*tp))
                .cloned(),
        );
        let ends = self
            .list_offsets(
                partitions.iter().map(|tp| (tp.clone(), OffsetSpec::Latest)),
                ListOffsetsOptions::default()
                    .timeout(options.timeout)
                    .read_committed(options.read_committed),
            )
            .await?;
        let mut out = BTreeMap::new();
        for tp in partitions {
            let committed = match committed.get(&tp) {
                Some(Err(e)) => {
                    out.insert(tp, Err(e.clone()));
                    continue;
                }
                Some(Ok(o)) => o.as_ref().map(|o| o.offset),
                None => None,
            };
            let end = match ends.get(&tp) {
                Some(Ok(end)) => end.offset.unwrap_or(0),
                Some(Err(e)) => {
                    out.insert(tp, Err(e.clone()));
                    continue;
                }
                None => continue,
            };
            let owner = owners.remove(&tp);
            let (member_id, client_id, host) = match owner {
                Some((m, c, h)) => (Some(m), Some(c), Some(h)),
                None => (None, None, None),
            };
            let lag = PartitionLag {
                committed,
                end_offset: end,
                lag: committed.map(|c| end - c),
                member_id,
                client_id,
                host,
            };
            out.insert(tp, Ok(lag));
        }
        Ok(out)
    }
}

fn unreachable_group<T>(group: &str) -> Result<T> {
    Err(kafka_client::Error::Protocol {
        context: kafka_client::ErrorContext::default().with_resource(group),
        message: "no description for the group".into(),
    })
}
