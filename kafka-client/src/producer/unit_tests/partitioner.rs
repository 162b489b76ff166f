//! `partitioner.rs`: Java's key hash, sticky switching, round-robin, custom choices.

use std::sync::Mutex;

use crate::producer::partitioner::{TopicPartitioner, java_murmur2};
use crate::producer::{Partitioner, Partitioning, key_partition};

fn sticky_run(
    t: &TopicPartitioner,
    how: &Partitioning,
    n: usize,
    size: usize,
    batch: usize,
    available: impl Fn(i32) -> bool + Copy,
) -> Vec<i32> {
    (0..n)
        .map(|_| t.choose(how, "t", None, None, 6, size, batch, available))
        .collect()
}

#[test]
fn murmur2_matches_the_java_client_vectors() {
    assert_eq!(java_murmur2(b"21"), -973_932_308);
    assert_eq!(java_murmur2(b"foobar"), -790_332_482);
    assert_eq!(java_murmur2(b"abc"), 479_470_107);
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
    let p = t.choose(
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
    let first = t.choose(&how, "t", None, None, 6, 10, 100, |_| true);
    for _ in 0..50 {
        t.choose(&how, "t", Some(b"k"), None, 6, 10, 100, |_| true);
    }
    assert_eq!(t.choose(&how, "t", None, None, 6, 10, 100, |_| true), first);
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
    let a = t.choose(&how, "t", Some(b"a"), None, 6, 1, 1000, |_| true);
    let b = t.choose(&how, "t", Some(b"zzz"), None, 6, 1, 1000, |_| true);
    let c = t.choose(&how, "t", Some(b"foobar"), None, 6, 1, 1000, |_| true);
    assert_eq!((a, b), (c, c));
}

#[test]
fn sticky_on_one_partition_stays_on_it() {
    let t = TopicPartitioner::new();
    for _ in 0..10 {
        assert_eq!(
            t.choose(&Partitioning::Default, "t", None, None, 1, 1000, 10, |_| {
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
    assert_eq!(t.choose(&how, "t", None, None, 6, 1, 1000, |p| p == 5), 5);
    // The topic now has 2 partitions (seen from a stale view): never 5.
    for _ in 0..10 {
        assert!(t.choose(&how, "t", None, None, 2, 1, 1000, |_| true) < 2);
    }
}

#[test]
fn round_robin_takes_the_next_partition_each_time_keys_ignored() {
    let t = TopicPartitioner::new();
    let got: Vec<i32> = (0..10)
        .map(|i| {
            let key = format!("k{i}");
            t.choose(
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
        t.choose(&Partitioning::RoundRobin, "t", None, None, 0, 1, 1, |_| {
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
    let p = t.choose(&how, "orders", Some(b"k"), Some(b"v"), 3, 1, 1, |_| true);
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
    assert!(matches!(ok("MURMUR2_RANDOM"), Some(Partitioning::Default)));
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
    assert!(ok("murmur2").is_none());
    assert!(ok("").is_none());
}
