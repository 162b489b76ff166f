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
    /// `sasl.aws.role.arn`: assume this role with the chain's credentials.
    pub(crate) role_arn: Option<String>,
    /// `sasl.aws.role.session.name`.
    pub(crate) role_session_name: Option<String>,
    /// `sasl.aws.role.external.id`.
    pub(crate) role_external_id: Option<String>,
    /// `sasl.aws.sts.region`.
    pub(crate) sts_region: Option<String>,
}

impl AwsSettings {
    /// Whether any `sasl.aws.*` property was given.
    pub(crate) fn is_set(&self) -> bool {
        self.region.is_some()
            || self.profile.is_some()
            || self.oauthbearer
            || self.role_arn.is_some()
            || self.role_session_name.is_some()
            || self.role_external_id.is_some()
            || self.sts_region.is_some()
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

        use crate::aws::{
            AssumeRoleCredentials, AwsCredentialsProvider, DefaultCredentialsChain, MskIamConfig,
            MskIamTokenProvider,
        };
        let chain = match &self.profile {
            Some(p) => DefaultCredentialsChain::with_profile(p),
            None => DefaultCredentialsChain::new(),
        };
        let mut provider: Arc<dyn AwsCredentialsProvider> = Arc::new(chain);
        match &self.role_arn {
            Some(role) => {
                let mut r = AssumeRoleCredentials::new(provider, role);
                if let Some(n) = &self.role_session_name {
                    r = r.session_name(n);
                }
                if let Some(id) = &self.role_external_id {
                    r = r.external_id(id);
                }
                if let Some(region) = &self.sts_region {
                    r = r.sts_region(region);
                }
                provider = Arc::new(r);
            }
            None => {
                if self.role_session_name.is_some()
                    || self.role_external_id.is_some()
                    || self.sts_region.is_some()
                {
                    return Err(Error::Config(
                        "sasl.aws.role.session.name, sasl.aws.role.external.id and \
                         sasl.aws.sts.region need sasl.aws.role.arn"
                            .into(),
                    ));
                }
            }
        }
        let mut iam = MskIamConfig::new(provider);
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
        "-" "sasl.aws.role.arn" [] "(none)" "arn:aws:iam::123456789012:role/kafka"
            "AWS_MSK_IAM: assume this IAM role (STS AssumeRole) with the credential chain's credentials (Java's `awsRoleArn`)."
            => |mut b, _, v| { b.aws.role_arn = Some(v.trim().to_owned()); Ok(b) };
        "-" "sasl.aws.role.session.name" [] "kafka-rs" "app-1"
            "Session name of the assumed role (Java's `awsRoleSessionName`)."
            => |mut b, _, v| { b.aws.role_session_name = Some(v.trim().to_owned()); Ok(b) };
        "-" "sasl.aws.role.external.id" [] "(none)" "ext-42"
            "External id the role's trust policy requires (Java's `awsRoleExternalId`)."
            => |mut b, _, v| { b.aws.role_external_id = Some(v.trim().to_owned()); Ok(b) };
        "-" "sasl.aws.sts.region" [] "AWS_REGION, else the global endpoint" "eu-west-1"
            "Region of the STS endpoint used to assume the role (Java's `awsStsRegion`)."
            => |mut b, _, v| { b.aws.sts_region = Some(v.trim().to_owned()); Ok(b) };
        "-" "sasl.aws.oauthbearer" [] "false" "true"
            "With sasl.mechanism=OAUTHBEARER: send MSK's signed IAM token (Java's `IAMOAuthBearerLoginCallbackHandler`)."
            => |mut b, k, v| { b.aws.oauthbearer = parse_flag(k, &v)?; Ok(b) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Properties;

    fn build(pairs: &[(&str, &str)]) -> Result<super::super::SecurityConfig> {
        let mut p: Properties = pairs.iter().copied().collect();
        let b = super::super::options::apply_options(
            super::super::SECURITY_OPTIONS,
            SecurityBuilder::default(),
            &mut p,
        )?;
        super::super::options::apply_options(AWS_OPTIONS, b, &mut p)?.build()
    }

    #[test]
    fn aws_properties() {
        let e = build(&[("sasl.aws.region", "us-east-1")])
            .unwrap_err()
            .to_string();
        assert!(e.contains("without sasl.mechanism"), "{e}");
        let e = build(&[("sasl.mechanism", "PLAIN"), ("sasl.aws.profile", "p")])
            .unwrap_err()
            .to_string();
        assert!(e.contains("sasl.aws.*"), "{e}");
        let e = build(&[
            ("sasl.mechanism", "AWS_MSK_IAM"),
            ("sasl.aws.sts.region", "eu-west-1"),
        ]);
        let with_feature = cfg!(feature = "aws-msk-iam");
        let e = e.unwrap_err().to_string();
        assert!(
            e.contains(if with_feature {
                "need sasl.aws.role.arn"
            } else {
                "aws-msk-iam"
            }),
            "{e}"
        );
        let ok = build(&[
            ("security.protocol", "SASL_SSL"),
            ("sasl.mechanism", "AWS_MSK_IAM"),
            ("sasl.aws.role.arn", "arn:aws:iam::1:role/r"),
            ("sasl.aws.region", "us-east-1"),
        ]);
        assert_eq!(ok.is_ok(), with_feature, "{ok:?}");
        if let Ok(c) = ok {
            assert_eq!(c.sasl.unwrap().mechanism(), SaslMechanism::AwsMskIam);
        }
        let token = build(&[
            ("sasl.mechanism", "OAUTHBEARER"),
            ("sasl.aws.oauthbearer", "true"),
        ]);
        assert_eq!(token.is_ok(), with_feature, "{token:?}");
    }
}
