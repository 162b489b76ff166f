//! The wire primitives the generated messages use. Every read checks the bytes left
//! first, and every count or length is bounded by them before anything is allocated:
//! hostile or truncated input is an error naming the field, never a panic or a huge
//! allocation.

use std::collections::BTreeMap;
use std::ops::RangeBounds;

use anyhow::{Result, anyhow, bail};
use bytes::{BufMut, Bytes};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::protocol::buf::ByteBuf;
use uuid::Uuid;

/// Whether `T` is one of the generated messages (a type under `protocol_gen`). Their
/// decoders bound every count and length themselves, so the connection skips
/// `net/shape`'s pre-decode walk for them (which has no layout for their newer
/// versions). A unit test below pins what `type_name` looks like.
pub(crate) fn is_generated<T>() -> bool {
    let here = module_path!();
    let parent = here.strip_suffix("::codec").unwrap_or(here);
    std::any::type_name::<T>()
        .strip_prefix(parent)
        .is_some_and(|rest| rest.starts_with("::"))
}

/// Fails unless `min <= version <= max`.
pub(crate) fn check_version(version: i16, min: i16, max: i16, what: &str) -> Result<()> {
    if version < min || version > max {
        bail!("{what} has no version {version} (valid {min}..={max})");
    }
    Ok(())
}

/// The error for a field set to a non-default value in a version that lacks it.
pub(crate) fn absent(what: &str, version: i16) -> anyhow::Error {
    anyhow!("{what} is not in version {version} but is set to a non-default value")
}

/// Fails when a null is written or read where the version does not allow one.
pub(crate) fn null_allowed(nullable: bool, what: &str) -> Result<()> {
    if nullable {
        Ok(())
    } else {
        bail!("{what} is null but not nullable in this version")
    }
}

fn need<B: ByteBuf>(buf: &B, n: usize, what: &str) -> Result<()> {
    if buf.remaining() < n {
        bail!(
            "{what}: truncated, needs {n} bytes, {} left",
            buf.remaining()
        );
    }
    Ok(())
}

macro_rules! getters {
    ($($name:ident: $ty:ty = $get:ident, $n:expr;)*) => {$(
        /// Reads one fixed-width value.
        pub(crate) fn $name<B: ByteBuf>(buf: &mut B, what: &str) -> Result<$ty> {
            need(buf, $n, what)?;
            Ok(buf.$get())
        }
    )*};
}

getters! {
    get_i8: i8 = get_i8, 1;
    get_i16: i16 = get_i16, 2;
    get_u16: u16 = get_u16, 2;
    get_i32: i32 = get_i32, 4;
    get_u32: u32 = get_u32, 4;
    get_i64: i64 = get_i64, 8;
    get_f64: f64 = get_f64, 8;
}

/// Reads a boolean (any non-zero byte is true, as Kafka reads it).
pub(crate) fn get_bool<B: ByteBuf>(buf: &mut B, what: &str) -> Result<bool> {
    Ok(get_i8(buf, what)? != 0)
}

/// Reads a UUID (16 bytes).
pub(crate) fn get_uuid<B: ByteBuf>(buf: &mut B, what: &str) -> Result<Uuid> {
    need(buf, 16, what)?;
    let mut b = [0u8; 16];
    buf.copy_to_slice(&mut b);
    Ok(Uuid::from_bytes(b))
}

/// Reads an unsigned varint of at most 5 bytes.
pub(crate) fn get_uvarint<B: ByteBuf>(buf: &mut B, what: &str) -> Result<u32> {
    let mut value: u32 = 0;
    for i in 0..5 {
        let b = get_i8(buf, what)? as u8;
        if i == 4 && b > 0x0f {
            bail!("{what}: unsigned varint longer than 32 bits");
        }
        value |= u32::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            return Ok(value);
        }
    }
    bail!("{what}: unsigned varint longer than 5 bytes")
}

/// Writes an unsigned varint.
pub(crate) fn put_uvarint<B: BufMut>(buf: &mut B, mut v: u32) {
    while v >= 0x80 {
        buf.put_u8((v as u8) | 0x80);
        v >>= 7;
    }
    buf.put_u8(v as u8);
}

/// Encoded size of an unsigned varint.
pub(crate) fn uvarint_size(v: u32) -> usize {
    match v {
        0..=0x7f => 1,
        0x80..=0x3fff => 2,
        0x4000..=0x1f_ffff => 3,
        0x20_0000..=0x0fff_ffff => 4,
        _ => 5,
    }
}

/// Reads a length prefix: `None` for null (-1), an error for other negatives or a length
/// larger than `(bytes left) / min_unit`.
fn get_prefix<B: ByteBuf>(
    buf: &mut B,
    compact: bool,
    int16: bool,
    min_unit: usize,
    what: &str,
) -> Result<Option<usize>> {
    let len: i64 = if compact {
        i64::from(get_uvarint(buf, what)?) - 1
    } else if int16 {
        i64::from(get_i16(buf, what)?)
    } else {
        i64::from(get_i32(buf, what)?)
    };
    if len == -1 {
        return Ok(None);
    }
    if len < -1 {
        bail!("{what}: negative length {len}");
    }
    let len = len as usize;
    let left = buf.remaining();
    if len > left / min_unit.max(1) {
        bail!("{what}: length {len} exceeds the {left} bytes left");
    }
    Ok(Some(len))
}

fn take<B: ByteBuf>(buf: &mut B, len: usize, what: &str) -> Result<Bytes> {
    need(buf, len, what)?;
    buf.try_get_bytes(len).map_err(|e| anyhow!("{what}: {e}"))
}

fn to_str(b: Bytes, what: &str) -> Result<StrBytes> {
    StrBytes::from_utf8(b).map_err(|e| anyhow!("{what}: not UTF-8: {e}"))
}

/// Reads a non-null string.
pub(crate) fn get_str<B: ByteBuf>(buf: &mut B, compact: bool, what: &str) -> Result<StrBytes> {
    match get_prefix(buf, compact, true, 1, what)? {
        Some(len) => to_str(take(buf, len, what)?, what),
        None => bail!("{what} is null but not nullable"),
    }
}

/// Reads a string that may be null where `nullable`.
pub(crate) fn get_opt_str<B: ByteBuf>(
    buf: &mut B,
    compact: bool,
    nullable: bool,
    what: &str,
) -> Result<Option<StrBytes>> {
    match get_prefix(buf, compact, true, 1, what)? {
        Some(len) => Ok(Some(to_str(take(buf, len, what)?, what)?)),
        None => null_allowed(nullable, what).map(|()| None),
    }
}

/// Reads non-null bytes.
pub(crate) fn get_bytes<B: ByteBuf>(buf: &mut B, compact: bool, what: &str) -> Result<Bytes> {
    match get_prefix(buf, compact, false, 1, what)? {
        Some(len) => take(buf, len, what),
        None => bail!("{what} is null but not nullable"),
    }
}

/// Reads bytes that may be null where `nullable`.
pub(crate) fn get_opt_bytes<B: ByteBuf>(
    buf: &mut B,
    compact: bool,
    nullable: bool,
    what: &str,
) -> Result<Option<Bytes>> {
    match get_prefix(buf, compact, false, 1, what)? {
        Some(len) => Ok(Some(take(buf, len, what)?)),
        None => null_allowed(nullable, what).map(|()| None),
    }
}

/// Reads a non-null array count, bounded by the bytes left / `min_elem`.
pub(crate) fn get_len<B: ByteBuf>(
    buf: &mut B,
    compact: bool,
    min_elem: usize,
    what: &str,
) -> Result<usize> {
    match get_prefix(buf, compact, false, min_elem, what)? {
        Some(n) => Ok(n),
        None => bail!("{what} is null but not nullable"),
    }
}

/// Reads an array count that may be null where `nullable`.
pub(crate) fn get_opt_len<B: ByteBuf>(
    buf: &mut B,
    compact: bool,
    nullable: bool,
    min_elem: usize,
    what: &str,
) -> Result<Option<usize>> {
    match get_prefix(buf, compact, false, min_elem, what)? {
        Some(n) => Ok(Some(n)),
        None => null_allowed(nullable, what).map(|()| None),
    }
}

/// Reads one tagged field's tag and its content (bounded by the bytes left).
pub(crate) fn get_tagged<B: ByteBuf>(buf: &mut B, what: &str) -> Result<(i32, Bytes)> {
    let tag = get_uvarint(buf, what)?;
    let tag = i32::try_from(tag).map_err(|_| anyhow!("{what}: tag {tag} out of range"))?;
    let len = get_uvarint(buf, what)? as usize;
    Ok((tag, take(buf, len, what)?))
}

/// Fails unless a known tagged field's content was read exactly.
pub(crate) fn tagged_done(rest: &Bytes, what: &str) -> Result<()> {
    if !rest.is_empty() {
        bail!("{what}: {} bytes left over in the tagged field", rest.len());
    }
    Ok(())
}

fn put_prefix<B: BufMut>(
    buf: &mut B,
    compact: bool,
    int16: bool,
    len: Option<usize>,
    what: &str,
) -> Result<()> {
    if compact {
        let v = match len {
            None => 0,
            Some(n) => u32::try_from(n)
                .ok()
                .and_then(|n| n.checked_add(1))
                .ok_or_else(|| anyhow!("{what}: length {n} too long"))?,
        };
        put_uvarint(buf, v);
    } else if int16 {
        let v = match len {
            None => -1,
            Some(n) => i16::try_from(n).map_err(|_| anyhow!("{what}: length {n} too long"))?,
        };
        buf.put_i16(v);
    } else {
        let v = match len {
            None => -1,
            Some(n) => i32::try_from(n).map_err(|_| anyhow!("{what}: length {n} too long"))?,
        };
        buf.put_i32(v);
    }
    Ok(())
}

/// Writes a non-null string.
pub(crate) fn put_str<B: BufMut>(
    buf: &mut B,
    compact: bool,
    s: &StrBytes,
    what: &str,
) -> Result<()> {
    put_prefix(buf, compact, true, Some(s.len()), what)?;
    buf.put_slice(s.as_bytes());
    Ok(())
}

/// Writes a string that may be null where `nullable`.
pub(crate) fn put_opt_str<B: BufMut>(
    buf: &mut B,
    compact: bool,
    nullable: bool,
    s: Option<&StrBytes>,
    what: &str,
) -> Result<()> {
    match s {
        Some(s) => put_str(buf, compact, s, what),
        None => {
            null_allowed(nullable, what)?;
            put_prefix(buf, compact, true, None, what)
        }
    }
}

/// Writes non-null bytes.
pub(crate) fn put_bytes<B: BufMut>(
    buf: &mut B,
    compact: bool,
    b: &Bytes,
    what: &str,
) -> Result<()> {
    put_prefix(buf, compact, false, Some(b.len()), what)?;
    buf.put_slice(b);
    Ok(())
}

/// Writes bytes that may be null where `nullable`.
pub(crate) fn put_opt_bytes<B: BufMut>(
    buf: &mut B,
    compact: bool,
    nullable: bool,
    b: Option<&Bytes>,
    what: &str,
) -> Result<()> {
    match b {
        Some(b) => put_bytes(buf, compact, b, what),
        None => {
            null_allowed(nullable, what)?;
            put_prefix(buf, compact, false, None, what)
        }
    }
}

/// Writes record data: `None` is null where the version allows it, else empty.
pub(crate) fn put_records<B: BufMut>(
    buf: &mut B,
    compact: bool,
    nullable: bool,
    b: Option<&Bytes>,
    what: &str,
) -> Result<()> {
    match b {
        Some(b) => put_bytes(buf, compact, b, what),
        None if nullable => put_prefix(buf, compact, false, None, what),
        None => put_prefix(buf, compact, false, Some(0), what),
    }
}

/// Writes an array count.
pub(crate) fn put_len<B: BufMut>(buf: &mut B, compact: bool, n: usize, what: &str) -> Result<()> {
    put_prefix(buf, compact, false, Some(n), what)
}

/// Writes a null array.
pub(crate) fn put_null_len<B: BufMut>(
    buf: &mut B,
    compact: bool,
    nullable: bool,
    what: &str,
) -> Result<()> {
    null_allowed(nullable, what)?;
    put_prefix(buf, compact, false, None, what)
}

/// Size of an array count or bytes length prefix.
pub(crate) fn len_size(compact: bool, n: usize) -> usize {
    if compact {
        uvarint_size(u32::try_from(n.saturating_add(1)).unwrap_or(u32::MAX))
    } else {
        4
    }
}

/// Size of a string.
pub(crate) fn str_size(compact: bool, s: &StrBytes) -> usize {
    if compact {
        len_size(true, s.len()) + s.len()
    } else {
        2 + s.len()
    }
}

/// Size of a string that may be null.
pub(crate) fn opt_str_size(compact: bool, s: Option<&StrBytes>) -> usize {
    match s {
        Some(s) => str_size(compact, s),
        None if compact => 1,
        None => 2,
    }
}

/// Size of bytes of length `n`.
pub(crate) fn bytes_size(compact: bool, n: usize) -> usize {
    len_size(compact, n) + n
}

/// Size of bytes that may be null (null and empty take the same room).
pub(crate) fn opt_bytes_size(compact: bool, n: Option<usize>) -> usize {
    bytes_size(compact, n.unwrap_or(0))
}

/// The number of tagged fields, as written.
pub(crate) fn tag_count(n: usize, what: &str) -> Result<u32> {
    u32::try_from(n).map_err(|_| anyhow!("{what}: {n} tagged fields"))
}

/// A tagged field's length, as written.
pub(crate) fn tag_len(n: usize, what: &str) -> Result<u32> {
    u32::try_from(n).map_err(|_| anyhow!("{what}: tagged field of {n} bytes"))
}

/// Writes the unknown tagged fields whose tags are in `range`.
pub(crate) fn put_unknown_tags<B: BufMut>(
    buf: &mut B,
    fields: &BTreeMap<i32, Bytes>,
    range: impl RangeBounds<i32>,
) -> Result<()> {
    for (&tag, value) in fields.range(range) {
        let tag = u32::try_from(tag).map_err(|_| anyhow!("negative tag {tag}"))?;
        put_uvarint(buf, tag);
        put_uvarint(buf, tag_len(value.len(), "unknown tagged field")?);
        buf.put_slice(value);
    }
    Ok(())
}

/// Size of the unknown tagged fields.
pub(crate) fn unknown_tags_size(fields: &BTreeMap<i32, Bytes>) -> usize {
    fields
        .iter()
        .map(|(&tag, v)| {
            uvarint_size(tag as u32)
                + uvarint_size(u32::try_from(v.len()).unwrap_or(u32::MAX))
                + v.len()
        })
        .sum()
}

#[cfg(test)]
pub(crate) mod tests {
    #[test]
    fn generated_types_are_recognised_by_path() {
        assert!(super::is_generated::<super::super::ShareFetchResponse>());
        assert!(super::is_generated::<
            super::super::share_fetch_response::PartitionData,
        >());
        assert!(!super::is_generated::<
            kafka_protocol::messages::ShareFetchResponse,
        >());
        assert!(!super::is_generated::<bytes::Bytes>());
    }

    use bytes::BytesMut;
    use kafka_protocol::protocol::{Decodable, Encodable};

    /// Encodes `msg` at `version`, checks `compute_size`, decodes it back equal with no
    /// byte left over, and checks that every truncation of it is an error.
    pub(crate) fn check_round_trip<M>(msg: &M, version: i16)
    where
        M: Encodable + Decodable + PartialEq + std::fmt::Debug,
    {
        let mut buf = BytesMut::new();
        msg.encode(&mut buf, version)
            .unwrap_or_else(|e| panic!("encode v{version}: {e}"));
        let size = msg.compute_size(version).expect("compute_size");
        assert_eq!(size, buf.len(), "compute_size of v{version}");
        let bytes = buf.freeze();
        let mut read = bytes.clone();
        let back =
            M::decode(&mut read, version).unwrap_or_else(|e| panic!("decode v{version}: {e}"));
        assert_eq!(&back, msg, "v{version} round trip");
        assert!(
            read.is_empty(),
            "v{version}: {} bytes left over",
            read.len()
        );
        for cut in 0..bytes.len() {
            let mut short = bytes.slice(..cut);
            assert!(
                M::decode(&mut short, version).is_err(),
                "v{version} decoded from {cut} of {} bytes",
                bytes.len()
            );
        }
    }
}
