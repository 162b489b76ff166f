//! `kafka-cli delegation-tokens create|renew|expire|describe`: what
//! `kafka-delegation-tokens.sh` does (KIP-48). Tokens are only granted over an
//! authenticated connection: give SASL settings with `--command-config`.

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use clap::Subcommand;
use kafka_admin::{CreateDelegationTokenOptions, DelegationToken, DelegationTokenOptions};

use crate::Ctx;
use crate::exit::Failure;

#[derive(Subcommand, Debug)]
pub enum DelegationTokensCommand {
    /// Create a token for the authenticated principal (or `--owner-principal`).
    Create {
        /// The token's longest life in ms; -1 for the broker's maximum.
        #[arg(long, default_value_t = -1, allow_negative_numbers = true)]
        max_life_time_period: i64,
        /// A principal (`User:alice`) allowed to renew the token; repeatable.
        #[arg(long)]
        renewer_principal: Vec<String>,
        /// Create the token for this principal (`User:alice`) instead of the caller.
        #[arg(long)]
        owner_principal: Option<String>,
        /// One JSON object per token instead of the table.
        #[arg(long)]
        json: bool,
    },
    /// Extend a token's expiry.
    Renew {
        /// The token's HMAC, base64 (as `create` prints it).
        #[arg(long)]
        hmac: String,
        /// By how many ms; -1 for the broker's renew interval.
        #[arg(long, default_value_t = -1, allow_negative_numbers = true)]
        renew_time_period: i64,
        /// `{"expiryTimestamp": ms}` instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Expire a token, now or after a period.
    Expire {
        /// The token's HMAC, base64.
        #[arg(long)]
        hmac: String,
        /// In how many ms; -1 expires it at once.
        #[arg(long, default_value_t = -1, allow_negative_numbers = true)]
        expiry_time_period: i64,
        /// `{"expiryTimestamp": ms}` instead of text.
        #[arg(long)]
        json: bool,
    },
    /// List tokens (all the caller may see, or those of `--owner-principal`).
    Describe {
        /// Only tokens owned by this principal; repeatable.
        #[arg(long)]
        owner_principal: Vec<String>,
        /// One JSON object per token instead of the table.
        #[arg(long)]
        json: bool,
    },
}

/// `-1` (or any negative) as "the broker's default", else milliseconds.
fn period(ms: i64) -> Option<Duration> {
    u64::try_from(ms).ok().map(Duration::from_millis)
}

fn hmac_bytes(hmac: &str) -> Result<Vec<u8>, Failure> {
    B64.decode(hmac.trim())
        .map_err(|_| Failure::Usage("--hmac is not base64 (give the HMAC `create` printed)".into()))
}

pub async fn run(ctx: &Ctx, cmd: DelegationTokensCommand) -> Result<(), Failure> {
    let opts = || DelegationTokenOptions::default().timeout(ctx.timeout);
    match cmd {
        DelegationTokensCommand::Create {
            max_life_time_period,
            renewer_principal,
            owner_principal,
            json,
        } => {
            let mut o = CreateDelegationTokenOptions::default().timeout(ctx.timeout);
            if let Some(d) = period(max_life_time_period) {
                o = o.max_lifetime(d);
            }
            for r in renewer_principal {
                o = o.renewer(r);
            }
            if let Some(owner) = owner_principal {
                o = o.owner(owner);
            }
            let token = ctx.admin.create_delegation_token(o).await?;
            if !json {
                println!(
                    "Created delegation token with tokenId : {}\n",
                    token.token_id
                );
            }
            print_tokens(&[token], json);
        }
        DelegationTokensCommand::Renew {
            hmac,
            renew_time_period,
            json,
        } => {
            let expiry = ctx
                .admin
                .renew_delegation_token(&hmac_bytes(&hmac)?, period(renew_time_period), opts())
                .await?;
            print_expiry("renewed", expiry, json);
        }
        DelegationTokensCommand::Expire {
            hmac,
            expiry_time_period,
            json,
        } => {
            let expiry = ctx
                .admin
                .expire_delegation_token(&hmac_bytes(&hmac)?, period(expiry_time_period), opts())
                .await?;
            print_expiry("expired", expiry, json);
        }
        DelegationTokensCommand::Describe {
            owner_principal,
            json,
        } => {
            let owners = (!owner_principal.is_empty()).then_some(owner_principal);
            let tokens = ctx.admin.describe_delegation_tokens(owners, opts()).await?;
            print_tokens(&tokens, json);
        }
    }
    Ok(())
}

fn print_expiry(verb: &str, expiry: i64, json: bool) {
    if json {
        println!("{}", serde_json::json!({ "expiryTimestamp": expiry }));
    } else {
        println!("Completed {verb} operation. Expiry timestamp (ms): {expiry}");
    }
}

/// Kafka's table: TOKENID HMAC OWNER REQUESTER RENEWERS ISSUEDATE EXPIRYDATE MAXDATE
/// (dates as ms since the epoch), or one JSON object per token.
fn print_tokens(tokens: &[DelegationToken], json: bool) {
    if !json {
        println!(
            "{:<36} {:<90} {:<15} {:<15} {:<25} {:<15} {:<15} {:<15}",
            "TOKENID",
            "HMAC",
            "OWNER",
            "REQUESTER",
            "RENEWERS",
            "ISSUEDATE",
            "EXPIRYDATE",
            "MAXDATE"
        );
    }
    for t in tokens {
        if json {
            let line = serde_json::json!({
                "tokenId": t.token_id,
                "hmac": t.hmac_base64(),
                "owner": t.owner,
                "requester": t.requester,
                "renewers": t.renewers,
                "issueTimestamp": t.issue_timestamp_ms,
                "expiryTimestamp": t.expiry_timestamp_ms,
                "maxTimestamp": t.max_timestamp_ms,
            });
            println!("{line}");
        } else {
            println!(
                "{:<36} {:<90} {:<15} {:<15} {:<25} {:<15} {:<15} {:<15}",
                t.token_id,
                t.hmac_base64(),
                t.owner,
                t.requester,
                format!("[{}]", t.renewers.join(", ")),
                t.issue_timestamp_ms,
                t.expiry_timestamp_ms,
                t.max_timestamp_ms
            );
        }
    }
}
