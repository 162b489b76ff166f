//! ACL value types: resource and pattern types, operations, permissions, bindings and
//! binding filters (Kafka's `AclBinding` and `AclBindingFilter`).

use std::fmt;

macro_rules! code_enum {
    (
        $(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident = $code:literal => $label:literal,)* }
    ) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[non_exhaustive]
        pub enum $name {
            $($(#[$vdoc])* $variant,)*
            /// A code this client does not know.
            Unknown(i8),
        }

        impl $name {
            /// The protocol code.
            pub fn code(self) -> i8 {
                match self {
                    $(Self::$variant => $code,)*
                    Self::Unknown(c) => c,
                }
            }

            /// The value for a protocol code.
            pub fn from_code(code: i8) -> Self {
                match code {
                    $($code => Self::$variant,)*
                    c => Self::Unknown(c),
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                match self {
                    $(Self::$variant => f.write_str($label),)*
                    Self::Unknown(c) => write!(f, "UNKNOWN({c})"),
                }
            }
        }
    };
}

code_enum! {
    /// The type of resource an ACL protects.
    ResourceType {
        /// Any type (filters only).
        Any = 1 => "ANY",
        /// A topic.
        Topic = 2 => "TOPIC",
        /// A consumer group.
        Group = 3 => "GROUP",
        /// The cluster.
        Cluster = 4 => "CLUSTER",
        /// A transactional id.
        TransactionalId = 5 => "TRANSACTIONAL_ID",
        /// A delegation token.
        DelegationToken = 6 => "DELEGATION_TOKEN",
        /// A user (principal).
        User = 7 => "USER",
    }
}

code_enum! {
    /// How an ACL's resource name matches resources.
    PatternType {
        /// Any pattern type (filters only).
        Any = 1 => "ANY",
        /// Every binding that would match a resource of this exact name: literal, prefixed
        /// and wildcard (filters only).
        Match = 2 => "MATCH",
        /// The name is a literal resource name (or `*` for every resource).
        Literal = 3 => "LITERAL",
        /// The name is a prefix of resource names.
        Prefixed = 4 => "PREFIXED",
    }
}

code_enum! {
    /// An operation an ACL allows or denies.
    AclOperation {
        /// Any operation (filters only).
        Any = 1 => "ANY",
        /// Every operation.
        All = 2 => "ALL",
        /// Read.
        Read = 3 => "READ",
        /// Write.
        Write = 4 => "WRITE",
        /// Create.
        Create = 5 => "CREATE",
        /// Delete.
        Delete = 6 => "DELETE",
        /// Alter.
        Alter = 7 => "ALTER",
        /// Describe.
        Describe = 8 => "DESCRIBE",
        /// Cluster actions (inter-broker).
        ClusterAction = 9 => "CLUSTER_ACTION",
        /// Describe configs.
        DescribeConfigs = 10 => "DESCRIBE_CONFIGS",
        /// Alter configs.
        AlterConfigs = 11 => "ALTER_CONFIGS",
        /// Idempotent writes.
        IdempotentWrite = 12 => "IDEMPOTENT_WRITE",
        /// Create delegation tokens.
        CreateTokens = 13 => "CREATE_TOKENS",
        /// Describe delegation tokens.
        DescribeTokens = 14 => "DESCRIBE_TOKENS",
        /// Two-phase commit (KIP-939).
        TwoPhaseCommit = 15 => "TWO_PHASE_COMMIT",
    }
}

code_enum! {
    /// Whether an ACL allows or denies.
    AclPermissionType {
        /// Any permission (filters only).
        Any = 1 => "ANY",
        /// Deny.
        Deny = 2 => "DENY",
        /// Allow.
        Allow = 3 => "ALLOW",
    }
}

/// One ACL: who (principal, host) may or may not do what (operation) on which resources.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub struct AclBinding {
    /// Resource type.
    pub resource_type: ResourceType,
    /// Resource name (or prefix, or `*`).
    pub resource_name: String,
    /// How the name matches.
    pub pattern_type: PatternType,
    /// Principal, e.g. `User:alice`.
    pub principal: String,
    /// Host, or `*` for any.
    pub host: String,
    /// Operation.
    pub operation: AclOperation,
    /// Allow or deny.
    pub permission: AclPermissionType,
}

impl AclBinding {
    /// An ACL allowing `principal` to do `operation` on the resource named `name` (a
    /// literal name, from any host; see [`AclBinding::pattern_type`] and
    /// [`AclBinding::host`]).
    pub fn allow(
        resource_type: ResourceType,
        name: impl Into<String>,
        principal: impl Into<String>,
        operation: AclOperation,
    ) -> Self {
        Self {
            resource_type,
            resource_name: name.into(),
            pattern_type: PatternType::Literal,
            principal: principal.into(),
            host: "*".into(),
            operation,
            permission: AclPermissionType::Allow,
        }
    }

    /// Like [`AclBinding::allow`], denying.
    pub fn deny(
        resource_type: ResourceType,
        name: impl Into<String>,
        principal: impl Into<String>,
        operation: AclOperation,
    ) -> Self {
        Self {
            permission: AclPermissionType::Deny,
            ..Self::allow(resource_type, name, principal, operation)
        }
    }

    /// This ACL with another pattern type (`Prefixed` for a name prefix).
    pub fn pattern_type(mut self, p: PatternType) -> Self {
        self.pattern_type = p;
        self
    }

    /// This ACL for one host only.
    pub fn host(mut self, host: impl Into<String>) -> Self {
        self.host = host.into();
        self
    }

    /// A filter matching exactly this ACL.
    pub fn to_filter(&self) -> AclBindingFilter {
        AclBindingFilter {
            resource_type: self.resource_type,
            resource_name: Some(self.resource_name.clone()),
            pattern_type: self.pattern_type,
            principal: Some(self.principal.clone()),
            host: Some(self.host.clone()),
            operation: self.operation,
            permission: self.permission,
        }
    }
}

impl fmt::Display for AclBinding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} {} on {}:{}:{} from {}",
            self.permission,
            self.principal,
            self.operation,
            self.resource_type,
            self.pattern_type,
            self.resource_name,
            self.host
        )
    }
}

/// Which ACLs to describe or delete. Starts matching every ACL; each setter narrows it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub struct AclBindingFilter {
    /// Resource type (`Any` matches all).
    pub resource_type: ResourceType,
    /// Resource name (`None` matches all).
    pub resource_name: Option<String>,
    /// Pattern type (`Any` matches all; `Match` matches what applies to a name).
    pub pattern_type: PatternType,
    /// Principal (`None` matches all).
    pub principal: Option<String>,
    /// Host (`None` matches all).
    pub host: Option<String>,
    /// Operation (`Any` matches all).
    pub operation: AclOperation,
    /// Permission (`Any` matches all).
    pub permission: AclPermissionType,
}

impl Default for AclBindingFilter {
    fn default() -> Self {
        Self::any()
    }
}

impl AclBindingFilter {
    /// A filter matching every ACL.
    pub fn any() -> Self {
        Self {
            resource_type: ResourceType::Any,
            resource_name: None,
            pattern_type: PatternType::Any,
            principal: None,
            host: None,
            operation: AclOperation::Any,
            permission: AclPermissionType::Any,
        }
    }

    /// Only ACLs on resources of this type.
    pub fn resource_type(mut self, t: ResourceType) -> Self {
        self.resource_type = t;
        self
    }

    /// Only ACLs whose resource name is exactly this.
    pub fn resource_name(mut self, name: impl Into<String>) -> Self {
        self.resource_name = Some(name.into());
        self
    }

    /// Only ACLs with this pattern type.
    pub fn pattern_type(mut self, p: PatternType) -> Self {
        self.pattern_type = p;
        self
    }

    /// Only ACLs for this principal.
    pub fn principal(mut self, principal: impl Into<String>) -> Self {
        self.principal = Some(principal.into());
        self
    }

    /// Only ACLs for this host.
    pub fn host(mut self, host: impl Into<String>) -> Self {
        self.host = Some(host.into());
        self
    }

    /// Only ACLs for this operation.
    pub fn operation(mut self, op: AclOperation) -> Self {
        self.operation = op;
        self
    }

    /// Only ACLs with this permission.
    pub fn permission(mut self, p: AclPermissionType) -> Self {
        self.permission = p;
        self
    }
}

impl fmt::Display for AclBindingFilter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let or_any = |o: &Option<String>| o.clone().unwrap_or_else(|| "ANY".into());
        write!(
            f,
            "{} {} {} on {}:{}:{} from {}",
            self.permission,
            or_any(&self.principal),
            self.operation,
            self.resource_type,
            self.pattern_type,
            or_any(&self.resource_name),
            or_any(&self.host)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_match_kafka() {
        assert_eq!(ResourceType::Topic.code(), 2);
        assert_eq!(ResourceType::from_code(5), ResourceType::TransactionalId);
        assert_eq!(PatternType::Prefixed.code(), 4);
        assert_eq!(AclOperation::IdempotentWrite.code(), 12);
        assert_eq!(AclOperation::from_code(99), AclOperation::Unknown(99));
        assert_eq!(AclPermissionType::Allow.code(), 3);
    }

    #[test]
    fn bindings_read_like_kafka_acls() {
        let b = AclBinding::deny(ResourceType::Group, "g", "User:bob", AclOperation::Read)
            .host("10.0.0.1");
        assert_eq!(
            b.to_string(),
            "DENY User:bob READ on GROUP:LITERAL:g from 10.0.0.1"
        );
        let f = b.to_filter();
        assert_eq!(f.resource_name.as_deref(), Some("g"));
        assert_eq!(f.permission, AclPermissionType::Deny);
        assert_eq!(
            AclBindingFilter::any().principal("User:x").to_string(),
            "ANY User:x ANY on ANY:ANY:ANY from ANY"
        );
    }
}
