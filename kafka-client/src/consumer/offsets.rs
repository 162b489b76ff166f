//! Offset lookups by time (ListOffsets): log start (-2), log end (-1) or the first
//! offset at or after a timestamp. Sent to each partition's leader, retried on leader
//! moves and other retriable errors until the API timeout.

use std::collections::{BTreeMap, HashMap};

use kafka_protocol::messages::ApiKey;
use tokio::time::Instant;

use crate::client::Client;
use crate::error::{Error, ErrorContext, Result};
use crate::net::ConnectionKind;
use crate::ops::list_offsets::list_offsets_on;

use super::builder::IsolationLevel;
use crate::types::{OffsetAndTimestamp, TopicPartition};

/// The answer for one partition: `None` when no record has a timestamp at or after the
/// one asked for.
pub(crate) type Lookup = Result<Option<OffsetAndTimestamp>>;

/// Looks up `(partition, timestamp)` pairs; every partition gets an answer.
pub(crate) async fn list_offsets(
    client: &Client,
    isolation: IsolationLevel,
    queries: &[(TopicPartition, i64)],
) -> BTreeMap<TopicPartition, Lookup> {
    let deadline = Instant::now() + client.config().api_timeout();
    let mut out = BTreeMap::new();
    let mut todo: Vec<(TopicPartition, i64)> = queries.to_vec();
    let mut last_error: HashMap<TopicPartition, Error> = HashMap::new();
    for attempt in 0u32.. {
        let mut by_leader: BTreeMap<i32, Vec<(TopicPartition, i64)>> = BTreeMap::new();
        let mut retry = Vec::new();
        for (tp, ts) in todo.drain(..) {
            match client.leader(&tp.topic, tp.partition).await {
                Ok((leader, _)) => by_leader.entry(leader).or_default().push((tp, ts)),
                Err(e) if e.is_retriable() => {
                    last_error.insert(tp.clone(), e);
                    retry.push((tp, ts));
                }
                Err(e) => {
                    out.insert(tp, Err(e));
                }
            }
        }
        let sends = by_leader
            .into_iter()
            .map(|(leader, parts)| send_one(client, isolation, leader, parts));
        for (parts, result) in futures::future::join_all(sends).await {
            match result {
                Err(e) => {
                    for (tp, ts) in parts {
                        if e.is_retriable() {
                            last_error.insert(tp.clone(), e.clone());
                            retry.push((tp, ts));
                        } else {
                            out.insert(tp, Err(e.clone()));
                        }
                    }
                }
                Ok(answers) => {
                    for (tp, ts) in parts {
                        match answers.get(&tp) {
                            Some(Ok(v)) => {
                                out.insert(tp, Ok(*v));
                            }
                            Some(Err(e)) if e.is_retriable() => {
                                if e.is_stale_metadata() {
                                    client.invalidate_topic(&tp.topic);
                                }
                                last_error.insert(tp.clone(), e.clone());
                                retry.push((tp, ts));
                            }
                            Some(Err(e)) => {
                                out.insert(tp, Err(e.clone()));
                            }
                            None => {
                                out.insert(
                                    tp.clone(),
                                    Err(Error::Protocol {
                                        context: ErrorContext::default()
                                            .with_api(ApiKey::ListOffsets)
                                            .with_resource(tp.topic.clone())
                                            .with_partition(tp.partition),
                                        message: "the response does not mention the partition"
                                            .into(),
                                    }),
                                );
                            }
                        }
                    }
                }
            }
        }
        if retry.is_empty() {
            break;
        }
        let wait = client.retry_backoff(attempt);
        if Instant::now() + wait >= deadline {
            for (tp, _) in retry {
                let last = last_error.remove(&tp).map(Box::new);
                out.insert(
                    tp,
                    Err(Error::Deadline {
                        operation: "ListOffsets".into(),
                        timeout: client.config().api_timeout(),
                        last_error: last,
                    }),
                );
            }
            break;
        }
        tokio::time::sleep(wait).await;
        todo = retry;
    }
    out
}

type Answers = HashMap<TopicPartition, Lookup>;

async fn send_one(
    client: &Client,
    isolation: IsolationLevel,
    leader: i32,
    parts: Vec<(TopicPartition, i64)>,
) -> (Vec<(TopicPartition, i64)>, Result<Answers>) {
    let result = async {
        // The general connection: a long-polling fetch on the fetch connection would hold
        // this request behind it.
        let conn = client.connection(leader, ConnectionKind::General).await?;
        let read_committed = isolation == IsolationLevel::ReadCommitted;
        let timeout = client.config().request_timeout();
        let answers = list_offsets_on(&conn, &parts, read_committed, timeout).await?;
        Ok(answers
            .into_iter()
            .map(|(tp, answer)| {
                let lookup = answer.map(|a| {
                    a.offset.map(|offset| OffsetAndTimestamp {
                        offset,
                        timestamp: a.timestamp.unwrap_or(-1),
                        leader_epoch: a.leader_epoch,
                    })
                });
                (tp, lookup)
            })
            .collect())
    }
    .await;
    (parts, result)
}
