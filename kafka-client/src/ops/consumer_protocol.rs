//! The consumer's embedded group protocol (Java's `ConsumerProtocol`): the subscription
//! each member sends in JoinGroup and the assignment the leader sends in SyncGroup,
//! each a big-endian version (i16) followed by the schema of that version (0-3). Members
//! of other clients read and write the same bytes, which is what lets them share a group.
//!
//! One implementation for the consumer (its group leader decodes every member's
//! subscription) and kafka-admin (DescribeGroups). Encoding goes through kafka-protocol;
//! decoding is a bounded reader of our own: these bytes come from other members, through
//! the coordinator, and are not covered by the response-shape walk (`net/shape/`), so
//! every array count is checked against the bytes left before anything is allocated
//! (kafka-protocol's decoder pre-allocates from the wire count). Versions above 3 are
//! read as 3: later versions only append fields (the Java client does the same).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use bytes::{BufMut, Bytes, BytesMut};
use kafka_protocol::messages::{
    ConsumerProtocolAssignment, ConsumerProtocolSubscription, TopicName,
    consumer_protocol_assignment, consumer_protocol_subscription,
};
use kafka_protocol::protocol::{Encodable, StrBytes};

use crate::types::TopicPartition;

/// The highest version this client writes and fully reads.
const VERSION: i16 = 3;

/// One member's subscription, decoded from its JoinGroup metadata.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct MemberSubscription {
    /// The subscribed topics.
    pub topics: BTreeSet<String>,
    /// The assignor's user data, if any.
    pub user_data: Option<Bytes>,
    /// The partitions the member owned when it joined (v1+; cooperative rebalancing).
    pub owned: Vec<TopicPartition>,
    /// The generation in which `owned` was owned (v2+; -1 when unknown).
    pub generation: i32,
    /// The member's rack (v3+).
    pub rack: Option<String>,
}

impl Default for MemberSubscription {
    fn default() -> Self {
        Self {
            topics: BTreeSet::new(),
            user_data: None,
            owned: Vec::new(),
            generation: -1,
            rack: None,
        }
    }
}

/// One member's assignment, decoded from SyncGroup (or DescribeGroups).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct MemberAssignment {
    /// The partitions assigned to the member, in wire order.
    pub partitions: Vec<TopicPartition>,
    /// The assignor's user data, if any.
    pub user_data: Option<Bytes>,
}

/// Consumer-protocol bytes that do not decode: what was being read and why it failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MalformedProtocolData {
    what: &'static str,
    why: String,
}

impl MalformedProtocolData {
    fn new(what: &'static str, why: impl Into<String>) -> Self {
        Self {
            what,
            why: why.into(),
        }
    }
}

impl fmt::Display for MalformedProtocolData {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "malformed consumer protocol {}: {}", self.what, self.why)
    }
}

impl std::error::Error for MalformedProtocolData {}

fn str(s: &str) -> StrBytes {
    StrBytes::from_string(s.to_string())
}

fn group_by_topic(parts: &[TopicPartition]) -> BTreeMap<&str, Vec<i32>> {
    let mut m: BTreeMap<&str, Vec<i32>> = BTreeMap::new();
    for tp in parts {
        m.entry(tp.topic.as_str()).or_default().push(tp.partition);
    }
    m
}

/// Encodes a subscription at version 3.
pub(crate) fn encode_subscription(
    topics: &BTreeSet<String>,
    user_data: Option<Bytes>,
    owned: &[TopicPartition],
    generation: i32,
) -> Bytes {
    let sub = ConsumerProtocolSubscription::default()
        .with_topics(topics.iter().map(|t| str(t)).collect())
        .with_user_data(user_data)
        .with_owned_partitions(
            group_by_topic(owned)
                .into_iter()
                .map(|(t, ps)| {
                    consumer_protocol_subscription::TopicPartition::default()
                        .with_topic(TopicName(str(t)))
                        .with_partitions(ps)
                })
                .collect(),
        )
        .with_generation_id(generation);
    encode(&sub)
}

/// Encodes an assignment at version 3.
pub(crate) fn encode_assignment(parts: &[TopicPartition]) -> Bytes {
    let a = ConsumerProtocolAssignment::default().with_assigned_partitions(
        group_by_topic(parts)
            .into_iter()
            .map(|(t, ps)| {
                consumer_protocol_assignment::TopicPartition::default()
                    .with_topic(TopicName(str(t)))
                    .with_partitions(ps)
            })
            .collect(),
    );
    encode(&a)
}

fn encode<M: Encodable>(m: &M) -> Bytes {
    let mut buf = BytesMut::new();
    buf.put_i16(VERSION);
    // Encoding our own well-formed values at a supported version cannot fail.
    if m.encode(&mut buf, VERSION).is_err() {
        buf.truncate(2);
    }
    buf.freeze()
}

/// A bounded reader over consumer-protocol bytes.
struct Reader {
    buf: Bytes,
    what: &'static str,
}

impl Reader {
    fn fail(&self, why: impl Into<String>) -> MalformedProtocolData {
        MalformedProtocolData::new(self.what, why)
    }

    fn take(&mut self, n: usize) -> Result<Bytes, MalformedProtocolData> {
        if self.buf.len() < n {
            return Err(self.fail(format!("needs {n} more bytes, {} left", self.buf.len())));
        }
        Ok(self.buf.split_to(n))
    }

    fn i16(&mut self) -> Result<i16, MalformedProtocolData> {
        let b = self.take(2)?;
        Ok(i16::from_be_bytes([b[0], b[1]]))
    }

    fn i32(&mut self) -> Result<i32, MalformedProtocolData> {
        let b = self.take(4)?;
        Ok(i32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// An array count, rejected when `min_size`-byte elements could not fit in what is
    /// left. `-1` (null) reads as empty; other negative counts are errors.
    fn count(&mut self, min_size: usize) -> Result<usize, MalformedProtocolData> {
        let n = self.i32()?;
        if n == -1 {
            return Ok(0);
        }
        let Ok(n) = usize::try_from(n) else {
            return Err(self.fail(format!("negative array length {n}")));
        };
        if n.saturating_mul(min_size) > self.buf.len() {
            return Err(self.fail(format!("array of {n} elements in {} bytes", self.buf.len())));
        }
        Ok(n)
    }

    fn nullable_string(&mut self) -> Result<Option<String>, MalformedProtocolData> {
        let len = self.i16()?;
        if len < 0 {
            return Ok(None);
        }
        let bytes = self.take(len as usize)?;
        String::from_utf8(bytes.to_vec())
            .map(Some)
            .map_err(|_| self.fail("a string is not UTF-8"))
    }

    fn string(&mut self) -> Result<String, MalformedProtocolData> {
        self.nullable_string()?
            .ok_or_else(|| self.fail("a non-nullable string is null"))
    }

    /// Nullable bytes; missing entirely (the buffer ends) reads as null, as some clients
    /// omit trailing user data.
    fn nullable_bytes(&mut self) -> Result<Option<Bytes>, MalformedProtocolData> {
        if self.buf.is_empty() {
            return Ok(None);
        }
        let len = self.i32()?;
        if len < 0 {
            return Ok(None);
        }
        Ok(Some(self.take(len as usize)?))
    }

    fn topic_partitions(
        &mut self,
        out: &mut Vec<TopicPartition>,
    ) -> Result<(), MalformedProtocolData> {
        for _ in 0..self.count(6)? {
            let topic = self.string()?;
            for _ in 0..self.count(4)? {
                out.push(TopicPartition::new(topic.clone(), self.i32()?));
            }
        }
        Ok(())
    }

    /// The version prefix; a version above ours reads with our schema.
    fn version(&mut self) -> Result<i16, MalformedProtocolData> {
        if self.buf.len() < 2 {
            return Err(self.fail("shorter than its version field"));
        }
        let v = self.i16()?;
        if v < 0 {
            return Err(self.fail(format!("version {v} is negative")));
        }
        Ok(v.min(VERSION))
    }
}

/// Decodes a member's subscription (any version).
pub fn decode_subscription(data: Bytes) -> Result<MemberSubscription, MalformedProtocolData> {
    let mut r = Reader {
        buf: data,
        what: "subscription",
    };
    let version = r.version()?;
    let mut out = MemberSubscription::default();
    for _ in 0..r.count(2)? {
        out.topics.insert(r.string()?);
    }
    out.user_data = r.nullable_bytes()?;
    if version >= 1 && !r.buf.is_empty() {
        r.topic_partitions(&mut out.owned)?;
    }
    if version >= 2 && !r.buf.is_empty() {
        out.generation = r.i32()?;
    }
    if version >= 3 && !r.buf.is_empty() {
        out.rack = r.nullable_string()?;
    }
    Ok(out)
}

/// Decodes an assignment (any version). Empty bytes (a member not yet synced) are an
/// empty assignment.
pub fn decode_assignment(data: Bytes) -> Result<MemberAssignment, MalformedProtocolData> {
    let mut out = MemberAssignment::default();
    if data.is_empty() {
        return Ok(out);
    }
    let mut r = Reader {
        buf: data,
        what: "assignment",
    };
    r.version()?;
    r.topic_partitions(&mut out.partitions)?;
    out.user_data = r.nullable_bytes()?;
    Ok(out)
}

/// The cooperative-sticky user data the Java client writes: the generation (i32), read
/// by members whose subscription version predates the generation field.
pub(crate) fn sticky_user_data(generation: i32) -> Bytes {
    Bytes::copy_from_slice(&generation.to_be_bytes())
}

/// The generation from cooperative-sticky user data, if it holds one.
pub(crate) fn sticky_generation(user_data: Option<&Bytes>) -> Option<i32> {
    let d = user_data?;
    let b: [u8; 4] = d.get(..4)?.try_into().ok()?;
    Some(i32::from_be_bytes(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subscription_round_trip() {
        let topics: BTreeSet<String> = ["a".to_string(), "b".to_string()].into();
        let owned = vec![TopicPartition::new("a", 0), TopicPartition::new("a", 3)];
        let bytes = encode_subscription(&topics, Some(sticky_user_data(7)), &owned, 7);
        assert_eq!(&bytes[..2], &[0, 3]);
        let s = decode_subscription(bytes).unwrap();
        assert_eq!(s.topics, topics);
        assert_eq!(s.owned, owned);
        assert_eq!(s.generation, 7);
        assert_eq!(sticky_generation(s.user_data.as_ref()), Some(7));
    }

    #[test]
    fn reads_v0_and_future_versions() {
        // v0 as librdkafka writes it: version, [topics], user data (null).
        let mut b = BytesMut::new();
        b.put_i16(0);
        b.put_i32(1);
        b.put_i16(3);
        b.put_slice(b"top");
        b.put_i32(-1);
        let s = decode_subscription(b.freeze()).unwrap();
        assert_eq!(s.topics.iter().next().map(String::as_str), Some("top"));
        assert_eq!(s.generation, -1);
        // A future version: our fields then extra bytes.
        let mut b = BytesMut::from(&encode_assignment(&[TopicPartition::new("x", 1)])[..]);
        b[..2].copy_from_slice(&9i16.to_be_bytes());
        b.put_slice(b"future");
        assert_eq!(
            decode_assignment(b.freeze()).unwrap().partitions,
            vec![TopicPartition::new("x", 1)]
        );
    }

    #[test]
    fn rejects_garbage_without_panicking() {
        for junk in [
            &b""[..],
            &b"\x00"[..],
            &b"\x00\x01\xff\xff\xff\x7f"[..],
            &b"\xff\xff"[..],
        ] {
            assert!(decode_subscription(Bytes::copy_from_slice(junk)).is_err());
        }
        assert!(decode_assignment(Bytes::from_static(b"\x00\x00\x00\x00\x00\x05ab")).is_err());
        // A count far beyond the bytes left fails before any allocation.
        let e = decode_subscription(Bytes::from_static(b"\x00\x00\x7f\xff\xff\xff"))
            .expect_err("huge count");
        assert!(
            e.to_string().contains("array of 2147483647 elements"),
            "{e}"
        );
    }
}
