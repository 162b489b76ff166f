//! `kafka-cli quorum describe`: what `kafka-metadata-quorum.sh describe
//! --status/--replication` prints.

use clap::Subcommand;
use kafka_admin::QuorumOptions;

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
        /// One JSON object (leader, epoch, high watermark, each replica) instead of text.
        #[arg(long)]
        json: bool,
    },
}

pub async fn run(ctx: &Ctx, cmd: QuorumCommand) -> Result<(), Failure> {
    let QuorumCommand::Describe { replication, json } = cmd;
    let q = ctx
        .admin
        .describe_metadata_quorum(QuorumOptions::default().timeout(ctx.timeout))
        .await?;
    if json {
        let replicas = |rs: &[kafka_admin::QuorumReplica]| -> Vec<serde_json::Value> {
            rs.iter()
                .map(|r| {
                    serde_json::json!({
                        "nodeId": r.id,
                        "logEndOffset": r.log_end_offset,
                        "lag": q.lag(r),
                    })
                })
                .collect()
        };
        let line = serde_json::json!({
            "leaderId": q.leader_id,
            "leaderEpoch": q.leader_epoch,
            "highWatermark": q.high_watermark,
            "voters": replicas(&q.voters),
            "observers": replicas(&q.observers),
        });
        println!("{line}");
    } else if replication {
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
