//! The share consumer's requests on a real broker: ShareGroupHeartbeat through the
//! group's coordinator, ShareFetch and ShareAcknowledge to partition leaders (on the
//! broker's `Fetch` connection), topic routes from the client's metadata. The messages
//! are Kafka 4.4's (`protocol_gen`); nothing of them leaves this file.

use std::collections::BTreeMap;
use std::sync::Arc;

use kafka_protocol::messages::ApiKey;
use kafka_protocol::protocol::{Request, StrBytes, VersionRange};

use super::acks::AckBatch;
use super::exchange::{
    AckAsk, Acquired, FetchAsk, PartitionAnswer, ShareAnswer, ShareWire, TopicRoute,
};
use super::membership::{Assignment, HeartbeatReply, HeartbeatRequest};
use super::session::IdPartition;
use crate::client::Client;
use crate::error::{Error, ErrorCode, ErrorContext, Result};
use crate::net::{Connection, ConnectionKind};
use crate::ops::CoordinatorLink;
use crate::protocol_gen::share_acknowledge_request::{
    AcknowledgePartition, AcknowledgeTopic, AcknowledgementBatch as AckWireBatch,
    ShareAcknowledgeRequest,
};
use crate::protocol_gen::share_fetch_request::{
    AcknowledgementBatch, FetchPartition, FetchTopic, ForgottenTopic, ShareFetchRequest,
};
use crate::protocol_gen::share_group_heartbeat_request::ShareGroupHeartbeatRequest;
use crate::types::BoxFuture;

/// The broker side of [`ShareWire`].
#[derive(Debug)]
pub(crate) struct BrokerWire {
    client: Client,
    link: CoordinatorLink,
    group: StrBytes,
}

impl BrokerWire {
    pub(crate) fn new(client: Client, group_id: String) -> Self {
        Self {
            link: CoordinatorLink::new(client.clone(), group_id.clone()),
            group: StrBytes::from_string(group_id),
            client,
        }
    }

    async fn heartbeat_once(&self, req: HeartbeatRequest) -> Result<HeartbeatReply> {
        let conn = self.link.connection().await?;
        let version =
            conn.negotiate::<ShareGroupHeartbeatRequest>(VersionRange { min: 1, max: 1 })?;
        let wire = ShareGroupHeartbeatRequest::default()
            .with_group_id(self.group.clone())
            .with_member_id(StrBytes::from_string(req.member_id))
            .with_member_epoch(req.member_epoch)
            .with_subscribed_topic_names(
                req.subscription
                    .map(|t| t.into_iter().map(StrBytes::from_string).collect()),
            );
        let timeout = self.client.config().request_timeout();
        let resp = match conn.request_at(&wire, version, timeout).await {
            Ok(r) => r,
            Err(e) => {
                if CoordinatorLink::is_coordinator_error(&e) {
                    self.link.invalidate();
                }
                return Err(e);
            }
        };
        let error = ErrorCode::from_code(resp.error_code);
        if matches!(
            error,
            Some(ErrorCode::NOT_COORDINATOR | ErrorCode::COORDINATOR_NOT_AVAILABLE)
        ) {
            self.link.invalidate();
        }
        let assignment = resp.assignment.map(|a| {
            let mut out = Assignment::new();
            for t in a.topic_partitions {
                out.entry(t.topic_id).or_default().extend(t.partitions);
            }
            out
        });
        Ok(HeartbeatReply {
            error,
            message: resp.error_message.map(|m| m.to_string()),
            member_id: resp.member_id.map(|m| m.to_string()),
            member_epoch: resp.member_epoch,
            heartbeat_interval_ms: resp.heartbeat_interval_ms,
            assignment,
        })
    }

    /// The leader's `Fetch` connection and the version of `R` (1-2; 2 when `renew`).
    async fn leader<R: Request>(
        &self,
        broker: i32,
        renew: bool,
        api: ApiKey,
    ) -> Result<(Connection, i16)> {
        let conn = self
            .client
            .connection(broker, ConnectionKind::Fetch)
            .await?;
        let version = conn.negotiate::<R>(VersionRange { min: 1, max: 2 })?;
        if renew && version < 2 {
            return Err(renew_unsupported(broker, api, version));
        }
        Ok((conn, version))
    }

    async fn fetch_once(&self, broker: i32, ask: FetchAsk) -> Result<ShareAnswer> {
        let (conn, version) = self
            .leader::<ShareFetchRequest>(broker, ask.renew, ApiKey::ShareFetch)
            .await?;
        let topics = wire_topics(
            ask.partitions,
            |id, parts| {
                FetchTopic::default()
                    .with_topic_id(id)
                    .with_partitions(parts)
            },
            |p, batches| {
                FetchPartition::default()
                    .with_partition_index(p)
                    .with_acknowledgement_batches(batches)
            },
            |b| {
                AcknowledgementBatch::default()
                    .with_first_offset(b.first)
                    .with_last_offset(b.last)
                    .with_acknowledge_types(b.types)
            },
        );
        let mut forgotten: BTreeMap<uuid::Uuid, Vec<i32>> = BTreeMap::new();
        for (id, p) in ask.forgotten {
            forgotten.entry(id).or_default().push(p);
        }
        let req = ShareFetchRequest::default()
            .with_group_id(Some(self.group.clone()))
            .with_member_id(Some(StrBytes::from_string(ask.member_id)))
            .with_share_session_epoch(ask.session_epoch)
            .with_max_wait_ms(ask.max_wait_ms)
            .with_min_bytes(ask.min_bytes)
            .with_max_bytes(ask.max_bytes)
            .with_max_records(ask.max_records)
            .with_batch_size(ask.batch_size)
            .with_share_acquire_mode(ask.acquire_mode)
            .with_is_renew_ack(ask.renew)
            .with_topics(topics)
            .with_forgotten_topics_data(
                forgotten
                    .into_iter()
                    .map(|(id, parts)| {
                        ForgottenTopic::default()
                            .with_topic_id(id)
                            .with_partitions(parts)
                    })
                    .collect(),
            );
        let timeout = self.client.config().request_timeout()
            + std::time::Duration::from_millis(ask.max_wait_ms.max(0) as u64);
        let resp = conn.request_at(&req, version, timeout).await?;
        let mut partitions = Vec::new();
        for t in resp.responses {
            for p in t.partitions {
                partitions.push(PartitionAnswer {
                    id: (t.topic_id, p.partition_index),
                    error: ErrorCode::from_code(p.error_code),
                    message: p.error_message.map(|m| m.to_string()),
                    ack_error: ErrorCode::from_code(p.acknowledge_error_code),
                    ack_message: p.acknowledge_error_message.map(|m| m.to_string()),
                    records: p.records.unwrap_or_default(),
                    acquired: p
                        .acquired_records
                        .into_iter()
                        .map(|a| Acquired {
                            first: a.first_offset,
                            last: a.last_offset,
                            delivery_count: a.delivery_count,
                        })
                        .collect(),
                });
            }
        }
        Ok(ShareAnswer {
            error: ErrorCode::from_code(resp.error_code),
            message: resp.error_message.map(|m| m.to_string()),
            lock_timeout_ms: Some(resp.acquisition_lock_timeout_ms),
            partitions,
        })
    }

    async fn acknowledge_once(&self, broker: i32, ask: AckAsk) -> Result<ShareAnswer> {
        let (conn, version) = self
            .leader::<ShareAcknowledgeRequest>(broker, ask.renew, ApiKey::ShareAcknowledge)
            .await?;
        let topics = wire_topics(
            ask.partitions,
            |id, parts| {
                AcknowledgeTopic::default()
                    .with_topic_id(id)
                    .with_partitions(parts)
            },
            |p, batches| {
                AcknowledgePartition::default()
                    .with_partition_index(p)
                    .with_acknowledgement_batches(batches)
            },
            |b| {
                AckWireBatch::default()
                    .with_first_offset(b.first)
                    .with_last_offset(b.last)
                    .with_acknowledge_types(b.types)
            },
        );
        let req = ShareAcknowledgeRequest::default()
            .with_group_id(Some(self.group.clone()))
            .with_member_id(Some(StrBytes::from_string(ask.member_id)))
            .with_share_session_epoch(ask.session_epoch)
            .with_is_renew_ack(ask.renew)
            .with_topics(topics);
        let timeout = self.client.config().request_timeout();
        let resp = conn.request_at(&req, version, timeout).await?;
        let mut partitions = Vec::new();
        for t in resp.responses {
            for p in t.partitions {
                partitions.push(PartitionAnswer {
                    id: (t.topic_id, p.partition_index),
                    error: ErrorCode::from_code(p.error_code),
                    message: p.error_message.map(|m| m.to_string()),
                    ..PartitionAnswer::default()
                });
            }
        }
        Ok(ShareAnswer {
            error: ErrorCode::from_code(resp.error_code),
            message: resp.error_message.map(|m| m.to_string()),
            lock_timeout_ms: (version >= 2).then_some(resp.acquisition_lock_timeout_ms),
            partitions,
        })
    }
}

/// `Renew` on a broker without ShareFetch/ShareAcknowledge v2 (before Kafka 4.2).
fn renew_unsupported(broker: i32, api: ApiKey, version: i16) -> Error {
    Error::UnsupportedVersion {
        api,
        context: ErrorContext {
            broker: Some(broker),
            ..ErrorContext::default()
        }
        .with_api(api),
        client_min: 2,
        client_max: 2,
        broker_versions: format!("up to {version} (lock renewal, KIP-1222, needs 2)"),
    }
}

/// A request's topics: the partitions grouped by topic id (in order), each with its
/// acknowledgement batches, built with the request's own types.
fn wire_topics<T, P, B>(
    parts: Vec<(IdPartition, Vec<AckBatch>)>,
    topic: impl Fn(uuid::Uuid, Vec<P>) -> T,
    partition: impl Fn(i32, Vec<B>) -> P,
    batch: impl Fn(AckBatch) -> B,
) -> Vec<T> {
    let mut by_topic: BTreeMap<uuid::Uuid, Vec<P>> = BTreeMap::new();
    for ((id, p), batches) in parts {
        let batches = batches.into_iter().map(&batch).collect();
        by_topic.entry(id).or_default().push(partition(p, batches));
    }
    by_topic
        .into_iter()
        .map(|(id, parts)| topic(id, parts))
        .collect()
}

impl ShareWire for BrokerWire {
    fn heartbeat(&self, req: HeartbeatRequest) -> BoxFuture<'_, Result<HeartbeatReply>> {
        Box::pin(self.heartbeat_once(req))
    }

    fn fetch(&self, broker: i32, ask: FetchAsk) -> BoxFuture<'_, Result<ShareAnswer>> {
        Box::pin(self.fetch_once(broker, ask))
    }

    fn acknowledge(&self, broker: i32, ask: AckAsk) -> BoxFuture<'_, Result<ShareAnswer>> {
        Box::pin(self.acknowledge_once(broker, ask))
    }

    fn routes(&self, topics: Vec<String>, refresh: bool) -> BoxFuture<'_, Result<Vec<TopicRoute>>> {
        Box::pin(async move {
            let names: Vec<&str> = topics.iter().map(String::as_str).collect();
            let cached = self.client.cached_metadata();
            let meta = if refresh || topics.iter().any(|t| cached.topic(t).is_none()) {
                self.client.refresh_topics(&names).await?
            } else {
                cached
            };
            Ok(topics
                .iter()
                .filter_map(|t| meta.topic(t))
                .map(|info| TopicRoute {
                    id: info.id,
                    name: Arc::from(info.name.as_str()),
                    leaders: info
                        .partitions
                        .iter()
                        .filter_map(|p| p.leader.map(|l| (p.partition, l)))
                        .collect(),
                })
                .collect())
        })
    }
}
