//! `kafka-cli share-groups ...`: list and describe share groups (KIP-932).

use clap::Subcommand;
use kafka_admin::{GroupType, GroupsOptions, ListGroupsOptions};

use crate::Ctx;
use crate::exit::{Failure, check_items};

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
    }
}
