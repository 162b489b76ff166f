//! A `serde` serializer that writes the Avro binary encoding of a value straight into the
//! output buffer, walking the parsed schema: the cache-hit path of `AvroSerializer`.
//!
//! It writes what `apache_avro::to_value` followed by resolution to the schema and
//! `apache-avro`'s encoding would write (the same kinds, promotions and union branch
//! choice), and refuses ([`Refused`]) what it does not take as it is: record fields out of
//! the schema's order or left out (defaults), values that need parsing (a string for a
//! `uuid` or a `float`), enum variants with data, and so on. The caller then takes that
//! general path. Arrays and maps are one block (a count, the items, a 0), as `apache-avro`
//! writes them; when `serde` does not give the length up front, the items are written
//! first and the count moved in front of them, so nothing is buffered elsewhere.

use apache_avro::schema::{RecordSchema, Schema, SchemaKind, UnionSchema};
use serde::ser::{self, Serialize};

use super::avro_encode::{Names, Refused, is_long_like, put_bytes, put_decimal, put_long};

/// Appends the encoding of `value` under `schema`, or refuses it.
pub(crate) fn encode_serde<T: Serialize + ?Sized>(
    out: &mut Vec<u8>,
    value: &T,
    schema: &Schema,
    names: &Names,
) -> Result<(), Refused> {
    value.serialize(Ser { out, schema, names })
}

static STRING: Schema = Schema::String;

struct Ser<'a, 's> {
    out: &'a mut Vec<u8>,
    schema: &'s Schema,
    names: &'s Names,
}

type Done = Result<(), Refused>;

impl<'a, 's> Ser<'a, 's> {
    fn schema(&self) -> Result<&'s Schema, Refused> {
        self.names.resolve(self.schema)
    }

    fn with(&mut self, schema: &'s Schema) -> Ser<'_, 's> {
        Ser {
            out: self.out,
            schema,
            names: self.names,
        }
    }

    /// A union: the branch of the value's own kind if there is one (not a named type),
    /// else the first branch that takes the value, as `apache-avro`'s resolution picks.
    fn union(
        mut self,
        u: &'s UnionSchema,
        kind: SchemaKind,
        write: impl Fn(Ser<'_, 's>) -> Done,
    ) -> Done {
        let branches = u.variants();
        if let Some(i) = branches
            .iter()
            .position(|b| !is_named(b) && SchemaKind::from(b) == kind)
        {
            put_long(self.out, i as i64);
            return write(self.with(&branches[i]));
        }
        for (i, branch) in branches.iter().enumerate() {
            let start = self.out.len();
            put_long(self.out, i as i64);
            if write(self.with(branch)).is_ok() {
                return Ok(());
            }
            self.out.truncate(start);
        }
        Err(Refused)
    }

    /// `to_value` makes an `int` of this, and resolution takes it from there.
    fn int(self, v: i32) -> Done {
        match self.schema()? {
            Schema::Int | Schema::Date | Schema::TimeMillis => put_long(self.out, i64::from(v)),
            s if is_long_like(s) => put_long(self.out, i64::from(v)),
            Schema::Float => self.out.extend_from_slice(&(v as f32).to_le_bytes()),
            Schema::Double => self.out.extend_from_slice(&f64::from(v).to_le_bytes()),
            Schema::Union(u) => return self.union(u, SchemaKind::Int, |s| s.int(v)),
            _ => return Err(Refused),
        }
        Ok(())
    }

    /// `to_value` makes a `long` of this.
    fn long(self, v: i64) -> Done {
        match self.schema()? {
            s if is_long_like(s) => put_long(self.out, v),
            Schema::Float => self.out.extend_from_slice(&(v as f32).to_le_bytes()),
            Schema::Double => self.out.extend_from_slice(&(v as f64).to_le_bytes()),
            Schema::Union(u) => return self.union(u, SchemaKind::Long, |s| s.long(v)),
            _ => return Err(Refused),
        }
        Ok(())
    }

    fn string(self, v: &str) -> Done {
        match self.schema()? {
            Schema::String | Schema::Bytes => put_bytes(self.out, v.as_bytes()),
            Schema::Enum(e) => {
                let index = e.symbols.iter().position(|s| s == v).ok_or(Refused)?;
                put_long(self.out, index as i64)
            }
            Schema::Union(u) => return self.union(u, SchemaKind::String, |s| s.string(v)),
            _ => return Err(Refused),
        }
        Ok(())
    }
}

fn is_named(schema: &Schema) -> bool {
    matches!(
        schema,
        Schema::Record(_) | Schema::Enum(_) | Schema::Fixed(_) | Schema::Ref { .. }
    )
}

impl<'a, 's> ser::Serializer for Ser<'a, 's> {
    type Ok = ();
    type Error = Refused;
    type SerializeSeq = Items<'a, 's>;
    type SerializeTuple = Items<'a, 's>;
    type SerializeTupleStruct = Items<'a, 's>;
    type SerializeTupleVariant = ser::Impossible<(), Refused>;
    type SerializeMap = Items<'a, 's>;
    type SerializeStruct = Fields<'a, 's>;
    type SerializeStructVariant = ser::Impossible<(), Refused>;

    fn serialize_bool(self, v: bool) -> Done {
        match self.schema()? {
            Schema::Boolean => self.out.push(u8::from(v)),
            Schema::Union(u) => return self.union(u, SchemaKind::Boolean, |s| s.serialize_bool(v)),
            _ => return Err(Refused),
        }
        Ok(())
    }

    fn serialize_i8(self, v: i8) -> Done {
        self.int(i32::from(v))
    }

    fn serialize_i16(self, v: i16) -> Done {
        self.int(i32::from(v))
    }

    fn serialize_i32(self, v: i32) -> Done {
        self.int(v)
    }

    fn serialize_i64(self, v: i64) -> Done {
        self.long(v)
    }

    fn serialize_u8(self, v: u8) -> Done {
        self.int(i32::from(v))
    }

    fn serialize_u16(self, v: u16) -> Done {
        self.int(i32::from(v))
    }

    fn serialize_u32(self, v: u32) -> Done {
        match i32::try_from(v) {
            Ok(v) => self.int(v),
            Err(_) => self.long(i64::from(v)),
        }
    }

    fn serialize_u64(self, v: u64) -> Done {
        self.long(i64::try_from(v).map_err(|_| Refused)?)
    }

    fn serialize_f32(self, v: f32) -> Done {
        match self.schema()? {
            Schema::Float => self.out.extend_from_slice(&v.to_le_bytes()),
            Schema::Double => self.out.extend_from_slice(&f64::from(v).to_le_bytes()),
            Schema::Union(u) => return self.union(u, SchemaKind::Float, |s| s.serialize_f32(v)),
            _ => return Err(Refused),
        }
        Ok(())
    }

    fn serialize_f64(self, v: f64) -> Done {
        match self.schema()? {
            Schema::Float => self.out.extend_from_slice(&(v as f32).to_le_bytes()),
            Schema::Double => self.out.extend_from_slice(&v.to_le_bytes()),
            Schema::Union(u) => return self.union(u, SchemaKind::Double, |s| s.serialize_f64(v)),
            _ => return Err(Refused),
        }
        Ok(())
    }

    fn serialize_char(self, v: char) -> Done {
        self.string(v.encode_utf8(&mut [0; 4]))
    }

    fn serialize_str(self, v: &str) -> Done {
        self.string(v)
    }

    fn serialize_bytes(self, v: &[u8]) -> Done {
        match self.schema()? {
            Schema::Bytes => put_bytes(self.out, v),
            Schema::String if std::str::from_utf8(v).is_ok() => put_bytes(self.out, v),
            Schema::Fixed(f) if f.size == v.len() => self.out.extend_from_slice(v),
            // A decimal's unscaled value, big-endian two's complement (what
            // `apache_avro::Decimal` serializes to): as it is in bytes, sign-extended in a
            // fixed (resolution through a `Value` would refuse a bytes decimal shorter
            // than its precision's maximum, as Confluent's serializers write them).
            Schema::Decimal(d) => put_decimal(self.out, v, d)?,
            Schema::Union(u) => return self.union(u, SchemaKind::Bytes, |s| s.serialize_bytes(v)),
            _ => return Err(Refused),
        }
        Ok(())
    }

    fn serialize_none(self) -> Done {
        match self.schema()? {
            Schema::Null => Ok(()),
            Schema::Union(u) => self.union(u, SchemaKind::Null, |s| s.serialize_none()),
            _ => Err(Refused),
        }
    }

    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Done {
        value.serialize(self)
    }

    fn serialize_unit(self) -> Done {
        self.serialize_none()
    }

    fn serialize_unit_struct(self, _name: &'static str) -> Done {
        self.serialize_none()
    }

    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
    ) -> Done {
        self.string(variant)
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        value: &T,
    ) -> Done {
        value.serialize(self)
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _value: &T,
    ) -> Done {
        Err(Refused)
    }

    fn serialize_seq(mut self, len: Option<usize>) -> Result<Items<'a, 's>, Refused> {
        let items = match self.schema()? {
            Schema::Array(a) => &*a.items,
            Schema::Union(u) => {
                let (i, branch) = kind_branch(u, SchemaKind::Array)?;
                put_long(self.out, i as i64);
                match branch {
                    Schema::Array(a) => &*a.items,
                    _ => return Err(Refused),
                }
            }
            _ => return Err(Refused),
        };
        self.schema = items;
        Ok(Items::new(self, len))
    }

    fn serialize_tuple(self, len: usize) -> Result<Items<'a, 's>, Refused> {
        self.serialize_seq(Some(len))
    }

    fn serialize_tuple_struct(
        self,
        _name: &'static str,
        len: usize,
    ) -> Result<Items<'a, 's>, Refused> {
        self.serialize_seq(Some(len))
    }

    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeTupleVariant, Refused> {
        Err(Refused)
    }

    fn serialize_map(mut self, len: Option<usize>) -> Result<Items<'a, 's>, Refused> {
        let values = match self.schema()? {
            Schema::Map(m) => &*m.types,
            Schema::Union(u) => {
                let (i, branch) = kind_branch(u, SchemaKind::Map)?;
                put_long(self.out, i as i64);
                match branch {
                    Schema::Map(m) => &*m.types,
                    _ => return Err(Refused),
                }
            }
            _ => return Err(Refused),
        };
        self.schema = values;
        Ok(Items::new(self, len))
    }

    fn serialize_struct(self, _name: &'static str, _len: usize) -> Result<Fields<'a, 's>, Refused> {
        let record = match self.schema()? {
            Schema::Record(r) => r,
            Schema::Union(u) => {
                // A record value resolves only to a record branch: take the one there is.
                let mut records = u.variants().iter().enumerate().filter_map(|(i, b)| {
                    match self.names.resolve(b) {
                        Ok(Schema::Record(r)) => Some((i, r)),
                        _ => None,
                    }
                });
                let (i, r) = records.next().ok_or(Refused)?;
                if records.next().is_some() {
                    return Err(Refused);
                }
                put_long(self.out, i as i64);
                r
            }
            _ => return Err(Refused),
        };
        Ok(Fields {
            out: self.out,
            record,
            names: self.names,
            next: 0,
        })
    }

    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeStructVariant, Refused> {
        Err(Refused)
    }
}

/// The union's branch of exactly `kind` (arrays and maps: there is at most one).
fn kind_branch(u: &UnionSchema, kind: SchemaKind) -> Result<(usize, &Schema), Refused> {
    u.variants()
        .iter()
        .enumerate()
        .find(|(_, b)| SchemaKind::from(*b) == kind)
        .ok_or(Refused)
}

/// An array's items or a map's entries, one block: the count, the items, a 0.
pub(crate) struct Items<'a, 's> {
    ser: Ser<'a, 's>,
    /// Where the items start (the count goes in front of them when not known up front).
    start: usize,
    announced: Option<usize>,
    count: usize,
}

impl<'a, 's> Items<'a, 's> {
    fn new(ser: Ser<'a, 's>, len: Option<usize>) -> Self {
        let announced = len.filter(|n| *n > 0);
        if let Some(n) = announced {
            put_long(ser.out, n as i64);
        }
        let start = ser.out.len();
        Items {
            ser,
            start,
            announced,
            count: 0,
        }
    }

    fn item<T: Serialize + ?Sized>(&mut self, value: &T) -> Done {
        self.count += 1;
        let schema = self.ser.schema;
        value.serialize(self.ser.with(schema))
    }

    fn finish(self) -> Done {
        let out = self.ser.out;
        match self.announced {
            Some(n) if n != self.count => return Err(Refused),
            Some(_) => {}
            None if self.count > 0 => {
                let end = out.len();
                put_long(out, self.count as i64);
                let count_len = out.len() - end;
                out[self.start..].rotate_right(count_len);
            }
            None => {}
        }
        out.push(0);
        Ok(())
    }
}

impl ser::SerializeSeq for Items<'_, '_> {
    type Ok = ();
    type Error = Refused;

    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Done {
        self.item(value)
    }

    fn end(self) -> Done {
        self.finish()
    }
}

impl ser::SerializeTuple for Items<'_, '_> {
    type Ok = ();
    type Error = Refused;

    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Done {
        self.item(value)
    }

    fn end(self) -> Done {
        self.finish()
    }
}

impl ser::SerializeTupleStruct for Items<'_, '_> {
    type Ok = ();
    type Error = Refused;

    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Done {
        self.item(value)
    }

    fn end(self) -> Done {
        self.finish()
    }
}

impl ser::SerializeMap for Items<'_, '_> {
    type Ok = ();
    type Error = Refused;

    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Done {
        // Keys are strings (`to_value` refuses any other key).
        key.serialize(self.ser.with(&STRING))
    }

    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Done {
        self.item(value)
    }

    fn end(self) -> Done {
        self.finish()
    }
}

/// A record's fields, which must come in the schema's order (a field the schema does not
/// have is left out, as resolution does).
pub(crate) struct Fields<'a, 's> {
    out: &'a mut Vec<u8>,
    record: &'s RecordSchema,
    names: &'s Names,
    next: usize,
}

impl ser::SerializeStruct for Fields<'_, '_> {
    type Ok = ();
    type Error = Refused;

    fn serialize_field<T: Serialize + ?Sized>(&mut self, key: &'static str, value: &T) -> Done {
        match self.record.fields.get(self.next) {
            Some(field) if field.name == key => {
                self.next += 1;
                value.serialize(Ser {
                    out: self.out,
                    schema: &field.schema,
                    names: self.names,
                })
            }
            // Out of the schema's order, or twice.
            _ if self.record.lookup.contains_key(key) => Err(Refused),
            _ => Ok(()),
        }
    }

    fn skip_field(&mut self, key: &'static str) -> Done {
        if self.record.lookup.contains_key(key) {
            // Left out: resolution fills in the field's default.
            Err(Refused)
        } else {
            Ok(())
        }
    }

    fn end(self) -> Done {
        if self.next == self.record.fields.len() {
            Ok(())
        } else {
            Err(Refused)
        }
    }
}
