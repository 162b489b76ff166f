//! [`RebalanceListener`]: async callbacks around partition movement.

use crate::consumer::Consumer;
use crate::types::{BoxFuture, TopicPartition};

/// Called as the group moves partitions. Callbacks run at the application's next
/// `poll` (as in the Java client), so they never overlap the processing of a batch;
/// each gets a handle to the consumer (to commit, seek or read positions) and returns a
/// future that `poll` lets finish before handing out records of the partitions concerned.
///
/// Order within one rebalance: `revoked` (or `lost`) before `assigned`. With eager
/// strategies (`range`, `roundrobin`) every partition is revoked before the group
/// rebalances; with `cooperative-sticky` only partitions that move are.
///
/// ```
/// use kafka_client::consumer::{BoxFuture, Consumer, RebalanceListener, TopicPartition};
///
/// struct Log;
/// impl RebalanceListener for Log {
///     fn assigned(&self, _c: Consumer, parts: Vec<TopicPartition>) -> BoxFuture<'static, ()> {
///         Box::pin(async move { println!("assigned {parts:?}") })
///     }
/// }
/// ```
pub trait RebalanceListener: Send + Sync + 'static {
    /// Partitions now assigned to this member (possibly none, after a rebalance that
    /// kept everything in place). Their records flow once the future completes.
    fn assigned(
        &self,
        consumer: Consumer,
        partitions: Vec<TopicPartition>,
    ) -> BoxFuture<'static, ()>;

    /// Partitions taken away in an orderly rebalance. With auto-commit on, the consumer
    /// has committed what `poll` returned for them before this is called; the
    /// consumer's positions are still readable here.
    fn revoked(
        &self,
        consumer: Consumer,
        partitions: Vec<TopicPartition>,
    ) -> BoxFuture<'static, ()> {
        let _ = (consumer, partitions);
        Box::pin(async {})
    }

    /// Partitions lost without an orderly handover (the session expired, the member was
    /// fenced, or it left after exceeding `max.poll.interval`): another member may own
    /// them already, so committing is pointless. Defaults to `revoked`.
    fn lost(&self, consumer: Consumer, partitions: Vec<TopicPartition>) -> BoxFuture<'static, ()> {
        self.revoked(consumer, partitions)
    }
}
