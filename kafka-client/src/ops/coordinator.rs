//! Coordinators: finding them (FindCoordinator, one key or a batch, for the consumer,
//! the transactional producer and kafka-admin), and the link to one group's or
//! transactional id's coordinator: a connection to it of the
//! `Coordinator` kind, and forgetting it on NOT_COORDINATOR or a lost connection so the
//! next request goes back to discovery.

use std::collections::BTreeMap;
use std::sync::Mutex;

use kafka_protocol::messages::{ApiKey, FindCoordinatorRequest};
use kafka_protocol::protocol::{StrBytes, VersionRange};

use crate::client::{Client, Target};
use crate::error::{Error, ErrorCode, ErrorContext, Result};
use crate::net::{Connection, ConnectionKind};
use crate::ops::RetryClock;

/// Finds and caches the coordinator of one group.
#[derive(Debug)]
pub(crate) struct CoordinatorLink {
    pub client: Client,
    /// The group id, or the transactional id for a transaction coordinator.
    pub group_id: String,
    /// FindCoordinator's key type: 0 for a group, 1 for a transactional id.
    key_type: i8,
    node: Mutex<Option<i32>>,
    /// Offset commits of this group go one at a time, in the order they were asked
    /// (`consumer::group::commit::commit` waits for its ticket's turn): a commit retried
    /// across a coordinator failover must not land after a newer one and move the
    /// committed offsets back (the reliability matrix saw re-deliveries with no session
    /// lost from exactly that).
    pub(crate) commit_order: std::sync::Arc<CommitOrder>,
}

/// The order of a group's offset commits. A ticket is taken when a commit is asked,
/// synchronously, before any task is spawned for it; a commit is sent once every
/// earlier ticket is done or dropped. A lock taken inside a spawned task ordered commits
/// by when their tasks first ran instead: a `commit_offsets` awaited right after a
/// `commit_offsets_async` (or an auto-commit) took the turn first, and the older, lower
/// offsets landed after it (found by kafka-sim: I6).
#[derive(Debug, Default)]
pub(crate) struct CommitOrder {
    tickets: Mutex<Tickets>,
    turn: tokio::sync::Notify,
}

#[derive(Debug, Default)]
struct Tickets {
    next: u64,
    serving: u64,
    /// Tickets finished (or dropped) before their turn.
    done_early: std::collections::BTreeSet<u64>,
}

/// One commit's place in its group's [`CommitOrder`]; dropping it ends its turn.
#[derive(Debug)]
pub(crate) struct CommitTicket {
    order: std::sync::Arc<CommitOrder>,
    number: u64,
}

impl CommitOrder {
    fn tickets(&self) -> std::sync::MutexGuard<'_, Tickets> {
        self.tickets.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The next place in the order.
    pub(crate) fn ticket(self: &std::sync::Arc<Self>) -> CommitTicket {
        let mut t = self.tickets();
        let number = t.next;
        t.next += 1;
        CommitTicket {
            order: self.clone(),
            number,
        }
    }
}

impl CommitTicket {
    /// Returns once every earlier ticket is done.
    pub(crate) async fn turn(&self) {
        loop {
            let notified = self.order.turn.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.order.tickets().serving == self.number {
                return;
            }
            notified.await;
        }
    }
}

impl Drop for CommitTicket {
    fn drop(&mut self) {
        {
            let mut t = self.order.tickets();
            if t.serving == self.number {
                t.serving += 1;
                loop {
                    let next = t.serving;
                    if !t.done_early.remove(&next) {
                        break;
                    }
                    t.serving += 1;
                }
            } else {
                t.done_early.insert(self.number);
            }
        }
        self.order.turn.notify_waiters();
    }
}

impl CoordinatorLink {
    pub(crate) fn new(client: Client, group_id: String) -> Self {
        Self {
            client,
            group_id,
            key_type: 0,
            node: Mutex::new(None),
            commit_order: Default::default(),
        }
    }

    /// The link to the transaction coordinator of `transactional_id`.
    pub(crate) fn for_transaction(client: Client, transactional_id: String) -> Self {
        Self {
            key_type: 1,
            ..Self::new(client, transactional_id)
        }
    }

    fn kind(&self) -> &'static str {
        if self.key_type == 1 {
            "transactional id"
        } else {
            "group"
        }
    }

    /// The coordinator's node id, when known.
    pub(crate) fn known(&self) -> Option<i32> {
        *self.node.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Forgets the coordinator (NOT_COORDINATOR, COORDINATOR_NOT_AVAILABLE, a dead
    /// connection): the next request rediscovers it.
    pub(crate) fn invalidate(&self) {
        *self.node.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }

    /// Whether an error means the coordinator moved or is gone.
    pub(crate) fn is_coordinator_error(e: &Error) -> bool {
        matches!(
            e.code(),
            Some(ErrorCode::NOT_COORDINATOR | ErrorCode::COORDINATOR_NOT_AVAILABLE)
        ) || matches!(
            e,
            Error::ConnectionLost { .. } | Error::Timeout { .. } | Error::Connect { .. }
        )
    }

    /// A connection to the coordinator, discovering it (with retries until the API
    /// timeout) when unknown.
    pub(crate) async fn connection(&self) -> Result<Connection> {
        let mut clock = RetryClock::new(
            &self.client,
            format!(
                "finding the coordinator of {} {}",
                self.kind(),
                self.group_id
            ),
            self.client.config().api_timeout(),
        );
        loop {
            let attempt = async {
                let node = match self.known() {
                    Some(n) => n,
                    None => self.find().await?,
                };
                self.client
                    .connection(node, ConnectionKind::Coordinator)
                    .await
            };
            let conn = clock.bound(attempt).await;
            match conn {
                Ok(c) => return Ok(c),
                Err(e) if e.is_retriable() => {
                    self.invalidate();
                    tracing::debug!(group = %self.group_id, error = %e, "coordinator lookup failed");
                    clock.backoff(e).await?;
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// One FindCoordinator round trip.
    async fn find(&self) -> Result<i32> {
        let key_type = if self.key_type == 1 {
            CoordinatorType::Transaction
        } else {
            CoordinatorType::Group
        };
        let mut found = find_coordinators(&self.client, key_type, [self.group_id.clone()]).await?;
        let node = found.remove(&self.group_id).unwrap_or_else(|| {
            Err(Error::Protocol {
                context: ErrorContext::default()
                    .with_api(ApiKey::FindCoordinator)
                    .with_resource(self.group_id.clone()),
                message: "FindCoordinator response lists no coordinator".into(),
            })
        })?;
        *self.node.lock().unwrap_or_else(|e| e.into_inner()) = Some(node);
        tracing::debug!(key = %self.group_id, kind = self.kind(), node, "found coordinator");
        Ok(node)
    }
}

/// What a coordinator is looked up for (FindCoordinator's key type).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CoordinatorType {
    /// A consumer (or share) group's coordinator; the key is the group id.
    Group,
    /// A transaction coordinator; the key is the transactional id.
    Transaction,
}

impl CoordinatorType {
    fn wire(self) -> i8 {
        match self {
            Self::Group => 0,
            Self::Transaction => 1,
        }
    }
}

/// Finds the coordinators of `keys` with FindCoordinator: every key in one request from
/// v4, one request per key before. Each key gets its coordinator's node id or its own
/// error (the broker's code, with the key as the resource); a node id the metadata
/// cache does not know yet triggers one metadata refresh, so the caller can connect to
/// it. The outer error is a request-level failure (no connection, no answer).
pub async fn find_coordinators(
    client: &Client,
    key_type: CoordinatorType,
    keys: impl IntoIterator<Item = String>,
) -> Result<BTreeMap<String, Result<i32>>> {
    let keys: Vec<String> = keys.into_iter().collect();
    let conn = client.target_connection(Target::Any).await?;
    let version = conn.negotiate::<FindCoordinatorRequest>(VersionRange { min: 0, max: 6 })?;
    let timeout = client.config().request_timeout();
    let context = |key: &str| {
        ErrorContext::broker(conn.broker_id(), conn.address())
            .with_api(ApiKey::FindCoordinator)
            .with_resource(key.to_string())
    };
    let mut found = BTreeMap::new();
    if version >= 4 {
        let req = FindCoordinatorRequest::default()
            .with_key_type(key_type.wire())
            .with_coordinator_keys(
                keys.iter()
                    .map(|k| StrBytes::from_string(k.clone()))
                    .collect(),
            );
        let resp = conn.request_at(&req, version, timeout).await?;
        for c in resp.coordinators {
            let key = c.key.to_string();
            let outcome = outcome(c.error_code, c.node_id.0, c.error_message.as_ref(), || {
                context(&key)
            });
            found.insert(key, outcome);
        }
    } else {
        for key in keys {
            let req = FindCoordinatorRequest::default()
                .with_key(StrBytes::from_string(key.clone()))
                .with_key_type(key_type.wire());
            let resp = conn.request_at(&req, version, timeout).await?;
            let outcome = outcome(
                resp.error_code,
                resp.node_id.0,
                resp.error_message.as_ref(),
                || context(&key),
            );
            found.insert(key, outcome);
        }
    }
    // Make sure the nodes are in the metadata we route by.
    let metadata = client.cached_metadata();
    if found
        .values()
        .any(|r| matches!(r, Ok(n) if metadata.broker(*n).is_none()))
    {
        client.metadata().await?;
    }
    Ok(found)
}

/// One key's answer: its node, its error code, or COORDINATOR_NOT_AVAILABLE for a
/// success without a node.
fn outcome(
    code: i16,
    node: i32,
    message: Option<&StrBytes>,
    context: impl FnOnce() -> ErrorContext,
) -> Result<i32> {
    let message = message.map(|m| m.to_string()).filter(|m| !m.is_empty());
    match ErrorCode::from_code(code) {
        Some(code) => Err(Error::broker(code, context(), message)),
        None if node < 0 => Err(Error::broker(
            ErrorCode::COORDINATOR_NOT_AVAILABLE,
            context(),
            message,
        )),
        None => Ok(node),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_answer_is_a_node_a_typed_code_or_not_available() {
        let ctx = || ErrorContext::default().with_resource("g");
        assert_eq!(outcome(0, 3, None, ctx).expect("found"), 3);
        let e = outcome(15, -1, None, ctx).expect_err("not available");
        assert_eq!(e.code(), Some(ErrorCode::COORDINATOR_NOT_AVAILABLE));
        let e = outcome(0, -1, None, ctx).expect_err("no node");
        assert_eq!(e.code(), Some(ErrorCode::COORDINATOR_NOT_AVAILABLE));
        let msg = StrBytes::from_static_str("nope");
        let e = outcome(30, -1, Some(&msg), ctx).expect_err("group authorization");
        assert_eq!(e.code(), Some(ErrorCode::GROUP_AUTHORIZATION_FAILED));
        assert!(e.to_string().contains("nope"), "{e}");
        assert_eq!(CoordinatorType::Group.wire(), 0);
        assert_eq!(CoordinatorType::Transaction.wire(), 1);
    }
}
