//! Choosing a record's partition: the Java client's key hash, sticky and round-robin
//! partitioning, every librdkafka partitioner (byte-compatible placement of keys), and
//! the [`Partitioner`] trait for custom choices. The hashes live in `hashes.rs`.

mod hashes;

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
///
/// Besides the Java client's choices, every librdkafka partitioner is here under its
/// librdkafka name, placing each key on the partition librdkafka places it (so a
/// service moving from rust-rdkafka keeps per-key order across the switch). Their rules
/// for a missing (null) key and an empty key are librdkafka's:
///
/// | partitioner | key | empty key | null key |
/// |---|---|---|---|
/// | [`Default`](Self::Default) (Java), [`Murmur2Random`](Self::Murmur2Random) | murmur2 | murmur2 of no bytes | sticky |
/// | [`Murmur2`](Self::Murmur2) | murmur2 | murmur2 of no bytes | murmur2 of no bytes |
/// | [`Consistent`](Self::Consistent) | CRC32 | partition 0 (CRC32 of no bytes) | partition 0 |
/// | [`ConsistentRandom`](Self::ConsistentRandom) (librdkafka's default) | CRC32 | sticky | sticky |
/// | [`Fnv1a`](Self::Fnv1a) | FNV-1a | FNV-1a of no bytes | FNV-1a of no bytes |
/// | [`Fnv1aRandom`](Self::Fnv1aRandom) | FNV-1a | FNV-1a of no bytes | sticky |
/// | [`Random`](Self::Random) | random per record | random per record | sticky |
///
/// "Sticky" is this producer's sticky partitioning (KIP-480/794): a random partition with
/// a leader until about `batch.size` bytes went there. librdkafka sticks for
/// `sticky.partitioning.linger.ms` instead; either way the placement of those records is
/// random, so only the keyed columns are reproducible across clients.
///
/// ```
/// use kafka_client::producer::Partitioning;
///
/// // Where rust-rdkafka's default partitioner (`consistent_random`) puts a key on 12
/// // partitions: CRC32 of the key, as under `consistent`.
/// let p = Partitioning::ConsistentRandom.partition_for_key(Some(b"user-42"), 12);
/// assert_eq!(p, Partitioning::Consistent.partition_for_key(Some(b"user-42"), 12));
/// assert!(p.is_some_and(|p| (0..12).contains(&p)));
/// // A null key has no fixed place under it (sticky), but has one under `consistent`.
/// assert_eq!(Partitioning::ConsistentRandom.partition_for_key(None, 12), None);
/// assert_eq!(Partitioning::Consistent.partition_for_key(None, 12), Some(0));
/// ```
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
    /// librdkafka's `random`: a keyed record to a random partition (preferring one with a
    /// leader), keyless records sticky.
    Random,
    /// librdkafka's `consistent`: `crc32(key) % partitions`; null and empty keys all go
    /// to partition 0.
    Consistent,
    /// librdkafka's default, `consistent_random`: `crc32(key) % partitions`; null and
    /// empty keys sticky.
    ConsistentRandom,
    /// librdkafka's `murmur2`: the Java hash ([`key_partition`]); null and empty keys
    /// hash as no bytes (so all go to one partition).
    Murmur2,
    /// librdkafka's `murmur2_random`: the Java hash; null keys sticky. Places records as
    /// [`Default`](Self::Default) does.
    Murmur2Random,
    /// librdkafka's `fnv1a`: 32-bit FNV-1a of the key made non-negative (as Sarama's
    /// hash partitioner), modulo the partition count; null and empty keys hash as no
    /// bytes.
    Fnv1a,
    /// librdkafka's `fnv1a_random`: as [`Fnv1a`](Self::Fnv1a) for keys (empty ones
    /// included); null keys sticky.
    Fnv1aRandom,
    /// Your own choice.
    Custom(Arc<dyn Partitioner>),
}

/// A partitioner by its librdkafka name (`consistent_random`, `murmur2`, ...), its Java
/// class name (`org.apache.kafka.clients.producer.RoundRobinPartitioner`) or `default`,
/// `sticky`, `round_robin`; case is ignored. An unknown name is a
/// [`Error::Config`](crate::Error::Config) listing the known ones.
///
/// ```
/// use kafka_client::producer::Partitioning;
///
/// let p: Partitioning = "consistent_random".parse()?;
/// assert!(matches!(p, Partitioning::ConsistentRandom));
/// assert!("crc32".parse::<Partitioning>().is_err());
/// # Ok::<(), kafka_client::Error>(())
/// ```
impl std::str::FromStr for Partitioning {
    type Err = crate::Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Partitioning::parse(s).ok_or_else(|| {
            crate::Error::Config(format!(
                "unknown partitioner {s:?}: expected {PARTITIONER_NAMES}"
            ))
        })
    }
}

/// The names [`Partitioning::parse`] accepts, for error messages.
pub(crate) const PARTITIONER_NAMES: &str = "default, murmur2_random, murmur2, consistent_random, \
     consistent, fnv1a, fnv1a_random, random, sticky, round_robin (or a Java partitioner class name)";

impl Partitioning {
    /// Parses a `partitioner` (librdkafka) or `partitioner.class` (Java) value.
    pub(crate) fn parse(value: &str) -> Option<Self> {
        let v = value.trim();
        let short = v.rsplit('.').next().unwrap_or(v);
        Some(match short.to_ascii_lowercase().as_str() {
            "default" | "defaultpartitioner" => Partitioning::Default,
            "sticky" | "uniform_sticky" | "uniformstickypartitioner" => Partitioning::UniformSticky,
            "round_robin" | "roundrobin" | "roundrobinpartitioner" => Partitioning::RoundRobin,
            "random" => Partitioning::Random,
            "consistent" => Partitioning::Consistent,
            "consistent_random" => Partitioning::ConsistentRandom,
            "murmur2" => Partitioning::Murmur2,
            "murmur2_random" => Partitioning::Murmur2Random,
            "fnv1a" => Partitioning::Fnv1a,
            "fnv1a_random" => Partitioning::Fnv1aRandom,
            _ => return None,
        })
    }

    /// The partition this partitioner gives a record with `key` (`None`: a null key) on
    /// a topic of `partitions` partitions, when that is fixed by the key; `None` when the
    /// choice is sticky, random, round-robin or custom, or `partitions` is not positive.
    pub fn partition_for_key(&self, key: Option<&[u8]>, partitions: i32) -> Option<i32> {
        if partitions <= 0 {
            return None;
        }
        let n = partitions;
        let no_bytes: &[u8] = &[];
        match (self, key) {
            (Partitioning::Default | Partitioning::Murmur2Random, Some(k)) => {
                Some(hashes::murmur2_partition(k, n))
            }
            (Partitioning::Murmur2, k) => Some(hashes::murmur2_partition(k.unwrap_or(no_bytes), n)),
            (Partitioning::Consistent, k) => {
                Some(hashes::crc32_partition(k.unwrap_or(no_bytes), n))
            }
            (Partitioning::ConsistentRandom, Some(k)) if !k.is_empty() => {
                Some(hashes::crc32_partition(k, n))
            }
            (Partitioning::Fnv1a, k) => Some(hashes::fnv1a_partition(k.unwrap_or(no_bytes), n)),
            (Partitioning::Fnv1aRandom, Some(k)) => Some(hashes::fnv1a_partition(k, n)),
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
    hashes::murmur2_partition(key, partitions)
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
        if let Some(p) = how.partition_for_key(key, partitions) {
            return p;
        }
        match how {
            Partitioning::RoundRobin => {
                let n = self.round_robin.fetch_add(1, Ordering::Relaxed);
                (n % partitions.max(1) as u32) as i32
            }
            // librdkafka's `random` with a key: a new random partition per record.
            Partitioning::Random if key.is_some() => {
                random_available(partitions.max(1) as u32, NONE, &available) as i32
            }
            Partitioning::Custom(p) => p.partition(topic, key, value, partitions),
            // Keyless (or, for consistent_random, empty-keyed) records of the hashing
            // partitioners, and every record of the sticky one.
            _ => self.sticky(partitions, size, batch_size, available),
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
}
