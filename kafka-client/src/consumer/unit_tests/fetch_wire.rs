//! The Fetch request's form and the reading of its answer (`fetcher/wire.rs`; Java's
//! `FetchRequestManagerTest` request and response parts): versions offered, the
//! request built from a plan, forgotten partitions, the session outcome of an answer,
//! and each partition's data, errors, offsets and leader hints read from an answer
//! built here. A child of `wire.rs`.

use std::time::Duration;

use bytes::Bytes;
use kafka_protocol::messages::fetch_response::{
    AbortedTransaction, FetchableTopicResponse, LeaderIdAndEpoch, NodeEndpoint, PartitionData,
};
use kafka_protocol::messages::{BrokerId, FetchResponse, ProducerId, TopicName};
use kafka_protocol::protocol::StrBytes;

use super::super::{Sent, WireNames};
use super::*;
use crate::config::ClientBuilder;
use crate::consumer::builder::IsolationLevel;
use crate::consumer::fetch_session::{FetchSession, SessionOutcome, SessionRequest};
use crate::consumer::unit_tests::{Spec, encode, led_by, shared_with, tp};
use crate::error::{Error, ErrorCode, ErrorContext};

fn id(n: u8) -> uuid::Uuid {
    uuid::Uuid::from_bytes([n; 16])
}

fn sent(topic: &str, partition: i32, topic_id: uuid::Uuid, fetch_offset: i64) -> Sent {
    Sent {
        tp: tp(topic, partition),
        wire: WireNames::default().get(topic),
        topic_id,
        epoch: 1,
        fetch_offset,
        leader: 1,
        leader_epoch: 0,
        from_replica: false,
    }
}

fn plan(send: Vec<usize>, forget: Vec<(TopicPartition, uuid::Uuid)>) -> SessionRequest {
    SessionRequest {
        session_id: 77,
        epoch: 3,
        full: false,
        send,
        forget,
    }
}

fn name(t: &str) -> TopicName {
    TopicName(StrBytes::from_string(t.to_string()))
}

fn partition(index: i32, records: Option<Bytes>) -> PartitionData {
    PartitionData::default()
        .with_partition_index(index)
        .with_high_watermark(40)
        .with_last_stable_offset(30)
        .with_log_start_offset(5)
        .with_records(records)
}

fn topic_by_name(t: &str, parts: Vec<PartitionData>) -> FetchableTopicResponse {
    FetchableTopicResponse::default()
        .with_topic(name(t))
        .with_partitions(parts)
}

/// Broker 1's address, as the connection names it.
const B1: &str = "b1:9092";

// --- versions and request ----------------------------------------------------------

#[test]
fn topic_ids_allow_fetch_v17_otherwise_v12_and_v4_is_the_floor() {
    let known = [sent("a", 0, id(1), 0), sent("b", 0, id(2), 0)];
    assert_eq!((versions(&known).min, versions(&known).max), (4, 17));
    let one_unknown = [sent("a", 0, id(1), 0), sent("b", 0, uuid::Uuid::nil(), 0)];
    assert_eq!(versions(&one_unknown).max, 12);
    assert!(!names_topics_by_id(12));
    assert!(names_topics_by_id(13));
}

#[test]
fn sessions_from_fetch_v7_unless_turned_off() {
    let on = shared_with(|b| b);
    assert!(!uses_sessions(6, &on.config));
    assert!(uses_sessions(7, &on.config));
    let off = shared_with(|b| b.fetch_sessions(false));
    assert!(!uses_sessions(12, &off.config));
}

#[test]
fn a_fetch_may_take_the_request_timeout_plus_the_brokers_wait() {
    let sh = shared_with(|b| {
        b.client_builder(
            ClientBuilder::new()
                .bootstrap_servers(["127.0.0.1:1"])
                .request_timeout(Duration::from_secs(20)),
        )
        .fetch_max_wait(Duration::from_millis(700))
    });
    assert_eq!(timeout(&sh), Duration::from_millis(20_700));
}

#[test]
fn the_request_carries_the_planned_partitions_grouped_by_topic_with_the_settings() {
    let sh = shared_with(|b| {
        b.isolation_level(IsolationLevel::ReadCommitted)
            .fetch_max_wait(Duration::from_millis(250))
            .fetch_min_bytes(10)
            .fetch_max_bytes(5_000_000)
            .max_partition_fetch_bytes(70_000)
            .client_rack("r2")
    });
    let sent = [
        sent("a", 0, uuid::Uuid::nil(), 11),
        sent("a", 1, uuid::Uuid::nil(), 12),
        sent("a", 2, uuid::Uuid::nil(), 13),
        sent("b", 0, uuid::Uuid::nil(), 14),
    ];
    let req = fetch_request(&sh.config, &sent, &plan(vec![0, 2, 3], vec![]), false);
    assert_eq!(req.replica_id, BrokerId(-1));
    assert_eq!(req.max_wait_ms, 250);
    assert_eq!((req.min_bytes, req.max_bytes), (10, 5_000_000));
    assert_eq!(req.isolation_level, 1, "read_committed");
    assert_eq!((req.session_id, req.session_epoch), (77, 3));
    assert_eq!(req.rack_id.as_str(), "r2");
    let topics: Vec<(String, Vec<(i32, i64)>)> = req
        .topics
        .iter()
        .map(|t| {
            (
                t.topic.0.to_string(),
                t.partitions
                    .iter()
                    .map(|p| (p.partition, p.fetch_offset))
                    .collect(),
            )
        })
        .collect();
    assert_eq!(
        topics,
        [
            ("a".to_string(), vec![(0, 11), (2, 13)]),
            ("b".to_string(), vec![(0, 14)])
        ],
        "a-1 is in the session already"
    );
    let p = &req.topics[0].partitions[0];
    assert_eq!(p.partition_max_bytes, 70_000);
    assert_eq!(
        (
            p.current_leader_epoch,
            p.last_fetched_epoch,
            p.log_start_offset
        ),
        (-1, -1, -1)
    );
    assert!(req.forgotten_topics_data.is_empty());
}

#[test]
fn a_request_by_id_names_each_topic_by_its_id() {
    let sh = shared_with(|b| b);
    let sent = [sent("a", 0, id(1), 0), sent("b", 3, id(2), 0)];
    let req = fetch_request(&sh.config, &sent, &plan(vec![0, 1], vec![]), true);
    let ids: Vec<_> = req.topics.iter().map(|t| t.topic_id).collect();
    assert_eq!(ids, [id(1), id(2)]);
    assert_eq!(req.rack_id.as_str(), "", "no rack configured");
    assert_eq!(req.isolation_level, 0, "read_uncommitted by default");
}

#[test]
fn forgotten_partitions_are_grouped_by_topic_name_or_id() {
    let sent = [sent("a", 0, id(1), 0)];
    let forget = vec![
        (tp("a", 1), id(1)),
        (tp("a", 2), id(1)),
        (tp("c", 0), id(3)),
    ];
    let by_name = forgotten(&forget, false, &sent);
    let named: Vec<(String, Vec<i32>)> = by_name
        .iter()
        .map(|t| (t.topic.0.to_string(), t.partitions.clone()))
        .collect();
    assert_eq!(
        named,
        [("a".to_string(), vec![1, 2]), ("c".to_string(), vec![0])]
    );
    let by_id = forgotten(&forget, true, &sent);
    let ids: Vec<(uuid::Uuid, Vec<i32>)> = by_id
        .iter()
        .map(|t| (t.topic_id, t.partitions.clone()))
        .collect();
    assert_eq!(ids, [(id(1), vec![1, 2]), (id(3), vec![0])]);
    let sh = shared_with(|b| b);
    let req = fetch_request(&sh.config, &sent, &plan(vec![0], forget), true);
    assert_eq!(req.forgotten_topics_data.len(), 2, "the plan's forget list");
}

// --- the session -------------------------------------------------------------------

#[test]
fn an_answer_names_its_session_an_error_or_no_answer_end_it() {
    let ok = FetchResponse::default().with_session_id(9);
    assert_eq!(
        session_outcome(&Ok(ok)),
        SessionOutcome::Answered { session_id: 9 }
    );
    let refused = FetchResponse::default()
        .with_error_code(ErrorCode::FETCH_SESSION_ID_NOT_FOUND.code())
        .with_session_id(9);
    assert_eq!(
        session_outcome(&Ok(refused)),
        SessionOutcome::Error(ErrorCode::FETCH_SESSION_ID_NOT_FOUND)
    );
    let lost = Error::Connect {
        context: ErrorContext::default(),
        reason: "reset".into(),
    };
    assert_eq!(session_outcome(&Err(lost)), SessionOutcome::Failed);
}

#[test]
fn settling_says_whether_the_session_was_lost() {
    let t = tp("t", 0);
    let wanted = [crate::consumer::fetch_session::Wanted {
        tp: &t,
        topic_id: uuid::Uuid::nil(),
        fetch_offset: 0,
    }];
    let mut s = FetchSession::default();
    s.build(&wanted, true, false);
    assert!(
        !settle(&mut s, SessionOutcome::Answered { session_id: 5 }),
        "a new session"
    );
    s.build(&wanted, true, false);
    assert!(
        settle(
            &mut s,
            SessionOutcome::Error(ErrorCode::FETCH_SESSION_ID_NOT_FOUND)
        ),
        "the broker lost it"
    );
    s.build(&wanted, true, false);
    assert!(!settle(&mut s, SessionOutcome::Failed), "none to lose");
}

// --- reading the answer ---------------------------------------------------------------

#[test]
fn a_request_level_error_fails_the_whole_fetch_naming_the_broker() {
    let sh = shared_with(|b| b);
    let sent = [sent("t", 0, uuid::Uuid::nil(), 0)];
    let resp = FetchResponse::default()
        .with_error_code(ErrorCode::FETCH_SESSION_ID_NOT_FOUND.code())
        .with_responses(vec![topic_by_name(
            "t",
            vec![partition(0, Some(encode(Spec::data(0, 2))))],
        )]);
    let err = read_answer(&sh, 1, B1, &sent, resp, false).unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::FETCH_SESSION_ID_NOT_FOUND));
    let text = err.to_string();
    assert!(text.contains("b1:9092"), "{text}");
}

#[test]
fn each_asked_partition_gets_its_batches_offsets_and_aborted_transactions() {
    let sh = shared_with(|b| b);
    let sent = [
        sent("t", 0, uuid::Uuid::nil(), 0),
        sent("t", 1, uuid::Uuid::nil(), 0),
        sent("u", 0, uuid::Uuid::nil(), 0),
    ];
    let mut two = encode(Spec::data(0, 2)).to_vec();
    two.extend_from_slice(&encode(Spec::data(2, 3)));
    let resp = FetchResponse::default().with_responses(vec![
        topic_by_name(
            "t",
            vec![
                partition(1, Some(Bytes::from(two)))
                    .with_aborted_transactions(Some(vec![
                        AbortedTransaction::default()
                            .with_producer_id(ProducerId(42))
                            .with_first_offset(3),
                    ]))
                    .with_preferred_read_replica(BrokerId(3)),
                partition(9, Some(encode(Spec::data(0, 1)))),
            ],
        ),
        topic_by_name("v", vec![partition(0, Some(encode(Spec::data(0, 1))))]),
    ]);
    let out = read_answer(&sh, 1, B1, &sent, resp, false).unwrap();
    assert_eq!(out.len(), 3, "one slot per partition sent");
    assert!(out[0].is_none(), "t-0 not in the answer");
    assert!(out[2].is_none(), "u-0 not in the answer; v and t-9 ignored");
    let d = out[1].as_ref().expect("t-1 answered");
    assert_eq!(d.batches.len(), 2);
    assert_eq!(d.batches[1].base_offset(), 2);
    assert_eq!(
        (d.high_watermark, d.last_stable_offset, d.log_start_offset),
        (40, 30, 5)
    );
    assert_eq!(d.aborted, [(42, 3)]);
    assert_eq!(d.preferred_read_replica, 3);
    assert!(d.error.is_none() && d.decode_error.is_none());
    assert!(!d.truncated_only && !d.leader_moved);
    assert!(d.bytes > 0);
}

#[test]
fn an_answer_by_id_is_matched_to_the_topic_the_id_was_sent_for() {
    let sh = shared_with(|b| b);
    let sent = [sent("a", 0, id(1), 0), sent("b", 0, id(2), 0)];
    let resp = FetchResponse::default().with_responses(vec![
        FetchableTopicResponse::default()
            .with_topic_id(id(2))
            .with_partitions(vec![partition(0, Some(encode(Spec::data(7, 1))))]),
        FetchableTopicResponse::default()
            .with_topic_id(id(9))
            .with_partitions(vec![partition(0, Some(encode(Spec::data(0, 1))))]),
    ]);
    let out = read_answer(&sh, 1, B1, &sent, resp, true).unwrap();
    assert!(out[0].is_none());
    assert_eq!(out[1].as_ref().unwrap().batches[0].base_offset(), 7);
}

#[test]
fn a_batch_cut_by_the_byte_limit_alone_is_truncated_only_and_a_bad_crc_stops_decoding() {
    let sh = shared_with(|b| b.check_crcs(true));
    let sent = [
        sent("t", 0, uuid::Uuid::nil(), 0),
        sent("t", 1, uuid::Uuid::nil(), 0),
        sent("t", 2, uuid::Uuid::nil(), 0),
    ];
    let whole = encode(Spec::data(0, 3));
    let cut = whole.slice(..whole.len() - 1);
    let mut corrupt = encode(Spec::data(0, 2)).to_vec();
    let last = corrupt.len() - 1;
    corrupt[last] ^= 0xff;
    let mut good_then_bad = encode(Spec::data(0, 1)).to_vec();
    good_then_bad.extend_from_slice(&corrupt);
    let resp = FetchResponse::default().with_responses(vec![topic_by_name(
        "t",
        vec![
            partition(0, Some(cut)),
            partition(1, Some(Bytes::from(good_then_bad))),
            partition(2, None),
        ],
    )]);
    let out = read_answer(&sh, 1, B1, &sent, resp, false).unwrap();
    let cut = out[0].as_ref().unwrap();
    assert!(cut.truncated_only && cut.batches.is_empty() && cut.decode_error.is_none());
    let bad = out[1].as_ref().unwrap();
    assert_eq!(bad.batches.len(), 1, "the batch before the bad one is kept");
    assert!(bad.decode_error.is_some() && !bad.truncated_only);
    let empty = out[2].as_ref().unwrap();
    assert!(!empty.truncated_only, "no bytes: nothing was cut");
    assert_eq!(empty.bytes, 0);
}

/// The answer's `node_endpoints`: node 2 at b2:9092.
fn endpoint_2() -> Vec<NodeEndpoint> {
    vec![
        NodeEndpoint::default()
            .with_node_id(BrokerId(2))
            .with_host(StrBytes::from_static_str("b2"))
            .with_port(9092),
    ]
}

fn not_leader(hint: i32, epoch: i32) -> PartitionData {
    partition(0, None)
        .with_error_code(ErrorCode::NOT_LEADER_OR_FOLLOWER.code())
        .with_current_leader(
            LeaderIdAndEpoch::default()
                .with_leader_id(BrokerId(hint))
                .with_leader_epoch(epoch),
        )
}

#[test]
fn a_leader_hint_with_the_new_leaders_address_moves_the_partition() {
    let sh = shared_with(|b| b);
    led_by(&sh, &[Some(1)]);
    let sent = [sent("t", 0, uuid::Uuid::nil(), 0)];
    let resp = FetchResponse::default()
        .with_responses(vec![topic_by_name("t", vec![not_leader(2, 4)])])
        .with_node_endpoints(endpoint_2());
    let out = read_answer(&sh, 1, B1, &sent, resp, false).unwrap();
    let d = out[0].as_ref().unwrap();
    assert_eq!(d.error, Some(ErrorCode::NOT_LEADER_OR_FOLLOWER));
    assert!(d.leader_moved);
    let meta = sh.client.cached_metadata();
    let p = meta.topic("t").unwrap().partition(0).unwrap();
    assert_eq!((p.leader, p.leader_epoch), (Some(2), 4));
}

#[test]
fn no_usable_hint_or_another_error_leaves_the_partition_where_it_was() {
    let sh = shared_with(|b| b);
    led_by(&sh, &[Some(1)]);
    let sent = [sent("t", 0, uuid::Uuid::nil(), 0)];
    // No address for node 2 in the answer or the metadata.
    let resp =
        FetchResponse::default().with_responses(vec![topic_by_name("t", vec![not_leader(2, 4)])]);
    let out = read_answer(&sh, 1, B1, &sent, resp, false).unwrap();
    assert!(!out[0].as_ref().unwrap().leader_moved);
    // A hint on an error that is not about leadership is not followed.
    let other = not_leader(2, 4).with_error_code(ErrorCode::OFFSET_OUT_OF_RANGE.code());
    let resp = FetchResponse::default()
        .with_responses(vec![topic_by_name("t", vec![other])])
        .with_node_endpoints(endpoint_2());
    let out = read_answer(&sh, 1, B1, &sent, resp, false).unwrap();
    assert!(!out[0].as_ref().unwrap().leader_moved);
    let meta = sh.client.cached_metadata();
    assert_eq!(
        meta.topic("t").unwrap().partition(0).unwrap().leader,
        Some(1)
    );
}

#[test]
fn complete_batches_counts_whole_batches_only() {
    use crate::records::{BatchBuilder, BatchMeta, Compression};
    let mut all = Vec::new();
    for i in 0..3 {
        let mut b = BatchBuilder::new(Compression::None, 1 << 16);
        b.append(i, None, Some(b"value"), &[]).unwrap();
        all.extend_from_slice(&b.finish(&BatchMeta::default()).unwrap());
    }
    assert_eq!(complete_batches(&all), 3);
    // A batch cut short by the broker's byte limit is not counted.
    assert_eq!(complete_batches(&all[..all.len() - 1]), 2);
    assert_eq!(complete_batches(&all[..5]), 0);
    assert_eq!(complete_batches(&[]), 0);
    // A negative length stops the count (the decoder reports it).
    let mut bad = all.clone();
    bad[8..12].copy_from_slice(&(-1i32).to_be_bytes());
    assert_eq!(complete_batches(&bad), 0);
}

#[test]
fn crcs_are_checked_only_when_the_consumer_asks() {
    let sent = [sent("t", 0, uuid::Uuid::nil(), 0)];
    let mut bad_crc = encode(Spec::data(0, 2)).to_vec();
    bad_crc[17] ^= 0xff; // the CRC field itself (after offset, length, epoch, magic)
    let bad_crc = Bytes::from(bad_crc);
    for (check, decoded) in [(true, 0), (false, 1)] {
        let sh = shared_with(|b| b.check_crcs(check));
        let resp = FetchResponse::default().with_responses(vec![topic_by_name(
            "t",
            vec![partition(0, Some(bad_crc.clone()))],
        )]);
        let out = read_answer(&sh, 1, B1, &sent, resp, false).unwrap();
        let d = out[0].as_ref().unwrap();
        assert_eq!(d.batches.len(), decoded, "check.crcs={check}");
        assert_eq!(d.decode_error.is_some(), check, "check.crcs={check}");
    }
}
