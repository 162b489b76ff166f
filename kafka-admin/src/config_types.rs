//! The value types of DescribeConfigs: resource types, config sources and types, entries.

use std::fmt;

use kafka_protocol::messages::describe_configs_response::DescribeConfigsResourceResult;

/// The kind of a [`crate::ConfigResource`] (Kafka's `ConfigResource.Type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum ConfigResourceType {
    /// A topic.
    Topic,
    /// A broker (or, with an empty name, the cluster-wide broker defaults).
    Broker,
    /// A broker's log4j loggers.
    BrokerLogger,
    /// Client metrics subscriptions.
    ClientMetrics,
    /// A group.
    Group,
    /// A code this client does not know.
    Unknown(i8),
}

impl ConfigResourceType {
    /// The protocol code.
    pub fn code(self) -> i8 {
        match self {
            Self::Topic => 2,
            Self::Broker => 4,
            Self::BrokerLogger => 8,
            Self::ClientMetrics => 16,
            Self::Group => 32,
            Self::Unknown(c) => c,
        }
    }

    /// The type for a protocol code.
    pub fn from_code(code: i8) -> Self {
        match code {
            2 => Self::Topic,
            4 => Self::Broker,
            8 => Self::BrokerLogger,
            16 => Self::ClientMetrics,
            32 => Self::Group,
            c => Self::Unknown(c),
        }
    }
}

impl fmt::Display for ConfigResourceType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Topic => f.write_str("topic"),
            Self::Broker => f.write_str("broker"),
            Self::BrokerLogger => f.write_str("broker-logger"),
            Self::ClientMetrics => f.write_str("client-metrics"),
            Self::Group => f.write_str("group"),
            Self::Unknown(c) => write!(f, "resource-type-{c}"),
        }
    }
}

/// Where a config's value comes from (Kafka's `ConfigEntry.ConfigSource`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ConfigSource {
    /// A per-topic override.
    DynamicTopicConfig,
    /// A dynamic per-broker override.
    DynamicBrokerConfig,
    /// A dynamic cluster-wide broker default.
    DynamicDefaultBrokerConfig,
    /// The broker's `server.properties`.
    StaticBrokerConfig,
    /// Kafka's built-in default.
    DefaultConfig,
    /// A dynamic broker logger level.
    DynamicBrokerLoggerConfig,
    /// A client metrics subscription.
    ClientMetricsConfig,
    /// A per-group override.
    GroupConfig,
    /// Unknown (code 0, or a code this client does not know).
    Unknown(i8),
}

impl ConfigSource {
    /// The source for a protocol code.
    pub fn from_code(code: i8) -> Self {
        match code {
            1 => Self::DynamicTopicConfig,
            2 => Self::DynamicBrokerConfig,
            3 => Self::DynamicDefaultBrokerConfig,
            4 => Self::StaticBrokerConfig,
            5 => Self::DefaultConfig,
            6 => Self::DynamicBrokerLoggerConfig,
            7 => Self::ClientMetricsConfig,
            8 => Self::GroupConfig,
            c => Self::Unknown(c),
        }
    }
}

/// A config's value type (DescribeConfigs v3+).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ConfigType {
    /// `true`/`false`.
    Boolean,
    /// A string.
    String,
    /// A 32-bit integer.
    Int,
    /// A 16-bit integer.
    Short,
    /// A 64-bit integer.
    Long,
    /// A floating-point number.
    Double,
    /// A comma-separated list.
    List,
    /// A Java class name.
    Class,
    /// A password (its value is never returned).
    Password,
    /// Unknown (code 0, or a code this client does not know).
    Unknown(i8),
}

impl ConfigType {
    /// The type for a protocol code.
    pub fn from_code(code: i8) -> Self {
        match code {
            1 => Self::Boolean,
            2 => Self::String,
            3 => Self::Int,
            4 => Self::Short,
            5 => Self::Long,
            6 => Self::Double,
            7 => Self::List,
            8 => Self::Class,
            9 => Self::Password,
            c => Self::Unknown(c),
        }
    }
}

/// Another place a config's value may come from, as listed with `include_synonyms`.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConfigSynonym {
    /// The synonym's name (e.g. `log.retention.ms` for the topic config `retention.ms`).
    pub name: String,
    /// Its value there (`None` when sensitive).
    pub value: Option<String>,
    /// Where it is set.
    pub source: ConfigSource,
}

/// One config of a resource.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConfigEntry {
    /// Config name.
    pub name: String,
    /// Value (`None` when sensitive or unset).
    pub value: Option<String>,
    /// Where the value comes from.
    pub source: ConfigSource,
    /// Whether the value is sensitive (then it is not returned).
    pub is_sensitive: bool,
    /// Whether it cannot be changed dynamically.
    pub is_read_only: bool,
    /// Synonyms in precedence order, the entry's own source first (empty unless asked
    /// for with `include_synonyms`).
    pub synonyms: Vec<ConfigSynonym>,
    /// The value's type (`None` before DescribeConfigs v3).
    pub config_type: Option<ConfigType>,
    /// Documentation (only with `include_documentation`).
    pub documentation: Option<String>,
}

impl ConfigEntry {
    /// Whether the value is Kafka's built-in default.
    pub fn is_default(&self) -> bool {
        self.source == ConfigSource::DefaultConfig
    }

    pub(crate) fn from_wire(c: DescribeConfigsResourceResult, version: i16) -> Self {
        Self {
            name: c.name.to_string(),
            value: c.value.map(|v| v.to_string()),
            source: ConfigSource::from_code(c.config_source),
            is_sensitive: c.is_sensitive,
            is_read_only: c.read_only,
            synonyms: c
                .synonyms
                .into_iter()
                .map(|s| ConfigSynonym {
                    name: s.name.to_string(),
                    value: s.value.map(|v| v.to_string()),
                    source: ConfigSource::from_code(s.source),
                })
                .collect(),
            config_type: (version >= 3).then(|| ConfigType::from_code(c.config_type)),
            documentation: c.documentation.map(|d| d.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resource_type_codes_round_trip() {
        for t in [
            ConfigResourceType::Topic,
            ConfigResourceType::Broker,
            ConfigResourceType::BrokerLogger,
            ConfigResourceType::ClientMetrics,
            ConfigResourceType::Group,
            ConfigResourceType::Unknown(99),
        ] {
            assert_eq!(ConfigResourceType::from_code(t.code()), t);
        }
        assert_eq!(ConfigSource::from_code(5), ConfigSource::DefaultConfig);
        assert_eq!(ConfigType::from_code(9), ConfigType::Password);
    }
}
