//! `cooperative-sticky`: a balanced assignment that keeps each partition with its
//! previous owner where balance allows, then (the cooperative part) withholds every
//! partition that changes owner for one round: its old owner revokes it and rejoins, and
//! the follow-up rebalance hands it over. No partition is ever owned by two members.
//!
//! Previous ownership comes from each member's subscription (`owned` and `generation`,
//! as Java and librdkafka send them). A partition claimed by several members goes to
//! the claim of the highest generation; a tie invalidates all claims.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use super::{Member, Plan};
use crate::types::TopicPartition;

pub(super) fn assign(members: &[&Member], partitions: &BTreeMap<String, i32>) -> Plan {
    let all: Vec<TopicPartition> = partitions
        .iter()
        .filter(|(t, _)| members.iter().any(|m| m.subscription.topics.contains(*t)))
        .flat_map(|(t, &n)| (0..n.max(0)).map(move |p| TopicPartition::new(t.clone(), p)))
        .collect();
    let exists: BTreeSet<&TopicPartition> = all.iter().collect();

    // Valid previous owners: highest generation wins; ties void the claim.
    let mut claims: HashMap<&TopicPartition, (i32, Option<usize>)> = HashMap::new();
    for (i, m) in members.iter().enumerate() {
        // Members with an older subscription version carry the generation in user data.
        let generation = match m.subscription.generation {
            -1 => {
                crate::ops::consumer_protocol::sticky_generation(m.subscription.user_data.as_ref())
                    .unwrap_or(-1)
            }
            g => g,
        };
        for tp in &m.subscription.owned {
            if !exists.contains(tp) || !m.subscription.topics.contains(&tp.topic) {
                continue;
            }
            match claims.get_mut(tp) {
                None => {
                    claims.insert(tp, (generation, Some(i)));
                }
                Some((g, owner)) if generation > *g => {
                    *g = generation;
                    *owner = Some(i);
                }
                Some((g, owner)) if generation == *g => *owner = None,
                Some(_) => {}
            }
        }
    }
    let previous: HashMap<TopicPartition, usize> = claims
        .into_iter()
        .filter_map(|(tp, (_, owner))| owner.map(|o| (tp.clone(), o)))
        .collect();

    // Sticky start: everyone keeps what they validly owned.
    let mut owned: Vec<BTreeSet<TopicPartition>> = vec![BTreeSet::new(); members.len()];
    for (tp, &o) in &previous {
        owned[o].insert(tp.clone());
    }
    let subscribed =
        |i: usize, tp: &TopicPartition| members[i].subscription.topics.contains(&tp.topic);

    // Unowned partitions go to the least-loaded subscriber.
    for tp in all.iter().filter(|tp| !previous.contains_key(*tp)) {
        if let Some(i) = (0..members.len())
            .filter(|&i| subscribed(i, tp))
            .min_by_key(|&i| (owned[i].len(), i))
        {
            owned[i].insert(tp.clone());
        }
    }

    // Balance: move from the most to the least loaded member that can take a partition,
    // until no move narrows the spread.
    loop {
        let mut moved = false;
        let mut order: Vec<usize> = (0..members.len()).collect();
        order.sort_by_key(|&i| std::cmp::Reverse(owned[i].len()));
        'outer: for &from in &order {
            for &to in order.iter().rev() {
                if owned[from].len() <= owned[to].len() + 1 {
                    continue;
                }
                // Prefer giving away a partition that `from` did not own before.
                let pick = owned[from]
                    .iter()
                    .filter(|tp| subscribed(to, tp))
                    .min_by_key(|tp| previous.get(*tp) == Some(&from))
                    .cloned();
                if let Some(tp) = pick {
                    owned[from].remove(&tp);
                    owned[to].insert(tp);
                    moved = true;
                    break 'outer;
                }
            }
        }
        if !moved {
            break;
        }
    }

    // Cooperative: a partition moving away from a valid previous owner is withheld.
    let mut plan = Plan::new();
    for (i, m) in members.iter().enumerate() {
        let keep: Vec<TopicPartition> = owned[i]
            .iter()
            .filter(|tp| previous.get(*tp).is_none_or(|&o| o == i))
            .cloned()
            .collect();
        plan.insert(m.id.clone(), keep);
    }
    plan
}

#[cfg(test)]
mod tests {
    use super::super::tests::{assert_complete, member, parts};
    use super::super::*;

    fn count(plan: &Plan, id: &str) -> usize {
        plan[id].len()
    }

    #[test]
    fn fresh_group_is_balanced_and_complete() {
        let members = [
            member("a", &["t"], &[], -1),
            member("b", &["t"], &[], -1),
            member("c", &["t"], &[], -1),
        ];
        let partitions = BTreeMap::from([("t".to_string(), 12)]);
        let plan = assign(AssignmentStrategy::CooperativeSticky, &members, &partitions);
        assert_complete(&plan, &partitions);
        for id in ["a", "b", "c"] {
            assert_eq!(count(&plan, id), 4);
        }
    }

    #[test]
    fn newcomer_gets_partitions_only_after_revocation() {
        let owned_a: Vec<(&str, i32)> = (0..6).map(|p| ("t", p)).collect();
        let owned_b: Vec<(&str, i32)> = (6..12).map(|p| ("t", p)).collect();
        let members = [
            member("a", &["t"], &owned_a, 3),
            member("b", &["t"], &owned_b, 3),
            member("c", &["t"], &[], -1),
        ];
        let partitions = BTreeMap::from([("t".to_string(), 12)]);
        let first = assign(AssignmentStrategy::CooperativeSticky, &members, &partitions);
        // Round one: a and b keep 4 each of what they had; c gets nothing yet.
        assert_eq!(count(&first, "a"), 4);
        assert_eq!(count(&first, "b"), 4);
        assert_eq!(count(&first, "c"), 0);
        for tp in &first["a"] {
            assert!(tp.partition < 6, "a keeps its own: {first:?}");
        }
        // Round two: a and b own 4 each now; c takes the 4 nobody owns.
        let owned_a: Vec<(String, i32)> = first["a"]
            .iter()
            .map(|tp| (tp.topic.clone(), tp.partition))
            .collect();
        let owned_b: Vec<(String, i32)> = first["b"]
            .iter()
            .map(|tp| (tp.topic.clone(), tp.partition))
            .collect();
        let oa: Vec<(&str, i32)> = owned_a.iter().map(|(t, p)| (t.as_str(), *p)).collect();
        let ob: Vec<(&str, i32)> = owned_b.iter().map(|(t, p)| (t.as_str(), *p)).collect();
        let members = [
            member("a", &["t"], &oa, 4),
            member("b", &["t"], &ob, 4),
            member("c", &["t"], &[], 4),
        ];
        let second = assign(AssignmentStrategy::CooperativeSticky, &members, &partitions);
        assert_complete(&second, &partitions);
        assert_eq!(
            parts(&second, "a"),
            parts(&first, "a"),
            "a is not disturbed"
        );
        assert_eq!(
            parts(&second, "b"),
            parts(&first, "b"),
            "b is not disturbed"
        );
        assert_eq!(count(&second, "c"), 4);
    }

    #[test]
    fn conflicting_claims_go_to_the_newest_generation() {
        let members = [
            member("a", &["t"], &[("t", 0)], 5),
            member("b", &["t"], &[("t", 0)], 4),
        ];
        let partitions = BTreeMap::from([("t".to_string(), 2)]);
        let plan = assign(AssignmentStrategy::CooperativeSticky, &members, &partitions);
        assert_eq!(parts(&plan, "a"), ["t-0"]);
        assert_eq!(parts(&plan, "b"), ["t-1"]);
    }
}
