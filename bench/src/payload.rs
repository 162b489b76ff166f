//! Pre-generated record values, the same bytes for every client.
//!
//! A pool of distinct values, each of exactly `size` bytes of text made of random words
//! from a small dictionary: realistic-ish and moderately compressible (lz4 finds the
//! repeated words inside a value, and repeats across values further apart than its
//! 64 KiB window are rare because the pool is about 1 MB). Record `i` takes value
//! `i % pool.len()`. Java's `ProducerPerformance` gets the same pool as a payload file
//! (one value a line; it picks values at random).

use bytes::Bytes;

const WORDS: &[&str] = &[
    "order", "user", "click", "view", "cart", "item", "price", "amount", "session", "page",
    "event", "id", "time", "status", "ok", "error", "region", "eu", "us", "device", "mobile",
    "desktop", "search", "query", "result", "payment", "card", "ship", "address", "city",
    "country", "total", "count", "value", "true", "false", "null", "name", "email", "product",
    "category", "books", "music", "games", "home", "garden", "sports", "red", "green", "blue",
];

/// Bytes of pool per value size: about 1 MB.
const POOL_BYTES: usize = 1 << 20;

/// A deterministic xorshift generator (no dependency, same pool in every process).
#[derive(Debug)]
pub struct XorShift(u64);

impl XorShift {
    /// A generator from `seed` (non-zero).
    pub fn new(seed: u64) -> Self {
        XorShift(seed | 1)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
}

/// One value of exactly `size` bytes, printable ASCII without newlines.
fn value(rng: &mut XorShift, size: usize) -> Vec<u8> {
    let mut v = Vec::with_capacity(size + 16);
    while v.len() < size {
        let r = rng.next_u64();
        let word = WORDS[(r % WORDS.len() as u64) as usize];
        v.extend_from_slice(word.as_bytes());
        // Numbers make values distinct, as ids and amounts do.
        match (r >> 32) % 4 {
            0 => v.extend_from_slice(format!("={} ", (r >> 40) % 100_000).as_bytes()),
            1 => v.push(b','),
            _ => v.push(b' '),
        }
    }
    v.truncate(size);
    v
}

/// The pool of values of `size` bytes (at least 16 values).
pub fn pool(size: usize) -> Vec<Bytes> {
    let n = (POOL_BYTES / size.max(1)).max(16);
    let mut rng = XorShift::new(0x9e37_79b9_7f4a_7c15 ^ size as u64);
    (0..n).map(|_| Bytes::from(value(&mut rng, size))).collect()
}

/// The pool as a payload file for `ProducerPerformance` (`\n`-separated).
pub fn payload_file_text(size: usize) -> Vec<u8> {
    let values = pool(size);
    let mut out = Vec::with_capacity(values.len() * (size + 1));
    for (i, v) in values.iter().enumerate() {
        if i > 0 {
            out.push(b'\n');
        }
        out.extend_from_slice(v);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_have_the_exact_size_and_no_newline() {
        for size in [100, 1024] {
            let p = pool(size);
            assert!(p.len() >= 16);
            assert!(p.iter().all(|v| v.len() == size && !v.contains(&b'\n')));
            assert_eq!(p, pool(size), "deterministic");
        }
    }
}
