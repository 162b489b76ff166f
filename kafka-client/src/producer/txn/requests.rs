//! The transactional requests: InitProducerId, AddPartitionsToTxn (protocol v1),
//! AddOffsetsToTxn (v1), TxnOffsetCommit and EndTxn, each retried the way the Java client
//! does (coordinator moved or loading, CONCURRENT_TRANSACTIONS, lost connections) until
//! a deadline, and typed as abortable or fatal otherwise.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use kafka_protocol::messages::add_partitions_to_txn_request::AddPartitionsToTxnTopic;
use kafka_protocol::messages::txn_offset_commit_request::{
    TxnOffsetCommitRequestPartition, TxnOffsetCommitRequestTopic,
};
use kafka_protocol::messages::{
    AddOffsetsToTxnRequest, AddPartitionsToTxnRequest, ApiKey, EndTxnRequest, GroupId, ProducerId,
    TopicName, TxnOffsetCommitRequest,
};
use kafka_protocol::protocol::{StrBytes, VersionRange};
use tokio::time::Instant;

use super::state::TxnShared;
use crate::error::{Error, ErrorCode, ErrorContext, Result, TransactionErrorKind};
use crate::net::Connection;
use crate::ops::CoordinatorLink;
use crate::ops::init_producer_id::InitProducerId;
use crate::producer::accumulator::PartitionState;
use crate::producer::batch::ProducerIdent;
use crate::producer::shared::Shared;
use crate::types::{GroupMetadata, OffsetAndMetadata, TopicPartition};

/// The feature that names the transaction protocol (KIP-890).
const TRANSACTION_VERSION: &str = "transaction.version";

/// Everything the requests need.
#[derive(Debug)]
pub(crate) struct TxnCtx {
    pub sh: Arc<Shared>,
    pub txn: Arc<TxnShared>,
    pub coordinator: CoordinatorLink,
    pub groups: std::sync::Mutex<BTreeMap<String, Arc<CoordinatorLink>>>,
}

/// One attempt's outcome: done, retry after a backoff, or give up.
enum Step<T> {
    Done(T),
    Retry(Error),
    Fail(Error),
}

fn str(s: &str) -> StrBytes {
    StrBytes::from_string(s.to_string())
}

/// Whether a coordinator's answer means "ask again later" (and whether to look the
/// coordinator up again first).
fn retriable(e: &Error) -> Option<bool> {
    match e.code() {
        Some(ErrorCode::NOT_COORDINATOR | ErrorCode::COORDINATOR_NOT_AVAILABLE) => Some(true),
        Some(
            ErrorCode::CONCURRENT_TRANSACTIONS
            | ErrorCode::COORDINATOR_LOAD_IN_PROGRESS
            | ErrorCode::REQUEST_TIMED_OUT
            | ErrorCode::UNKNOWN_TOPIC_OR_PARTITION,
        ) => Some(false),
        _ if matches!(
            e,
            Error::ConnectionLost { .. } | Error::Timeout { .. } | Error::Connect { .. }
        ) =>
        {
            Some(true)
        }
        _ if e.is_retriable() => Some(false),
        _ => None,
    }
}

impl TxnCtx {
    fn ctx(&self, api: ApiKey, conn: &Connection) -> ErrorContext {
        ErrorContext::broker(conn.broker_id(), conn.address())
            .with_api(api)
            .with_resource(self.txn.id.clone())
    }

    fn producer(&self) -> Result<ProducerIdent> {
        self.sh.current_producer().ok_or_else(|| {
            self.txn.error(
                TransactionErrorKind::Fatal,
                "the producer has no producer id",
                None,
            )
        })
    }

    /// How long a transactional call may keep retrying.
    fn deadline(&self) -> Instant {
        Instant::now() + self.sh.client.config().api_timeout().max(self.txn.timeout)
    }

    /// Runs `attempt` against `link`'s coordinator until it is done, fails for good, or
    /// `deadline` passes (then the last retriable error is returned).
    async fn retrying<T, F, Fut>(
        &self,
        link: &CoordinatorLink,
        deadline: Instant,
        mut attempt: F,
    ) -> Result<T>
    where
        F: FnMut(Connection) -> Fut,
        Fut: std::future::Future<Output = Step<T>>,
    {
        let client = &self.sh.client;
        for n in 0u32.. {
            let step = match link.connection().await {
                Ok(conn) => attempt(conn).await,
                Err(e) => match retriable(&e) {
                    Some(_) => Step::Retry(e),
                    None => Step::Fail(e),
                },
            };
            let err = match step {
                Step::Done(t) => return Ok(t),
                Step::Fail(e) => return Err(e),
                Step::Retry(e) => e,
            };
            if retriable(&err) == Some(true) {
                link.invalidate();
            }
            // CONCURRENT_TRANSACTIONS clears within milliseconds (the previous EndTxn's
            // markers being written): retry it quickly, like the Java client's 20 ms.
            let wait = if err.code() == Some(ErrorCode::CONCURRENT_TRANSACTIONS) {
                std::time::Duration::from_millis(20)
            } else {
                client.retry_backoff(n)
            };
            if Instant::now() + wait >= deadline {
                return Err(err);
            }
            tracing::debug!(transactional_id = %self.txn.id, error = %err, "transactional request: retrying");
            tokio::time::sleep(wait).await;
        }
        unreachable!("the retry loop only ends by returning")
    }

    /// Classifies a coordinator's error code for `api`.
    fn answer<T>(&self, code: i16, api: ApiKey, conn: &Connection, ok: T) -> Step<T> {
        match ErrorCode::from_code(code) {
            None => Step::Done(ok),
            Some(c) => {
                let e = Error::broker(c, self.ctx(api, conn), None);
                if retriable(&e).is_some() {
                    Step::Retry(e)
                } else {
                    Step::Fail(e)
                }
            }
        }
    }

    /// InitProducerId for the transactional id: the first time, or with the current id
    /// and epoch to bump the epoch (KIP-360), which also completes or aborts a pending
    /// transaction. Learns the transaction protocol version on the way.
    pub(crate) async fn init_producer_id(&self, bump: Option<ProducerIdent>) -> Result<()> {
        let deadline = self.deadline();
        let id = self.txn.id.clone();
        let ident = self
            .retrying(&self.coordinator, deadline, |conn| {
                let id = id.clone();
                async move {
                    let ask = InitProducerId {
                        transactional_id: Some(&id),
                        transaction_timeout: self.txn.timeout,
                        bump,
                    };
                    let version = match ask.version(&conn) {
                        Ok(v) => v,
                        Err(e) => return Step::Fail(e),
                    };
                    let timeout = self.sh.config.request_timeout;
                    match conn
                        .request_at(&ask.request(version), version, timeout)
                        .await
                    {
                        Err(e) => Step::Retry(e),
                        Ok(r) => {
                            let v2 = conn
                                .versions()
                                .finalized_feature(TRANSACTION_VERSION)
                                .is_some_and(|v| v >= 2)
                                && conn
                                    .versions()
                                    .range(ApiKey::EndTxn)
                                    .is_some_and(|r| r.1 >= 5)
                                && conn
                                    .versions()
                                    .range(ApiKey::Produce)
                                    .is_some_and(|r| r.1 >= 12);
                            self.txn.set_v2(v2);
                            self.answer(
                                r.error_code,
                                ApiKey::InitProducerId,
                                &conn,
                                ProducerIdent {
                                    id: r.producer_id.0,
                                    epoch: r.producer_epoch,
                                },
                            )
                        }
                    }
                }
            })
            .await
            .map_err(|e| self.typed(e, "InitProducerId failed"))?;
        tracing::info!(
            transactional_id = %self.txn.id,
            producer_id = ident.id,
            epoch = ident.epoch,
            protocol = if self.txn.is_v2() { 2 } else { 1 },
            "transactional producer initialized"
        );
        self.sh.set_producer(ident);
        Ok(())
    }

    /// Types a final error as abortable or fatal.
    pub(crate) fn typed(&self, e: Error, what: &str) -> Error {
        if matches!(e, Error::Transaction { .. }) {
            return e;
        }
        let kind = TxnShared::classify(&e);
        self.txn.error(kind, what, Some(e))
    }

    /// Adds the partitions that wait for it to the open transaction (protocol v1), then
    /// lets their batches go. A partition that cannot be added fails its batches and
    /// makes the transaction abortable.
    pub(crate) async fn add_pending_partitions(&self) {
        let parts = self.txn.take_pending_add();
        let generation = self.txn.generation();
        let parts: Vec<_> = parts
            .into_iter()
            .filter(|p| p.txn_added.load(Ordering::Acquire) != generation)
            .collect();
        if parts.is_empty() || !self.txn.is_open() {
            return;
        }
        if let Some(e) = self.txn.failure() {
            for p in &parts {
                let _ = p.fail_unsent(&e);
            }
            return;
        }
        match self.add_partitions(&parts).await {
            Ok(()) => {
                self.txn.mark_started();
                for p in &parts {
                    p.txn_added.store(generation, Ordering::Release);
                }
                self.sh.wake_senders();
            }
            Err(e) => {
                let e = self.typed(e, "AddPartitionsToTxn failed");
                self.txn.fail(&e);
                for p in &parts {
                    let _ = p.fail_unsent(&e);
                }
            }
        }
    }

    async fn add_partitions(&self, parts: &[Arc<PartitionState>]) -> Result<()> {
        let producer = self.producer()?;
        let mut topics: BTreeMap<&str, Vec<i32>> = BTreeMap::new();
        for p in parts {
            topics.entry(&p.topic.name).or_default().push(p.partition);
        }
        let topics: Vec<AddPartitionsToTxnTopic> = topics
            .into_iter()
            .map(|(t, ps)| {
                AddPartitionsToTxnTopic::default()
                    .with_name(TopicName(str(t)))
                    .with_partitions(ps)
            })
            .collect();
        let req = AddPartitionsToTxnRequest::default()
            .with_v3_and_below_transactional_id(self.txn.wire_id.clone())
            .with_v3_and_below_producer_id(ProducerId(producer.id))
            .with_v3_and_below_producer_epoch(producer.epoch)
            .with_v3_and_below_topics(topics);
        let deadline = self.deadline();
        self.retrying(&self.coordinator, deadline, |conn| {
            let req = &req;
            async move {
                let version = match conn
                    .negotiate::<AddPartitionsToTxnRequest>(VersionRange { min: 0, max: 3 })
                {
                    Ok(v) => v,
                    Err(e) => return Step::Fail(e),
                };
                let r = match conn
                    .request_at(req, version, self.sh.config.request_timeout)
                    .await
                {
                    Ok(r) => r,
                    Err(e) => return Step::Retry(e),
                };
                if r.error_code != 0 {
                    return self.answer(r.error_code, ApiKey::AddPartitionsToTxn, &conn, ());
                }
                // The first real error wins; OPERATION_NOT_ATTEMPTED (55) only echoes it.
                let mut worst: Option<(i16, String)> = None;
                for t in &r.results_by_topic_v3_and_below {
                    for p in &t.results_by_partition {
                        let c = p.partition_error_code;
                        if c != 0 && (worst.is_none() || worst.as_ref().is_some_and(|w| w.0 == 55))
                        {
                            worst = Some((c, format!("{}-{}", t.name.0, p.partition_index)));
                        }
                    }
                }
                match worst {
                    None => Step::Done(()),
                    Some((code, tp)) => {
                        match self.answer(code, ApiKey::AddPartitionsToTxn, &conn, ()) {
                            Step::Fail(Error::Broker { code, context, .. }) => {
                                Step::Fail(Error::broker(code, context.with_resource(tp), None))
                            }
                            other => other,
                        }
                    }
                }
            }
        })
        .await
    }

    /// AddOffsetsToTxn (v1 only) then TxnOffsetCommit to the group's coordinator, with
    /// the member's generation and id so a zombie from an older generation is refused.
    pub(crate) async fn send_offsets(
        &self,
        offsets: &[(TopicPartition, OffsetAndMetadata)],
        group: &GroupMetadata,
    ) -> Result<()> {
        let producer = self.producer()?;
        let deadline = self.deadline();
        if !self.txn.is_v2() {
            let req = AddOffsetsToTxnRequest::default()
                .with_transactional_id(self.txn.wire_id.clone())
                .with_producer_id(ProducerId(producer.id))
                .with_producer_epoch(producer.epoch)
                .with_group_id(GroupId(str(&group.group_id)));
            self.retrying(&self.coordinator, deadline, |conn| {
                let req = &req;
                async move {
                    match conn.request(req).await {
                        Ok(r) => self.answer(r.error_code, ApiKey::AddOffsetsToTxn, &conn, ()),
                        Err(e) => Step::Retry(e),
                    }
                }
            })
            .await?;
        }
        self.txn.mark_started();
        let mut topics: BTreeMap<&str, Vec<TxnOffsetCommitRequestPartition>> = BTreeMap::new();
        for (tp, om) in offsets {
            topics.entry(&tp.topic).or_default().push(
                TxnOffsetCommitRequestPartition::default()
                    .with_partition_index(tp.partition)
                    .with_committed_offset(om.offset)
                    .with_committed_leader_epoch(om.leader_epoch.unwrap_or(-1))
                    .with_committed_metadata(om.metadata.as_deref().map(str)),
            );
        }
        let topics: Vec<TxnOffsetCommitRequestTopic> = topics
            .into_iter()
            .map(|(t, ps)| {
                TxnOffsetCommitRequestTopic::default()
                    .with_name(TopicName(str(t)))
                    .with_partitions(ps)
            })
            .collect();
        let req = TxnOffsetCommitRequest::default()
            .with_transactional_id(self.txn.wire_id.clone())
            .with_group_id(GroupId(str(&group.group_id)))
            .with_producer_id(ProducerId(producer.id))
            .with_producer_epoch(producer.epoch)
            .with_topics(topics);
        let link = self.group_link(&group.group_id);
        self.retrying(&link, deadline, |conn| {
            let req = &req;
            async move {
                // v3+ carries the member's generation (KIP-447 zombie fencing); TV2
                // needs v5, which adds the group to the transaction implicitly.
                let min = if self.txn.is_v2() { 5 } else { 0 };
                let version =
                    match conn.negotiate::<TxnOffsetCommitRequest>(VersionRange { min, max: 5 }) {
                        Ok(v) => v,
                        Err(e) => return Step::Fail(e),
                    };
                let mut req = req.clone();
                if version >= 3 {
                    req = req
                        .with_generation_id(group.generation_id)
                        .with_member_id(str(&group.member_id))
                        .with_group_instance_id(group.group_instance_id.as_deref().map(str));
                }
                let r = match conn
                    .request_at(&req, version, self.sh.config.request_timeout)
                    .await
                {
                    Ok(r) => r,
                    Err(e) => return Step::Retry(e),
                };
                for t in &r.topics {
                    for p in &t.partitions {
                        if p.error_code != 0 {
                            let step =
                                self.answer(p.error_code, ApiKey::TxnOffsetCommit, &conn, ());
                            return match step {
                                Step::Fail(Error::Broker { code, context, .. }) => {
                                    Step::Fail(Error::broker(
                                        code,
                                        context.with_resource(format!(
                                            "group {} {}-{}",
                                            group.group_id, t.name.0, p.partition_index
                                        )),
                                        None,
                                    ))
                                }
                                other => other,
                            };
                        }
                    }
                }
                Step::Done(())
            }
        })
        .await
    }

    fn group_link(&self, group: &str) -> Arc<CoordinatorLink> {
        let mut g = self.groups.lock().unwrap_or_else(|e| e.into_inner());
        g.entry(group.to_string())
            .or_insert_with(|| {
                Arc::new(CoordinatorLink::new(
                    self.sh.client.clone(),
                    group.to_string(),
                ))
            })
            .clone()
    }

    /// EndTxn, retried until its outcome is known or the deadline passes. Protocol v2:
    /// takes the new epoch the coordinator returns. `Err` of kind `OutcomeUnknown` when
    /// the answer never came.
    pub(crate) async fn end_txn(&self, commit: bool) -> Result<()> {
        let producer = self.producer()?;
        let req = EndTxnRequest::default()
            .with_transactional_id(self.txn.wire_id.clone())
            .with_producer_id(ProducerId(producer.id))
            .with_producer_epoch(producer.epoch)
            .with_committed(commit);
        let v2 = self.txn.is_v2();
        let deadline = self.deadline();
        let next = self
            .retrying(&self.coordinator, deadline, |conn| {
                let req = &req;
                async move {
                    let range = if v2 {
                        VersionRange { min: 5, max: 5 }
                    } else {
                        VersionRange { min: 0, max: 4 }
                    };
                    let version = match conn.negotiate::<EndTxnRequest>(range) {
                        Ok(v) => v,
                        Err(e) => return Step::Fail(e),
                    };
                    match conn
                        .request_at(req, version, self.sh.config.request_timeout)
                        .await
                    {
                        Err(e) => Step::Retry(e),
                        Ok(r) => {
                            let next =
                                (version >= 5 && r.producer_id.0 >= 0).then_some(ProducerIdent {
                                    id: r.producer_id.0,
                                    epoch: r.producer_epoch,
                                });
                            self.answer(r.error_code, ApiKey::EndTxn, &conn, next)
                        }
                    }
                }
            })
            .await;
        match next {
            Ok(next) => {
                if let Some(n) = next {
                    self.sh.set_producer(n);
                }
                Ok(())
            }
            Err(e) if retriable(&e).is_some() => Err(self.txn.error(
                TransactionErrorKind::OutcomeUnknown,
                if commit {
                    "the commit's outcome is unknown (EndTxn not answered in time); the producer re-initializes before the next transaction"
                } else {
                    "the abort's outcome is unknown (EndTxn not answered in time); the producer re-initializes before the next transaction"
                },
                Some(e),
            )),
            Err(e) => Err(self.typed(e, if commit { "commit failed" } else { "abort failed" })),
        }
    }
}
