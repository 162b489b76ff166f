//! `kafka-cli partitions ...`: reassign (see `reassign.rs`) and elect-leaders (what
//! `kafka-leader-election.sh` does).

use clap::{ArgGroup, Args, Subcommand, ValueEnum};
use kafka_admin::{ElectLeadersOptions, ElectionType, TopicPartition};

use crate::Ctx;
use crate::exit::Failure;
use crate::reassign::{self, ReassignArgs};

/// ELECTION_NOT_NEEDED: the wanted leader already leads.
const ELECTION_NOT_NEEDED: i16 = 84;

#[derive(Subcommand, Debug)]
pub enum PartitionsCommand {
    /// Move replicas between brokers with a reassignment JSON (Kafka's format).
    Reassign(ReassignArgs),
    /// Elect leaders: the preferred replica, or any live replica (unclean).
    ElectLeaders(ElectArgs),
}

/// `kafka-cli leaders ...` (the verb the issue and Kafka's `kafka-leader-election.sh`
/// users look for; the same command as `partitions elect-leaders`).
#[derive(Subcommand, Debug)]
pub enum LeadersCommand {
    /// Elect leaders: the preferred replica, or any live replica (unclean).
    Elect(ElectArgs),
}

/// Which leaders to elect, and how.
#[derive(Args, Debug)]
#[command(group(ArgGroup::new("which").required(true).args(["topic", "all_topic_partitions"])))]
pub struct ElectArgs {
    /// `preferred` or `unclean`.
    #[arg(long, visible_alias = "type", value_enum)]
    election_type: ElectionKind,
    /// The topic (with --partition for one partition, else all of its partitions).
    #[arg(long)]
    topic: Option<String>,
    /// The partition of --topic.
    #[arg(long, requires = "topic")]
    partition: Option<i32>,
    /// Every partition of the cluster.
    #[arg(long, visible_alias = "all")]
    all_topic_partitions: bool,
}

/// The election types on the command line.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum ElectionKind {
    /// The first replica of the replica list.
    Preferred,
    /// Any live replica, even out of sync.
    Unclean,
}

pub async fn run(ctx: &Ctx, cmd: PartitionsCommand) -> Result<(), Failure> {
    match cmd {
        PartitionsCommand::Reassign(args) => reassign::run(ctx, args).await,
        PartitionsCommand::ElectLeaders(args) => elect(ctx, args).await,
    }
}

/// `kafka-cli leaders elect`.
pub async fn run_leaders(ctx: &Ctx, cmd: LeadersCommand) -> Result<(), Failure> {
    match cmd {
        LeadersCommand::Elect(args) => elect(ctx, args).await,
    }
}

async fn elect(ctx: &Ctx, args: ElectArgs) -> Result<(), Failure> {
    let ElectArgs {
        election_type,
        topic,
        partition,
        all_topic_partitions: _,
    } = args;
    let (election, name) = match election_type {
        ElectionKind::Preferred => (ElectionType::Preferred, "PREFERRED"),
        ElectionKind::Unclean => (ElectionType::Unclean, "UNCLEAN"),
    };
    let partitions = match (topic, partition) {
        (Some(t), Some(p)) => Some(vec![TopicPartition::new(t, p)]),
        (Some(t), None) => {
            let info = ctx.admin.client().topic(&t).await?;
            Some(
                info.partitions
                    .iter()
                    .map(|p| TopicPartition::new(t.clone(), p.partition))
                    .collect(),
            )
        }
        _ => None,
    };
    let results = ctx
        .admin
        .elect_leaders(
            election,
            partitions,
            ElectLeadersOptions::default().timeout(ctx.timeout),
        )
        .await?;
    let (mut elected, mut not_needed, mut failed) = (Vec::new(), Vec::new(), Vec::new());
    for (tp, r) in results {
        match r {
            Ok(()) => elected.push(tp.to_string()),
            Err(e) if e.code().map(|c| c.code()) == Some(ELECTION_NOT_NEEDED) => {
                not_needed.push(tp.to_string())
            }
            Err(e) => failed.push(format!("{tp}: {e}")),
        }
    }
    if !elected.is_empty() {
        println!(
            "Successfully completed leader election ({name}) for partitions {}",
            elected.join(", ")
        );
    }
    if !not_needed.is_empty() {
        println!(
            "Valid replica already elected for partitions {}",
            not_needed.join(", ")
        );
    }
    if failed.is_empty() {
        Ok(())
    } else {
        for f in &failed {
            eprintln!("Error completing leader election ({name}) for partition {f}");
        }
        Err(Failure::Failed(format!(
            "leader election failed for {} partition(s)",
            failed.len()
        )))
    }
}
