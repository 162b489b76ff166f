//! Committed offsets: OffsetCommit and OffsetFetch to the group coordinator, retried on
//! coordinator moves; generation errors become [`Error::CommitFailed`]. A
//! consumer-protocol member (KIP-848) sends its member epoch with both; STALE_MEMBER_EPOCH
//! waits for the next heartbeat answer and goes again with its epoch, never falling back
//! to the reset policy; a commit goes again only while the member still holds every
//! partition it names ([`still_held`]).

use std::collections::BTreeMap;
use std::time::Duration;

use kafka_protocol::messages::ApiKey;
use kafka_protocol::protocol::{StrBytes, VersionRange};
use uuid::Uuid;

use tokio::time::Instant;

use crate::error::{Error, ErrorCode, ErrorContext, Result};

use crate::consumer::state::Shared;
use crate::ops::CoordinatorLink;
use crate::ops::coordinator::CommitTicket;
use crate::ops::offset_fetch::{FetchingMember, offset_fetch_on};
use crate::protocol_gen::offset_commit_request::{
    OffsetCommitRequest, OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use crate::types::{OffsetAndMetadata, TopicPartition};

/// Who commits: the generation (classic) or member epoch (consumer protocol) and
/// member (or -1 and "" for a commit outside the group protocol, as with `assign`).
#[derive(Clone, Debug)]
pub(crate) struct Committer {
    pub generation: i32,
    pub member_id: String,
    pub instance_id: Option<String>,
    /// Consumer protocol: the member epoch as heartbeats renew it. A commit refused
    /// with STALE_MEMBER_EPOCH waits for the next heartbeat answer and is sent again
    /// with the epoch it brings.
    pub epochs: Option<tokio::sync::watch::Receiver<i32>>,
    /// The consumer's state, for a commit retried after STALE_MEMBER_EPOCH: it goes
    /// again only if the member still holds every partition it names (see
    /// [`still_held`]). `None`: not checked (a commit outside the group, on close, or a
    /// test's).
    pub held: Option<std::sync::Weak<Shared>>,
}

/// After STALE_MEMBER_EPOCH and a fresh epoch: a commit naming a partition the member no
/// longer holds fails with [`Error::CommitFailed`] instead of going again. The epoch
/// moved because the group reconciled; a partition revoked meanwhile may already belong
/// to another member that committed further, and the coordinator takes any offset from
/// a member at its current epoch, so resending the old offset would move the group's
/// position back (records delivered twice, and a partition whose new owner has nothing
/// more to commit stays behind). Recent Java clients do not resend an application commit
/// on STALE_MEMBER_EPOCH at all (`CommitRequestManager` fails it); only their auto-commit
/// before a revocation goes again, recomputing its offsets from what the member holds.
pub(crate) fn still_held(
    who: &Committer,
    offsets: &BTreeMap<TopicPartition, OffsetAndMetadata>,
) -> Result<()> {
    let Some(shared) = who.held.as_ref().and_then(std::sync::Weak::upgrade) else {
        return Ok(());
    };
    let lost = shared.lock().not_held(offsets.keys());
    if lost.is_empty() {
        return Ok(());
    }
    Err(Error::CommitFailed {
        reason: format!(
            "{} no longer assigned to this member (the member epoch moved to {} while the commit was out)",
            lost.join(", "),
            who.generation
        ),
    })
}

fn str(s: &str) -> StrBytes {
    StrBytes::from_string(s.to_string())
}

/// Commits `offsets` when `ticket`'s turn comes (take it with
/// `link.commit_order.ticket()` when the commit is asked). Every partition is stored or
/// none is: any partition error fails the call (the broker validates the generation
/// for the request as a whole).
pub(crate) async fn commit(
    link: &CoordinatorLink,
    who: &Committer,
    offsets: &BTreeMap<TopicPartition, OffsetAndMetadata>,
    ticket: CommitTicket,
) -> Result<()> {
    if offsets.is_empty() {
        return Ok(());
    }
    ticket.turn().await;
    let result = commit_with_retries(link, who, offsets).await;
    drop(ticket);
    link.client.telemetry().committed(result.is_ok());
    match &result {
        Ok(()) => {
            tracing::debug!(group = %link.group_id, partitions = offsets.len(), "offsets committed")
        }
        Err(e) => {
            tracing::debug!(group = %link.group_id, partitions = offsets.len(), error = %e, "commit failed")
        }
    }
    result
}

async fn commit_with_retries(
    link: &CoordinatorLink,
    who: &Committer,
    offsets: &BTreeMap<TopicPartition, OffsetAndMetadata>,
) -> Result<()> {
    retry_commit(link, who, offsets, |who| async move {
        commit_once(link, &who, offsets).await
    })
    .await
}

/// The retries of a commit around `send` (one OffsetCommit as the committer it is
/// given): coordinator moves and retriable errors back off and go again until the API
/// timeout; STALE_MEMBER_EPOCH goes again with the next epoch while the member still
/// holds every partition of the commit ([`still_held`]).
pub(crate) async fn retry_commit<F, Fut>(
    link: &CoordinatorLink,
    who: &Committer,
    offsets: &BTreeMap<TopicPartition, OffsetAndMetadata>,
    mut send: F,
) -> Result<()>
where
    F: FnMut(Committer) -> Fut,
    Fut: std::future::Future<Output = Result<()>>,
{
    let client = &link.client;
    let deadline = Instant::now() + client.config().api_timeout();
    let mut attempt = 0u32;
    let mut who = who.clone();
    loop {
        let result = send(who.clone()).await;
        let err = match result {
            Ok(()) => return Ok(()),
            Err(e) => e,
        };
        if err.code() == Some(ErrorCode::STALE_MEMBER_EPOCH) {
            let timeout = client.config().api_timeout();
            who.generation = next_epoch(&mut who, deadline, timeout, &err, COMMITTING).await?;
            still_held(&who, offsets)?;
            continue;
        }
        if CoordinatorLink::is_coordinator_error(&err) {
            link.invalidate();
        } else if !err.is_retriable() || matches!(err, Error::CommitFailed { .. }) {
            return Err(err);
        }
        let wait = client.retry_backoff(attempt);
        attempt += 1;
        if Instant::now() + wait >= deadline {
            return Err(err);
        }
        tokio::time::sleep(wait).await;
    }
}

const COMMITTING: &str = "committing offsets (waiting for a fresh member epoch)";
const FETCHING: &str = "fetching committed offsets (waiting for a fresh member epoch)";

/// After STALE_MEMBER_EPOCH: waits (until `deadline`) for the next heartbeat answer
/// and returns the member epoch it brought (at once when an answer that came while the
/// request was out already brought a newer epoch). A member that is no longer in the group
/// (fenced, left) cannot commit: [`Error::CommitFailed`]. `operation` names the call
/// in the [`Error::Deadline`] when no answer comes in time.
pub(crate) async fn next_epoch(
    who: &mut Committer,
    deadline: Instant,
    timeout: Duration,
    err: &Error,
    operation: &str,
) -> Result<i32> {
    let failed = |why: &str| Error::CommitFailed {
        reason: format!(
            "{why}: the coordinator answered STALE_MEMBER_EPOCH for epoch {} (member {:?})",
            who.generation, who.member_id
        ),
    };
    let Some(epochs) = who.epochs.as_mut() else {
        return Err(failed("not a consumer-protocol member"));
    };
    let latest = *epochs.borrow_and_update();
    if latest > who.generation {
        return Ok(latest);
    }
    match tokio::time::timeout_at(deadline, epochs.changed()).await {
        Ok(Ok(())) => {}
        Ok(Err(_)) => return Err(failed("the member left the group")),
        Err(_) => {
            return Err(Error::Deadline {
                operation: operation.into(),
                timeout,
                last_error: Some(Box::new(err.clone())),
            });
        }
    }
    let epoch = *epochs.borrow();
    if epoch <= 0 {
        return Err(failed("the member was fenced or left the group"));
    }
    Ok(epoch)
}

async fn commit_once(
    link: &CoordinatorLink,
    who: &Committer,
    offsets: &BTreeMap<TopicPartition, OffsetAndMetadata>,
) -> Result<()> {
    let conn = link.connection().await?;
    // v10 names topics by id (KIP-516, Kafka 4.4): when the cached metadata knows every
    // committed topic's id; otherwise by name at v9, as the Java client does.
    let ids = topic_ids(&link.client, offsets);
    let max = if ids.is_some() { 10 } else { 9 };
    let version = conn.negotiate::<OffsetCommitRequest>(VersionRange { min: 2, max })?;
    let mut topics: BTreeMap<&str, Vec<OffsetCommitRequestPartition>> = BTreeMap::new();
    for (tp, om) in offsets {
        topics.entry(tp.topic.as_str()).or_default().push(
            OffsetCommitRequestPartition::default()
                .with_partition_index(tp.partition)
                .with_committed_offset(om.offset)
                .with_committed_leader_epoch(if version >= 6 {
                    om.leader_epoch.unwrap_or(-1)
                } else {
                    -1
                })
                .with_committed_metadata(Some(str(om.metadata.as_deref().unwrap_or("")))),
        );
    }
    let id_of = |t: &str| match (&ids, version >= 10) {
        (Some(ids), true) => ids.get(t).copied().unwrap_or_default(),
        _ => Uuid::nil(),
    };
    let req = OffsetCommitRequest::default()
        .with_group_id(str(&link.group_id))
        .with_generation_id_or_member_epoch(who.generation)
        .with_member_id(str(&who.member_id))
        .with_group_instance_id(if version >= 7 {
            who.instance_id.as_deref().map(str)
        } else {
            None
        })
        .with_topics(
            topics
                .into_iter()
                .map(|(t, ps)| {
                    OffsetCommitRequestTopic::default()
                        .with_name(str(t))
                        .with_topic_id(id_of(t))
                        .with_partitions(ps)
                })
                .collect(),
        );
    let resp = conn
        .request_at(&req, version, link.client.config().request_timeout())
        .await?;
    let mut first: Option<Error> = None;
    for t in &resp.topics {
        // From v10 the answer names topics by id only.
        let name = match version >= 10 {
            true => ids
                .as_ref()
                .and_then(|ids| ids.iter().find(|(_, id)| **id == t.topic_id))
                .map_or_else(|| t.topic_id.to_string(), |(n, _)| n.to_string()),
            false => t.name.to_string(),
        };
        for p in &t.partitions {
            let Some(code) = ErrorCode::from_code(p.error_code) else {
                continue;
            };
            let ctx = ErrorContext::broker(conn.broker_id(), conn.address())
                .with_api(ApiKey::OffsetCommit)
                .with_resource(name.clone())
                .with_partition(p.partition_index);
            let e = match code {
                ErrorCode::ILLEGAL_GENERATION
                | ErrorCode::UNKNOWN_MEMBER_ID
                | ErrorCode::REBALANCE_IN_PROGRESS
                | ErrorCode::FENCED_MEMBER_EPOCH
                | ErrorCode::FENCED_INSTANCE_ID => Error::CommitFailed {
                    reason: format!(
                        "the group rebalanced: the coordinator answered {code} for generation {} \
                         (member {:?}); poll to rejoin, then commit again",
                        who.generation, who.member_id
                    ),
                },
                _ => Error::broker(code, ctx, None),
            };
            // A coordinator error outranks the rest: it decides the retry.
            let coord = CoordinatorLink::is_coordinator_error(&e);
            if first.is_none() || coord {
                first = Some(e);
            }
        }
    }
    match first {
        None => Ok(()),
        Some(e) => Err(e),
    }
}

/// The topic id of every topic in `offsets`, from the cached metadata; `None` when one
/// is not known (not in the cache, or a broker without topic ids).
fn topic_ids<'a>(
    client: &crate::Client,
    offsets: &'a BTreeMap<TopicPartition, OffsetAndMetadata>,
) -> Option<BTreeMap<&'a str, Uuid>> {
    let m = client.cached_metadata();
    offsets
        .keys()
        .map(|tp| {
            let id = m.topic(&tp.topic)?.id;
            (!id.is_nil()).then_some((tp.topic.as_str(), id))
        })
        .collect()
}

/// The committed offsets of `partitions` (`None`: nothing committed). `who`: the
/// consumer-protocol member asking (its id and epoch go with the request, OffsetFetch
/// v9); `None` for a classic member or a consumer outside the group protocol. A
/// STALE_MEMBER_EPOCH answer waits for the next heartbeat and asks again with its epoch;
/// a member fenced meanwhile gets the broker's error back (the fetcher asks again later,
/// never falling back to the reset policy).
pub(crate) async fn fetch_committed(
    link: &CoordinatorLink,
    who: Option<&Committer>,
    partitions: &[TopicPartition],
) -> Result<BTreeMap<TopicPartition, Option<OffsetAndMetadata>>> {
    let client = &link.client;
    let deadline = Instant::now() + client.config().api_timeout();
    let mut attempt = 0u32;
    let mut who = who.cloned();
    loop {
        let member = who.as_ref().map(|w| FetchingMember {
            member_id: &w.member_id,
            member_epoch: w.generation,
        });
        let err = match fetch_once(link, member, partitions).await {
            Ok(v) => return Ok(v),
            Err(e) => e,
        };
        if let (Some(w), Some(ErrorCode::STALE_MEMBER_EPOCH)) = (who.as_mut(), err.code()) {
            let timeout = client.config().api_timeout();
            match next_epoch(w, deadline, timeout, &err, FETCHING).await {
                Ok(epoch) => {
                    w.generation = epoch;
                    continue;
                }
                Err(Error::CommitFailed { .. }) => return Err(err),
                Err(e) => return Err(e),
            }
        }
        if CoordinatorLink::is_coordinator_error(&err) {
            link.invalidate();
        } else if !err.is_retriable() {
            return Err(err);
        }
        let wait = client.retry_backoff(attempt);
        attempt += 1;
        if Instant::now() + wait >= deadline {
            return Err(err);
        }
        tokio::time::sleep(wait).await;
    }
}

async fn fetch_once(
    link: &CoordinatorLink,
    member: Option<FetchingMember<'_>>,
    partitions: &[TopicPartition],
) -> Result<BTreeMap<TopicPartition, Option<OffsetAndMetadata>>> {
    let conn = link.connection().await?;
    let timeout = link.client.config().request_timeout();
    let rows = offset_fetch_on(
        &conn,
        &link.group_id,
        Some(partitions),
        true,
        member,
        timeout,
    )
    .await?;
    let mut out = BTreeMap::new();
    for (tp, answer) in rows {
        // Any partition error fails the lookup (UNSTABLE_OFFSET_COMMIT, a transaction
        // committing offsets, is retriable).
        out.insert(tp, answer?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::cluster::{ClusterMetadata, TopicInfo};

    fn client_knowing(topics: &[(&str, Uuid)]) -> crate::Client {
        let client = crate::Client::builder()
            .bootstrap_servers(["127.0.0.1:1"])
            .build()
            .expect("valid settings");
        let mut m = ClusterMetadata::empty();
        for (name, id) in topics {
            let info = TopicInfo {
                name: name.to_string(),
                id: *id,
                is_internal: false,
                partitions: vec![],
            };
            m.topics.insert(name.to_string(), Arc::new(info));
        }
        client.set_cached_metadata(m);
        client
    }

    fn offsets(topics: &[&str]) -> BTreeMap<TopicPartition, OffsetAndMetadata> {
        topics
            .iter()
            .map(|t| (TopicPartition::new(*t, 0), OffsetAndMetadata::new(5)))
            .collect()
    }

    #[test]
    fn commits_go_by_topic_id_only_when_every_id_is_known() {
        let (a, b) = (Uuid::from_u128(1), Uuid::from_u128(2));
        let client = client_knowing(&[("a", a), ("b", b), ("nil", Uuid::nil())]);
        let both = offsets(&["a", "b"]);
        let ids = topic_ids(&client, &both).expect("both known: v10");
        assert_eq!(ids.get("a"), Some(&a));
        assert_eq!(ids.get("b"), Some(&b));
        assert_eq!(
            topic_ids(&client, &offsets(&["a", "unknown"])),
            None,
            "a topic not in the cache: by name (v9)"
        );
        assert_eq!(
            topic_ids(&client, &offsets(&["a", "nil"])),
            None,
            "a broker without topic ids: by name (v9)"
        );
    }
}
