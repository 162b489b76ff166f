//! [`SchemaGuid`]: a schema's globally unique id, as newer registries give it next to
//! the numeric id (`"guid"` in register and lookup answers, `GET /schemas/guids/{guid}`).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A schema's GUID: 16 bytes, written as the hyphenated lowercase hex form
/// (`xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`) in the REST API and as the raw 16 bytes in
/// a schema-id header.
///
/// ```
/// use kafka_schema_registry::SchemaGuid;
/// let guid: SchemaGuid = "5e7f40ce-ba13-8394-ab4a-c4e82c0ededd".parse().unwrap();
/// assert_eq!(guid.as_bytes()[0], 0x5e);
/// assert_eq!(guid.to_string(), "5e7f40ce-ba13-8394-ab4a-c4e82c0ededd");
/// assert!("5e7f40ce".parse::<SchemaGuid>().is_err());
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SchemaGuid([u8; 16]);

impl SchemaGuid {
    /// The GUID with these 16 bytes.
    pub const fn from_bytes(bytes: [u8; 16]) -> Self {
        SchemaGuid(bytes)
    }

    /// Its 16 bytes.
    pub const fn as_bytes(&self) -> &[u8; 16] {
        &self.0
    }
}

/// Why a string is not a GUID.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("not a GUID (32 hex digits, hyphens allowed): {0:?}")]
pub struct ParseGuidError(String);

impl FromStr for SchemaGuid {
    type Err = ParseGuidError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || ParseGuidError(s.to_owned());
        let mut bytes = [0u8; 16];
        let mut digits = s.bytes().filter(|&b| b != b'-');
        for byte in &mut bytes {
            let hi = digits.next().and_then(hex_value).ok_or_else(bad)?;
            let lo = digits.next().and_then(hex_value).ok_or_else(bad)?;
            *byte = hi << 4 | lo;
        }
        if digits.next().is_some() || s.len() > 36 {
            return Err(bad());
        }
        Ok(SchemaGuid(bytes))
    }
}

fn hex_value(digit: u8) -> Option<u8> {
    char::from(digit).to_digit(16).map(|v| v as u8)
}

impl fmt::Display for SchemaGuid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, byte) in self.0.iter().enumerate() {
            if matches!(i, 4 | 6 | 8 | 10) {
                f.write_str("-")?;
            }
            write!(f, "{byte:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for SchemaGuid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SchemaGuid({self})")
    }
}

impl Serialize for SchemaGuid {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for SchemaGuid {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints_the_rest_form() {
        let text = "11111111-2222-4333-8444-555555555555";
        let guid: SchemaGuid = text.parse().unwrap();
        assert_eq!(
            guid.as_bytes(),
            &[
                0x11, 0x11, 0x11, 0x11, 0x22, 0x22, 0x43, 0x33, 0x84, 0x44, 0x55, 0x55, 0x55, 0x55,
                0x55, 0x55
            ]
        );
        assert_eq!(guid.to_string(), text);
        let upper: SchemaGuid = "11111111222243338444555555555555".parse().unwrap();
        assert_eq!(upper, guid);
        for bad in [
            "",
            "1111",
            "11111111-2222-4333-8444-55555555555x",
            &format!("{text}00"),
        ] {
            assert!(bad.parse::<SchemaGuid>().is_err(), "{bad}");
        }
        let json = serde_json::to_string(&guid).unwrap();
        assert_eq!(json, format!("\"{text}\""));
        assert_eq!(serde_json::from_str::<SchemaGuid>(&json).unwrap(), guid);
    }
}
