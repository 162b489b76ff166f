//! Transactions and producers: list (ListTransactions, every broker), describe
//! (DescribeTransactions, each id's coordinator), describe producers (DescribeProducers,
//! each partition's leader), abort a hanging transaction (WriteTxnMarkers, the
//! partition's leader) and fence producers (InitProducerId, each id's coordinator).

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use kafka_client::lowlevel::Target;
use kafka_client::lowlevel::init_producer_id_on;
use kafka_client::{Error, ErrorCode, ErrorContext, Result};
use kafka_protocol::messages::describe_producers_request::TopicRequest;
use kafka_protocol::messages::write_txn_markers_request::{
    WritableTxnMarker, WritableTxnMarkerTopic,
};
use kafka_protocol::messages::{
    ApiKey, DescribeProducersRequest, DescribeTransactionsRequest, ListTransactionsRequest,
    ProducerId, TopicName, TransactionalId, WriteTxnMarkersRequest,
};

use crate::admin::{Admin, check_item, item_error, wire_str};
use crate::driver::transaction_coordinators;
use crate::driver::{Call, Route, is_coordinator_error, leaders, retry_transient_errors};
use crate::transaction_types::{
    AbortTransactionSpec, ProducerState, TransactionDescription, TransactionListing,
};
use crate::types::TopicPartition;

/// Options for the transaction calls.
#[derive(Clone, Debug)]
pub struct TransactionsOptions {
    timeout: Duration,
}

impl Default for TransactionsOptions {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(60),
        }
    }
}

impl TransactionsOptions {
    /// How long the whole call may take, retries included. Default 60 s.
    pub fn timeout(mut self, t: Duration) -> Self {
        self.timeout = t;
        self
    }
}

/// Which transactions [`Admin::list_transactions`] lists (all when left empty).
#[derive(Clone, Debug, Default)]
pub struct TransactionFilter {
    states: Vec<String>,
    producer_ids: Vec<i64>,
    running_longer_than: Option<Duration>,
}

impl TransactionFilter {
    /// Only transactions in one of these states (`Ongoing`, `PrepareCommit`, ...).
    pub fn states(mut self, states: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.states = states.into_iter().map(Into::into).collect();
        self
    }

    /// Only these producer ids.
    pub fn producer_ids(mut self, ids: impl IntoIterator<Item = i64>) -> Self {
        self.producer_ids = ids.into_iter().collect();
        self
    }

    /// Only transactions running longer than this (ListTransactions v1+).
    pub fn running_longer_than(mut self, d: Duration) -> Self {
        self.running_longer_than = Some(d);
        self
    }
}

/// Retry coordinator moves, CONCURRENT_TRANSACTIONS (a fenced transaction still
/// aborting) and transport failures.
fn retry_transaction_errors(e: &Error) -> bool {
    match e.code() {
        Some(c) => is_coordinator_error(c) || c == ErrorCode::CONCURRENT_TRANSACTIONS,
        None => e.is_retriable(),
    }
}

fn tp_context(api: ApiKey, tp: &TopicPartition) -> ErrorContext {
    ErrorContext::default()
        .with_api(api)
        .with_resource(&tp.topic)
        .with_partition(tp.partition)
}

impl Admin {
    /// The transactions every broker coordinates, with a result per broker.
    ///
    /// # Cancel safety
    /// Cancel-safe: read-only, and the admin client holds no state a dropped call could
    /// leave behind. Dropping it changes nothing; the next call works.
    pub async fn list_transactions(
        &self,
        filter: TransactionFilter,
        options: TransactionsOptions,
    ) -> Result<BTreeMap<i32, Result<Vec<TransactionListing>>>> {
        let api = ApiKey::ListTransactions;
        let call = Call::new(&self.client, "ListTransactions", api, options.timeout)
            .retry(retry_transient_errors);
        let meta = call.bound(self.client.metadata()).await?;
        let items: BTreeMap<i32, ()> = meta.brokers.keys().map(|b| (*b, ())).collect();
        let filter = &filter;
        Ok(call
            .run(
                items,
                |keys| async move {
                    Ok(keys
                        .into_iter()
                        .map(|b| (b, Route::To(Target::Broker(b))))
                        .collect())
                },
                |conn, batch| async move {
                    let mut req = ListTransactionsRequest::default()
                        .with_state_filters(filter.states.iter().map(|s| wire_str(s)).collect())
                        .with_producer_id_filters(
                            filter.producer_ids.iter().map(|p| ProducerId(*p)).collect(),
                        );
                    if let Some(d) = filter.running_longer_than {
                        req = req.with_duration_filter(d.as_millis().min(i64::MAX as u128) as i64);
                    }
                    let mut out = Vec::new();
                    for (broker, ()) in batch {
                        let resp = conn.request(&req).await?;
                        let ctx = || ErrorContext::default().with_api(api);
                        let result = check_item(resp.error_code, ctx, None).map(|()| {
                            resp.transaction_states
                                .iter()
                                .map(|t| TransactionListing {
                                    transactional_id: t.transactional_id.0.to_string(),
                                    producer_id: t.producer_id.0,
                                    state: t.transaction_state.to_string(),
                                    coordinator: broker,
                                })
                                .collect()
                        });
                        out.push((broker, result));
                    }
                    Ok(out)
                },
            )
            .await)
    }

    /// Describes transactional ids at their coordinators, with a result per id
    /// (TRANSACTIONAL_ID_NOT_FOUND for an unknown id, ...).
    ///
    /// # Cancel safety
    /// Cancel-safe: read-only, and the admin client holds no state a dropped call could
    /// leave behind. Dropping it changes nothing; the next call works.
    pub async fn describe_transactions(
        &self,
        transactional_ids: impl IntoIterator<Item = impl Into<String>>,
        options: TransactionsOptions,
    ) -> Result<BTreeMap<String, Result<TransactionDescription>>> {
        let api = ApiKey::DescribeTransactions;
        let items: BTreeMap<String, ()> = transactional_ids
            .into_iter()
            .map(|t| (t.into(), ()))
            .collect();
        let client = &self.client;
        let call = Call::new(client, "DescribeTransactions", api, options.timeout)
            .retry(retry_transaction_errors);
        Ok(call
            .run(
                items,
                |keys| transaction_coordinators(client, keys),
                |conn, batch| async move {
                    let coordinator = conn.broker_id().unwrap_or(-1);
                    let req = DescribeTransactionsRequest::default().with_transactional_ids(
                        batch
                            .iter()
                            .map(|(id, ())| TransactionalId(wire_str(id)))
                            .collect(),
                    );
                    let resp = conn.request(&req).await?;
                    Ok(resp
                        .transaction_states
                        .into_iter()
                        .map(|s| {
                            let id = s.transactional_id.0.to_string();
                            let ctx = || ErrorContext::default().with_api(api).with_resource(&id);
                            let result = check_item(s.error_code, ctx, None).map(|()| {
                                let partitions: BTreeSet<TopicPartition> = s
                                    .topics
                                    .iter()
                                    .flat_map(|t| {
                                        t.partitions
                                            .iter()
                                            .map(|p| TopicPartition::new(t.topic.0.to_string(), *p))
                                    })
                                    .collect();
                                TransactionDescription {
                                    coordinator,
                                    state: s.transaction_state.to_string(),
                                    producer_id: s.producer_id.0,
                                    producer_epoch: s.producer_epoch,
                                    timeout_ms: s.transaction_timeout_ms,
                                    start_time_ms: (s.transaction_start_time_ms >= 0)
                                        .then_some(s.transaction_start_time_ms),
                                    partitions,
                                }
                            });
                            (id, result)
                        })
                        .collect())
                },
            )
            .await)
    }

    /// The producers with state on each partition (at its leader), with a result per
    /// partition.
    ///
    /// # Cancel safety
    /// Cancel-safe: read-only, and the admin client holds no state a dropped call could
    /// leave behind. Dropping it changes nothing; the next call works.
    pub async fn describe_producers(
        &self,
        partitions: impl IntoIterator<Item = TopicPartition>,
        options: TransactionsOptions,
    ) -> Result<BTreeMap<TopicPartition, Result<Vec<ProducerState>>>> {
        let api = ApiKey::DescribeProducers;
        let items: BTreeMap<TopicPartition, ()> = partitions.into_iter().map(|p| (p, ())).collect();
        let client = &self.client;
        let call = Call::new(client, "DescribeProducers", api, options.timeout);
        Ok(call
            .run(
                items,
                |keys| leaders(client, keys),
                |conn, batch| async move {
                    let mut by_topic: BTreeMap<&str, Vec<i32>> = BTreeMap::new();
                    for (tp, ()) in &batch {
                        by_topic.entry(&tp.topic).or_default().push(tp.partition);
                    }
                    let req = DescribeProducersRequest::default().with_topics(
                        by_topic
                            .into_iter()
                            .map(|(t, ps)| {
                                TopicRequest::default()
                                    .with_name(TopicName(wire_str(t)))
                                    .with_partition_indexes(ps)
                            })
                            .collect(),
                    );
                    let resp = conn.request(&req).await?;
                    let mut out = Vec::new();
                    for t in resp.topics {
                        for p in t.partitions {
                            let tp = TopicPartition::new(t.name.0.to_string(), p.partition_index);
                            let ctx = || tp_context(api, &tp);
                            let result =
                                match item_error(p.error_code, ctx, p.error_message.as_ref()) {
                                    Some(e) => Err(e),
                                    None => Ok(p
                                        .active_producers
                                        .iter()
                                        .map(|s| ProducerState {
                                            producer_id: s.producer_id.0,
                                            producer_epoch: s.producer_epoch,
                                            last_sequence: s.last_sequence,
                                            last_timestamp: s.last_timestamp,
                                            coordinator_epoch: (s.coordinator_epoch >= 0)
                                                .then_some(s.coordinator_epoch),
                                            current_txn_start_offset: (s.current_txn_start_offset
                                                >= 0)
                                                .then_some(s.current_txn_start_offset),
                                        })
                                        .collect()),
                                };
                            out.push((tp, result));
                        }
                    }
                    Ok(out)
                },
            )
            .await)
    }

    /// Aborts hanging transactions by writing an abort marker on each partition (at its
    /// leader), with a result per partition. Use it only for a transaction whose
    /// producer and coordinator are gone: see `kafka-transactions.sh find-hanging`.
    ///
    /// # Cancel safety
    /// The admin client holds no state a dropped call could leave behind, and the next call
    /// works. The change may or may not have been applied: dropped after a request was
    /// sent, the broker (or controller, or coordinator) may still apply it — and where the
    /// call sends several requests (one per broker, leader or coordinator), some may have
    /// been applied and others not. Read the state back to know.
    pub async fn abort_transactions(
        &self,
        specs: impl IntoIterator<Item = AbortTransactionSpec>,
        options: TransactionsOptions,
    ) -> Result<BTreeMap<TopicPartition, Result<()>>> {
        let api = ApiKey::WriteTxnMarkers;
        let items: BTreeMap<TopicPartition, AbortTransactionSpec> = specs
            .into_iter()
            .map(|s| (s.partition.clone(), s))
            .collect();
        let client = &self.client;
        let call = Call::new(client, "AbortTransaction", api, options.timeout);
        Ok(call
            .run(
                items,
                |keys| leaders(client, keys),
                |conn, batch| async move {
                    let markers = batch
                        .iter()
                        .map(|(tp, s)| {
                            WritableTxnMarker::default()
                                .with_producer_id(ProducerId(s.producer_id))
                                .with_producer_epoch(s.producer_epoch)
                                .with_transaction_result(false)
                                .with_coordinator_epoch(s.coordinator_epoch)
                                .with_topics(vec![
                                    WritableTxnMarkerTopic::default()
                                        .with_name(TopicName(wire_str(&tp.topic)))
                                        .with_partition_indexes(vec![tp.partition]),
                                ])
                        })
                        .collect();
                    let req = WriteTxnMarkersRequest::default().with_markers(markers);
                    let resp = conn.request(&req).await?;
                    let mut out = Vec::new();
                    for m in resp.markers {
                        for t in m.topics {
                            for p in t.partitions {
                                let tp =
                                    TopicPartition::new(t.name.0.to_string(), p.partition_index);
                                let ctx = || tp_context(api, &tp);
                                let result = check_item(p.error_code, ctx, None);
                                out.push((tp, result));
                            }
                        }
                    }
                    Ok(out)
                },
            )
            .await)
    }

    /// Fences the producers of `transactional_ids` (KIP-664): bumps each id's producer
    /// epoch at its coordinator, aborting its open transaction, so the old producer's
    /// next write fails with a fencing error. A result per id.
    ///
    /// # Cancel safety
    /// The admin client holds no state a dropped call could leave behind, and the next call
    /// works. The change may or may not have been applied: dropped after a request was
    /// sent, the broker (or controller, or coordinator) may still apply it — and where the
    /// call sends several requests (one per broker, leader or coordinator), some may have
    /// been applied and others not. Read the state back to know.
    pub async fn fence_producers(
        &self,
        transactional_ids: impl IntoIterator<Item = impl Into<String>>,
        options: TransactionsOptions,
    ) -> Result<BTreeMap<String, Result<()>>> {
        let api = ApiKey::InitProducerId;
        let items: BTreeMap<String, ()> = transactional_ids
            .into_iter()
            .map(|t| (t.into(), ()))
            .collect();
        let client = &self.client;
        let call = Call::new(client, "FenceProducers", api, options.timeout)
            .retry(retry_transaction_errors);
        Ok(call
            .run(
                items,
                |keys| transaction_coordinators(client, keys),
                |conn, batch| async move {
                    let mut out = Vec::new();
                    for (id, ()) in batch {
                        let timeout = client.config().request_timeout();
                        let result = init_producer_id_on(
                            &conn,
                            Some(&id),
                            FENCE_TRANSACTION_TIMEOUT,
                            timeout,
                        )
                        .await
                        .map(drop);
                        out.push((id, result));
                    }
                    Ok(out)
                },
            )
            .await)
    }
}

/// The transaction timeout sent with the fencing InitProducerId (the producer default).
const FENCE_TRANSACTION_TIMEOUT: Duration = Duration::from_secs(60);
