//! The value types of the group calls: states, types, listings, descriptions.

use std::fmt;

use crate::assignment::{MemberAssignment, MemberSubscription};

/// A group's state, as the coordinator names it (Kafka's `GroupState`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum GroupState {
    /// Members are (re)joining.
    PreparingRebalance,
    /// Waiting for the leader's assignment (classic protocol).
    CompletingRebalance,
    /// Members are consuming.
    Stable,
    /// The group has no members but may have committed offsets.
    Empty,
    /// The group is gone (or never existed).
    Dead,
    /// Computing a new assignment (consumer protocol).
    Assigning,
    /// Members are converging to a new assignment (consumer protocol).
    Reconciling,
    /// Share and streams groups that are not ready.
    NotReady,
    /// A state this client does not know, as the broker spelled it.
    Other(String),
}

impl GroupState {
    /// The state for a broker's name for it (case-insensitive, as in Java).
    pub fn parse(s: &str) -> Self {
        match s.to_ascii_lowercase().as_str() {
            "preparingrebalance" => Self::PreparingRebalance,
            "completingrebalance" => Self::CompletingRebalance,
            "stable" => Self::Stable,
            "empty" => Self::Empty,
            "dead" => Self::Dead,
            "assigning" => Self::Assigning,
            "reconciling" => Self::Reconciling,
            "notready" => Self::NotReady,
            _ => Self::Other(s.to_string()),
        }
    }

    /// The name the protocol uses (`Stable`, `Empty`, ...).
    pub fn as_str(&self) -> &str {
        match self {
            Self::PreparingRebalance => "PreparingRebalance",
            Self::CompletingRebalance => "CompletingRebalance",
            Self::Stable => "Stable",
            Self::Empty => "Empty",
            Self::Dead => "Dead",
            Self::Assigning => "Assigning",
            Self::Reconciling => "Reconciling",
            Self::NotReady => "NotReady",
            Self::Other(s) => s,
        }
    }
}

impl fmt::Display for GroupState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which group protocol a group uses (Kafka's `GroupType`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum GroupType {
    /// The classic (JoinGroup/SyncGroup) protocol.
    Classic,
    /// The consumer protocol of KIP-848.
    Consumer,
    /// A share group (KIP-932).
    Share,
    /// A streams group (KIP-1071).
    Streams,
    /// A type this client does not know, as the broker spelled it.
    Other(String),
}

impl GroupType {
    /// The type for a broker's name for it (case-insensitive).
    pub fn parse(s: &str) -> Self {
        match s.to_ascii_lowercase().as_str() {
            "classic" => Self::Classic,
            "consumer" => Self::Consumer,
            "share" => Self::Share,
            "streams" => Self::Streams,
            _ => Self::Other(s.to_string()),
        }
    }

    /// The name the protocol uses (`classic`, `consumer`, ...).
    pub fn as_str(&self) -> &str {
        match self {
            Self::Classic => "classic",
            Self::Consumer => "consumer",
            Self::Share => "share",
            Self::Streams => "streams",
            Self::Other(s) => s,
        }
    }
}

impl fmt::Display for GroupType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A group as listed by [`crate::Admin::list_groups`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct GroupListing {
    /// Group id.
    pub group_id: String,
    /// Protocol type: `consumer` for consumer groups, `connect`, ..., or empty for a group
    /// that only stores offsets.
    pub protocol_type: String,
    /// State (ListGroups v4+).
    pub state: Option<GroupState>,
    /// Group type (ListGroups v5+).
    pub group_type: Option<GroupType>,
}

/// One member of a consumer group.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct MemberDescription {
    /// Member id.
    pub member_id: String,
    /// Static membership id (`group.instance.id`), if set.
    pub group_instance_id: Option<String>,
    /// The member's `client.id`.
    pub client_id: String,
    /// The member's host, as the coordinator saw it (e.g. `/127.0.0.1`).
    pub host: String,
    /// Assigned partitions (empty while the member has no assignment).
    pub assignment: MemberAssignment,
    /// Subscribed topics (`None` for groups not using the consumer protocol).
    pub subscription: Option<MemberSubscription>,
    /// The member's epoch (consumer-protocol groups only).
    pub member_epoch: Option<i32>,
    /// The assignment the coordinator is moving the member to (consumer-protocol groups
    /// only); equal to [`assignment`](Self::assignment) once the member reconciled.
    pub target_assignment: Option<MemberAssignment>,
    /// The subscription regex, for a member subscribed by pattern (consumer protocol).
    pub subscribed_regex: Option<String>,
    /// Whether a consumer-protocol group's member speaks the classic protocol (a member
    /// of a mixed group); `None` when the broker does not say (ConsumerGroupDescribe v0,
    /// classic groups).
    pub classic_member: Option<bool>,
}

/// A consumer group as described by [`crate::Admin::describe_consumer_groups`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConsumerGroupDescription {
    /// Group id.
    pub group_id: String,
    /// The group protocol: `Classic` (JoinGroup/SyncGroup) or `Consumer` (KIP-848).
    pub group_type: GroupType,
    /// Whether the group only stores offsets (no protocol type, no members).
    pub is_simple_consumer_group: bool,
    /// Protocol type (`consumer`, or empty for a simple group).
    pub protocol_type: String,
    /// The assignor in use (`range`, `roundrobin`, ...; empty when none).
    pub assignor: String,
    /// State.
    pub state: GroupState,
    /// Members.
    pub members: Vec<MemberDescription>,
    /// The group epoch (consumer-protocol groups only): bumped on every membership or
    /// subscription change.
    pub group_epoch: Option<i32>,
    /// The epoch of the group's target assignment (consumer-protocol groups only); the
    /// assignment is stable when every member's epoch reached it.
    pub assignment_epoch: Option<i32>,
    /// Node id of the group's coordinator.
    pub coordinator: i32,
    /// Address of the group's coordinator.
    pub coordinator_address: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_parse_case_insensitively_and_keep_unknown_names() {
        assert_eq!(GroupState::parse("Stable"), GroupState::Stable);
        assert_eq!(GroupState::parse("EMPTY"), GroupState::Empty);
        assert_eq!(
            GroupState::parse("Frobnicating"),
            GroupState::Other("Frobnicating".into())
        );
        assert_eq!(
            GroupState::CompletingRebalance.to_string(),
            "CompletingRebalance"
        );
        assert_eq!(GroupType::parse("Classic"), GroupType::Classic);
        assert_eq!(GroupType::Consumer.to_string(), "consumer");
    }
}
