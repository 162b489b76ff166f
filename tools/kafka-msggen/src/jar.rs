//! Reads the `common/message/*.json` entries of a jar (a zip archive): the central
//! directory, then each entry, stored or raw-deflated. Only what jars use is supported.

use std::collections::BTreeMap;
use std::io::Read;

/// Every entry whose name starts with `prefix` and ends with `suffix`: name → contents.
pub fn entries(
    zip: &[u8],
    prefix: &str,
    suffix: &str,
) -> Result<BTreeMap<String, Vec<u8>>, String> {
    let eocd = find_eocd(zip)?;
    let count = u16_at(zip, eocd + 10)? as usize;
    let mut at = u32_at(zip, eocd + 16)? as usize;
    let mut out = BTreeMap::new();
    for _ in 0..count {
        if u32_at(zip, at)? != 0x0201_4b50 {
            return Err(format!("bad central directory entry at {at}"));
        }
        let method = u16_at(zip, at + 10)?;
        let compressed = u32_at(zip, at + 20)? as usize;
        let size = u32_at(zip, at + 24)? as usize;
        let name_len = u16_at(zip, at + 28)? as usize;
        let extra_len = u16_at(zip, at + 30)? as usize;
        let comment_len = u16_at(zip, at + 32)? as usize;
        let local = u32_at(zip, at + 42)? as usize;
        let name = slice(zip, at + 46, name_len)?;
        let name = String::from_utf8_lossy(name).into_owned();
        at += 46 + name_len + extra_len + comment_len;
        if !name.starts_with(prefix) || !name.ends_with(suffix) {
            continue;
        }
        if u32_at(zip, local)? != 0x0403_4b50 {
            return Err(format!("{name}: bad local header"));
        }
        let data_at =
            local + 30 + u16_at(zip, local + 26)? as usize + u16_at(zip, local + 28)? as usize;
        let data = slice(zip, data_at, compressed)?;
        let contents = match method {
            0 => data.to_vec(),
            8 => {
                let mut out = Vec::with_capacity(size);
                flate2::read::DeflateDecoder::new(data)
                    .read_to_end(&mut out)
                    .map_err(|e| format!("{name}: {e}"))?;
                out
            }
            m => return Err(format!("{name}: unsupported compression method {m}")),
        };
        if contents.len() != size {
            return Err(format!("{name}: {} bytes, expected {size}", contents.len()));
        }
        out.insert(name, contents);
    }
    Ok(out)
}

fn find_eocd(zip: &[u8]) -> Result<usize, String> {
    let start = zip.len().saturating_sub(22 + 65_535);
    (start..zip.len().saturating_sub(21))
        .rev()
        .find(|&i| zip[i..i + 4] == [0x50, 0x4b, 0x05, 0x06])
        .ok_or_else(|| "not a zip file: no end of central directory".to_string())
}

fn slice(zip: &[u8], at: usize, len: usize) -> Result<&[u8], String> {
    zip.get(at..at.checked_add(len).ok_or("offset overflow")?)
        .ok_or_else(|| format!("zip truncated: {len} bytes at {at}"))
}

fn u16_at(zip: &[u8], at: usize) -> Result<u16, String> {
    let b = slice(zip, at, 2)?;
    Ok(u16::from_le_bytes([b[0], b[1]]))
}

fn u32_at(zip: &[u8], at: usize) -> Result<u32, String> {
    let b = slice(zip, at, 4)?;
    Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}
