//! The Kafka admin API over [`kafka_client::Client`].
//!
//! Results are per item: each call returns its own `Result` (the request as a whole),
//! holding a `BTreeMap` from item name to that item's `Result`.
//!
//! ```no_run
//! use std::time::Duration;
//! use kafka_admin::{Admin, NewTopic, CreateTopicsOptions};
//!
//! # async fn run() -> kafka_client::Result<()> {
//! let admin = Admin::connect("127.0.0.1:9092")?;
//! let results = admin
//!     .create_topics(
//!         [NewTopic::new("orders").partitions(6).replication_factor(1)],
//!         CreateTopicsOptions::default().timeout(Duration::from_secs(30)),
//!     )
//!     .await?;
//! for (topic, result) in results {
//!     match result {
//!         Ok(created) => println!("created {topic} with {} partitions", created.partitions),
//!         Err(e) => println!("{topic}: {e}"),
//!     }
//! }
//! # Ok(()) }
//! ```
#![deny(missing_docs)]
#![deny(unsafe_code)]

mod admin;
mod topics;

pub use admin::Admin;
pub use topics::{
    CreateTopicsOptions, CreatedTopic, DeleteTopicsOptions, ListTopicsOptions, NewTopic,
    TopicListing,
};

/// The README's examples, compiled as doctests so they cannot rot.
#[doc = include_str!("../../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
