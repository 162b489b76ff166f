//! The AWS MSK IAM properties (`sasl.aws.*`): where `sasl.mechanism=AWS_MSK_IAM`, or
//! OAUTHBEARER with MSK's signed token, gets its credentials and region. The table is
//! always present (so the option docs do not depend on features); using it without the
//! `aws-msk-iam` cargo feature is a configuration error naming the feature.

use super::options::option_table;
use super::{SaslConfig, SaslMechanism, SecurityBuilder};
use crate::error::{Error, Result};

/// The `sasl.aws.*` settings, as given.
#[derive(Clone, Debug, Default)]
pub(crate) struct AwsSettings {
    /// `sasl.aws.region`.
    pub(crate) region: Option<String>,
    /// `sasl.aws.profile`.
    pub(crate) profile: Option<String>,
    /// `sasl.aws.oauthbearer`: OAUTHBEARER tokens are MSK's signed URLs.
    pub(crate) oauthbearer: bool,
}

impl AwsSettings {
    /// Whether any `sasl.aws.*` property was given.
    pub(crate) fn is_set(&self) -> bool {
        self.region.is_some() || self.profile.is_some() || self.oauthbearer
    }

    /// The SASL configuration these settings give `mechanism` (from properties), or
    /// `None` when they do not apply to it.
    pub(crate) fn sasl_for(&self, mechanism: SaslMechanism) -> Result<Option<SaslConfig>> {
        let applies = mechanism == SaslMechanism::AwsMskIam
            || (mechanism == SaslMechanism::OAuthBearer && self.oauthbearer);
        if !applies {
            if self.is_set() {
                return Err(Error::Config(format!(
                    "sasl.aws.* settings given, but sasl.mechanism is {mechanism} (they apply \
                     to AWS_MSK_IAM, and to OAUTHBEARER with sasl.aws.oauthbearer=true)"
                )));
            }
            return Ok(None);
        }
        self.build(mechanism).map(Some)
    }

    #[cfg(feature = "aws-msk-iam")]
    fn build(&self, mechanism: SaslMechanism) -> Result<SaslConfig> {
        use std::sync::Arc;

        use crate::aws::{DefaultCredentialsChain, MskIamConfig, MskIamTokenProvider};
        let chain = match &self.profile {
            Some(p) => DefaultCredentialsChain::with_profile(p),
            None => DefaultCredentialsChain::new(),
        };
        let mut iam = MskIamConfig::new(Arc::new(chain));
        if let Some(r) = &self.region {
            iam = iam.region(r);
        }
        Ok(if mechanism == SaslMechanism::AwsMskIam {
            SaslConfig::aws_msk_iam(iam)
        } else {
            SaslConfig::oauthbearer(Arc::new(MskIamTokenProvider::new(iam)))
        })
    }

    #[cfg(not(feature = "aws-msk-iam"))]
    fn build(&self, _: SaslMechanism) -> Result<SaslConfig> {
        Err(Error::Config(
            "AWS MSK IAM (sasl.mechanism=AWS_MSK_IAM, sasl.aws.*) needs kafka-client's cargo \
             feature `aws-msk-iam`"
                .into(),
        ))
    }
}

fn parse_flag(key: &str, v: &str) -> Result<bool> {
    super::parse_bool(key, v)
}

option_table! {
    /// The AWS MSK IAM options (part of the client's; feature `aws-msk-iam`).
    AWS_OPTIONS: SecurityBuilder {
        "-" "sasl.aws.region" [] "from the broker host name, else AWS_REGION" "us-east-1"
            "AWS_MSK_IAM: signing region when the broker host name holds none; OAUTHBEARER with MSK tokens: the token's region (else AWS_REGION, AWS_DEFAULT_REGION, the profile's region)."
            => |mut b, _, v| { b.aws.region = Some(v.trim().to_owned()); Ok(b) };
        "-" "sasl.aws.profile" [] "AWS_PROFILE, else default" "kafka-prod"
            "AWS_MSK_IAM: the shared-profile name the default credential chain reads (Java's `awsProfileName`)."
            => |mut b, _, v| { b.aws.profile = Some(v.trim().to_owned()); Ok(b) };
        "-" "sasl.aws.oauthbearer" [] "false" "true"
            "With sasl.mechanism=OAUTHBEARER: send MSK's signed IAM token (Java's `IAMOAuthBearerLoginCallbackHandler`)."
            => |mut b, k, v| { b.aws.oauthbearer = parse_flag(k, &v)?; Ok(b) };
    }
}
