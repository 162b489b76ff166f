//! Features (KIP-584): describe the finalized and supported feature levels (from an
//! ApiVersions answer, as Java's admin does) and update finalized levels
//! (UpdateFeatures, the controller).

use std::collections::BTreeMap;
use std::time::Duration;

use kafka_client::lowlevel::Target;
use kafka_client::{ErrorContext, Result};
use kafka_protocol::messages::update_features_request::FeatureUpdateKey;
use kafka_protocol::messages::{ApiKey, ApiVersionsRequest, UpdateFeaturesRequest};

use crate::admin::{Admin, check_item, timeout_ms, wire_str};
use crate::driver::{Call, fixed, retry_controller_errors, retry_transient_errors};
use crate::one_request::OneRequest;

/// Options for the feature calls.
#[derive(Clone, Debug)]
pub struct FeaturesOptions {
    timeout: Duration,
    validate_only: bool,
}

impl Default for FeaturesOptions {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(60),
            validate_only: false,
        }
    }
}

impl FeaturesOptions {
    /// How long the whole call may take, retries included. Default 60 s.
    pub fn timeout(mut self, t: Duration) -> Self {
        self.timeout = t;
        self
    }

    /// Updates only: validate, change nothing.
    pub fn validate_only(mut self, v: bool) -> Self {
        self.validate_only = v;
        self
    }
}

/// A range of feature levels.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct FeatureRange {
    /// Lowest level.
    pub min: i16,
    /// Highest level.
    pub max: i16,
}

/// The cluster's features, as [`Admin::describe_features`] reports them.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct FeatureMetadata {
    /// Finalized (cluster-wide, in use) levels by feature name (`metadata.version`,
    /// `transaction.version`, `group.version`, ...).
    pub finalized: BTreeMap<String, FeatureRange>,
    /// The epoch of the finalized levels, when known.
    pub finalized_epoch: Option<i64>,
    /// The levels the answering broker supports.
    pub supported: BTreeMap<String, FeatureRange>,
}

/// How [`Admin::update_features`] changes a feature's finalized level.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FeatureUpgrade {
    /// Raise (or set) the level.
    Upgrade,
    /// Lower the level when metadata is not lost by it.
    SafeDowngrade,
    /// Lower the level even if metadata is lost.
    UnsafeDowngrade,
}

impl FeatureUpgrade {
    fn code(self) -> i8 {
        match self {
            Self::Upgrade => 1,
            Self::SafeDowngrade => 2,
            Self::UnsafeDowngrade => 3,
        }
    }
}

/// One feature level change; level 0 removes the feature.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FeatureUpdate {
    /// The new maximum level.
    pub max_version_level: i16,
    /// Upgrade or which kind of downgrade.
    pub upgrade: FeatureUpgrade,
}

impl Admin {
    /// The finalized and supported feature levels, from one broker's ApiVersions answer.
    ///
    /// # Cancel safety
    /// Cancel-safe: read-only, and the admin client holds no state a dropped call could
    /// leave behind. Dropping it changes nothing; the next call works.
    pub async fn describe_features(&self, options: FeaturesOptions) -> Result<FeatureMetadata> {
        let api = ApiKey::ApiVersions;
        let one = OneRequest {
            client: &self.client,
            operation: "DescribeFeatures",
            api,
            timeout: options.timeout,
            target: self.any_broker_or_active_controller(),
            retry: retry_transient_errors,
        };
        one.run(|conn| async move {
            let req = ApiVersionsRequest::default()
                .with_client_software_name(wire_str("kafka-rs"))
                .with_client_software_version(wire_str(env!("CARGO_PKG_VERSION")));
            let resp = conn.request(&req).await?;
            check_item(
                resp.error_code,
                || ErrorContext::default().with_api(api),
                None,
            )?;
            Ok(FeatureMetadata {
                finalized: resp
                    .finalized_features
                    .iter()
                    .map(|f| {
                        let range = FeatureRange {
                            min: f.min_version_level,
                            max: f.max_version_level,
                        };
                        (f.name.to_string(), range)
                    })
                    .collect(),
                finalized_epoch: (resp.finalized_features_epoch >= 0)
                    .then_some(resp.finalized_features_epoch),
                supported: resp
                    .supported_features
                    .iter()
                    .map(|f| {
                        let range = FeatureRange {
                            min: f.min_version,
                            max: f.max_version,
                        };
                        (f.name.to_string(), range)
                    })
                    .collect(),
            })
        })
        .await
    }

    /// Changes finalized feature levels at the controller, with a result per feature
    /// (INVALID_UPDATE_VERSION for a level the brokers do not support or a downgrade
    /// not allowed, ...).
    ///
    /// # Cancel safety
    /// The admin client holds no state a dropped call could leave behind, and the next call
    /// works. The change may or may not have been applied: dropped after a request was
    /// sent, the broker (or controller, or coordinator) may still apply it. Read the state
    /// back to know.
    pub async fn update_features(
        &self,
        updates: impl IntoIterator<Item = (String, FeatureUpdate)>,
        options: FeaturesOptions,
    ) -> Result<BTreeMap<String, Result<()>>> {
        let api = ApiKey::UpdateFeatures;
        let items: BTreeMap<String, FeatureUpdate> = updates.into_iter().collect();
        let (timeout, validate_only) = (options.timeout, options.validate_only);
        let call =
            Call::new(&self.client, "UpdateFeatures", api, timeout).retry(retry_controller_errors);
        Ok(call
            .run(
                items,
                |keys| fixed(Target::Controller, keys),
                |conn, batch| async move {
                    let keys = batch
                        .iter()
                        .map(|(name, u)| {
                            FeatureUpdateKey::default()
                                .with_feature(wire_str(name))
                                .with_max_version_level(u.max_version_level)
                                .with_upgrade_type(u.upgrade.code())
                        })
                        .collect();
                    let req = UpdateFeaturesRequest::default()
                        .with_timeout_ms(timeout_ms(timeout))
                        .with_feature_updates(keys)
                        .with_validate_only(validate_only);
                    let resp = conn.request(&req).await?;
                    let ctx = || ErrorContext::default().with_api(api);
                    check_item(resp.error_code, ctx, resp.error_message.as_ref())?;
                    // From v2 the answer lists no features: the top-level code is theirs.
                    if resp.results.is_empty() {
                        return Ok(batch.into_iter().map(|(name, _)| (name, Ok(()))).collect());
                    }
                    Ok(resp
                        .results
                        .into_iter()
                        .map(|r| {
                            let name = r.feature.to_string();
                            let ctx = || ErrorContext::default().with_api(api).with_resource(&name);
                            let result = check_item(r.error_code, ctx, r.error_message.as_ref());
                            (name, result)
                        })
                        .collect())
                },
            )
            .await)
    }
}
