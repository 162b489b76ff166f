//! The key hashes of the Java client and librdkafka, and each partitioner's partition for
//! a key, as those clients compute them byte for byte.

/// Java's `Utils.murmur2` (seed `0x9747b28c`) as a signed value; librdkafka's
/// `rd_murmur2` gives the same bits.
pub(crate) fn java_murmur2(key: &[u8]) -> i32 {
    murmur2::murmur2(key, murmur2::KAFKA_SEED) as i32
}

/// `(murmur2(key) & 0x7fffffff) % partitions`: the Java client's `Utils.toPositive`
/// then modulo; librdkafka's `murmur2` partitioners compute the same.
pub(crate) fn murmur2_partition(key: &[u8], partitions: i32) -> i32 {
    (java_murmur2(key) & 0x7fff_ffff) % partitions
}

/// librdkafka's `consistent` partition: the CRC32 (IEEE, as zlib's `crc32`) of the key,
/// taken unsigned, modulo the partition count.
pub(crate) fn crc32_partition(key: &[u8], partitions: i32) -> i32 {
    (crc32fast::hash(key) % partitions as u32) as i32
}

/// librdkafka's FNV-1a (32-bit, as Sarama's `NewHashPartitioner`): the hash is taken
/// as a signed value and made non-negative by negation; `i32::MIN` stays as it is and
/// reads as 2^31 unsigned.
pub(crate) fn fnv1a(key: &[u8]) -> u32 {
    const OFFSET: u32 = 0x811c_9dc5;
    const PRIME: u32 = 0x0100_0193;
    let h = key
        .iter()
        .fold(OFFSET, |h, &b| (h ^ u32::from(b)).wrapping_mul(PRIME)) as i32;
    h.wrapping_abs() as u32
}

/// librdkafka's `fnv1a` partition: the hash above, unsigned, modulo the partition count.
pub(crate) fn fnv1a_partition(key: &[u8], partitions: i32) -> i32 {
    (fnv1a(key) % partitions as u32) as i32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn murmur2_matches_the_java_vectors() {
        // From the Java client's UtilsTest.testMurmur2.
        assert_eq!(java_murmur2(b"21"), -973_932_308);
        assert_eq!(java_murmur2(b"foobar"), -790_332_482);
        assert_eq!(java_murmur2(b"a-little-bit-long-string"), -985_981_536);
        assert_eq!(java_murmur2(b"a-little-bit-longer-string"), -1_486_304_829);
        assert_eq!(
            java_murmur2(b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8"),
            -58_897_971
        );
        assert_eq!(java_murmur2(b"abc"), 479_470_107);
        assert_eq!(
            murmur2_partition(b"21", 7),
            (-973_932_308i32 & 0x7fff_ffff) % 7
        );
    }

    #[test]
    fn crc32_is_zlibs() {
        // The standard CRC-32 check value, and the empty input.
        assert_eq!(crc32fast::hash(b"123456789"), 0xcbf4_3926);
        assert_eq!(crc32_partition(b"", 7), 0);
        assert_eq!(
            crc32_partition(b"123456789", 1000),
            (0xcbf4_3926u32 % 1000) as i32
        );
    }

    #[test]
    fn fnv1a_matches_librdkafkas_vectors() {
        // librdkafka's unittest_fnv1a expectations (which match Sarama's partitions).
        let unaligned: &[u8] = b"PreAmbleWillBeRemoved,ThePrePartThatIs";
        let cases: [(&[u8], u32); 11] = [
            (b"kafka", 0x0d33_c4e1),
            (b"giberish123456789", 0x77a5_8295),
            (b"1234", 0x023b_dd03),
            (b"234", 0x2dea_3cd2),
            (b"34", 0x740f_a83e),
            (b"4", 0x310c_a263),
            (unaligned, 0x65cb_d69c),
            (&unaligned[1..], 0x6e49_c79a),
            (&unaligned[2..], 0x69ee_d356),
            (&unaligned[3..], 0x6abc_c023),
            (b"", 0x7ee3_623b),
        ];
        for (key, want) in cases {
            assert_eq!(fnv1a(key), want, "{:?}", String::from_utf8_lossy(key));
        }
        assert_eq!(fnv1a_partition(b"", 100), 0x7ee3_623b % 100);
    }
}
