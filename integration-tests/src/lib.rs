//! Test bed (skeleton).
#![deny(missing_docs)]
