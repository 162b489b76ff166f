//! `kafka-cli partitions reassign`: what `kafka-reassign-partitions.sh` does, with
//! Kafka's own JSON files (`--generate`, `--execute`, `--verify`, `--cancel`) and
//! replication throttles (`--throttle`, removed by a `--verify` that finds the moves
//! complete, as Kafka's tool does).

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use clap::{ArgGroup, Args};
use kafka_admin::{
    AlterConfigOp, AlterConfigsOptions, ConfigResource, GenerateError, GenerateReassignmentOptions,
    ReassignmentOptions, ReassignmentPlan, TopicPartition,
};
use serde::Deserialize;

use crate::Ctx;
use crate::exit::{Failure, check_items};
use crate::progress::Progress;

const LEADER_RATE: &str = "leader.replication.throttled.rate";
const FOLLOWER_RATE: &str = "follower.replication.throttled.rate";
const LEADER_REPLICAS: &str = "leader.replication.throttled.replicas";
const FOLLOWER_REPLICAS: &str = "follower.replication.throttled.replicas";

/// Arguments of `partitions reassign`.
#[derive(Args, Debug)]
#[command(group(ArgGroup::new("action").required(true).args(["generate", "execute", "verify", "cancel"])))]
pub struct ReassignArgs {
    /// Propose a plan moving the topics of --topics-to-move-json-file onto --broker-list.
    #[arg(long, requires_all = ["topics_to_move_json_file", "broker_list"])]
    generate: bool,
    /// Start the moves of --reassignment-json-file.
    #[arg(long, requires = "reassignment_json_file")]
    execute: bool,
    /// Report whether the moves of --reassignment-json-file are complete; exit 1 while
    /// any is not. Removes the throttles once all are.
    #[arg(long, requires = "reassignment_json_file")]
    verify: bool,
    /// Cancel the moves of --reassignment-json-file that are under way.
    #[arg(long, requires = "reassignment_json_file")]
    cancel: bool,
    /// `{"topics":[{"topic":"t"}],"version":1}`, as Kafka's tool reads it.
    #[arg(long)]
    topics_to_move_json_file: Option<String>,
    /// Brokers to place replicas on, `1,2,3`.
    #[arg(long, value_delimiter = ',')]
    broker_list: Vec<i32>,
    /// Ignore the brokers' racks when generating.
    #[arg(long)]
    disable_rack_aware: bool,
    /// A reassignment in Kafka's JSON format.
    #[arg(long)]
    reassignment_json_file: Option<String>,
    /// With --execute: throttle replication of the moving partitions to this many
    /// bytes per second on every broker.
    #[arg(long)]
    throttle: Option<u64>,
    /// With --verify: poll until every move is complete (or --timeout passes), showing
    /// progress on stderr when it is a terminal (or with --progress).
    #[arg(long, requires = "verify")]
    wait: bool,
    /// With --verify --wait: show the progress on stderr even when stderr is not a
    /// terminal.
    #[arg(long, requires = "wait")]
    progress: bool,
}

#[derive(Deserialize)]
struct TopicsToMove {
    topics: Vec<TopicToMove>,
}

#[derive(Deserialize)]
struct TopicToMove {
    topic: String,
}

fn read(path: &str) -> Result<String, Failure> {
    std::fs::read_to_string(path).map_err(|e| Failure::Usage(format!("cannot read {path}: {e}")))
}

fn read_plan(path: &str) -> Result<ReassignmentPlan, Failure> {
    ReassignmentPlan::from_json(&read(path)?).map_err(|e| Failure::Usage(format!("{path}: {e}")))
}

pub async fn run(ctx: &Ctx, args: ReassignArgs) -> Result<(), Failure> {
    let opts = ReassignmentOptions::default().timeout(ctx.timeout);
    if args.generate {
        let path = args.topics_to_move_json_file.as_deref().unwrap_or_default();
        let topics: TopicsToMove = serde_json::from_str(&read(path)?)
            .map_err(|e| Failure::Usage(format!("{path}: not a topics-to-move JSON: {e}")))?;
        let names: Vec<&str> = topics.topics.iter().map(|t| t.topic.as_str()).collect();
        let generated = ctx
            .admin
            .generate_reassignment(
                &names,
                &args.broker_list,
                GenerateReassignmentOptions::default().rack_aware(!args.disable_rack_aware),
            )
            .await
            .map_err(|e| match e {
                GenerateError::Plan(p) => Failure::Usage(p.to_string()),
                GenerateError::Cluster(c) => Failure::from(c),
                other => Failure::Failed(other.to_string()),
            })?;
        println!("Current partition replica assignment");
        println!("{}", generated.current.to_json());
        println!();
        println!("Proposed partition reassignment configuration");
        println!("{}", generated.proposed.to_json());
        return Ok(());
    }
    let path = args.reassignment_json_file.as_deref().unwrap_or_default();
    let plan = read_plan(path)?;
    let parts: Vec<TopicPartition> = plan
        .partitions
        .iter()
        .map(|p| TopicPartition::new(p.topic.clone(), p.partition))
        .collect();
    if args.execute {
        let topics: Vec<&str> = plan.partitions.iter().map(|p| p.topic.as_str()).collect();
        let meta = ctx.admin.client().refresh_topics(&topics).await?;
        let mut current = BTreeMap::new();
        for tp in &parts {
            if let Some(p) = meta
                .topic(&tp.topic)
                .and_then(|t| t.partition(tp.partition))
            {
                current.insert(tp.clone(), p.replicas.clone());
            }
        }
        println!("Current partition replica assignment");
        println!();
        println!("{}", ReassignmentPlan::from_assignment(&current).to_json());
        println!();
        println!("Save this to use as the --reassignment-json-file option during rollback");
        if let Some(rate) = args.throttle {
            set_throttle(ctx, &plan, rate).await?;
            println!(
                "Warning: You must run --verify periodically, until the reassignment completes, to ensure the throttle is removed."
            );
            println!("The inter-broker throttle limit was set to {rate} B/s");
        }
        let results = ctx
            .admin
            .alter_partition_reassignments(plan.moves(), opts)
            .await?;
        let started: Vec<String> = results
            .iter()
            .filter(|(_, r)| r.is_ok())
            .map(|(tp, _)| tp.to_string())
            .collect();
        check_items("partition", results, |_, ()| {})?;
        println!(
            "Successfully started partition reassignments for {}",
            started.join(",")
        );
        return Ok(());
    }
    if args.cancel {
        let results = ctx
            .admin
            .alter_partition_reassignments(plan.cancellations(), opts)
            .await?;
        check_items("partition", results, |tp, ()| {
            println!("Successfully cancelled the reassignment of {tp}");
        })?;
        remove_throttle(ctx, &plan).await?;
        return Ok(());
    }
    let deadline = tokio::time::Instant::now() + ctx.timeout;
    let mut progress = Progress::new(args.progress);
    loop {
        let incomplete = verify_once(ctx, &plan, &parts, !args.wait).await?;
        let line = format!(
            "reassignment: {} of {} partition(s) complete",
            parts.len() - incomplete.min(parts.len()),
            parts.len()
        );
        if incomplete == 0 {
            progress.force(&line);
        } else {
            progress.update(|| line);
        }
        if incomplete == 0 {
            remove_throttle(ctx, &plan).await?;
            if !args.wait {
                println!("Clearing broker-level and topic-level throttles.");
            }
            return Ok(());
        }
        if !args.wait || tokio::time::Instant::now() >= deadline {
            if args.wait {
                verify_once(ctx, &plan, &parts, true).await?;
            }
            return Err(Failure::Failed(format!(
                "{incomplete} partition reassignment(s) not complete"
            )));
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Prints (when `print`) one line per partition as Kafka's tool does; returns how many
/// moves are not complete (in progress, or replicas not the plan's).
async fn verify_once(
    ctx: &Ctx,
    plan: &ReassignmentPlan,
    parts: &[TopicPartition],
    print: bool,
) -> Result<usize, Failure> {
    let opts = ReassignmentOptions::default().timeout(ctx.timeout);
    let ongoing = ctx
        .admin
        .list_partition_reassignments(Some(parts.to_vec()), opts)
        .await?;
    let topics: BTreeSet<&str> = plan.partitions.iter().map(|p| p.topic.as_str()).collect();
    let topics: Vec<&str> = topics.into_iter().collect();
    let meta = ctx.admin.client().refresh_topics(&topics).await?;
    let mut incomplete = 0;
    for p in &plan.partitions {
        let tp = TopicPartition::new(p.topic.clone(), p.partition);
        let now = meta
            .topic(&p.topic)
            .and_then(|t| t.partition(p.partition))
            .map(|i| i.replicas.clone());
        let line = if ongoing.contains_key(&tp) {
            incomplete += 1;
            format!("Reassignment of partition {tp} is still in progress.")
        } else if now.as_ref() == Some(&p.replicas) {
            format!("Reassignment of partition {tp} is completed.")
        } else {
            incomplete += 1;
            format!(
                "There is no active reassignment of partition {tp}, but replica set is {:?} rather than {:?}.",
                now.unwrap_or_default(),
                p.replicas
            )
        };
        if print {
            println!("{line}");
        }
    }
    Ok(incomplete)
}

async fn set_throttle(ctx: &Ctx, plan: &ReassignmentPlan, rate: u64) -> Result<(), Failure> {
    let brokers = ctx
        .admin
        .client()
        .metadata()
        .await?
        .brokers
        .keys()
        .copied()
        .collect::<Vec<_>>();
    let mut changes: Vec<(ConfigResource, Vec<AlterConfigOp>)> = brokers
        .into_iter()
        .map(|b| {
            (
                ConfigResource::broker(b),
                vec![
                    AlterConfigOp::set(LEADER_RATE, rate.to_string()),
                    AlterConfigOp::set(FOLLOWER_RATE, rate.to_string()),
                ],
            )
        })
        .collect();
    let topics: BTreeSet<&str> = plan.partitions.iter().map(|p| p.topic.as_str()).collect();
    for t in topics {
        changes.push((
            ConfigResource::topic(t),
            vec![
                AlterConfigOp::set(LEADER_REPLICAS, "*"),
                AlterConfigOp::set(FOLLOWER_REPLICAS, "*"),
            ],
        ));
    }
    let results = ctx
        .admin
        .incremental_alter_configs(changes, AlterConfigsOptions::default().timeout(ctx.timeout))
        .await?;
    check_items("throttle of", results, |_, ()| {})
}

async fn remove_throttle(ctx: &Ctx, plan: &ReassignmentPlan) -> Result<(), Failure> {
    let brokers = ctx
        .admin
        .client()
        .metadata()
        .await?
        .brokers
        .keys()
        .copied()
        .collect::<Vec<_>>();
    let mut changes: Vec<(ConfigResource, Vec<AlterConfigOp>)> = brokers
        .into_iter()
        .map(|b| {
            (
                ConfigResource::broker(b),
                vec![
                    AlterConfigOp::delete(LEADER_RATE),
                    AlterConfigOp::delete(FOLLOWER_RATE),
                ],
            )
        })
        .collect();
    let topics: BTreeSet<&str> = plan.partitions.iter().map(|p| p.topic.as_str()).collect();
    for t in topics {
        changes.push((
            ConfigResource::topic(t),
            vec![
                AlterConfigOp::delete(LEADER_REPLICAS),
                AlterConfigOp::delete(FOLLOWER_REPLICAS),
            ],
        ));
    }
    let results = ctx
        .admin
        .incremental_alter_configs(changes, AlterConfigsOptions::default().timeout(ctx.timeout))
        .await?;
    check_items("throttle of", results, |_, ()| {})
}
