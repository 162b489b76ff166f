//! Control records: the transaction markers (commit / abort) brokers write into
//! partitions as batches with the control attribute set. A control record's key is
//! `version i16 | type i16`; for transaction markers the value is
//! `version i16 | coordinatorEpoch i32`.

/// The kind of a control record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ControlRecordType {
    /// Transaction aborted (type 0): the producer's records in this transaction are to be skipped
    /// by `read_committed` consumers.
    Abort,
    /// Transaction committed (type 1).
    Commit,
    /// Any other type (KRaft uses 2 and up for its own log); consumers ignore these.
    Other(i16),
}

impl ControlRecordType {
    /// The type from its wire value.
    pub fn from_i16(value: i16) -> Self {
        match value {
            0 => ControlRecordType::Abort,
            1 => ControlRecordType::Commit,
            other => ControlRecordType::Other(other),
        }
    }

    /// The wire value.
    pub fn as_i16(self) -> i16 {
        match self {
            ControlRecordType::Abort => 0,
            ControlRecordType::Commit => 1,
            ControlRecordType::Other(v) => v,
        }
    }
}

/// The key of a control record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ControlRecord {
    /// Key schema version (0 today).
    pub version: i16,
    /// What the control record marks.
    pub kind: ControlRecordType,
}

impl ControlRecord {
    /// A version-0 control record of the given kind.
    pub fn new(kind: ControlRecordType) -> Self {
        ControlRecord { version: 0, kind }
    }

    /// Parses a control record key; `None` if it is shorter than four bytes. Extra bytes
    /// (from a newer key version) are ignored, as the Java client does.
    pub fn from_key(key: &[u8]) -> Option<Self> {
        let version = i16::from_be_bytes(*key.first_chunk::<2>()?);
        let kind = i16::from_be_bytes(*key.get(2..4)?.first_chunk::<2>()?);
        Some(ControlRecord {
            version,
            kind: ControlRecordType::from_i16(kind),
        })
    }

    /// The four key bytes.
    pub fn to_key(self) -> [u8; 4] {
        let [a, b] = self.version.to_be_bytes();
        let [c, d] = self.kind.as_i16().to_be_bytes();
        [a, b, c, d]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_round_trip() {
        for kind in [
            ControlRecordType::Abort,
            ControlRecordType::Commit,
            ControlRecordType::Other(5),
        ] {
            let rec = ControlRecord::new(kind);
            assert_eq!(ControlRecord::from_key(&rec.to_key()), Some(rec));
        }
        assert_eq!(
            ControlRecord::new(ControlRecordType::Commit).to_key(),
            [0, 0, 0, 1]
        );
        assert_eq!(ControlRecord::from_key(&[0, 0, 0]), None);
    }
}
