//! Share-group administration (KIP-932) against a real Kafka 4.4 broker: start offsets
//! listed (DescribeShareGroupOffsets), reset (AlterShareGroupOffsets, through the admin
//! API and `kafka-cli share-groups reset-offsets`) and deleted
//! (DeleteShareGroupOffsets), share groups deleted (DeleteGroups), each refused with
//! GROUP_NOT_EMPTY while the group has a member.

mod common;

use std::time::{Duration, Instant};

use kafka_admin::{
    Admin, GroupOffsetsOptions, GroupsOptions, ListGroupsOptions, ListShareGroupOffsetsOptions,
    SharePartitionOffset,
};
use kafka_client::share::{AcknowledgementMode, ShareConsumer};
use kafka_client::{ErrorCode, TopicPartition};

use common::client;
use common::example_bin::{run_example, show};
use common::share::{bootstrap, group, index, member, poll_n, topic_with};

fn admin() -> Admin {
    Admin::new(client(&bootstrap()))
}

/// A member that accepts `n` records (implicit mode) and leaves.
async fn consume_all(g: &str, topic: &str, n: usize) -> Vec<usize> {
    let c = member(g, AcknowledgementMode::Implicit, n);
    c.subscribe([topic]).unwrap();
    let got = poll_n(&c, n, Duration::from_secs(30)).await;
    c.close().await.unwrap();
    got.iter().map(index).collect()
}

/// The group's offsets of `tp` once `done` holds for them (the share coordinator
/// persists them after the acknowledgements; `None`: no offsets for it).
async fn offsets_until(
    g: &str,
    tp: &TopicPartition,
    what: &str,
    done: impl Fn(Option<SharePartitionOffset>) -> bool,
) -> Option<SharePartitionOffset> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let listed = admin()
            .list_share_group_offsets(g, ListShareGroupOffsetsOptions::default())
            .await
            .expect("DescribeShareGroupOffsets");
        let now = listed.get(tp).map(|r| r.clone().expect("partition offset"));
        if done(now) {
            return now;
        }
        assert!(
            Instant::now() < deadline,
            "{what}: offsets of {tp} are {listed:?}"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

/// The group's start offset of `tp` once it is `want`.
async fn start_offset_becomes(g: &str, tp: &TopicPartition, want: Option<i64>) {
    offsets_until(g, tp, &format!("start offset {want:?}"), |o| {
        o.and_then(|o| o.start_offset) == want
    })
    .await;
}

fn cli(args: &[&str]) -> std::process::Output {
    let b = bootstrap();
    let mut all = vec!["-b", b.as_str()];
    all.extend_from_slice(args);
    run_example("kafka-cli", &all, "")
}

async fn cli_async(args: Vec<String>) -> std::process::Output {
    tokio::task::spawn_blocking(move || {
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        cli(&a)
    })
    .await
    .unwrap()
}

/// A member subscribed and heartbeating (so the group is not empty).
async fn active_member(g: &str, topic: &str) -> ShareConsumer {
    let c = member(g, AcknowledgementMode::Explicit, 1);
    c.subscribe([topic]).unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let d = admin()
            .describe_share_groups([g], GroupsOptions::default())
            .await
            .expect("ShareGroupDescribe");
        if d[g].as_ref().is_ok_and(|d| !d.members.is_empty()) {
            return c;
        }
        assert!(Instant::now() < deadline, "the member never joined: {d:?}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn share_group_offsets_are_listed_reset_and_deleted() {
    const N: usize = 10;
    let topic = topic_with(N).await;
    let tp = TopicPartition::new(topic.clone(), 0);
    let g = group(&[]).await;
    assert_eq!(consume_all(&g, &topic, N).await.len(), N);
    // Every record acknowledged: no lag (v1). The persisted start offset itself moves
    // past acknowledged records lazily, so it is not checked here.
    offsets_until(&g, &tp, "lag 0", |o| {
        o.is_some_and(|o| o.lag == Some(0) && o.start_offset.is_some())
    })
    .await;
    let listed = admin()
        .list_share_group_offsets(
            &g,
            ListShareGroupOffsetsOptions::default().partitions([tp.clone()]),
        )
        .await
        .unwrap();
    let o: SharePartitionOffset = listed[&tp].clone().unwrap();
    assert_eq!(o.lag, Some(0), "asked by name: {o:?}");

    // Refused while a member is in the group.
    let busy = active_member(&g, &topic).await;
    let e = admin()
        .alter_share_group_offsets(&g, [(tp.clone(), 0)], GroupOffsetsOptions::default())
        .await
        .expect_err("the group has a member");
    assert_eq!(e.code(), Some(ErrorCode::GROUP_NOT_EMPTY), "{e}");
    busy.close().await.unwrap();

    // kafka-cli: the plan alone changes nothing; --execute resets to offset 4.
    let args = |extra: &[&str]| {
        let mut a = vec![
            "share-groups",
            "reset-offsets",
            "--group",
            g.as_str(),
            "--topic",
            topic.as_str(),
        ];
        a.extend_from_slice(extra);
        a.into_iter().map(String::from).collect::<Vec<_>>()
    };
    let dry = cli_async(args(&["--to-offset", "4"])).await;
    assert!(dry.status.success(), "{}", show(&dry));
    assert!(
        String::from_utf8_lossy(&dry.stdout).contains("dry run"),
        "{}",
        show(&dry)
    );
    let before = offsets_until(&g, &tp, "unchanged", |o| o.is_some())
        .await
        .and_then(|o| o.start_offset);
    assert_ne!(before, Some(4), "the dry run changed nothing");
    let done = cli_async(args(&["--to-offset", "4", "--execute"])).await;
    assert!(done.status.success(), "{}", show(&done));
    start_offset_becomes(&g, &tp, Some(4)).await;
    let shown = cli_async(
        ["share-groups", "offsets", "--group", g.as_str()]
            .map(String::from)
            .to_vec(),
    )
    .await;
    assert!(shown.status.success(), "{}", show(&shown));
    let text = String::from_utf8_lossy(&shown.stdout);
    let row = text
        .lines()
        .find(|l| l.starts_with(topic.as_str()))
        .unwrap_or_else(|| panic!("no row for {topic}: {text}"));
    let cols: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(cols[1..3], ["0", "4"], "partition 0 starts at 4: {row}");

    // From the new start offset on, the records are delivered again, afresh.
    let again = consume_all(&g, &topic, N - 4).await;
    assert_eq!(again, (4..N).collect::<Vec<_>>());

    // Delete the topic's offsets (admin API): the group forgets the partition.
    let deleted = admin()
        .delete_share_group_offsets(&g, [&topic], GroupOffsetsOptions::default())
        .await
        .expect("DeleteShareGroupOffsets");
    deleted[&topic].as_ref().expect("deleted");
    start_offset_becomes(&g, &tp, None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn share_group_delete_refused_while_a_member_is_in_it_then_deleted() {
    let topic = topic_with(3).await;
    let g = group(&[]).await;
    let busy = active_member(&g, &topic).await;
    let refused = admin()
        .delete_share_groups([&g], GroupsOptions::default())
        .await
        .expect("DeleteGroups");
    let e = refused[&g].clone().expect_err("not empty");
    assert_eq!(e.code(), Some(ErrorCode::GROUP_NOT_EMPTY), "{e}");
    busy.close().await.unwrap();

    let out = cli_async(
        ["share-groups", "delete", "--group", g.as_str()]
            .map(String::from)
            .to_vec(),
    )
    .await;
    assert!(out.status.success(), "{}", show(&out));
    let listed = admin()
        .list_groups(ListGroupsOptions::default())
        .await
        .unwrap();
    assert!(!listed.contains_key(&g), "{g} still listed");
    let d = admin()
        .describe_share_groups([&g], GroupsOptions::default())
        .await
        .unwrap();
    let e = d[&g].clone().expect_err("deleted");
    assert_eq!(e.code(), Some(ErrorCode::GROUP_ID_NOT_FOUND), "{e}");
    // Deleting it again: GROUP_ID_NOT_FOUND, and kafka-cli exits 1 saying so.
    let again = cli_async(
        ["share-groups", "delete", "--group", g.as_str()]
            .map(String::from)
            .to_vec(),
    )
    .await;
    assert_eq!(again.status.code(), Some(1), "{}", show(&again));
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("GROUP_ID_NOT_FOUND"),
        "{}",
        show(&again)
    );
}
