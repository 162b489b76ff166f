//! `kafka-cli features describe|upgrade|downgrade`: what `kafka-features.sh` does
//! (KIP-584 finalized feature levels: `metadata.version`, `kraft.version`,
//! `transaction.version`, `group.version`, `share.version`, ...).

use clap::Subcommand;
use kafka_admin::{FeatureUpdate, FeatureUpgrade, FeaturesOptions};

use crate::Ctx;
use crate::exit::{Failure, check_items};

#[derive(Subcommand, Debug)]
pub enum FeaturesCommand {
    /// Finalized and supported feature levels.
    Describe {
        /// One JSON object per feature instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Raise features' finalized levels, `--feature name=level`; repeatable.
    Upgrade {
        /// `name=level`, e.g. `share.version=1`.
        #[arg(long, required = true, value_parser = parse_level)]
        feature: Vec<(String, i16)>,
        /// Ask the controller to validate only; nothing changes.
        #[arg(long)]
        dry_run: bool,
    },
    /// Lower features' finalized levels (level 0 disables a feature).
    Downgrade {
        /// `name=level`.
        #[arg(long, required = true, value_parser = parse_level)]
        feature: Vec<(String, i16)>,
        /// Allow a downgrade that loses metadata (refused otherwise).
        #[arg(long)]
        unsafe_downgrade: bool,
        /// Ask the controller to validate only; nothing changes.
        #[arg(long)]
        dry_run: bool,
    },
}

fn parse_level(s: &str) -> Result<(String, i16), String> {
    let (name, level) = s
        .split_once('=')
        .ok_or_else(|| format!("expected name=level, got {s:?}"))?;
    let level: i16 = level
        .trim()
        .parse()
        .map_err(|_| format!("feature {name}: level {level:?} is not a number (0..32767)"))?;
    if level < 0 {
        return Err(format!("feature {name}: level {level} is negative"));
    }
    Ok((name.trim().to_string(), level))
}

pub async fn run(ctx: &Ctx, cmd: FeaturesCommand) -> Result<(), Failure> {
    let opts = FeaturesOptions::default().timeout(ctx.timeout);
    let (features, upgrade, dry_run) = match cmd {
        FeaturesCommand::Describe { json } => return describe(ctx, opts, json).await,
        FeaturesCommand::Upgrade { feature, dry_run } => {
            (feature, FeatureUpgrade::Upgrade, dry_run)
        }
        FeaturesCommand::Downgrade {
            feature,
            unsafe_downgrade,
            dry_run,
        } => {
            let kind = if unsafe_downgrade {
                FeatureUpgrade::UnsafeDowngrade
            } else {
                FeatureUpgrade::SafeDowngrade
            };
            (feature, kind, dry_run)
        }
    };
    let levels: std::collections::BTreeMap<String, i16> = features.iter().cloned().collect();
    let updates = features.into_iter().map(|(name, level)| {
        (
            name,
            FeatureUpdate {
                max_version_level: level,
                upgrade,
            },
        )
    });
    let results = ctx
        .admin
        .update_features(updates, opts.validate_only(dry_run))
        .await?;
    let verb = if dry_run { "can be" } else { "was" };
    check_items("feature", results, |name, ()| {
        let level = levels.get(name).copied().unwrap_or_default();
        let action = match upgrade {
            FeatureUpgrade::Upgrade => "upgraded",
            _ => "downgraded",
        };
        println!("{name} {verb} {action} to {level}.");
    })
}

async fn describe(ctx: &Ctx, opts: FeaturesOptions, json: bool) -> Result<(), Failure> {
    let f = ctx.admin.describe_features(opts).await?;
    for (name, supported) in &f.supported {
        let finalized = f.finalized.get(name).map_or(0, |r| r.max);
        if json {
            let line = serde_json::json!({
                "feature": name,
                "supportedMinVersion": supported.min,
                "supportedMaxVersion": supported.max,
                "finalizedVersionLevel": finalized,
                "epoch": f.finalized_epoch,
            });
            println!("{line}");
        } else {
            println!(
                "Feature: {name}\tSupportedMinVersion: {}\tSupportedMaxVersion: {}\tFinalizedVersionLevel: {finalized}\tEpoch: {}",
                supported.min,
                supported.max,
                f.finalized_epoch.map_or("-".to_string(), |e| e.to_string())
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::parse_level;

    #[test]
    fn levels_parse_and_bad_ones_are_named() {
        assert_eq!(
            parse_level("share.version=1").unwrap(),
            ("share.version".to_string(), 1)
        );
        assert!(
            parse_level("share.version")
                .unwrap_err()
                .contains("name=level")
        );
        assert!(parse_level("x=abc").unwrap_err().contains("\"abc\""));
        assert!(parse_level("x=-1").unwrap_err().contains("negative"));
    }
}
