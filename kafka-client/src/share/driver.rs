//! The share consumer's tasks: the heartbeat loop (membership, routes of the assigned
//! topics, looked up again when a leader moved or stopped answering, fencing), and
//! one spawned task per ShareFetch or ShareAcknowledge, so a
//! caller that drops `poll`, `commit` or `close` never cuts a request in half: the
//! answer is still applied (records buffered, acknowledgement results reported).

use std::sync::{Arc, Mutex, MutexGuard};

use kafka_protocol::messages::ApiKey;
use tokio::sync::Notify;
use tokio::time::Instant;

use super::builder::ShareConsumerConfig;
use super::exchange::ShareWire;
use super::membership::MemberEvent;
use super::record::{AcknowledgementResults, NotHeldReason};
use super::state::{Planned, State};
use crate::error::Error;

/// What the handle and the tasks share.
pub(crate) struct Shared {
    pub wire: Arc<dyn ShareWire>,
    pub config: ShareConsumerConfig,
    /// This consumer's id among the share consumers of the process (records carry it).
    pub id: u64,
    state: Mutex<State>,
    /// Something changed: records buffered, a request answered, an assignment.
    pub changed: Notify,
    /// The heartbeat loop has something to do now.
    pub heartbeat_wake: Notify,
}

impl Shared {
    pub(crate) fn new(
        wire: Arc<dyn ShareWire>,
        config: ShareConsumerConfig,
        id: u64,
        state: State,
    ) -> Self {
        Self {
            wire,
            config,
            id,
            state: Mutex::new(state),
            changed: Notify::new(),
            heartbeat_wake: Notify::new(),
        }
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Tells the callback (if any) about answered acknowledgements.
    pub(crate) fn report(&self, results: &AcknowledgementResults) {
        if results.is_empty() {
            return;
        }
        if let Some(cb) = &self.config.callback {
            cb.on_complete(results);
        }
    }
}

/// Runs until the consumer is closed and has left the group.
pub(crate) async fn heartbeat_loop(shared: Arc<Shared>) {
    loop {
        let wake = shared.heartbeat_wake.notified();
        tokio::pin!(wake);
        wake.as_mut().enable();
        let (req, at, routes_due) = {
            let mut st = shared.lock();
            if st.closed {
                return;
            }
            let now = Instant::now();
            (
                st.membership.poll(now),
                st.membership.wake_at(),
                st.routes_due(),
            )
        };
        if let Some(req) = req {
            let reply = shared.wire.heartbeat(req).await;
            if let Err(e) = &reply {
                tracing::debug!(error = %e, "share group heartbeat failed");
            }
            let event = shared
                .lock()
                .membership
                .on_reply(Instant::now(), reply.ok());
            on_event(&shared, event).await;
            continue;
        }
        // Stale routes are looked up again, at most every `retry.backoff.ms` (a leader
        // not elected yet stays stale).
        if routes_due.is_some_and(|due| due <= Instant::now()) {
            refresh_routes(&shared, true).await;
            continue;
        }
        let at = match (at, routes_due) {
            (Some(a), Some(r)) => Some(a.min(r)),
            (a, r) => a.or(r),
        };
        match at {
            Some(at) => {
                tokio::select! {
                    () = &mut wake => {}
                    () = tokio::time::sleep_until(at) => {}
                }
            }
            None => wake.await,
        }
    }
}

async fn on_event(shared: &Arc<Shared>, event: MemberEvent) {
    match event {
        MemberEvent::Assigned(assignment) => {
            let known = {
                let st = shared.lock();
                assignment.keys().all(|id| st.routes.contains_key(id))
            };
            refresh_routes(shared, !known).await;
            tracing::debug!(?assignment, "share group assignment");
            shared.changed.notify_waiters();
        }
        MemberEvent::Fenced => {
            let dropped = {
                let mut st = shared.lock();
                for s in st.sessions.values_mut() {
                    s.reset();
                }
                st.buffer.clear();
                st.ledger.lose_all(NotHeldReason::Fenced)
            };
            tracing::info!("share group member fenced: rejoining");
            let results: AcknowledgementResults = dropped
                .into_iter()
                .map(|(tp, offsets)| {
                    let c = super::record::AcknowledgementCommit {
                        offsets,
                        error: Some(Error::InvalidState(
                            "the member was fenced before the acknowledgement was sent".into(),
                        )),
                    };
                    (tp, c)
                })
                .collect();
            shared.report(&results);
            shared.changed.notify_waiters();
        }
        MemberEvent::Fatal(e) => {
            tracing::warn!(error = %e, "share group membership failed");
            shared.lock().fatal = Some(e);
            shared.changed.notify_waiters();
        }
        MemberEvent::Retry | MemberEvent::Steady | MemberEvent::Left => {}
    }
}

/// Looks up the subscribed topics' ids and leaders.
pub(crate) async fn refresh_routes(shared: &Arc<Shared>, refresh: bool) {
    let topics: Vec<String> = shared
        .lock()
        .membership
        .subscription()
        .iter()
        .cloned()
        .collect();
    match shared.wire.routes(topics, refresh).await {
        Ok(routes) => {
            tracing::debug!(?routes, refresh, "share consumer routes");
            shared.lock().set_routes(routes, refresh, Instant::now());
        }
        Err(e) => {
            tracing::debug!(error = %e, "share consumer metadata refresh failed");
            shared.lock().retry.routes_refreshed(Instant::now());
        }
    }
    shared.changed.notify_waiters();
}

/// Starts a ShareFetch to every idle leader of an assigned partition, unless records
/// still wait in the buffer (a fetch acquires records: it is only sent when `poll`
/// can hand them out).
pub(crate) fn start_fetches(shared: &Arc<Shared>) {
    let plans = {
        let mut st = shared.lock();
        if st.closed || !st.buffer.is_empty() || st.fatal.is_some() {
            return;
        }
        let mut by_broker = st.assigned_by_broker();
        for b in st.brokers_with_acks() {
            by_broker.entry(b).or_default();
        }
        let open: Vec<i32> = st
            .sessions
            .iter()
            .filter(|(_, s)| s.is_open())
            .map(|(b, _)| *b)
            .collect();
        for b in open {
            by_broker.entry(b).or_default();
        }
        let mut plans = Vec::new();
        for (broker, wanted) in by_broker {
            if let Some(p) = st.plan_fetch(broker, &wanted, &shared.config) {
                plans.push(p);
            }
        }
        if st.routes_stale {
            shared.heartbeat_wake.notify_one();
        }
        plans
    };
    for (ask, planned) in plans {
        let s = shared.clone();
        tokio::spawn(async move {
            let answer = s.wire.fetch(planned.broker, ask).await;
            finish(&s, planned, answer, ApiKey::ShareFetch);
        });
    }
}

/// Applies an answer, reports its acknowledgements, wakes the waiters.
pub(crate) fn finish(
    shared: &Shared,
    planned: Planned,
    answer: crate::Result<super::exchange::ShareAnswer>,
    api: ApiKey,
) -> AcknowledgementResults {
    let results = shared
        .lock()
        .on_answer(planned, answer, api, shared.config.check_crcs);
    shared.report(&results);
    shared.changed.notify_waiters();
    results
}

/// Sends every pending acknowledgement in ShareAcknowledge requests (`close`: closing
/// each share session, epoch -1), waiting for brokers busy with a fetch. Returns the
/// results by partition.
pub(crate) async fn flush_acknowledgements(
    shared: &Arc<Shared>,
    close: bool,
) -> AcknowledgementResults {
    let mut results = AcknowledgementResults::new();
    loop {
        let changed = shared.changed.notified();
        tokio::pin!(changed);
        changed.as_mut().enable();
        let mut plans = Vec::new();
        let mut waiting = false;
        {
            let mut st = shared.lock();
            if close {
                st.ledger.release_all();
            }
            let mut brokers = st.brokers_with_acks();
            if close {
                brokers.extend(
                    st.sessions
                        .iter()
                        .filter(|(_, s)| s.is_open())
                        .map(|(b, _)| *b),
                );
            }
            for b in brokers {
                if st.busy.contains(&b) {
                    waiting = true;
                    continue;
                }
                match st.plan_acknowledge(b, close) {
                    Some(p) => plans.push(p),
                    None => {
                        let failed = st.fail_unsendable(
                            b,
                            "no share session with the partition's leader: the records are no longer held",
                        );
                        shared.report(&failed);
                        results.extend(failed);
                    }
                }
            }
        }
        if plans.is_empty() && !waiting {
            return results;
        }
        let tasks: Vec<_> = plans
            .into_iter()
            .map(|(ask, planned)| {
                let s = shared.clone();
                tokio::spawn(async move {
                    let answer = s.wire.acknowledge(planned.broker, ask).await;
                    finish(&s, planned, answer, ApiKey::ShareAcknowledge)
                })
            })
            .collect();
        let sent = !tasks.is_empty();
        for t in tasks {
            if let Ok(r) = t.await {
                results.extend(r);
            }
        }
        if !sent {
            changed.await;
        }
    }
}
