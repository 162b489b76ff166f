//! Small value types shared by the admin calls: the client's own topic-partition and
//! committed-offset types, so the same values pass between consumer and admin calls.

pub use kafka_client::consumer::{OffsetAndMetadata, TopicPartition};
