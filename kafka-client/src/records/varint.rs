//! Kafka's zig-zag varints (`ByteUtils.writeVarint` / `writeVarlong`): protobuf-style
//! base-128 groups, least significant first, of the zig-zag-mapped signed value.

/// Why a varint could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum VarintError {
    /// The input ended inside the varint.
    Truncated,
    /// More groups than the type holds (over 5 bytes for i32, 10 for i64) or
    /// high bits set that do not fit.
    Overflow,
}

/// Zig-zag encoded size in bytes of an `i32` varint.
#[inline]
pub(crate) fn varint_len(value: i32) -> usize {
    uvarint_len(u64::from(zigzag32(value)))
}

/// Zig-zag encoded size in bytes of an `i64` varlong.
#[inline]
pub(crate) fn varlong_len(value: i64) -> usize {
    uvarint_len(zigzag64(value))
}

#[inline]
fn uvarint_len(value: u64) -> usize {
    let bits = 64 - (value | 1).leading_zeros() as usize;
    bits.div_ceil(7)
}

#[inline]
fn zigzag32(value: i32) -> u32 {
    ((value << 1) ^ (value >> 31)) as u32
}

#[inline]
fn zigzag64(value: i64) -> u64 {
    ((value << 1) ^ (value >> 63)) as u64
}

/// Appends `value` as a zig-zag varint.
#[inline]
pub(crate) fn put_varint(buf: &mut Vec<u8>, value: i32) {
    put_uvarint(buf, u64::from(zigzag32(value)));
}

/// Appends `value` as a zig-zag varlong.
#[cfg(test)]
#[inline]
pub(crate) fn put_varlong(buf: &mut Vec<u8>, value: i64) {
    put_uvarint(buf, zigzag64(value));
}

/// Writes `value` as a zig-zag varint at the start of `out` (at least 5 bytes); returns
/// the bytes written.
#[inline]
pub(crate) fn write_varint(out: &mut [u8], value: i32) -> usize {
    write_uvarint(out, u64::from(zigzag32(value)))
}

/// Writes `value` as a zig-zag varlong at the start of `out` (at least 10 bytes);
/// returns the bytes written.
#[inline]
pub(crate) fn write_varlong(out: &mut [u8], value: i64) -> usize {
    write_uvarint(out, zigzag64(value))
}

#[inline]
fn write_uvarint(out: &mut [u8], mut value: u64) -> usize {
    let mut n = 0;
    while value >= 0x80 {
        out[n] = (value as u8) | 0x80;
        value >>= 7;
        n += 1;
    }
    out[n] = value as u8;
    n + 1
}

#[inline]
fn put_uvarint(buf: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        buf.push((value as u8) | 0x80);
        value >>= 7;
    }
    buf.push(value as u8);
}

/// Reads an unsigned base-128 value of at most `max_bits` bits from `buf[*pos..]`,
/// advancing `pos` past it.
#[inline]
fn read_uvarint(buf: &[u8], pos: &mut usize, max_bits: u32) -> Result<u64, VarintError> {
    let mut value: u64 = 0;
    let mut shift: u32 = 0;
    loop {
        let Some(&byte) = buf.get(*pos) else {
            return Err(VarintError::Truncated);
        };
        *pos += 1;
        let group = u64::from(byte & 0x7f);
        // The last group may only carry the bits that are left.
        let room = max_bits - shift;
        if room < 7 && group >> room != 0 {
            return Err(VarintError::Overflow);
        }
        value |= group << shift;
        if byte & 0x80 == 0 {
            return Ok(value);
        }
        shift += 7;
        if shift >= max_bits {
            return Err(VarintError::Overflow);
        }
    }
}

/// Reads a zig-zag `i32` varint from `buf[*pos..]`, advancing `pos`.
#[inline]
pub(crate) fn read_varint(buf: &[u8], pos: &mut usize) -> Result<i32, VarintError> {
    // Single-byte fast path: most lengths, deltas and counts are small.
    if let Some(&byte) = buf.get(*pos) {
        if byte < 0x80 {
            *pos += 1;
            let raw = u32::from(byte);
            return Ok(((raw >> 1) as i32) ^ -((raw & 1) as i32));
        }
    }
    let raw = read_uvarint(buf, pos, 32)? as u32;
    Ok(((raw >> 1) as i32) ^ -((raw & 1) as i32))
}

/// Reads a zig-zag `i64` varlong from `buf[*pos..]`, advancing `pos`.
#[inline]
pub(crate) fn read_varlong(buf: &[u8], pos: &mut usize) -> Result<i64, VarintError> {
    let raw = read_uvarint(buf, pos, 64)?;
    Ok(((raw >> 1) as i64) ^ -((raw & 1) as i64))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enc32(v: i32) -> Vec<u8> {
        let mut out = Vec::new();
        put_varint(&mut out, v);
        out
    }

    fn enc64(v: i64) -> Vec<u8> {
        let mut out = Vec::new();
        put_varlong(&mut out, v);
        out
    }

    #[test]
    fn known_encodings_match_kafka() {
        // Values from Kafka's ByteUtilsTest.
        assert_eq!(enc32(0), [0x00]);
        assert_eq!(enc32(-1), [0x01]);
        assert_eq!(enc32(1), [0x02]);
        assert_eq!(enc32(63), [0x7e]);
        assert_eq!(enc32(-64), [0x7f]);
        assert_eq!(enc32(64), [0x80, 0x01]);
        assert_eq!(enc32(i32::MAX), [0xfe, 0xff, 0xff, 0xff, 0x0f]);
        assert_eq!(enc32(i32::MIN), [0xff, 0xff, 0xff, 0xff, 0x0f]);
        assert_eq!(
            enc64(i64::MIN),
            [0xff; 9].iter().copied().chain([0x01]).collect::<Vec<_>>()
        );
    }

    #[test]
    fn writing_into_a_slice_matches_appending() {
        let samples32 = [
            0,
            1,
            -1,
            63,
            -64,
            64,
            8191,
            -8192,
            1 << 20,
            i32::MAX,
            i32::MIN,
        ];
        for v in samples32 {
            let mut out = [0u8; 5];
            let n = write_varint(&mut out, v);
            assert_eq!(&out[..n], enc32(v).as_slice(), "{v}");
            assert_eq!(n, varint_len(v));
        }
        let samples64 = [0, 1, -1, 1 << 35, -(1 << 35), i64::MAX, i64::MIN];
        for v in samples64 {
            let mut out = [0u8; 10];
            let n = write_varlong(&mut out, v);
            assert_eq!(&out[..n], enc64(v).as_slice(), "{v}");
            assert_eq!(n, varlong_len(v));
        }
    }

    #[test]
    fn round_trips_and_lengths_agree() {
        let samples32 = [
            0,
            1,
            -1,
            63,
            -64,
            64,
            -65,
            8191,
            8192,
            1 << 20,
            i32::MAX,
            i32::MIN,
        ];
        for v in samples32 {
            let bytes = enc32(v);
            assert_eq!(bytes.len(), varint_len(v), "{v}");
            let mut pos = 0;
            assert_eq!(read_varint(&bytes, &mut pos), Ok(v));
            assert_eq!(pos, bytes.len());
        }
        let samples64 = [
            0,
            1,
            -1,
            1 << 40,
            -(1 << 40),
            i64::MAX,
            i64::MIN,
            1_700_000_000_000,
        ];
        for v in samples64 {
            let bytes = enc64(v);
            assert_eq!(bytes.len(), varlong_len(v), "{v}");
            let mut pos = 0;
            assert_eq!(read_varlong(&bytes, &mut pos), Ok(v));
            assert_eq!(pos, bytes.len());
        }
    }

    #[test]
    fn overflow_and_truncation_are_errors() {
        let mut pos = 0;
        assert_eq!(
            read_varint(&[0x80, 0x80], &mut pos),
            Err(VarintError::Truncated)
        );
        let mut pos = 0;
        assert_eq!(
            read_varint(&[0xff, 0xff, 0xff, 0xff, 0xff, 0x01], &mut pos),
            Err(VarintError::Overflow)
        );
        // Fifth byte with bits above 32.
        let mut pos = 0;
        assert_eq!(
            read_varint(&[0xff, 0xff, 0xff, 0xff, 0x1f], &mut pos),
            Err(VarintError::Overflow)
        );
        let mut pos = 0;
        assert_eq!(
            read_varlong(&[0xff; 11], &mut pos),
            Err(VarintError::Overflow)
        );
        let mut pos = 0;
        assert_eq!(read_varint(&[], &mut pos), Err(VarintError::Truncated));
    }
}
