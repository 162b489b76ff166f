//! The group coordinator: finding it (FindCoordinator), a connection to it of the
//! `Coordinator` kind, and forgetting it on NOT_COORDINATOR or a lost connection so the
//! next request goes back to discovery.

use std::sync::Mutex;

use kafka_protocol::messages::{ApiKey, FindCoordinatorRequest};
use kafka_protocol::protocol::{StrBytes, VersionRange};
use tokio::time::Instant;

use crate::client::{Client, Target};
use crate::error::{Error, ErrorCode, ErrorContext, Result};
use crate::net::{Connection, ConnectionKind};

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
    /// ([`super::commit::commit`] holds it): a commit retried across a coordinator
    /// failover must not land after a newer one and move the committed offsets back
    /// (the reliability matrix saw re-deliveries with no session lost from exactly that).
    pub(crate) commit_turn: tokio::sync::Mutex<()>,
}

impl CoordinatorLink {
    pub(crate) fn new(client: Client, group_id: String) -> Self {
        Self {
            client,
            group_id,
            key_type: 0,
            node: Mutex::new(None),
            commit_turn: tokio::sync::Mutex::new(()),
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
        let deadline = Instant::now() + self.client.config().api_timeout();
        let mut last: Option<Error> = None;
        for attempt in 0u32.. {
            let node = match self.known() {
                Some(n) => Ok(n),
                None => self.find().await,
            };
            let conn = match node {
                Ok(n) => self.client.connection(n, ConnectionKind::Coordinator).await,
                Err(e) => Err(e),
            };
            match conn {
                Ok(c) => return Ok(c),
                Err(e) if e.is_retriable() => {
                    self.invalidate();
                    tracing::debug!(group = %self.group_id, error = %e, "coordinator lookup failed");
                    last = Some(e);
                }
                Err(e) => return Err(e),
            }
            let wait = self.client.retry_backoff(attempt);
            if Instant::now() + wait >= deadline {
                break;
            }
            tokio::time::sleep(wait).await;
        }
        Err(Error::Deadline {
            operation: format!(
                "finding the coordinator of {} {}",
                self.kind(),
                self.group_id
            ),
            timeout: self.client.config().api_timeout(),
            last_error: last.map_or_else(String::new, |e| e.to_string()),
        })
    }

    /// One FindCoordinator round trip.
    async fn find(&self) -> Result<i32> {
        let conn = self.client.target_connection(Target::Any).await?;
        let version = conn.negotiate::<FindCoordinatorRequest>(VersionRange { min: 0, max: 6 })?;
        let key = StrBytes::from_string(self.group_id.clone());
        let req = if version >= 4 {
            FindCoordinatorRequest::default()
                .with_key_type(self.key_type)
                .with_coordinator_keys(vec![key])
        } else {
            FindCoordinatorRequest::default()
                .with_key(key)
                .with_key_type(self.key_type)
        };
        let resp = conn
            .request_at(&req, version, self.client.config().request_timeout())
            .await?;
        let (code, node, message) = if version >= 4 {
            match resp.coordinators.first() {
                Some(c) => (c.error_code, c.node_id.0, c.error_message.clone()),
                None => {
                    return Err(Error::Protocol {
                        context: ErrorContext::broker(conn.broker_id(), conn.address())
                            .with_api(ApiKey::FindCoordinator),
                        message: "FindCoordinator response lists no coordinator".into(),
                    });
                }
            }
        } else {
            (resp.error_code, resp.node_id.0, resp.error_message.clone())
        };
        if let Some(code) = ErrorCode::from_code(code) {
            return Err(Error::broker(
                code,
                ErrorContext::broker(conn.broker_id(), conn.address())
                    .with_api(ApiKey::FindCoordinator)
                    .with_resource(self.group_id.clone()),
                message.map(|m| m.to_string()),
            ));
        }
        // Make sure the node is in the metadata we route by.
        if self.client.cached_metadata().broker(node).is_none() {
            self.client.metadata().await?;
        }
        *self.node.lock().unwrap_or_else(|e| e.into_inner()) = Some(node);
        tracing::debug!(key = %self.group_id, kind = self.kind(), node, "found coordinator");
        Ok(node)
    }
}
