//! `kafka-cli log-dirs describe`: each broker's log dirs and the replicas in them, as
//! the JSON `kafka-log-dirs.sh --describe` prints; `log-dirs alter` moves a replica to
//! another log dir of its broker (what a reassignment JSON's `log_dirs` does in Java).

use clap::Subcommand;
use kafka_admin::{LogDirsOptions, TopicPartitionReplica};

use crate::Ctx;
use crate::exit::{Failure, check_items};

#[derive(Subcommand, Debug)]
pub enum LogDirsCommand {
    /// Print `{"version":1,"brokers":[{"broker":1,"logDirs":[...]}]}` (Kafka's format).
    Describe {
        /// Brokers to ask, `1,2` (all when omitted).
        #[arg(long, value_delimiter = ',')]
        broker_list: Vec<i32>,
        /// Only these topics' replicas, `t1,t2` (all when omitted).
        #[arg(long, value_delimiter = ',')]
        topic_list: Vec<String>,
    },
    /// Move the replica of `--topic`/`--partition` on `--broker` to `--log-dir` (an
    /// absolute path of one of that broker's `log.dirs`); the broker copies it in the
    /// background (a future replica until it caught up: see `describe`).
    Alter {
        /// The topic.
        #[arg(long)]
        topic: String,
        /// The partition.
        #[arg(long)]
        partition: i32,
        /// The broker holding the replica.
        #[arg(long)]
        broker: i32,
        /// The destination log dir on that broker.
        #[arg(long)]
        log_dir: String,
        /// `{"topic","partition","broker","logDir","error"}` instead of text.
        #[arg(long)]
        json: bool,
    },
}

pub async fn run(ctx: &Ctx, cmd: LogDirsCommand) -> Result<(), Failure> {
    let (broker_list, topic_list) = match cmd {
        LogDirsCommand::Describe {
            broker_list,
            topic_list,
        } => (broker_list, topic_list),
        LogDirsCommand::Alter {
            topic,
            partition,
            broker,
            log_dir,
            json,
        } => {
            return alter(
                ctx,
                TopicPartitionReplica::new(topic, partition, broker),
                log_dir,
                json,
            )
            .await;
        }
    };
    let brokers = if broker_list.is_empty() {
        ctx.admin
            .client()
            .metadata()
            .await?
            .brokers
            .keys()
            .copied()
            .collect()
    } else {
        broker_list
    };
    let described = ctx
        .admin
        .describe_log_dirs(brokers, LogDirsOptions::default().timeout(ctx.timeout))
        .await?;
    let mut out = Vec::new();
    let mut failed = 0;
    for (broker, result) in described {
        let dirs = match result {
            Ok(d) => d,
            Err(e) => {
                failed += 1;
                eprintln!("broker {broker}: {e}");
                continue;
            }
        };
        let log_dirs: Vec<_> = dirs
            .iter()
            .map(|(path, d)| {
                let partitions: Vec<_> = d
                    .replicas
                    .iter()
                    .filter(|(tp, _)| topic_list.is_empty() || topic_list.contains(&tp.topic))
                    .map(|(tp, r)| {
                        serde_json::json!({
                            "partition": tp.to_string(),
                            "size": r.size,
                            "offsetLag": r.offset_lag,
                            "isFuture": r.is_future,
                        })
                    })
                    .collect();
                serde_json::json!({
                    "logDir": path,
                    "error": d.error.as_ref().map(|e| e.to_string()),
                    "totalBytes": d.total_bytes,
                    "usableBytes": d.usable_bytes,
                    "partitions": partitions,
                })
            })
            .collect();
        out.push(serde_json::json!({"broker": broker, "logDirs": log_dirs}));
    }
    println!("{}", serde_json::json!({"version": 1, "brokers": out}));
    if failed == 0 {
        Ok(())
    } else {
        Err(Failure::Failed(format!("{failed} broker(s) failed")))
    }
}

async fn alter(
    ctx: &Ctx,
    replica: TopicPartitionReplica,
    log_dir: String,
    json: bool,
) -> Result<(), Failure> {
    if !log_dir.starts_with('/') {
        return Err(Failure::Usage(format!(
            "--log-dir {log_dir:?} must be an absolute path (one of the broker's log.dirs)"
        )));
    }
    let results = ctx
        .admin
        .alter_replica_log_dirs(
            [(replica.clone(), log_dir.clone())],
            LogDirsOptions::default().timeout(ctx.timeout),
        )
        .await?;
    if json {
        for (r, result) in &results {
            let line = serde_json::json!({
                "topic": r.partition.topic,
                "partition": r.partition.partition,
                "broker": r.broker,
                "logDir": log_dir,
                "error": result.as_ref().err().map(|e| e.to_string()),
            });
            println!("{line}");
        }
    }
    check_items(
        "replica",
        results.into_iter().map(|(r, res)| {
            (
                format!(
                    "{}-{} on broker {}",
                    r.partition.topic, r.partition.partition, r.broker
                ),
                res,
            )
        }),
        |what, ()| {
            if !json {
                println!("Moving replica {what} to {log_dir}.");
            }
        },
    )
}
