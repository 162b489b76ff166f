//! `kafka-cli groups ...`: list, describe, lag, reset-offsets.

use clap::{ArgGroup, Args, Subcommand};
use kafka_admin::{
    GroupLagOptions, GroupOffsetsOptions, GroupsOptions, ListGroupsOptions, ListOffsetsOptions,
    OffsetAndMetadata, OffsetSpec, TopicPartition,
};

use crate::Ctx;
use crate::exit::{Failure, check_items};

#[derive(Subcommand, Debug)]
pub enum GroupsCommand {
    /// List groups with their state and type.
    List,
    /// Describe a consumer group: state, assignor, members and their partitions.
    Describe {
        /// Group id.
        #[arg(long)]
        group: String,
    },
    /// Show a group's lag per partition (committed offset against the end offset).
    Lag {
        /// Group id.
        #[arg(long)]
        group: String,
    },
    /// Reset a group's committed offsets for a topic. The group must have no active
    /// members. Prints the plan; changes nothing unless --execute is given.
    ResetOffsets {
        /// Group id.
        #[arg(long)]
        group: String,
        /// Topic whose partitions are reset.
        #[arg(long)]
        topic: String,
        #[command(flatten)]
        to: ResetTo,
        /// Apply the plan (otherwise only print it).
        #[arg(long)]
        execute: bool,
    },
}

/// Where `reset-offsets` moves a topic's partitions (one of them), for consumer and
/// share groups alike.
#[derive(Args, Debug)]
#[command(group(ArgGroup::new("target").required(true).args(["to_earliest", "to_latest", "to_offset", "to_timestamp"])))]
pub struct ResetTo {
    /// To each partition's first offset.
    #[arg(long)]
    to_earliest: bool,
    /// To each partition's end.
    #[arg(long)]
    to_latest: bool,
    /// To this offset in every partition.
    #[arg(long)]
    to_offset: Option<i64>,
    /// To the first offset at or after this time (milliseconds since the epoch).
    #[arg(long)]
    to_timestamp: Option<i64>,
}

/// The new offset of each partition of `topic`, printed as a plan.
pub async fn reset_plan(
    ctx: &Ctx,
    topic: &str,
    to: &ResetTo,
) -> Result<Vec<(TopicPartition, i64)>, Failure> {
    let admin = &ctx.admin;
    let described = admin.describe_topics([topic], Default::default()).await?;
    let partitions: Vec<TopicPartition> = match described.get(topic) {
        Some(Ok(d)) => d
            .partitions
            .iter()
            .map(|p| TopicPartition::new(topic, p.partition))
            .collect(),
        Some(Err(e)) => return Err(Failure::Failed(format!("topic {topic}: {e}"))),
        None => return Err(Failure::Failed(format!("topic {topic} not described"))),
    };
    let spec = if to.to_earliest {
        Some(OffsetSpec::Earliest)
    } else if to.to_latest {
        Some(OffsetSpec::Latest)
    } else {
        to.to_timestamp.map(OffsetSpec::Timestamp)
    };
    let plan: Vec<(TopicPartition, i64)> = match (spec, to.to_offset) {
        (Some(spec), _) => {
            let listed = admin
                .list_offsets(
                    partitions.iter().map(|tp| (tp.clone(), spec)),
                    ListOffsetsOptions::default().timeout(ctx.timeout),
                )
                .await?;
            let mut plan = Vec::new();
            check_items("partition", listed, |tp, o| {
                // No record at or after the time: reset to the end, as Kafka's tool does.
                plan.push((tp.clone(), o.offset.unwrap_or(-1)));
            })?;
            if plan.iter().any(|(_, o)| *o < 0) {
                let ends = admin
                    .list_offsets(
                        plan.iter()
                            .filter(|(_, o)| *o < 0)
                            .map(|(tp, _)| (tp.clone(), OffsetSpec::Latest)),
                        ListOffsetsOptions::default().timeout(ctx.timeout),
                    )
                    .await?;
                for (tp, o) in plan.iter_mut().filter(|(_, o)| *o < 0) {
                    *o = ends
                        .get(tp)
                        .and_then(|r| r.as_ref().ok())
                        .and_then(|l| l.offset)
                        .unwrap_or(0);
                }
            }
            plan
        }
        (None, Some(offset)) => partitions.into_iter().map(|tp| (tp, offset)).collect(),
        (None, None) => unreachable!("clap requires one target"),
    };
    println!("{:<30} {:>9} {:>14}", "TOPIC", "PARTITION", "NEW-OFFSET");
    for (tp, o) in &plan {
        println!("{:<30} {:>9} {:>14}", tp.topic, tp.partition, o);
    }
    Ok(plan)
}

pub async fn run(ctx: &Ctx, cmd: GroupsCommand) -> Result<(), Failure> {
    let admin = &ctx.admin;
    match cmd {
        GroupsCommand::List => {
            let groups = admin
                .list_groups(ListGroupsOptions::default().timeout(ctx.timeout))
                .await?;
            println!("{:<40} {:<16} {:<10}", "GROUP", "STATE", "TYPE");
            for g in groups.values() {
                let state = g.state.as_ref().map_or("-", |s| s.as_str());
                let kind = g.group_type.as_ref().map_or("-", |t| t.as_str());
                println!("{:<40} {:<16} {:<10}", g.group_id, state, kind);
            }
            Ok(())
        }
        GroupsCommand::Describe { group } => {
            let d = admin
                .describe_consumer_groups([&group], GroupsOptions::default().timeout(ctx.timeout))
                .await?;
            check_items("group", d, |_, g| {
                // The consumer protocol (KIP-848) has epochs: the group's, its target
                // assignment's and each member's.
                let epochs = match (g.group_epoch, g.assignment_epoch) {
                    (Some(ge), Some(ae)) => format!("\tGroup epoch: {ge}\tAssignment epoch: {ae}"),
                    _ => String::new(),
                };
                println!(
                    "Group: {}\tState: {}\tProtocol: {}\tAssignor: {}\tCoordinator: {} ({}){epochs}",
                    g.group_id,
                    g.state.as_str(),
                    g.group_type.as_str(),
                    g.assignor,
                    g.coordinator,
                    g.coordinator_address
                );
                let list = |a: &kafka_admin::MemberAssignment| {
                    a.partitions
                        .iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join(",")
                };
                for m in &g.members {
                    let mut line = format!(
                        "\tMember: {}\tClient: {}\tHost: {}\tPartitions: {}",
                        m.member_id,
                        m.client_id,
                        m.host,
                        list(&m.assignment)
                    );
                    if let Some(e) = m.member_epoch {
                        line.push_str(&format!("\tEpoch: {e}"));
                    }
                    if let Some(t) = m.target_assignment.as_ref().filter(|t| **t != m.assignment) {
                        line.push_str(&format!("\tTarget: {}", list(t)));
                    }
                    if m.classic_member == Some(true) {
                        line.push_str("\t(classic member)");
                    }
                    println!("{line}");
                }
            })
        }
        GroupsCommand::Lag { group } => {
            let lag = admin
                .consumer_group_lag(&group, GroupLagOptions::default().timeout(ctx.timeout))
                .await?;
            println!(
                "{:<30} {:>9} {:>16} {:>14} {:>10}  CONSUMER-ID",
                "TOPIC", "PARTITION", "CURRENT-OFFSET", "LOG-END-OFFSET", "LAG"
            );
            check_items("partition", lag, |tp, l| {
                let dash = |v: Option<i64>| v.map_or("-".to_string(), |v| v.to_string());
                println!(
                    "{:<30} {:>9} {:>16} {:>14} {:>10}  {}",
                    tp.topic,
                    tp.partition,
                    dash(l.committed),
                    l.end_offset,
                    dash(l.lag),
                    l.member_id.as_deref().unwrap_or("-")
                );
            })
        }
        GroupsCommand::ResetOffsets {
            group,
            topic,
            to,
            execute,
        } => {
            let plan = reset_plan(ctx, &topic, &to).await?;
            if !execute {
                println!("(dry run: add --execute to apply)");
                return Ok(());
            }
            let res = admin
                .alter_consumer_group_offsets(
                    &group,
                    plan.into_iter()
                        .map(|(tp, o)| (tp, OffsetAndMetadata::new(o))),
                    GroupOffsetsOptions::default().timeout(ctx.timeout),
                )
                .await?;
            check_items("partition", res, |_, ()| {})?;
            println!("Offsets of group {group} reset.");
            Ok(())
        }
    }
}
