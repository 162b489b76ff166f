//! The built-in serializers and deserializers: bytes, strings, JSON, and null handling.

use std::marker::PhantomData;

use bytes::Bytes;
use kafka_client::records::Header;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::{Deserializer, SerdeError, Serializer};

/// Bytes as they are: `Bytes`, `Vec<u8>` and `[u8]`.
#[derive(Clone, Copy, Debug, Default)]
pub struct BytesSerde;

impl Serializer<Bytes> for BytesSerde {
    fn serialize(
        &self,
        _: &str,
        _: &mut Vec<Header>,
        value: &Bytes,
    ) -> Result<Option<Bytes>, SerdeError> {
        Ok(Some(value.clone()))
    }
}

impl Serializer<[u8]> for BytesSerde {
    fn serialize(
        &self,
        _: &str,
        _: &mut Vec<Header>,
        value: &[u8],
    ) -> Result<Option<Bytes>, SerdeError> {
        Ok(Some(Bytes::copy_from_slice(value)))
    }
}

impl Serializer<Vec<u8>> for BytesSerde {
    fn serialize(
        &self,
        _: &str,
        _: &mut Vec<Header>,
        value: &Vec<u8>,
    ) -> Result<Option<Bytes>, SerdeError> {
        Ok(Some(Bytes::copy_from_slice(value)))
    }
}

impl Deserializer<Bytes> for BytesSerde {
    fn deserialize(
        &self,
        _: &str,
        _: &[Header],
        data: Option<&Bytes>,
    ) -> Result<Bytes, SerdeError> {
        data.cloned().ok_or(SerdeError::Null)
    }

    fn deserialize_owned(
        &self,
        _: &str,
        _: &[Header],
        data: Option<Bytes>,
    ) -> Result<Bytes, (SerdeError, Option<Bytes>)> {
        data.ok_or((SerdeError::Null, None))
    }
}

impl Deserializer<Vec<u8>> for BytesSerde {
    fn deserialize(
        &self,
        _: &str,
        _: &[Header],
        data: Option<&Bytes>,
    ) -> Result<Vec<u8>, SerdeError> {
        data.map(|d| d.to_vec()).ok_or(SerdeError::Null)
    }
}

/// UTF-8 strings. Deserializing invalid UTF-8 is an error.
#[derive(Clone, Copy, Debug, Default)]
pub struct StringSerde;

impl Serializer<str> for StringSerde {
    fn serialize(
        &self,
        _: &str,
        _: &mut Vec<Header>,
        value: &str,
    ) -> Result<Option<Bytes>, SerdeError> {
        Ok(Some(Bytes::copy_from_slice(value.as_bytes())))
    }
}

impl Serializer<String> for StringSerde {
    fn serialize(
        &self,
        _: &str,
        _: &mut Vec<Header>,
        value: &String,
    ) -> Result<Option<Bytes>, SerdeError> {
        Ok(Some(Bytes::copy_from_slice(value.as_bytes())))
    }
}

impl Deserializer<String> for StringSerde {
    fn deserialize(
        &self,
        _: &str,
        _: &[Header],
        data: Option<&Bytes>,
    ) -> Result<String, SerdeError> {
        let data = data.ok_or(SerdeError::Null)?;
        std::str::from_utf8(data)
            .map(str::to_owned)
            .map_err(|e| SerdeError::Utf8 {
                valid_up_to: e.valid_up_to(),
                len: data.len(),
            })
    }
}

/// JSON through `serde_json`, for any `T: Serialize` / `T: DeserializeOwned`.
pub struct JsonSerde<T> {
    _type: PhantomData<fn() -> T>,
}

impl<T> JsonSerde<T> {
    /// A JSON serializer/deserializer for `T`.
    pub fn new() -> Self {
        Self { _type: PhantomData }
    }
}

impl<T> Default for JsonSerde<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> Clone for JsonSerde<T> {
    fn clone(&self) -> Self {
        Self::new()
    }
}

impl<T> std::fmt::Debug for JsonSerde<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "JsonSerde<{}>", std::any::type_name::<T>())
    }
}

impl<T: Serialize> Serializer<T> for JsonSerde<T> {
    fn serialize(
        &self,
        _: &str,
        _: &mut Vec<Header>,
        value: &T,
    ) -> Result<Option<Bytes>, SerdeError> {
        Ok(Some(Bytes::from(serde_json::to_vec(value)?)))
    }
}

impl<T: DeserializeOwned> Deserializer<T> for JsonSerde<T> {
    fn deserialize(&self, _: &str, _: &[Header], data: Option<&Bytes>) -> Result<T, SerdeError> {
        Ok(serde_json::from_slice(data.ok_or(SerdeError::Null)?)?)
    }
}

/// Maps Kafka's null to `None` (and `None` to null) around another serde.
#[derive(Clone, Copy, Debug, Default)]
pub struct Nullable<S>(pub S);

impl<T, S: Serializer<T>> Serializer<Option<T>> for Nullable<S> {
    fn serialize(
        &self,
        topic: &str,
        headers: &mut Vec<Header>,
        value: &Option<T>,
    ) -> Result<Option<Bytes>, SerdeError> {
        match value {
            Some(v) => self.0.serialize(topic, headers, v),
            None => Ok(None),
        }
    }
}

impl<T, S: Deserializer<T>> Deserializer<Option<T>> for Nullable<S> {
    fn deserialize(
        &self,
        topic: &str,
        headers: &[Header],
        data: Option<&Bytes>,
    ) -> Result<Option<T>, SerdeError> {
        match data {
            Some(_) => self.0.deserialize(topic, headers, data).map(Some),
            None => Ok(None),
        }
    }

    fn deserialize_owned(
        &self,
        topic: &str,
        headers: &[Header],
        data: Option<Bytes>,
    ) -> Result<Option<T>, (SerdeError, Option<Bytes>)> {
        match data {
            Some(_) => self.0.deserialize_owned(topic, headers, data).map(Some),
            None => Ok(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_are_taken_over_by_value_without_a_copy() {
        let data = Bytes::from(vec![1u8, 2, 3]);
        let at = data.as_ptr();
        let got =
            Deserializer::<Bytes>::deserialize_owned(&BytesSerde, "t", &[], Some(data)).unwrap();
        assert_eq!((got.as_ptr(), &got[..]), (at, &[1u8, 2, 3][..]));
        let n = Nullable(BytesSerde);
        let data = Bytes::from(vec![4u8]);
        let at = data.as_ptr();
        let got = Deserializer::<Option<Bytes>>::deserialize_owned(&n, "t", &[], Some(data))
            .unwrap()
            .unwrap();
        assert_eq!(got.as_ptr(), at);
        assert_eq!(
            Deserializer::<Option<Bytes>>::deserialize_owned(&n, "t", &[], None).unwrap(),
            None
        );
        assert!(matches!(
            Deserializer::<Bytes>::deserialize_owned(&BytesSerde, "t", &[], None),
            Err((SerdeError::Null, None))
        ));
    }

    #[test]
    fn a_failed_owned_deserialize_gives_the_bytes_back() {
        let data = Bytes::from_static(b"\xff");
        let (e, back) =
            Deserializer::<String>::deserialize_owned(&StringSerde, "t", &[], Some(data.clone()))
                .unwrap_err();
        assert!(matches!(e, SerdeError::Utf8 { .. }), "{e:?}");
        assert_eq!(back, Some(data));
        let (_, back) = Deserializer::<Option<String>>::deserialize_owned(
            &Nullable(StringSerde),
            "t",
            &[],
            Some(Bytes::from_static(b"\xfe")),
        )
        .unwrap_err();
        assert_eq!(back.as_deref(), Some(&b"\xfe"[..]));
    }

    #[test]
    fn strings_are_strict_utf8() {
        let b = Bytes::from_static(b"ok \xff\xfe");
        let err =
            Deserializer::<String>::deserialize(&StringSerde, "t", &[], Some(&b)).unwrap_err();
        assert!(
            matches!(
                err,
                SerdeError::Utf8 {
                    valid_up_to: 3,
                    len: 5
                }
            ),
            "{err:?}"
        );
        let s = Deserializer::<String>::deserialize(
            &StringSerde,
            "t",
            &[],
            Some(&Bytes::from_static("héllo".as_bytes())),
        )
        .unwrap();
        assert_eq!(s, "héllo");
    }

    #[test]
    fn null_needs_nullable() {
        assert!(matches!(
            Deserializer::<String>::deserialize(&StringSerde, "t", &[], None),
            Err(SerdeError::Null)
        ));
        let n = Nullable(StringSerde);
        assert_eq!(
            Deserializer::<Option<String>>::deserialize(&n, "t", &[], None).unwrap(),
            None
        );
        assert_eq!(
            Serializer::<Option<String>>::serialize(&n, "t", &mut vec![], &None).unwrap(),
            None
        );
    }

    #[test]
    fn json_round_trip_and_errors() {
        let j = JsonSerde::<serde_json::Value>::new();
        let v = serde_json::json!({"a": [1, 2, {"b": null}], "c": "d"});
        let bytes = j.serialize("t", &mut vec![], &v).unwrap();
        assert_eq!(j.deserialize("t", &[], bytes.as_ref()).unwrap(), v);
        let bad = Bytes::from_static(b"{\"a\": ");
        assert!(matches!(
            j.deserialize("t", &[], Some(&bad)),
            Err(SerdeError::Json(_))
        ));
    }

    #[test]
    fn bytes_pass_through() {
        let b = Bytes::from_static(b"\x00\x01");
        assert_eq!(
            BytesSerde.serialize("t", &mut vec![], &b).unwrap(),
            Some(b.clone())
        );
        let v: Vec<u8> = BytesSerde.deserialize("t", &[], Some(&b)).unwrap();
        assert_eq!(v, vec![0, 1]);
    }
}
