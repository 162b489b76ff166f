//! `kafka-cli`: what `kafka-topics.sh`, `kafka-console-producer.sh`,
//! `kafka-console-consumer.sh`, `kafka-consumer-groups.sh`,
//! `kafka-reassign-partitions.sh`, `kafka-leader-election.sh`, `kafka-configs.sh` (configs,
//! quotas, SCRAM users), `kafka-log-dirs.sh`, `kafka-transactions.sh`, `kafka-delegation-tokens.sh`,
//! `kafka-metadata-quorum.sh` (also `--bootstrap-controller`) and `DumpLogSegments` do,
//! in one binary.
//!
//! Exit codes scripts can rely on: 0 success; 1 the cluster answered but an operation
//! (or one of its items) failed; 2 bad usage; 3 the cluster could not be reached or
//! refused the credentials.

mod cluster;
mod command_config;
mod configs;
mod consume;
mod delegation_tokens;
mod dump_log;
mod exit;
mod features;
mod groups;
mod log_dirs;
mod partitions;
mod produce;
mod progress;
mod protobuf_json;
mod quorum;
mod quotas;
mod reassign;
mod share_groups;
mod topics;
mod transactions;
mod users;

use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use kafka_admin::Admin;
use kafka_client::Client;

use crate::exit::Failure;

/// Manage topics and consumer groups, produce and consume, against a Kafka cluster.
#[derive(Parser, Debug)]
#[command(name = "kafka-cli", version, propagate_version = true)]
struct Cli {
    /// Bootstrap servers, `host:port[,host:port...]`.
    #[arg(long, short = 'b', env = "KAFKA_BOOTSTRAP_SERVERS", global = true)]
    bootstrap_server: Option<String>,
    /// KRaft controllers to talk to directly instead of brokers (KIP-919),
    /// `host:port[,host:port...]` of their controller listeners: for `cluster describe`,
    /// `quorum describe` and `features describe`. Takes precedence over
    /// KAFKA_BOOTSTRAP_SERVERS; not with `--bootstrap-server`.
    #[arg(long, global = true)]
    bootstrap_controller: Option<String>,
    /// A Java `.properties` file of client settings (`security.protocol`, `sasl.*`,
    /// `ssl.*`, ...), as the Java tools' `--command-config`.
    #[arg(long, global = true, value_name = "FILE")]
    command_config: Option<std::path::PathBuf>,
    /// How long each operation may take, in seconds.
    #[arg(long, default_value_t = 30, global = true)]
    timeout: u64,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Create, list, describe, delete topics, and change their configs.
    Topics {
        #[command(subcommand)]
        command: topics::TopicsCommand,
    },
    /// List, describe consumer groups, show their lag, reset their offsets.
    Groups {
        #[command(subcommand)]
        command: groups::GroupsCommand,
    },
    /// List, describe share groups (KIP-932), show, reset and delete their offsets,
    /// delete them.
    ShareGroups {
        #[command(subcommand)]
        command: share_groups::ShareGroupsCommand,
    },
    /// Write lines from stdin as records (`--key-separator` for keys).
    Produce(produce::ProduceArgs),
    /// Print records to stdout, with a template or as JSON; exits after `--count`
    /// records or when none arrived for `--timeout` seconds.
    Consume(consume::ConsumeArgs),
    /// Reassign partitions between brokers, elect leaders.
    Partitions {
        #[command(subcommand)]
        command: partitions::PartitionsCommand,
    },
    /// Elect partition leaders (the same as `partitions elect-leaders`).
    Leaders {
        #[command(subcommand)]
        command: partitions::LeadersCommand,
    },
    /// Describe and alter configs of topics, brokers, broker loggers, groups,
    /// client-metrics subscriptions; users', clients' and IPs' quotas.
    Configs {
        #[command(subcommand)]
        command: configs::ConfigsCommand,
    },
    /// Describe and alter client quotas (users, client ids, IPs).
    Quotas {
        #[command(subcommand)]
        command: quotas::QuotasCommand,
    },
    /// Manage users' SCRAM credentials.
    Users {
        #[command(subcommand)]
        command: users::UsersCommand,
    },
    /// Create, renew, expire and describe delegation tokens (KIP-48; needs an
    /// authenticated connection: `--command-config` with SASL settings).
    DelegationTokens {
        #[command(subcommand)]
        command: delegation_tokens::DelegationTokensCommand,
    },
    /// Describe brokers' log dirs.
    LogDirs {
        #[command(subcommand)]
        command: log_dirs::LogDirsCommand,
    },
    /// Describe the cluster: its id, nodes and controller.
    Cluster {
        #[command(subcommand)]
        command: cluster::ClusterCommand,
    },
    /// Describe the KRaft metadata quorum.
    Quorum {
        #[command(subcommand)]
        command: quorum::QuorumCommand,
    },
    /// Describe, upgrade and downgrade finalized feature levels.
    Features {
        #[command(subcommand)]
        command: features::FeaturesCommand,
    },
    /// List, describe and abort transactions.
    Transactions {
        #[command(subcommand)]
        command: transactions::TransactionsCommand,
    },
    /// Decode local segment files (`.log`, `.index`, `.timeindex`) like Kafka's
    /// DumpLogSegments; needs no cluster.
    DumpLog(dump_log::DumpLogArgs),
}

/// What every subcommand gets: the admin client and the per-operation timeout.
#[derive(Debug)]
pub struct Ctx {
    admin: Admin,
    timeout: Duration,
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => failure.report(),
    }
}

async fn run(cli: Cli) -> Result<(), Failure> {
    let command = match cli.command {
        Command::DumpLog(args) => return dump_log::run(args),
        other => other,
    };
    let timeout = Duration::from_secs(cli.timeout.max(1));
    let builder = match cli.bootstrap_controller {
        Some(controllers) => {
            controllers_only(&command)?;
            let from_env = std::env::var("KAFKA_BOOTSTRAP_SERVERS").ok();
            if cli.bootstrap_server.is_some() && cli.bootstrap_server != from_env {
                return Err(Failure::Usage(
                    "--bootstrap-server and --bootstrap-controller exclude each other".into(),
                ));
            }
            Client::builder().bootstrap_controllers([controllers.as_str()])
        }
        None => {
            let bootstrap = cli.bootstrap_server.ok_or_else(|| {
                Failure::Usage(
                    "no cluster given: pass --bootstrap-server (or --bootstrap-controller) or \
                     set KAFKA_BOOTSTRAP_SERVERS"
                        .into(),
                )
            })?;
            Client::builder().bootstrap_servers([bootstrap.as_str()])
        }
    };
    let builder = match &cli.command_config {
        Some(path) => command_config::apply(builder, path)?,
        None => builder,
    };
    let client = builder
        .client_id("kafka-cli")
        .api_timeout(timeout)
        .build()
        .map_err(|e| Failure::Usage(e.to_string()))?;
    let ctx = Ctx {
        admin: Admin::new(client),
        timeout,
    };
    match command {
        Command::Topics { command } => topics::run(&ctx, command).await,
        Command::Groups { command } => groups::run(&ctx, command).await,
        Command::ShareGroups { command } => share_groups::run(&ctx, command).await,
        Command::Produce(args) => produce::run(&ctx, args).await,
        Command::Consume(args) => consume::run(&ctx, args).await,
        Command::Partitions { command } => partitions::run(&ctx, command).await,
        Command::Leaders { command } => partitions::run_leaders(&ctx, command).await,
        Command::Configs { command } => configs::run(&ctx, command).await,
        Command::Quotas { command } => quotas::run(&ctx, command).await,
        Command::Users { command } => users::run(&ctx, command).await,
        Command::LogDirs { command } => log_dirs::run(&ctx, command).await,
        Command::DelegationTokens { command } => delegation_tokens::run(&ctx, command).await,
        Command::Transactions { command } => transactions::run(&ctx, command).await,
        Command::Cluster { command } => cluster::run(&ctx, command).await,
        Command::Quorum { command } => quorum::run(&ctx, command).await,
        Command::Features { command } => features::run(&ctx, command).await,
        Command::DumpLog(args) => dump_log::run(args),
    }
}

/// `--bootstrap-controller` (KIP-919) serves the commands the controllers answer.
fn controllers_only(command: &Command) -> Result<(), Failure> {
    match command {
        Command::Cluster { .. }
        | Command::Quorum { .. }
        | Command::Features {
            command: features::FeaturesCommand::Describe { .. },
        } => Ok(()),
        _ => Err(Failure::Usage(
            "--bootstrap-controller works with `cluster describe`, `quorum describe` and \
             `features describe`; use --bootstrap-server for the others"
                .into(),
        )),
    }
}
