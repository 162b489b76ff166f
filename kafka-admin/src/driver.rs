//! The loop behind every batched admin call, after the Java admin client's
//! `AdminApiDriver`: route each item to a broker (a fixed target, each partition's leader,
//! or each group's coordinator), send one request per broker concurrently, sort the
//! answers into final results and items to retry, and retry those (looking their route
//! up again) with backoff until the call's deadline.
//!
//! Every item ends with a result: one the broker did not mention is a protocol error, and
//! one still pending at the deadline gets the deadline error. Lookups and sends are
//! attempts bounded by the call's deadline (`RetryClock::bound`): a bootstrap, Metadata
//! refresh, connect or answer still pending then is dropped, never waited out.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Display;
use std::future::Future;
use std::time::Duration;

use tokio::time::Instant;

use crate::types::TopicPartition;
use kafka_client::lowlevel::{
    Connection, ConnectionKind, CoordinatorType, RetryClock, Target, find_coordinators,
};
use kafka_client::{Client, ClusterMetadata, Error, ErrorCode, ErrorContext, Result};
use kafka_protocol::messages::ApiKey;

/// Where an item's request goes, as the lookup step decided.
#[derive(Debug)]
pub(crate) enum Route {
    /// Send it there.
    To(Target),
    /// No route yet (no leader, coordinator loading): look up again after the backoff.
    Retry(Error),
    /// The item fails with this error (unknown topic, not authorized, ...).
    Fail(Error),
}

/// One admin call's settings for [`Call::run`].
pub(crate) struct Call<'a> {
    client: &'a Client,
    operation: &'static str,
    api: ApiKey,
    timeout: Duration,
    /// The call's deadline, fixed when it is made: a first step before [`Call::run`]
    /// ([`Call::bound`]) and the run share it.
    deadline: Instant,
    kind: ConnectionKind,
    retry: fn(&Error) -> bool,
}

/// Retry what Kafka marks retriable and what means a leader or the controller moved.
pub(crate) fn retry_leader_errors(e: &Error) -> bool {
    e.is_retriable() || e.is_stale_metadata()
}

/// Retry what means "ask the coordinator again" (COORDINATOR_NOT_AVAILABLE,
/// COORDINATOR_LOAD_IN_PROGRESS, NOT_COORDINATOR) and transport failures; not, for
/// example, UNKNOWN_TOPIC_OR_PARTITION, which a coordinator reports as final.
pub(crate) fn retry_coordinator_errors(e: &Error) -> bool {
    match e.code() {
        Some(c) => is_coordinator_error(c),
        None => e.is_retriable(),
    }
}

/// Retry NOT_CONTROLLER (after a metadata refresh) and other retriable errors that do not
/// name a missing topic.
pub(crate) fn retry_controller_errors(e: &Error) -> bool {
    e.code() == Some(ErrorCode::NOT_CONTROLLER) || (e.is_retriable() && !e.is_stale_metadata())
}

/// Retry transient errors (timeouts, lost connections, retriable codes) but not those
/// that name a missing topic or partition: for requests any broker can answer.
pub(crate) fn retry_transient_errors(e: &Error) -> bool {
    e.is_retriable() && !e.is_stale_metadata()
}

/// The codes that mean the group's coordinator must be found (again) or waited for.
pub(crate) fn is_coordinator_error(c: ErrorCode) -> bool {
    matches!(
        c,
        ErrorCode::COORDINATOR_NOT_AVAILABLE
            | ErrorCode::COORDINATOR_LOAD_IN_PROGRESS
            | ErrorCode::NOT_COORDINATOR
    )
}

impl<'a> Call<'a> {
    /// A call that retries with [`retry_leader_errors`] over general connections.
    pub(crate) fn new(
        client: &'a Client,
        operation: &'static str,
        api: ApiKey,
        timeout: Duration,
    ) -> Self {
        Self {
            client,
            operation,
            api,
            timeout,
            deadline: Instant::now() + timeout,
            kind: ConnectionKind::General,
            retry: retry_leader_errors,
        }
    }

    /// A call to groups' coordinators: coordinator connections, retrying what means
    /// "find the coordinator again" ([`retry_coordinator_errors`]).
    pub(crate) fn at_group_coordinators(
        client: &'a Client,
        operation: &'static str,
        api: ApiKey,
        timeout: Duration,
    ) -> Self {
        Self::new(client, operation, api, timeout)
            .kind(ConnectionKind::Coordinator)
            .retry(retry_coordinator_errors)
    }

    /// Runs `send` for `groups`, one batch per group coordinator (found with
    /// [`coordinators`]); the call must be one of [`Self::at_group_coordinators`].
    pub(crate) async fn run_for_groups<T, R, S, SF>(
        &self,
        groups: BTreeMap<String, T>,
        send: S,
    ) -> BTreeMap<String, Result<R>>
    where
        T: Clone,
        S: Fn(Connection, Vec<(String, T)>) -> SF,
        SF: Future<Output = Result<Vec<(String, Result<R>)>>>,
    {
        self.run(groups, |keys| coordinators(self.client, keys), send)
            .await
    }

    /// Use connections of this kind to `Target::Broker` routes.
    pub(crate) fn kind(mut self, kind: ConnectionKind) -> Self {
        self.kind = kind;
        self
    }

    /// Which per-item and per-request errors to retry.
    pub(crate) fn retry(mut self, retry: fn(&Error) -> bool) -> Self {
        self.retry = retry;
        self
    }

    /// A retry clock for what is left of the call's time (to the millisecond).
    fn clock(&self) -> RetryClock {
        let left = self.deadline.saturating_duration_since(Instant::now());
        let left = Duration::from_millis(((left.as_micros() + 500) / 1000) as u64);
        RetryClock::new(self.client, self.operation, left.min(self.timeout))
    }

    /// A deadline error that knows no cause gets the one it ran out on: the request to
    /// `target` went unanswered.
    fn unanswered(&self, target: Target, e: Error) -> Error {
        match e {
            Error::Deadline {
                operation,
                timeout,
                last_error: None,
            } => {
                let mut context = ErrorContext::default().with_api(self.api);
                if let Target::Broker(id) = target {
                    context.broker = Some(id);
                }
                Error::Deadline {
                    operation,
                    timeout,
                    last_error: Some(Box::new(Error::Timeout { context, timeout })),
                }
            }
            e => e,
        }
    }

    /// Runs a first step of the call (the Metadata request that lists the brokers to
    /// ask) bounded by the call's deadline, which [`Call::run`] then shares.
    pub(crate) async fn bound<T>(&self, step: impl Future<Output = Result<T>>) -> Result<T> {
        self.clock().bound(step).await
    }

    async fn connect(&self, target: Target) -> Result<Connection> {
        match target {
            Target::Broker(id) => self.client.connection(id, self.kind).await,
            other => self.client.target_connection(other).await,
        }
    }

    fn unmentioned(&self, key: &impl Display) -> Error {
        Error::Protocol {
            context: ErrorContext::default()
                .with_api(self.api)
                .with_resource(key.to_string()),
            message: "the response did not mention this item".into(),
        }
    }

    /// Routes `items` with `lookup`, sends each broker's share with `send`, and retries
    /// until every item has a final result or the deadline passes.
    pub(crate) async fn run<K, T, R, L, LF, S, SF>(
        &self,
        items: BTreeMap<K, T>,
        lookup: L,
        send: S,
    ) -> BTreeMap<K, Result<R>>
    where
        K: Ord + Clone + Display,
        T: Clone,
        L: Fn(Vec<K>) -> LF,
        LF: Future<Output = Result<BTreeMap<K, Route>>>,
        S: Fn(Connection, Vec<(K, T)>) -> SF,
        SF: Future<Output = Result<Vec<(K, Result<R>)>>>,
    {
        let mut pending = items;
        let mut results = BTreeMap::new();
        let mut clock = self.clock();
        while !pending.is_empty() {
            let mut last: Option<Error> = None;
            let mut round = std::mem::take(&mut pending);
            let mut batches: Vec<(Target, Vec<(K, T)>)> = Vec::new();
            match clock.bound(lookup(round.keys().cloned().collect())).await {
                Err(e) if e.is_retriable() || e.is_stale_metadata() => {
                    pending = std::mem::take(&mut round);
                    last = Some(e);
                }
                Err(e) => {
                    for k in std::mem::take(&mut round).into_keys() {
                        results.insert(k, Err(e.clone()));
                    }
                }
                Ok(routes) => {
                    for (k, route) in routes {
                        let Some(t) = round.remove(&k) else { continue };
                        match route {
                            Route::To(target) => match batches.iter_mut().find(|b| b.0 == target) {
                                Some(b) => b.1.push((k, t)),
                                None => batches.push((target, vec![(k, t)])),
                            },
                            Route::Retry(e) => {
                                pending.insert(k, t);
                                last = Some(e);
                            }
                            Route::Fail(e) => {
                                results.insert(k, Err(e));
                            }
                        }
                    }
                }
            }
            for k in round.into_keys() {
                let e = self.unmentioned(&k);
                results.insert(k, Err(e));
            }
            let answers = futures::future::join_all(batches.iter().map(|(target, batch)| {
                let (send, clock) = (&send, &clock);
                let sent = clock
                    .bound(async move { send(self.connect(*target).await?, batch.clone()).await });
                async move { sent.await.map_err(|e| self.unanswered(*target, e)) }
            }))
            .await;
            for ((_, batch), answer) in batches.into_iter().zip(answers) {
                match answer {
                    Err(e) if (self.retry)(&e) => {
                        pending.extend(batch);
                        last = Some(e);
                    }
                    Err(e) => {
                        for (k, _) in batch {
                            results.insert(k, Err(e.clone()));
                        }
                    }
                    Ok(answered) => {
                        let mut batch: BTreeMap<K, T> = batch.into_iter().collect();
                        for (k, r) in answered {
                            let Some(t) = batch.remove(&k) else { continue };
                            match r {
                                Err(e) if (self.retry)(&e) => {
                                    pending.insert(k, t);
                                    last = Some(e);
                                }
                                r => {
                                    results.insert(k, r);
                                }
                            }
                        }
                        for k in batch.into_keys() {
                            let e = self.unmentioned(&k);
                            results.insert(k, Err(e));
                        }
                    }
                }
            }
            if pending.is_empty() {
                break;
            }
            let err = last.unwrap_or_else(|| Error::Broker {
                code: ErrorCode::LEADER_NOT_AVAILABLE,
                context: ErrorContext::default().with_api(self.api),
                message: None,
            });
            if let Err(e) = clock.retry_after(err).await {
                for k in std::mem::take(&mut pending).into_keys() {
                    results.insert(k, Err(e.clone()));
                }
            }
        }
        results
    }
}

/// Routes every key to the same target.
pub(crate) async fn fixed<K: Ord>(target: Target, keys: Vec<K>) -> Result<BTreeMap<K, Route>> {
    Ok(keys.into_iter().map(|k| (k, Route::To(target))).collect())
}

/// Routes each partition to its leader, from a fresh Metadata request for their topics.
pub(crate) async fn leaders(
    client: &Client,
    keys: Vec<TopicPartition>,
) -> Result<BTreeMap<TopicPartition, Route>> {
    let topics: BTreeSet<&str> = keys.iter().map(|k| k.topic.as_str()).collect();
    let topics: Vec<&str> = topics.into_iter().collect();
    let meta = client.refresh_topics(&topics).await?;
    Ok(keys
        .into_iter()
        .map(|tp| {
            let route = leader_route(&meta, &tp);
            (tp, route)
        })
        .collect())
}

fn leader_route(meta: &ClusterMetadata, tp: &TopicPartition) -> Route {
    let ctx = || {
        ErrorContext::default()
            .with_resource(&tp.topic)
            .with_partition(tp.partition)
    };
    let Some(topic) = meta.topic(&tp.topic) else {
        let code = meta
            .topic_errors
            .get(&tp.topic)
            .copied()
            .unwrap_or(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION);
        let e = Error::broker(code, ctx(), None);
        return if code.is_retriable() && code != ErrorCode::UNKNOWN_TOPIC_OR_PARTITION {
            Route::Retry(e)
        } else {
            Route::Fail(e)
        };
    };
    match topic.partition(tp.partition) {
        None => Route::Fail(Error::broker(
            ErrorCode::UNKNOWN_TOPIC_OR_PARTITION,
            ctx(),
            Some(format!(
                "the topic has {} partitions",
                topic.partitions.len()
            )),
        )),
        Some(p) => match p.leader {
            Some(leader) => Route::To(Target::Broker(leader)),
            None => Route::Retry(Error::broker(
                p.error.unwrap_or(ErrorCode::LEADER_NOT_AVAILABLE),
                ctx(),
                None,
            )),
        },
    }
}

/// Routes each group to its coordinator (kafka-client's batched FindCoordinator).
pub(crate) async fn coordinators(
    client: &Client,
    groups: Vec<String>,
) -> Result<BTreeMap<String, Route>> {
    coordinators_of(client, CoordinatorType::Group, groups).await
}

/// Routes each transactional id to its transaction coordinator.
pub(crate) async fn transaction_coordinators(
    client: &Client,
    ids: Vec<String>,
) -> Result<BTreeMap<String, Route>> {
    coordinators_of(client, CoordinatorType::Transaction, ids).await
}

async fn coordinators_of(
    client: &Client,
    kind: CoordinatorType,
    keys: Vec<String>,
) -> Result<BTreeMap<String, Route>> {
    let found = find_coordinators(client, kind, keys).await?;
    Ok(found
        .into_iter()
        .map(|(group, node)| {
            let route = coordinator_route(node);
            (group, route)
        })
        .collect())
}

fn coordinator_route(node: Result<i32>) -> Route {
    match node {
        Ok(node) => Route::To(Target::Broker(node)),
        Err(e) if retry_coordinator_errors(&e) => Route::Retry(e),
        Err(e) => Route::Fail(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coordinator_errors_are_retried_but_not_topic_errors() {
        let e = |c| Error::broker(c, ErrorContext::default(), None);
        assert!(retry_coordinator_errors(&e(ErrorCode::NOT_COORDINATOR)));
        assert!(retry_coordinator_errors(&e(
            ErrorCode::COORDINATOR_LOAD_IN_PROGRESS
        )));
        assert!(!retry_coordinator_errors(&e(
            ErrorCode::UNKNOWN_TOPIC_OR_PARTITION
        )));
        assert!(!retry_coordinator_errors(&e(ErrorCode::GROUP_ID_NOT_FOUND)));
        assert!(retry_leader_errors(&e(ErrorCode::NOT_LEADER_OR_FOLLOWER)));
        assert!(!retry_leader_errors(&e(
            ErrorCode::TOPIC_AUTHORIZATION_FAILED
        )));
        assert!(retry_controller_errors(&e(ErrorCode::NOT_CONTROLLER)));
        assert!(!retry_controller_errors(&e(
            ErrorCode::UNKNOWN_TOPIC_OR_PARTITION
        )));
        assert!(!retry_transient_errors(&e(
            ErrorCode::UNKNOWN_TOPIC_OR_PARTITION
        )));
        assert!(retry_transient_errors(&e(ErrorCode::REQUEST_TIMED_OUT)));
    }

    #[test]
    fn a_found_coordinator_routes_to_its_node() {
        let e = |c| Err(Error::broker(c, ErrorContext::default(), None));
        assert!(matches!(
            coordinator_route(Ok(3)),
            Route::To(Target::Broker(3))
        ));
        assert!(matches!(
            coordinator_route(e(ErrorCode::COORDINATOR_NOT_AVAILABLE)),
            Route::Retry(_)
        ));
        assert!(matches!(
            coordinator_route(e(ErrorCode::GROUP_AUTHORIZATION_FAILED)),
            Route::Fail(_)
        ));
    }
}
