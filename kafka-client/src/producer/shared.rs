//! The state every producer handle and background task shares: settings, the topic
//! registry, the senders by broker, and the close/flush flags.

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock, RwLockReadGuard};
use std::time::Duration;

use tokio::sync::Notify;

use super::accumulator::{PartitionState, TopicEntry, TopicMeta};
use super::batch::{ProducerBatch, ProducerIdent, Resources};
use super::builder::ProducerConfig;
use super::identity::{Identity, failure_verdict};
use super::{metadata, sender};
use crate::client::Client;
use crate::cluster::TopicInfo;
use crate::error::{Error, Result};

/// A sender task's mailbox.
#[derive(Debug)]
pub(crate) struct SenderHandle {
    pub broker: i32,
    pub notify: Notify,
}

/// The metadata task's mailbox: topics whose leaders need a fresh look.
#[derive(Debug, Default)]
pub(crate) struct RefreshRequests {
    pub notify: Notify,
    pub topics: Mutex<HashSet<Arc<str>>>,
    started: AtomicBool,
}

/// Topics by name. Looked up once per record: FNV-1a hashes a short name several times
/// faster than the default SipHash (names come from the application, not from peers).
pub(crate) type Topics = HashMap<Arc<str>, Arc<TopicEntry>, BuildHasherDefault<Fnv>>;

/// 64-bit FNV-1a.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Fnv(u64);

impl Default for Fnv {
    fn default() -> Self {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
}

impl Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0 ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3);
        }
    }
}

/// Shared producer state.
#[derive(Debug)]
pub(crate) struct Shared {
    pub client: Client,
    pub owns_client: bool,
    pub config: ProducerConfig,
    pub res: Arc<Resources>,
    /// Topics by name. Appends hold the read lock, so a task that takes the write lock
    /// and finds the producer closing and idle knows no record can slip in after it.
    topics: RwLock<Topics>,
    /// Bumped whenever a partition's leader changes: senders then re-list their partitions.
    routing_epoch: AtomicU64,
    senders: RwLock<HashMap<i32, Arc<SenderHandle>>>,
    pub refresh: RefreshRequests,
    /// Topics whose metadata a `try_send` is loading in the background.
    loading: Mutex<HashSet<Arc<str>>>,
    flushing: AtomicUsize,
    closing: AtomicBool,
    aborted: AtomicBool,
    /// The producer id and epoch, and the epoch bump (`identity.rs`).
    identity: Identity,
    /// Transactional state, for a transactional producer.
    pub txn: Option<Arc<super::txn::state::TxnShared>>,
}

impl Shared {
    pub(crate) fn new(client: Client, owns_client: bool, config: ProducerConfig) -> Self {
        let mut res = Resources::new(config.buffer_memory, config.batch_size, config.compression);
        res.transactional = config.transactional.is_some();
        let res = Arc::new(res);
        Shared {
            client,
            owns_client,
            res,
            topics: RwLock::new(HashMap::default()),
            routing_epoch: AtomicU64::new(0),
            senders: RwLock::new(HashMap::new()),
            refresh: RefreshRequests::default(),
            loading: Mutex::new(HashSet::new()),
            flushing: AtomicUsize::new(0),
            closing: AtomicBool::new(false),
            aborted: AtomicBool::new(false),
            identity: Identity::default(),
            txn: config
                .transactional
                .as_ref()
                .map(|t| Arc::new(super::txn::state::TxnShared::new(t.id.clone(), t.timeout))),
            config,
        }
    }

    pub(crate) fn topics(&self) -> RwLockReadGuard<'_, Topics> {
        self.topics.read().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn topic(&self, name: &str) -> Option<Arc<TopicEntry>> {
        self.topics().get(name).cloned()
    }

    pub(crate) fn is_closing(&self) -> bool {
        self.closing.load(Ordering::Acquire)
    }

    pub(crate) fn is_aborted(&self) -> bool {
        self.aborted.load(Ordering::Acquire)
    }

    pub(crate) fn check_open(&self) -> Result<()> {
        if self.is_closing() {
            Err(Error::Closed)
        } else {
            Ok(())
        }
    }

    /// Whether open batches go out without waiting for linger.
    pub(crate) fn force_ready(&self) -> bool {
        self.flushing.load(Ordering::Acquire) > 0
            || self.is_closing()
            || self.res.memory.has_waiters()
    }

    pub(crate) fn routing_epoch(&self) -> u64 {
        self.routing_epoch.load(Ordering::Acquire)
    }

    /// A partition changed leader: senders re-list their partitions.
    pub(crate) fn rerouted(&self) {
        self.routing_epoch.fetch_add(1, Ordering::AcqRel);
        self.wake_senders();
    }

    /// The partitions whose leader is `broker` now.
    pub(crate) fn partitions_led_by(&self, broker: i32, out: &mut Vec<Arc<PartitionState>>) {
        out.clear();
        for t in self.topics().values() {
            out.extend(
                t.partitions()
                    .iter()
                    .filter(|p| p.leader() == broker)
                    .cloned(),
            );
        }
    }

    /// Every partition without a leader.
    pub(crate) fn leaderless(&self) -> Vec<Arc<PartitionState>> {
        let mut out = Vec::new();
        for t in self.topics().values() {
            out.extend(t.partitions().iter().filter(|p| p.leader() < 0).cloned());
        }
        out
    }

    /// Registers a topic (or applies fresh metadata to it), starting the tasks it needs.
    pub(crate) fn register_topic(self: &Arc<Self>, info: &TopicInfo) -> Result<Arc<TopicEntry>> {
        let (entry, changed) = {
            let mut topics = self.topics.write().unwrap_or_else(|e| e.into_inner());
            match topics.get(info.name.as_str()) {
                Some(t) => {
                    let changed = t.update(info);
                    (t.clone(), changed)
                }
                None => {
                    let t = Arc::new(TopicEntry::new(info));
                    topics.insert(t.meta.name.clone(), t.clone());
                    let leaders = t.partitions().iter().map(|p| p.leader()).collect();
                    (t, leaders)
                }
            }
        };
        self.start_metadata_task()?;
        for leader in &changed {
            if *leader >= 0 {
                self.ensure_sender(*leader)?;
            }
        }
        if !changed.is_empty() {
            self.rerouted();
        }
        if changed.iter().any(|l| *l < 0) {
            self.request_refresh(&entry.meta);
        }
        Ok(entry)
    }

    /// The topic vanished from the metadata: its partitions wait for a leader.
    pub(crate) fn topic_missing(&self, name: &str) {
        if let Some(t) = self.topic(name) {
            if t.clear_leaders() {
                self.rerouted();
            }
        }
    }

    /// Marks `topic` as loading; false if a load is already under way.
    pub(crate) fn start_loading(&self, topic: &Arc<str>) -> bool {
        self.loading
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(topic.clone())
    }

    pub(crate) fn done_loading(&self, topic: &str) {
        self.loading
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(topic);
    }

    fn spawn<F>(&self, fut: F) -> Result<()>
    where
        F: std::future::Future<Output = ()> + Send + 'static,
    {
        let handle = tokio::runtime::Handle::try_current().map_err(|_| {
            Error::Config("the producer must be used inside a tokio runtime".into())
        })?;
        handle.spawn(fut);
        Ok(())
    }

    fn start_metadata_task(self: &Arc<Self>) -> Result<()> {
        if self.refresh.started.swap(true, Ordering::AcqRel) {
            return Ok(());
        }
        let res = self.spawn(metadata::run(self.clone()));
        if res.is_err() {
            self.refresh.started.store(false, Ordering::Release);
        }
        res
    }

    /// Starts the sender for `broker` unless it runs already.
    pub(crate) fn ensure_sender(self: &Arc<Self>, broker: i32) -> Result<()> {
        if self
            .senders
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .contains_key(&broker)
        {
            return Ok(());
        }
        let mut senders = self.senders.write().unwrap_or_else(|e| e.into_inner());
        if senders.contains_key(&broker) {
            return Ok(());
        }
        let handle = Arc::new(SenderHandle {
            broker,
            notify: Notify::new(),
        });
        self.spawn(sender::run(self.clone(), handle.clone()))?;
        senders.insert(broker, handle);
        Ok(())
    }

    /// Registers a handle for `broker`'s sender without starting its task (unit tests:
    /// which sender a change wakes).
    #[cfg(test)]
    pub(crate) fn register_idle_sender(&self, broker: i32) -> Arc<SenderHandle> {
        let handle = Arc::new(SenderHandle {
            broker,
            notify: Notify::new(),
        });
        self.senders
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(broker, handle.clone());
        handle
    }

    /// Wakes the sender of `broker`.
    pub(crate) fn wake_sender(&self, broker: i32) {
        if let Some(s) = self
            .senders
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(&broker)
        {
            s.notify.notify_one();
        }
    }

    /// Wakes whoever moves this partition's batches: its leader's sender, or the
    /// metadata task when it has no leader.
    pub(crate) fn wake_for(&self, part: &PartitionState) {
        let leader = part.leader();
        if leader >= 0 {
            self.wake_sender(leader);
        } else {
            self.refresh
                .topics
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(part.topic.name.clone());
            self.refresh.notify.notify_one();
        }
    }

    pub(crate) fn wake_senders(&self) {
        for s in self
            .senders
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .values()
        {
            s.notify.notify_one();
        }
    }

    pub(crate) fn wake_all(&self) {
        self.wake_senders();
        self.refresh.notify.notify_one();
    }

    /// Asks the metadata task to refresh `topic`'s leaders.
    pub(crate) fn request_refresh(&self, topic: &TopicMeta) {
        self.refresh
            .topics
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(topic.name.clone());
        self.refresh.notify.notify_one();
    }

    /// Marks a flush under way until the guard drops.
    pub(crate) fn flush_guard(&self) -> FlushGuard<'_> {
        self.flushing.fetch_add(1, Ordering::AcqRel);
        self.wake_senders();
        FlushGuard(&self.flushing)
    }

    /// Stops accepting records; pending ones are still delivered.
    pub(crate) fn begin_close(&self) {
        if !self.closing.swap(true, Ordering::AcqRel) {
            self.res.memory.close();
        }
        self.wake_all();
    }

    /// Gives up on every pending record: each fails with [`Error::Closed`].
    pub(crate) fn abort(&self) {
        self.begin_close();
        self.aborted.store(true, Ordering::Release);
        self.res.fail_all(&Error::Closed);
        let mut dropped: Vec<ProducerBatch> = Vec::new();
        for t in self.topics().values() {
            for p in t.partitions().iter() {
                dropped.extend(p.clear());
            }
        }
        drop(dropped);
        self.wake_all();
    }

    /// Whether a background task may stop: closing and nothing left to deliver. Taking
    /// the registry's write lock shuts out appends that passed their closing check.
    pub(crate) fn may_stop(&self) -> bool {
        if self.is_aborted() {
            return true;
        }
        if !self.is_closing() {
            return false;
        }
        let _gate = self.topics.write().unwrap_or_else(|e| e.into_inner());
        self.res.is_idle()
    }

    /// Idempotence: the identity batches are stamped with now, unless one must first be
    /// obtained or bumped (then `Err(())`). `Ok(None)` when not idempotent.
    pub(crate) fn drain_identity(&self) -> std::result::Result<Option<ProducerIdent>, ()> {
        if !self.config.idempotent {
            return Ok(None);
        }
        self.identity.for_stamping().map(Some).map_err(|_| ())
    }

    /// The current producer identity, if any.
    pub(crate) fn current_producer(&self) -> Option<ProducerIdent> {
        self.identity.current()
    }

    /// The producer identity's owner.
    pub(crate) fn identity(&self) -> &Identity {
        &self.identity
    }

    /// Transaction protocol v1: the number of the open transaction, which a partition
    /// must have been added to (AddPartitionsToTxn) before its batches go out.
    pub(crate) fn txn_gate(&self) -> Option<u64> {
        self.txn
            .as_ref()
            .filter(|t| !t.is_v2())
            .map(|t| t.generation())
    }

    /// Whether Produce must be v12 or later (transaction protocol v2 adds partitions to
    /// the transaction through Produce).
    pub(crate) fn needs_produce_v12(&self) -> bool {
        self.txn.as_ref().is_some_and(|t| t.is_v2())
    }

    /// Sets the producer identity (from InitProducerId or a v2 EndTxn).
    pub(crate) fn set_producer(&self, ident: ProducerIdent) {
        self.identity.set(ident);
        self.wake_senders();
    }

    /// Fails every batch not yet sent (a transaction abort); batches in flight settle
    /// from their answers.
    pub(crate) fn fail_unsent(&self, err: &Error) {
        let mut stamped = false;
        for t in self.topics().values() {
            for p in t.partitions().iter() {
                stamped |= p.fail_unsent(err);
            }
        }
        if stamped {
            if let Some(t) = self.txn.as_ref().filter(|t| !t.is_v2()) {
                t.request_bump();
            }
        }
    }

    /// Asks for an epoch bump (KIP-360) away from `from`, unless it was bumped already.
    /// A transactional producer bumps only between transactions (after the abort).
    pub(crate) fn request_bump(&self, from: ProducerIdent) {
        if let Some(t) = &self.txn {
            if !t.is_v2() {
                t.request_bump();
            }
            return;
        }
        if self.identity.request_bump(from) {
            tracing::info!(
                producer_id = from.id,
                epoch = from.epoch,
                "idempotent producer: epoch bump requested"
            );
        }
        self.wake_senders();
    }

    /// Runs InitProducerId: the first time to get a producer id, later to bump the
    /// epoch of the current one (KIP-360). Concurrent callers wait for one call.
    pub(crate) async fn init_producer(&self) -> Result<()> {
        let timeout = self.config.request_timeout;
        if self.identity.obtain(&self.client, timeout).await?.is_some() {
            self.wake_senders();
        }
        Ok(())
    }

    /// Settles a batch that failed for good. With idempotence, a batch that may be in
    /// the log fails as [`Error::PossiblyPersisted`], and a failed stamped batch leaves
    /// a sequence gap (an unresolved sequence), so the epoch is bumped first.
    pub(crate) fn fail_batch(&self, b: ProducerBatch, err: Error) {
        let err = failure_verdict(
            self.config.idempotent,
            b.maybe_written,
            b.topic(),
            b.partition(),
            err,
        );
        if let Some(s) = b.stamp {
            self.request_bump(s.producer);
        }
        if let Some(t) = &self.txn {
            t.fail(&err);
        }
        b.complete(Err(err));
    }

    /// How often a closing task checks whether it may stop.
    pub(crate) const STOP_POLL: Duration = Duration::from_millis(20);
}

/// Ends a flush's "send without linger" request when dropped.
#[derive(Debug)]
pub(crate) struct FlushGuard<'a>(&'a AtomicUsize);

impl Drop for FlushGuard<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
#[path = "unit_tests/shared_state.rs"]
mod tests;
