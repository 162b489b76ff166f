//! What a newcomer writes from the README and rustdoc alone compiles, with nothing but
//! this crate as a dependency (issue 15, item 11). Each test is one of the stumbles
//! found that way; it fails to compile if the API regresses.

use std::time::Duration;

use kafka_client::consumer::{Consumer, RebalanceListener};
use kafka_client::{
    BoxFuture, Bytes, Compression, GroupMetadata, Header, OffsetAndMetadata, ProducerRecord,
    TopicPartition,
};

#[test]
fn a_null_header_needs_no_type_annotation_and_no_bytes_dependency() {
    let r = ProducerRecord::new("t")
        .with_header("a", "text")
        .with_header("b", Bytes::from_static(b"\x00\x01"))
        .with_header("c", vec![1u8, 2])
        .with_null_header("d");
    let values: Vec<Option<&[u8]>> = r.headers.iter().map(|h| h.value.as_deref()).collect();
    assert_eq!(
        values,
        vec![
            Some(&b"text"[..]),
            Some(&[0, 1][..]),
            Some(&[1, 2][..]),
            None
        ]
    );
}

#[test]
fn headers_copy_from_a_consumed_record() {
    let consumed = vec![
        Header::new("k", Some(Bytes::from_static(b"v"))),
        Header::new("n", None),
    ];
    let r = ProducerRecord::new("t").with_headers(consumed.iter().cloned());
    assert_eq!(r.headers, consumed);
}

#[test]
fn a_rebalance_listener_needs_no_futures_dependency() {
    struct Log;
    impl RebalanceListener for Log {
        fn assigned(&self, _c: Consumer, parts: Vec<TopicPartition>) -> BoxFuture<'static, ()> {
            Box::pin(async move {
                let _ = parts;
            })
        }
    }
    let listener: std::sync::Arc<dyn RebalanceListener> = std::sync::Arc::new(Log);
    let _ = listener;
}

#[test]
fn compression_and_the_vocabulary_types_are_at_the_crate_root() {
    let c: Compression = "zstd".parse().expect("a codec name");
    assert_eq!(c, Compression::Zstd);
    let tp = TopicPartition::new("orders", 3);
    assert_eq!(tp.to_string(), "orders-3");
    let om = OffsetAndMetadata::new(42).with_metadata("m");
    assert_eq!(om.offset, 42);
    let gm = GroupMetadata {
        group_id: "g".into(),
        generation_id: -1,
        member_id: String::new(),
        group_instance_id: None,
    };
    assert_eq!(gm.group_id, "g");
    // The consumer module names the same types.
    let same: kafka_client::consumer::TopicPartition = tp;
    assert_eq!(same.partition, 3);
}

#[test]
fn a_producer_builder_takes_the_root_compression() {
    let p = kafka_client::Producer::builder()
        .bootstrap_servers(["127.0.0.1:9092"])
        .compression(Compression::Lz4)
        .linger(Duration::from_millis(1))
        .build();
    assert!(p.is_ok());
}
