//! The consumer (in progress).
