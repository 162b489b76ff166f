//! kafka-client (skeleton).
#![deny(missing_docs)]
pub mod records;
