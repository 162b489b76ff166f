//! The assignors (Java's `RangeAssignorTest`, `RoundRobinAssignorTest`,
//! `CooperativeStickyAssignorTest`): balance, Java's member order, stickiness and the
//! claims of previous owners.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};

use crate::consumer::builder::AssignmentStrategy::{self, CooperativeSticky, Range, RoundRobin};
use crate::consumer::group::assignor::{Member, Plan, assign, member_order};
use crate::ops::consumer_protocol::{MemberSubscription, sticky_user_data};
use crate::types::TopicPartition;

fn member(id: &str, topics: &[&str]) -> Member {
    Member {
        id: id.into(),
        instance_id: None,
        subscription: MemberSubscription {
            topics: topics.iter().map(|t| t.to_string()).collect(),
            user_data: None,
            owned: Vec::new(),
            generation: -1,
            rack: None,
        },
    }
}

fn owning(mut m: Member, owned: &[(&str, i32)], generation: i32) -> Member {
    m.subscription.owned = owned
        .iter()
        .map(|(t, p)| TopicPartition::new(*t, *p))
        .collect();
    m.subscription.generation = generation;
    m
}

fn static_member(id: &str, instance: &str, topics: &[&str]) -> Member {
    let mut m = member(id, topics);
    m.instance_id = Some(instance.into());
    m
}

fn topics(t: &[(&str, i32)]) -> BTreeMap<String, i32> {
    t.iter().map(|(n, c)| (n.to_string(), *c)).collect()
}

fn names(plan: &Plan, id: &str) -> Vec<String> {
    plan[id].iter().map(|tp| tp.to_string()).collect()
}

fn run(s: AssignmentStrategy, members: &[Member], parts: &[(&str, i32)]) -> Plan {
    assign(s, members, &topics(parts))
}

/// No partition twice, and every partition of a subscribed topic once.
fn assert_complete(plan: &Plan, members: &[Member], parts: &[(&str, i32)]) {
    let mut seen = BTreeSet::new();
    for tps in plan.values() {
        for tp in tps {
            assert!(seen.insert(tp.clone()), "{tp} twice: {plan:?}");
        }
    }
    let expected: usize = parts
        .iter()
        .filter(|(t, _)| members.iter().any(|m| m.subscription.topics.contains(*t)))
        .map(|(_, n)| (*n).max(0) as usize)
        .sum();
    assert_eq!(seen.len(), expected, "{plan:?}");
}

#[test]
fn java_member_order_puts_static_members_first_by_instance_id() {
    let a = member("a", &[]);
    let b = member("b", &[]);
    let s1 = static_member("zz", "i1", &[]);
    let s2 = static_member("aa", "i2", &[]);
    assert_eq!(member_order(&a, &b), Ordering::Less);
    assert_eq!(member_order(&b, &a), Ordering::Greater);
    assert_eq!(
        member_order(&s1, &a),
        Ordering::Less,
        "static before dynamic"
    );
    assert_eq!(member_order(&a, &s1), Ordering::Greater);
    assert_eq!(
        member_order(&s1, &s2),
        Ordering::Less,
        "by instance id, not member id"
    );
    assert_eq!(member_order(&s1, &s1), Ordering::Equal);
}

#[test]
fn range_gives_the_extra_partitions_to_the_first_members() {
    let members = [
        member("c2", &["t"]),
        member("c0", &["t"]),
        member("c1", &["t"]),
    ];
    let plan = run(Range, &members, &[("t", 7)]);
    assert_eq!(names(&plan, "c0"), ["t-0", "t-1", "t-2"]);
    assert_eq!(names(&plan, "c1"), ["t-3", "t-4"]);
    assert_eq!(names(&plan, "c2"), ["t-5", "t-6"]);
}

#[test]
fn range_with_more_members_than_partitions_leaves_the_last_empty() {
    let members = [
        member("a", &["t"]),
        member("b", &["t"]),
        member("c", &["t"]),
    ];
    let plan = run(Range, &members, &[("t", 2)]);
    assert_eq!(names(&plan, "a"), ["t-0"]);
    assert_eq!(names(&plan, "b"), ["t-1"]);
    assert!(plan["c"].is_empty(), "present with nothing: {plan:?}");
}

#[test]
fn range_orders_static_members_first() {
    let members = [
        member("a", &["t"]),
        static_member("b", "z", &["t"]),
        static_member("c", "y", &["t"]),
    ];
    let plan = run(Range, &members, &[("t", 3)]);
    assert_eq!(names(&plan, "c"), ["t-0"]);
    assert_eq!(names(&plan, "b"), ["t-1"]);
    assert_eq!(names(&plan, "a"), ["t-2"]);
}

#[test]
fn range_skips_empty_and_unsubscribed_topics() {
    let members = [member("a", &["t", "e", "n"]), member("b", &["t"])];
    let plan = run(Range, &members, &[("e", 0), ("n", -1), ("t", 2), ("x", 4)]);
    assert_eq!(names(&plan, "a"), ["t-0"]);
    assert_eq!(names(&plan, "b"), ["t-1"]);
}

#[test]
fn range_assigns_each_topic_independently() {
    // Range does not balance across topics: the first member gets the extra of each.
    let members = [member("a", &["x", "y"]), member("b", &["x", "y"])];
    let parts = [("x", 3), ("y", 3)];
    let plan = run(Range, &members, &parts);
    assert_eq!(plan["a"].len(), 4);
    assert_eq!(plan["b"].len(), 2);
    assert_complete(&plan, &members, &parts);
}

#[test]
fn roundrobin_keeps_dealing_across_topics() {
    let members = [member("c0", &["t0", "t1"]), member("c1", &["t0", "t1"])];
    let plan = run(RoundRobin, &members, &[("t0", 1), ("t1", 1)]);
    assert_eq!(names(&plan, "c0"), ["t0-0"]);
    assert_eq!(names(&plan, "c1"), ["t1-0"]);
}

#[test]
fn roundrobin_skips_members_not_subscribed_to_a_topic() {
    let members = [
        member("a", &["x"]),
        member("b", &["x", "y"]),
        member("c", &["y"]),
    ];
    let parts = [("x", 3), ("y", 3)];
    let plan = run(RoundRobin, &members, &parts);
    assert_eq!(names(&plan, "a"), ["x-0", "x-2"]);
    assert_eq!(names(&plan, "b"), ["x-1", "y-0", "y-2"]);
    assert_eq!(names(&plan, "c"), ["y-1"]);
    assert_complete(&plan, &members, &parts);
}

#[test]
fn roundrobin_does_not_advance_for_a_topic_nobody_reads() {
    let members = [member("a", &["t1"]), member("b", &["t1"])];
    let plan = run(RoundRobin, &members, &[("t0", 3), ("t1", 2)]);
    assert_eq!(names(&plan, "a"), ["t1-0"]);
    assert_eq!(names(&plan, "b"), ["t1-1"]);
}

#[test]
fn every_strategy_lists_every_member_and_copes_with_none() {
    for s in [Range, RoundRobin, CooperativeSticky] {
        assert!(run(s, &[], &[("t", 3)]).is_empty(), "{s:?}");
        let members = [member("a", &["t"]), member("idle", &["other"])];
        let plan = run(s, &members, &[("t", 2)]);
        assert_eq!(plan.len(), 2, "{s:?}");
        assert!(plan["idle"].is_empty(), "{s:?}");
        assert_eq!(names(&plan, "a"), ["t-0", "t-1"], "{s:?}");
    }
}

#[test]
fn every_strategy_is_complete_on_a_mixed_group() {
    let members = [
        member("m1", &["a", "b"]),
        member("m2", &["b", "c"]),
        member("m3", &["a", "b", "c"]),
        static_member("m4", "s", &["c"]),
    ];
    let parts = [("a", 5), ("b", 4), ("c", 7), ("d", 3)];
    for s in [Range, RoundRobin, CooperativeSticky] {
        let plan = run(s, &members, &parts);
        assert_complete(&plan, &members, &parts);
        for m in &members {
            for tp in &plan[&m.id] {
                assert!(
                    m.subscription.topics.contains(&tp.topic),
                    "{s:?}: {} got {tp}",
                    m.id
                );
            }
            let mut sorted = plan[&m.id].clone();
            sorted.sort();
            assert_eq!(plan[&m.id], sorted, "{s:?}: sorted");
        }
    }
}

#[test]
fn sticky_balances_members_with_different_subscriptions() {
    let members = [member("a", &["x", "y"]), member("b", &["y"])];
    let plan = run(CooperativeSticky, &members, &[("x", 2), ("y", 2)]);
    assert_eq!(names(&plan, "a"), ["x-0", "x-1"]);
    assert_eq!(names(&plan, "b"), ["y-0", "y-1"]);
}

#[test]
fn sticky_spreads_a_departed_members_partitions_and_keeps_the_rest() {
    let a: Vec<(&str, i32)> = (0..4).map(|p| ("t", p)).collect();
    let b: Vec<(&str, i32)> = (4..8).map(|p| ("t", p)).collect();
    let members = [
        owning(member("a", &["t"]), &a, 2),
        owning(member("b", &["t"]), &b, 2),
    ];
    let plan = run(CooperativeSticky, &members, &[("t", 12)]);
    assert_eq!(plan["a"].len(), 6);
    assert_eq!(plan["b"].len(), 6);
    for p in 0..4 {
        assert!(plan["a"].contains(&TopicPartition::new("t", p)), "{plan:?}");
        assert!(
            plan["b"].contains(&TopicPartition::new("t", p + 4)),
            "{plan:?}"
        );
    }
    assert_complete(&plan, &members, &[("t", 12)]);
}

#[test]
fn sticky_withholds_what_moves_to_a_newcomer() {
    let all: Vec<(&str, i32)> = (0..4).map(|p| ("t", p)).collect();
    let members = [owning(member("a", &["t"]), &all, 1), member("b", &["t"])];
    let plan = run(CooperativeSticky, &members, &[("t", 4)]);
    assert_eq!(plan["a"].len(), 2, "a gives two up: {plan:?}");
    assert!(plan["b"].is_empty(), "not before a revoked them: {plan:?}");
}

#[test]
fn sticky_tied_claims_are_void() {
    let members = [
        member("a", &["t"]),
        owning(member("b", &["t"]), &[("t", 0)], 3),
        owning(member("c", &["t"]), &[("t", 0)], 3),
    ];
    let plan = run(CooperativeSticky, &members, &[("t", 1)]);
    assert_eq!(
        names(&plan, "a"),
        ["t-0"],
        "nobody owns it: least loaded, first"
    );
}

#[test]
fn sticky_reads_the_generation_from_user_data_of_old_members() {
    let mut old = owning(member("a", &["t"]), &[("t", 0)], -1);
    old.subscription.user_data = Some(sticky_user_data(5));
    let members = [old, owning(member("b", &["t"]), &[("t", 0)], 4)];
    let plan = run(CooperativeSticky, &members, &[("t", 2)]);
    assert_eq!(names(&plan, "a"), ["t-0"]);
    assert_eq!(names(&plan, "b"), ["t-1"]);
}

#[test]
fn sticky_ignores_claims_on_partitions_that_are_gone() {
    let members = [
        owning(member("a", &["t"]), &[("t", 5), ("gone", 0)], 2),
        member("b", &["t"]),
    ];
    let parts = [("t", 2)];
    let plan = run(CooperativeSticky, &members, &parts);
    assert_complete(&plan, &members, &parts);
    assert_eq!(plan["a"].len(), 1);
    assert_eq!(plan["b"].len(), 1);
}

#[test]
fn sticky_ignores_claims_on_topics_no_longer_subscribed() {
    let members = [
        owning(member("a", &["u"]), &[("t", 0)], 2),
        member("b", &["t"]),
    ];
    let plan = run(CooperativeSticky, &members, &[("t", 1), ("u", 1)]);
    assert_eq!(names(&plan, "a"), ["u-0"]);
    assert_eq!(names(&plan, "b"), ["t-0"], "not withheld: a holds no claim");
}

#[test]
fn sticky_keeps_a_balanced_group_exactly_as_it_is() {
    // An assignment nobody would choose fresh (interleaved), but balanced: kept.
    let members = [
        owning(member("a", &["t"]), &[("t", 0), ("t", 2), ("t", 5)], 7),
        owning(member("b", &["t"]), &[("t", 1), ("t", 3), ("t", 4)], 7),
    ];
    let plan = run(CooperativeSticky, &members, &[("t", 6)]);
    assert_eq!(names(&plan, "a"), ["t-0", "t-2", "t-5"]);
    assert_eq!(names(&plan, "b"), ["t-1", "t-3", "t-4"]);
}
