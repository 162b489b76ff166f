//! [`SerdeError`]: why a value could not be converted.

/// Why a value could not be serialized or deserialized.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SerdeError {
    /// The bytes are not valid UTF-8.
    #[error("invalid UTF-8 at byte {valid_up_to} of {len}")]
    Utf8 {
        /// Length of the valid prefix.
        valid_up_to: usize,
        /// Length of the data.
        len: usize,
    },
    /// JSON encoding or decoding failed.
    #[error("JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// The record's key or value was null where a value was required (wrap the
    /// deserializer in [`crate::Nullable`] to accept null).
    #[error("null where a value was expected")]
    Null,
    /// A custom serializer's error.
    #[error("{0}")]
    Custom(Box<dyn std::error::Error + Send + Sync>),
}
