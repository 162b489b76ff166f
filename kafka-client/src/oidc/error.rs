//! [`OidcError`]: what went wrong getting a token, typed by where it went wrong. No
//! variant ever holds the client secret, the private key or a token.

/// Why the OIDC token provider has no token. `Display` names the endpoint (scheme, host,
/// port and path only) and, for an HTTP error, the status and the OAuth `error` and
/// `error_description` the identity provider sent; never a secret.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum OidcError {
    /// The settings cannot work (a missing claim, an unreadable or unusable key).
    #[error("OIDC configuration: {0}")]
    Config(String),
    /// The token endpoint could not be reached, or did not answer in time.
    #[error("the identity provider at {url} is unreachable: {reason}")]
    Unreachable {
        /// The endpoint.
        url: String,
        /// The transport's explanation (connection refused, timeout, TLS, ...).
        reason: String,
    },
    /// The token endpoint answered with an HTTP error (RFC 6749 §5.2).
    #[error("the identity provider at {url} refused the token request: HTTP {status}{}{}",
        .error.as_ref().map(|e| format!(", error {e:?}")).unwrap_or_default(),
        .description.as_ref().map(|d| format!(": {d}")).unwrap_or_default())]
    Rejected {
        /// The endpoint.
        url: String,
        /// The HTTP status code.
        status: u16,
        /// The OAuth `error` code (`invalid_client`, `invalid_grant`, ...), if sent.
        error: Option<String>,
        /// The OAuth `error_description`, if sent (truncated, secrets masked).
        description: Option<String>,
    },
    /// The endpoint answered 2xx but not with a usable token (not JSON, no
    /// `access_token`, no expiry, already expired).
    #[error("the identity provider at {url} sent an unusable token response: {reason}")]
    BadResponse {
        /// The endpoint.
        url: String,
        /// What was wrong with it.
        reason: String,
    },
}

impl OidcError {
    /// Whether asking again later may help (unreachable, HTTP 5xx or 429).
    pub fn is_retriable(&self) -> bool {
        match self {
            OidcError::Unreachable { .. } => true,
            OidcError::Rejected { status, .. } => *status >= 500 || *status == 429,
            OidcError::Config(_) | OidcError::BadResponse { .. } => false,
        }
    }
}
