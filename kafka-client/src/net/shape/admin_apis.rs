//! Response layouts of the APIs only kafka-admin sends: topics, partitions, records,
//! configs, ACLs, groups and the cluster description.
//!
//! Written from the Kafka protocol message schemas; checked against kafka-protocol's
//! encoder by the tests in `tests.rs`.

use super::layout::{Api, BOOL, BYTES, I8, I16, I32, I64, Kind, N, STR, UUID, arr, arr_of, f, st};

pub(crate) const CREATE_TOPICS: Api = Api {
    key: 19,
    name: "CreateTopics",
    min: 2,
    max: 7,
    flex: 5,
    body: &[
        f!("throttle_time_ms", 2, N, I32),
        f!(
            "topics",
            0,
            N,
            arr![
                f!("name", 0, N, STR),
                f!("topic_id", 7, N, UUID),
                f!("error_code", 0, N, I16),
                f!("error_message", 1, N, STR),
                super::layout::tagged!(0, "topic_config_error_code", 5, N, I16),
                f!("num_partitions", 5, N, I32),
                f!("replication_factor", 5, N, I16),
                f!(
                    "configs",
                    5,
                    N,
                    arr![
                        f!("name", 5, N, STR),
                        f!("value", 5, N, STR),
                        f!("read_only", 5, N, BOOL),
                        f!("config_source", 5, N, I8),
                        f!("is_sensitive", 5, N, BOOL),
                    ]
                ),
            ]
        ),
    ],
};

pub(crate) const DELETE_TOPICS: Api = Api {
    key: 20,
    name: "DeleteTopics",
    min: 1,
    max: 6,
    flex: 4,
    body: &[
        f!("throttle_time_ms", 1, N, I32),
        f!(
            "responses",
            0,
            N,
            arr![
                f!("name", 0, N, STR),
                f!("topic_id", 6, N, UUID),
                f!("error_code", 0, N, I16),
                f!("error_message", 5, N, STR),
            ]
        ),
    ],
};

pub(crate) const CREATE_PARTITIONS: Api = Api {
    key: 37,
    name: "CreatePartitions",
    min: 0,
    max: 3,
    flex: 2,
    body: &[
        f!("throttle_time_ms", 0, N, I32),
        f!(
            "results",
            0,
            N,
            arr![
                f!("name", 0, N, STR),
                f!("error_code", 0, N, I16),
                f!("error_message", 0, N, STR),
            ]
        ),
    ],
};

pub(crate) const DELETE_RECORDS: Api = Api {
    key: 21,
    name: "DeleteRecords",
    min: 0,
    max: 2,
    flex: 2,
    body: &[
        f!("throttle_time_ms", 0, N, I32),
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
                        f!("low_watermark", 0, N, I64),
                        f!("error_code", 0, N, I16),
                    ]
                ),
            ]
        ),
    ],
};

pub(crate) const DESCRIBE_CONFIGS: Api = Api {
    key: 32,
    name: "DescribeConfigs",
    min: 1,
    max: 4,
    flex: 4,
    body: &[
        f!("throttle_time_ms", 0, N, I32),
        f!(
            "results",
            0,
            N,
            arr![
                f!("error_code", 0, N, I16),
                f!("error_message", 0, N, STR),
                f!("resource_type", 0, N, I8),
                f!("resource_name", 0, N, STR),
                f!(
                    "configs",
                    0,
                    N,
                    arr![
                        f!("name", 0, N, STR),
                        f!("value", 0, N, STR),
                        f!("read_only", 0, N, BOOL),
                        f!("is_default", 0, 0, BOOL),
                        f!("config_source", 1, N, I8),
                        f!("is_sensitive", 0, N, BOOL),
                        f!(
                            "synonyms",
                            1,
                            N,
                            arr![
                                f!("name", 1, N, STR),
                                f!("value", 1, N, STR),
                                f!("source", 1, N, I8),
                            ]
                        ),
                        f!("config_type", 3, N, I8),
                        f!("documentation", 3, N, STR),
                    ]
                ),
            ]
        ),
    ],
};

pub(crate) const INCREMENTAL_ALTER_CONFIGS: Api = Api {
    key: 44,
    name: "IncrementalAlterConfigs",
    min: 0,
    max: 1,
    flex: 1,
    body: &[
        f!("throttle_time_ms", 0, N, I32),
        f!(
            "responses",
            0,
            N,
            arr![
                f!("error_code", 0, N, I16),
                f!("error_message", 0, N, STR),
                f!("resource_type", 0, N, I8),
                f!("resource_name", 0, N, STR),
            ]
        ),
    ],
};

pub(crate) const DESCRIBE_ACLS: Api = Api {
    key: 29,
    name: "DescribeAcls",
    min: 1,
    max: 3,
    flex: 2,
    body: &[
        f!("throttle_time_ms", 0, N, I32),
        f!("error_code", 0, N, I16),
        f!("error_message", 0, N, STR),
        f!(
            "resources",
            0,
            N,
            arr![
                f!("resource_type", 0, N, I8),
                f!("resource_name", 0, N, STR),
                f!("pattern_type", 1, N, I8),
                f!(
                    "acls",
                    0,
                    N,
                    arr![
                        f!("principal", 0, N, STR),
                        f!("host", 0, N, STR),
                        f!("operation", 0, N, I8),
                        f!("permission_type", 0, N, I8),
                    ]
                ),
            ]
        ),
    ],
};

pub(crate) const CREATE_ACLS: Api = Api {
    key: 30,
    name: "CreateAcls",
    min: 1,
    max: 3,
    flex: 2,
    body: &[
        f!("throttle_time_ms", 0, N, I32),
        f!(
            "results",
            0,
            N,
            arr![f!("error_code", 0, N, I16), f!("error_message", 0, N, STR)]
        ),
    ],
};

pub(crate) const DELETE_ACLS: Api = Api {
    key: 31,
    name: "DeleteAcls",
    min: 1,
    max: 3,
    flex: 2,
    body: &[
        f!("throttle_time_ms", 0, N, I32),
        f!(
            "filter_results",
            0,
            N,
            arr![
                f!("error_code", 0, N, I16),
                f!("error_message", 0, N, STR),
                f!(
                    "matching_acls",
                    0,
                    N,
                    arr![
                        f!("error_code", 0, N, I16),
                        f!("error_message", 0, N, STR),
                        f!("resource_type", 0, N, I8),
                        f!("resource_name", 0, N, STR),
                        f!("pattern_type", 1, N, I8),
                        f!("principal", 0, N, STR),
                        f!("host", 0, N, STR),
                        f!("operation", 0, N, I8),
                        f!("permission_type", 0, N, I8),
                    ]
                ),
            ]
        ),
    ],
};

pub(crate) const LIST_GROUPS: Api = Api {
    key: 16,
    name: "ListGroups",
    min: 0,
    max: 5,
    flex: 3,
    body: &[
        f!("throttle_time_ms", 1, N, I32),
        f!("error_code", 0, N, I16),
        f!(
            "groups",
            0,
            N,
            arr![
                f!("group_id", 0, N, STR),
                f!("protocol_type", 0, N, STR),
                f!("group_state", 4, N, STR),
                f!("group_type", 5, N, STR),
            ]
        ),
    ],
};

pub(crate) const DESCRIBE_GROUPS: Api = Api {
    key: 15,
    name: "DescribeGroups",
    min: 0,
    max: 6,
    flex: 5,
    body: &[
        f!("throttle_time_ms", 1, N, I32),
        f!(
            "groups",
            0,
            N,
            arr![
                f!("error_code", 0, N, I16),
                f!("error_message", 6, N, STR),
                f!("group_id", 0, N, STR),
                f!("group_state", 0, N, STR),
                f!("protocol_type", 0, N, STR),
                f!("protocol_data", 0, N, STR),
                f!(
                    "members",
                    0,
                    N,
                    arr![
                        f!("member_id", 0, N, STR),
                        f!("group_instance_id", 4, N, STR),
                        f!("client_id", 0, N, STR),
                        f!("client_host", 0, N, STR),
                        f!("member_metadata", 0, N, BYTES),
                        f!("member_assignment", 0, N, BYTES),
                    ]
                ),
                f!("authorized_operations", 3, N, I32),
            ]
        ),
    ],
};

pub(crate) const DELETE_GROUPS: Api = Api {
    key: 42,
    name: "DeleteGroups",
    min: 0,
    max: 2,
    flex: 2,
    body: &[
        f!("throttle_time_ms", 0, N, I32),
        f!(
            "results",
            0,
            N,
            arr![f!("group_id", 0, N, STR), f!("error_code", 0, N, I16)]
        ),
    ],
};

pub(crate) const OFFSET_DELETE: Api = Api {
    key: 47,
    name: "OffsetDelete",
    min: 0,
    max: 0,
    flex: N,
    body: &[
        f!("error_code", 0, N, I16),
        f!("throttle_time_ms", 0, N, I32),
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
                    ]
                ),
            ]
        ),
    ],
};

const ASSIGNMENT: Kind = st![f!(
    "topic_partitions",
    0,
    N,
    arr![
        f!("topic_id", 0, N, UUID),
        f!("topic_name", 0, N, STR),
        f!("partitions", 0, N, arr_of!(I32)),
    ]
)];

pub(crate) const CONSUMER_GROUP_DESCRIBE: Api = Api {
    key: 69,
    name: "ConsumerGroupDescribe",
    min: 0,
    max: 1,
    flex: 0,
    body: &[
        f!("throttle_time_ms", 0, N, I32),
        f!(
            "groups",
            0,
            N,
            arr![
                f!("error_code", 0, N, I16),
                f!("error_message", 0, N, STR),
                f!("group_id", 0, N, STR),
                f!("group_state", 0, N, STR),
                f!("group_epoch", 0, N, I32),
                f!("assignment_epoch", 0, N, I32),
                f!("assignor_name", 0, N, STR),
                f!(
                    "members",
                    0,
                    N,
                    arr![
                        f!("member_id", 0, N, STR),
                        f!("instance_id", 0, N, STR),
                        f!("rack_id", 0, N, STR),
                        f!("member_epoch", 0, N, I32),
                        f!("client_id", 0, N, STR),
                        f!("client_host", 0, N, STR),
                        f!("subscribed_topic_names", 0, N, arr_of!(STR)),
                        f!("subscribed_topic_regex", 0, N, STR),
                        f!("assignment", 0, N, ASSIGNMENT),
                        f!("target_assignment", 0, N, ASSIGNMENT),
                        f!("member_type", 1, N, I8),
                    ]
                ),
                f!("authorized_operations", 0, N, I32),
            ]
        ),
    ],
};

pub(crate) const DESCRIBE_CLUSTER: Api = Api {
    key: 60,
    name: "DescribeCluster",
    min: 0,
    max: 2,
    flex: 0,
    body: &[
        f!("throttle_time_ms", 0, N, I32),
        f!("error_code", 0, N, I16),
        f!("error_message", 0, N, STR),
        f!("endpoint_type", 1, N, I8),
        f!("cluster_id", 0, N, STR),
        f!("controller_id", 0, N, I32),
        f!(
            "brokers",
            0,
            N,
            arr![
                f!("broker_id", 0, N, I32),
                f!("host", 0, N, STR),
                f!("port", 0, N, I32),
                f!("rack", 0, N, STR),
                f!("is_fenced", 2, N, BOOL),
            ]
        ),
        f!("cluster_authorized_operations", 0, N, I32),
    ],
};
