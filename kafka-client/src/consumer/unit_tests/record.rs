//! `ConsumerRecords`: recycling of record vectors, counts, splitting.

use std::sync::Arc;

use crate::consumer::record::{ConsumerRecord, ConsumerRecords, PartitionError, RecordVecs};
use crate::error::Error;
use crate::records::TimestampType;

use super::tp;

fn rec(offset: i64) -> ConsumerRecord {
    ConsumerRecord {
        topic: Arc::from("t"),
        partition: 2,
        offset,
        timestamp: 0,
        timestamp_type: TimestampType::CreateTime,
        key: None,
        value: None,
        headers: Vec::new(),
        leader_epoch: None,
    }
}

fn batch(vecs: &Arc<RecordVecs>, n: i64) -> ConsumerRecords {
    let mut records = vecs.take();
    records.extend((0..n).map(rec));
    ConsumerRecords {
        records,
        errors: Vec::new(),
        recycle: Some(vecs.clone()),
    }
}

#[test]
fn a_dropped_result_gives_its_vector_back_empty() {
    let vecs = Arc::new(RecordVecs::default());
    let first = batch(&vecs, 10);
    let ptr = first.records.as_ptr();
    let cap = first.records.capacity();
    drop(first);
    let again = vecs.take();
    assert!(again.is_empty());
    assert_eq!(again.capacity(), cap);
    assert_eq!(again.as_ptr(), ptr, "the same allocation");
    assert_eq!(vecs.take().capacity(), 0, "only one was given back");
}

#[test]
fn at_most_four_vectors_are_kept() {
    let vecs = Arc::new(RecordVecs::default());
    let batches: Vec<_> = (0..6).map(|_| batch(&vecs, 1)).collect();
    drop(batches);
    let mut kept = 0;
    while vecs.take().capacity() > 0 {
        kept += 1;
    }
    assert_eq!(kept, 4);
}

#[test]
fn an_unallocated_vector_is_not_kept() {
    let vecs = Arc::new(RecordVecs::default());
    drop(batch(&vecs, 0));
    let mut with_one = vecs.take();
    assert_eq!(with_one.capacity(), 0);
    with_one.push(rec(1));
    drop(ConsumerRecords {
        records: with_one,
        errors: Vec::new(),
        recycle: Some(vecs.clone()),
    });
    assert!(vecs.take().capacity() > 0);
}

#[test]
fn records_taken_out_are_not_recycled() {
    let vecs = Arc::new(RecordVecs::default());
    let (records, errors) = batch(&vecs, 3).into_parts();
    assert_eq!(records.len(), 3);
    assert!(errors.is_empty());
    assert_eq!(vecs.take().capacity(), 0);
    let offsets: Vec<i64> = batch(&vecs, 2).into_iter().map(|r| r.offset).collect();
    assert_eq!(offsets, vec![0, 1]);
    assert_eq!(vecs.take().capacity(), 0);
}

#[test]
fn counts_and_emptiness_see_records_and_errors_apart() {
    let mut r = ConsumerRecords::default();
    assert!(r.is_empty());
    assert_eq!(r.len(), 0);
    r.errors.push(PartitionError {
        topic_partition: tp("t", 1),
        error: Error::InvalidState("x".into()),
    });
    assert!(!r.is_empty(), "an error alone is something");
    assert_eq!(r.len(), 0, "errors are not records");
    r.records.push(rec(4));
    assert_eq!(r.len(), 1);
    assert_eq!(r.iter().count(), 1);
    assert_eq!((&r).into_iter().next().unwrap().offset, 4);
    assert_eq!(r.records()[0].topic_partition(), tp("t", 2));
    assert_eq!(r.errors().len(), 1);
}

#[test]
fn a_partition_error_becomes_one_error_naming_the_partition() {
    let e = PartitionError {
        topic_partition: tp("orders", 7),
        error: Error::InvalidState("boom".into()),
    }
    .into_error();
    match e {
        Error::Partition {
            topic,
            partition,
            error,
        } => {
            assert_eq!((topic.as_str(), partition), ("orders", 7));
            assert!(matches!(&*error, Error::InvalidState(m) if m == "boom"));
        }
        other => panic!("{other:?}"),
    }
}
