//! kafka-serde (skeleton).
#![deny(missing_docs)]
