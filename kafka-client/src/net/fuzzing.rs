//! Entry points for the `cargo fuzz` targets in `fuzz/` (feature `fuzzing`; not a
//! stable API): the exact response decoding path the connection task uses.

use bytes::Bytes;
use kafka_protocol::messages::*;

use super::shape;

/// Every (API key, lowest version, highest version) [`decode_response`] accepts.
pub fn apis() -> Vec<(i16, i16, i16)> {
    shape::APIS.iter().map(|a| (a.key, a.min, a.max)).collect()
}

/// Decodes `frame` (starting at the correlation id) as the response of API `key` at
/// `version`, as the client does: shape check, header, body, trailing bytes.
pub fn decode_response(key: i16, version: i16, frame: Bytes) -> Result<(), String> {
    macro_rules! dispatch {
        ($($api:ident => $req:ty),* $(,)?) => {
            match ApiKey::try_from(key) {
                $(Ok(ApiKey::$api) => super::frame::decode_response::<$req>(frame, version)
                    .map(drop)
                    .map_err(|e| e.to_string()),)*
                _ => Err(format!("API key {key} is not decoded by this client")),
            }
        };
    }
    dispatch!(
        Produce => ProduceRequest,
        Fetch => FetchRequest,
        ListOffsets => ListOffsetsRequest,
        Metadata => MetadataRequest,
        OffsetCommit => OffsetCommitRequest,
        OffsetFetch => OffsetFetchRequest,
        FindCoordinator => FindCoordinatorRequest,
        JoinGroup => JoinGroupRequest,
        Heartbeat => HeartbeatRequest,
        LeaveGroup => LeaveGroupRequest,
        SyncGroup => SyncGroupRequest,
        SaslHandshake => SaslHandshakeRequest,
        ApiVersions => ApiVersionsRequest,
        SaslAuthenticate => SaslAuthenticateRequest,
        InitProducerId => InitProducerIdRequest,
        AddPartitionsToTxn => AddPartitionsToTxnRequest,
        AddOffsetsToTxn => AddOffsetsToTxnRequest,
        EndTxn => EndTxnRequest,
        TxnOffsetCommit => TxnOffsetCommitRequest,
        CreateTopics => CreateTopicsRequest,
        DeleteTopics => DeleteTopicsRequest,
        DeleteRecords => DeleteRecordsRequest,
        DescribeGroups => DescribeGroupsRequest,
        ListGroups => ListGroupsRequest,
        DescribeAcls => DescribeAclsRequest,
        CreateAcls => CreateAclsRequest,
        DeleteAcls => DeleteAclsRequest,
        DescribeConfigs => DescribeConfigsRequest,
        CreatePartitions => CreatePartitionsRequest,
        DeleteGroups => DeleteGroupsRequest,
        IncrementalAlterConfigs => IncrementalAlterConfigsRequest,
        OffsetDelete => OffsetDeleteRequest,
        DescribeCluster => DescribeClusterRequest,
        ConsumerGroupDescribe => ConsumerGroupDescribeRequest,
    )
}

/// The `response_decode` fuzz input: byte 0 picks the API (among [`apis`]), byte 1 the
/// version, the rest is the frame from the correlation id on. Errors are ignored: only a
/// panic or an abort is a finding.
pub fn response_input(data: &[u8]) {
    let [a, v, frame @ ..] = data else {
        return;
    };
    let apis = apis();
    let (key, min, max) = apis[usize::from(*a) % apis.len()];
    let version = min + i16::from(*v) % (max - min + 1);
    let _ = decode_response(key, version, Bytes::copy_from_slice(frame));
}

/// The `record_batches` fuzz input, decoded as the consumer does: split batches, parse
/// each (CRC checked when byte 0 is odd), decompress (bounded) and iterate its records.
pub fn record_batches_input(data: &[u8]) {
    let limits = crate::records::DecodeLimits {
        verify_crc: data.first().is_some_and(|b| b & 1 == 1),
        max_decompressed_bytes: 4 << 20,
    };
    let input = Bytes::copy_from_slice(data.get(1..).unwrap_or_default());
    for batch in crate::records::decode_batches(input, limits) {
        let Ok(batch) = batch else { break };
        if let Ok(records) = batch.records() {
            for record in records {
                if record.is_err() {
                    break;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_shape_api_dispatches() {
        for (key, min, _) in apis() {
            // An empty frame: each API must reach its decoder (not the fallback arm).
            let err = decode_response(key, min, Bytes::new()).unwrap_err();
            assert!(!err.contains("not decoded by this client"), "{key}: {err}");
        }
    }
}
