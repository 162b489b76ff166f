//! `roundrobin`: every partition of every topic in (topic, partition) order, dealt in
//! turn to the members in order, skipping members not subscribed to its topic (Java's
//! `RoundRobinAssignor`).

use std::collections::BTreeMap;

use super::{Member, Plan};
use crate::types::TopicPartition;

pub(super) fn assign(members: &[&Member], partitions: &BTreeMap<String, i32>) -> Plan {
    let mut plan = Plan::new();
    if members.is_empty() {
        return plan;
    }
    let mut next = 0usize;
    for (topic, &count) in partitions {
        if !members
            .iter()
            .any(|m| m.subscription.topics.contains(topic))
        {
            continue;
        }
        for p in 0..count.max(0) {
            // Advance the circular iterator to the next member subscribed to `topic`.
            loop {
                let m = members[next % members.len()];
                next = next.wrapping_add(1);
                if m.subscription.topics.contains(topic) {
                    plan.entry(m.id.clone())
                        .or_default()
                        .push(TopicPartition::new(topic.clone(), p));
                    break;
                }
            }
        }
    }
    plan
}

#[cfg(test)]
mod tests {
    use super::super::tests::{assert_complete, member, parts};
    use super::super::*;

    #[test]
    fn deals_in_turn() {
        let members = [
            member("c0", &["t0", "t1"], &[], -1),
            member("c1", &["t0", "t1"], &[], -1),
        ];
        let partitions = BTreeMap::from([("t0".to_string(), 3), ("t1".to_string(), 3)]);
        let plan = assign(AssignmentStrategy::RoundRobin, &members, &partitions);
        assert_eq!(parts(&plan, "c0"), ["t0-0", "t0-2", "t1-1"]);
        assert_eq!(parts(&plan, "c1"), ["t0-1", "t1-0", "t1-2"]);
        assert_complete(&plan, &partitions);
    }
}
