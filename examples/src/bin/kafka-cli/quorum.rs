//! `kafka-cli quorum describe` and `kafka-cli features describe`: what
//! `kafka-metadata-quorum.sh describe --status/--replication` and
//! `kafka-features.sh describe` print.

use clap::Subcommand;
use kafka_admin::{FeaturesOptions, QuorumOptions};

use crate::Ctx;
use crate::exit::Failure;

#[derive(Subcommand, Debug)]
pub enum QuorumCommand {
    /// The metadata quorum: leader, epoch, high watermark, and with --replication each
    /// voter's and observer's log end offset and lag.
    Describe {
        /// One line per replica (NodeId, LogEndOffset, Lag, Status) instead of the summary.
        #[arg(long)]
        replication: bool,
    },
}

#[derive(Subcommand, Debug)]
pub enum FeaturesCommand {
    /// Finalized and supported feature levels.
    Describe,
}

pub async fn run(ctx: &Ctx, cmd: QuorumCommand) -> Result<(), Failure> {
    let QuorumCommand::Describe { replication } = cmd;
    let q = ctx
        .admin
        .describe_metadata_quorum(QuorumOptions::default().timeout(ctx.timeout))
        .await?;
    if replication {
        println!("{:<8} {:>14} {:>6} Status", "NodeId", "LogEndOffset", "Lag");
        for (replicas, role) in [(&q.voters, "Follower"), (&q.observers, "Observer")] {
            for r in replicas.iter() {
                let status = if r.id == q.leader_id { "Leader" } else { role };
                println!(
                    "{:<8} {:>14} {:>6} {status}",
                    r.id,
                    r.log_end_offset,
                    q.lag(r)
                );
            }
        }
    } else {
        let max_lag = q
            .voters
            .iter()
            .chain(&q.observers)
            .map(|r| q.lag(r))
            .max()
            .unwrap_or(0);
        let ids = |rs: &[kafka_admin::QuorumReplica]| {
            let mut ids: Vec<i32> = rs.iter().map(|r| r.id).collect();
            ids.sort_unstable();
            ids.iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(",")
        };
        println!("LeaderId:               {}", q.leader_id);
        println!("LeaderEpoch:            {}", q.leader_epoch);
        println!("HighWatermark:          {}", q.high_watermark);
        println!("MaxFollowerLag:         {max_lag}");
        println!("CurrentVoters:          [{}]", ids(&q.voters));
        println!("CurrentObservers:       [{}]", ids(&q.observers));
    }
    Ok(())
}

pub async fn run_features(ctx: &Ctx, cmd: FeaturesCommand) -> Result<(), Failure> {
    let FeaturesCommand::Describe = cmd;
    let f = ctx
        .admin
        .describe_features(FeaturesOptions::default().timeout(ctx.timeout))
        .await?;
    for (name, supported) in &f.supported {
        let finalized = f.finalized.get(name).map_or(0, |r| r.max);
        println!(
            "Feature: {name}\tSupportedMinVersion: {}\tSupportedMaxVersion: {}\tFinalizedVersionLevel: {finalized}\tEpoch: {}",
            supported.min,
            supported.max,
            f.finalized_epoch.map_or("-".to_string(), |e| e.to_string())
        );
    }
    Ok(())
}
