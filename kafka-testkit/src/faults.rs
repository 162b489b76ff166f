//! Fault controls: per API, a queue of faults the next requests meet, and a request count.

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use kafka_protocol::messages::ApiKey;

/// A request type that faults can be aimed at and requests counted for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Api {
    /// Produce.
    Produce,
    /// Fetch.
    Fetch,
    /// ListOffsets.
    ListOffsets,
    /// Metadata.
    Metadata,
    /// FindCoordinator.
    FindCoordinator,
    /// JoinGroup.
    JoinGroup,
    /// SyncGroup.
    SyncGroup,
    /// Heartbeat.
    Heartbeat,
    /// LeaveGroup.
    LeaveGroup,
    /// OffsetCommit.
    OffsetCommit,
    /// OffsetFetch.
    OffsetFetch,
    /// InitProducerId.
    InitProducerId,
    /// AddPartitionsToTxn.
    AddPartitionsToTxn,
    /// AddOffsetsToTxn.
    AddOffsetsToTxn,
    /// EndTxn.
    EndTxn,
    /// TxnOffsetCommit.
    TxnOffsetCommit,
    /// ConsumerGroupHeartbeat (KIP-848).
    ConsumerGroupHeartbeat,
    /// ShareGroupHeartbeat (KIP-932).
    ShareGroupHeartbeat,
    /// ShareFetch (KIP-932).
    ShareFetch,
    /// ShareAcknowledge (KIP-932).
    ShareAcknowledge,
}

impl Api {
    fn from_key(key: ApiKey) -> Option<Api> {
        Some(match key {
            ApiKey::Produce => Api::Produce,
            ApiKey::Fetch => Api::Fetch,
            ApiKey::ListOffsets => Api::ListOffsets,
            ApiKey::Metadata => Api::Metadata,
            ApiKey::FindCoordinator => Api::FindCoordinator,
            ApiKey::JoinGroup => Api::JoinGroup,
            ApiKey::SyncGroup => Api::SyncGroup,
            ApiKey::Heartbeat => Api::Heartbeat,
            ApiKey::LeaveGroup => Api::LeaveGroup,
            ApiKey::OffsetCommit => Api::OffsetCommit,
            ApiKey::OffsetFetch => Api::OffsetFetch,
            ApiKey::InitProducerId => Api::InitProducerId,
            ApiKey::AddPartitionsToTxn => Api::AddPartitionsToTxn,
            ApiKey::AddOffsetsToTxn => Api::AddOffsetsToTxn,
            ApiKey::EndTxn => Api::EndTxn,
            ApiKey::TxnOffsetCommit => Api::TxnOffsetCommit,
            ApiKey::ConsumerGroupHeartbeat => Api::ConsumerGroupHeartbeat,
            ApiKey::ShareGroupHeartbeat => Api::ShareGroupHeartbeat,
            ApiKey::ShareFetch => Api::ShareFetch,
            ApiKey::ShareAcknowledge => Api::ShareAcknowledge,
            _ => return None,
        })
    }
}

/// What a faulted request meets.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Fault {
    Error(i16),
    Delay(Duration),
    Drop,
}

#[derive(Debug, Default)]
pub(crate) struct Faults {
    queued: HashMap<Api, VecDeque<Fault>>,
    counts: HashMap<Api, u64>,
}

impl Faults {
    pub fn add(&mut self, api: Api, fault: Fault, times: usize) {
        self.queued
            .entry(api)
            .or_default()
            .extend(std::iter::repeat_n(fault, times));
    }

    /// Counts a request of `key` and takes the fault it meets, if any.
    pub fn take(&mut self, key: ApiKey) -> Option<Fault> {
        let api = Api::from_key(key)?;
        *self.counts.entry(api).or_default() += 1;
        self.queued.get_mut(&api)?.pop_front()
    }

    pub fn count(&self, api: Api) -> u64 {
        self.counts.get(&api).copied().unwrap_or(0)
    }
}
