//! `range`: per topic, the subscribed members in order each take a consecutive range;
//! the first `partitions % members` take one extra (Java's `RangeAssignor`).

use std::collections::BTreeMap;

use super::{Member, Plan};
use crate::types::TopicPartition;

pub(super) fn assign(members: &[&Member], partitions: &BTreeMap<String, i32>) -> Plan {
    let mut plan = Plan::new();
    for (topic, &count) in partitions {
        let subscribed: Vec<&&Member> = members
            .iter()
            .filter(|m| m.subscription.topics.contains(topic))
            .collect();
        if subscribed.is_empty() || count <= 0 {
            continue;
        }
        let n = subscribed.len() as i32;
        let (per, extra) = (count / n, count % n);
        for (i, m) in subscribed.iter().enumerate() {
            let i = i as i32;
            let start = per * i + i.min(extra);
            let len = per + i32::from(i < extra);
            let entry = plan.entry(m.id.clone()).or_default();
            entry.extend((start..start + len).map(|p| TopicPartition::new(topic.clone(), p)));
        }
    }
    plan
}

#[cfg(test)]
mod tests {
    use super::super::tests::{assert_complete, member, parts};
    use super::super::*;

    #[test]
    fn ranges_like_java() {
        let members = [
            member("c1", &["t0", "t1"], &[], -1),
            member("c0", &["t0", "t1"], &[], -1),
        ];
        let partitions = BTreeMap::from([("t0".to_string(), 3), ("t1".to_string(), 3)]);
        let plan = assign(AssignmentStrategy::Range, &members, &partitions);
        assert_eq!(parts(&plan, "c0"), ["t0-0", "t0-1", "t1-0", "t1-1"]);
        assert_eq!(parts(&plan, "c1"), ["t0-2", "t1-2"]);
        assert_complete(&plan, &partitions);
    }

    #[test]
    fn only_subscribers_get_a_topic() {
        let members = [
            member("a", &["x"], &[], -1),
            member("b", &["x", "y"], &[], -1),
        ];
        let partitions = BTreeMap::from([("x".to_string(), 2), ("y".to_string(), 2)]);
        let plan = assign(AssignmentStrategy::Range, &members, &partitions);
        assert_eq!(parts(&plan, "a"), ["x-0"]);
        assert_eq!(parts(&plan, "b"), ["x-1", "y-0", "y-1"]);
    }
}
