//! ApiVersions negotiation: for each API, the highest version both sides support.

use std::collections::HashMap;

use kafka_protocol::messages::{ApiKey, ApiVersionsResponse};
use kafka_protocol::protocol::VersionRange;

use crate::error::{Error, ErrorContext, Result};

/// The API version ranges one broker advertised.
#[derive(Clone, Debug, Default)]
pub struct BrokerVersions {
    ranges: HashMap<i16, (i16, i16)>,
    /// Finalized feature levels (KIP-584), e.g. `transaction.version`.
    features: HashMap<String, i16>,
}

impl BrokerVersions {
    /// Reads the ranges from an ApiVersions response, rejecting a range with min > max.
    pub(crate) fn from_response(resp: &ApiVersionsResponse) -> Result<Self, super::Fault> {
        let mut ranges = HashMap::with_capacity(resp.api_keys.len());
        for k in &resp.api_keys {
            if k.min_version > k.max_version || k.min_version < 0 {
                return Err(super::Fault::decode(format!(
                    "ApiVersions lists API key {} with an invalid range {}..={}",
                    k.api_key, k.min_version, k.max_version
                )));
            }
            ranges.insert(k.api_key, (k.min_version, k.max_version));
        }
        let features = resp
            .finalized_features
            .iter()
            .map(|f| (f.name.to_string(), f.max_version_level))
            .collect();
        Ok(Self { ranges, features })
    }

    /// The cluster's finalized level of a feature (KIP-584) as this broker reported it,
    /// e.g. `transaction.version`; `None` when not finalized or not reported.
    pub fn finalized_feature(&self, name: &str) -> Option<i16> {
        self.features.get(name).copied()
    }

    /// The broker's range for `api`, if it supports it at all.
    pub fn range(&self, api: ApiKey) -> Option<(i16, i16)> {
        self.ranges.get(&(api as i16)).copied()
    }

    /// The highest version in both `client` and the broker's range.
    pub(crate) fn negotiate(
        &self,
        api: ApiKey,
        client: VersionRange,
        context: impl FnOnce() -> ErrorContext,
    ) -> Result<i16> {
        let unsupported = |broker_versions: String| Error::UnsupportedVersion {
            api,
            context: context(),
            client_min: client.min,
            client_max: client.max,
            broker_versions,
        };
        let Some((bmin, bmax)) = self.range(api) else {
            return Err(unsupported("none".into()));
        };
        let common = client.intersect(&VersionRange {
            min: bmin,
            max: bmax,
        });
        if common.is_empty() {
            return Err(unsupported(format!("{bmin}..={bmax}")));
        }
        Ok(common.max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kafka_protocol::messages::api_versions_response::ApiVersion;

    fn broker(ranges: &[(ApiKey, i16, i16)]) -> BrokerVersions {
        let resp = ApiVersionsResponse::default().with_api_keys(
            ranges
                .iter()
                .map(|&(k, min, max)| {
                    ApiVersion::default()
                        .with_api_key(k as i16)
                        .with_min_version(min)
                        .with_max_version(max)
                })
                .collect(),
        );
        BrokerVersions::from_response(&resp).unwrap()
    }

    #[test]
    fn picks_highest_common() {
        let b = broker(&[(ApiKey::Metadata, 0, 12), (ApiKey::Produce, 3, 13)]);
        let ctx = ErrorContext::default;
        assert_eq!(
            b.negotiate(ApiKey::Metadata, VersionRange { min: 0, max: 13 }, ctx)
                .unwrap(),
            12
        );
        assert_eq!(
            b.negotiate(ApiKey::Produce, VersionRange { min: 3, max: 11 }, ctx)
                .unwrap(),
            11
        );
    }

    #[test]
    fn fails_clearly_without_overlap() {
        let b = broker(&[(ApiKey::Produce, 9, 13)]);
        let err = b
            .negotiate(
                ApiKey::Produce,
                VersionRange { min: 3, max: 8 },
                ErrorContext::default,
            )
            .unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("Produce") && msg.contains("3..=8") && msg.contains("9..=13"),
            "{msg}"
        );
        let err = b
            .negotiate(
                ApiKey::Fetch,
                VersionRange { min: 4, max: 17 },
                ErrorContext::default,
            )
            .unwrap_err();
        assert!(err.to_string().contains("broker none"), "{err}");
    }

    #[test]
    fn rejects_min_above_max() {
        let resp = ApiVersionsResponse::default().with_api_keys(vec![
            ApiVersion::default()
                .with_api_key(0)
                .with_min_version(5)
                .with_max_version(2),
        ]);
        assert!(
            BrokerVersions::from_response(&resp)
                .unwrap_err()
                .contains("invalid range")
        );
    }
}
