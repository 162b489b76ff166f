//! [`Fault`]: what the network layer found wrong, as a typed error its callers turn into
//! an [`Error`](crate::Error) with the broker, API and resource as context. Internal
//! results carry it instead of a bare `String`.

use std::fmt;

/// Which part of the exchange failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum FaultKind {
    /// A response frame or body that does not match its API's layout or does not decode.
    Decode,
    /// Connecting: name resolution, TCP, TLS server name.
    Connect,
}

/// A typed network-layer failure: its kind and what exactly was wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Fault {
    kind: FaultKind,
    detail: String,
}

impl Fault {
    pub(crate) fn new(kind: FaultKind, detail: impl Into<String>) -> Self {
        Self {
            kind,
            detail: detail.into(),
        }
    }

    /// A decoding failure.
    pub(crate) fn decode(detail: impl Into<String>) -> Self {
        Self::new(FaultKind::Decode, detail)
    }

    /// A connect failure.
    pub(crate) fn connect(detail: impl Into<String>) -> Self {
        Self::new(FaultKind::Connect, detail)
    }

    /// The kind.
    #[cfg(test)]
    pub(crate) fn kind(&self) -> FaultKind {
        self.kind
    }

    /// Whether the message contains `needle` (tests).
    #[cfg(test)]
    pub(crate) fn contains(&self, needle: &str) -> bool {
        self.detail.contains(needle)
    }

    /// The message, for an [`Error`](crate::Error) variant's text.
    pub(crate) fn into_message(self) -> String {
        self.detail
    }
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.detail)
    }
}

impl std::error::Error for Fault {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faults_are_typed_by_where_they_arose() {
        let f = crate::net::frame::check_length(3, 100).expect_err("too short");
        assert_eq!(f.kind(), FaultKind::Decode);
        assert!(f.contains("4-byte minimum"), "{f}");
        let f = crate::net::tls::server_name("not a host!").expect_err("bad name");
        assert_eq!(f.kind(), FaultKind::Connect);
        assert!(f.to_string().contains("not a valid TLS server name"), "{f}");
        assert_eq!(f.clone().into_message(), f.to_string());
    }
}
