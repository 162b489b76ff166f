//! Decoding the consumer protocol's member metadata (subscription) and assignment bytes,
//! as Java's `ConsumerProtocol` writes them: an `i16` version, then the versioned body.
//!
//! Versions above the highest known (3) are read as 3, since later versions only append
//! fields (Java does the same). Array counts are checked against the bytes left before
//! anything is allocated, so a hostile count cannot cause a huge allocation.

use std::collections::BTreeSet;

use crate::types::TopicPartition;

/// A member's assigned partitions, decoded from its consumer-protocol assignment.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct MemberAssignment {
    /// The partitions assigned to the member.
    pub partitions: BTreeSet<TopicPartition>,
    /// The assignor's user data, if any.
    pub user_data: Option<Vec<u8>>,
}

/// What a member subscribed to, decoded from its consumer-protocol metadata.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct MemberSubscription {
    /// The subscribed topics.
    pub topics: Vec<String>,
    /// The partitions the member owned when it joined (v1+; cooperative rebalancing).
    pub owned_partitions: BTreeSet<TopicPartition>,
    /// The member's rack (v3+).
    pub rack: Option<String>,
}

const HIGHEST_VERSION: i16 = 3;

struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        if self.buf.len() < n {
            return Err(format!("needs {n} more bytes, {} left", self.buf.len()));
        }
        let (head, tail) = self.buf.split_at(n);
        self.buf = tail;
        Ok(head)
    }

    fn i16(&mut self) -> Result<i16, String> {
        let b = self.take(2)?;
        Ok(i16::from_be_bytes([b[0], b[1]]))
    }

    fn i32(&mut self) -> Result<i32, String> {
        let b = self.take(4)?;
        Ok(i32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// An array count, rejected when `min_size`-byte elements could not fit in what is
    /// left. `-1` (null) reads as empty.
    fn count(&mut self, min_size: usize) -> Result<usize, String> {
        let n = self.i32()?;
        if n < 0 {
            return Ok(0);
        }
        let n = n as usize;
        if n.saturating_mul(min_size) > self.buf.len() {
            return Err(format!("array of {n} elements in {} bytes", self.buf.len()));
        }
        Ok(n)
    }

    fn nullable_string(&mut self) -> Result<Option<String>, String> {
        let len = self.i16()?;
        if len < 0 {
            return Ok(None);
        }
        let bytes = self.take(len as usize)?;
        String::from_utf8(bytes.to_vec())
            .map(Some)
            .map_err(|_| "a string is not UTF-8".to_string())
    }

    fn string(&mut self) -> Result<String, String> {
        self.nullable_string()?
            .ok_or_else(|| "a non-nullable string is null".to_string())
    }

    /// Nullable bytes; missing entirely (the buffer ends) reads as null, as some clients
    /// omit trailing user data.
    fn nullable_bytes(&mut self) -> Result<Option<Vec<u8>>, String> {
        if self.buf.is_empty() {
            return Ok(None);
        }
        let len = self.i32()?;
        if len < 0 {
            return Ok(None);
        }
        Ok(Some(self.take(len as usize)?.to_vec()))
    }

    fn topic_partitions(&mut self, out: &mut BTreeSet<TopicPartition>) -> Result<(), String> {
        for _ in 0..self.count(6)? {
            let topic = self.string()?;
            for _ in 0..self.count(4)? {
                out.insert(TopicPartition::new(topic.clone(), self.i32()?));
            }
        }
        Ok(())
    }

    fn version(&mut self) -> Result<i16, String> {
        let v = self.i16()?;
        if v < 0 {
            return Err(format!("unsupported consumer protocol version {v}"));
        }
        Ok(v.min(HIGHEST_VERSION))
    }
}

/// Decodes a consumer-protocol assignment. Empty bytes (a member not yet synced) are an
/// empty assignment.
pub(crate) fn decode_assignment(bytes: &[u8]) -> Result<MemberAssignment, String> {
    let mut out = MemberAssignment::default();
    if bytes.is_empty() {
        return Ok(out);
    }
    let mut r = Reader { buf: bytes };
    r.version()?;
    r.topic_partitions(&mut out.partitions)?;
    out.user_data = r.nullable_bytes()?;
    Ok(out)
}

/// Decodes a consumer-protocol subscription (a member's metadata).
pub(crate) fn decode_subscription(bytes: &[u8]) -> Result<MemberSubscription, String> {
    let mut out = MemberSubscription::default();
    if bytes.is_empty() {
        return Ok(out);
    }
    let mut r = Reader { buf: bytes };
    let version = r.version()?;
    for _ in 0..r.count(2)? {
        out.topics.push(r.string()?);
    }
    r.nullable_bytes()?; // user data
    if version >= 1 && !r.buf.is_empty() {
        r.topic_partitions(&mut out.owned_partitions)?;
    }
    if version >= 2 && !r.buf.is_empty() {
        r.i32()?; // generation id
    }
    if version >= 3 && !r.buf.is_empty() {
        out.rack = r.nullable_string()?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use kafka_protocol::messages::TopicName;
    use kafka_protocol::messages::consumer_protocol_assignment::{
        ConsumerProtocolAssignment, TopicPartition as WireTp,
    };
    use kafka_protocol::messages::consumer_protocol_subscription::ConsumerProtocolSubscription;
    use kafka_protocol::protocol::{Encodable, StrBytes};

    fn encode<T: Encodable>(version: i16, body: &T) -> Vec<u8> {
        let mut buf = version.to_be_bytes().to_vec();
        body.encode(&mut buf, version).unwrap();
        buf
    }

    fn wire_assignment() -> ConsumerProtocolAssignment {
        ConsumerProtocolAssignment::default()
            .with_assigned_partitions(vec![
                WireTp::default()
                    .with_topic(TopicName(StrBytes::from_static_str("orders")))
                    .with_partitions(vec![0, 2]),
                WireTp::default()
                    .with_topic(TopicName(StrBytes::from_static_str("audit")))
                    .with_partitions(vec![1]),
            ])
            .with_user_data(Some(bytes::Bytes::from_static(b"ud")))
    }

    #[test]
    fn decodes_what_the_java_layout_encodes_in_every_version() {
        for v in 0..=3 {
            let a = decode_assignment(&encode(v, &wire_assignment())).unwrap();
            let expected: BTreeSet<_> = [("audit", 1), ("orders", 0), ("orders", 2)]
                .into_iter()
                .map(TopicPartition::from)
                .collect();
            assert_eq!(a.partitions, expected, "version {v}");
            assert_eq!(a.user_data.as_deref(), Some(&b"ud"[..]));
        }
    }

    #[test]
    fn newer_versions_read_as_the_highest_known() {
        let mut bytes = encode(3, &wire_assignment());
        bytes[..2].copy_from_slice(&7i16.to_be_bytes());
        bytes.extend_from_slice(b"future fields");
        assert_eq!(decode_assignment(&bytes).unwrap().partitions.len(), 3);
    }

    #[test]
    fn empty_is_no_assignment_and_garbage_is_an_error() {
        assert_eq!(decode_assignment(&[]).unwrap(), MemberAssignment::default());
        assert!(decode_assignment(&[0, 0, 0x7f, 0xff, 0xff, 0xff]).is_err());
        assert!(decode_assignment(&[0xff, 0xff]).is_err());
        let full = encode(1, &wire_assignment());
        for cut in 3..full.len() - 6 {
            assert!(decode_assignment(&full[..cut]).is_err(), "cut at {cut}");
        }
    }

    #[test]
    fn decodes_subscriptions() {
        let sub = ConsumerProtocolSubscription::default()
            .with_topics(vec![StrBytes::from_static_str("orders")])
            .with_owned_partitions(vec![
                kafka_protocol::messages::consumer_protocol_subscription::TopicPartition::default()
                    .with_topic(TopicName(StrBytes::from_static_str("orders")))
                    .with_partitions(vec![3]),
            ])
            .with_generation_id(4)
            .with_rack_id(Some(StrBytes::from_static_str("r1")));
        let s = decode_subscription(&encode(3, &sub)).unwrap();
        assert_eq!(s.topics, ["orders"]);
        assert!(
            s.owned_partitions
                .contains(&TopicPartition::new("orders", 3))
        );
        assert_eq!(s.rack.as_deref(), Some("r1"));
        let s0 =
            decode_subscription(&encode(0, &sub.clone().with_owned_partitions(vec![]))).unwrap();
        assert_eq!(s0.topics, ["orders"]);
        assert!(s0.owned_partitions.is_empty() && s0.rack.is_none());
    }
}
