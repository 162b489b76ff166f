//! kafka-admin (skeleton).
#![deny(missing_docs)]
