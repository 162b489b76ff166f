//! `kafka-cli log-dirs describe`: each broker's log dirs and the replicas in them, as
//! the JSON `kafka-log-dirs.sh --describe` prints.

use clap::Subcommand;
use kafka_admin::LogDirsOptions;

use crate::Ctx;
use crate::exit::Failure;

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
}

pub async fn run(ctx: &Ctx, cmd: LogDirsCommand) -> Result<(), Failure> {
    let LogDirsCommand::Describe {
        broker_list,
        topic_list,
    } = cmd;
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
