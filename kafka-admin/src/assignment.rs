//! Decoding the consumer protocol's member metadata (subscription) and assignment bytes,
//! as Java's `ConsumerProtocol` writes them: an `i16` version, then the versioned body.
//!
//! The decoding itself is kafka-client's (`lowlevel::consumer_protocol`, shared with the
//! consumer's group leader): versions above 3 read as 3, every array count checked
//! against the bytes left before anything is allocated. This module maps the result to
//! kafka-admin's public types.

use std::collections::BTreeSet;

use kafka_client::Bytes;
use kafka_client::lowlevel::consumer_protocol::{self, MalformedProtocolData};

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

/// Decodes a consumer-protocol assignment (kafka-client's bounded decoder). Empty bytes
/// (a member not yet synced) are an empty assignment.
pub(crate) fn decode_assignment(bytes: &[u8]) -> Result<MemberAssignment, MalformedProtocolData> {
    let a = consumer_protocol::decode_assignment(Bytes::copy_from_slice(bytes))?;
    Ok(MemberAssignment {
        partitions: a.partitions.into_iter().collect(),
        user_data: a.user_data.map(|d| d.to_vec()),
    })
}

/// Decodes a consumer-protocol subscription (a member's metadata). Empty bytes are an
/// empty subscription.
pub(crate) fn decode_subscription(
    bytes: &[u8],
) -> Result<MemberSubscription, MalformedProtocolData> {
    if bytes.is_empty() {
        return Ok(MemberSubscription::default());
    }
    let s = consumer_protocol::decode_subscription(Bytes::copy_from_slice(bytes))?;
    Ok(MemberSubscription {
        topics: s.topics.into_iter().collect(),
        owned_partitions: s.owned.into_iter().collect(),
        rack: s.rack,
    })
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
