//! The schema-registry wire format: magic byte 0, the schema id as 4 bytes big-endian,
//! then (Protobuf only) the message-index path as zig-zag varints, then the payload.

use super::RegistrySerdeError;

/// The first byte of every registry-framed key or value.
pub const MAGIC_BYTE: u8 = 0;

/// Length of the magic byte and the schema id.
pub const HEADER_LEN: usize = 5;

/// Writes the magic byte and `schema_id` to `out`.
pub fn write_header(out: &mut Vec<u8>, schema_id: u32) {
    out.push(MAGIC_BYTE);
    out.extend_from_slice(&schema_id.to_be_bytes());
}

/// Splits framed `data` into its schema id and the rest.
pub fn read_header(data: &[u8]) -> Result<(u32, &[u8]), RegistrySerdeError> {
    match data {
        [MAGIC_BYTE, a, b, c, d, rest @ ..] => Ok((u32::from_be_bytes([*a, *b, *c, *d]), rest)),
        [MAGIC_BYTE, ..] | [] => Err(RegistrySerdeError::TooShort { len: data.len() }),
        [other, ..] => Err(RegistrySerdeError::BadMagicByte { found: *other }),
    }
}

/// Writes a Protobuf message-index path: the path `[0]` (the file's first message) as the
/// single byte 0, any other as its length then each index, all zig-zag varints.
pub fn write_message_indexes(out: &mut Vec<u8>, indexes: &[i32]) {
    if indexes == [0] {
        out.push(0);
        return;
    }
    write_zigzag(out, indexes.len() as i64);
    for &i in indexes {
        write_zigzag(out, i64::from(i));
    }
}

/// Reads a Protobuf message-index path written by [`write_message_indexes`]; returns it
/// and the rest of `data`.
pub fn read_message_indexes(data: &[u8]) -> Result<(Vec<i32>, &[u8]), RegistrySerdeError> {
    let bad = |what: &str| RegistrySerdeError::Payload(format!("message-index path: {what}"));
    let (count, mut rest) = read_zigzag(data).ok_or_else(|| bad("truncated count"))?;
    if count == 0 {
        return Ok((vec![0], rest));
    }
    if count < 0 || count as usize > rest.len() {
        return Err(bad(&format!("impossible count {count}")));
    }
    let mut indexes = Vec::with_capacity(count as usize);
    for _ in 0..count {
        let (i, r) = read_zigzag(rest).ok_or_else(|| bad("truncated index"))?;
        indexes.push(i32::try_from(i).map_err(|_| bad("index out of range"))?);
        rest = r;
    }
    Ok((indexes, rest))
}

fn write_zigzag(out: &mut Vec<u8>, n: i64) {
    let mut v = ((n << 1) ^ (n >> 63)) as u64;
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn read_zigzag(data: &[u8]) -> Option<(i64, &[u8])> {
    let mut v: u64 = 0;
    for (i, &b) in data.iter().enumerate().take(10) {
        v |= u64::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            let n = ((v >> 1) as i64) ^ -((v & 1) as i64);
            return Some((n, &data[i + 1..]));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_round_trips_and_rejects_bad_frames() {
        let mut out = Vec::new();
        write_header(&mut out, 0x0102_0304);
        out.extend_from_slice(b"payload");
        assert_eq!(&out[..5], &[0, 1, 2, 3, 4]);
        assert_eq!(read_header(&out).unwrap(), (0x0102_0304, &b"payload"[..]));
        assert!(matches!(
            read_header(b"\x01\0\0\0\x01x"),
            Err(RegistrySerdeError::BadMagicByte { found: 1 })
        ));
        assert!(matches!(
            read_header(b"\0\0\0"),
            Err(RegistrySerdeError::TooShort { len: 3 })
        ));
        assert!(matches!(
            read_header(b""),
            Err(RegistrySerdeError::TooShort { len: 0 })
        ));
    }

    #[test]
    fn message_indexes_match_confluents_encoding() {
        let mut out = Vec::new();
        write_message_indexes(&mut out, &[0]);
        assert_eq!(out, [0]);
        out.clear();
        write_message_indexes(&mut out, &[1]);
        assert_eq!(out, [2, 2]);
        out.clear();
        write_message_indexes(&mut out, &[2, 0, 70]);
        assert_eq!(out, [6, 4, 0, 0x8c, 0x01]);
        out.push(9);
        assert_eq!(
            read_message_indexes(&out).unwrap(),
            (vec![2, 0, 70], &[9u8][..])
        );
        assert_eq!(
            read_message_indexes(&[0, 7]).unwrap(),
            (vec![0], &[7u8][..])
        );
        assert!(read_message_indexes(&[0x80]).is_err());
        assert!(read_message_indexes(&[0x7e]).is_err());
    }
}
