//! `kafka-cli transactions ...`: list, describe, abort (what `kafka-transactions.sh`
//! does).

use clap::{ArgGroup, Subcommand};
use kafka_admin::{AbortTransactionSpec, TopicPartition, TransactionFilter, TransactionsOptions};

use crate::Ctx;
use crate::exit::{Failure, check_items};

#[derive(Subcommand, Debug)]
pub enum TransactionsCommand {
    /// List transactions on every broker.
    List {
        /// Only these states (`Ongoing`, `PrepareCommit`, ...); repeatable.
        #[arg(long)]
        state: Vec<String>,
        /// One JSON object per transaction instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Describe transactional ids at their coordinators.
    Describe {
        /// A transactional id; repeatable.
        #[arg(long, required = true)]
        transactional_id: Vec<String>,
        /// One JSON object per id instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Abort a hanging transaction on one partition: the producer is given, or found by
    /// the first offset of its open transaction (--start-offset).
    #[command(group(ArgGroup::new("producer").required(true).args(["start_offset", "producer_id"])))]
    Abort {
        /// Topic.
        #[arg(long)]
        topic: String,
        /// Partition.
        #[arg(long)]
        partition: i32,
        /// The first offset of the open transaction (from `describe-producers`).
        #[arg(long)]
        start_offset: Option<i64>,
        /// Producer id.
        #[arg(long, requires = "producer_epoch")]
        producer_id: Option<i64>,
        /// Producer epoch.
        #[arg(long)]
        producer_epoch: Option<i16>,
        /// Coordinator epoch.
        #[arg(long, default_value_t = 0)]
        coordinator_epoch: i32,
    },
}

pub async fn run(ctx: &Ctx, cmd: TransactionsCommand) -> Result<(), Failure> {
    let opts = || TransactionsOptions::default().timeout(ctx.timeout);
    match cmd {
        TransactionsCommand::List { state, json } => {
            let listed = ctx
                .admin
                .list_transactions(TransactionFilter::default().states(state), opts())
                .await?;
            if !json {
                println!(
                    "{:<40} {:>11} {:>20} {:<16}",
                    "TransactionalId", "Coordinator", "ProducerId", "TransactionState"
                );
            }
            check_items("broker", listed, |_, txns| {
                for t in txns {
                    if json {
                        let line = serde_json::json!({
                            "transactionalId": t.transactional_id,
                            "coordinator": t.coordinator,
                            "producerId": t.producer_id,
                            "state": t.state,
                        });
                        println!("{line}");
                    } else {
                        println!(
                            "{:<40} {:>11} {:>20} {:<16}",
                            t.transactional_id, t.coordinator, t.producer_id, t.state
                        );
                    }
                }
            })
        }
        TransactionsCommand::Describe {
            transactional_id,
            json,
        } => {
            let described = ctx
                .admin
                .describe_transactions(transactional_id, opts())
                .await?;
            if !json {
                println!(
                    "{:<11} {:<40} {:>12} {:>13} {:<16} {:>18}  TopicPartitions",
                    "Coordinator",
                    "TransactionalId",
                    "ProducerId",
                    "ProducerEpoch",
                    "TransactionState",
                    "TransactionTimeout"
                );
            }
            check_items("transactional id", described, |id, d| {
                let parts: Vec<String> = d.partitions.iter().map(ToString::to_string).collect();
                if json {
                    let line = serde_json::json!({
                        "transactionalId": id,
                        "coordinator": d.coordinator,
                        "producerId": d.producer_id,
                        "producerEpoch": d.producer_epoch,
                        "state": d.state,
                        "timeoutMs": d.timeout_ms,
                        "startTimeMs": d.start_time_ms,
                        "partitions": parts,
                    });
                    println!("{line}");
                } else {
                    println!(
                        "{:<11} {:<40} {:>12} {:>13} {:<16} {:>18}  {}",
                        d.coordinator,
                        id,
                        d.producer_id,
                        d.producer_epoch,
                        d.state,
                        d.timeout_ms,
                        parts.join(",")
                    );
                }
            })
        }
        TransactionsCommand::Abort {
            topic,
            partition,
            start_offset,
            producer_id,
            producer_epoch,
            coordinator_epoch,
        } => {
            let tp = TopicPartition::new(topic, partition);
            let spec = match (start_offset, producer_id, producer_epoch) {
                (Some(offset), _, _) => {
                    let producers = ctx.admin.describe_producers([tp.clone()], opts()).await?;
                    let states = producers
                        .into_values()
                        .next()
                        .ok_or_else(|| Failure::Failed(format!("no answer for {tp}")))??;
                    let state = states
                        .iter()
                        .find(|s| s.current_txn_start_offset == Some(offset))
                        .ok_or_else(|| {
                            Failure::Failed(format!(
                                "no open transaction starts at offset {offset} of {tp}"
                            ))
                        })?;
                    AbortTransactionSpec::for_producer(tp.clone(), state)
                }
                (None, Some(id), Some(epoch)) => AbortTransactionSpec {
                    partition: tp.clone(),
                    producer_id: id,
                    producer_epoch: epoch,
                    coordinator_epoch,
                },
                _ => {
                    return Err(Failure::Usage(
                        "give --start-offset, or --producer-id with --producer-epoch".into(),
                    ));
                }
            };
            let results = ctx.admin.abort_transactions([spec], opts()).await?;
            check_items("partition", results, |tp, ()| {
                println!("Aborted the transaction on {tp}.");
            })
        }
    }
}
