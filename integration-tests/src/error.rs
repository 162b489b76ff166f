//! The test bed's error type: one human-readable message, which for start-up failures
//! already carries the tail of every broker log.

use std::fmt;

/// A test-bed failure (missing `java`/`mvn`, jar resolution, a broker that does not come
/// up, ...). The message is meant to be printed as is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    message: String,
}

impl Error {
    pub(crate) fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
        }
    }

    /// Wraps an I/O error with what was being done.
    pub(crate) fn io(context: impl fmt::Display, err: std::io::Error) -> Self {
        Self::new(format!("{context}: {err}"))
    }

    /// The full message.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

/// `Result` with the test bed's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;
