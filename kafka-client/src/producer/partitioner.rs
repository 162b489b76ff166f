//! Choosing a record's partition: the Java client's key hash, sticky and round-robin
//! partitioning, and the [`Partitioner`] trait for custom choices.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};

/// A custom partitioner: chooses a record's partition. Plug one in with
/// [`Partitioning::Custom`].
///
/// ```
/// use std::sync::Arc;
/// use kafka_client::producer::{Partitioner, Partitioning};
///
/// /// Sends every record whose key starts with `vip-` to partition 0.
/// #[derive(Debug)]
/// struct Vip;
///
/// impl Partitioner for Vip {
///     fn partition(&self, _topic: &str, key: Option<&[u8]>, _value: Option<&[u8]>, n: i32) -> i32 {
///         match key {
///             Some(k) if k.starts_with(b"vip-") => 0,
///             Some(k) => kafka_client::producer::key_partition(k, n),
///             None => n - 1,
///         }
///     }
/// }
/// let partitioning = Partitioning::Custom(Arc::new(Vip));
/// ```
pub trait Partitioner: Send + Sync + fmt::Debug {
    /// The partition in `0..partitions` for a record. A value outside that range fails
    /// the record with [`Error::UnknownTopicOrPartition`](crate::Error::UnknownTopicOrPartition).
    fn partition(
        &self,
        topic: &str,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
        partitions: i32,
    ) -> i32;
}

/// How records without an explicit partition are spread (`partitioner`).
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub enum Partitioning {
    /// The Java client's default (and librdkafka's `murmur2_random`): a keyed record goes
    /// to `murmur2(key) % partitions` ([`key_partition`]); keyless records stick to one
    /// partition until about `batch.size` bytes went there, then move to another one
    /// chosen at random among partitions with a leader (KIP-794, without its adaptive
    /// load weighting).
    #[default]
    Default,
    /// Sticky for every record, keys ignored (Java's `UniformStickyPartitioner`).
    UniformSticky,
    /// Each record to the next partition in turn, keys ignored (Java's
    /// `RoundRobinPartitioner`).
    RoundRobin,
    /// Your own choice.
    Custom(Arc<dyn Partitioner>),
}

impl Partitioning {
    /// Parses a `partitioner` (librdkafka) or `partitioner.class` (Java) value.
    pub(crate) fn parse(value: &str) -> Option<Self> {
        let v = value.trim();
        let short = v.rsplit('.').next().unwrap_or(v);
        match short.to_ascii_lowercase().as_str() {
            "default" | "murmur2_random" | "defaultpartitioner" => Some(Partitioning::Default),
            "sticky" | "uniform_sticky" | "uniformstickypartitioner" => {
                Some(Partitioning::UniformSticky)
            }
            "round_robin" | "roundrobin" | "roundrobinpartitioner" => {
                Some(Partitioning::RoundRobin)
            }
            _ => None,
        }
    }
}

/// The Java client's partition for a key: `(murmur2(key) & 0x7fffffff) % partitions`,
/// with murmur2 seeded `0x9747b28c` (`Utils.murmur2`). Also librdkafka's `murmur2` and
/// `murmur2_random` for keyed records. Returns 0 when `partitions` is not positive.
///
/// ```
/// assert_eq!(kafka_client::producer::key_partition(b"foobar", 1000), (-790332482i32 & 0x7fffffff) % 1000);
/// ```
pub fn key_partition(key: &[u8], partitions: i32) -> i32 {
    if partitions <= 0 {
        return 0;
    }
    (java_murmur2(key) & 0x7fff_ffff) % partitions
}

/// Java's `Utils.murmur2` as a signed value.
pub(crate) fn java_murmur2(key: &[u8]) -> i32 {
    murmur2::murmur2(key, murmur2::KAFKA_SEED) as i32
}

const NONE: u32 = u32::MAX;

/// Per-topic partitioner state: the sticky partition and the round-robin counter.
#[derive(Debug)]
pub(crate) struct TopicPartitioner {
    sticky: AtomicU32,
    sticky_bytes: AtomicUsize,
    round_robin: AtomicU32,
}

impl TopicPartitioner {
    pub(crate) fn new() -> Self {
        TopicPartitioner {
            sticky: AtomicU32::new(NONE),
            sticky_bytes: AtomicUsize::new(0),
            round_robin: AtomicU32::new(fastrand::u32(..)),
        }
    }

    /// The partition for a record of about `size` bytes. `available(p)` says whether
    /// partition `p` has a leader now. Custom partitioners may return anything: the caller
    /// checks the range.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn choose(
        &self,
        how: &Partitioning,
        topic: &str,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
        partitions: i32,
        size: usize,
        batch_size: usize,
        available: impl Fn(i32) -> bool,
    ) -> i32 {
        match (how, key) {
            (Partitioning::Default, Some(k)) => key_partition(k, partitions),
            (Partitioning::Default | Partitioning::UniformSticky, _) => {
                self.sticky(partitions, size, batch_size, available)
            }
            (Partitioning::RoundRobin, _) => {
                let n = self.round_robin.fetch_add(1, Ordering::Relaxed);
                (n % partitions.max(1) as u32) as i32
            }
            (Partitioning::Custom(p), _) => p.partition(topic, key, value, partitions),
        }
    }

    fn sticky(
        &self,
        partitions: i32,
        size: usize,
        batch_size: usize,
        available: impl Fn(i32) -> bool,
    ) -> i32 {
        let n = partitions.max(1) as u32;
        let mut current = self.sticky.load(Ordering::Relaxed);
        if current == NONE || current >= n {
            let pick = random_available(n, NONE, &available);
            current = match self.sticky.compare_exchange(
                current,
                pick,
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => pick,
                Err(other) if other < n => other,
                Err(_) => pick,
            };
        }
        let produced = self.sticky_bytes.fetch_add(size, Ordering::Relaxed) + size;
        if produced >= batch_size {
            // This record still goes to `current`; the next ones move on.
            self.sticky_bytes.store(0, Ordering::Relaxed);
            let next = random_available(n, current, &available);
            let _ =
                self.sticky
                    .compare_exchange(current, next, Ordering::Relaxed, Ordering::Relaxed);
        }
        current as i32
    }
}

/// A random partition in `0..n` other than `avoid` (when n > 1), preferring ones with a
/// leader.
fn random_available(n: u32, avoid: u32, available: &impl Fn(i32) -> bool) -> u32 {
    if n <= 1 {
        return 0;
    }
    let start = fastrand::u32(..n);
    let candidate = |i: u32| (start + i) % n;
    (0..n)
        .map(candidate)
        .find(|&p| p != avoid && available(p as i32))
        .or_else(|| (0..n).map(candidate).find(|&p| p != avoid))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn java_vectors() {
        // From the Java client's UtilsTest.testMurmur2.
        assert_eq!(java_murmur2(b"21"), -973_932_308);
        assert_eq!(java_murmur2(b"foobar"), -790_332_482);
        assert_eq!(java_murmur2(b"abc"), 479_470_107);
        assert_eq!(key_partition(b"21", 7), (-973_932_308i32 & 0x7fff_ffff) % 7);
        assert_eq!(key_partition(b"x", 0), 0);
    }

    #[test]
    fn sticky_moves_after_batch_size_and_prefers_leaders() {
        let t = TopicPartitioner::new();
        let how = Partitioning::Default;
        let only_even = |p: i32| p % 2 == 0;
        let mut seen = Vec::new();
        for _ in 0..40 {
            seen.push(t.choose(&how, "t", None, None, 6, 100, 1000, only_even));
        }
        assert!(seen.iter().all(|p| p % 2 == 0), "{seen:?}");
        // 10 records of 100 bytes fill a 1000-byte batch: then the partition changes.
        for chunk in seen.chunks(10) {
            assert!(chunk.iter().all(|p| *p == chunk[0]), "{seen:?}");
        }
        assert!(
            seen.chunks(10)
                .zip(seen.chunks(10).skip(1))
                .all(|(a, b)| a[0] != b[0])
        );
        // Keys are hashed.
        assert_eq!(
            t.choose(&how, "t", Some(b"foobar"), None, 6, 1, 1000, only_even),
            key_partition(b"foobar", 6)
        );
    }

    #[test]
    fn round_robin_cycles() {
        let t = TopicPartitioner::new();
        let got: Vec<i32> = (0..6)
            .map(|_| {
                t.choose(
                    &Partitioning::RoundRobin,
                    "t",
                    Some(b"k"),
                    None,
                    3,
                    1,
                    10,
                    |_| true,
                )
            })
            .collect();
        let mut sorted = got[..3].to_vec();
        sorted.sort();
        assert_eq!(sorted, [0, 1, 2]);
        assert_eq!(got[..3], got[3..]);
    }

    #[test]
    fn parses_names() {
        assert!(matches!(
            Partitioning::parse("murmur2_random"),
            Some(Partitioning::Default)
        ));
        assert!(matches!(
            Partitioning::parse("org.apache.kafka.clients.producer.RoundRobinPartitioner"),
            Some(Partitioning::RoundRobin)
        ));
        assert!(Partitioning::parse("fnv1a").is_none());
    }
}
