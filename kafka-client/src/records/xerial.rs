//! Snappy as Kafka clients write it.
//!
//! The Java producer compresses with snappy-java's `SnappyOutputStream`, whose "xerial"
//! framing is: the 8-byte magic `0x82 'S' 'N' 'A' 'P' 'P' 'Y' 0`, a big-endian i32 version
//! and compatible version (both 1), then chunks of `[i32 big-endian length][raw snappy
//! block]`. librdkafka writes the same framing when producing but also accepts, and some
//! clients write, a single raw snappy block. We write xerial and read both.

use std::io;

use super::codec::DecompressError;

const MAGIC: [u8; 8] = [0x82, b'S', b'N', b'A', b'P', b'P', b'Y', 0];
const HEADER_LEN: usize = MAGIC.len() + 8;
const VERSION: i32 = 1;
const COMPATIBLE_VERSION: i32 = 1;
/// Uncompressed bytes per chunk; snappy-java's default block size.
const CHUNK: usize = 32 * 1024;
/// No snappy block expands more than this (a 3-byte copy yields at most 64 bytes).
const MAX_EXPANSION: usize = 32;

/// Appends `input` to `out` in xerial framing.
pub(crate) fn compress(input: &[u8], out: &mut Vec<u8>) -> Result<(), snap::Error> {
    // Compressed data plus one chunk's worst-case slack for the encoder to write into.
    out.reserve(HEADER_LEN + input.len() + input.len() / 64 + CHUNK / 6 + 64);
    out.extend_from_slice(&MAGIC);
    out.extend_from_slice(&VERSION.to_be_bytes());
    out.extend_from_slice(&COMPATIBLE_VERSION.to_be_bytes());
    let mut encoder = snap::raw::Encoder::new();
    for chunk in input.chunks(CHUNK) {
        let at = out.len();
        out.resize(at + 4 + snap::raw::max_compress_len(chunk.len()), 0);
        let written = encoder.compress(chunk, &mut out[at + 4..])?;
        out.truncate(at + 4 + written);
        // `written` is below 2 * CHUNK, so it fits an i32.
        out[at..at + 4].copy_from_slice(&(written as i32).to_be_bytes());
    }
    Ok(())
}

/// Decompresses xerial-framed or raw snappy `input`, refusing to produce more than `limit` bytes.
pub(crate) fn decompress(input: &[u8], limit: usize) -> Result<Vec<u8>, DecompressError> {
    let mut decoder = snap::raw::Decoder::new();
    let mut out = Vec::new();
    if !input.starts_with(&MAGIC) {
        decode_block(&mut decoder, input, &mut out, limit)?;
        return Ok(out);
    }
    let mut rest = input
        .get(HEADER_LEN..)
        .ok_or_else(|| corrupt("xerial header is cut short"))?;
    while !rest.is_empty() {
        let (len, tail) = rest
            .split_first_chunk::<4>()
            .ok_or_else(|| corrupt("xerial chunk length is cut short"))?;
        let len = usize::try_from(i32::from_be_bytes(*len))
            .map_err(|_| corrupt("xerial chunk length is negative"))?;
        if len > tail.len() {
            return Err(corrupt("xerial chunk is longer than the data left"));
        }
        let (block, tail) = tail.split_at(len);
        decode_block(&mut decoder, block, &mut out, limit)?;
        rest = tail;
    }
    Ok(out)
}

/// Appends one raw snappy block to `out`.
fn decode_block(
    decoder: &mut snap::raw::Decoder,
    block: &[u8],
    out: &mut Vec<u8>,
    limit: usize,
) -> Result<(), DecompressError> {
    let len = snap::raw::decompress_len(block).map_err(io::Error::other)?;
    if len > block.len().saturating_mul(MAX_EXPANSION) {
        return Err(corrupt(
            "snappy block declares a length its data cannot expand to",
        ));
    }
    let start = out.len();
    if len > limit.saturating_sub(start) {
        return Err(DecompressError::TooLarge);
    }
    out.resize(start + len, 0);
    let written = decoder
        .decompress(block, &mut out[start..])
        .map_err(io::Error::other)?;
    out.truncate(start + written);
    Ok(())
}

fn corrupt(what: &'static str) -> DecompressError {
    DecompressError::Corrupt(io::Error::new(io::ErrorKind::InvalidData, what))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(len: usize) -> Vec<u8> {
        (0..len)
            .map(|i| (i % 251) as u8 ^ (i / 977) as u8)
            .collect()
    }

    #[test]
    fn xerial_round_trip_spans_chunks() {
        for len in [0, 1, CHUNK - 1, CHUNK, CHUNK * 3 + 17] {
            let data = sample(len);
            let mut out = Vec::new();
            compress(&data, &mut out).unwrap();
            assert!(out.starts_with(&MAGIC));
            assert_eq!(decompress(&out, usize::MAX).unwrap(), data, "len {len}");
        }
    }

    #[test]
    fn raw_block_is_accepted() {
        let data = sample(100_000);
        let raw = snap::raw::Encoder::new().compress_vec(&data).unwrap();
        assert_eq!(decompress(&raw, usize::MAX).unwrap(), data);
    }

    #[test]
    fn limit_and_corruption_are_reported() {
        let data = vec![0u8; 200_000];
        let mut out = Vec::new();
        compress(&data, &mut out).unwrap();
        assert!(matches!(
            decompress(&out, 100_000),
            Err(DecompressError::TooLarge)
        ));

        // A raw block claiming 4 GiB from a few bytes.
        let liar = [0xff, 0xff, 0xff, 0xff, 0x0f, 0x00];
        assert!(matches!(
            decompress(&liar, usize::MAX),
            Err(DecompressError::Corrupt(_))
        ));

        // Chunk length past the end, negative chunk length, short header.
        let mut bad = out[..HEADER_LEN].to_vec();
        bad.extend_from_slice(&100i32.to_be_bytes());
        bad.extend_from_slice(&[1, 2, 3]);
        assert!(matches!(
            decompress(&bad, usize::MAX),
            Err(DecompressError::Corrupt(_))
        ));
        let mut neg = out[..HEADER_LEN].to_vec();
        neg.extend_from_slice(&(-1i32).to_be_bytes());
        assert!(matches!(
            decompress(&neg, usize::MAX),
            Err(DecompressError::Corrupt(_))
        ));
        assert!(matches!(
            decompress(&MAGIC, usize::MAX),
            Err(DecompressError::Corrupt(_))
        ));
    }
}
