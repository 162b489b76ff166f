//! `kafka-cli users scram ...`: describe, upsert, delete SCRAM credentials (what
//! `kafka-configs.sh --entity-type users --alter --add-config 'SCRAM-SHA-256=[...]'`
//! does).

use std::io::BufRead;

use clap::{Subcommand, ValueEnum};
use kafka_admin::{ScramAlteration, ScramMechanism, ScramOptions};

use crate::Ctx;
use crate::exit::{Failure, check_items};

#[derive(Subcommand, Debug)]
pub enum UsersCommand {
    /// SCRAM credentials.
    #[command(subcommand)]
    Scram(ScramCommand),
}

#[derive(Subcommand, Debug)]
pub enum ScramCommand {
    /// Show users' SCRAM mechanisms and iterations (every user with one when no
    /// --user is given).
    Describe {
        /// A user; repeatable.
        #[arg(long)]
        user: Vec<String>,
        /// One JSON object per user instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Create or replace a user's credential. The password is read from the first line
    /// of stdin unless --password is given.
    Upsert {
        /// The user.
        #[arg(long)]
        user: String,
        /// The mechanism.
        #[arg(long, value_enum, default_value_t = Mechanism::ScramSha512)]
        mechanism: Mechanism,
        /// Iterations (4096..=16384).
        #[arg(long, default_value_t = 8192)]
        iterations: i32,
        /// The password (visible in the process list: prefer stdin).
        #[arg(long)]
        password: Option<String>,
    },
    /// Delete a user's credential for a mechanism.
    Delete {
        /// The user.
        #[arg(long)]
        user: String,
        /// The mechanism.
        #[arg(long, value_enum)]
        mechanism: Mechanism,
    },
}

/// SCRAM mechanisms by their SASL names.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum Mechanism {
    /// SCRAM-SHA-256.
    #[value(name = "SCRAM-SHA-256")]
    ScramSha256,
    /// SCRAM-SHA-512.
    #[value(name = "SCRAM-SHA-512")]
    ScramSha512,
}

impl From<Mechanism> for ScramMechanism {
    fn from(m: Mechanism) -> Self {
        match m {
            Mechanism::ScramSha256 => ScramMechanism::Sha256,
            Mechanism::ScramSha512 => ScramMechanism::Sha512,
        }
    }
}

pub async fn run(ctx: &Ctx, cmd: UsersCommand) -> Result<(), Failure> {
    let UsersCommand::Scram(cmd) = cmd;
    let opts = ScramOptions::default().timeout(ctx.timeout);
    match cmd {
        ScramCommand::Describe { user, json } => {
            let users = (!user.is_empty()).then_some(user);
            let described = ctx
                .admin
                .describe_user_scram_credentials(users, opts)
                .await?;
            check_items("user", described, |user, infos| {
                if json {
                    let creds: Vec<_> = infos
                        .iter()
                        .map(|i| serde_json::json!({"mechanism": i.mechanism.name(), "iterations": i.iterations}))
                        .collect();
                    println!(
                        "{}",
                        serde_json::json!({"user": user, "credentials": creds})
                    );
                } else {
                    let creds: Vec<String> = infos
                        .iter()
                        .map(|i| format!("{}=iterations={}", i.mechanism, i.iterations))
                        .collect();
                    println!(
                        "SCRAM credential configs for user-principal '{user}' are {}",
                        creds.join(", ")
                    );
                }
            })
        }
        ScramCommand::Upsert {
            user,
            mechanism,
            iterations,
            password,
        } => {
            let password = match password {
                Some(p) => p,
                None => {
                    let mut line = String::new();
                    std::io::stdin()
                        .lock()
                        .read_line(&mut line)
                        .map_err(|e| Failure::Usage(format!("reading the password: {e}")))?;
                    line.trim_end_matches(['\r', '\n']).to_string()
                }
            };
            let mechanism: ScramMechanism = mechanism.into();
            let change = ScramAlteration::Upsert {
                mechanism,
                iterations,
                password,
            };
            let results = ctx
                .admin
                .alter_user_scram_credentials([(user, change)], opts)
                .await?;
            check_items("user", results, |user, ()| {
                println!("Completed updating {mechanism} credential of user-principal '{user}'.");
            })
        }
        ScramCommand::Delete { user, mechanism } => {
            let mechanism: ScramMechanism = mechanism.into();
            let results = ctx
                .admin
                .alter_user_scram_credentials([(user, ScramAlteration::Delete { mechanism })], opts)
                .await?;
            check_items("user", results, |user, ()| {
                println!("Deleted {mechanism} credential of user-principal '{user}'.");
            })
        }
    }
}
