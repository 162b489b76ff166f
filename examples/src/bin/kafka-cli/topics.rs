//! `kafka-cli topics ...`: create, list, describe, delete, alter-config.

use clap::Subcommand;
use kafka_admin::{
    AlterConfigOp, AlterConfigsOptions, ConfigResource, CreateTopicsOptions, DeleteTopicsOptions,
    DescribeTopicsOptions, ListTopicsOptions, NewTopic,
};
use kafka_client::ErrorCode;

use crate::Ctx;
use crate::exit::{Failure, check_items};

#[derive(Subcommand, Debug)]
pub enum TopicsCommand {
    /// Create a topic.
    Create {
        /// Topic name.
        #[arg(long)]
        topic: String,
        /// Number of partitions (broker default when omitted).
        #[arg(long)]
        partitions: Option<i32>,
        /// Replication factor (broker default when omitted).
        #[arg(long)]
        replication_factor: Option<i16>,
        /// A topic config, `key=value`; repeatable.
        #[arg(long = "config", value_parser = parse_key_value)]
        configs: Vec<(String, String)>,
        /// Succeed when the topic already exists.
        #[arg(long)]
        if_not_exists: bool,
    },
    /// List topic names.
    List {
        /// Include internal topics.
        #[arg(long)]
        internal: bool,
        /// One JSON object per topic (name, id, partitions, internal) instead of names.
        #[arg(long)]
        json: bool,
    },
    /// Describe topics: partitions, leaders, replicas, in-sync replicas.
    Describe {
        /// Topics to describe (every non-internal topic when omitted); repeatable.
        #[arg(long)]
        topic: Vec<String>,
        /// One JSON object per topic instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Delete topics.
    Delete {
        /// Topics to delete; repeatable.
        #[arg(long, required = true)]
        topic: Vec<String>,
    },
    /// Change a topic's configs.
    AlterConfig {
        /// Topic name.
        #[arg(long)]
        topic: String,
        /// Set a config, `key=value`; repeatable.
        #[arg(long, value_parser = parse_key_value)]
        set: Vec<(String, String)>,
        /// Remove a config override (back to the default); repeatable.
        #[arg(long)]
        delete: Vec<String>,
    },
}

fn parse_key_value(s: &str) -> Result<(String, String), String> {
    let (k, v) = s
        .split_once('=')
        .ok_or_else(|| format!("expected key=value, got {s:?}"))?;
    if k.trim().is_empty() {
        return Err(format!("empty key in {s:?}"));
    }
    Ok((k.trim().to_string(), v.to_string()))
}

pub async fn run(ctx: &Ctx, cmd: TopicsCommand) -> Result<(), Failure> {
    let admin = &ctx.admin;
    match cmd {
        TopicsCommand::Create {
            topic,
            partitions,
            replication_factor,
            configs,
            if_not_exists,
        } => {
            let mut t = NewTopic::new(&topic);
            if let Some(p) = partitions {
                t = t.partitions(p);
            }
            if let Some(rf) = replication_factor {
                t = t.replication_factor(rf);
            }
            for (k, v) in configs {
                t = t.config(k, v);
            }
            let res = admin
                .create_topics([t], CreateTopicsOptions::default().timeout(ctx.timeout))
                .await?;
            let res = res.into_iter().map(|(name, r)| match r {
                Err(e) if if_not_exists && e.code() == Some(ErrorCode::TOPIC_ALREADY_EXISTS) => {
                    println!("Topic {name} already exists.");
                    (name, Ok(None))
                }
                other => (name, other.map(Some)),
            });
            check_items("topic", res, |name, created| {
                if let Some(c) = created {
                    println!(
                        "Created topic {name} ({} partitions, replication factor {}).",
                        c.partitions, c.replication_factor
                    );
                }
            })
        }
        TopicsCommand::List { internal, json } => {
            let topics = admin
                .list_topics(ListTopicsOptions::default().include_internal(internal))
                .await?;
            for (name, listing) in &topics {
                if json {
                    let line = serde_json::json!({
                        "topic": name,
                        "topicId": listing.id.to_string(),
                        "partitions": listing.partitions,
                        "internal": listing.is_internal,
                    });
                    println!("{line}");
                } else {
                    println!("{name}");
                }
            }
            Ok(())
        }
        TopicsCommand::Describe { topic, json } => {
            let names = if topic.is_empty() {
                admin
                    .list_topics(ListTopicsOptions::default())
                    .await?
                    .into_keys()
                    .collect()
            } else {
                topic
            };
            let described = admin
                .describe_topics(
                    &names,
                    DescribeTopicsOptions::default().timeout(ctx.timeout),
                )
                .await?;
            check_items("topic", described, |_, d| {
                if json {
                    let partitions: Vec<serde_json::Value> = d
                        .partitions
                        .iter()
                        .map(|p| {
                            serde_json::json!({
                                "partition": p.partition,
                                "leader": p.leader,
                                "leaderEpoch": p.leader_epoch,
                                "replicas": p.replicas,
                                "isr": p.isr,
                            })
                        })
                        .collect();
                    let line = serde_json::json!({
                        "topic": d.name,
                        "topicId": d.id.to_string(),
                        "partitions": partitions,
                    });
                    println!("{line}");
                    return;
                }
                println!(
                    "Topic: {}\tTopicId: {}\tPartitionCount: {}",
                    d.name,
                    d.id,
                    d.partitions.len()
                );
                for p in &d.partitions {
                    let leader = p.leader.map_or("none".to_string(), |l| l.to_string());
                    println!(
                        "\tTopic: {}\tPartition: {}\tLeader: {}\tLeaderEpoch: {}\tReplicas: {}\tIsr: {}",
                        d.name,
                        p.partition,
                        leader,
                        p.leader_epoch,
                        join(&p.replicas),
                        join(&p.isr)
                    );
                }
            })
        }
        TopicsCommand::Delete { topic } => {
            let res = admin
                .delete_topics(&topic, DeleteTopicsOptions::default().timeout(ctx.timeout))
                .await?;
            check_items("topic", res, |name, ()| println!("Deleted topic {name}."))
        }
        TopicsCommand::AlterConfig { topic, set, delete } => {
            if set.is_empty() && delete.is_empty() {
                return Err(Failure::Usage(
                    "alter-config needs --set key=value or --delete key".into(),
                ));
            }
            let ops: Vec<AlterConfigOp> = set
                .into_iter()
                .map(|(k, v)| AlterConfigOp::set(k, v))
                .chain(delete.into_iter().map(AlterConfigOp::delete))
                .collect();
            let res = admin
                .incremental_alter_configs(
                    [(ConfigResource::topic(&topic), ops)],
                    AlterConfigsOptions::default().timeout(ctx.timeout),
                )
                .await?;
            check_items(
                "config of",
                res.into_iter().map(|(r, x)| (r.name, x)),
                |name, ()| println!("Altered configs of topic {name}."),
            )
        }
    }
}

fn join(ids: &[i32]) -> String {
    ids.iter().map(i32::to_string).collect::<Vec<_>>().join(",")
}
