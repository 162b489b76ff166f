//! Errors, with the registry's own `error_code` when it answered with one.

use std::time::Duration;

/// What can go wrong talking to the registry.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The registry answered with an error (`{"error_code": 40401, "message": ...}`).
    #[error("schema registry error {error_code} (HTTP {status}): {message}")]
    Registry {
        /// The HTTP status.
        status: u16,
        /// The registry's code: 40401 subject not found, 40402 version not found,
        /// 40403 schema not found, 409 incompatible, 42201 invalid schema, ...; the
        /// HTTP status when the body had none.
        error_code: i32,
        /// The registry's message (or the body's start).
        message: String,
    },
    /// The request could not be sent or its answer not read (connection, TLS, timeout),
    /// after the configured retries.
    #[error("schema registry request to {url} failed after {attempts} attempt(s): {source}")]
    Http {
        /// The URL asked.
        url: String,
        /// How many attempts were made.
        attempts: u32,
        /// The last transport error.
        source: reqwest::Error,
    },
    /// The registry's answer was not the JSON expected.
    #[error("unexpected answer from the schema registry at {url}: {message}")]
    Decode {
        /// The URL asked.
        url: String,
        /// What did not parse.
        message: String,
    },
    /// The configuration is unusable (no URL, a bad URL, a bad certificate, ...).
    #[error("schema registry configuration: {0}")]
    Config(String),
    /// Every attempt timed out.
    #[error("schema registry request to {url} timed out after {timeout:?}")]
    Timeout {
        /// The URL asked.
        url: String,
        /// The per-request timeout.
        timeout: Duration,
    },
}

/// `error_code` of an unknown subject.
pub const SUBJECT_NOT_FOUND: i32 = 40401;
/// `error_code` of an unknown version.
pub const VERSION_NOT_FOUND: i32 = 40402;
/// `error_code` of an unknown schema (id, or schema under a subject).
pub const SCHEMA_NOT_FOUND: i32 = 40403;
/// `error_code` of a schema incompatible with earlier versions.
pub const INCOMPATIBLE_SCHEMA: i32 = 409;
/// `error_code` of an invalid schema.
pub const INVALID_SCHEMA: i32 = 42201;

impl Error {
    /// The registry's `error_code`, if it answered with one.
    pub fn error_code(&self) -> Option<i32> {
        match self {
            Error::Registry { error_code, .. } => Some(*error_code),
            _ => None,
        }
    }

    /// Whether the registry said the subject, version or schema does not exist.
    pub fn is_not_found(&self) -> bool {
        matches!(
            self.error_code(),
            Some(SUBJECT_NOT_FOUND | VERSION_NOT_FOUND | SCHEMA_NOT_FOUND)
        ) || matches!(self, Error::Registry { status: 404, .. })
    }

    /// Whether the registry refused a schema as incompatible.
    pub fn is_incompatible(&self) -> bool {
        self.error_code() == Some(INCOMPATIBLE_SCHEMA)
    }
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
