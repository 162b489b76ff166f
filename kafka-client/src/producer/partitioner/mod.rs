//! Choosing a record's partition: the Java client's key hash, sticky and round-robin
//! partitioning, every librdkafka partitioner (byte-compatible placement of keys), and
//! the [`Partitioner`] trait for custom choices. The hashes live in `hashes.rs`, KIP-794's
//! load weighting in `load.rs`.

mod hashes;
mod load;

use std::fmt;
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use tokio::time::Instant;

pub(crate) use load::Adaptive;
use load::LoadTable;

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
    /// chosen among partitions with a leader, weighted towards short queues (KIP-794's
    /// adaptive partitioning, `partitioner.adaptive.partitioning.enable`).
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

/// How keyless records stick: the settings of the producer that apply per record.
#[derive(Clone, Copy, Debug)]
pub(crate) struct StickyRules {
    /// Bytes that go to one sticky partition before the next is chosen (`batch.size`).
    pub batch_size: usize,
    /// KIP-794's load weighting and availability timeout.
    pub adaptive: Adaptive,
    /// `partitioner.ignore.keys`: keyed records are placed as keyless ones (built-in
    /// partitioners only).
    pub ignore_keys: bool,
}

/// Per-topic partitioner state: the sticky partition, the round-robin counter and the
/// adaptive partitioner's load table.
#[derive(Debug)]
pub(crate) struct TopicPartitioner {
    sticky: AtomicU32,
    sticky_bytes: AtomicUsize,
    round_robin: AtomicU32,
    table: Mutex<Option<Arc<LoadTable>>>,
}

impl TopicPartitioner {
    pub(crate) fn new() -> Self {
        TopicPartitioner {
            sticky: AtomicU32::new(NONE),
            sticky_bytes: AtomicUsize::new(0),
            round_robin: AtomicU32::new(fastrand::u32(..)),
            table: Mutex::new(None),
        }
    }

    /// The partition for a record of about `size` bytes. `load(p, now)` is `None` when
    /// partition `p` should get no new sticky batch (no leader; with the adaptive
    /// partitioner, also a broker that stopped taking batches), else its number of
    /// waiting batches. Custom partitioners may return anything: the caller checks the
    /// range.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn choose(
        &self,
        how: &Partitioning,
        topic: &str,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
        partitions: i32,
        size: usize,
        rules: &StickyRules,
        load: impl Fn(i32, Instant) -> Option<u32>,
    ) -> i32 {
        let builtin = !matches!(how, Partitioning::Custom(_));
        let key = if rules.ignore_keys && builtin {
            None
        } else {
            key
        };
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
                let now = Instant::now();
                random_available(partitions.max(1) as u32, NONE, &|p| load(p, now).is_some()) as i32
            }
            Partitioning::Custom(p) => p.partition(topic, key, value, partitions),
            // Keyless (or, for consistent_random, empty-keyed) records of the hashing
            // partitioners, and every record of the sticky one.
            _ => self.sticky(partitions, size, rules, load),
        }
    }

    /// The next sticky partition after `avoid`: drawn from the load table with the
    /// adaptive partitioner, else at random among partitions with a leader.
    fn next_sticky(
        &self,
        n: u32,
        avoid: u32,
        adaptive: &Adaptive,
        load: &impl Fn(i32, Instant) -> Option<u32>,
    ) -> u32 {
        let now = Instant::now();
        if !adaptive.enabled || n <= 1 {
            return random_available(n, avoid, &|p| load(p, now).is_some());
        }
        let table = {
            let mut slot = self.table.lock().unwrap_or_else(|e| e.into_inner());
            match slot.as_ref() {
                Some(t) if t.is_fresh(now, n as i32) => t.clone(),
                _ => {
                    let t = Arc::new(LoadTable::build(now, n as i32, |p| load(p, now)));
                    *slot = Some(t.clone());
                    t
                }
            }
        };
        table
            .draw(avoid, |bound| fastrand::u64(..bound.max(1)))
            // Nothing available: any partition but the current one, as without weights.
            .unwrap_or_else(|| random_available(n, avoid, &|_| true))
    }

    fn sticky(
        &self,
        partitions: i32,
        size: usize,
        rules: &StickyRules,
        load: impl Fn(i32, Instant) -> Option<u32>,
    ) -> i32 {
        let n = partitions.max(1) as u32;
        let mut current = self.sticky.load(Ordering::Relaxed);
        if current == NONE || current >= n {
            let pick = self.next_sticky(n, NONE, &rules.adaptive, &load);
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
        if produced >= rules.batch_size {
            // This record still goes to `current`; the next ones move on.
            self.sticky_bytes.store(0, Ordering::Relaxed);
            let next = self.next_sticky(n, current, &rules.adaptive, &load);
            let _ =
                self.sticky
                    .compare_exchange(current, next, Ordering::Relaxed, Ordering::Relaxed);
        }
        current as i32
    }
}

/// A random partition in `0..n` other than `avoid` (when n > 1), preferring ones with a
/// leader.
fn random_available(n: u32, avoid: u32, available: &dyn Fn(i32) -> bool) -> u32 {
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

    fn rules(batch_size: usize, adaptive: bool) -> StickyRules {
        StickyRules {
            batch_size,
            adaptive: Adaptive {
                enabled: adaptive,
                availability_timeout: None,
            },
            ignore_keys: false,
        }
    }

    #[tokio::test(start_paused = true)]
    async fn sticky_moves_after_batch_size_and_prefers_leaders() {
        for adaptive in [false, true] {
            let t = TopicPartitioner::new();
            let how = Partitioning::Default;
            let r = rules(1000, adaptive);
            let only_even = |p: i32, _| (p % 2 == 0).then_some(0);
            let mut seen = Vec::new();
            for _ in 0..40 {
                seen.push(t.choose(&how, "t", None, None, 6, 100, &r, only_even));
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
                t.choose(&how, "t", Some(b"foobar"), None, 6, 1, &r, only_even),
                key_partition(b"foobar", 6)
            );
        }
    }

    #[tokio::test(start_paused = true)]
    async fn adaptive_sticky_shuns_long_queues() {
        // Partitions 0 and 1 have 20 batches waiting (a slow broker), 2..6 none.
        let queues = |p: i32, _| Some(if p < 2 { 20 } else { 0 });
        let count_slow = |adaptive: bool| {
            let t = TopicPartitioner::new();
            let r = rules(1, adaptive);
            let mut slow = 0;
            for i in 0..3000 {
                // The load table is reused for 1 ms: let it be rebuilt now and then.
                if i % 100 == 0 {
                    *t.table.lock().unwrap() = None;
                }
                let p = t.choose(&Partitioning::Default, "t", None, None, 6, 1, &r, queues);
                slow += usize::from(p < 2);
            }
            slow
        };
        // Weights 1, 1, 21, 21, 21, 21: about 1.2% of batches go to the slow broker;
        // uniform draws send about a third there.
        let adaptive = count_slow(true);
        let uniform = count_slow(false);
        assert!(
            adaptive < 150,
            "adaptive sent {adaptive} of 3000 to the slow broker"
        );
        assert!(
            uniform > 700,
            "uniform sent {uniform} of 3000 to the slow broker"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn ignore_keys_places_keyed_records_as_keyless() {
        let t = TopicPartitioner::new();
        let mut r = rules(1_000_000, true);
        r.ignore_keys = true;
        let all = |_, _| Some(0);
        let first = t.choose(
            &Partitioning::Default,
            "t",
            Some(b"a"),
            None,
            12,
            1,
            &r,
            all,
        );
        for key in [b"b", b"c", b"d", b"e"] {
            let p = t.choose(&Partitioning::Default, "t", Some(key), None, 12, 1, &r, all);
            assert_eq!(
                p, first,
                "keys ignored: every record sticks to one partition"
            );
        }
    }

    #[test]
    fn round_robin_cycles() {
        let t = TopicPartitioner::new();
        let r = rules(10, false);
        let got: Vec<i32> = (0..6)
            .map(|_| {
                t.choose(
                    &Partitioning::RoundRobin,
                    "t",
                    Some(b"k"),
                    None,
                    3,
                    1,
                    &r,
                    |_, _| Some(0),
                )
            })
            .collect();
        let mut sorted = got[..3].to_vec();
        sorted.sort();
        assert_eq!(sorted, [0, 1, 2]);
        assert_eq!(got[..3], got[3..]);
    }
}
