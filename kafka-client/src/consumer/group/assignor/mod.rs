//! Partition assignors, run by the group leader. Each is named by the protocol name it
//! registers in JoinGroup (`range`, `roundrobin`, `cooperative-sticky`), and each gives
//! the same answer as the Java assignor of that name for the common cases, so mixed
//! groups agree on who reads what.

mod cooperative_sticky;
mod range;
mod roundrobin;

use std::cmp::Ordering;
use std::collections::BTreeMap;

use crate::consumer::builder::AssignmentStrategy;
use crate::types::TopicPartition;

use crate::ops::consumer_protocol::MemberSubscription;

/// One member as the leader sees it in the JoinGroup response.
#[derive(Clone, Debug)]
pub(crate) struct Member {
    pub id: String,
    pub instance_id: Option<String>,
    pub subscription: MemberSubscription,
}

/// Java's member order: static members first by instance id, then dynamic ones by
/// member id.
pub(crate) fn member_order(a: &Member, b: &Member) -> Ordering {
    match (&a.instance_id, &b.instance_id) {
        (Some(x), Some(y)) => x.cmp(y),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => a.id.cmp(&b.id),
    }
}

/// Member id → its partitions.
pub(crate) type Plan = BTreeMap<String, Vec<TopicPartition>>;

/// Assigns `partitions` (topic → partition count) among `members` with `strategy`.
/// Every member appears in the plan, possibly with nothing.
pub(crate) fn assign(
    strategy: AssignmentStrategy,
    members: &[Member],
    partitions: &BTreeMap<String, i32>,
) -> Plan {
    let mut sorted: Vec<&Member> = members.iter().collect();
    sorted.sort_by(|a, b| member_order(a, b));
    let mut plan = match strategy {
        AssignmentStrategy::Range => range::assign(&sorted, partitions),
        AssignmentStrategy::RoundRobin => roundrobin::assign(&sorted, partitions),
        AssignmentStrategy::CooperativeSticky => cooperative_sticky::assign(&sorted, partitions),
    };
    for m in members {
        plan.entry(m.id.clone()).or_default().sort();
    }
    plan
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn member(
        id: &str,
        topics: &[&str],
        owned: &[(&str, i32)],
        generation: i32,
    ) -> Member {
        Member {
            id: id.into(),
            instance_id: None,
            subscription: MemberSubscription {
                topics: topics.iter().map(|t| t.to_string()).collect(),
                user_data: None,
                owned: owned
                    .iter()
                    .map(|(t, p)| TopicPartition::new(*t, *p))
                    .collect(),
                generation,
                rack: None,
            },
        }
    }

    pub(crate) fn parts(plan: &Plan, id: &str) -> Vec<String> {
        plan[id].iter().map(|tp| tp.to_string()).collect()
    }

    /// Every partition of a subscribed topic is assigned exactly once.
    pub(crate) fn assert_complete(plan: &Plan, partitions: &BTreeMap<String, i32>) {
        let mut seen = std::collections::BTreeSet::new();
        for tps in plan.values() {
            for tp in tps {
                assert!(seen.insert(tp.clone()), "{tp} assigned twice: {plan:?}");
            }
        }
        let total: i32 = partitions.values().sum();
        assert_eq!(seen.len() as i32, total, "{plan:?}");
    }
}
