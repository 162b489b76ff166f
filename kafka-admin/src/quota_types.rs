//! Client quota entities, filters and alterations, as the quota calls take them.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

/// The quota keys Kafka knows (any other key is refused by the broker).
pub mod quota_keys {
    /// Produce bytes per second.
    pub const PRODUCER_BYTE_RATE: &str = "producer_byte_rate";
    /// Fetch bytes per second.
    pub const CONSUMER_BYTE_RATE: &str = "consumer_byte_rate";
    /// Percentage of request handler and network thread time.
    pub const REQUEST_PERCENTAGE: &str = "request_percentage";
    /// Partition mutations (create/delete topics, create partitions) per second.
    pub const CONTROLLER_MUTATION_RATE: &str = "controller_mutation_rate";
    /// New connections per second (IP entities only).
    pub const CONNECTION_CREATION_RATE: &str = "connection_creation_rate";
}

/// What a quota applies to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum QuotaEntityType {
    /// A user principal (`user`).
    User,
    /// A client id (`client-id`).
    ClientId,
    /// A client IP address (`ip`).
    Ip,
}

impl QuotaEntityType {
    /// Kafka's name for it: `user`, `client-id`, `ip`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::User => "user",
            Self::ClientId => "client-id",
            Self::Ip => "ip",
        }
    }
}

impl fmt::Display for QuotaEntityType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A quota entity type name that is not `user`, `client-id` or `ip`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnknownQuotaEntityType(pub String);

impl fmt::Display for UnknownQuotaEntityType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unknown quota entity type {:?} (expected user, client-id or ip)",
            self.0
        )
    }
}

impl std::error::Error for UnknownQuotaEntityType {}

impl FromStr for QuotaEntityType {
    type Err = UnknownQuotaEntityType;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "user" => Ok(Self::User),
            "client-id" => Ok(Self::ClientId),
            "ip" => Ok(Self::Ip),
            other => Err(UnknownQuotaEntityType(other.to_string())),
        }
    }
}

/// A quota entity: a user, a client id, both, or an IP; a part whose name is `None` is
/// the default entity of its type (`--entity-default` in Kafka's tool).
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct QuotaEntity {
    /// The parts, by type.
    pub parts: BTreeMap<QuotaEntityType, Option<String>>,
}

impl QuotaEntity {
    /// The entity of one part.
    pub fn new(kind: QuotaEntityType, name: Option<&str>) -> Self {
        Self::default().and(kind, name)
    }

    /// A user (`None`: the default user).
    pub fn user(name: Option<&str>) -> Self {
        Self::new(QuotaEntityType::User, name)
    }

    /// A client id (`None`: the default client id).
    pub fn client_id(name: Option<&str>) -> Self {
        Self::new(QuotaEntityType::ClientId, name)
    }

    /// An IP address (`None`: the default IP).
    pub fn ip(address: Option<&str>) -> Self {
        Self::new(QuotaEntityType::Ip, address)
    }

    /// This entity with one more part (a user and a client id, say).
    pub fn and(mut self, kind: QuotaEntityType, name: Option<&str>) -> Self {
        self.parts.insert(kind, name.map(str::to_string));
        self
    }
}

impl fmt::Display for QuotaEntity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for (kind, name) in &self.parts {
            if !first {
                f.write_str(",")?;
            }
            first = false;
            match name {
                Some(n) => write!(f, "{kind}={n}")?,
                None => write!(f, "{kind}=<default>")?,
            }
        }
        Ok(())
    }
}

/// How a [`QuotaFilter`] component matches an entity part.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum QuotaMatch {
    /// This exact name.
    Exact(String),
    /// The default entity of the type.
    Default,
    /// Any entity that has this type (named or default).
    Any,
}

/// Which quotas [`Admin::describe_client_quotas`](crate::Admin::describe_client_quotas)
/// returns.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct QuotaFilter {
    components: Vec<(QuotaEntityType, QuotaMatch)>,
    strict: bool,
}

impl QuotaFilter {
    /// Every quota (no component, not strict).
    pub fn all() -> Self {
        Self::default()
    }

    /// Also require a part of `kind` matching `matching`.
    pub fn component(mut self, kind: QuotaEntityType, matching: QuotaMatch) -> Self {
        self.components.push((kind, matching));
        self
    }

    /// Only entities with no parts beyond the components (else entities with more parts
    /// match too). Default false.
    pub fn strict(mut self, v: bool) -> Self {
        self.strict = v;
        self
    }

    pub(crate) fn components(&self) -> &[(QuotaEntityType, QuotaMatch)] {
        &self.components
    }

    pub(crate) fn is_strict(&self) -> bool {
        self.strict
    }
}

/// One change to an entity's quotas.
#[derive(Clone, Debug, PartialEq)]
pub struct QuotaAlteration {
    /// The quota key (see [`quota_keys`]).
    pub key: String,
    /// The new value, or `None` to remove the quota.
    pub value: Option<f64>,
}

impl QuotaAlteration {
    /// Set `key` to `value`.
    pub fn set(key: impl Into<String>, value: f64) -> Self {
        Self {
            key: key.into(),
            value: Some(value),
        }
    }

    /// Remove `key`.
    pub fn remove(key: impl Into<String>) -> Self {
        Self {
            key: key.into(),
            value: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entities_print_and_parse_like_kafka() {
        let e = QuotaEntity::user(Some("alice")).and(QuotaEntityType::ClientId, None);
        assert_eq!(e.to_string(), "user=alice,client-id=<default>");
        assert_eq!("client-id".parse(), Ok(QuotaEntityType::ClientId));
        assert_eq!(
            "bogus".parse::<QuotaEntityType>(),
            Err(UnknownQuotaEntityType("bogus".into()))
        );
    }
}
