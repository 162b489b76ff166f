//! The producer's shared state (`shared.rs`): the topic table's hash and the state the
//! handle and the senders share. A child of `unit_tests`.

use std::hash::Hasher;

use crate::producer::shared::Fnv;

fn fnv(bytes: &[u8]) -> u64 {
    let mut h = Fnv::default();
    h.write(bytes);
    h.finish()
}

#[test]
fn the_topic_hash_is_fnv_1a_64() {
    // The published FNV-1a test vectors (offset basis, "a", "foobar").
    assert_eq!(fnv(b""), 0xcbf2_9ce4_8422_2325);
    assert_eq!(fnv(b"a"), 0xaf63_dc4c_8601_ec8c);
    assert_eq!(fnv(b"foobar"), 0x8594_4171_f739_67e8);
}
