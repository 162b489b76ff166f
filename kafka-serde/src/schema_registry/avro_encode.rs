//! Avro binary encoding straight into the output buffer, walking the parsed schema: the
//! cache-hit path of the Avro serializers (no intermediate `Value`, no clone, no buffer
//! per item). [`encode_value`] writes a generic [`Value`]; the `serde` path is in
//! `avro_serde_encode`.
//!
//! Both are strict: a value they do not take as it is (a field missing or out of order, a
//! value that needs a conversion, a type they do not handle) is [`Refused`], and the
//! caller encodes it the general way (resolved to the schema by `apache-avro`), so the
//! bytes are always those of `apache-avro`'s own encoding of the resolved value.

use std::collections::HashMap;

use apache_avro::schema::{DecimalSchema, Name, RecordSchema, Schema};
use apache_avro::types::Value;

/// The encoder did not take the value as it is; the caller takes the general path.
#[derive(Debug)]
pub(crate) struct Refused;

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("value not in the schema's shape")
    }
}

impl std::error::Error for Refused {}

impl serde::ser::Error for Refused {
    fn custom<T: std::fmt::Display>(_msg: T) -> Self {
        Refused
    }
}

/// The named types of a schema and its references, by full name, for `Schema::Ref`.
#[derive(Debug, Default)]
pub(crate) struct Names(HashMap<Name, Schema>);

impl Names {
    /// Collects the named types (records, enums, fixed, fixed decimals) of `schemas`.
    pub(crate) fn of<'a>(schemas: impl IntoIterator<Item = &'a Schema>) -> Names {
        let mut names = Names::default();
        for schema in schemas {
            names.collect(schema);
        }
        names
    }

    fn collect(&mut self, schema: &Schema) {
        match schema {
            Schema::Record(r) => {
                self.0.insert(r.name.clone(), schema.clone());
                for field in &r.fields {
                    self.collect(&field.schema);
                }
            }
            Schema::Enum(e) => {
                self.0.insert(e.name.clone(), schema.clone());
            }
            Schema::Fixed(f) => {
                self.0.insert(f.name.clone(), schema.clone());
            }
            Schema::Decimal(d) => {
                if let Schema::Fixed(f) = d.inner.as_ref() {
                    self.0.insert(f.name.clone(), schema.clone());
                }
            }
            Schema::Array(a) => self.collect(&a.items),
            Schema::Map(m) => self.collect(&m.types),
            Schema::Union(u) => {
                for branch in u.variants() {
                    self.collect(branch);
                }
            }
            _ => {}
        }
    }

    /// `schema`, or the named type it refers to.
    pub(crate) fn resolve<'s>(&'s self, schema: &'s Schema) -> Result<&'s Schema, Refused> {
        match schema {
            Schema::Ref { name } => self.0.get(name).ok_or(Refused),
            other => Ok(other),
        }
    }
}

/// Appends the zig-zag varint of `n` (Avro's `int` and `long`).
pub(crate) fn put_long(out: &mut Vec<u8>, n: i64) {
    let mut z = ((n << 1) ^ (n >> 63)) as u64;
    while z >= 0x80 {
        out.push((z as u8) | 0x80);
        z >>= 7;
    }
    out.push(z as u8);
}

/// Appends a length-prefixed byte string (Avro's `bytes` and `string`).
pub(crate) fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    put_long(out, bytes.len() as i64);
    out.extend_from_slice(bytes);
}

/// Appends a fixed decimal: the big-endian two's complement `bytes` sign-extended to
/// `size` bytes.
pub(crate) fn put_sign_extended(
    out: &mut Vec<u8>,
    bytes: &[u8],
    size: usize,
) -> Result<(), Refused> {
    let pad = size.checked_sub(bytes.len()).ok_or(Refused)?;
    let fill = match bytes.first() {
        Some(b) if b & 0x80 != 0 => 0xff,
        _ => 0,
    };
    out.extend(std::iter::repeat_n(fill, pad));
    out.extend_from_slice(bytes);
    Ok(())
}

/// A decimal's unscaled bytes under its schema: length-prefixed in `bytes`,
/// sign-extended to the size of a `fixed`.
pub(crate) fn put_decimal(
    out: &mut Vec<u8>,
    bytes: &[u8],
    decimal: &DecimalSchema,
) -> Result<(), Refused> {
    match decimal.inner.as_ref() {
        Schema::Bytes => put_bytes(out, bytes),
        Schema::Fixed(f) => put_sign_extended(out, bytes, f.size)?,
        _ => return Err(Refused),
    }
    Ok(())
}

/// Does `schema` take an Avro `long` written as it is (`long` and the long-based logical
/// types)?
pub(crate) fn is_long_like(schema: &Schema) -> bool {
    matches!(
        schema,
        Schema::Long
            | Schema::TimeMicros
            | Schema::TimestampMillis
            | Schema::TimestampMicros
            | Schema::TimestampNanos
            | Schema::LocalTimestampMillis
            | Schema::LocalTimestampMicros
            | Schema::LocalTimestampNanos
    )
}

/// Appends the encoding of `value` under `schema` when the value is already in the
/// schema's shape, as `apache-avro` would encode it after resolving it.
pub(crate) fn encode_value(
    out: &mut Vec<u8>,
    value: &Value,
    schema: &Schema,
    names: &Names,
) -> Result<(), Refused> {
    let schema = names.resolve(schema)?;
    match (value, schema) {
        (Value::Null, Schema::Null) => {}
        (Value::Boolean(b), Schema::Boolean) => out.push(u8::from(*b)),
        (Value::Int(n), Schema::Int | Schema::Date | Schema::TimeMillis)
        | (Value::Date(n), Schema::Date)
        | (Value::TimeMillis(n), Schema::TimeMillis) => put_long(out, i64::from(*n)),
        (Value::Int(n), s) if is_long_like(s) => put_long(out, i64::from(*n)),
        (Value::Long(n), s) if is_long_like(s) => put_long(out, *n),
        (Value::TimeMicros(n), Schema::TimeMicros)
        | (Value::TimestampMillis(n), Schema::TimestampMillis)
        | (Value::TimestampMicros(n), Schema::TimestampMicros)
        | (Value::TimestampNanos(n), Schema::TimestampNanos)
        | (Value::LocalTimestampMillis(n), Schema::LocalTimestampMillis)
        | (Value::LocalTimestampMicros(n), Schema::LocalTimestampMicros)
        | (Value::LocalTimestampNanos(n), Schema::LocalTimestampNanos) => put_long(out, *n),
        (Value::Float(x), Schema::Float) => out.extend_from_slice(&x.to_le_bytes()),
        (Value::Float(x), Schema::Double) => out.extend_from_slice(&f64::from(*x).to_le_bytes()),
        (Value::Double(x), Schema::Double) => out.extend_from_slice(&x.to_le_bytes()),
        (Value::Bytes(b), Schema::Bytes) => put_bytes(out, b),
        (Value::String(s), Schema::String) => put_bytes(out, s.as_bytes()),
        (Value::Bytes(b), Schema::Fixed(f)) | (Value::Fixed(_, b), Schema::Fixed(f))
            if b.len() == f.size =>
        {
            out.extend_from_slice(b)
        }
        (Value::Fixed(n, b), Schema::Duration) if *n == 12 && b.len() == 12 => {
            out.extend_from_slice(b)
        }
        (Value::Duration(d), Schema::Duration) => {
            let bytes: [u8; 12] = (*d).into();
            out.extend_from_slice(&bytes)
        }
        (Value::String(s), Schema::Enum(e)) => {
            let index = e.symbols.iter().position(|sym| sym == s).ok_or(Refused)?;
            put_long(out, index as i64)
        }
        (Value::Enum(i, s), Schema::Enum(e)) if e.symbols.get(*i as usize) == Some(s) => {
            put_long(out, i64::from(*i))
        }
        (Value::Union(i, inner), Schema::Union(u)) => {
            let branch = u.variants().get(*i as usize).ok_or(Refused)?;
            put_long(out, i64::from(*i));
            encode_value(out, inner, branch, names)?
        }
        (Value::Null, Schema::Union(u)) => {
            let i = u
                .variants()
                .iter()
                .position(|s| matches!(s, Schema::Null))
                .ok_or(Refused)?;
            put_long(out, i as i64)
        }
        (Value::Array(items), Schema::Array(a)) => {
            if !items.is_empty() {
                put_long(out, items.len() as i64);
                for item in items {
                    encode_value(out, item, &a.items, names)?;
                }
            }
            out.push(0)
        }
        (Value::Map(entries), Schema::Map(m)) => {
            if !entries.is_empty() {
                put_long(out, entries.len() as i64);
                for (key, item) in entries {
                    put_bytes(out, key.as_bytes());
                    encode_value(out, item, &m.types, names)?;
                }
            }
            out.push(0)
        }
        (Value::Record(fields), Schema::Record(r)) => encode_record(out, fields, r, names)?,
        // A decimal's unscaled value, big-endian two's complement: as it is in bytes,
        // sign-extended in a fixed (what resolving and encoding writes; resolving alone
        // would refuse a bytes decimal shorter than its precision's maximum, which is
        // how Confluent's serializers write them).
        (Value::Bytes(b) | Value::Fixed(_, b), Schema::Decimal(d)) => put_decimal(out, b, d)?,
        (Value::Decimal(dec), Schema::Decimal(d)) => {
            // `apache_avro::Decimal` gives its bytes only as a new `Vec`.
            let bytes = Vec::<u8>::try_from(dec).map_err(|_| Refused)?;
            put_decimal(out, &bytes, d)?
        }
        _ => return Err(Refused),
    }
    Ok(())
}

/// A record's fields in the schema's order, found by name (or alias) in the value.
fn encode_record(
    out: &mut Vec<u8>,
    fields: &[(String, Value)],
    record: &RecordSchema,
    names: &Names,
) -> Result<(), Refused> {
    for (i, field) in record.fields.iter().enumerate() {
        let value = match fields.get(i) {
            Some((name, value)) if *name == field.name => value,
            _ => fields
                .iter()
                .find(|(name, _)| {
                    *name == field.name
                        || field
                            .aliases
                            .as_ref()
                            .is_some_and(|aliases| aliases.contains(name))
                })
                .map(|(_, v)| v)
                .ok_or(Refused)?,
        };
        encode_value(out, value, &field.schema, names)?;
    }
    Ok(())
}
