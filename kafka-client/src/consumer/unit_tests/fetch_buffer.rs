//! The fetch buffer (Java's `FetchCollectorTest`/`FetcherTest`): drain order, the
//! record limit, read_committed, stale answers, discards and byte accounting.

use crate::consumer::builder::IsolationLevel;
use crate::consumer::fetch_buffer::{CompletedFetch, FetchBuffer};
use crate::consumer::subscription::{Assignment, InitState};
use crate::error::Error;
use crate::records::ControlRecordType::{Abort, Commit};

use super::{Spec, completed, offsets, ready, tp};

const RU: IsolationLevel = IsolationLevel::ReadUncommitted;
const RC: IsolationLevel = IsolationLevel::ReadCommitted;

fn two_partitions() -> Assignment {
    let mut parts = Assignment::new();
    parts.insert(tp("t", 0), ready("t", 0));
    parts.insert(tp("t", 1), ready("t", 0));
    parts
}

fn push(buf: &mut FetchBuffer, parts: &mut Assignment, p: i32, specs: &[Spec], bytes: usize) {
    let t = tp("t", p);
    let epoch = parts[&t].epoch;
    buf.push(completed(&t, epoch, specs, vec![], bytes), parts);
}

fn drain(
    buf: &mut FetchBuffer,
    parts: &mut Assignment,
    max: usize,
) -> (Vec<(i32, i64)>, Vec<crate::consumer::PartitionError>) {
    let mut records = Vec::new();
    let mut errors = Vec::new();
    buf.drain(parts, RU, max, &mut records, &mut errors);
    (offsets(&records), errors)
}

fn drain_one(f: &mut CompletedFetch, iso: IsolationLevel, position: i64) -> (Vec<i64>, i64) {
    let mut p = ready("t", position);
    p.epoch = f.epoch;
    let mut out = Vec::new();
    assert!(f.drain(&mut p, iso, 1000, &mut out).is_none());
    (out.iter().map(|r| r.offset).collect(), p.position)
}

#[test]
fn push_counts_bytes_in_the_buffer_and_the_partition() {
    let mut parts = two_partitions();
    let mut buf = FetchBuffer::default();
    push(&mut buf, &mut parts, 0, &[Spec::data(0, 2)], 300);
    push(&mut buf, &mut parts, 1, &[Spec::data(0, 2)], 50);
    push(&mut buf, &mut parts, 0, &[Spec::data(2, 2)], 7);
    assert_eq!(buf.bytes(), 357);
    assert_eq!(parts[&tp("t", 0)].buffered_bytes, 307);
    assert_eq!(parts[&tp("t", 1)].buffered_bytes, 50);
}

#[test]
fn a_fetch_for_an_unassigned_partition_counts_in_the_buffer_only() {
    let mut parts = two_partitions();
    let mut buf = FetchBuffer::default();
    buf.push(
        completed(&tp("u", 0), 1, &[Spec::data(0, 1)], vec![], 40),
        &mut parts,
    );
    assert_eq!(buf.bytes(), 40);
    assert!(parts.values().all(|p| p.buffered_bytes == 0));
    // Draining drops it (no state to deliver under) and frees its bytes.
    let (got, errors) = drain(&mut buf, &mut parts, 10);
    assert!(got.is_empty() && errors.is_empty());
    assert_eq!(buf.bytes(), 0);
}

#[test]
fn drains_fetches_in_arrival_order() {
    let mut parts = two_partitions();
    let mut buf = FetchBuffer::default();
    push(&mut buf, &mut parts, 1, &[Spec::data(0, 2)], 10);
    push(&mut buf, &mut parts, 0, &[Spec::data(0, 1)], 10);
    push(&mut buf, &mut parts, 1, &[Spec::data(2, 1)], 10);
    let (got, _) = drain(&mut buf, &mut parts, 100);
    assert_eq!(got, vec![(1, 0), (1, 1), (0, 0), (1, 2)]);
    assert_eq!(buf.bytes(), 0);
    assert_eq!(parts[&tp("t", 1)].position, 3);
    assert_eq!(parts[&tp("t", 0)].position, 1);
}

#[test]
fn the_record_limit_stops_inside_a_fetch_and_keeps_the_rest() {
    let mut parts = two_partitions();
    let mut buf = FetchBuffer::default();
    push(&mut buf, &mut parts, 0, &[Spec::data(0, 2)], 100);
    push(&mut buf, &mut parts, 1, &[Spec::data(0, 3)], 60);
    let (got, _) = drain(&mut buf, &mut parts, 3);
    assert_eq!(got, vec![(0, 0), (0, 1), (1, 0)]);
    assert_eq!(
        buf.bytes(),
        60,
        "the drained fetch's bytes are freed, not the other's"
    );
    assert_eq!(parts[&tp("t", 0)].buffered_bytes, 0);
    assert_eq!(parts[&tp("t", 1)].buffered_bytes, 60);
    let (got, _) = drain(&mut buf, &mut parts, 3);
    assert_eq!(got, vec![(1, 1), (1, 2)]);
    assert_eq!(buf.bytes(), 0);
    assert_eq!(parts[&tp("t", 1)].buffered_bytes, 0);
}

#[test]
fn a_fetch_drained_exactly_at_the_limit_is_released() {
    let mut parts = two_partitions();
    let mut buf = FetchBuffer::default();
    push(&mut buf, &mut parts, 0, &[Spec::data(0, 2)], 100);
    let (got, _) = drain(&mut buf, &mut parts, 2);
    assert_eq!(got.len(), 2);
    // The fetch still holds its (empty) current batch: a later drain releases it.
    let (got, _) = drain(&mut buf, &mut parts, 2);
    assert!(got.is_empty());
    assert_eq!(buf.bytes(), 0);
    assert_eq!(buf.records_bound(10), 0);
}

#[test]
fn the_limit_counts_records_already_in_the_output() {
    let mut parts = two_partitions();
    let mut buf = FetchBuffer::default();
    push(&mut buf, &mut parts, 0, &[Spec::data(0, 5)], 10);
    let mut records = Vec::new();
    let mut errors = Vec::new();
    buf.drain(&mut parts, RU, 2, &mut records, &mut errors);
    assert_eq!(records.len(), 2);
    buf.drain(&mut parts, RU, 3, &mut records, &mut errors);
    assert_eq!(offsets(&records), vec![(0, 0), (0, 1), (0, 2)]);
    assert_eq!(parts[&tp("t", 0)].position, 3);
}

#[test]
fn a_zero_limit_moves_nothing() {
    let mut parts = two_partitions();
    let mut buf = FetchBuffer::default();
    push(&mut buf, &mut parts, 0, &[Spec::data(0, 2)], 10);
    let (got, _) = drain(&mut buf, &mut parts, 0);
    assert!(got.is_empty());
    assert_eq!(parts[&tp("t", 0)].position, 0);
    assert_eq!(buf.bytes(), 10);
}

#[test]
fn an_answer_for_an_older_epoch_is_dropped() {
    let mut parts = two_partitions();
    let mut buf = FetchBuffer::default();
    push(&mut buf, &mut parts, 0, &[Spec::data(0, 3)], 30);
    // The application seeks while the answer waits: it must not be delivered.
    parts.get_mut(&tp("t", 0)).unwrap().seek(10);
    push(&mut buf, &mut parts, 0, &[Spec::data(10, 1)], 5);
    let (got, _) = drain(&mut buf, &mut parts, 100);
    assert_eq!(got, vec![(0, 10)]);
    assert_eq!(parts[&tp("t", 0)].position, 11);
    assert_eq!(buf.bytes(), 0);
    assert_eq!(parts[&tp("t", 0)].buffered_bytes, 0);
}

#[test]
fn an_undeliverable_partition_is_skipped_and_kept() {
    for block in ["paused", "awaiting", "revoking"] {
        let mut parts = two_partitions();
        let mut buf = FetchBuffer::default();
        push(&mut buf, &mut parts, 0, &[Spec::data(0, 2)], 10);
        push(&mut buf, &mut parts, 1, &[Spec::data(0, 1)], 20);
        let p0 = parts.get_mut(&tp("t", 0)).unwrap();
        match block {
            "paused" => p0.paused = true,
            "awaiting" => p0.awaiting_callback = true,
            _ => p0.revoking = true,
        }
        let (got, _) = drain(&mut buf, &mut parts, 100);
        assert_eq!(got, vec![(1, 0)], "{block}");
        assert_eq!(buf.bytes(), 10, "{block}: the held fetch keeps its bytes");
        assert_eq!(parts[&tp("t", 0)].position, 0, "{block}");
        let p0 = parts.get_mut(&tp("t", 0)).unwrap();
        (p0.paused, p0.awaiting_callback, p0.revoking) = (false, false, false);
        let (got, _) = drain(&mut buf, &mut parts, 100);
        assert_eq!(got, vec![(0, 0), (0, 1)], "{block}: delivered once let out");
    }
}

#[test]
fn discard_drops_only_the_matching_partitions() {
    let mut parts = two_partitions();
    let mut buf = FetchBuffer::default();
    push(&mut buf, &mut parts, 0, &[Spec::data(0, 2)], 10);
    push(&mut buf, &mut parts, 1, &[Spec::data(0, 2)], 20);
    push(&mut buf, &mut parts, 0, &[Spec::data(2, 2)], 30);
    buf.discard(&mut parts, |t| t.partition == 0);
    assert_eq!(buf.bytes(), 20);
    assert_eq!(parts[&tp("t", 0)].buffered_bytes, 0);
    assert_eq!(parts[&tp("t", 1)].buffered_bytes, 20);
    let (got, _) = drain(&mut buf, &mut parts, 100);
    assert_eq!(got, vec![(1, 0), (1, 1)]);
    assert_eq!(
        parts[&tp("t", 0)].position,
        0,
        "discarded data never moved it"
    );
}

#[test]
fn records_bound_counts_up_to_the_limit() {
    let mut parts = two_partitions();
    let mut buf = FetchBuffer::default();
    assert_eq!(buf.records_bound(10), 0);
    push(&mut buf, &mut parts, 0, &[Spec::data(0, 3)], 10);
    push(
        &mut buf,
        &mut parts,
        1,
        &[Spec::data(0, 2), Spec::marker(2, 1, Commit)],
        10,
    );
    assert_eq!(buf.records_bound(100), 6, "control records included");
    assert_eq!(buf.records_bound(4), 4);
    assert_eq!(buf.records_bound(6), 6);
    let (got, _) = drain(&mut buf, &mut parts, 2);
    assert_eq!(got.len(), 2);
    assert_eq!(
        buf.records_bound(100),
        4,
        "what is left of the current batch counts"
    );
}

#[test]
fn partition_errors_come_out_with_the_records_before_them() {
    let mut parts = two_partitions();
    let mut buf = FetchBuffer::default();
    let t = tp("t", 0);
    let mut f = completed(&t, parts[&t].epoch, &[Spec::data(0, 2)], vec![], 10);
    f.error = Some(Error::InvalidState("corrupt".into()));
    buf.push(f, &mut parts);
    push(&mut buf, &mut parts, 1, &[Spec::data(0, 1)], 5);
    let (got, errors) = drain(&mut buf, &mut parts, 100);
    assert_eq!(got, vec![(0, 0), (0, 1), (1, 0)]);
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].topic_partition, t);
    assert_eq!(parts[&t].init, InitState::Failed);
    assert_eq!(parts[&t].position, 2);
    assert_eq!(buf.bytes(), 0);
}

#[test]
fn an_error_alone_is_not_drained_until_delivered() {
    let t = tp("t", 0);
    let mut f = completed(&t, 1, &[], vec![], 0);
    assert!(f.is_drained());
    f.error = Some(Error::InvalidState("x".into()));
    assert!(!f.is_drained());
    let mut p = ready("t", 0);
    let mut out = Vec::new();
    let e = f.drain(&mut p, RU, 10, &mut out).expect("the error");
    assert_eq!(e.topic_partition, t);
    assert!(f.is_drained());
    assert_eq!(p.init, InitState::Failed);
}

#[test]
fn batches_before_the_position_are_skipped_without_moving_it_back() {
    let mut f = completed(
        &tp("t", 0),
        0,
        &[Spec::data(0, 3), Spec::data(3, 3)],
        vec![],
        10,
    );
    let (got, position) = drain_one(&mut f, RU, 4);
    assert_eq!(got, vec![4, 5]);
    assert_eq!(position, 6);
    let mut f = completed(&tp("t", 0), 0, &[Spec::data(0, 3)], vec![], 10);
    let (got, position) = drain_one(&mut f, RU, 9);
    assert!(got.is_empty());
    assert_eq!(position, 9);
}

#[test]
fn a_control_batch_moves_the_position_past_it() {
    let mut f = completed(
        &tp("t", 0),
        0,
        &[Spec::txn(0, 2, 3), Spec::marker(2, 3, Commit)],
        vec![],
        10,
    );
    let (got, position) = drain_one(&mut f, RU, 0);
    assert_eq!(got, vec![0, 1]);
    assert_eq!(position, 3);
}

#[test]
fn read_committed_keeps_a_producers_transactions_before_its_first_aborted_offset() {
    // pid 7: committed transaction at 0-1, then an aborted one from 3.
    let specs = [
        Spec::txn(0, 2, 7),
        Spec::marker(2, 7, Commit),
        Spec::txn(3, 2, 7),
        Spec::marker(5, 7, Abort),
        Spec::data(6, 1),
    ];
    let mut f = completed(&tp("t", 0), 0, &specs, vec![(7, 3)], 10);
    let (got, position) = drain_one(&mut f, RC, 0);
    assert_eq!(got, vec![0, 1, 6]);
    assert_eq!(position, 7);
}

#[test]
fn read_committed_leaves_other_producers_alone() {
    let specs = [
        Spec::txn(0, 2, 7),
        Spec::txn(2, 2, 8),
        Spec::marker(4, 7, Abort),
        Spec::marker(5, 8, Commit),
    ];
    let mut f = completed(&tp("t", 0), 0, &specs, vec![(7, 0)], 10);
    let (got, position) = drain_one(&mut f, RC, 0);
    assert_eq!(got, vec![2, 3]);
    assert_eq!(position, 6);
}

#[test]
fn read_committed_sorts_the_aborted_list() {
    // Listed out of order: both transactions are aborted.
    let specs = [
        Spec::txn(0, 2, 7),
        Spec::marker(2, 7, Abort),
        Spec::txn(3, 2, 8),
        Spec::marker(5, 8, Abort),
        Spec::data(6, 1),
    ];
    let mut f = completed(&tp("t", 0), 0, &specs, vec![(8, 3), (7, 0)], 10);
    let (got, _) = drain_one(&mut f, RC, 0);
    assert_eq!(got, vec![6]);
}

#[test]
fn read_committed_applies_an_abort_only_up_to_its_marker() {
    // The abort marker ends the aborted transaction; the next one of pid 7 (not
    // listed) is read.
    let specs = [
        Spec::txn(0, 2, 7),
        Spec::marker(2, 7, Abort),
        Spec::txn(3, 2, 7),
        Spec::marker(5, 7, Commit),
    ];
    let mut f = completed(&tp("t", 0), 0, &specs, vec![(7, 0)], 10);
    let (got, _) = drain_one(&mut f, RC, 0);
    assert_eq!(got, vec![3, 4]);
}

#[test]
fn read_committed_keeps_non_transactional_batches_of_an_aborted_producer_id() {
    let mut plain = Spec::data(0, 2);
    plain.pid = 7; // idempotent, not transactional
    let mut f = completed(&tp("t", 0), 0, &[plain], vec![(7, 0)], 10);
    let (got, _) = drain_one(&mut f, RC, 0);
    assert_eq!(got, vec![0, 1]);
}

#[test]
fn read_uncommitted_ignores_the_aborted_list() {
    let specs = [Spec::txn(0, 2, 7), Spec::marker(2, 7, Abort)];
    let mut f = completed(&tp("t", 0), 0, &specs, vec![(7, 0)], 10);
    let (got, position) = drain_one(&mut f, RU, 0);
    assert_eq!(got, vec![0, 1]);
    assert_eq!(position, 3);
}

#[test]
fn records_carry_their_batch_leader_epoch_and_content() {
    let specs = [Spec::data(0, 1).epoch(5), Spec::data(1, 1)];
    let t = tp("t", 3);
    let mut f = completed(&t, 0, &specs, vec![], 10);
    let mut p = ready("t", 0);
    let mut out = Vec::new();
    assert!(f.drain(&mut p, RU, 1, &mut out).is_none());
    assert_eq!(out[0].leader_epoch, Some(5));
    assert_eq!(p.leader_epoch, Some(5));
    assert_eq!(out[0].partition, 3);
    assert_eq!(&*out[0].topic, "t");
    assert_eq!(out[0].key.as_deref(), Some(&b"k0"[..]));
    assert_eq!(out[0].value.as_deref(), Some(&b"v0"[..]));
    assert_eq!(out[0].timestamp, 1_000);
    assert!(f.drain(&mut p, RU, 5, &mut out).is_none());
    assert_eq!(out[1].leader_epoch, None, "a negative epoch is no epoch");
    assert_eq!(p.leader_epoch, None);
    assert_eq!(p.position, 2);
}

/// `data(base, count)` with its second record's length made negative (a batch whose
/// CRC would be checked is rewritten too: decoded here without the CRC check).
fn corrupt_second_record(base: i64, count: i64) -> Vec<crate::records::RecordBatch> {
    use crate::records::{DecodeLimits, decode_batches};
    let mut raw = bytes::BytesMut::from(&super::encode(Spec::data(base, count))[..]);
    const RECORDS_AT: usize = 61;
    let first_len = usize::from(raw[RECORDS_AT] >> 1); // one-byte zigzag varint
    raw[RECORDS_AT + 1 + first_len] = 0x01; // zigzag -1
    let limits = DecodeLimits {
        verify_crc: false,
        ..DecodeLimits::default()
    };
    decode_batches(raw.freeze(), limits)
        .map(|b| b.unwrap())
        .collect()
}

fn fetch_of(
    t: &crate::types::TopicPartition,
    epoch: u64,
    mut batches: Vec<crate::records::RecordBatch>,
    more: &[Spec],
) -> CompletedFetch {
    batches.extend(super::batches(more));
    CompletedFetch::new(
        t.clone(),
        std::sync::Arc::from(t.topic.as_str()),
        epoch,
        batches,
        vec![],
        None,
        10,
    )
}

#[test]
fn a_corrupt_record_fails_the_partition_and_drops_the_rest_of_its_fetch() {
    let t = tp("t", 0);
    let mut f = fetch_of(&t, 0, corrupt_second_record(0, 3), &[Spec::data(3, 2)]);
    let mut p = ready("t", 0);
    p.epoch = 0;
    let mut out = Vec::new();
    let e = f
        .drain(&mut p, RU, 100, &mut out)
        .expect("a partition error");
    assert_eq!(e.topic_partition, t);
    assert_eq!(out.iter().map(|r| r.offset).collect::<Vec<_>>(), vec![0]);
    assert_eq!(p.position, 1, "at the record that could not be read");
    assert_eq!(p.init, InitState::Failed);
    assert!(f.is_drained(), "offsets 3-4 of the same answer are dropped");
    let mut more = Vec::new();
    assert!(f.drain(&mut p, RU, 100, &mut more).is_none());
    assert!(more.is_empty());
}

/// After a corrupt record the partition is documented to stop until the application
/// seeks, but a later answer of the same partition already in the buffer (prefetched
/// under the same epoch) is still delivered: offsets 1-2 are skipped silently and the
/// position (and so the next auto-commit) moves past them.
#[test]
fn no_records_of_a_failed_partition_follow_its_error() {
    let mut parts = two_partitions();
    let t = tp("t", 0);
    let epoch = parts[&t].epoch;
    let mut buf = FetchBuffer::default();
    buf.push(
        fetch_of(&t, epoch, corrupt_second_record(0, 3), &[]),
        &mut parts,
    );
    buf.push(
        fetch_of(&t, epoch, Vec::new(), &[Spec::data(3, 2)]),
        &mut parts,
    );
    let (got, errors) = drain(&mut buf, &mut parts, 100);
    assert_eq!(errors.len(), 1);
    assert_eq!(got, vec![(0, 0)], "nothing after the error");
    assert_eq!(parts[&t].position, 1);
}

#[test]
fn read_committed_drops_an_aborted_transaction_starting_at_a_batch_last_offset() {
    // A one-record aborted transaction: its first offset is the batch's last offset.
    let specs = [
        Spec::data(0, 1),
        Spec::txn(1, 1, 7),
        Spec::marker(2, 7, Abort),
        Spec::txn(3, 2, 9),
        Spec::marker(5, 9, Abort),
    ];
    // pid 9's transaction starts at its batch's last offset (4), not its base.
    let mut f = completed(&tp("t", 0), 0, &specs, vec![(7, 1), (9, 4)], 10);
    let (got, position) = drain_one(&mut f, RC, 0);
    assert_eq!(got, vec![0]);
    assert_eq!(position, 6);
}

#[test]
fn data_buffered_for_a_previous_state_of_the_partition_is_dropped() {
    // Revoked and assigned again (a new state, a new epoch) while an answer of the old
    // state waits, at offsets the new state would read: it must not be delivered.
    let mut parts = two_partitions();
    let mut buf = FetchBuffer::default();
    parts.get_mut(&tp("t", 0)).unwrap().seek(5);
    push(&mut buf, &mut parts, 0, &[Spec::data(5, 2)], 10);
    parts.insert(tp("t", 0), ready("t", 5));
    let (got, _) = drain(&mut buf, &mut parts, 100);
    assert!(got.is_empty(), "{got:?}");
    assert_eq!(parts[&tp("t", 0)].position, 5);
    assert_eq!(buf.bytes(), 0, "dropped, not kept");
}

#[test]
fn a_seek_back_drops_data_fetched_for_the_old_position() {
    let mut parts = two_partitions();
    let mut buf = FetchBuffer::default();
    parts.get_mut(&tp("t", 0)).unwrap().seek(10);
    push(&mut buf, &mut parts, 0, &[Spec::data(10, 2)], 10);
    parts.get_mut(&tp("t", 0)).unwrap().seek(10); // same offset, new epoch
    let (got, _) = drain(&mut buf, &mut parts, 100);
    assert!(got.is_empty(), "{got:?}");
}
