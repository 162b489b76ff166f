//! What the share consumer hands out and takes back: [`ShareRecord`] (a consumed record
//! with its delivery count), [`AcknowledgeType`], the per-record [`AcknowledgeError`]
//! of `acknowledge`, and the per-partition [`AcknowledgementCommit`] results of `commit`
//! and of the [`AcknowledgementCommitCallback`].

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::ops::Deref;

use crate::consumer::ConsumerRecord;
use crate::error::Error;
use crate::types::TopicPartition;

/// How a record is acknowledged (KIP-932; `Renew` is KIP-1222).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AcknowledgeType {
    /// Processed: the record is done for the group.
    Accept,
    /// Not processed: the record goes back to the group and is delivered again (to any
    /// member), its delivery count one higher.
    Release,
    /// Unprocessable: the record is archived and never delivered again.
    Reject,
    /// Still being processed: the acquisition lock is extended (brokers with ShareFetch
    /// v2, Kafka 4.2 and later); the record must still be accepted, released or
    /// rejected afterwards.
    Renew,
}

impl AcknowledgeType {
    /// The wire code (0 is a gap, an offset without a record, sent by the client only).
    pub(crate) fn wire(self) -> i8 {
        match self {
            Self::Accept => 1,
            Self::Release => 2,
            Self::Reject => 3,
            Self::Renew => 4,
        }
    }
}

impl std::str::FromStr for AcknowledgeType {
    type Err = Error;
    fn from_str(s: &str) -> crate::Result<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "accept" => Ok(Self::Accept),
            "release" => Ok(Self::Release),
            "reject" => Ok(Self::Reject),
            "renew" => Ok(Self::Renew),
            _ => Err(crate::config::bad_value(
                "acknowledge type",
                s,
                "accept, release, reject or renew",
            )),
        }
    }
}

/// One record delivered by a share group: the record and how many times the group has
/// delivered it (1 the first time; more after a release or an expired lock).
/// Dereferences to the [`ConsumerRecord`].
#[derive(Clone, PartialEq, Eq)]
pub struct ShareRecord {
    /// The record.
    pub record: ConsumerRecord,
    /// How many times the record has been delivered, this delivery included.
    pub delivery_count: i16,
    /// Which consumer and which poll handed it out (checked by `acknowledge`).
    pub(crate) token: PollToken,
}

/// The consumer instance and poll a record came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct PollToken {
    pub consumer: u64,
    pub poll: u64,
}

impl ShareRecord {
    /// The record's topic and partition.
    pub fn topic_partition(&self) -> TopicPartition {
        self.record.topic_partition()
    }
}

impl Deref for ShareRecord {
    type Target = ConsumerRecord;
    fn deref(&self) -> &ConsumerRecord {
        &self.record
    }
}

impl fmt::Debug for ShareRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ShareRecord")
            .field("topic", &self.record.topic)
            .field("partition", &self.record.partition)
            .field("offset", &self.record.offset)
            .field("delivery_count", &self.delivery_count)
            .finish_non_exhaustive()
    }
}

/// Why a record is no longer held by this consumer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum NotHeldReason {
    /// Its acquisition lock expired (`group.share.record.lock.duration.ms`): the group
    /// may have delivered it to another member.
    LockExpired,
    /// The member was fenced by the group (missed heartbeats): its records went back.
    Fenced,
    /// The partition was assigned away from this member.
    Revoked,
    /// The record was handed out by another consumer, or is not known at all.
    Unknown,
}

impl fmt::Display for NotHeldReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::LockExpired => "its acquisition lock expired",
            Self::Fenced => "the member was fenced",
            Self::Revoked => "its partition was assigned away",
            Self::Unknown => "this consumer did not deliver it",
        })
    }
}

/// Why `ShareConsumer::acknowledge` refused a record. Nothing was recorded.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AcknowledgeError {
    /// The record was already acknowledged (with `previous`).
    #[error("{topic}-{partition} offset {offset} is already acknowledged ({previous:?})")]
    AlreadyAcknowledged {
        /// The topic.
        topic: String,
        /// The partition.
        partition: i32,
        /// The offset.
        offset: i64,
        /// The acknowledgement given before.
        previous: AcknowledgeType,
    },
    /// Implicit mode: the record came from an earlier poll, whose records were all
    /// accepted when the next poll (or commit) began.
    #[error(
        "{topic}-{partition} offset {offset} is from an earlier poll, already accepted implicitly"
    )]
    NotFromLatestPoll {
        /// The topic.
        topic: String,
        /// The partition.
        partition: i32,
        /// The offset.
        offset: i64,
    },
    /// The record is no longer held by this consumer (see [`NotHeldReason`]).
    #[error("{topic}-{partition} offset {offset} is no longer held: {reason}")]
    NotHeld {
        /// The topic.
        topic: String,
        /// The partition.
        partition: i32,
        /// The offset.
        offset: i64,
        /// Why.
        reason: NotHeldReason,
    },
    /// The consumer is closed.
    #[error("the share consumer is closed")]
    Closed,
}

impl From<AcknowledgeError> for Error {
    fn from(e: AcknowledgeError) -> Self {
        match e {
            AcknowledgeError::Closed => Error::Closed,
            other => Error::InvalidState(other.to_string()),
        }
    }
}

/// The outcome of the acknowledgements of one partition sent in one request.
#[derive(Clone, Debug)]
pub struct AcknowledgementCommit {
    /// The offsets acknowledged (gaps excluded).
    pub offsets: BTreeSet<i64>,
    /// `None` when the broker took them; otherwise why not, e.g. a broker error with
    /// code `INVALID_RECORD_STATE` when the records were no longer acquired by this
    /// member (lock expired, member fenced).
    pub error: Option<Error>,
}

/// Per-partition results of acknowledgements.
pub type AcknowledgementResults = BTreeMap<TopicPartition, AcknowledgementCommit>;

/// Told about every acknowledgement the broker answered (sent by `commit`, by `close`
/// or on a fetch), from the task that got the answer. Keep it quick.
pub trait AcknowledgementCommitCallback: Send + Sync + 'static {
    /// The results of one request's acknowledgements, by partition.
    fn on_complete(&self, results: &AcknowledgementResults);
}

impl<F> AcknowledgementCommitCallback for F
where
    F: Fn(&AcknowledgementResults) + Send + Sync + 'static,
{
    fn on_complete(&self, results: &AcknowledgementResults) {
        self(results)
    }
}
