//! The Java/librdkafka properties adapter's shared parsing: `"a.b.c" = "value"` maps,
//! each value parsed with an error that names the key.

use std::collections::BTreeMap;
use std::str::FromStr;
use std::time::Duration;

use crate::error::{Error, Result};

/// Properties as given by a user migrating from Java or librdkafka: string keys and
/// values. Each builder's `from_properties` takes the keys it knows and rejects the rest.
#[derive(Clone, Debug, Default)]
pub struct Properties {
    entries: BTreeMap<String, String>,
}

impl<K: Into<String>, V: Into<String>> FromIterator<(K, V)> for Properties {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        Self {
            entries: iter
                .into_iter()
                .map(|(k, v)| (k.into().trim().to_string(), v.into()))
                .collect(),
        }
    }
}

impl Properties {
    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets `key` to `value`.
    pub fn set(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.entries
            .insert(key.into().trim().to_string(), value.into());
        self
    }

    /// Removes and returns `key`'s raw value.
    pub fn take(&mut self, key: &str) -> Option<String> {
        self.entries.remove(key)
    }

    /// Removes `key` and parses it with `FromStr`; the error names the key and value.
    pub fn take_parsed<T: FromStr>(&mut self, key: &str) -> Result<Option<T>> {
        match self.entries.remove(key) {
            None => Ok(None),
            Some(v) => v
                .trim()
                .parse()
                .map(Some)
                .map_err(|_| bad_value(key, &v, std::any::type_name::<T>())),
        }
    }

    /// Removes `key`, a whole number of milliseconds, as a `Duration`.
    pub fn take_millis(&mut self, key: &str) -> Result<Option<Duration>> {
        match self.entries.remove(key) {
            None => Ok(None),
            Some(v) => v
                .trim()
                .parse::<u64>()
                .map(|ms| Some(Duration::from_millis(ms)))
                .map_err(|_| bad_value(key, &v, "a non-negative number of milliseconds")),
        }
    }

    /// Removes `key`, `true` or `false`.
    pub fn take_bool(&mut self, key: &str) -> Result<Option<bool>> {
        match self.entries.remove(key) {
            None => Ok(None),
            Some(v) => match v.trim().to_ascii_lowercase().as_str() {
                "true" => Ok(Some(true)),
                "false" => Ok(Some(false)),
                _ => Err(bad_value(key, &v, "true or false")),
            },
        }
    }

    /// Fails naming every key nobody took (an unknown or misspelt property).
    pub fn reject_unknown(self) -> Result<()> {
        if self.entries.is_empty() {
            return Ok(());
        }
        let keys: Vec<&str> = self.entries.keys().map(String::as_str).collect();
        Err(Error::Config(format!(
            "unknown propert{}: {}",
            if keys.len() == 1 { "y" } else { "ies" },
            keys.join(", ")
        )))
    }
}

/// `value` of `key` parsed with `FromStr`; the error names the key and value.
pub(crate) fn parse_value<T: FromStr>(key: &str, value: &str) -> Result<T> {
    value
        .trim()
        .parse()
        .map_err(|_| bad_value(key, value, std::any::type_name::<T>()))
}

/// `value` of `key`, a whole number of milliseconds, as a `Duration`.
pub(crate) fn parse_millis(key: &str, value: &str) -> Result<Duration> {
    value
        .trim()
        .parse::<u64>()
        .map(Duration::from_millis)
        .map_err(|_| bad_value(key, value, "a non-negative number of milliseconds"))
}

/// `value` of `key`, `true` or `false`.
pub(crate) fn parse_bool(key: &str, value: &str) -> Result<bool> {
    match value.trim().to_ascii_lowercase().as_str() {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(bad_value(key, value, "true or false")),
    }
}

/// A config error naming the key, the bad value, and what was expected.
pub fn bad_value(key: &str, value: &str, expected: &str) -> Error {
    Error::Config(format!("{key}={value:?} is not valid: expected {expected}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_names_bad_keys() {
        let mut p: Properties = [
            ("linger.ms", "5"),
            ("acks", "all"),
            ("x", "1"),
            ("bad.ms", "five"),
        ]
        .into_iter()
        .collect();
        assert_eq!(
            p.take_millis("linger.ms").unwrap(),
            Some(Duration::from_millis(5))
        );
        assert_eq!(p.take("acks").as_deref(), Some("all"));
        let err = p.take_millis("bad.ms").unwrap_err().to_string();
        assert!(err.contains("bad.ms") && err.contains("five"), "{err}");
        let err = p.reject_unknown().unwrap_err().to_string();
        assert!(err.contains("unknown property: x"), "{err}");
    }
}
