//! Reconciliation, sans I/O: the coordinator's target assignment names topics by id;
//! resolved to names through metadata it becomes what to revoke (owned, no longer in
//! the target) and what to assign (in the target, not owned). Partitions of topics not
//! in metadata yet are held until their names are known; they are neither assigned nor
//! a reason to revoke anything else.

use std::collections::{BTreeMap, BTreeSet};

use uuid::Uuid;

use super::heartbeat_state::ByTopicId;
use crate::cluster::ClusterMetadata;
use crate::types::TopicPartition;

/// The steps that bring the owned set to the target.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Plan {
    /// Owned but not in the target: revoked first (commit, listener `revoked`).
    pub revoke: Vec<TopicPartition>,
    /// In the target but not owned: assigned once the revocations are done.
    pub assign: Vec<TopicPartition>,
    /// Topic ids of the target whose names are not known yet.
    pub unresolved: BTreeSet<Uuid>,
}

/// What it takes to go from `owned` to `target`, with topic names from `names`.
pub(crate) fn plan(
    target: &ByTopicId,
    names: &BTreeMap<Uuid, String>,
    owned: &BTreeSet<TopicPartition>,
) -> Plan {
    let mut wanted = BTreeSet::new();
    let mut unresolved = BTreeSet::new();
    for (id, parts) in target {
        match names.get(id) {
            Some(name) => wanted.extend(parts.iter().map(|p| TopicPartition::new(name, *p))),
            None => {
                unresolved.insert(*id);
            }
        }
    }
    Plan {
        revoke: owned.difference(&wanted).cloned().collect(),
        assign: wanted.difference(owned).cloned().collect(),
        unresolved,
    }
}

/// Adds to `names` the topics of `meta` whose ids `target` names.
pub(crate) fn resolve(
    target: &ByTopicId,
    meta: &ClusterMetadata,
    names: &mut BTreeMap<Uuid, String>,
) {
    for t in meta.topics.values() {
        if target.contains_key(&t.id) {
            names.insert(t.id, t.name.clone());
        }
    }
}

/// The owned partitions by topic id, as a heartbeat reports them (partitions of
/// topics whose id is not known are left out).
pub(crate) fn owned_by_id(
    owned: &BTreeSet<TopicPartition>,
    names: &BTreeMap<Uuid, String>,
) -> ByTopicId {
    let ids: BTreeMap<&str, Uuid> = names.iter().map(|(id, n)| (n.as_str(), *id)).collect();
    let mut out = ByTopicId::new();
    for tp in owned {
        if let Some(id) = ids.get(tp.topic.as_str()) {
            out.entry(*id).or_default().insert(tp.partition);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u128) -> Uuid {
        Uuid::from_u128(n)
    }

    fn tps(list: &[(&str, i32)]) -> BTreeSet<TopicPartition> {
        list.iter()
            .map(|(t, p)| TopicPartition::new(*t, *p))
            .collect()
    }

    #[test]
    fn revokes_what_left_the_target_and_assigns_what_joined_it() {
        let names = BTreeMap::from([(id(1), "a".to_string()), (id(2), "b".to_string())]);
        let target = ByTopicId::from([
            (id(1), BTreeSet::from([0, 2])),
            (id(2), BTreeSet::from([1])),
        ]);
        let owned = tps(&[("a", 0), ("a", 1)]);
        let p = plan(&target, &names, &owned);
        assert_eq!(p.revoke, vec![TopicPartition::new("a", 1)]);
        assert_eq!(
            p.assign,
            vec![TopicPartition::new("a", 2), TopicPartition::new("b", 1)]
        );
        assert!(p.unresolved.is_empty());
        let done = tps(&[("a", 0), ("a", 2), ("b", 1)]);
        let p = plan(&target, &names, &done);
        assert!(p.revoke.is_empty() && p.assign.is_empty());
    }

    #[test]
    fn partitions_of_unknown_topic_ids_are_held_not_assigned() {
        let names = BTreeMap::from([(id(1), "a".to_string())]);
        let target = ByTopicId::from([
            (id(1), BTreeSet::from([0])),
            (id(9), BTreeSet::from([0, 1])),
        ]);
        let p = plan(&target, &names, &BTreeSet::new());
        assert_eq!(p.assign, vec![TopicPartition::new("a", 0)]);
        assert_eq!(p.unresolved, BTreeSet::from([id(9)]));
        assert!(p.revoke.is_empty());
    }

    #[test]
    fn owned_partitions_are_reported_by_topic_id() {
        let names = BTreeMap::from([(id(1), "a".to_string()), (id(2), "b".to_string())]);
        let owned = tps(&[("a", 3), ("b", 0), ("a", 1), ("unknown", 0)]);
        assert_eq!(
            owned_by_id(&owned, &names),
            ByTopicId::from([
                (id(1), BTreeSet::from([1, 3])),
                (id(2), BTreeSet::from([0]))
            ])
        );
    }
}
