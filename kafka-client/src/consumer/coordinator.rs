//! The consumer's group policy, one owner: which coordinator the group has, the
//! membership task that speaks the group protocol, auto-commit timing and what it
//! commits, commits on revocation and on close, and who a commit is sent as. The
//! handle (`mod.rs`) only forwards to it.
//!
//! # The group seam
//! A group protocol is a membership task that takes [`GroupCommand`]s (subscribe,
//! leave) and drives the shared state through three outputs: the group view
//! (`State::group`: generation or member epoch, member id, rebalancing), rebalance
//! steps for the application's next `poll` (`AppEvent`: revoke, assigned, lost) and a
//! fatal error. [`GroupProtocol`] (`group.protocol`) names the implementations:
//! `Classic` is `group/membership.rs` (JoinGroup/SyncGroup/Heartbeat); `Consumer` is
//! `group/kip848/` (KIP-848's ConsumerGroupHeartbeat member), both started from
//! [`ConsumerCoordinator::start_membership`]; nothing in the handle changes.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::Instant;

use super::builder::{ConsumerConfig, GroupProtocol};
use super::group::GroupCommand;
use super::group::commit::{Committer, commit as send_commit};
use super::state::{Shared, State};
use super::subscription::{InitState, Subscription};
use crate::client::Client;
use crate::error::{Error, Result};
use crate::ops::CoordinatorLink;
use crate::types::{OffsetAndMetadata, TopicPartition};

/// When auto-commit commits: every `interval`, at a `poll`, never while the group is
/// rebalancing. Sans-I/O: it takes `now` and says whether a commit is due.
#[derive(Debug, Clone)]
pub(crate) struct AutoCommitTimer {
    enabled: bool,
    interval: Duration,
    next: Instant,
}

impl AutoCommitTimer {
    pub(crate) fn new(enabled: bool, interval: Duration, now: Instant) -> Self {
        Self {
            enabled,
            interval,
            next: now + interval,
        }
    }

    /// Whether a commit is due at `now`; when it is, the next one is an interval later.
    /// A rebalance defers it to the first poll after the rebalance.
    pub(crate) fn due(&mut self, now: Instant, rebalancing: bool) -> bool {
        if !self.enabled || rebalancing || now < self.next {
            return false;
        }
        self.next = now + self.interval;
        true
    }
}

/// The group policy of one consumer.
#[derive(Debug)]
pub(crate) struct ConsumerCoordinator {
    link: Option<Arc<CoordinatorLink>>,
    protocol: GroupProtocol,
    auto_commit: bool,
    commands: Mutex<Option<mpsc::UnboundedSender<GroupCommand>>>,
    /// An auto-commit is under way: the next interval skips its commit rather than
    /// queue another behind it (while the coordinator is unreachable they would pile
    /// up, and `close` would wait behind all of them).
    auto_commit_busy: AtomicBool,
}

impl ConsumerCoordinator {
    pub(crate) fn new(client: &Client, config: &ConsumerConfig) -> Self {
        Self {
            link: config
                .group_id
                .clone()
                .map(|g| Arc::new(CoordinatorLink::new(client.clone(), g))),
            protocol: config.group_protocol,
            auto_commit: config.enable_auto_commit,
            commands: Mutex::new(None),
            auto_commit_busy: AtomicBool::new(false),
        }
    }

    /// The group's coordinator link, with `group.id`.
    pub(crate) fn link(&self) -> Option<&Arc<CoordinatorLink>> {
        self.link.as_ref()
    }

    /// The link, or the error an operation that needs a group gets without one.
    pub(crate) fn require_link(&self, what: &str) -> Result<Arc<CoordinatorLink>> {
        self.link
            .clone()
            .ok_or_else(|| Error::InvalidState(format!("{what} needs a group.id")))
    }

    /// Starts the membership task for this consumer's protocol when none runs, and
    /// tells it the subscription changed.
    pub(crate) fn start_membership(
        &self,
        shared: &Arc<Shared>,
        runtime: &tokio::runtime::Handle,
    ) -> Result<()> {
        let link = self.require_link("subscribe")?;
        let mut tx = self.commands.lock().unwrap_or_else(|e| e.into_inner());
        if tx.as_ref().is_none_or(|t| t.is_closed()) {
            let (t, rx) = mpsc::unbounded_channel();
            match self.protocol {
                GroupProtocol::Classic => {
                    runtime.spawn(super::group::membership::run(shared.clone(), link, rx));
                }
                GroupProtocol::Consumer => {
                    runtime.spawn(super::group::kip848::run(shared.clone(), link, rx));
                }
            }
            *tx = Some(t);
        }
        if let Some(t) = tx.as_ref() {
            let _ = t.send(GroupCommand::Subscribe);
        }
        Ok(())
    }

    /// Sends a command to the membership task, if one runs.
    pub(crate) fn command(&self, cmd: GroupCommand) -> bool {
        let tx = self.commands.lock().unwrap_or_else(|e| e.into_inner());
        tx.as_ref().is_some_and(|tx| tx.send(cmd).is_ok())
    }

    /// Ends the membership task (it stops when its command channel closes).
    pub(crate) fn stop_membership(&self) {
        *self.commands.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }

    /// Whether `close` of a manually assigned consumer commits (auto-commit with a
    /// group to commit to).
    pub(crate) fn commits_on_close(&self) -> bool {
        self.auto_commit && self.link.is_some()
    }

    /// Whether leaving or a revocation commits first.
    pub(crate) fn commits_on_revoke(&self) -> bool {
        self.auto_commit
    }

    /// At a `poll`: starts an auto-commit of what earlier polls returned when one is
    /// due, unless one is still under way. Runs in the background; failures are logged
    /// (the next interval commits again), as in the Java client. `on_done` makes the
    /// callback the background commit runs when it ends; it is called only when a commit
    /// starts, so a `poll` with nothing due does no work for it. `held`: the consumer's
    /// state, for a commit retried after STALE_MEMBER_EPOCH ([`Committer::held`]).
    pub(crate) fn maybe_auto_commit<D: FnOnce() + Send + 'static>(
        &self,
        st: &mut State,
        config: &ConsumerConfig,
        now: Instant,
        runtime: &tokio::runtime::Handle,
        on_done: impl FnOnce() -> D,
        held: Option<std::sync::Weak<Shared>>,
    ) -> bool {
        if !st.auto_commit_due(now) {
            return false;
        }
        let (Some(link), Some(mut who)) = (self.link.clone(), committer(st, config)) else {
            return false;
        };
        who.held = held;
        let offsets = consumed_offsets(st);
        if offsets.is_empty() || self.auto_commit_busy.swap(true, Ordering::AcqRel) {
            return false;
        }
        let done = on_done();
        let ticket = link.commit_order.ticket();
        runtime.spawn(async move {
            if let Err(e) = send_commit(&link, &who, &offsets, ticket).await {
                tracing::debug!(error = %e, "auto-commit failed");
            }
            done();
        });
        true
    }

    /// Marks the background auto-commit finished.
    pub(crate) fn auto_commit_done(&self) {
        self.auto_commit_busy.store(false, Ordering::Release);
    }

    /// What a revocation of `partitions` commits first (auto-commit on, a generation to
    /// commit in): the link, the committer and the offsets consumed of them.
    pub(crate) fn revoke_commit(
        &self,
        st: &State,
        config: &ConsumerConfig,
        partitions: &[TopicPartition],
    ) -> Option<(
        Arc<CoordinatorLink>,
        Committer,
        BTreeMap<TopicPartition, OffsetAndMetadata>,
    )> {
        if !self.auto_commit {
            return None;
        }
        let who = committer(st, config)?;
        let link = self.link.clone()?;
        let offsets = consumed_offsets(st)
            .into_iter()
            .filter(|(tp, _)| partitions.binary_search(tp).is_ok())
            .collect();
        Some((link, who, offsets))
    }
}

/// Offsets of what `poll` returned: the position of every assigned, positioned partition
/// (where a stream holds records it has not yielded, the first of them).
pub(crate) fn consumed_offsets(st: &State) -> BTreeMap<TopicPartition, OffsetAndMetadata> {
    st.partitions()
        .iter()
        .filter(|(_, p)| matches!(p.init, InitState::Ready | InitState::Failed) && p.position >= 0)
        .map(|(tp, p)| {
            let (offset, leader_epoch) = p.committable();
            (
                tp.clone(),
                OffsetAndMetadata {
                    offset,
                    metadata: None,
                    leader_epoch,
                },
            )
        })
        .collect()
}

/// Who commits now: the group generation (classic) or member epoch (consumer
/// protocol) for a group member, none for a member between generations.
pub(crate) fn committer(st: &State, cfg: &ConsumerConfig) -> Option<Committer> {
    let group = st.group();
    match st.subscription() {
        Subscription::Topics(_) | Subscription::Pattern(_) => {
            (group.generation >= 0).then(|| Committer {
                generation: group.generation,
                member_id: group.member_id.clone(),
                instance_id: cfg.group_instance_id.clone(),
                epochs: group.epochs.clone(),
                held: None,
            })
        }
        _ => Some(Committer {
            generation: -1,
            member_id: String::new(),
            instance_id: None,
            epochs: None,
            held: None,
        }),
    }
}

/// Who asks for committed offsets: a consumer-protocol member in the group (OffsetFetch
/// v9 carries its id and epoch, KIP-848); `None` for a classic member, a member between
/// epochs or a consumer outside the group protocol (they ask as an administrator would).
pub(crate) fn fetching_member(st: &State, cfg: &ConsumerConfig) -> Option<Committer> {
    committer(st, cfg).filter(|c| c.epochs.is_some() && c.generation > 0)
}

/// [`committer`] plus the ownership checks of an application commit.
pub(crate) fn checked_committer(
    st: &State,
    cfg: &ConsumerConfig,
    offsets: &BTreeMap<TopicPartition, OffsetAndMetadata>,
) -> Result<Committer> {
    if st.subscription().is_group() {
        if st.group().rebalancing {
            return Err(Error::CommitFailed {
                reason:
                    "the group is rebalancing; poll to complete the rebalance, then commit again"
                        .into(),
            });
        }
        let lost = st.not_held(offsets.keys());
        if !lost.is_empty() {
            return Err(Error::CommitFailed {
                reason: format!(
                    "{} no longer assigned to this member (the group rebalanced)",
                    lost.join(", ")
                ),
            });
        }
    }
    committer(st, cfg).ok_or_else(|| Error::CommitFailed {
        reason: "the consumer is not in a group generation (rejoining after a rebalance)".into(),
    })
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;
    use crate::consumer::subscription::PartitionState;

    fn shared(group: Option<&str>, auto_commit: bool) -> Arc<Shared> {
        let mut b = crate::consumer::Consumer::builder()
            .bootstrap_servers(["127.0.0.1:1"])
            .enable_auto_commit(auto_commit);
        if let Some(g) = group {
            b = b.group_id(g);
        }
        let (client, config) = b.into_parts().expect("valid settings");
        Arc::new(Shared::new(client, config))
    }

    fn positioned(st: &mut State, topic: &str, partition: i32, position: i64) {
        let mut p = PartitionState::new(topic.into(), InitState::Ready);
        p.position = position;
        p.leader_epoch = Some(4);
        st.fixture_partition(TopicPartition::new(topic, partition), p);
    }

    fn member(st: &mut State, generation: i32) {
        st.fixture_subscription(Subscription::Topics(BTreeSet::from(["t".to_string()])));
        st.publish_group(generation, "m-1", false);
    }

    #[tokio::test(start_paused = true)]
    async fn auto_commit_is_due_every_interval_and_never_while_rebalancing() {
        let start = Instant::now();
        let mut t = AutoCommitTimer::new(true, Duration::from_secs(5), start);
        assert!(!t.due(start, false), "not before the first interval");
        tokio::time::advance(Duration::from_secs(5)).await;
        assert!(!t.due(Instant::now(), true), "deferred during a rebalance");
        assert!(
            t.due(Instant::now(), false),
            "due at the first poll after it"
        );
        assert!(!t.due(Instant::now(), false), "once per interval");
        tokio::time::advance(Duration::from_millis(4_999)).await;
        assert!(!t.due(Instant::now(), false));
        tokio::time::advance(Duration::from_millis(1)).await;
        assert!(t.due(Instant::now(), false));
        let mut off = AutoCommitTimer::new(false, Duration::from_secs(5), start);
        tokio::time::advance(Duration::from_secs(60)).await;
        assert!(!off.due(Instant::now(), false), "auto-commit off");
    }

    #[tokio::test]
    async fn consumed_offsets_are_the_positions_of_positioned_partitions() {
        let sh = shared(Some("g"), true);
        let mut st = sh.lock();
        positioned(&mut st, "t", 0, 10);
        positioned(&mut st, "t", 1, 0);
        // Not positioned yet: nothing to commit for it.
        st.fixture_partition(
            TopicPartition::new("t", 2),
            PartitionState::new("t".into(), InitState::Committed),
        );
        let offsets = consumed_offsets(&st);
        assert_eq!(
            offsets.keys().cloned().collect::<Vec<_>>(),
            vec![TopicPartition::new("t", 0), TopicPartition::new("t", 1)]
        );
        let o = &offsets[&TopicPartition::new("t", 0)];
        assert_eq!((o.offset, o.leader_epoch), (10, Some(4)));
    }

    #[tokio::test]
    async fn a_member_commits_as_its_generation_and_a_manual_consumer_as_none() {
        let sh = shared(Some("g"), true);
        let mut st = sh.lock();
        st.fixture_subscription(Subscription::Manual);
        let who = committer(&st, &sh.config).expect("manual commits");
        assert_eq!((who.generation, who.member_id.as_str()), (-1, ""));
        member(&mut st, -1);
        assert!(committer(&st, &sh.config).is_none(), "between generations");
        member(&mut st, 7);
        let who = committer(&st, &sh.config).expect("in a generation");
        assert_eq!((who.generation, who.member_id.as_str()), (7, "m-1"));
    }

    #[tokio::test]
    async fn only_a_consumer_protocol_member_in_an_epoch_fetches_offsets_as_itself() {
        let sh = shared(Some("g"), true);
        let mut st = sh.lock();
        member(&mut st, 7);
        assert!(
            fetching_member(&st, &sh.config).is_none(),
            "a classic member asks as an administrator"
        );
        let (tx, rx) = tokio::sync::watch::channel(7);
        st.watch_epochs(rx);
        let who = fetching_member(&st, &sh.config).expect("consumer-protocol member");
        assert_eq!((who.generation, who.member_id.as_str()), (7, "m-1"));
        assert!(
            who.epochs.is_some(),
            "waits for fresh epochs on STALE_MEMBER_EPOCH"
        );
        member(&mut st, -1);
        assert!(
            fetching_member(&st, &sh.config).is_none(),
            "fenced or between epochs: no member fields"
        );
        st.fixture_subscription(Subscription::Manual);
        assert!(fetching_member(&st, &sh.config).is_none(), "assign()");
        drop(tx);
    }

    #[tokio::test]
    async fn application_commits_are_refused_while_rebalancing_or_for_partitions_not_owned() {
        let sh = shared(Some("g"), false);
        let mut st = sh.lock();
        member(&mut st, 3);
        positioned(&mut st, "t", 0, 5);
        let owned = BTreeMap::from([(TopicPartition::new("t", 0), OffsetAndMetadata::new(5))]);
        assert!(checked_committer(&st, &sh.config, &owned).is_ok());
        let foreign = BTreeMap::from([(TopicPartition::new("t", 9), OffsetAndMetadata::new(5))]);
        let e = checked_committer(&st, &sh.config, &foreign).expect_err("not owned");
        assert!(
            matches!(&e, Error::CommitFailed { reason } if reason.contains("t-9")),
            "{e}"
        );
        st.publish_group(3, "m-1", true);
        let e = checked_committer(&st, &sh.config, &owned).expect_err("rebalancing");
        assert!(matches!(&e, Error::CommitFailed { reason } if reason.contains("rebalancing")));
        st.publish_group(-1, "m-1", false);
        let e = checked_committer(&st, &sh.config, &owned).expect_err("no generation");
        assert!(matches!(&e, Error::CommitFailed { reason } if reason.contains("generation")));
    }

    #[tokio::test]
    async fn a_revocation_commits_only_its_partitions_and_only_with_auto_commit() {
        let sh = shared(Some("g"), true);
        let mut st = sh.lock();
        member(&mut st, 2);
        positioned(&mut st, "t", 0, 5);
        positioned(&mut st, "t", 1, 6);
        let revoked = [TopicPartition::new("t", 1)];
        let (_, who, offsets) = sh
            .coordinator
            .revoke_commit(&st, &sh.config, &revoked)
            .expect("a commit first");
        assert_eq!(who.generation, 2);
        assert_eq!(offsets.keys().collect::<Vec<_>>(), vec![&revoked[0]]);
        drop(st);
        let manual = shared(Some("g"), false);
        let mut st = manual.lock();
        member(&mut st, 2);
        positioned(&mut st, "t", 1, 6);
        assert!(
            manual
                .coordinator
                .revoke_commit(&st, &manual.config, &revoked)
                .is_none()
        );
    }

    #[tokio::test]
    async fn without_a_group_id_group_operations_are_typed_errors() {
        let sh = shared(None, true);
        assert!(sh.coordinator.link().is_none());
        assert!(!sh.coordinator.commits_on_close());
        let e = sh
            .coordinator
            .require_link("subscribe")
            .expect_err("no group");
        assert!(
            matches!(&e, Error::InvalidState(m) if m.contains("group.id")),
            "{e}"
        );
        assert!(
            !sh.coordinator.command(GroupCommand::Subscribe),
            "no task to tell"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn an_auto_commit_is_not_started_while_one_is_under_way() {
        let sh = shared(Some("g"), true);
        let rt = tokio::runtime::Handle::current();
        {
            let mut st = sh.lock();
            member(&mut st, 1);
            positioned(&mut st, "t", 0, 5);
        }
        let interval = sh.config.auto_commit_interval;
        let attempt = |sh: &Arc<Shared>| {
            let mut st = sh.lock();
            sh.coordinator.maybe_auto_commit(
                &mut st,
                &sh.config,
                Instant::now(),
                &rt,
                || || {},
                None,
            )
        };
        tokio::time::advance(interval).await;
        assert!(attempt(&sh));
        tokio::time::advance(interval).await;
        assert!(!attempt(&sh), "the first one has not finished");
        sh.coordinator.auto_commit_done();
        tokio::time::advance(interval).await;
        assert!(attempt(&sh));
    }
}
