//! The compression codecs a record batch may use, as named in its attributes and in the
//! `compression.type` setting.

use std::fmt;
use std::str::FromStr;

use super::ParseCompressionError;
use super::layout::COMPRESSION_MASK;

/// Compression of a batch's records section (attributes bits 0-2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Compression {
    /// No compression (id 0).
    #[default]
    None,
    /// Gzip (id 1), pure-Rust deflate.
    Gzip,
    /// Snappy (id 2): written in the xerial framing the Java client uses; read framed or raw.
    Snappy,
    /// LZ4 frame format (id 3).
    Lz4,
    /// Zstandard (id 4).
    Zstd,
}

impl Compression {
    /// Every codec, in id order.
    pub const ALL: [Compression; 5] = [
        Compression::None,
        Compression::Gzip,
        Compression::Snappy,
        Compression::Lz4,
        Compression::Zstd,
    ];

    /// The codec named by a batch's attributes, or `None` for the unused ids 5-7.
    pub fn from_attributes(attributes: i16) -> Option<Self> {
        Self::from_id((attributes & COMPRESSION_MASK) as u8)
    }

    /// The codec with this wire id (0-4).
    pub fn from_id(id: u8) -> Option<Self> {
        match id {
            0 => Some(Compression::None),
            1 => Some(Compression::Gzip),
            2 => Some(Compression::Snappy),
            3 => Some(Compression::Lz4),
            4 => Some(Compression::Zstd),
            _ => None,
        }
    }

    /// The wire id, as stored in attributes bits 0-2.
    pub fn id(self) -> u8 {
        match self {
            Compression::None => 0,
            Compression::Gzip => 1,
            Compression::Snappy => 2,
            Compression::Lz4 => 3,
            Compression::Zstd => 4,
        }
    }

    /// The name Kafka uses in `compression.type`.
    pub fn name(self) -> &'static str {
        match self {
            Compression::None => "none",
            Compression::Gzip => "gzip",
            Compression::Snappy => "snappy",
            Compression::Lz4 => "lz4",
            Compression::Zstd => "zstd",
        }
    }
}

impl fmt::Display for Compression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Compression {
    type Err = ParseCompressionError;

    /// Parses a `compression.type` value (ASCII case-insensitive, surrounding spaces ignored).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let name = s.trim();
        Self::ALL
            .into_iter()
            .find(|c| c.name().eq_ignore_ascii_case(name))
            .ok_or_else(|| ParseCompressionError {
                value: s.to_owned(),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_ids_round_trip() {
        for c in Compression::ALL {
            assert_eq!(c.name().parse::<Compression>().unwrap(), c);
            assert_eq!(c.to_string(), c.name());
            assert_eq!(Compression::from_id(c.id()), Some(c));
            assert_eq!(
                Compression::from_attributes(0x30 | i16::from(c.id())),
                Some(c)
            );
        }
        assert_eq!(" LZ4 ".parse::<Compression>().unwrap(), Compression::Lz4);
        assert_eq!(Compression::from_attributes(5), None);
        assert_eq!(Compression::from_attributes(7), None);
    }

    #[test]
    fn bad_name_is_reported() {
        let err = "brotli".parse::<Compression>().unwrap_err();
        assert_eq!(err.value, "brotli");
        assert!(err.to_string().contains("\"brotli\""), "{err}");
    }
}
