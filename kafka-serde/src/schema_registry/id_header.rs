//! Where a record's schema id travels: in the payload's prefix (the classic wire format)
//! or in a record header (`__key_schema_id` / `__value_schema_id`, as newer Confluent
//! clients write it), and reading it back from either.
//!
//! A schema-id header's value is the magic byte 0 and the id as 4 bytes big-endian, or
//! the magic byte 1 and the schema's 16-byte GUID; for Protobuf the message-index path
//! follows. The payload then is the bare encoding, with no prefix. A reader looks for
//! the header of its field first and falls back to the prefix, which may itself carry
//! either form.

use bytes::Bytes;
use kafka_client::records::Header;
use kafka_schema_registry::SchemaGuid;

use super::RegistrySerdeError;
use super::wire::{MAGIC_BYTE, read_message_indexes, write_message_indexes};
use crate::Field;

/// The header a key's schema id is written in.
pub const KEY_SCHEMA_ID_HEADER: &str = "__key_schema_id";

/// The header a value's schema id is written in.
pub const VALUE_SCHEMA_ID_HEADER: &str = "__value_schema_id";

/// The magic byte before a GUID (header or prefix).
pub const GUID_MAGIC_BYTE: u8 = 1;

/// The schema-id header of `field`.
pub fn schema_id_header(field: Field) -> &'static str {
    match field {
        Field::Key => KEY_SCHEMA_ID_HEADER,
        Field::Value => VALUE_SCHEMA_ID_HEADER,
    }
}

/// Where a serializer writes the schema id.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum SchemaIdPlacement {
    /// Magic byte 0 and the 4-byte id before the payload (the classic wire format, and
    /// Confluent's `prefix_schema_id_serializer`; the default).
    #[default]
    Prefix,
    /// The id in the field's schema-id header (magic byte 0, 4 bytes big-endian); the
    /// payload has no prefix. Confluent's deserializers read it; its serializers write
    /// only the GUID form.
    HeaderId,
    /// The GUID in the field's schema-id header (magic byte 1, 16 bytes), as Confluent's
    /// `header_schema_id_serializer` writes it; the payload has no prefix. Needs a
    /// registry that gives GUIDs (else [`RegistrySerdeError::NoGuid`]).
    HeaderGuid,
}

/// How a record names its writer's schema.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SchemaRef {
    /// By numeric id (magic byte 0).
    Id(u32),
    /// By GUID (magic byte 1).
    Guid(SchemaGuid),
}

impl std::fmt::Display for SchemaRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SchemaRef::Id(id) => write!(f, "schema id {id}"),
            SchemaRef::Guid(guid) => write!(f, "schema GUID {guid}"),
        }
    }
}

/// What a serializer knows about the schema it writes with.
#[derive(Clone, Copy, Debug)]
pub(crate) struct WriterIds<'a> {
    pub(crate) field: Field,
    pub(crate) placement: SchemaIdPlacement,
    pub(crate) id: u32,
    pub(crate) guid: Option<SchemaGuid>,
    pub(crate) topic: &'a str,
}

/// Starts a record: writes the prefix (id and, for Protobuf, `indexes`) into `out`, or
/// pushes the schema-id header onto `headers` and leaves `out` for the bare payload.
pub(crate) fn begin_record(
    out: &mut Vec<u8>,
    headers: &mut Vec<Header>,
    ids: WriterIds<'_>,
    indexes: Option<&[i32]>,
) -> Result<(), RegistrySerdeError> {
    let write_schema_ref = |buf: &mut Vec<u8>, guid: Option<SchemaGuid>| {
        match guid {
            Some(guid) => {
                buf.push(GUID_MAGIC_BYTE);
                buf.extend_from_slice(guid.as_bytes());
            }
            None => {
                buf.push(MAGIC_BYTE);
                buf.extend_from_slice(&ids.id.to_be_bytes());
            }
        }
        if let Some(indexes) = indexes {
            write_message_indexes(buf, indexes);
        }
    };
    let guid = match ids.placement {
        SchemaIdPlacement::Prefix => {
            write_schema_ref(out, None);
            return Ok(());
        }
        SchemaIdPlacement::HeaderId => None,
        SchemaIdPlacement::HeaderGuid => {
            Some(ids.guid.ok_or_else(|| RegistrySerdeError::NoGuid {
                topic: ids.topic.to_owned(),
                id: ids.id,
            })?)
        }
    };
    let mut value = Vec::with_capacity(17 + indexes.map_or(0, |i| i.len() + 1));
    write_schema_ref(&mut value, guid);
    headers.push(Header {
        key: schema_id_header(ids.field).to_owned(),
        value: Some(Bytes::from(value)),
    });
    Ok(())
}

/// A record's schema reference, its Protobuf message-index path (Protobuf only) and its
/// bare payload.
pub(crate) type Framed<'a> = (SchemaRef, Option<Vec<i32>>, &'a [u8]);

/// A record's schema reference, its Protobuf message-index path (when `protobuf`), and
/// its bare payload: from `field`'s schema-id header when the record has one (the last
/// one, as Java's `lastHeader`), else from the payload's prefix.
pub(crate) fn read_record<'a>(
    field: Field,
    headers: &[Header],
    data: &'a [u8],
    protobuf: bool,
) -> Result<Framed<'a>, RegistrySerdeError> {
    let name = schema_id_header(field);
    let Some(header) = headers.iter().rev().find(|h| h.key == name) else {
        let (schema, rest) = read_schema_ref(data)?;
        if !protobuf {
            return Ok((schema, None, rest));
        }
        let (indexes, rest) = read_message_indexes(rest)?;
        return Ok((schema, Some(indexes), rest));
    };
    let bad = |reason: String| RegistrySerdeError::BadSchemaIdHeader {
        header: name,
        reason,
    };
    let value = header
        .value
        .as_deref()
        .ok_or_else(|| bad("null value".into()))?;
    let (schema, rest) = match value {
        [MAGIC_BYTE, ..] if value.len() < 5 => {
            return Err(bad(format!(
                "{} byte(s): magic byte 0 needs a 4-byte id",
                value.len()
            )));
        }
        [GUID_MAGIC_BYTE, ..] if value.len() < 17 => {
            return Err(bad(format!(
                "{} byte(s): magic byte 1 needs a 16-byte GUID",
                value.len()
            )));
        }
        [] => return Err(bad("empty value".into())),
        _ => read_schema_ref(value).map_err(|e| bad(e.to_string()))?,
    };
    let indexes = if protobuf {
        let (indexes, rest) = read_message_indexes(rest).map_err(|e| bad(e.to_string()))?;
        if !rest.is_empty() {
            return Err(bad(format!(
                "{} byte(s) after the message-index path",
                rest.len()
            )));
        }
        Some(indexes)
    } else {
        if !rest.is_empty() {
            return Err(bad(format!(
                "{} byte(s), expected {}",
                value.len(),
                value.len() - rest.len()
            )));
        }
        None
    };
    Ok((schema, indexes, data))
}

/// Splits a prefix (magic 0 and a 4-byte id, or magic 1 and a 16-byte GUID) from `data`.
pub(crate) fn read_schema_ref(data: &[u8]) -> Result<(SchemaRef, &[u8]), RegistrySerdeError> {
    match data {
        [MAGIC_BYTE, a, b, c, d, rest @ ..] => {
            Ok((SchemaRef::Id(u32::from_be_bytes([*a, *b, *c, *d])), rest))
        }
        [GUID_MAGIC_BYTE, rest @ ..] if rest.len() >= 16 => {
            let (guid, rest) = rest.split_at(16);
            let mut bytes = [0u8; 16];
            bytes.copy_from_slice(guid);
            Ok((SchemaRef::Guid(SchemaGuid::from_bytes(bytes)), rest))
        }
        [MAGIC_BYTE | GUID_MAGIC_BYTE, ..] | [] => {
            Err(RegistrySerdeError::TooShort { len: data.len() })
        }
        [other, ..] => Err(RegistrySerdeError::BadMagicByte { found: *other }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GUID: SchemaGuid = SchemaGuid::from_bytes([
        0x11, 0x11, 0x11, 0x11, 0x22, 0x22, 0x43, 0x33, 0x84, 0x44, 0x55, 0x55, 0x55, 0x55, 0x55,
        0x55,
    ]);

    fn ids(placement: SchemaIdPlacement, guid: Option<SchemaGuid>) -> WriterIds<'static> {
        WriterIds {
            field: Field::Value,
            placement,
            id: 7,
            guid,
            topic: "t",
        }
    }

    #[test]
    fn each_placement_writes_what_confluent_reads() {
        let mut out = Vec::new();
        let mut headers = Vec::new();
        begin_record(
            &mut out,
            &mut headers,
            ids(SchemaIdPlacement::Prefix, Some(GUID)),
            None,
        )
        .unwrap();
        assert_eq!(out, [0, 0, 0, 0, 7]);
        assert!(headers.is_empty());

        out.clear();
        begin_record(
            &mut out,
            &mut headers,
            ids(SchemaIdPlacement::HeaderId, None),
            Some(&[1][..]),
        )
        .unwrap();
        assert!(out.is_empty());
        assert_eq!(headers[0].key, "__value_schema_id");
        assert_eq!(
            headers[0].value.as_deref(),
            Some(&[0, 0, 0, 0, 7, 2, 2][..])
        );

        headers.clear();
        let mut key = ids(SchemaIdPlacement::HeaderGuid, Some(GUID));
        key.field = Field::Key;
        begin_record(&mut out, &mut headers, key, None).unwrap();
        assert_eq!(headers[0].key, "__key_schema_id");
        let value = headers[0].value.clone().unwrap();
        assert_eq!(value[0], 1);
        assert_eq!(&value[1..], GUID.as_bytes());

        let err = begin_record(
            &mut out,
            &mut headers,
            ids(SchemaIdPlacement::HeaderGuid, None),
            None,
        )
        .unwrap_err();
        assert!(
            matches!(err, RegistrySerdeError::NoGuid { id: 7, .. }),
            "{err}"
        );
    }

    fn header(key: &str, value: Option<&[u8]>) -> Header {
        Header {
            key: key.into(),
            value: value.map(Bytes::copy_from_slice),
        }
    }

    #[test]
    fn reader_prefers_its_fields_header_and_falls_back_to_the_prefix() {
        let payload = b"\0\0\0\0\x09body";
        let (schema, idx, rest) = read_record(Field::Value, &[], payload, false).unwrap();
        assert_eq!((schema, idx, rest), (SchemaRef::Id(9), None, &b"body"[..]));

        let mut guid_header = vec![1];
        guid_header.extend_from_slice(GUID.as_bytes());
        let headers = [
            header("__key_schema_id", Some(&[0, 0, 0, 0, 3][..])),
            header("__value_schema_id", Some(&guid_header)),
        ];
        let (schema, _, rest) = read_record(Field::Value, &headers, b"raw", false).unwrap();
        assert_eq!((schema, rest), (SchemaRef::Guid(GUID), &b"raw"[..]));
        let (schema, _, rest) = read_record(Field::Key, &headers, b"k", false).unwrap();
        assert_eq!((schema, rest), (SchemaRef::Id(3), &b"k"[..]));

        let pb = [header(
            "__value_schema_id",
            Some(&[0, 0, 0, 0, 3, 4, 2, 0][..]),
        )];
        let (schema, idx, rest) = read_record(Field::Value, &pb, b"m", true).unwrap();
        assert_eq!(
            (schema, idx, rest),
            (SchemaRef::Id(3), Some(vec![1, 0]), &b"m"[..])
        );

        // A GUID in the prefix (what Python's dual deserializer also accepts).
        let mut prefixed = guid_header.clone();
        prefixed.extend_from_slice(b"x");
        let (schema, _, rest) = read_record(Field::Value, &[], &prefixed, false).unwrap();
        assert_eq!((schema, rest), (SchemaRef::Guid(GUID), &b"x"[..]));
    }

    #[test]
    fn bad_headers_are_typed_errors() {
        let cases: [(Option<&[u8]>, &str); 7] = [
            (Some(&[2, 0, 0, 0, 1][..]), "magic byte 2"),
            (Some(&[0, 0, 0][..]), "4-byte id"),
            (Some(&[0, 0, 0, 0, 1, 9][..]), "expected 5"),
            (Some(&[1, 0, 0][..]), "16-byte GUID"),
            (Some(&[1; 18][..]), "expected 17"),
            (Some(&[][..]), "empty"),
            (None, "null"),
        ];
        for (value, want) in cases {
            let headers = [header("__value_schema_id", value)];
            match read_record(Field::Value, &headers, b"\0\0\0\0\x01ok", false) {
                Err(RegistrySerdeError::BadSchemaIdHeader { header, reason }) => {
                    assert_eq!(header, "__value_schema_id");
                    assert!(reason.contains(want), "{value:?}: {reason}");
                }
                other => panic!("{value:?}: {other:?}"),
            }
        }
        let trailing = [header(
            "__value_schema_id",
            Some(&[0, 0, 0, 0, 1, 0, 5][..]),
        )];
        assert!(matches!(
            read_record(Field::Value, &trailing, b"m", true),
            Err(RegistrySerdeError::BadSchemaIdHeader { .. })
        ));
    }
}
