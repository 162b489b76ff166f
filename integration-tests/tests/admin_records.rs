//! List offsets and delete records through kafka-admin, against the real broker (records
//! produced with `kcat`).

mod admin_support;
mod common;

use std::time::{Duration, SystemTime};

use admin_support::{admin, bootstrap, produce, values};
use kafka_admin::{
    DeleteRecordsOptions, ListOffsetsOptions, OffsetSpec, RecordsToDelete, TopicPartition,
};
use kafka_client::ErrorCode;

fn tp(topic: &str, p: i32) -> TopicPartition {
    TopicPartition::new(topic, p)
}

#[tokio::test]
async fn list_offsets_earliest_latest_and_by_time() {
    let admin = admin();
    let b = bootstrap();
    let t = common::unique_topic("adm-offsets");
    common::create_topic(admin.client(), &t, 2, 1).await;
    produce(&b, &t, 0, &values("early", 5));
    tokio::time::sleep(Duration::from_millis(50)).await;
    let between = SystemTime::now();
    tokio::time::sleep(Duration::from_millis(50)).await;
    produce(&b, &t, 0, &values("late", 5));

    let missing_topic = common::unique_topic("adm-offsets-missing");
    let listed = admin
        .list_offsets(
            [
                (tp(&t, 0), OffsetSpec::Latest),
                (tp(&t, 1), OffsetSpec::Latest),
                (tp(&t, 5), OffsetSpec::Latest),
                (tp(&missing_topic, 0), OffsetSpec::Earliest),
            ],
            ListOffsetsOptions::default(),
        )
        .await
        .expect("request");
    assert_eq!(listed[&tp(&t, 0)].as_ref().unwrap().offset, Some(10));
    assert_eq!(listed[&tp(&t, 1)].as_ref().unwrap().offset, Some(0));
    for missing in [tp(&t, 5), tp(&missing_topic, 0)] {
        let err = listed[&missing].as_ref().unwrap_err();
        assert_eq!(
            err.code(),
            Some(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION),
            "{err}"
        );
    }

    let p0 = tp(&t, 0);
    let one = |spec| {
        let admin = &admin;
        let p0 = p0.clone();
        async move {
            let r = admin
                .list_offsets(
                    [(p0.clone(), spec)],
                    ListOffsetsOptions::default().read_committed(true),
                )
                .await
                .unwrap();
            r[&p0].clone().unwrap()
        }
    };
    assert_eq!(one(OffsetSpec::Earliest).await.offset, Some(0));
    assert_eq!(
        one(OffsetSpec::Latest).await.offset,
        Some(10),
        "no transactions: LSO = HW"
    );
    let at = one(OffsetSpec::at(between)).await;
    assert_eq!(at.offset, Some(5), "{at:?}");
    let ts = at.timestamp.expect("a timestamp");
    let between_ms = between
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    assert!(ts >= between_ms, "{ts} < {between_ms}");
    assert_eq!(at.leader_epoch, Some(0));
    let max = one(OffsetSpec::MaxTimestamp).await;
    assert!((5..10).contains(&max.offset.unwrap()), "{max:?}");
    assert!(max.timestamp.unwrap() >= ts, "{max:?}");
    let future = one(OffsetSpec::at(
        SystemTime::now() + Duration::from_secs(3600),
    ))
    .await;
    assert_eq!(future.offset, None, "{future:?}");
}

#[tokio::test]
async fn delete_records_moves_the_log_start() {
    let admin = admin();
    let b = bootstrap();
    let t = common::unique_topic("adm-delete-records");
    common::create_topic(admin.client(), &t, 3, 1).await;
    produce(&b, &t, 0, &values("a", 10));
    produce(&b, &t, 1, &values("b", 4));

    let missing = common::unique_topic("adm-delete-records-missing");
    let deleted = admin
        .delete_records(
            [
                (tp(&t, 0), RecordsToDelete::BeforeOffset(3)),
                (tp(&t, 1), RecordsToDelete::All),
                (tp(&t, 2), RecordsToDelete::BeforeOffset(100)),
                (tp(&missing, 0), RecordsToDelete::All),
            ],
            DeleteRecordsOptions::default(),
        )
        .await
        .expect("request");
    assert_eq!(deleted[&tp(&t, 0)].as_ref().unwrap().low_watermark, 3);
    assert_eq!(deleted[&tp(&t, 1)].as_ref().unwrap().low_watermark, 4);
    let err = deleted[&tp(&t, 2)].as_ref().unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::OFFSET_OUT_OF_RANGE), "{err}");
    let err = deleted[&tp(&missing, 0)].as_ref().unwrap_err();
    assert_eq!(
        err.code(),
        Some(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION),
        "{err}"
    );

    let earliest = admin
        .list_offsets(
            (0..2).map(|p| (tp(&t, p), OffsetSpec::Earliest)),
            ListOffsetsOptions::default(),
        )
        .await
        .unwrap();
    assert_eq!(earliest[&tp(&t, 0)].as_ref().unwrap().offset, Some(3));
    assert_eq!(earliest[&tp(&t, 1)].as_ref().unwrap().offset, Some(4));
}
