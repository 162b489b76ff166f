//! `partitioner/`: Java's key hash, sticky switching, round-robin, custom choices, and
//! librdkafka's partitioners with their null-key and empty-key rules.

use std::sync::Mutex;

use crate::producer::partitioner::{Adaptive, StickyRules, TopicPartitioner};
use crate::producer::{Partitioner, Partitioning, key_partition};

/// `choose` with uniform sticky draws (no KIP-794 weighting) and an availability test:
/// the placement rules these tests pin down. The weighting is tested in
/// `partitioner/load.rs` and `partitioner/mod.rs`.
trait Pick {
    #[allow(clippy::too_many_arguments)]
    fn pick(
        &self,
        how: &Partitioning,
        topic: &str,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
        partitions: i32,
        size: usize,
        batch_size: usize,
        available: impl Fn(i32) -> bool,
    ) -> i32;
}

impl Pick for TopicPartitioner {
    fn pick(
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
        let rules = StickyRules {
            batch_size,
            adaptive: Adaptive {
                enabled: false,
                availability_timeout: None,
            },
            ignore_keys: false,
        };
        self.choose(how, topic, key, value, partitions, size, &rules, |p, _| {
            available(p).then_some(0)
        })
    }
}

fn sticky_run(
    t: &TopicPartitioner,
    how: &Partitioning,
    n: usize,
    size: usize,
    batch: usize,
    available: impl Fn(i32) -> bool + Copy,
) -> Vec<i32> {
    (0..n)
        .map(|_| t.pick(how, "t", None, None, 6, size, batch, available))
        .collect()
}

#[test]
fn key_partition_masks_the_sign_bit_then_takes_the_modulo() {
    // -790332482 & 0x7fffffff = 1357151166
    assert_eq!(key_partition(b"foobar", 1000), 1_357_151_166 % 1000);
    assert_eq!(
        key_partition(b"21", 10),
        (-973_932_308i32 & 0x7fff_ffff) % 10
    );
    assert_eq!(key_partition(b"abc", 100), 479_470_107 % 100);
    assert_eq!(key_partition(b"abc", 1), 0);
}

#[test]
fn key_partition_of_no_partitions_is_zero() {
    assert_eq!(key_partition(b"abc", 0), 0);
    assert_eq!(key_partition(b"abc", -4), 0);
}

#[test]
fn keyed_records_hash_even_to_partitions_without_leader() {
    let t = TopicPartitioner::new();
    let p = t.pick(
        &Partitioning::Default,
        "t",
        Some(b"foobar"),
        None,
        6,
        10,
        100,
        |_| false,
    );
    assert_eq!(p, key_partition(b"foobar", 6));
}

#[test]
fn keyed_records_do_not_move_the_sticky_partition() {
    let t = TopicPartitioner::new();
    let how = Partitioning::Default;
    let first = t.pick(&how, "t", None, None, 6, 10, 100, |_| true);
    for _ in 0..50 {
        t.pick(&how, "t", Some(b"k"), None, 6, 10, 100, |_| true);
    }
    assert_eq!(t.pick(&how, "t", None, None, 6, 10, 100, |_| true), first);
}

#[test]
fn sticky_switches_after_batch_size_bytes_the_crossing_record_included() {
    let t = TopicPartitioner::new();
    // 300-byte records, 1000-byte batches: the 4th record crosses, the 5th moves on.
    let got = sticky_run(&t, &Partitioning::Default, 8, 300, 1000, |_| true);
    assert!(got[..4].iter().all(|p| *p == got[0]), "{got:?}");
    assert_ne!(got[4], got[3], "{got:?}");
    assert!(got[4..8].iter().all(|p| *p == got[4]), "{got:?}");
}

#[test]
fn sticky_switches_at_exactly_batch_size() {
    let t = TopicPartitioner::new();
    let got = sticky_run(&t, &Partitioning::UniformSticky, 4, 500, 1000, |_| true);
    assert_eq!(got[0], got[1]);
    assert_ne!(got[1], got[2], "1000 bytes reached: {got:?}");
    assert_eq!(got[2], got[3]);
}

#[test]
fn sticky_moves_only_to_partitions_with_a_leader() {
    let t = TopicPartitioner::new();
    let available = |p: i32| p == 1 || p == 4;
    let got = sticky_run(&t, &Partitioning::Default, 40, 100, 100, available);
    assert!(got.iter().all(|p| *p == 1 || *p == 4), "{got:?}");
    // Every record fills a batch: it alternates between the two.
    assert!(got.windows(2).all(|w| w[0] != w[1]), "{got:?}");
}

#[test]
fn uniform_sticky_ignores_keys() {
    let t = TopicPartitioner::new();
    let how = Partitioning::UniformSticky;
    let a = t.pick(&how, "t", Some(b"a"), None, 6, 1, 1000, |_| true);
    let b = t.pick(&how, "t", Some(b"zzz"), None, 6, 1, 1000, |_| true);
    let c = t.pick(&how, "t", Some(b"foobar"), None, 6, 1, 1000, |_| true);
    assert_eq!((a, b), (c, c));
}

#[test]
fn sticky_on_one_partition_stays_on_it() {
    let t = TopicPartitioner::new();
    for _ in 0..10 {
        assert_eq!(
            t.pick(&Partitioning::Default, "t", None, None, 1, 1000, 10, |_| {
                true
            }),
            0
        );
    }
}

#[test]
fn a_sticky_partition_beyond_the_count_is_chosen_again() {
    let t = TopicPartitioner::new();
    let how = Partitioning::Default;
    // Stick to partition 5 of 6 (the only one with a leader).
    assert_eq!(t.pick(&how, "t", None, None, 6, 1, 1000, |p| p == 5), 5);
    // The topic now has 2 partitions (seen from a stale view): never 5.
    for _ in 0..10 {
        assert!(t.pick(&how, "t", None, None, 2, 1, 1000, |_| true) < 2);
    }
}

#[test]
fn round_robin_takes_the_next_partition_each_time_keys_ignored() {
    let t = TopicPartitioner::new();
    let got: Vec<i32> = (0..10)
        .map(|i| {
            let key = format!("k{i}");
            t.pick(
                &Partitioning::RoundRobin,
                "t",
                Some(key.as_bytes()),
                None,
                4,
                1,
                1,
                |_| false,
            )
        })
        .collect();
    assert!(got.windows(2).all(|w| w[1] == (w[0] + 1) % 4), "{got:?}");
}

#[test]
fn round_robin_over_no_partitions_is_zero() {
    let t = TopicPartitioner::new();
    assert_eq!(
        t.pick(&Partitioning::RoundRobin, "t", None, None, 0, 1, 1, |_| {
            true
        }),
        0
    );
}

/// One call: topic, key, value, partition count.
type Call = (String, Option<Vec<u8>>, Option<Vec<u8>>, i32);

#[derive(Debug, Default)]
struct Recording(Mutex<Vec<Call>>);

impl Partitioner for Recording {
    fn partition(&self, topic: &str, key: Option<&[u8]>, value: Option<&[u8]>, n: i32) -> i32 {
        self.0.lock().unwrap().push((
            topic.to_string(),
            key.map(<[u8]>::to_vec),
            value.map(<[u8]>::to_vec),
            n,
        ));
        n + 7 // out of range on purpose: the caller checks
    }
}

#[test]
fn a_custom_partitioner_sees_the_record_and_its_answer_is_passed_through() {
    let rec = std::sync::Arc::new(Recording::default());
    let how = Partitioning::Custom(rec.clone());
    let t = TopicPartitioner::new();
    let p = t.pick(&how, "orders", Some(b"k"), Some(b"v"), 3, 1, 1, |_| true);
    assert_eq!(p, 10);
    let calls = rec.0.lock().unwrap();
    assert_eq!(
        calls.as_slice(),
        [(
            "orders".to_string(),
            Some(b"k".to_vec()),
            Some(b"v".to_vec()),
            3
        )]
    );
}

#[test]
fn partitioner_names_parse_from_java_and_librdkafka_spellings() {
    let ok = |s: &str| Partitioning::parse(s);
    assert!(matches!(ok(" default "), Some(Partitioning::Default)));
    assert!(matches!(
        ok("MURMUR2_RANDOM"),
        Some(Partitioning::Murmur2Random)
    ));
    assert!(matches!(
        ok("org.apache.kafka.clients.producer.internals.DefaultPartitioner"),
        Some(Partitioning::Default)
    ));
    assert!(matches!(ok("sticky"), Some(Partitioning::UniformSticky)));
    assert!(matches!(
        ok("org.apache.kafka.clients.producer.UniformStickyPartitioner"),
        Some(Partitioning::UniformSticky)
    ));
    assert!(matches!(ok("round_robin"), Some(Partitioning::RoundRobin)));
    for (name, want) in [
        ("random", "Random"),
        ("consistent", "Consistent"),
        ("Consistent_Random", "ConsistentRandom"),
        ("murmur2", "Murmur2"),
        ("fnv1a", "Fnv1a"),
        (" fnv1a_random ", "Fnv1aRandom"),
    ] {
        let got = ok(name).map(|p| format!("{p:?}"));
        assert_eq!(got.as_deref(), Some(want), "{name}");
    }
    assert!(ok("crc32").is_none());
    assert!(ok("").is_none());
}

/// The fixed vectors of each librdkafka partitioner (CRC32, murmur2, FNV-1a values from
/// the reference implementations), and librdkafka's null-key and empty-key rules.
#[test]
fn librdkafka_partitioners_place_keys_as_librdkafka() {
    use Partitioning::*;
    let crc = |k: &[u8], n: u32| Some((crc32fast::hash(k) % n) as i32);
    // crc32("123456789") is the standard check value.
    assert_eq!(
        Consistent.partition_for_key(Some(b"123456789"), 1000),
        Some((0xcbf4_3926u32 % 1000) as i32)
    );
    assert_eq!(
        ConsistentRandom.partition_for_key(Some(b"user-7"), 12),
        crc(b"user-7", 12)
    );
    // FNV-1a vectors from librdkafka's rdfnv1a.c unit test.
    assert_eq!(
        Fnv1a.partition_for_key(Some(b"kafka"), 100),
        Some(0x0d33_c4e1 % 100)
    );
    assert_eq!(
        Fnv1aRandom.partition_for_key(Some(b"giberish123456789"), 7),
        Some(0x77a5_8295 % 7)
    );
    // murmur2 vectors from the Java client's UtilsTest.
    for how in [Default, Murmur2, Murmur2Random] {
        assert_eq!(
            how.partition_for_key(Some(b"21"), 7),
            Some((-973_932_308i32 & 0x7fff_ffff) % 7)
        );
    }
    // Null keys: hashed as no bytes by the three non-random ones, sticky by the rest.
    assert_eq!(Consistent.partition_for_key(None, 12), Some(0));
    assert_eq!(
        Murmur2.partition_for_key(None, 12),
        Some(key_partition(b"", 12))
    );
    assert_eq!(Fnv1a.partition_for_key(None, 100), Some(0x7ee3_623b % 100));
    for how in [
        Default,
        Murmur2Random,
        ConsistentRandom,
        Fnv1aRandom,
        Random,
        UniformSticky,
        RoundRobin,
    ] {
        assert_eq!(how.partition_for_key(None, 12), None, "{how:?}");
    }
    // Empty keys: only consistent_random treats them as missing.
    assert_eq!(ConsistentRandom.partition_for_key(Some(b""), 12), None);
    assert_eq!(Consistent.partition_for_key(Some(b""), 12), Some(0));
    assert_eq!(
        Murmur2Random.partition_for_key(Some(b""), 12),
        Some(key_partition(b"", 12))
    );
    assert_eq!(
        Fnv1aRandom.partition_for_key(Some(b""), 100),
        Some(0x7ee3_623b % 100)
    );
    // Random ignores keys; no partition count, no partition.
    assert_eq!(Random.partition_for_key(Some(b"k"), 12), None);
    assert_eq!(Consistent.partition_for_key(Some(b"k"), 0), None);
}

#[test]
fn librdkafka_partitioners_without_a_fixed_place_stick_or_pick_at_random() {
    let t = TopicPartitioner::new();
    // Null keys under consistent_random stick for a batch, preferring partitions with a leader.
    let odd = |p: i32| p % 2 == 1;
    let run: Vec<i32> = (0..10)
        .map(|_| {
            t.pick(
                &Partitioning::ConsistentRandom,
                "t",
                None,
                None,
                6,
                10,
                1000,
                odd,
            )
        })
        .collect();
    assert!(run.iter().all(|p| *p == run[0] && p % 2 == 1), "{run:?}");
    // Empty keys too.
    let p = t.pick(
        &Partitioning::ConsistentRandom,
        "t",
        Some(b""),
        None,
        6,
        10,
        1000,
        odd,
    );
    assert_eq!(p, run[0]);
    // `random` with a key: each record anew, among partitions with a leader.
    let r = TopicPartitioner::new();
    let picks: std::collections::BTreeSet<i32> = (0..200)
        .map(|_| {
            r.pick(
                &Partitioning::Random,
                "t",
                Some(b"same"),
                None,
                6,
                10,
                1000,
                odd,
            )
        })
        .collect();
    assert_eq!(
        picks,
        [1, 3, 5].into(),
        "random spreads one key over the available partitions"
    );
    // Fixed places hold even for partitions without a leader (as for the Java hash).
    let none = |_: i32| false;
    let p = t.pick(&Partitioning::Fnv1a, "t", None, None, 100, 1, 1, none);
    assert_eq!(p, 0x7ee3_623b % 100);
}
