//! The simulated brokers' answers to the transaction APIs (InitProducerId,
//! AddPartitionsToTxn, AddOffsetsToTxn, EndTxn on the transaction coordinator;
//! TxnOffsetCommit on the group coordinator) and the ApiVersions answer that tells the
//! client which transaction protocol the cluster speaks: decode, run the coordinator of
//! `crate::txn` at the paused clock's time, encode.

use std::time::Duration;

use kafka_protocol::messages::api_versions_response::FinalizedFeatureKey;
use kafka_protocol::messages::{
    AddOffsetsToTxnRequest, AddOffsetsToTxnResponse, AddPartitionsToTxnRequest,
    AddPartitionsToTxnResponse, ApiKey, ApiVersionsResponse, EndTxnRequest, EndTxnResponse,
    InitProducerIdRequest, InitProducerIdResponse, ProducerId, TxnOffsetCommitRequest,
    TxnOffsetCommitResponse,
};
use kafka_protocol::protocol::StrBytes;
use tokio::time::Instant;

use crate::cluster::{Cluster, slot};

const NOT_COORDINATOR: i16 = 16;

/// The ApiVersions answer: `versions`, and the finalized `transaction.version` (2 when
/// `tv2`, else 1; Kafka 4.x brokers advertise Produce v12 and EndTxn v5 either way).
pub(crate) fn api_versions(versions: &[(ApiKey, i16, i16)], tv2: bool) -> ApiVersionsResponse {
    kafka_testkit::raw::api_versions(versions)
        .with_finalized_features_epoch(1)
        .with_finalized_features(vec![
            FinalizedFeatureKey::default()
                .with_name(StrBytes::from_static_str("transaction.version"))
                .with_min_version_level(if tv2 { 2 } else { 1 })
                .with_max_version_level(if tv2 { 2 } else { 1 }),
        ])
}

impl Cluster {
    fn txn_coordinator_error(&self, node: i32) -> Result<(), i16> {
        if self.state().txn_coordinator != node {
            Err(NOT_COORDINATOR)
        } else {
            Ok(())
        }
    }

    pub(crate) fn init_producer_id(
        &self,
        node: i32,
        r: InitProducerIdRequest,
    ) -> InitProducerIdResponse {
        let fail = |code| {
            InitProducerIdResponse::default()
                .with_error_code(code)
                .with_producer_id(ProducerId(-1))
                .with_producer_epoch(-1)
        };
        let mut st = self.state();
        let Some(id) = r.transactional_id else {
            let pid = Cluster::producer_id(&mut st);
            return InitProducerIdResponse::default()
                .with_producer_id(ProducerId(pid))
                .with_producer_epoch(0);
        };
        drop(st);
        if let Err(code) = self.txn_coordinator_error(node) {
            return fail(code);
        }
        let mut st = self.state();
        let given = (r.producer_id.0 >= 0).then_some((r.producer_id.0, r.producer_epoch));
        let timeout = Duration::from_millis(r.transaction_timeout_ms.max(0) as u64);
        let pid = Cluster::producer_id(&mut st);
        let answer = st.txns.init(&id, given, timeout, || pid, Instant::now());
        match answer {
            Ok((pid, epoch)) => InitProducerIdResponse::default()
                .with_producer_id(ProducerId(pid))
                .with_producer_epoch(epoch),
            Err(code) => fail(code),
        }
    }

    pub(crate) fn add_partitions_to_txn(
        &self,
        node: i32,
        r: AddPartitionsToTxnRequest,
    ) -> AddPartitionsToTxnResponse {
        let code = self.txn_coordinator_error(node).err().unwrap_or_else(|| {
            let slots: Option<Vec<usize>> = r
                .v3_and_below_topics
                .iter()
                .flat_map(|t| t.partitions.iter().map(|&p| slot(t.name.as_str(), p)))
                .collect();
            match slots {
                None => crate::replication::code::UNKNOWN_TOPIC_OR_PARTITION,
                Some(slots) => self
                    .state()
                    .txns
                    .add_partitions(
                        &r.v3_and_below_transactional_id,
                        r.v3_and_below_producer_id.0,
                        r.v3_and_below_producer_epoch,
                        &slots,
                        Instant::now(),
                    )
                    .err()
                    .unwrap_or(0),
            }
        });
        kafka_testkit::raw::add_partitions_answer(&r, code)
    }

    pub(crate) fn add_offsets_to_txn(
        &self,
        node: i32,
        r: AddOffsetsToTxnRequest,
    ) -> AddOffsetsToTxnResponse {
        let code = self.txn_coordinator_error(node).err().unwrap_or_else(|| {
            self.state()
                .txns
                .add_offsets(
                    &r.transactional_id,
                    r.producer_id.0,
                    r.producer_epoch,
                    Instant::now(),
                )
                .err()
                .unwrap_or(0)
        });
        AddOffsetsToTxnResponse::default().with_error_code(code)
    }

    pub(crate) fn end_txn(&self, node: i32, r: EndTxnRequest, version: i16) -> EndTxnResponse {
        let answer = self.txn_coordinator_error(node).and_then(|()| {
            self.state().txns.end(
                &r.transactional_id,
                r.producer_id.0,
                r.producer_epoch,
                r.committed,
                version >= 5,
            )
        });
        match answer {
            Ok((pid, epoch)) => EndTxnResponse::default()
                .with_producer_id(ProducerId(pid))
                .with_producer_epoch(epoch),
            Err(code) => EndTxnResponse::default()
                .with_error_code(code)
                .with_producer_id(ProducerId(-1))
                .with_producer_epoch(-1),
        }
    }

    pub(crate) fn txn_offset_commit(
        &self,
        node: i32,
        r: TxnOffsetCommitRequest,
        version: i16,
    ) -> TxnOffsetCommitResponse {
        let group = r.group_id.to_string();
        let offsets: Vec<_> = r
            .topics
            .iter()
            .flat_map(|t| {
                let group = group.clone();
                t.partitions.iter().map(move |p| {
                    (
                        (group.clone(), t.name.to_string(), p.partition_index),
                        p.committed_offset,
                    )
                })
            })
            .collect();
        let code = self.coordinator_error(node).err().unwrap_or_else(|| {
            let mut st = self.state();
            let implicit = st.tv2 && version >= 5;
            st.txns
                .offset_commit(
                    &r.transactional_id,
                    r.producer_id.0,
                    r.producer_epoch,
                    offsets,
                    implicit,
                    Instant::now(),
                )
                .err()
                .unwrap_or(0)
        });
        kafka_testkit::raw::txn_offset_commit_answer(&r, code)
    }
}
