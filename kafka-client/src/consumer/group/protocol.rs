//! The consumer's embedded group protocol (Java's `ConsumerProtocol`): the subscription
//! each member sends in JoinGroup and the assignment the leader sends in SyncGroup,
//! each a big-endian version (i16) followed by the schema of that version (0-3). Members
//! of other clients read and write the same bytes, which is what lets them share a group.

use std::collections::{BTreeMap, BTreeSet};

use bytes::{BufMut, Bytes, BytesMut};
use kafka_protocol::messages::{
    ConsumerProtocolAssignment, ConsumerProtocolSubscription, TopicName,
    consumer_protocol_assignment, consumer_protocol_subscription,
};
use kafka_protocol::protocol::{Decodable, Encodable, StrBytes};

use crate::types::TopicPartition;

/// The highest version this client writes and fully reads.
const VERSION: i16 = 3;

/// One member's subscription as decoded from its JoinGroup metadata.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct MemberSubscription {
    pub topics: BTreeSet<String>,
    pub user_data: Option<Bytes>,
    pub owned: Vec<TopicPartition>,
    /// The generation in which `owned` was owned (-1 when unknown).
    pub generation: i32,
}

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

/// Reads the version prefix. A version above ours is read with our schema: later
/// versions only append fields (the Java client does the same).
fn version(data: &mut Bytes) -> Result<i16, String> {
    if data.len() < 2 {
        return Err("consumer protocol data shorter than its version field".into());
    }
    let v = i16::from_be_bytes([data[0], data[1]]);
    let _ = bytes::Buf::get_i16(data);
    if v < 0 {
        return Err(format!("consumer protocol version {v} is negative"));
    }
    Ok(v.min(VERSION))
}

/// Decodes a member's subscription (any version).
pub(crate) fn decode_subscription(mut data: Bytes) -> Result<MemberSubscription, String> {
    let v = version(&mut data)?;
    let sub = ConsumerProtocolSubscription::decode(&mut data, v)
        .map_err(|e| format!("bad consumer protocol subscription v{v}: {e}"))?;
    Ok(MemberSubscription {
        topics: sub.topics.iter().map(|t| t.to_string()).collect(),
        user_data: sub.user_data,
        owned: sub
            .owned_partitions
            .iter()
            .flat_map(|t| {
                t.partitions
                    .iter()
                    .map(|p| TopicPartition::new(t.topic.0.to_string(), *p))
            })
            .collect(),
        generation: sub.generation_id,
    })
}

/// Decodes an assignment (any version). Empty bytes are an empty assignment.
pub(crate) fn decode_assignment(mut data: Bytes) -> Result<Vec<TopicPartition>, String> {
    if data.is_empty() {
        return Ok(Vec::new());
    }
    let v = version(&mut data)?;
    let a = ConsumerProtocolAssignment::decode(&mut data, v)
        .map_err(|e| format!("bad consumer protocol assignment v{v}: {e}"))?;
    Ok(a.assigned_partitions
        .iter()
        .flat_map(|t| {
            t.partitions
                .iter()
                .map(|p| TopicPartition::new(t.topic.0.to_string(), *p))
        })
        .collect())
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
            decode_assignment(b.freeze()).unwrap(),
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
    }
}
