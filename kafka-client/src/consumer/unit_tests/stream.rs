//! `Consumer::stream` (`consumer/stream.rs`): a poll's worth taken at a time and yielded
//! one by one; commits stop at the batch it is yielding; a seek, pause, loss or close
//! takes effect before its next record; dropping it gives back what it did not yield.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;

use crate::consumer::coordinator::consumed_offsets;
use crate::consumer::state::Shared;
use crate::consumer::{Consumer, PartitionError};
use crate::error::Error;
use crate::types::TopicPartition;

use super::{Spec, completed, consumer_on, shared_with, tp};

/// A consumer assigned `parts`, each at offset 0 with `n` records buffered.
fn buffered(parts: &[(&str, i32)], n: i64) -> (Consumer, Arc<Shared>) {
    buffered_taking(500, parts, n)
}

/// [`buffered`], with `max.poll.records` at `max` (what one take holds).
fn buffered_taking(max: usize, parts: &[(&str, i32)], n: i64) -> (Consumer, Arc<Shared>) {
    let sh = shared_with(|b| b.max_poll_records(max));
    let c = consumer_on(sh.clone());
    c.assign(parts.iter().copied()).unwrap();
    let mut st = sh.lock();
    for &(t, p) in parts {
        let tp = tp(t, p);
        st.partition_mut(&tp).unwrap().seek(0);
        let epoch = st.partitions()[&tp].epoch;
        st.push_fetched(completed(&tp, epoch, &[Spec::data(0, n)], vec![], 10));
    }
    drop(st);
    (c, sh)
}

/// What a commit of the positions would commit now, per partition.
fn committable(sh: &Shared) -> Vec<(TopicPartition, i64)> {
    consumed_offsets(&sh.lock())
        .into_iter()
        .map(|(tp, o)| (tp, o.offset))
        .collect()
}

fn position(sh: &Shared, t: &TopicPartition) -> i64 {
    sh.lock().partitions()[t].position
}

async fn next_offset<S>(s: &mut S) -> (i32, i64)
where
    S: futures::Stream<Item = crate::error::Result<crate::consumer::ConsumerRecord>> + Unpin,
{
    let r = s.next().await.expect("a record").expect("not an error");
    (r.partition, r.offset)
}

#[tokio::test]
async fn takes_a_batch_and_commits_stop_at_it_until_its_last_record() {
    let (c, sh) = buffered(&[("t", 0)], 4);
    let mut s = Box::pin(c.stream());
    assert_eq!(next_offset(&mut s).await, (0, 0));
    assert_eq!(position(&sh, &tp("t", 0)), 4, "the whole batch was taken");
    assert_eq!(
        committable(&sh),
        [(tp("t", 0), 0)],
        "records in the stream's hands are not committed past"
    );
    assert_eq!(next_offset(&mut s).await, (0, 1));
    assert_eq!(next_offset(&mut s).await, (0, 2));
    assert_eq!(committable(&sh), [(tp("t", 0), 0)]);
    assert_eq!(next_offset(&mut s).await, (0, 3));
    assert_eq!(
        committable(&sh),
        [(tp("t", 0), 4)],
        "after the batch's last record, commits commit the position again"
    );
}

#[tokio::test]
async fn dropping_the_stream_gives_back_what_it_did_not_yield() {
    let (c, sh) = buffered(&[("t", 0), ("u", 1)], 3);
    let mut s = Box::pin(c.stream());
    let first = next_offset(&mut s).await;
    assert_eq!(first.1, 0);
    drop(s);
    let (yielded, other) = if first.0 == 0 {
        (tp("t", 0), tp("u", 1))
    } else {
        (tp("u", 1), tp("t", 0))
    };
    assert_eq!(
        position(&sh, &yielded),
        1,
        "back to the first record not yielded"
    );
    assert_eq!(position(&sh, &other), 0);
    assert_eq!(
        committable(&sh),
        [
            (tp("t", 0), position(&sh, &tp("t", 0))),
            (tp("u", 1), position(&sh, &tp("u", 1)))
        ]
    );
    assert!(
        sh.lock()
            .partitions()
            .values()
            .all(|p| p.held.is_none() && p.buffered_bytes == 0),
        "no hold left, and the buffered data is fetched again from there"
    );
    let again = c.poll(Duration::ZERO).await.unwrap();
    assert!(
        again.is_empty(),
        "what was buffered past the position was dropped"
    );
}

#[tokio::test]
async fn a_stream_dropped_after_its_last_record_leaves_positions_alone() {
    let (c, sh) = buffered(&[("t", 0)], 2);
    let mut s = Box::pin(c.stream());
    next_offset(&mut s).await;
    next_offset(&mut s).await;
    drop(s);
    assert_eq!(position(&sh, &tp("t", 0)), 2);
    assert_eq!(committable(&sh), [(tp("t", 0), 2)]);
}

#[tokio::test(start_paused = true)]
async fn a_seek_drops_the_held_records_of_that_partition_only() {
    let (c, sh) = buffered(&[("t", 0), ("t", 1)], 3);
    let mut s = Box::pin(c.stream());
    let (p, _) = next_offset(&mut s).await;
    let (sought, kept) = if p == 0 { (0, 1) } else { (1, 0) };
    c.seek(tp("t", sought), 100).unwrap();
    let mut rest = Vec::new();
    while let Ok(Some(r)) = tokio::time::timeout(Duration::from_millis(50), s.next()).await {
        let r = r.unwrap();
        rest.push((r.partition, r.offset));
    }
    assert!(
        rest.iter().all(|&(p, _)| p == kept),
        "nothing of the sought partition after the seek: {rest:?}"
    );
    assert_eq!(
        rest.len(),
        3,
        "the other partition's records all came: {rest:?}"
    );
    assert_eq!(position(&sh, &tp("t", sought)), 100);
}

#[tokio::test(start_paused = true)]
async fn a_pause_gives_the_held_records_back() {
    let (c, sh) = buffered(&[("t", 0)], 3);
    let mut s = Box::pin(c.stream());
    assert_eq!(next_offset(&mut s).await, (0, 0));
    c.pause([("t", 0)]).unwrap();
    assert!(
        tokio::time::timeout(Duration::from_millis(50), s.next())
            .await
            .is_err(),
        "a paused partition yields nothing more"
    );
    assert_eq!(
        position(&sh, &tp("t", 0)),
        1,
        "given back at the first not yielded"
    );
    assert_eq!(committable(&sh), [(tp("t", 0), 1)]);
}

#[tokio::test(start_paused = true)]
async fn lost_partitions_records_are_dropped() {
    let (c, sh) = buffered(&[("t", 0)], 3);
    let mut s = Box::pin(c.stream());
    assert_eq!(next_offset(&mut s).await, (0, 0));
    sh.post_lost(vec![tp("t", 0)]);
    assert!(
        tokio::time::timeout(Duration::from_millis(50), s.next())
            .await
            .is_err(),
        "no record of a lost partition"
    );
}

#[tokio::test]
async fn a_closed_consumers_stream_drops_what_it_holds_and_ends() {
    let (c, _sh) = buffered(&[("t", 0)], 3);
    let mut s = Box::pin(c.stream());
    assert_eq!(next_offset(&mut s).await, (0, 0));
    c.close().await.unwrap();
    assert!(s.next().await.is_none());
}

#[tokio::test]
async fn the_stream_ends_when_the_consumer_closes() {
    let sh = shared_with(|b| b);
    let c = consumer_on(sh.clone());
    sh.lock().close();
    let mut s = Box::pin(c.stream());
    assert!(s.next().await.is_none());
}

#[tokio::test]
async fn the_stream_yields_a_fatal_error_once_then_ends() {
    let sh = shared_with(|b| b);
    let c = consumer_on(sh.clone());
    sh.lock().set_fatal(Error::InvalidState("fenced".into()));
    let mut s = Box::pin(c.stream());
    assert!(matches!(s.next().await, Some(Err(Error::InvalidState(_)))));
    assert!(s.next().await.is_none());
}

#[tokio::test]
async fn partition_errors_come_first_as_errors() {
    let (c, sh) = buffered(&[("t", 0)], 2);
    sh.lock().push_error(PartitionError {
        topic_partition: tp("t", 5),
        error: Error::InvalidState("x".into()),
    });
    let mut s = Box::pin(c.stream());
    match s.next().await {
        Some(Err(Error::Partition { partition, .. })) => assert_eq!(partition, 5),
        other => panic!("{other:?}"),
    }
    assert_eq!(next_offset(&mut s).await, (0, 0));
    assert_eq!(next_offset(&mut s).await, (0, 1));
}

#[tokio::test]
async fn batches_follow_one_another_in_order() {
    let (c, sh) = buffered_taking(2, &[("t", 0)], 5);
    let mut s = Box::pin(c.stream());
    let mut got = Vec::new();
    for _ in 0..5 {
        got.push(next_offset(&mut s).await.1);
        let pos = position(&sh, &tp("t", 0));
        let yielded = got.len() as i64;
        assert!(
            pos <= (yielded + 1) / 2 * 2,
            "at most max.poll.records taken: {pos} after {yielded}"
        );
    }
    assert_eq!(got, [0, 1, 2, 3, 4]);
}

/// Two partitions of one topic whose records share one topic name (as the fetcher's
/// answers do), each with `n` records buffered, every batch taken at once.
fn one_topic_two_partitions(n: i64) -> (Consumer, Arc<Shared>) {
    let sh = shared_with(|b| b);
    let c = consumer_on(sh.clone());
    c.assign([("t", 0), ("t", 1)]).unwrap();
    let name: Arc<str> = Arc::from("t");
    let mut st = sh.lock();
    for p in 0..2 {
        let tp = tp("t", p);
        st.partition_mut(&tp).unwrap().seek(0);
        let epoch = st.partitions()[&tp].epoch;
        st.push_fetched(crate::consumer::fetch_buffer::CompletedFetch::new(
            tp,
            Arc::clone(&name),
            epoch,
            super::batches(&[Spec::data(0, n)]),
            vec![],
            None,
            10,
        ));
    }
    drop(st);
    (c, sh)
}

#[tokio::test]
async fn every_partition_of_a_batch_is_held_even_under_one_topic_name() {
    let (c, sh) = one_topic_two_partitions(2);
    let mut s = Box::pin(c.stream());
    next_offset(&mut s).await;
    assert_eq!(
        committable(&sh),
        [(tp("t", 0), 0), (tp("t", 1), 0)],
        "both partitions' records are in the stream's hands"
    );
}

#[tokio::test]
async fn giving_back_drops_what_is_buffered_behind_the_batch_and_wakes_the_fetcher() {
    let (c, sh) = buffered_taking(2, &[("t", 0)], 5);
    let mut s = Box::pin(c.stream());
    assert_eq!(next_offset(&mut s).await, (0, 0));
    assert!(
        sh.lock().partitions()[&tp("t", 0)].buffered_bytes > 0,
        "more behind the batch"
    );
    // The take's own wake-up, consumed.
    let _ = tokio::time::timeout(Duration::ZERO, sh.fetch_wake.notified()).await;
    drop(s);
    assert_eq!(position(&sh, &tp("t", 0)), 1);
    assert_eq!(
        sh.lock().partitions()[&tp("t", 0)].buffered_bytes,
        0,
        "the data behind it is fetched again from the position"
    );
    assert!(
        tokio::time::timeout(Duration::ZERO, sh.fetch_wake.notified())
            .await
            .is_ok(),
        "the fetch driver is woken to fetch it"
    );
}

#[tokio::test]
async fn a_yielded_batchs_vector_is_kept_for_the_next_take() {
    let (c, sh) = buffered(&[("t", 0)], 2);
    let mut s = Box::pin(c.stream());
    next_offset(&mut s).await;
    next_offset(&mut s).await;
    assert!(
        sh.record_vecs.take().capacity() >= 2,
        "no allocation at the next take"
    );
}
