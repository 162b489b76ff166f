//! `kafka-cli share-groups ...`: list, describe, show offsets of, reset the offsets of
//! and delete share groups (KIP-932), as Kafka's `kafka-share-groups.sh` does.

use clap::Subcommand;
use kafka_admin::{
    GroupOffsetsOptions, GroupType, GroupsOptions, ListGroupsOptions, ListShareGroupOffsetsOptions,
};

use crate::Ctx;
use crate::exit::{Failure, check_items};
use crate::groups::{ResetTo, reset_plan};

#[derive(Subcommand, Debug)]
pub enum ShareGroupsCommand {
    /// List share groups with their state.
    List,
    /// Describe a share group: state, epochs, assignor, members and their partitions.
    Describe {
        /// Group id.
        #[arg(long)]
        group: String,
    },
    /// Show a share group's start offset and lag per partition.
    Offsets {
        /// Group id.
        #[arg(long)]
        group: String,
    },
    /// Reset a share group's start offsets for a topic. The group must have no
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
    /// Delete a share group's offsets for a topic (the group forgets its progress on
    /// it). The group must have no members.
    DeleteOffsets {
        /// Group id.
        #[arg(long)]
        group: String,
        /// Topic whose offsets are deleted.
        #[arg(long)]
        topic: String,
    },
    /// Delete a share group with its offsets. The group must have no members.
    Delete {
        /// Group id.
        #[arg(long)]
        group: String,
    },
}

pub async fn run(ctx: &Ctx, cmd: ShareGroupsCommand) -> Result<(), Failure> {
    let admin = &ctx.admin;
    match cmd {
        ShareGroupsCommand::List => {
            let groups = admin
                .list_groups(ListGroupsOptions::default().timeout(ctx.timeout))
                .await?;
            println!("{:<40} {:<16}", "GROUP", "STATE");
            for g in groups
                .values()
                .filter(|g| g.group_type == Some(GroupType::Share))
            {
                let state = g.state.as_ref().map_or("-", |s| s.as_str());
                println!("{:<40} {:<16}", g.group_id, state);
            }
            Ok(())
        }
        ShareGroupsCommand::Describe { group } => {
            let d = admin
                .describe_share_groups([&group], GroupsOptions::default().timeout(ctx.timeout))
                .await?;
            check_items("share group", d, |_, g| {
                println!(
                    "Group: {}\tState: {}\tEpoch: {}\tAssignment epoch: {}\tAssignor: {}\tCoordinator: {}",
                    g.group_id,
                    g.state.as_str(),
                    g.group_epoch,
                    g.assignment_epoch,
                    g.assignor,
                    g.coordinator
                );
                for m in &g.members {
                    let parts: Vec<String> = m.assignment.iter().map(ToString::to_string).collect();
                    println!(
                        "\tMember: {}\tEpoch: {}\tClient: {}\tHost: {}\tPartitions: {}",
                        m.member_id,
                        m.member_epoch,
                        m.client_id,
                        m.host,
                        parts.join(",")
                    );
                }
            })
        }
        ShareGroupsCommand::Offsets { group } => {
            let offsets = admin
                .list_share_group_offsets(
                    &group,
                    ListShareGroupOffsetsOptions::default().timeout(ctx.timeout),
                )
                .await?;
            println!(
                "{:<30} {:>9} {:>14} {:>10}",
                "TOPIC", "PARTITION", "START-OFFSET", "LAG"
            );
            check_items("partition", offsets, |tp, o| {
                let dash = |v: Option<i64>| v.map_or("-".to_string(), |v| v.to_string());
                println!(
                    "{:<30} {:>9} {:>14} {:>10}",
                    tp.topic,
                    tp.partition,
                    dash(o.start_offset),
                    dash(o.lag)
                );
            })
        }
        ShareGroupsCommand::ResetOffsets {
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
                .alter_share_group_offsets(
                    &group,
                    plan,
                    GroupOffsetsOptions::default().timeout(ctx.timeout),
                )
                .await?;
            check_items("partition", res, |_, ()| {})?;
            println!("Start offsets of share group {group} reset.");
            Ok(())
        }
        ShareGroupsCommand::DeleteOffsets { group, topic } => {
            let res = admin
                .delete_share_group_offsets(
                    &group,
                    [&topic],
                    GroupOffsetsOptions::default().timeout(ctx.timeout),
                )
                .await?;
            check_items("topic", res, |_, ()| {})?;
            println!("Offsets of share group {group} for topic {topic} deleted.");
            Ok(())
        }
        ShareGroupsCommand::Delete { group } => {
            let res = admin
                .delete_share_groups([&group], GroupsOptions::default().timeout(ctx.timeout))
                .await?;
            check_items("share group", res, |_, ()| {})?;
            println!("Share group {group} deleted.");
            Ok(())
        }
    }
}
