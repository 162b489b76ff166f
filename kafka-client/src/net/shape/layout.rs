//! The vocabulary of response layouts: field kinds, version ranges and tags, plus the
//! macros the per-API tables are written with.

/// Highest version: "and every later version".
pub(crate) const N: i16 = i16::MAX;

/// The wire kind of one field.
#[derive(Debug)]
pub(crate) enum Kind {
    /// A fixed-width value of this many bytes (int8..int64, float64, bool, uuid).
    Fixed {
        /// Width in bytes.
        size: u8,
    },
    /// A string: int16 length (non-flexible) or unsigned varint length + 1 (flexible).
    Str,
    /// Bytes or records: int32 length (non-flexible) or unsigned varint length + 1.
    Bytes,
    /// An array: int32 count (non-flexible) or unsigned varint count + 1 (flexible).
    Array {
        /// The element kind.
        of: &'static Kind,
    },
    /// A nested struct (followed by its own tag buffer in flexible versions).
    Struct {
        /// Its fields, in wire order; tagged ones are looked up in the tag buffer.
        fields: &'static [Field],
    },
}

/// One field of a struct.
#[derive(Debug)]
pub(crate) struct Field {
    /// Field name as in the Kafka message schema (snake case), for error messages.
    pub(crate) name: &'static str,
    /// First version the field is present in.
    pub(crate) lo: i16,
    /// Last version the field is present in.
    pub(crate) hi: i16,
    /// Wire kind.
    pub(crate) kind: Kind,
    /// `Some(tag)` for a tagged field (flexible versions only, in the tag buffer).
    pub(crate) tag: Option<u32>,
}

impl Field {
    /// Whether the field is on the wire at `version`.
    pub(crate) fn present(&self, version: i16) -> bool {
        self.lo <= version && version <= self.hi
    }
}

/// The response layout of one API.
#[derive(Debug)]
pub(crate) struct Api {
    /// API key.
    pub(crate) key: i16,
    /// API name, for error messages.
    pub(crate) name: &'static str,
    /// Lowest response version described.
    pub(crate) min: i16,
    /// Highest response version described.
    pub(crate) max: i16,
    /// First flexible version (compact lengths, tag buffers), `N` if none.
    pub(crate) flex: i16,
    /// The response body.
    pub(crate) body: &'static [Field],
}

pub(crate) const I8: Kind = Kind::Fixed { size: 1 };
pub(crate) const I16: Kind = Kind::Fixed { size: 2 };
pub(crate) const I32: Kind = Kind::Fixed { size: 4 };
pub(crate) const I64: Kind = Kind::Fixed { size: 8 };
pub(crate) const BOOL: Kind = Kind::Fixed { size: 1 };
pub(crate) const UUID: Kind = Kind::Fixed { size: 16 };
pub(crate) const STR: Kind = Kind::Str;
pub(crate) const BYTES: Kind = Kind::Bytes;

/// `f!("name", lo, hi, KIND)`: a field present in versions `lo..=hi`.
macro_rules! f {
    ($name:literal, $lo:expr, $hi:expr, $kind:expr) => {
        $crate::net::shape::layout::Field {
            name: $name,
            lo: $lo,
            hi: $hi,
            kind: $kind,
            tag: None,
        }
    };
}

/// `tagged!(tag, "name", lo, hi, KIND)`: a tagged field.
macro_rules! tagged {
    ($tag:literal, $name:literal, $lo:expr, $hi:expr, $kind:expr) => {
        $crate::net::shape::layout::Field {
            name: $name,
            lo: $lo,
            hi: $hi,
            kind: $kind,
            tag: Some($tag),
        }
    };
}

/// `st![fields...]`: a struct kind.
macro_rules! st {
    ($($field:expr),* $(,)?) => {
        $crate::net::shape::layout::Kind::Struct { fields: &[$($field),*] }
    };
}

/// `arr![fields...]`: an array of structs.
macro_rules! arr {
    [$($field:expr),* $(,)?] => {
        $crate::net::shape::layout::Kind::Array {
            of: &$crate::net::shape::layout::st![$($field),*],
        }
    };
}

/// `arr_of!(KIND)`: an array of a primitive kind.
macro_rules! arr_of {
    ($kind:expr) => {
        $crate::net::shape::layout::Kind::Array { of: &$kind }
    };
}

pub(crate) use {arr, arr_of, f, st, tagged};
