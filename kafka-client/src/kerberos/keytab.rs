//! MIT keytab files (format 0x0502, RFC-less but documented in MIT's `keytab.txt`):
//! the entries for one principal, the newest key version of each encryption type.

use std::path::Path;

use super::KerberosFailure;
use super::exchange::EncKey;

/// The keys for `name` (`a/b` components) in `realm` from the keytab at `path`: for each
/// encryption type, the entry with the highest key version.
pub(crate) fn keys_for(
    path: &Path,
    name: &str,
    realm: &str,
) -> Result<Vec<EncKey>, KerberosFailure> {
    let fail = |reason: String| KerberosFailure::Keytab {
        path: path.display().to_string(),
        reason,
    };
    let bytes = std::fs::read(path).map_err(|e| fail(format!("cannot read: {e}")))?;
    let entries = parse(&bytes).map_err(|m| fail(m.to_owned()))?;
    let components: Vec<&str> = name.split('/').collect();
    let mut best: Vec<(u32, EncKey)> = Vec::new();
    for e in entries {
        if e.realm != realm || e.components != components {
            continue;
        }
        match best.iter_mut().find(|(_, k)| k.etype == e.etype) {
            Some(slot) if slot.0 >= e.kvno => {}
            Some(slot) => *slot = (e.kvno, EncKey::new(e.etype, e.key)),
            None => best.push((e.kvno, EncKey::new(e.etype, e.key))),
        }
    }
    if best.is_empty() {
        return Err(fail(format!("no key for {name}@{realm}")));
    }
    Ok(best.into_iter().map(|(_, k)| k).collect())
}

#[derive(Debug)]
struct Entry {
    realm: String,
    components: Vec<String>,
    kvno: u32,
    etype: i32,
    key: Vec<u8>,
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], &'static str> {
        if self.0.len() < n {
            return Err("truncated entry");
        }
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        Ok(a)
    }
    fn u8(&mut self) -> Result<u8, &'static str> {
        Ok(self.take(1)?[0])
    }
    fn u16(&mut self) -> Result<u16, &'static str> {
        let b = self.take(2)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }
    fn u32(&mut self) -> Result<u32, &'static str> {
        let b = self.take(4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn string(&mut self) -> Result<String, &'static str> {
        let n = self.u16()? as usize;
        String::from_utf8(self.take(n)?.to_vec()).map_err(|_| "a name is not UTF-8")
    }
}

fn parse(bytes: &[u8]) -> Result<Vec<Entry>, &'static str> {
    let mut r = Reader(bytes);
    match (r.u8(), r.u8()) {
        (Ok(5), Ok(2)) => {}
        (Ok(5), Ok(1)) => return Err("keytab format 0x0501 (host byte order) is not supported"),
        _ => return Err("not a keytab file (format 0x0502 expected)"),
    }
    let mut out = Vec::new();
    while !r.0.is_empty() {
        let size = r.u32()? as i32;
        if size < 0 {
            // A hole left by a deleted entry.
            r.take(size.unsigned_abs() as usize)?;
            continue;
        }
        let mut e = Reader(r.take(size as usize)?);
        let count = e.u16()?;
        let realm = e.string()?;
        let components = (0..count)
            .map(|_| e.string())
            .collect::<Result<Vec<_>, _>>()?;
        let _name_type = e.u32()?;
        let _timestamp = e.u32()?;
        let kvno8 = e.u8()?;
        let etype = i32::from(e.u16()?);
        let key_len = e.u16()? as usize;
        let key = e.take(key_len)?.to_vec();
        // A 32-bit key version follows when the entry has room for it.
        let kvno = match e.u32() {
            Ok(v) if v != 0 => v,
            _ => u32::from(kvno8),
        };
        out.push(Entry {
            realm,
            components,
            kvno,
            etype,
            key,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(components: &[&str], kvno: u8, etype: u16, key: &[u8]) -> Vec<u8> {
        let mut e = Vec::new();
        e.extend_from_slice(&(components.len() as u16).to_be_bytes());
        for s in std::iter::once(&"EX.COM").chain(components) {
            e.extend_from_slice(&(s.len() as u16).to_be_bytes());
            e.extend_from_slice(s.as_bytes());
        }
        e.extend_from_slice(&1u32.to_be_bytes()); // NT-PRINCIPAL
        e.extend_from_slice(&0u32.to_be_bytes()); // timestamp
        e.push(kvno);
        e.extend_from_slice(&etype.to_be_bytes());
        e.extend_from_slice(&(key.len() as u16).to_be_bytes());
        e.extend_from_slice(key);
        let mut out = (e.len() as u32).to_be_bytes().to_vec();
        out.extend(e);
        out
    }

    #[test]
    fn newest_key_per_etype_for_the_principal() {
        let mut kt = vec![5, 2];
        kt.extend(entry(&["alice"], 1, 18, &[1; 32]));
        kt.extend(entry(&["alice"], 2, 18, &[2; 32]));
        kt.extend((-8i32).to_be_bytes());
        kt.extend([0u8; 8]);
        kt.extend(entry(&["alice"], 2, 17, &[3; 16]));
        kt.extend(entry(&["kafka", "localhost"], 1, 18, &[4; 32]));
        let dir = std::env::temp_dir().join(format!("keytab-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("t.keytab");
        std::fs::write(&path, &kt).unwrap();
        let keys = keys_for(&path, "alice", "EX.COM").unwrap();
        assert_eq!(keys.len(), 2);
        assert_eq!((keys[0].etype, keys[0].value[0]), (18, 2));
        assert_eq!((keys[1].etype, keys[1].value[0]), (17, 3));
        let svc = keys_for(&path, "kafka/localhost", "EX.COM").unwrap();
        assert_eq!(svc[0].value, [4; 32]);
        let e = keys_for(&path, "bob", "EX.COM").unwrap_err().to_string();
        assert!(e.contains("no key for bob@EX.COM"), "{e}");
        std::fs::write(&path, b"junk").unwrap();
        let e = keys_for(&path, "alice", "EX.COM").unwrap_err().to_string();
        assert!(e.contains("not a keytab"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
