//! The [`Serializer`] and [`Deserializer`] traits.

use bytes::Bytes;
use kafka_client::records::Header;

use crate::SerdeError;

/// Turns a `T` into a record's key or value bytes. `Ok(None)` is Kafka's null.
///
/// Serializers may add headers (a schema id, a content type) for the record.
pub trait Serializer<T: ?Sized>: Send + Sync {
    /// Serializes `value` for a record bound for `topic`.
    fn serialize(
        &self,
        topic: &str,
        headers: &mut Vec<Header>,
        value: &T,
    ) -> Result<Option<Bytes>, SerdeError>;
}

/// Turns a record's key or value bytes (`None` for Kafka's null) into a `T`.
pub trait Deserializer<T>: Send + Sync {
    /// Deserializes `data` from a record read from `topic`.
    fn deserialize(
        &self,
        topic: &str,
        headers: &[Header],
        data: Option<&Bytes>,
    ) -> Result<T, SerdeError>;

    /// Deserializes `data` taken by value, so a deserializer that keeps the bytes (as
    /// [`BytesSerde`](crate::BytesSerde) does) needs no copy and no reference count
    /// increment. On failure the bytes come back with the error, so the record can be
    /// reported whole. The default borrows them for [`deserialize`](Self::deserialize).
    fn deserialize_owned(
        &self,
        topic: &str,
        headers: &[Header],
        data: Option<Bytes>,
    ) -> Result<T, (SerdeError, Option<Bytes>)> {
        self.deserialize(topic, headers, data.as_ref())
            .map_err(|e| (e, data))
    }
}
