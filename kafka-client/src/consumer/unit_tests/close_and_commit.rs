//! The handle's commit, close and poll-wait paths that decide without a broker:
//! refusals, what close releases and calls (the stream's own: `stream.rs`).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::oneshot;
use tokio::time::Instant;

use crate::consumer::state::{AppEvent, Shared};
use crate::consumer::subscription::Subscription;
use crate::consumer::{Consumer, ConsumerBuilder, RebalanceListener};
use crate::error::Error;
use crate::types::{BoxFuture, OffsetAndMetadata, TopicPartition};

use super::{Spec, completed, consumer_on, ready, shared_with, tp};

fn consumer_with(f: impl FnOnce(ConsumerBuilder) -> ConsumerBuilder) -> (Consumer, Arc<Shared>) {
    let sh = shared_with(f);
    (consumer_on(sh.clone()), sh)
}

fn one(t: &TopicPartition, offset: i64) -> BTreeMap<TopicPartition, OffsetAndMetadata> {
    BTreeMap::from([(t.clone(), OffsetAndMetadata::new(offset))])
}

#[tokio::test]
async fn commits_need_a_group_and_an_open_consumer() {
    let (c, _) = consumer_with(|b| b);
    let e = c.commit_offsets(one(&tp("t", 0), 1)).await.unwrap_err();
    assert!(
        matches!(&e, Error::InvalidState(m) if m.contains("group.id")),
        "{e}"
    );
    let (c, sh) = consumer_with(|b| b.group_id("g"));
    sh.lock().close();
    assert!(matches!(
        c.commit_offsets(one(&tp("t", 0), 1)).await,
        Err(Error::Closed)
    ));
}

#[tokio::test]
async fn a_member_cannot_commit_while_rebalancing_even_in_the_background() {
    let (c, sh) = consumer_with(|b| b.group_id("g"));
    {
        let mut st = sh.lock();
        st.fixture_subscription(Subscription::Topics(BTreeSet::from(["t".to_string()])));
        st.publish_group(2, "", true);
        st.fixture_partition(tp("t", 0), ready("t", 1));
    }
    let e = c.commit_offsets(one(&tp("t", 0), 1)).await.unwrap_err();
    assert!(matches!(e, Error::CommitFailed { .. }), "{e}");
    let e = c
        .commit_offsets_async(one(&tp("t", 0), 1))
        .await
        .unwrap_err();
    assert!(matches!(e, Error::CommitFailed { .. }), "{e}");
}

#[tokio::test]
async fn committing_with_nothing_consumed_succeeds_without_a_request() {
    let (c, sh) = consumer_with(|b| b.group_id("g"));
    sh.lock().fixture_subscription(Subscription::Manual);
    c.commit().await.expect("nothing to commit");
}

#[tokio::test]
async fn group_metadata_reports_the_membership() {
    let (c, _) = consumer_with(|b| b);
    assert!(c.group_metadata().is_none());
    let (c, sh) = consumer_with(|b| b.group_id("g").group_instance_id("i"));
    {
        let mut st = sh.lock();
        st.publish_group(9, "m-9", false);
    }
    let m = c.group_metadata().unwrap();
    assert_eq!(
        (
            m.group_id.as_str(),
            m.generation_id,
            m.member_id.as_str(),
            m.group_instance_id.as_deref()
        ),
        ("g", 9, "m-9", Some("i"))
    );
}

#[tokio::test]
async fn close_is_final_and_idempotent() {
    let (c, sh) = consumer_with(|b| b);
    c.assign([("t", 0)]).unwrap();
    c.close().await.unwrap();
    assert!(sh.lock().is_closed());
    c.close().await.expect("closing again is fine");
    assert!(matches!(c.poll_now(10, None), Err(Error::Closed)));
    assert!(matches!(c.seek(("t", 0), 1), Err(Error::Closed)));
    assert!(matches!(c.unsubscribe().await, Err(Error::Closed)));
}

#[derive(Default)]
struct Revoked(Mutex<Vec<Vec<TopicPartition>>>);

struct Listener(Arc<Revoked>);

impl RebalanceListener for Listener {
    fn assigned(&self, _c: Consumer, _p: Vec<TopicPartition>) -> BoxFuture<'static, ()> {
        Box::pin(async {})
    }
    fn revoked(&self, _c: Consumer, p: Vec<TopicPartition>) -> BoxFuture<'static, ()> {
        self.0.0.lock().unwrap().push(p);
        Box::pin(async {})
    }
}

#[tokio::test]
async fn closing_a_member_revokes_what_it_owns_and_releases_waiting_steps() {
    let log = Arc::new(Revoked::default());
    let l = log.clone();
    let (c, sh) = consumer_with(move |b| b.group_id("g").rebalance_listener(Arc::new(Listener(l))));
    let (done, released) = oneshot::channel();
    {
        let mut st = sh.lock();
        st.fixture_subscription(Subscription::Topics(BTreeSet::from(["t".to_string()])));
        // Between generations: the final commit is refused.
        st.publish_group(-1, "m", false);
        st.fixture_partition(tp("t", 0), ready("t", 3));
        st.fixture_partition(tp("t", 1), ready("t", 3));
        st.partition_mut(&tp("t", 1)).unwrap().revoking = true;
        st.post(AppEvent::Revoke {
            partitions: vec![tp("t", 1)],
            done,
        });
    }
    c.close().await.expect("closed");
    assert!(released.await.is_ok(), "the group task is not left waiting");
    assert_eq!(
        *log.0.lock().unwrap(),
        vec![vec![tp("t", 0)]],
        "only what is still owned"
    );
    let st = sh.lock();
    assert!(st.is_closed());
    assert!(st.queued_events().is_empty());
    assert_eq!(
        (st.group().generation, st.group().member_id.as_str()),
        (-1, "")
    );
}

#[tokio::test(start_paused = true)]
async fn poll_waits_for_its_timeout_when_nothing_arrives() {
    let (c, _) = consumer_with(|b| b);
    let started = Instant::now();
    let r = c.poll(Duration::from_millis(700)).await.unwrap();
    assert!(r.is_empty());
    assert_eq!(started.elapsed(), Duration::from_millis(700));
}

#[tokio::test(start_paused = true)]
async fn poll_returns_as_soon_as_data_arrives() {
    let (c, sh) = consumer_with(|b| b);
    c.assign([("t", 0)]).unwrap();
    sh.lock().partition_mut(&tp("t", 0)).unwrap().seek(0);
    let started = Instant::now();
    let feeder = {
        let sh = sh.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(100)).await;
            {
                let mut st = sh.lock();
                let st = &mut *st;
                let epoch = st.partitions()[&tp("t", 0)].epoch;
                st.push_fetched(completed(
                    &tp("t", 0),
                    epoch,
                    &[Spec::data(0, 1)],
                    vec![],
                    10,
                ));
            }
            sh.data_ready.notify_waiters();
        })
    };
    let r = c.poll(Duration::from_secs(30)).await.unwrap();
    assert_eq!(r.len(), 1);
    assert_eq!(started.elapsed(), Duration::from_millis(100));
    feeder.await.unwrap();
}
