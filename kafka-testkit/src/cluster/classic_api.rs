//! The cluster's answers to the classic group protocol (JoinGroup, SyncGroup,
//! Heartbeat, LeaveGroup) with several members per group: decode, run
//! `crate::groups::classic` at the runtime's current time, encode. JoinGroup and
//! SyncGroup wait, as on a broker, until the rebalance round completes or the leader
//! sends the assignment; every change to a group wakes the waiting requests.

use std::collections::BTreeMap;

use kafka_protocol::messages::join_group_response::JoinGroupResponseMember;
use kafka_protocol::messages::leave_group_response::MemberResponse;
use kafka_protocol::messages::{
    HeartbeatRequest, HeartbeatResponse, JoinGroupRequest, JoinGroupResponse, LeaveGroupRequest,
    LeaveGroupResponse, SyncGroupRequest, SyncGroupResponse,
};
use kafka_protocol::protocol::{Decodable, StrBytes};
use tokio::time::Instant;

use super::Inner;
use crate::groups::classic::{Join, JoinStep, SyncStep};
use crate::raw::{Req, frame};

/// The longest a SyncGroup waits between looks at its group.
const SYNC_RECHECK: std::time::Duration = std::time::Duration::from_millis(500);

fn s(v: String) -> StrBytes {
    StrBytes::from_string(v)
}

impl Inner {
    /// Runs `f` on the classic group `group` and wakes every waiting request.
    fn with_classic<T>(
        &self,
        group: &str,
        f: impl FnOnce(&mut crate::groups::classic::ClassicGroup) -> T,
    ) -> T {
        let out = {
            let mut st = self.state();
            f(st.classic_groups.entry(group.to_string()).or_default())
        };
        self.group_changed.notify_waiters();
        out
    }

    /// Looks at a waiting JoinGroup; wakes the others only when a round completed.
    fn poll_join(&self, group: &str, member: &str) -> JoinStep {
        let step = {
            let mut st = self.state();
            st.classic_groups
                .entry(group.to_string())
                .or_default()
                .poll_join(member, Instant::now())
        };
        if !matches!(step, JoinStep::Wait(..)) {
            self.group_changed.notify_waiters();
        }
        step
    }

    pub(super) async fn join_group(&self, req: &Req) -> Option<Vec<u8>> {
        let v = req.version;
        let r = JoinGroupRequest::decode(&mut req.body.clone(), v).ok()?;
        let group = r.group_id.to_string();
        let ms = |x: i32| std::time::Duration::from_millis(x.max(0) as u64);
        let join = Join {
            member_id: r.member_id.to_string(),
            instance_id: r.group_instance_id.as_ref().map(|i| i.to_string()),
            client_id: "consumer".into(),
            protocol_type: r.protocol_type.to_string(),
            protocols: r
                .protocols
                .iter()
                .map(|p| (p.name.to_string(), p.metadata.clone()))
                .collect(),
            session_timeout: ms(r.session_timeout_ms),
            // v0 has no rebalance timeout: the session timeout stands in.
            rebalance_timeout: if v >= 1 {
                ms(r.rebalance_timeout_ms)
            } else {
                ms(r.session_timeout_ms)
            },
            id_required: v >= 4,
        };
        let mut step = self.with_classic(&group, |g| g.join(join, Instant::now()));
        loop {
            let (id, deadline) = match step {
                JoinStep::Wait(id, deadline) => (id, deadline),
                JoinStep::Done(j) => {
                    let members = j
                        .members
                        .into_iter()
                        .map(|(m, instance, meta)| {
                            JoinGroupResponseMember::default()
                                .with_member_id(s(m))
                                .with_group_instance_id(instance.map(s))
                                .with_metadata(meta)
                        })
                        .collect();
                    let mut resp = JoinGroupResponse::default()
                        .with_generation_id(j.generation)
                        .with_protocol_name(Some(s(j.protocol)))
                        .with_leader(s(j.leader))
                        .with_member_id(s(j.member_id))
                        .with_members(members);
                    if v >= 7 {
                        resp = resp.with_protocol_type(Some(s(j.protocol_type)));
                    }
                    return Some(frame(req, &resp));
                }
                JoinStep::Fail(code, id) => {
                    return Some(frame(
                        req,
                        &JoinGroupResponse::default()
                            .with_error_code(code)
                            .with_generation_id(-1)
                            .with_member_id(s(id)),
                    ));
                }
            };
            let notified = self.group_changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            step = self.poll_join(&group, &id);
            if matches!(step, JoinStep::Wait(..)) {
                tokio::select! {
                    _ = &mut notified => {}
                    _ = tokio::time::sleep_until(deadline) => {}
                }
                step = self.poll_join(&group, &id);
            }
        }
    }

    pub(super) async fn sync_group(&self, req: &Req) -> Option<Vec<u8>> {
        let v = req.version;
        let r = SyncGroupRequest::decode(&mut req.body.clone(), v).ok()?;
        let group = r.group_id.to_string();
        let member = r.member_id.to_string();
        let mut assignments: Option<BTreeMap<String, bytes::Bytes>> = (!r.assignments.is_empty())
            .then(|| {
                r.assignments
                    .iter()
                    .map(|a| (a.member_id.to_string(), a.assignment.clone()))
                    .collect()
            });
        loop {
            let notified = self.group_changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let given = assignments.take();
            let step = {
                let mut st = self.state();
                st.classic_groups.entry(group.clone()).or_default().sync(
                    &member,
                    r.generation_id,
                    given,
                    Instant::now(),
                )
            };
            if step != SyncStep::Wait {
                self.group_changed.notify_waiters();
            }
            let (code, assignment) = match step {
                SyncStep::Wait => {
                    tokio::select! {
                        _ = &mut notified => {}
                        _ = tokio::time::sleep(SYNC_RECHECK) => {}
                    }
                    continue;
                }
                SyncStep::Done(a) => (0, a),
                SyncStep::Fail(code) => (code, bytes::Bytes::new()),
            };
            let mut resp = SyncGroupResponse::default()
                .with_error_code(code)
                .with_assignment(assignment);
            if v >= 5 {
                resp = resp
                    .with_protocol_type(r.protocol_type.clone())
                    .with_protocol_name(r.protocol_name.clone());
            }
            return Some(frame(req, &resp));
        }
    }

    pub(super) fn classic_heartbeat(&self, req: &Req) -> Option<Vec<u8>> {
        let r = HeartbeatRequest::decode(&mut req.body.clone(), req.version).ok()?;
        let code = self.with_classic(&r.group_id, |g| {
            g.heartbeat(&r.member_id, r.generation_id, Instant::now())
        });
        Some(frame(
            req,
            &HeartbeatResponse::default().with_error_code(code),
        ))
    }

    pub(super) fn leave_group(&self, req: &Req) -> Option<Vec<u8>> {
        let v = req.version;
        let r = LeaveGroupRequest::decode(&mut req.body.clone(), v).ok()?;
        let leaving: Vec<(String, Option<StrBytes>)> = if v >= 3 {
            r.members
                .iter()
                .map(|m| (m.member_id.to_string(), m.group_instance_id.clone()))
                .collect()
        } else {
            vec![(r.member_id.to_string(), None)]
        };
        let codes: Vec<i16> = self.with_classic(&r.group_id, |g| {
            leaving
                .iter()
                .map(|(m, _)| g.leave(m, Instant::now()))
                .collect()
        });
        let mut resp = LeaveGroupResponse::default();
        if v >= 3 {
            resp = resp.with_members(
                leaving
                    .into_iter()
                    .zip(codes)
                    .map(|((m, instance), code)| {
                        MemberResponse::default()
                            .with_member_id(s(m))
                            .with_group_instance_id(instance)
                            .with_error_code(code)
                    })
                    .collect(),
            );
        } else {
            resp = resp.with_error_code(codes.first().copied().unwrap_or(0));
        }
        Some(frame(req, &resp))
    }
}
