//! Compressing and decompressing a batch's records section, all in pure Rust:
//! gzip via flate2 (miniz_oxide), snappy via snap (xerial framing, see `xerial.rs`),
//! LZ4 frames via lz4_flex, zstd via ruzstd.
//!
//! Decompression is bounded: output beyond the caller's limit is never produced, so a
//! small batch cannot expand into gigabytes (a compression bomb).

use std::io::{self, Read, Write};

use bytes::Bytes;

use super::{Compression, RecordsError, xerial};

/// LZ4 block size. Kafka's Java reader accepts 64 KiB to 4 MiB blocks and needs them
/// independent; 64 KiB is what the Java producer writes.
const LZ4_BLOCK: lz4_flex::frame::BlockSize = lz4_flex::frame::BlockSize::Max64KB;

/// Room for incompressible input plus framing, so compressing never regrows the output.
/// (Snappy's own worst case is larger; its encoder reserves the difference.)
pub(crate) fn compress_bound(len: usize) -> usize {
    len + len / 64 + 64
}

/// Appends the compressed form of `input` to `out`.
pub(crate) fn compress(
    codec: Compression,
    input: &[u8],
    out: &mut Vec<u8>,
) -> Result<(), RecordsError> {
    let failed = |source: io::Error| RecordsError::Compress { codec, source };
    out.reserve(compress_bound(input.len()));
    match codec {
        Compression::None => out.extend_from_slice(input),
        Compression::Gzip => {
            let mut encoder =
                flate2::write::GzEncoder::new(&mut *out, flate2::Compression::default());
            encoder.write_all(input).map_err(failed)?;
            encoder.finish().map_err(failed)?;
        }
        Compression::Snappy => {
            xerial::compress(input, out).map_err(|e| failed(io::Error::other(e)))?;
        }
        Compression::Lz4 => {
            let info = lz4_flex::frame::FrameInfo::new()
                .block_size(LZ4_BLOCK)
                .block_mode(lz4_flex::frame::BlockMode::Independent);
            let mut encoder = lz4_flex::frame::FrameEncoder::with_frame_info(info, &mut *out);
            encoder.write_all(input).map_err(failed)?;
            encoder.finish().map_err(|e| failed(io::Error::other(e)))?;
        }
        Compression::Zstd => {
            // ruzstd's encoder: pure Rust, "Fastest" is roughly zstd level 1.
            ruzstd::encoding::compress(
                input,
                &mut *out,
                ruzstd::encoding::CompressionLevel::Fastest,
            );
        }
    }
    Ok(())
}

/// Why decompression stopped.
#[derive(Debug)]
pub(crate) enum DecompressError {
    /// The output would pass the limit.
    TooLarge,
    /// The input is not valid for the codec.
    Corrupt(io::Error),
}

impl From<io::Error> for DecompressError {
    fn from(e: io::Error) -> Self {
        DecompressError::Corrupt(e)
    }
}

/// Decompresses a records section, producing at most `limit` bytes.
pub(crate) fn decompress(
    codec: Compression,
    input: &[u8],
    limit: usize,
    base_offset: i64,
) -> Result<Bytes, RecordsError> {
    let result = match codec {
        Compression::None if input.len() > limit => Err(DecompressError::TooLarge),
        Compression::None => Ok(input.to_vec()),
        // A batch with no records may carry no compressed bytes at all.
        _ if input.is_empty() => Ok(Vec::new()),
        Compression::Gzip => read_bounded(flate2::read::MultiGzDecoder::new(input), input, limit),
        Compression::Snappy => xerial::decompress(input, limit),
        Compression::Lz4 => read_bounded(lz4_flex::frame::FrameDecoder::new(input), input, limit),
        Compression::Zstd => zstd_decompress(input, limit),
    };
    match result {
        Ok(out) => Ok(Bytes::from(out)),
        Err(DecompressError::TooLarge) => Err(RecordsError::DecompressedTooLarge {
            base_offset,
            codec,
            limit,
        }),
        Err(DecompressError::Corrupt(source)) => Err(RecordsError::Decompress {
            base_offset,
            codec,
            source,
        }),
    }
}

/// First guess at the output size: a few times the input, never above the limit.
fn initial_capacity(input_len: usize, limit: usize) -> usize {
    input_len.saturating_mul(4).min(limit)
}

/// Reads `reader` to its end into a new buffer, failing once more than `limit` bytes come out.
fn read_bounded(reader: impl Read, input: &[u8], limit: usize) -> Result<Vec<u8>, DecompressError> {
    let mut out = Vec::with_capacity(initial_capacity(input.len(), limit));
    read_bounded_into(reader, &mut out, limit)?;
    Ok(out)
}

fn read_bounded_into(
    reader: impl Read,
    out: &mut Vec<u8>,
    limit: usize,
) -> Result<(), DecompressError> {
    let room = limit.saturating_sub(out.len()) as u64;
    reader.take(room.saturating_add(1)).read_to_end(out)?;
    if out.len() > limit {
        return Err(DecompressError::TooLarge);
    }
    Ok(())
}

/// Magic numbers 0x184D2A50..=0x184D2A5F start skippable frames.
fn skippable_frame_len(input: &[u8]) -> Option<usize> {
    let magic = u32::from_le_bytes(*input.first_chunk::<4>()?);
    if magic & 0xFFFF_FFF0 != 0x184D_2A50 {
        return None;
    }
    let len = u32::from_le_bytes(*input.get(4..8)?.first_chunk::<4>()?);
    Some(8usize.saturating_add(len as usize))
}

/// Decodes one or more concatenated zstd frames, skipping skippable frames and checking
/// content checksums when present.
fn zstd_decompress(input: &[u8], limit: usize) -> Result<Vec<u8>, DecompressError> {
    let mut out = Vec::with_capacity(initial_capacity(input.len(), limit));
    let mut rest = input;
    while !rest.is_empty() {
        if let Some(skip) = skippable_frame_len(rest) {
            rest = rest.get(skip..).ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    "zstd skippable frame is cut short",
                )
            })?;
            continue;
        }
        let mut decoder =
            ruzstd::decoding::StreamingDecoder::new(&mut rest).map_err(io::Error::other)?;
        read_bounded_into(&mut decoder, &mut out, limit)?;
        let frame = &decoder.decoder;
        if !frame.is_finished() {
            return Err(
                io::Error::new(io::ErrorKind::UnexpectedEof, "zstd frame is cut short").into(),
            );
        }
        if let (Some(stored), Some(computed)) = (
            frame.get_checksum_from_data(),
            frame.get_calculated_checksum(),
        ) {
            if stored != computed {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "zstd content checksum mismatch",
                )
                .into());
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(len: usize) -> Vec<u8> {
        (0..len)
            .map(|i| ((i * 7) % 253) as u8 ^ (i / 1013) as u8)
            .collect()
    }

    #[test]
    fn every_codec_round_trips() {
        for codec in Compression::ALL {
            for len in [0, 1, 100, 70_000, 300_000] {
                let data = sample(len);
                let mut out = Vec::new();
                compress(codec, &data, &mut out).unwrap();
                let back = decompress(codec, &out, usize::MAX, 0).unwrap();
                assert_eq!(back, data, "{codec} len {len}");
            }
        }
    }

    #[test]
    fn limit_is_enforced_for_every_codec() {
        let data = vec![7u8; 1 << 20];
        for codec in Compression::ALL {
            let mut out = Vec::new();
            compress(codec, &data, &mut out).unwrap();
            let err = decompress(codec, &out, 1000, 42).unwrap_err();
            assert!(
                matches!(
                    err,
                    RecordsError::DecompressedTooLarge {
                        base_offset: 42,
                        limit: 1000,
                        ..
                    }
                ),
                "{codec}: {err}"
            );
            // Exactly at the limit is fine.
            assert_eq!(
                decompress(codec, &out, data.len(), 0).unwrap().len(),
                data.len()
            );
        }
    }

    #[test]
    fn garbage_is_a_decompress_error() {
        for codec in [
            Compression::Gzip,
            Compression::Snappy,
            Compression::Lz4,
            Compression::Zstd,
        ] {
            let err = decompress(codec, b"definitely not compressed data", 1 << 20, 7).unwrap_err();
            assert!(
                matches!(
                    err,
                    RecordsError::Decompress { base_offset: 7, codec: c, .. } if c == codec
                ),
                "{codec}: {err}"
            );
        }
    }

    #[test]
    fn concatenated_and_skippable_zstd_frames() {
        let mut out = Vec::new();
        compress(Compression::Zstd, b"hello ", &mut out).unwrap();
        out.extend_from_slice(&0x184D_2A53u32.to_le_bytes());
        out.extend_from_slice(&3u32.to_le_bytes());
        out.extend_from_slice(b"xyz");
        compress(Compression::Zstd, b"world", &mut out).unwrap();
        let back = decompress(Compression::Zstd, &out, 1 << 20, 0).unwrap();
        assert_eq!(&back[..], b"hello world");
        // A truncated frame is an error, not silently short output.
        let cut = &out[..out.len() - 3];
        assert!(decompress(Compression::Zstd, cut, 1 << 20, 0).is_err());
    }
}
