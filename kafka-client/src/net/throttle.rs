//! The broker's throttle time (quotas, KIP-219): read from any response that carries
//! `throttle_time_ms`, then honoured by holding back the next request on that
//! connection until it has passed.

use std::any::Any;
use std::time::Duration;

use kafka_protocol::messages::*;

macro_rules! throttle_of {
    ($resp:expr, $($ty:ty),* $(,)?) => {{
        let any: &dyn Any = $resp;
        $(
            if let Some(r) = any.downcast_ref::<$ty>() {
                return Some(r.throttle_time_ms);
            }
        )*
        None
    }};
}

/// The `throttle_time_ms` of a decoded response, for every response type that has one.
fn throttle_time_ms(resp: &dyn Any) -> Option<i32> {
    throttle_of!(
        resp,
        AddOffsetsToTxnResponse,
        AddPartitionsToTxnResponse,
        AddRaftVoterResponse,
        AllocateProducerIdsResponse,
        AlterClientQuotasResponse,
        AlterConfigsResponse,
        AlterPartitionReassignmentsResponse,
        AlterPartitionResponse,
        AlterReplicaLogDirsResponse,
        AlterShareGroupOffsetsResponse,
        AlterUserScramCredentialsResponse,
        ApiVersionsResponse,
        AssignReplicasToDirsResponse,
        BrokerHeartbeatResponse,
        BrokerRegistrationResponse,
        ConsumerGroupDescribeResponse,
        ConsumerGroupHeartbeatResponse,
        ControllerRegistrationResponse,
        CreateAclsResponse,
        CreateDelegationTokenResponse,
        CreatePartitionsResponse,
        CreateTopicsResponse,
        DeleteAclsResponse,
        DeleteGroupsResponse,
        DeleteRecordsResponse,
        DeleteShareGroupOffsetsResponse,
        DeleteTopicsResponse,
        DescribeAclsResponse,
        DescribeClientQuotasResponse,
        DescribeClusterResponse,
        DescribeConfigsResponse,
        DescribeDelegationTokenResponse,
        DescribeGroupsResponse,
        DescribeLogDirsResponse,
        DescribeProducersResponse,
        DescribeShareGroupOffsetsResponse,
        DescribeTopicPartitionsResponse,
        DescribeTransactionsResponse,
        DescribeUserScramCredentialsResponse,
        ElectLeadersResponse,
        EndTxnResponse,
        ExpireDelegationTokenResponse,
        FetchResponse,
        FetchSnapshotResponse,
        FindCoordinatorResponse,
        GetTelemetrySubscriptionsResponse,
        HeartbeatResponse,
        IncrementalAlterConfigsResponse,
        InitProducerIdResponse,
        JoinGroupResponse,
        LeaveGroupResponse,
        ListConfigResourcesResponse,
        ListGroupsResponse,
        ListOffsetsResponse,
        ListPartitionReassignmentsResponse,
        ListTransactionsResponse,
        MetadataResponse,
        OffsetCommitResponse,
        OffsetDeleteResponse,
        OffsetFetchResponse,
        OffsetForLeaderEpochResponse,
        ProduceResponse,
        PushTelemetryResponse,
        RemoveRaftVoterResponse,
        RenewDelegationTokenResponse,
        ShareAcknowledgeResponse,
        ShareFetchResponse,
        ShareGroupDescribeResponse,
        ShareGroupHeartbeatResponse,
        SyncGroupResponse,
        TxnOffsetCommitResponse,
        UnregisterBrokerResponse,
        UpdateFeaturesResponse,
        UpdateRaftVoterResponse
    )
}

/// The throttle the broker asked for in `resp`, when non-zero.
pub(crate) fn throttle_of<T: Any>(resp: &T) -> Option<Duration> {
    throttle_time_ms(resp)
        .filter(|&ms| ms > 0)
        .map(|ms| Duration::from_millis(ms as u64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_throttle_of_known_responses_only() {
        let r = ProduceResponse::default().with_throttle_time_ms(250);
        assert_eq!(throttle_of(&r), Some(Duration::from_millis(250)));
        let r = FetchResponse::default().with_throttle_time_ms(0);
        assert_eq!(throttle_of(&r), None);
        let r = MetadataResponse::default().with_throttle_time_ms(-5);
        assert_eq!(throttle_of(&r), None, "negative is ignored");
        assert_eq!(throttle_of(&SaslHandshakeResponse::default()), None);
    }
}
