//! The server-side assignors of KIP-848 consumer groups, as the broker names them:
//! `uniform` (the default: partitions spread evenly over the members subscribed to
//! them, each member keeping what it had where balance allows) and `range` (per topic,
//! contiguous ranges over the subscribed members in member-id order), and the
//! share-group assignment (every partition to at least one member).

use std::collections::{BTreeMap, BTreeSet};

use kafka_client::Uuid;

/// Partitions by topic id.
pub type Assignment = BTreeMap<Uuid, BTreeSet<i32>>;

/// The topics the cluster knows: name → (id, partition count).
pub type Topics = BTreeMap<String, (Uuid, i32)>;

/// The assignor names the coordinator accepts.
pub(crate) const ASSIGNORS: [&str; 2] = ["uniform", "range"];

/// One member as an assignor sees it.
#[derive(Debug, Clone)]
pub(crate) struct Subscriber<'a> {
    pub topics: &'a BTreeSet<String>,
    /// What the member was assigned before (stickiness).
    pub previous: &'a Assignment,
}

/// Every partition of the topics someone subscribes to: (topic id, partition) and the
/// members subscribed to it.
fn partitions<'a>(
    members: &'a BTreeMap<String, Subscriber<'a>>,
    topics: &Topics,
) -> Vec<((Uuid, i32), Vec<&'a str>)> {
    let mut out = Vec::new();
    for (name, &(id, count)) in topics {
        let subscribed: Vec<&str> = members
            .iter()
            .filter(|(_, s)| s.topics.contains(name))
            .map(|(m, _)| m.as_str())
            .collect();
        if subscribed.is_empty() {
            continue;
        }
        for p in 0..count {
            out.push(((id, p), subscribed.clone()));
        }
    }
    out
}

/// The target assignment of every member (members with nothing get an empty one).
pub(crate) fn assign(
    assignor: &str,
    members: &BTreeMap<String, Subscriber<'_>>,
    topics: &Topics,
) -> BTreeMap<String, Assignment> {
    let mut out: BTreeMap<String, Assignment> = members
        .keys()
        .map(|m| (m.clone(), Assignment::new()))
        .collect();
    if assignor == "range" {
        for (name, &(id, count)) in topics {
            let subscribed: Vec<&String> = members
                .iter()
                .filter(|(_, s)| s.topics.contains(name))
                .map(|(m, _)| m)
                .collect();
            let n = subscribed.len() as i32;
            if n == 0 {
                continue;
            }
            let (each, extra) = (count / n, count % n);
            let mut next = 0;
            for (i, m) in subscribed.into_iter().enumerate() {
                let take = each + i32::from((i as i32) < extra);
                let set = out.get_mut(m).expect("member").entry(id).or_default();
                set.extend(next..next + take);
                next += take;
            }
        }
    } else {
        uniform(members, topics, &mut out);
    }
    out.values_mut()
        .for_each(|a| a.retain(|_, ps| !ps.is_empty()));
    out
}

/// Even spread with stickiness: each member keeps its previous partitions up to its
/// quota (the ceiling of the partitions it may take over the members sharing them),
/// then each remaining partition goes to the subscribed member holding fewest.
fn uniform(
    members: &BTreeMap<String, Subscriber<'_>>,
    topics: &Topics,
    out: &mut BTreeMap<String, Assignment>,
) {
    let all = partitions(members, topics);
    let total = all.len();
    let mut count: BTreeMap<&str, usize> = members.keys().map(|m| (m.as_str(), 0)).collect();
    let quota = |m: &str| -> usize {
        // Partitions this member could take, shared with the members subscribed to them.
        let eligible = all.iter().filter(|(_, subs)| subs.contains(&m)).count();
        let sharers: BTreeSet<&str> = all
            .iter()
            .filter(|(_, subs)| subs.contains(&m))
            .flat_map(|(_, subs)| subs.iter().copied())
            .collect();
        eligible.div_ceil(sharers.len().max(1)).min(total)
    };
    let quotas: BTreeMap<&str, usize> = members.keys().map(|m| (m.as_str(), quota(m))).collect();
    let mut free = Vec::new();
    for (tp, subs) in &all {
        let keeper = subs.iter().copied().find(|m| {
            members[*m]
                .previous
                .get(&tp.0)
                .is_some_and(|ps| ps.contains(&tp.1))
                && count[m] < quotas[m]
        });
        match keeper {
            Some(m) => {
                *count.get_mut(m).expect("member") += 1;
                out.get_mut(m)
                    .expect("member")
                    .entry(tp.0)
                    .or_default()
                    .insert(tp.1);
            }
            None => free.push((*tp, subs)),
        }
    }
    for (tp, subs) in free {
        let m = subs
            .iter()
            .copied()
            .min_by_key(|m| (count[m], *m))
            .expect("subscribed members");
        *count.get_mut(m).expect("member") += 1;
        out.get_mut(m)
            .expect("member")
            .entry(tp.0)
            .or_default()
            .insert(tp.1);
    }
}

/// A share group's assignment: with at least as many partitions as members, each
/// partition goes to one member (round-robin); with fewer, every member gets one
/// partition, so partitions are shared and none is left out.
pub(crate) fn share_assign(
    members: &BTreeMap<String, BTreeSet<String>>,
    topics: &Topics,
) -> BTreeMap<String, Assignment> {
    let subs: BTreeMap<String, Subscriber<'_>> = members
        .iter()
        .map(|(m, t)| {
            (
                m.clone(),
                Subscriber {
                    topics: t,
                    previous: &EMPTY,
                },
            )
        })
        .collect();
    let mut out: BTreeMap<String, Assignment> = members
        .keys()
        .map(|m| (m.clone(), Assignment::new()))
        .collect();
    for (name, &(id, count)) in topics {
        let subscribed: Vec<&String> = subs
            .iter()
            .filter(|(_, s)| s.topics.contains(name))
            .map(|(m, _)| m)
            .collect();
        let n = subscribed.len() as i32;
        if n == 0 {
            continue;
        }
        if count >= n {
            for p in 0..count {
                let m = subscribed[(p % n) as usize];
                out.get_mut(m)
                    .expect("member")
                    .entry(id)
                    .or_default()
                    .insert(p);
            }
        } else {
            for (i, m) in subscribed.into_iter().enumerate() {
                let p = i as i32 % count;
                out.get_mut(m)
                    .expect("member")
                    .entry(id)
                    .or_default()
                    .insert(p);
            }
        }
    }
    out
}

static EMPTY: Assignment = Assignment::new();

#[cfg(test)]
mod tests {
    use super::*;

    fn topics(list: &[(&str, u128, i32)]) -> Topics {
        list.iter()
            .map(|(n, id, c)| (n.to_string(), (Uuid::from_u128(*id), *c)))
            .collect()
    }

    fn flat(a: &BTreeMap<String, Assignment>) -> Vec<(String, u128, i32)> {
        let mut out = Vec::new();
        for (m, a) in a {
            for (id, ps) in a {
                out.extend(ps.iter().map(|p| (m.clone(), id.as_u128(), *p)));
            }
        }
        out
    }

    #[test]
    fn uniform_is_disjoint_complete_balanced_and_sticky() {
        let t = topics(&[("a", 1, 7), ("b", 2, 5)]);
        let subs: BTreeSet<String> = ["a".to_string(), "b".to_string()].into();
        let none = Assignment::new();
        let members: BTreeMap<String, Subscriber<'_>> = ["m1", "m2", "m3"]
            .iter()
            .map(|m| {
                (
                    m.to_string(),
                    Subscriber {
                        topics: &subs,
                        previous: &none,
                    },
                )
            })
            .collect();
        let first = assign("uniform", &members, &t);
        let all = flat(&first);
        assert_eq!(all.len(), 12, "complete");
        let distinct: BTreeSet<(u128, i32)> = all.iter().map(|(_, t, p)| (*t, *p)).collect();
        assert_eq!(distinct.len(), 12, "disjoint");
        for a in first.values() {
            assert_eq!(a.values().map(BTreeSet::len).sum::<usize>(), 4, "balanced");
        }
        // A fourth member joins: the others keep 3 of their 4 each.
        let mut members: BTreeMap<String, Subscriber<'_>> = first
            .iter()
            .map(|(m, a)| {
                (
                    m.clone(),
                    Subscriber {
                        topics: &subs,
                        previous: a,
                    },
                )
            })
            .collect();
        members.insert(
            "m4".into(),
            Subscriber {
                topics: &subs,
                previous: &none,
            },
        );
        let second = assign("uniform", &members, &t);
        for m in ["m1", "m2", "m3"] {
            let kept: usize = second[m]
                .iter()
                .map(|(id, ps)| ps.intersection(&first[m][id]).count())
                .sum();
            assert_eq!(kept, 3, "{m} keeps what balance allows");
        }
        assert_eq!(flat(&second).len(), 12);
    }

    #[test]
    fn range_gives_contiguous_ranges_in_member_order() {
        let t = topics(&[("a", 1, 7)]);
        let subs: BTreeSet<String> = ["a".to_string()].into();
        let none = Assignment::new();
        let members: BTreeMap<String, Subscriber<'_>> = ["x", "y"]
            .iter()
            .map(|m| {
                (
                    m.to_string(),
                    Subscriber {
                        topics: &subs,
                        previous: &none,
                    },
                )
            })
            .collect();
        let a = assign("range", &members, &t);
        let id = Uuid::from_u128(1);
        assert_eq!(a["x"][&id], (0..4).collect());
        assert_eq!(a["y"][&id], (4..7).collect());
    }

    #[test]
    fn share_assignment_covers_every_partition_and_shares_when_members_outnumber() {
        let t = topics(&[("a", 1, 1)]);
        let members: BTreeMap<String, BTreeSet<String>> = ["m1", "m2"]
            .iter()
            .map(|m| (m.to_string(), ["a".to_string()].into()))
            .collect();
        let a = share_assign(&members, &t);
        let id = Uuid::from_u128(1);
        assert_eq!(a["m1"][&id], [0].into());
        assert_eq!(a["m2"][&id], [0].into());
    }
}
