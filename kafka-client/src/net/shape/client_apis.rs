//! Response layouts of the APIs the client itself sends: connection set-up, metadata,
//! produce, fetch, offsets, group membership and transactions.
//!
//! Written from the Kafka protocol message schemas (field order, version ranges,
//! tags); checked against kafka-protocol's encoder by the tests in `tests.rs`.

use super::layout::{Api, BOOL, BYTES, I16, I32, I64, N, STR, UUID, arr, arr_of, f, st, tagged};

const NODE_ENDPOINT: super::layout::Kind = arr![
    f!("node_id", 0, N, I32),
    f!("host", 0, N, STR),
    f!("port", 0, N, I32),
    f!("rack", 0, N, STR),
];

const LEADER_ID_AND_EPOCH: super::layout::Kind =
    st![f!("leader_id", 0, N, I32), f!("leader_epoch", 0, N, I32),];

pub(crate) const API_VERSIONS: Api = Api {
    key: 18,
    name: "ApiVersions",
    min: 0,
    max: 4,
    flex: 3,
    body: &[
        f!("error_code", 0, N, I16),
        f!(
            "api_keys",
            0,
            N,
            arr![
                f!("api_key", 0, N, I16),
                f!("min_version", 0, N, I16),
                f!("max_version", 0, N, I16),
            ]
        ),
        f!("throttle_time_ms", 1, N, I32),
        tagged!(
            0,
            "supported_features",
            3,
            N,
            arr![
                f!("name", 0, N, STR),
                f!("min_version", 0, N, I16),
                f!("max_version", 0, N, I16),
            ]
        ),
        tagged!(1, "finalized_features_epoch", 3, N, I64),
        tagged!(
            2,
            "finalized_features",
            3,
            N,
            arr![
                f!("name", 0, N, STR),
                f!("max_version_level", 0, N, I16),
                f!("min_version_level", 0, N, I16),
            ]
        ),
        tagged!(3, "zk_migration_ready", 3, N, BOOL),
    ],
};

pub(crate) const METADATA: Api = Api {
    key: 3,
    name: "Metadata",
    min: 0,
    max: 13,
    flex: 9,
    body: &[
        f!("throttle_time_ms", 3, N, I32),
        f!(
            "brokers",
            0,
            N,
            arr![
                f!("node_id", 0, N, I32),
                f!("host", 0, N, STR),
                f!("port", 0, N, I32),
                f!("rack", 1, N, STR),
            ]
        ),
        f!("cluster_id", 2, N, STR),
        f!("controller_id", 1, N, I32),
        f!(
            "topics",
            0,
            N,
            arr![
                f!("error_code", 0, N, I16),
                f!("name", 0, N, STR),
                f!("topic_id", 10, N, UUID),
                f!("is_internal", 1, N, BOOL),
                f!(
                    "partitions",
                    0,
                    N,
                    arr![
                        f!("error_code", 0, N, I16),
                        f!("partition_index", 0, N, I32),
                        f!("leader_id", 0, N, I32),
                        f!("leader_epoch", 7, N, I32),
                        f!("replica_nodes", 0, N, arr_of!(I32)),
                        f!("isr_nodes", 0, N, arr_of!(I32)),
                        f!("offline_replicas", 5, N, arr_of!(I32)),
                    ]
                ),
                f!("topic_authorized_operations", 8, N, I32),
            ]
        ),
        f!("cluster_authorized_operations", 8, 10, I32),
        f!("error_code", 13, N, I16),
    ],
};

pub(crate) const PRODUCE: Api = Api {
    key: 0,
    name: "Produce",
    min: 3,
    max: 13,
    flex: 9,
    body: &[
        f!(
            "responses",
            0,
            N,
            arr![
                f!("name", 0, 12, STR),
                f!("topic_id", 13, N, UUID),
                f!(
                    "partition_responses",
                    0,
                    N,
                    arr![
                        f!("index", 0, N, I32),
                        f!("error_code", 0, N, I16),
                        f!("base_offset", 0, N, I64),
                        f!("log_append_time_ms", 2, N, I64),
                        f!("log_start_offset", 5, N, I64),
                        f!(
                            "record_errors",
                            8,
                            N,
                            arr![
                                f!("batch_index", 8, N, I32),
                                f!("batch_index_error_message", 8, N, STR),
                            ]
                        ),
                        f!("error_message", 8, N, STR),
                        tagged!(0, "current_leader", 10, N, LEADER_ID_AND_EPOCH),
                    ]
                ),
            ]
        ),
        f!("throttle_time_ms", 1, N, I32),
        tagged!(0, "node_endpoints", 10, N, NODE_ENDPOINT),
    ],
};

pub(crate) const FETCH: Api = Api {
    key: 1,
    name: "Fetch",
    min: 4,
    max: 18,
    flex: 12,
    body: &[
        f!("throttle_time_ms", 1, N, I32),
        f!("error_code", 7, N, I16),
        f!("session_id", 7, N, I32),
        f!(
            "responses",
            0,
            N,
            arr![
                f!("topic", 0, 12, STR),
                f!("topic_id", 13, N, UUID),
                f!(
                    "partitions",
                    0,
                    N,
                    arr![
                        f!("partition_index", 0, N, I32),
                        f!("error_code", 0, N, I16),
                        f!("high_watermark", 0, N, I64),
                        f!("last_stable_offset", 4, N, I64),
                        f!("log_start_offset", 5, N, I64),
                        tagged!(
                            0,
                            "diverging_epoch",
                            12,
                            N,
                            st![f!("epoch", 0, N, I32), f!("end_offset", 0, N, I64)]
                        ),
                        tagged!(1, "current_leader", 12, N, LEADER_ID_AND_EPOCH),
                        tagged!(
                            2,
                            "snapshot_id",
                            12,
                            N,
                            st![f!("end_offset", 0, N, I64), f!("epoch", 0, N, I32)]
                        ),
                        f!(
                            "aborted_transactions",
                            4,
                            N,
                            arr![f!("producer_id", 4, N, I64), f!("first_offset", 4, N, I64),]
                        ),
                        f!("preferred_read_replica", 11, N, I32),
                        f!("records", 0, N, BYTES),
                    ]
                ),
            ]
        ),
        tagged!(0, "node_endpoints", 16, N, NODE_ENDPOINT),
    ],
};

pub(crate) const LIST_OFFSETS: Api = Api {
    key: 2,
    name: "ListOffsets",
    min: 1,
    max: 10,
    flex: 6,
    body: &[
        f!("throttle_time_ms", 2, N, I32),
        f!(
            "topics",
            0,
            N,
            arr![
                f!("name", 0, N, STR),
                f!(
                    "partitions",
                    0,
                    N,
                    arr![
                        f!("partition_index", 0, N, I32),
                        f!("error_code", 0, N, I16),
                        f!("old_style_offsets", 0, 0, arr_of!(I64)),
                        f!("timestamp", 1, N, I64),
                        f!("offset", 1, N, I64),
                        f!("leader_epoch", 4, N, I32),
                    ]
                ),
            ]
        ),
    ],
};

pub(crate) const FIND_COORDINATOR: Api = Api {
    key: 10,
    name: "FindCoordinator",
    min: 0,
    max: 6,
    flex: 3,
    body: &[
        f!("throttle_time_ms", 1, N, I32),
        f!("error_code", 0, 3, I16),
        f!("error_message", 1, 3, STR),
        f!("node_id", 0, 3, I32),
        f!("host", 0, 3, STR),
        f!("port", 0, 3, I32),
        f!(
            "coordinators",
            4,
            N,
            arr![
                f!("key", 4, N, STR),
                f!("node_id", 4, N, I32),
                f!("host", 4, N, STR),
                f!("port", 4, N, I32),
                f!("error_code", 4, N, I16),
                f!("error_message", 4, N, STR),
            ]
        ),
    ],
};

pub(crate) const JOIN_GROUP: Api = Api {
    key: 11,
    name: "JoinGroup",
    min: 0,
    max: 9,
    flex: 6,
    body: &[
        f!("throttle_time_ms", 2, N, I32),
        f!("error_code", 0, N, I16),
        f!("generation_id", 0, N, I32),
        f!("protocol_type", 7, N, STR),
        f!("protocol_name", 0, N, STR),
        f!("leader", 0, N, STR),
        f!("skip_assignment", 9, N, BOOL),
        f!("member_id", 0, N, STR),
        f!(
            "members",
            0,
            N,
            arr![
                f!("member_id", 0, N, STR),
                f!("group_instance_id", 5, N, STR),
                f!("metadata", 0, N, BYTES),
            ]
        ),
    ],
};

pub(crate) const SYNC_GROUP: Api = Api {
    key: 14,
    name: "SyncGroup",
    min: 0,
    max: 5,
    flex: 4,
    body: &[
        f!("throttle_time_ms", 1, N, I32),
        f!("error_code", 0, N, I16),
        f!("protocol_type", 5, N, STR),
        f!("protocol_name", 5, N, STR),
        f!("assignment", 0, N, BYTES),
    ],
};

pub(crate) const HEARTBEAT: Api = Api {
    key: 12,
    name: "Heartbeat",
    min: 0,
    max: 4,
    flex: 4,
    body: &[
        f!("throttle_time_ms", 1, N, I32),
        f!("error_code", 0, N, I16),
    ],
};

pub(crate) const LEAVE_GROUP: Api = Api {
    key: 13,
    name: "LeaveGroup",
    min: 0,
    max: 5,
    flex: 4,
    body: &[
        f!("throttle_time_ms", 1, N, I32),
        f!("error_code", 0, N, I16),
        f!(
            "members",
            3,
            N,
            arr![
                f!("member_id", 3, N, STR),
                f!("group_instance_id", 3, N, STR),
                f!("error_code", 3, N, I16),
            ]
        ),
    ],
};

const PARTITION_ERRORS: super::layout::Kind = arr![
    f!("partition_index", 0, N, I32),
    f!("error_code", 0, N, I16),
];

pub(crate) const OFFSET_COMMIT: Api = Api {
    key: 8,
    name: "OffsetCommit",
    min: 2,
    max: 10,
    flex: 8,
    body: &[
        f!("throttle_time_ms", 3, N, I32),
        f!(
            "topics",
            0,
            N,
            arr![
                f!("name", 0, 9, STR),
                f!("topic_id", 10, N, UUID),
                f!("partitions", 0, N, PARTITION_ERRORS),
            ]
        ),
    ],
};

pub(crate) const OFFSET_FETCH: Api = Api {
    key: 9,
    name: "OffsetFetch",
    min: 1,
    max: 10,
    flex: 6,
    body: &[
        f!("throttle_time_ms", 3, N, I32),
        f!(
            "topics",
            0,
            7,
            arr![
                f!("name", 0, N, STR),
                f!(
                    "partitions",
                    0,
                    N,
                    arr![
                        f!("partition_index", 0, N, I32),
                        f!("committed_offset", 0, N, I64),
                        f!("committed_leader_epoch", 5, N, I32),
                        f!("metadata", 0, N, STR),
                        f!("error_code", 0, N, I16),
                    ]
                ),
            ]
        ),
        f!("error_code", 2, 7, I16),
        f!(
            "groups",
            8,
            N,
            arr![
                f!("group_id", 8, N, STR),
                f!(
                    "topics",
                    8,
                    N,
                    arr![
                        f!("name", 8, 9, STR),
                        f!("topic_id", 10, N, UUID),
                        f!(
                            "partitions",
                            8,
                            N,
                            arr![
                                f!("partition_index", 8, N, I32),
                                f!("committed_offset", 8, N, I64),
                                f!("committed_leader_epoch", 8, N, I32),
                                f!("metadata", 8, N, STR),
                                f!("error_code", 8, N, I16),
                            ]
                        ),
                    ]
                ),
                f!("error_code", 8, N, I16),
            ]
        ),
    ],
};

pub(crate) const SASL_HANDSHAKE: Api = Api {
    key: 17,
    name: "SaslHandshake",
    min: 0,
    max: 1,
    flex: N,
    body: &[
        f!("error_code", 0, N, I16),
        f!("mechanisms", 0, N, arr_of!(STR)),
    ],
};

pub(crate) const SASL_AUTHENTICATE: Api = Api {
    key: 36,
    name: "SaslAuthenticate",
    min: 0,
    max: 2,
    flex: 2,
    body: &[
        f!("error_code", 0, N, I16),
        f!("error_message", 0, N, STR),
        f!("auth_bytes", 0, N, BYTES),
        f!("session_lifetime_ms", 1, N, I64),
    ],
};

pub(crate) const INIT_PRODUCER_ID: Api = Api {
    key: 22,
    name: "InitProducerId",
    min: 0,
    max: 6,
    flex: 2,
    body: &[
        f!("throttle_time_ms", 0, N, I32),
        f!("error_code", 0, N, I16),
        f!("producer_id", 0, N, I64),
        f!("producer_epoch", 0, N, I16),
        f!("ongoing_txn_producer_id", 6, N, I64),
        f!("ongoing_txn_producer_epoch", 6, N, I16),
    ],
};

const TXN_TOPIC_RESULTS: super::layout::Kind = arr![
    f!("name", 0, N, STR),
    f!(
        "results_by_partition",
        0,
        N,
        arr![
            f!("partition_index", 0, N, I32),
            f!("partition_error_code", 0, N, I16),
        ]
    ),
];

pub(crate) const ADD_PARTITIONS_TO_TXN: Api = Api {
    key: 24,
    name: "AddPartitionsToTxn",
    min: 0,
    max: 5,
    flex: 3,
    body: &[
        f!("throttle_time_ms", 0, N, I32),
        f!("error_code", 4, N, I16),
        f!(
            "results_by_transaction",
            4,
            N,
            arr![
                f!("transactional_id", 4, N, STR),
                f!("topic_results", 4, N, TXN_TOPIC_RESULTS),
            ]
        ),
        f!("results_by_topic_v3_and_below", 0, 3, TXN_TOPIC_RESULTS),
    ],
};

pub(crate) const ADD_OFFSETS_TO_TXN: Api = Api {
    key: 25,
    name: "AddOffsetsToTxn",
    min: 0,
    max: 4,
    flex: 3,
    body: &[
        f!("throttle_time_ms", 0, N, I32),
        f!("error_code", 0, N, I16),
    ],
};

pub(crate) const END_TXN: Api = Api {
    key: 26,
    name: "EndTxn",
    min: 0,
    max: 5,
    flex: 3,
    body: &[
        f!("throttle_time_ms", 0, N, I32),
        f!("error_code", 0, N, I16),
        f!("producer_id", 5, N, I64),
        f!("producer_epoch", 5, N, I16),
    ],
};

pub(crate) const TXN_OFFSET_COMMIT: Api = Api {
    key: 28,
    name: "TxnOffsetCommit",
    min: 0,
    max: 5,
    flex: 3,
    body: &[
        f!("throttle_time_ms", 0, N, I32),
        f!(
            "topics",
            0,
            N,
            arr![
                f!("name", 0, N, STR),
                f!("partitions", 0, N, PARTITION_ERRORS),
            ]
        ),
    ],
};
