//! Connections by broker and purpose, reconnecting with backoff.
//!
//! Each broker gets separate connections per [`ConnectionKind`], as franz-go does, so a
//! long-polling fetch or a JoinGroup never delays a produce.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::time::Instant;

use super::connection::Connection;
use super::handshake;
use crate::config::{BrokerAddress, ClientConfig, backoff};
use crate::error::Result;
use crate::observe::Telemetry;

/// What a connection is used for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ConnectionKind {
    /// Metadata and admin requests.
    General,
    /// Produce requests.
    Produce,
    /// Fetch and ListOffsets requests.
    Fetch,
    /// Group coordination and transactions.
    Coordinator,
}

/// Identifies a connection slot: a broker node id, or a bootstrap address by position.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum NodeKey {
    Broker(i32),
    Bootstrap(usize),
}

#[derive(Default)]
struct SlotState {
    conn: Option<Connection>,
    address: Option<BrokerAddress>,
    /// Consecutive failures (connect errors, or connections found dead).
    failures: u32,
    last_failure: Option<Instant>,
}

type Slot = Arc<tokio::sync::Mutex<SlotState>>;

/// The pool of connections.
pub(crate) struct Pool {
    config: ClientConfig,
    telemetry: Arc<Telemetry>,
    slots: Mutex<HashMap<(NodeKey, ConnectionKind), Slot>>,
}

impl Pool {
    pub(crate) fn new(config: ClientConfig, telemetry: Arc<Telemetry>) -> Self {
        Self {
            config,
            telemetry,
            slots: Mutex::new(HashMap::new()),
        }
    }

    fn slot(&self, key: NodeKey, kind: ConnectionKind) -> Slot {
        let mut slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        slots.entry((key, kind)).or_default().clone()
    }

    /// A live connection to `addr`, connecting (after backoff, when the last attempt
    /// failed) if there is none.
    pub(crate) async fn get(
        &self,
        key: NodeKey,
        addr: &BrokerAddress,
        kind: ConnectionKind,
    ) -> Result<Connection> {
        let slot = self.slot(key, kind);
        let mut st = slot.lock().await;
        if st.address.as_ref() != Some(addr) {
            // The node moved (or is new): never reuse a connection to the old address.
            st.conn = None;
            st.address = Some(addr.clone());
        }
        if st.conn.as_ref().is_some_and(Connection::is_expired) {
            // The SASL session ended without in-band renewal (KIP-368; the connection task
            // re-authenticates before then): not a failure, just reconnect.
            st.conn = None;
        }
        if let Some(conn) = &st.conn {
            if !conn.is_closed() {
                return Ok(conn.clone());
            }
            st.conn = None;
            st.failures += 1;
            st.last_failure = Some(Instant::now());
        }
        if let (Some(last), true) = (st.last_failure, st.failures > 0) {
            let wait = backoff(
                self.config.reconnect_backoff,
                self.config.reconnect_backoff_max,
                st.failures - 1,
            );
            tokio::time::sleep_until(last + wait).await;
        }
        let id = match key {
            NodeKey::Broker(id) => Some(id),
            NodeKey::Bootstrap(_) => None,
        };
        match handshake::connect(&self.config, &self.telemetry, id, addr).await {
            Ok(conn) => {
                tracing::debug!(broker = %addr, broker_id = ?id, kind = ?kind, "connection ready");
                st.failures = 0;
                st.last_failure = None;
                st.conn = Some(conn.clone());
                Ok(conn)
            }
            Err(e) => {
                tracing::debug!(broker = %addr, broker_id = ?id, kind = ?kind, failures = st.failures + 1, error = %e, "connection failed");
                st.failures += 1;
                st.last_failure = Some(Instant::now());
                Err(e)
            }
        }
    }

    /// An existing live connection to `key`, if any (no connecting).
    pub(crate) fn existing(&self, key: NodeKey, kind: ConnectionKind) -> Option<Connection> {
        let slot = self
            .slots
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&(key, kind))
            .cloned()?;
        let st = slot.try_lock().ok()?;
        st.conn.clone().filter(|c| !c.is_closed())
    }

    /// Drops the connections to bootstrap addresses: a rebootstrap (KIP-899) connects
    /// afresh, resolving the names again, rather than reusing a connection to whatever
    /// the name led to before.
    pub(crate) fn forget_bootstrap(&self) {
        self.slots
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|(key, _), _| !matches!(key, NodeKey::Bootstrap(_)));
    }

    /// Drops every connection (each task ends once its in-flight requests finish).
    pub(crate) fn clear(&self) {
        self.slots.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }
}
