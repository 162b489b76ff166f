//! The Fetch request's wire form and the reading of its answer, apart from the
//! connection that carries them (`fetcher.rs`, `fetch`): which versions to offer, the
//! request built from the planned partitions and the session's plan, the session
//! outcome an answer means, and the answer split into each partition's CRC-checked
//! batches, errors, offsets and leader hints.

use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic, ForgottenTopic};
use kafka_protocol::messages::{ApiKey, BrokerId, FetchRequest, FetchResponse, TopicName};
use kafka_protocol::protocol::{StrBytes, VersionRange};
use tokio::time::Duration;

use super::{PartData, Sent};
use crate::consumer::builder::ConsumerConfig;
use crate::consumer::fetch_session::{FetchSession, SessionOutcome, SessionRequest};
use crate::consumer::state::Shared;
use crate::error::{Error, ErrorCode, ErrorContext, Result};
use crate::records::{DecodeLimits, decode_batches};
use crate::types::TopicPartition;

/// The Fetch versions to offer: up to v17 when every planned topic's id is known (v13+
/// names topics by id), else up to v12 (by name). v4 is the oldest that carries the
/// isolation level and the last stable offset.
pub(super) fn versions(sent: &[Sent]) -> VersionRange {
    let by_id = sent.iter().all(|s| !s.topic_id.is_nil());
    VersionRange {
        min: 4,
        max: if by_id { 17 } else { 12 },
    }
}

/// Whether a request of `version` names topics by id (KIP-516: Fetch v13+).
pub(super) fn names_topics_by_id(version: i16) -> bool {
    version >= 13
}

/// Whether a request of `version` takes part in a fetch session (KIP-227: Fetch v7+,
/// unless the consumer turned sessions off).
pub(super) fn uses_sessions(version: i16, cfg: &ConsumerConfig) -> bool {
    version >= 7 && cfg.fetch_sessions
}

/// How long a Fetch may take: the request timeout plus the time the broker may hold it
/// waiting for data (`fetch.max.wait`).
pub(super) fn timeout(shared: &Shared) -> Duration {
    shared.client.config().request_timeout() + shared.config.fetch_max_wait
}

/// The Fetch request for the partitions of `sent` that the session's `plan` carries
/// (grouped by topic, in `sent`'s order), with the partitions it forgets.
pub(super) fn fetch_request(
    cfg: &ConsumerConfig,
    sent: &[Sent],
    plan: &SessionRequest,
    by_id: bool,
) -> FetchRequest {
    // The partitions the request carries, in `sent`'s order (sorted by topic: planned
    // from the sorted assignment): one pass groups them, each topic's vector sized once.
    let carried: Vec<&Sent> = plan.send.iter().map(|i| &sent[*i]).collect();
    let mut topics: Vec<FetchTopic> = Vec::with_capacity(1);
    let mut rest = &carried[..];
    while let Some(first) = rest.first() {
        let topic = first.tp.topic.as_str();
        let n = rest.iter().take_while(|s| s.tp.topic == topic).count();
        let (group, tail) = rest.split_at(n);
        rest = tail;
        let partitions = group
            .iter()
            .map(|s| {
                FetchPartition::default()
                    .with_partition(s.tp.partition)
                    .with_current_leader_epoch(-1)
                    .with_fetch_offset(s.fetch_offset)
                    .with_last_fetched_epoch(-1)
                    .with_log_start_offset(-1)
                    .with_partition_max_bytes(cfg.max_partition_fetch_bytes)
            })
            .collect();
        let topic = FetchTopic::default().with_partitions(partitions);
        topics.push(if by_id {
            topic.with_topic_id(first.topic_id)
        } else {
            topic.with_topic(first.wire.clone())
        });
    }
    FetchRequest::default()
        .with_replica_id(BrokerId(-1))
        .with_max_wait_ms(cfg.fetch_max_wait.as_millis() as i32)
        .with_min_bytes(cfg.fetch_min_bytes)
        .with_max_bytes(cfg.fetch_max_bytes)
        .with_isolation_level(cfg.isolation_level.wire())
        .with_session_id(plan.session_id)
        .with_session_epoch(plan.epoch)
        .with_topics(topics)
        .with_forgotten_topics_data(forgotten(&plan.forget, by_id, sent))
        .with_rack_id(
            cfg.client_rack
                .clone()
                .map(StrBytes::from_string)
                .unwrap_or_default(),
        )
}

/// What an answer (or its absence) means for the fetch session.
pub(super) fn session_outcome(resp: &Result<FetchResponse>) -> SessionOutcome {
    match resp {
        Ok(r) => match ErrorCode::from_code(r.error_code) {
            None => SessionOutcome::Answered {
                session_id: r.session_id,
            },
            Some(code) => SessionOutcome::Error(code),
        },
        Err(_) => SessionOutcome::Failed,
    }
}

/// Hands `outcome` to the session; true when it made the session start over.
pub(super) fn settle(session: &mut FetchSession, outcome: SessionOutcome) -> bool {
    let before = session.resets();
    session.on_outcome(outcome);
    session.resets() > before
}

/// Reads a Fetch answer from broker `broker` at `address` (named in errors): a
/// request-level error is the whole fetch's error; otherwise each partition of `sent`
/// that the answer names gets its batches (decoded up to the first bad one), error,
/// offsets and aborted transactions, at its index in `sent`. Partitions and topics not
/// asked for are ignored. A leader hint (KIP-951) on NOT_LEADER_OR_FOLLOWER or
/// FENCED_LEADER_EPOCH is applied to the cached metadata.
pub(super) fn read_answer(
    shared: &Shared,
    broker: i32,
    address: &str,
    sent: &[Sent],
    resp: FetchResponse,
    by_id: bool,
) -> Result<Vec<Option<PartData>>> {
    if let Some(code) = ErrorCode::from_code(resp.error_code) {
        // The context (an owned address) is built on this path only, not per Fetch.
        let context = ErrorContext::broker(Some(broker), address).with_api(ApiKey::Fetch);
        return Err(Error::broker(code, context, None));
    }
    let limits = DecodeLimits {
        verify_crc: shared.config.check_crcs,
        ..DecodeLimits::default()
    };
    let telemetry = shared.client.telemetry();
    let endpoints = crate::cluster::BrokerInfo::from_endpoints(
        resp.node_endpoints
            .iter()
            .map(|n| (n.node_id.0, n.host.as_str(), n.port, n.rack.as_deref())),
    );
    let mut out: Vec<Option<PartData>> = Vec::with_capacity(sent.len());
    out.resize_with(sent.len(), || None);
    for t in resp.responses {
        // v13+ answers by topic id: the name is the one the id was sent for.
        let topic_name = if by_id {
            match sent.iter().find(|s| s.topic_id == t.topic_id) {
                Some(s) => s.tp.topic.as_str(),
                None => continue, // not asked for: ignored
            }
        } else {
            t.topic.0.as_str()
        };
        for p in t.partitions {
            let Some(at) = super::sent_index(sent, topic_name, p.partition_index) else {
                continue; // not asked for: ignored
            };
            let records = p.records.unwrap_or_default();
            let bytes = records.len();
            telemetry.partition_fetched(
                broker,
                topic_name,
                p.partition_index,
                bytes,
                p.high_watermark,
            );
            let mut batches = Vec::with_capacity(complete_batches(&records));
            let mut decode_error = None;
            let mut decoder = decode_batches(records, limits);
            for b in decoder.by_ref() {
                match b {
                    Ok(b) => batches.push(b),
                    Err(e) => {
                        decode_error = Some(e);
                        break;
                    }
                }
            }
            let truncated_only = batches.is_empty() && decode_error.is_none() && bytes > 0;
            let error = ErrorCode::from_code(p.error_code);
            let leader_moved = matches!(
                error,
                Some(ErrorCode::NOT_LEADER_OR_FOLLOWER | ErrorCode::FENCED_LEADER_EPOCH)
            ) && shared.client.apply_leader_hint(
                topic_name,
                p.partition_index,
                p.current_leader.leader_id.0,
                p.current_leader.leader_epoch,
                &endpoints,
            );
            out[at] = Some(PartData {
                error,
                leader_moved,
                preferred_read_replica: p.preferred_read_replica.0,
                high_watermark: p.high_watermark,
                last_stable_offset: p.last_stable_offset,
                log_start_offset: p.log_start_offset,
                aborted: p
                    .aborted_transactions
                    .unwrap_or_default()
                    .iter()
                    .map(|a| (a.producer_id.0, a.first_offset))
                    .collect(),
                batches,
                decode_error,
                truncated_only,
                bytes,
            });
        }
    }
    Ok(out)
}

/// The request's `forgotten_topics_data`: the partitions to drop from the session, by
/// topic (id or name, as the request names topics).
pub(super) fn forgotten(
    forget: &[(TopicPartition, uuid::Uuid)],
    by_id: bool,
    sent: &[Sent],
) -> Vec<ForgottenTopic> {
    let mut out: Vec<ForgottenTopic> = Vec::new();
    for (tp, id) in forget {
        let same = out.last().is_some_and(|last| {
            if by_id {
                last.topic_id == *id
            } else {
                *last.topic.0 == *tp.topic
            }
        });
        if !same {
            let t = ForgottenTopic::default();
            out.push(if by_id {
                t.with_topic_id(*id)
            } else {
                // The wire name from `sent` when there (no copy), else a new one.
                let wire = sent
                    .iter()
                    .find(|s| s.tp.topic == tp.topic)
                    .map(|s| s.wire.clone())
                    .unwrap_or_else(|| TopicName(StrBytes::from_string(tp.topic.clone())));
                t.with_topic(wire)
            });
        }
        if let Some(last) = out.last_mut() {
            last.partitions.push(tp.partition);
        }
    }
    out
}

/// How many complete batches `records` holds, from the length fields alone (the decoder
/// checks everything else): the batch vector is sized once.
pub(super) fn complete_batches(records: &[u8]) -> usize {
    const LENGTH_AT: usize = 8;
    const LOG_OVERHEAD: usize = 12;
    let (mut pos, mut n) = (0usize, 0usize);
    while let Some(len) = records.get(pos + LENGTH_AT..pos + LOG_OVERHEAD) {
        let len = i32::from_be_bytes([len[0], len[1], len[2], len[3]]);
        let Ok(len) = usize::try_from(len) else { break };
        pos = pos.saturating_add(LOG_OVERHEAD).saturating_add(len);
        if pos > records.len() {
            break;
        }
        n += 1;
    }
    n
}

#[cfg(test)]
#[path = "../unit_tests/fetch_wire.rs"]
mod tests;
