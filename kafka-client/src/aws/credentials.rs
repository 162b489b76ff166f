//! AWS credentials and where they come from: a [`AwsCredentialsProvider`] trait, static
//! credentials, the environment, the shared profile files, web identity (STS
//! `AssumeRoleWithWebIdentity`, `web_identity.rs`), and the default chain trying them in
//! the AWS SDKs' order.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::SystemTime;

use crate::config::{Secret, TokenError};
use crate::types::BoxFuture;

/// AWS credentials: an access key, its secret, and for temporary credentials a session
/// token and expiry. `Debug` never shows the secret or the token.
#[derive(Clone, PartialEq, Eq)]
pub struct AwsCredentials {
    /// `AKIA...` (long-term) or `ASIA...` (temporary).
    pub access_key_id: String,
    /// The secret access key.
    pub secret_access_key: Secret,
    /// The session token of temporary credentials.
    pub session_token: Option<Secret>,
    /// When temporary credentials expire, if known.
    pub expires_at: Option<SystemTime>,
}

impl AwsCredentials {
    /// Long-term credentials (no session token, no expiry).
    pub fn new(access_key_id: impl Into<String>, secret_access_key: impl Into<Secret>) -> Self {
        Self {
            access_key_id: access_key_id.into(),
            secret_access_key: secret_access_key.into(),
            session_token: None,
            expires_at: None,
        }
    }

    /// With a session token (temporary credentials).
    pub fn with_session_token(mut self, token: impl Into<Secret>) -> Self {
        self.session_token = Some(token.into());
        self
    }
}

impl fmt::Debug for AwsCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AwsCredentials")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &self.secret_access_key)
            .field("session_token", &self.session_token)
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

/// Why credentials could not be loaded. Names the source (variable, file, profile),
/// never a secret.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AwsCredentialsError {
    message: String,
}

impl AwsCredentialsError {
    /// An error with this message (which must not hold a secret).
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
        }
    }
}

impl fmt::Display for AwsCredentialsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for AwsCredentialsError {}

/// Supplies AWS credentials. Called for every new connection (AWS_MSK_IAM signs each
/// authentication), so an implementation fetching them remotely should cache them until
/// shortly before they expire.
///
/// ```
/// use kafka_client::BoxFuture;
/// use kafka_client::aws::{AwsCredentials, AwsCredentialsProvider};
/// use kafka_client::config::TokenError;
///
/// #[derive(Debug)]
/// struct FromVault;
///
/// impl AwsCredentialsProvider for FromVault {
///     fn credentials(&self) -> BoxFuture<'_, Result<AwsCredentials, TokenError>> {
///         Box::pin(async { Ok(AwsCredentials::new("AKIAEXAMPLE", "secret")) })
///     }
/// }
/// ```
pub trait AwsCredentialsProvider: Send + Sync + fmt::Debug {
    /// Currently valid credentials.
    fn credentials(&self) -> BoxFuture<'_, Result<AwsCredentials, TokenError>>;
}

/// Fixed credentials.
#[derive(Clone, Debug)]
pub struct StaticCredentials(AwsCredentials);

impl StaticCredentials {
    /// Always these credentials.
    pub fn new(credentials: AwsCredentials) -> Self {
        Self(credentials)
    }
}

impl AwsCredentialsProvider for StaticCredentials {
    fn credentials(&self) -> BoxFuture<'_, Result<AwsCredentials, TokenError>> {
        Box::pin(async move { Ok(self.0.clone()) })
    }
}

/// A variable of the process environment, `None` when unset or empty.
pub(crate) fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// Credentials from `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` and, for temporary
/// credentials, `AWS_SESSION_TOKEN`; read at every call.
#[derive(Clone, Debug, Default)]
pub struct EnvironmentCredentials;

impl EnvironmentCredentials {
    fn load() -> Result<Option<AwsCredentials>, AwsCredentialsError> {
        match (env("AWS_ACCESS_KEY_ID"), env("AWS_SECRET_ACCESS_KEY")) {
            (None, None) => Ok(None),
            (Some(id), Some(secret)) => {
                let mut c = AwsCredentials::new(id.trim(), secret.trim());
                c.session_token = env("AWS_SESSION_TOKEN").map(|t| Secret::new(t.trim()));
                Ok(Some(c))
            }
            (Some(_), None) => Err(AwsCredentialsError::new(
                "AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not",
            )),
            (None, Some(_)) => Err(AwsCredentialsError::new(
                "AWS_SECRET_ACCESS_KEY is set but AWS_ACCESS_KEY_ID is not",
            )),
        }
    }
}

impl AwsCredentialsProvider for EnvironmentCredentials {
    fn credentials(&self) -> BoxFuture<'_, Result<AwsCredentials, TokenError>> {
        Box::pin(async {
            Self::load()?.ok_or_else(|| {
                AwsCredentialsError::new("AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not set")
                    .into()
            })
        })
    }
}

/// One profile's settings from the shared files (`~/.aws/credentials`, `~/.aws/config`),
/// the credentials file's values first.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Profile {
    pub(crate) values: Vec<(String, String)>,
}

impl Profile {
    pub(crate) fn get(&self, key: &str) -> Option<&str> {
        self.values
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    }
}

/// The profile name: the one given, else `AWS_PROFILE`, else `default`.
pub(crate) fn profile_name(given: Option<&str>) -> String {
    given
        .map(str::to_owned)
        .or_else(|| env("AWS_PROFILE"))
        .unwrap_or_else(|| "default".to_owned())
}

fn home() -> Option<PathBuf> {
    env("HOME")
        .or_else(|| env("USERPROFILE"))
        .map(PathBuf::from)
}

/// `AWS_SHARED_CREDENTIALS_FILE`, else `~/.aws/credentials`.
pub(crate) fn credentials_file() -> Option<PathBuf> {
    env("AWS_SHARED_CREDENTIALS_FILE")
        .map(PathBuf::from)
        .or_else(|| home().map(|h| h.join(".aws").join("credentials")))
}

/// `AWS_CONFIG_FILE`, else `~/.aws/config`.
pub(crate) fn config_file() -> Option<PathBuf> {
    env("AWS_CONFIG_FILE")
        .map(PathBuf::from)
        .or_else(|| home().map(|h| h.join(".aws").join("config")))
}

/// The `key = value` lines of section `wanted` in an INI text (`#`/`;` comments). In the
/// config file a named profile's section is `[profile NAME]` (`[default]` for the default).
fn ini_section(text: &str, wanted: &str, config_file: bool) -> Option<Vec<(String, String)>> {
    let mut found = None::<Vec<(String, String)>>;
    let mut in_section = false;
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            let name = name.trim();
            let name = if config_file {
                name.strip_prefix("profile ").map(str::trim).unwrap_or(name)
            } else {
                name
            };
            in_section = name == wanted;
            if in_section {
                found.get_or_insert_with(Vec::new);
            }
            continue;
        }
        if !in_section {
            continue;
        }
        if let Some((k, v)) = line.split_once('=') {
            let section = found.get_or_insert_with(Vec::new);
            section.push((k.trim().to_ascii_lowercase(), v.trim().to_owned()));
        }
    }
    found
}

/// Reads `name` from the shared files; `None` when neither file has it.
pub(crate) fn load_profile(
    name: &str,
    credentials: Option<PathBuf>,
    config: Option<PathBuf>,
) -> Result<Option<Profile>, AwsCredentialsError> {
    let mut values = Vec::new();
    let mut seen = false;
    for (path, is_config) in [(credentials, false), (config, true)] {
        let Some(path) = path else { continue };
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => {
                return Err(AwsCredentialsError::new(format!(
                    "cannot read {}: {e}",
                    path.display()
                )));
            }
        };
        if let Some(section) = ini_section(&text, name, is_config) {
            seen = true;
            values.extend(section);
        }
    }
    Ok(seen.then_some(Profile { values }))
}

/// Credentials of a profile in the shared files: `aws_access_key_id`,
/// `aws_secret_access_key`, `aws_session_token` (credentials file first, then config
/// file), or `role_arn` with `web_identity_token_file` (web identity). Read at every
/// call, so rotated files are picked up. The profile is the one named, else
/// `AWS_PROFILE`, else `default`.
#[derive(Clone, Debug, Default)]
pub struct ProfileCredentials {
    profile: Option<String>,
    files: Option<(PathBuf, PathBuf)>,
}

impl ProfileCredentials {
    /// Profile `name` (Java: `awsProfileName`).
    pub fn named(name: impl Into<String>) -> Self {
        Self {
            profile: Some(name.into()),
            files: None,
        }
    }

    /// Reads these files instead of `AWS_SHARED_CREDENTIALS_FILE`/`AWS_CONFIG_FILE` or
    /// `~/.aws/credentials` and `~/.aws/config`.
    pub fn with_files(
        mut self,
        credentials: impl Into<PathBuf>,
        config: impl Into<PathBuf>,
    ) -> Self {
        self.files = Some((credentials.into(), config.into()));
        self
    }

    fn paths(&self) -> (Option<PathBuf>, Option<PathBuf>) {
        match &self.files {
            Some((c, f)) => (Some(c.clone()), Some(f.clone())),
            None => (credentials_file(), config_file()),
        }
    }

    /// The profile `AWS_PROFILE` names, else `default`.
    pub fn from_env() -> Self {
        Self::default()
    }

    async fn load(&self) -> Result<Option<AwsCredentials>, TokenError> {
        let name = profile_name(self.profile.as_deref());
        let (creds_path, config_path) = self.paths();
        let Some(profile) = load_profile(&name, creds_path, config_path)? else {
            return Ok(None);
        };
        match (
            profile.get("aws_access_key_id"),
            profile.get("aws_secret_access_key"),
        ) {
            (Some(id), Some(secret)) => {
                let mut c = AwsCredentials::new(id, secret);
                c.session_token = profile.get("aws_session_token").map(Secret::new);
                return Ok(Some(c));
            }
            (Some(_), None) | (None, Some(_)) => {
                return Err(AwsCredentialsError::new(format!(
                    "profile {name:?} has only one of aws_access_key_id and aws_secret_access_key"
                ))
                .into());
            }
            (None, None) => {}
        }
        if let (Some(role), Some(token_file)) = (
            profile.get("role_arn"),
            profile.get("web_identity_token_file"),
        ) {
            let source = super::WebIdentityCredentials::new(
                role,
                token_file,
                profile.get("role_session_name").map(str::to_owned),
                profile.get("region").map(str::to_owned),
            );
            return source.credentials().await.map(Some);
        }
        if profile.get("role_arn").is_some() {
            return Err(AwsCredentialsError::new(format!(
                "profile {name:?}: role_arn with source_profile/credential_source is not \
                 supported; use AssumeRoleCredentials (sasl.aws.role.arn with \
                 sasl.aws.profile naming the source profile), web_identity_token_file, or \
                 static keys"
            ))
            .into());
        }
        if profile.get("sso_session").is_some() || profile.get("sso_start_url").is_some() {
            return Err(AwsCredentialsError::new(format!(
                "profile {name:?}: AWS SSO profiles are not supported; export the \
                 credentials (`aws configure export-credentials`) or use a custom provider"
            ))
            .into());
        }
        Err(AwsCredentialsError::new(format!("profile {name:?} holds no credentials")).into())
    }
}

impl AwsCredentialsProvider for ProfileCredentials {
    fn credentials(&self) -> BoxFuture<'_, Result<AwsCredentials, TokenError>> {
        Box::pin(async move {
            let name = profile_name(self.profile.as_deref());
            let (creds_path, config_path) = self.paths();
            self.load().await?.ok_or_else(|| {
                AwsCredentialsError::new(format!(
                    "profile {name:?} not found in {} or {}",
                    describe(creds_path),
                    describe(config_path)
                ))
                .into()
            })
        })
    }
}

fn describe(p: Option<PathBuf>) -> String {
    p.map(|p| p.display().to_string())
        .unwrap_or_else(|| "(no home directory)".to_owned())
}

/// The AWS SDKs' default chain, as far as it applies outside AWS's own compute services:
/// the environment ([`EnvironmentCredentials`]), web identity from the environment
/// (`AWS_WEB_IDENTITY_TOKEN_FILE` + `AWS_ROLE_ARN`, as on EKS), then the shared profile
/// files ([`ProfileCredentials`]). The first source that is configured answers; its
/// error is returned as it is. (Container and EC2 instance metadata credentials are not
/// in the chain: use a custom provider there.)
#[derive(Clone, Debug, Default)]
pub struct DefaultCredentialsChain {
    profile: ProfileCredentials,
    web_identity: Option<Arc<super::WebIdentityCredentials>>,
}

impl DefaultCredentialsChain {
    /// The chain, with the profile named by `AWS_PROFILE` (else `default`).
    pub fn new() -> Self {
        Self {
            profile: ProfileCredentials::from_env(),
            web_identity: super::WebIdentityCredentials::from_env().map(Arc::new),
        }
    }

    /// The chain, with profile `name` for its profile step.
    pub fn with_profile(name: impl Into<String>) -> Self {
        Self {
            profile: ProfileCredentials::named(name),
            ..Self::new()
        }
    }
}

impl AwsCredentialsProvider for DefaultCredentialsChain {
    fn credentials(&self) -> BoxFuture<'_, Result<AwsCredentials, TokenError>> {
        Box::pin(async move {
            if let Some(c) = EnvironmentCredentials::load()? {
                return Ok(c);
            }
            if let Some(w) = &self.web_identity {
                return w.credentials().await;
            }
            if let Some(c) = self.profile.load().await? {
                return Ok(c);
            }
            Err(AwsCredentialsError::new(format!(
                "no AWS credentials found: AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY are not \
                 set, neither are AWS_WEB_IDENTITY_TOKEN_FILE/AWS_ROLE_ARN, and profile \
                 {:?} is not in {} or {}",
                profile_name(self.profile.profile.as_deref()),
                describe(credentials_file()),
                describe(config_file())
            ))
            .into())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ini_sections() {
        let creds = "# comment\n[default]\naws_access_key_id = AKID\naws_secret_access_key=SECRET\n\n[other]\nAWS_ACCESS_KEY_ID = X\n";
        let s = ini_section(creds, "default", false).unwrap();
        assert_eq!(s[0], ("aws_access_key_id".into(), "AKID".into()));
        assert_eq!(s[1], ("aws_secret_access_key".into(), "SECRET".into()));
        let s = ini_section(creds, "other", false).unwrap();
        assert_eq!(s, vec![("aws_access_key_id".into(), "X".into())]);
        assert!(ini_section(creds, "missing", false).is_none());
        let config = "[default]\nregion = us-east-1\n[profile dev]\nregion = eu-west-1\n";
        assert_eq!(
            ini_section(config, "dev", true).unwrap(),
            vec![("region".into(), "eu-west-1".into())]
        );
        // In the credentials file, `profile dev` is just a strange name.
        assert!(ini_section(config, "dev", false).is_none());
    }

    #[tokio::test]
    async fn profiles_from_files() {
        let dir = std::env::temp_dir().join(format!("kafka-aws-profile-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let creds = dir.join("credentials");
        let config = dir.join("config");
        std::fs::write(
            &creds,
            "[default]\naws_access_key_id=AKIDDEFAULT\naws_secret_access_key=s1\n\
             [half]\naws_access_key_id=AKIDHALF\n",
        )
        .unwrap();
        std::fs::write(
            &config,
            "[profile dev]\naws_access_key_id = AKIDDEV\naws_secret_access_key = s2\n\
             aws_session_token = tok\nregion = eu-west-1\n[profile role]\n\
             role_arn = arn:aws:iam::1:role/r\nsource_profile = default\n",
        )
        .unwrap();
        let p = |n: &str| ProfileCredentials::named(n).with_files(&creds, &config);
        let c = p("default").credentials().await.unwrap();
        assert_eq!(c.access_key_id, "AKIDDEFAULT");
        assert_eq!(c.session_token, None);
        let c = p("dev").credentials().await.unwrap();
        assert_eq!(c.access_key_id, "AKIDDEV");
        assert_eq!(c.session_token.unwrap().expose(), "tok");
        let e = p("half").credentials().await.unwrap_err().to_string();
        assert!(e.contains("only one of"), "{e}");
        let e = p("role").credentials().await.unwrap_err().to_string();
        assert!(e.contains("AssumeRole"), "{e}");
        let e = p("nope").credentials().await.unwrap_err().to_string();
        assert!(e.contains("\"nope\" not found"), "{e}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn debug_hides_secrets() {
        let c = AwsCredentials::new("AKID", "topsecret").with_session_token("tok123");
        let d = format!("{c:?}");
        assert!(d.contains("AKID") && !d.contains("topsecret") && !d.contains("tok123"));
    }
}
