//! The client's error type, and the table of broker error codes.
//!
//! Every failure reaches the caller as an [`Error`]: a `#[non_exhaustive]` enum whose variants
//! name the cause (not the operation), with context (broker, API, topic, partition) and
//! predicates ([`Error::is_retriable`], [`Error::code`]).

use std::fmt;
use std::time::Duration;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::ApiKey;

pub use crate::kerberos::KerberosFailure;

/// A `Result` whose error is the client's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A Kafka broker error code (`0` is success and never appears here), with its
/// protocol name, description and retriable flag from Kafka's own error table.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct ErrorCode(i16);

impl ErrorCode {
    /// Wraps a raw code. Returns `None` for `0` (no error).
    pub fn from_code(code: i16) -> Option<Self> {
        (code != 0).then_some(Self(code))
    }

    /// The raw protocol code.
    pub fn code(self) -> i16 {
        self.0
    }

    fn known(self) -> ResponseError {
        // `try_from_code` returns None only for 0, which `from_code` excludes.
        ResponseError::try_from_code(self.0).unwrap_or(ResponseError::Unknown(self.0))
    }

    /// Kafka's name for the code, e.g. `TOPIC_ALREADY_EXISTS`; `UNKNOWN_CODE_<n>` for a
    /// code this client does not know.
    pub fn name(self) -> String {
        match self.known() {
            ResponseError::Unknown(code) => format!("UNKNOWN_CODE_{code}"),
            known => screaming_snake(&known.to_string()),
        }
    }

    /// Whether Kafka marks the error retriable (the same request may succeed later).
    /// Unknown codes are not retriable. CONCURRENT_TRANSACTIONS counts as retriable, as
    /// in the Java client (the previous transaction's markers are still being written).
    pub fn is_retriable(self) -> bool {
        self == ErrorCode::CONCURRENT_TRANSACTIONS || self.known().is_retriable()
    }

    /// Whether a group member sends its membership request (a heartbeat, a join) again
    /// after this answer: the retriable codes, and UNKNOWN_SERVER_ERROR, the
    /// coordinator's own internal failure, which Java's KIP-848 consumer makes fatal
    /// (`docs/DESIGN.md`, "Departures"). The session timeout still bounds the retries.
    pub(crate) fn is_retriable_for_membership(self) -> bool {
        self.is_retriable() || self == ErrorCode::UNKNOWN_SERVER_ERROR
    }

    /// Whether the code is one the client knows.
    pub fn is_known(self) -> bool {
        !matches!(self.known(), ResponseError::Unknown(_))
    }
}

impl fmt::Debug for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}({})", self.name(), self.0)
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.name(), self.0)
    }
}

/// Well-known codes, for matching with [`Error::code`].
#[allow(missing_docs)]
impl ErrorCode {
    pub const UNKNOWN_SERVER_ERROR: ErrorCode = ErrorCode(-1);
    pub const OFFSET_OUT_OF_RANGE: ErrorCode = ErrorCode(1);
    pub const CORRUPT_MESSAGE: ErrorCode = ErrorCode(2);
    pub const UNKNOWN_TOPIC_OR_PARTITION: ErrorCode = ErrorCode(3);
    pub const LEADER_NOT_AVAILABLE: ErrorCode = ErrorCode(5);
    pub const NOT_LEADER_OR_FOLLOWER: ErrorCode = ErrorCode(6);
    pub const REQUEST_TIMED_OUT: ErrorCode = ErrorCode(7);
    pub const MESSAGE_TOO_LARGE: ErrorCode = ErrorCode(10);
    pub const COORDINATOR_LOAD_IN_PROGRESS: ErrorCode = ErrorCode(14);
    pub const COORDINATOR_NOT_AVAILABLE: ErrorCode = ErrorCode(15);
    pub const NOT_COORDINATOR: ErrorCode = ErrorCode(16);
    pub const NOT_ENOUGH_REPLICAS: ErrorCode = ErrorCode(19);
    pub const NOT_ENOUGH_REPLICAS_AFTER_APPEND: ErrorCode = ErrorCode(20);
    pub const ILLEGAL_GENERATION: ErrorCode = ErrorCode(22);
    pub const UNKNOWN_MEMBER_ID: ErrorCode = ErrorCode(25);
    pub const REBALANCE_IN_PROGRESS: ErrorCode = ErrorCode(27);
    pub const TOPIC_AUTHORIZATION_FAILED: ErrorCode = ErrorCode(29);
    pub const GROUP_AUTHORIZATION_FAILED: ErrorCode = ErrorCode(30);
    pub const CLUSTER_AUTHORIZATION_FAILED: ErrorCode = ErrorCode(31);
    pub const UNSUPPORTED_VERSION: ErrorCode = ErrorCode(35);
    pub const TOPIC_ALREADY_EXISTS: ErrorCode = ErrorCode(36);
    pub const INVALID_PARTITIONS: ErrorCode = ErrorCode(37);
    pub const INVALID_REPLICATION_FACTOR: ErrorCode = ErrorCode(38);
    pub const NOT_CONTROLLER: ErrorCode = ErrorCode(41);
    pub const INVALID_REQUEST: ErrorCode = ErrorCode(42);
    pub const POLICY_VIOLATION: ErrorCode = ErrorCode(44);
    pub const OUT_OF_ORDER_SEQUENCE_NUMBER: ErrorCode = ErrorCode(45);
    pub const DUPLICATE_SEQUENCE_NUMBER: ErrorCode = ErrorCode(46);
    pub const INVALID_PRODUCER_EPOCH: ErrorCode = ErrorCode(47);
    pub const TRANSACTIONAL_ID_AUTHORIZATION_FAILED: ErrorCode = ErrorCode(53);
    pub const CONCURRENT_TRANSACTIONS: ErrorCode = ErrorCode(51);
    pub const KAFKA_STORAGE_ERROR: ErrorCode = ErrorCode(56);
    pub const SASL_AUTHENTICATION_FAILED: ErrorCode = ErrorCode(58);
    pub const UNSUPPORTED_SASL_MECHANISM: ErrorCode = ErrorCode(33);
    pub const ILLEGAL_SASL_STATE: ErrorCode = ErrorCode(34);
    pub const DELEGATION_TOKEN_AUTHORIZATION_FAILED: ErrorCode = ErrorCode(65);
    pub const UNKNOWN_PRODUCER_ID: ErrorCode = ErrorCode(59);
    pub const GROUP_ID_NOT_FOUND: ErrorCode = ErrorCode(69);
    pub const FENCED_LEADER_EPOCH: ErrorCode = ErrorCode(74);
    pub const UNKNOWN_LEADER_EPOCH: ErrorCode = ErrorCode(75);
    pub const MEMBER_ID_REQUIRED: ErrorCode = ErrorCode(79);
    pub const FENCED_INSTANCE_ID: ErrorCode = ErrorCode(82);
    pub const GROUP_NOT_EMPTY: ErrorCode = ErrorCode(68);
    pub const PRODUCER_FENCED: ErrorCode = ErrorCode(90);
    pub const UNKNOWN_TOPIC_ID: ErrorCode = ErrorCode(100);
    pub const FETCH_SESSION_ID_NOT_FOUND: ErrorCode = ErrorCode(70);
    pub const INVALID_FETCH_SESSION_EPOCH: ErrorCode = ErrorCode(71);
    pub const INCONSISTENT_TOPIC_ID: ErrorCode = ErrorCode(103);
    pub const FETCH_SESSION_TOPIC_ID_ERROR: ErrorCode = ErrorCode(106);
    pub const REBOOTSTRAP_REQUIRED: ErrorCode = ErrorCode(129);
    pub const TRANSACTION_ABORTABLE: ErrorCode = ErrorCode(120);
    pub const INVALID_RECORD_STATE: ErrorCode = ErrorCode(121);
    pub const INVALID_TXN_STATE: ErrorCode = ErrorCode(48);
    pub const INVALID_PRODUCER_ID_MAPPING: ErrorCode = ErrorCode(49);
    pub const INVALID_TRANSACTION_TIMEOUT: ErrorCode = ErrorCode(50);
    pub const UNSUPPORTED_FOR_MESSAGE_FORMAT: ErrorCode = ErrorCode(43);
    pub const GROUP_MAX_SIZE_REACHED: ErrorCode = ErrorCode(81);
    pub const FENCED_MEMBER_EPOCH: ErrorCode = ErrorCode(110);
    pub const UNRELEASED_INSTANCE_ID: ErrorCode = ErrorCode(111);
    pub const UNSUPPORTED_ASSIGNOR: ErrorCode = ErrorCode(112);
    pub const STALE_MEMBER_EPOCH: ErrorCode = ErrorCode(113);
    pub const INVALID_REGULAR_EXPRESSION: ErrorCode = ErrorCode(128);
    pub const UNSUPPORTED_COMPRESSION_TYPE: ErrorCode = ErrorCode(76);
    pub const INVALID_RECORD: ErrorCode = ErrorCode(87);
    pub const THROTTLING_QUOTA_EXCEEDED: ErrorCode = ErrorCode(89);
    pub const UNKNOWN_SUBSCRIPTION_ID: ErrorCode = ErrorCode(117);
    pub const TELEMETRY_TOO_LARGE: ErrorCode = ErrorCode(118);
}

/// Turns `TopicAlreadyExists` into `TOPIC_ALREADY_EXISTS`.
fn screaming_snake(camel: &str) -> String {
    let mut out = String::with_capacity(camel.len() + 8);
    for (i, ch) in camel.chars().enumerate() {
        if ch.is_ascii_uppercase() && i > 0 {
            out.push('_');
        }
        out.push(ch.to_ascii_uppercase());
    }
    out
}

/// Where an error happened: which broker, which API, which topic and partition.
/// Every field is optional; `Display` prints the ones that are set.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ErrorContext {
    /// The broker's node id, when the request had one.
    pub broker: Option<i32>,
    /// The broker's address, when known.
    pub address: Option<String>,
    /// The API of the request.
    pub api: Option<ApiKey>,
    /// The topic (or other resource name: group, transactional id) concerned.
    pub resource: Option<String>,
    /// The partition concerned.
    pub partition: Option<i32>,
}

impl ErrorContext {
    /// A context naming a broker by id and address.
    pub fn broker(id: Option<i32>, address: impl Into<String>) -> Self {
        Self {
            broker: id,
            address: Some(address.into()),
            ..Self::default()
        }
    }

    /// This context with an API set.
    pub fn with_api(mut self, api: ApiKey) -> Self {
        self.api = Some(api);
        self
    }

    /// This context with a resource (topic, group, ...) set.
    pub fn with_resource(mut self, resource: impl Into<String>) -> Self {
        self.resource = Some(resource.into());
        self
    }

    /// This context with a partition set.
    pub fn with_partition(mut self, partition: i32) -> Self {
        self.partition = Some(partition);
        self
    }
}

impl fmt::Display for ErrorContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut sep = "";
        let mut part = |f: &mut fmt::Formatter<'_>, args: fmt::Arguments<'_>| {
            let r = write!(f, "{sep}{args}");
            sep = ", ";
            r
        };
        if let Some(api) = self.api {
            part(f, format_args!("{api:?}"))?;
        }
        match (self.broker, &self.address) {
            (Some(id), Some(addr)) => part(f, format_args!("broker {id} ({addr})"))?,
            (Some(id), None) => part(f, format_args!("broker {id}"))?,
            (None, Some(addr)) => part(f, format_args!("broker {addr}"))?,
            (None, None) => {}
        }
        match (&self.resource, self.partition) {
            (Some(r), Some(p)) => part(f, format_args!("{r}-{p}"))?,
            (Some(r), None) => part(f, format_args!("{r}"))?,
            (None, Some(p)) => part(f, format_args!("partition {p}"))?,
            (None, None) => {}
        }
        Ok(())
    }
}

/// The client's error.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The configuration was rejected at `build()`; the message names the setting.
    #[error("invalid configuration: {0}")]
    Config(String),

    /// No bootstrap address answered; every address is named with its own failure.
    #[error("could not reach any bootstrap server within {timeout:?}: {attempts}")]
    Bootstrap {
        /// `address: reason` for each bootstrap server tried.
        attempts: String,
        /// How long the client tried.
        timeout: Duration,
    },

    /// No broker has answered a Metadata request for `unreachable_for` (every attempt,
    /// known brokers and bootstrap addresses, failed). The client keeps trying: a
    /// consumer's `poll` says so once per `request.timeout` while it lasts, then goes on.
    #[error("no broker reachable for {unreachable_for:?}; last error: {last_error}")]
    BrokersUnreachable {
        /// How long every attempt has failed.
        unreachable_for: Duration,
        /// The last real failure (the protocol error, refused connection, ...).
        #[source]
        last_error: Box<Error>,
    },

    /// A connection could not be set up (TCP, TLS, SASL or the version handshake).
    #[error("cannot connect to {context}: {reason}")]
    Connect {
        /// The broker.
        context: ErrorContext,
        /// What failed.
        reason: String,
    },

    /// The connection died while the request was in flight or queued. Whether the broker
    /// processed the request is unknown.
    #[error("connection lost ({context}): {reason}")]
    ConnectionLost {
        /// The broker and API.
        context: ErrorContext,
        /// Why the connection ended.
        reason: String,
    },

    /// No response arrived within the request timeout. The connection is closed, since
    /// Kafka answers in order and later responses would queue behind the missing one.
    #[error("request timed out after {timeout:?} ({context})")]
    Timeout {
        /// The broker and API.
        context: ErrorContext,
        /// The timeout that expired.
        timeout: Duration,
    },

    /// The peer broke the Kafka protocol: an oversized, negative or garbled frame, a
    /// response that does not decode, a wrong correlation id, or a peer that is not Kafka.
    #[error("protocol error ({context}): {message}")]
    Protocol {
        /// The broker and API.
        context: ErrorContext,
        /// What was wrong.
        message: String,
    },

    /// A request could not be encoded at the version negotiated with the broker (a field
    /// that version does not have, a value out of the wire type's range). Not the
    /// broker's fault, and not retriable: the request as built cannot be sent.
    #[error("request encoding failed ({context}): {message}")]
    RequestEncoding {
        /// The broker and API.
        context: ErrorContext,
        /// What could not be encoded.
        message: String,
    },

    /// The broker supports no version of an API in common with this client.
    #[error(
        "{api:?} is not supported by broker {context}: client speaks versions {client_min}..={client_max}, broker {broker_versions}"
    )]
    UnsupportedVersion {
        /// The API.
        api: ApiKey,
        /// The broker.
        context: ErrorContext,
        /// Lowest version the client speaks.
        client_min: i16,
        /// Highest version the client speaks.
        client_max: i16,
        /// What the broker advertised (`a..=b`, or `none`).
        broker_versions: String,
    },

    /// The broker answered with an error code.
    #[error("{code}{}{}", fmt_ctx(.context), fmt_msg(.message))]
    Broker {
        /// The code, with name and retriable flag.
        code: ErrorCode,
        /// Where it happened.
        context: ErrorContext,
        /// The broker's error message, when it sent one.
        message: Option<String>,
    },

    /// The topic or partition is not known to the cluster (after a metadata refresh).
    #[error("unknown topic or partition: {0}")]
    UnknownTopicOrPartition(String),

    /// A record or request is larger than a configured limit.
    #[error("{what} is {size} bytes, over the limit of {limit} bytes")]
    TooLarge {
        /// What was too large.
        what: String,
        /// Its size.
        size: usize,
        /// The limit.
        limit: usize,
    },

    /// The client (or producer, or consumer) is closed.
    #[error("client is closed")]
    Closed,

    /// A record batch could not be encoded or decoded (CRC mismatch, bad lengths,
    /// decompression failure or bomb, ...).
    #[error("record batch: {0}")]
    Records(std::sync::Arc<crate::records::RecordsError>),

    /// An operation gave up at its deadline.
    #[error("{operation} did not complete within {timeout:?}{}", fmt_last(.last_error))]
    Deadline {
        /// What was attempted.
        operation: String,
        /// The deadline.
        timeout: Duration,
        /// The last real error an attempt met, if any (also [`std::error::Error::source`]).
        #[source]
        last_error: Option<Box<Error>>,
    },

    /// The producer's buffer (`buffer.memory`) has no room for the record: `try_send`
    /// does not wait, and `send` waited `max.block` in vain.
    #[error("producer buffer is full: {requested} bytes needed of {capacity} (waited {waited:?})")]
    BufferFull {
        /// Bytes the record needs.
        requested: usize,
        /// The buffer's size (`buffer.memory`).
        capacity: usize,
        /// How long the call waited for room (zero for `try_send`).
        waited: Duration,
    },

    /// `try_send` found no metadata for the topic yet (it never waits for it); a fetch
    /// has been started, so a later call may succeed. `send` waits instead.
    #[error("metadata for topic {topic:?} is not loaded yet")]
    MetadataPending {
        /// The topic.
        topic: String,
    },

    /// A record was not acknowledged within the producer's `delivery.timeout`.
    #[error("delivery to {topic}-{partition} timed out after {timeout:?}{}", fmt_last(.last_error))]
    DeliveryTimeout {
        /// The topic.
        topic: String,
        /// The partition.
        partition: i32,
        /// The delivery timeout.
        timeout: Duration,
        /// The last error a send attempt met, if any (also the error's `source`).
        #[source]
        last_error: Option<Box<Error>>,
    },

    /// An idempotent producer's batch failed after a request carrying it was written
    /// and its answer never came (lost connection, timeout): the records may or may not
    /// be in the log. Never a plain failure: check before re-sending them.
    #[error(
        "delivery to {topic}-{partition} failed and its records were possibly persisted: {cause}"
    )]
    PossiblyPersisted {
        /// The topic.
        topic: String,
        /// The partition.
        partition: i32,
        /// The error that ended the delivery (also the error's `source`).
        #[source]
        cause: Box<Error>,
    },

    /// A transactional producer's operation failed. `kind` says what the application
    /// does next: [`TransactionErrorKind::Abortable`] — the transaction was (or must be)
    /// aborted and a new one may begin; [`TransactionErrorKind::Fatal`] — the producer is
    /// fenced or not authorized and must be dropped; [`TransactionErrorKind::OutcomeUnknown`]
    /// — a commit's outcome could not be learned: the producer re-initializes (fencing
    /// the old epoch) before the next transaction, never reusing the epoch blindly.
    #[error("transaction {transactional_id}: {kind}: {message}{}", fmt_cause(.cause))]
    Transaction {
        /// The producer's `transactional.id`.
        transactional_id: String,
        /// What the application should do next.
        kind: TransactionErrorKind,
        /// What happened.
        message: String,
        /// The underlying error, if any (also the error's `source`).
        #[source]
        cause: Option<Box<Error>>,
    },

    /// A consumer's position for a partition is outside the log and
    /// `auto.offset.reset` is `none`: seek to continue.
    #[error("offset {offset} is out of range for {topic}-{partition} (auto.offset.reset is none)")]
    OffsetOutOfRange {
        /// The topic.
        topic: String,
        /// The partition.
        partition: i32,
        /// The position that was out of range.
        offset: i64,
    },

    /// A partition has no committed offset and `auto.offset.reset` is `none`.
    #[error("no committed offset for {topic}-{partition} and auto.offset.reset is none")]
    NoOffsetForPartition {
        /// The topic.
        topic: String,
        /// The partition.
        partition: i32,
    },

    /// An offset commit was refused because the group rebalanced (or is rebalancing) or a
    /// partition is no longer assigned to this member. No offset of the commit was stored.
    #[error("offset commit failed: {reason}")]
    CommitFailed {
        /// Why, naming the partitions or the generation concerned.
        reason: String,
    },

    /// An error that concerns one partition only (a consumer's fetch or decode failure);
    /// the consumer's other partitions go on.
    #[error("{topic}-{partition}: {error}")]
    Partition {
        /// The topic.
        topic: String,
        /// The partition.
        partition: i32,
        /// What went wrong.
        error: std::sync::Arc<Error>,
    },

    /// The call does not fit the handle's state (a partition that is not assigned, a group
    /// operation without `group.id`, ...). The message says what.
    #[error("invalid state: {0}")]
    InvalidState(String),

    /// SASL authentication failed: the broker rejected the credentials or the mechanism
    /// (`code` is then `SASL_AUTHENTICATION_FAILED`, `UNSUPPORTED_SASL_MECHANISM` or
    /// `ILLEGAL_SASL_STATE`), or the broker could not prove that it knows the credentials
    /// (a bad SCRAM server signature or nonce). Not retriable: the same credentials fail
    /// the same way. The message never contains a password or token.
    #[error("{}authentication failed ({context}): {message}", fmt_code_prefix(.code))]
    Authentication {
        /// The broker (and the SASL API that failed).
        context: ErrorContext,
        /// The broker's error code, when the broker gave one.
        code: Option<ErrorCode>,
        /// What failed: mechanism, user name, and the broker's explanation.
        message: String,
    },

    /// SASL `GSSAPI` could not get or use a Kerberos ticket: the KDC's answer (unknown
    /// principal, failed pre-authentication, clock skew), an unreachable KDC, an
    /// unreadable keytab. Not retriable. Never contains a password or key.
    #[error("Kerberos authentication failed ({context}): {failure}")]
    Kerberos {
        /// The broker the ticket was for.
        context: ErrorContext,
        /// What failed (boxed: `Error` stays small).
        failure: Box<KerberosFailure>,
    },

    /// The TLS handshake failed or the peer ended the TLS session with an alert: an
    /// untrusted CA, a certificate that does not name the host, an expired certificate,
    /// a client certificate the broker requires or rejects. Not retriable.
    #[error("TLS {kind} ({context}): {message}")]
    Tls {
        /// The broker.
        context: ErrorContext,
        /// What kind of failure.
        kind: TlsErrorKind,
        /// Details from the TLS library.
        message: String,
    },
}

/// Why a TLS connection failed (see [`Error::Tls`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TlsErrorKind {
    /// The broker's certificate does not chain to a trusted CA.
    UntrustedCertificate,
    /// The broker's certificate does not name the host connected to (SAN check).
    HostnameMismatch,
    /// The broker's certificate has expired.
    CertificateExpired,
    /// The broker's certificate is not valid yet.
    CertificateNotYetValid,
    /// The broker's certificate is otherwise invalid (bad encoding, signature, purpose).
    InvalidCertificate,
    /// The broker's certificate is listed in a certificate revocation list the client
    /// was given (`ssl.crl.location`).
    CertificateRevoked,
    /// The broker aborted the handshake with an alert: typically it requires a client
    /// certificate and none was sent, or it does not trust the one sent.
    RejectedByPeer,
    /// Any other TLS failure.
    Other,
}

impl fmt::Display for TlsErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TlsErrorKind::UntrustedCertificate => "untrusted certificate",
            TlsErrorKind::HostnameMismatch => "hostname mismatch",
            TlsErrorKind::CertificateExpired => "certificate expired",
            TlsErrorKind::CertificateNotYetValid => "certificate not yet valid",
            TlsErrorKind::InvalidCertificate => "invalid certificate",
            TlsErrorKind::CertificateRevoked => "certificate revoked",
            TlsErrorKind::RejectedByPeer => "handshake rejected by the broker",
            TlsErrorKind::Other => "failure",
        })
    }
}

fn fmt_code_prefix(code: &Option<ErrorCode>) -> String {
    code.map_or(String::new(), |c| format!("{c}: "))
}

impl From<crate::records::RecordsError> for Error {
    fn from(e: crate::records::RecordsError) -> Self {
        Error::Records(std::sync::Arc::new(e))
    }
}

fn fmt_last(e: &Option<Box<Error>>) -> String {
    e.as_ref()
        .map_or(String::new(), |e| format!(" (last error: {e})"))
}

fn fmt_ctx(ctx: &ErrorContext) -> String {
    let s = ctx.to_string();
    if s.is_empty() { s } else { format!(" ({s})") }
}

fn fmt_msg(msg: &Option<String>) -> String {
    match msg {
        Some(m) if !m.is_empty() => format!(": {m}"),
        _ => String::new(),
    }
}

/// How a transactional producer recovers from an [`Error::Transaction`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TransactionErrorKind {
    /// Abort the transaction (if the call did not already) and begin a new one.
    Abortable,
    /// The producer cannot go on (fenced by a newer instance with the same
    /// `transactional.id`, or not authorized): drop it.
    Fatal,
    /// A commit's outcome is unknown; the next `begin` re-initializes the producer id
    /// first, which completes or aborts the pending transaction on the coordinator.
    OutcomeUnknown,
}

impl std::fmt::Display for TransactionErrorKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            TransactionErrorKind::Abortable => "abortable error",
            TransactionErrorKind::Fatal => "fatal error",
            TransactionErrorKind::OutcomeUnknown => "outcome unknown",
        })
    }
}

fn fmt_cause(cause: &Option<Box<Error>>) -> String {
    cause
        .as_ref()
        .map_or_else(String::new, |c| format!(" ({c})"))
}

impl Error {
    /// A broker error for `code` in `context`.
    pub fn broker(code: ErrorCode, context: ErrorContext, message: Option<String>) -> Self {
        Error::Broker {
            code,
            context,
            message,
        }
    }

    /// Turns a response's error code into `Err` (or `Ok` for 0).
    pub fn check(code: i16, context: impl FnOnce() -> ErrorContext) -> Result<()> {
        match ErrorCode::from_code(code) {
            None => Ok(()),
            Some(code) => Err(Error::broker(code, context(), None)),
        }
    }

    /// The broker error code, for a [`Error::Broker`] (or the one underneath an
    /// [`Error::Transaction`]).
    pub fn code(&self) -> Option<ErrorCode> {
        match self {
            Error::Broker { code, .. } => Some(*code),
            Error::Authentication { code, .. } => *code,
            Error::Transaction { cause, .. } => cause.as_ref().and_then(|c| c.code()),
            _ => None,
        }
    }

    /// Whether the client could not authenticate: SASL failures ([`Error::Authentication`])
    /// and TLS failures ([`Error::Tls`]). These are never retriable, and end a bootstrap
    /// at once.
    pub fn is_authentication_failure(&self) -> bool {
        matches!(
            self,
            Error::Authentication { .. } | Error::Kerberos { .. } | Error::Tls { .. }
        )
    }

    /// Whether the broker refused the operation to this principal: `TOPIC_`, `GROUP_`,
    /// `CLUSTER_`, `TRANSACTIONAL_ID_` or `DELEGATION_TOKEN_AUTHORIZATION_FAILED`. Never
    /// retriable.
    pub fn is_authorization_failure(&self) -> bool {
        matches!(
            self.code(),
            Some(
                ErrorCode::TOPIC_AUTHORIZATION_FAILED
                    | ErrorCode::GROUP_AUTHORIZATION_FAILED
                    | ErrorCode::CLUSTER_AUTHORIZATION_FAILED
                    | ErrorCode::TRANSACTIONAL_ID_AUTHORIZATION_FAILED
                    | ErrorCode::DELEGATION_TOKEN_AUTHORIZATION_FAILED
            )
        )
    }

    /// Whether retrying the same operation may succeed: retriable broker codes, lost
    /// connections, timeouts and unreachable brokers.
    pub fn is_retriable(&self) -> bool {
        match self {
            Error::Broker { code, .. } => code.is_retriable(),
            Error::ConnectionLost { .. }
            | Error::Timeout { .. }
            | Error::Connect { .. }
            | Error::Bootstrap { .. }
            | Error::BrokersUnreachable { .. } => true,
            _ => false,
        }
    }

    /// Whether the request may have been processed by the broker although no answer
    /// arrived (a lost connection or timeout after the request was written).
    pub fn is_indeterminate(&self) -> bool {
        matches!(
            self,
            Error::ConnectionLost { .. } | Error::Timeout { .. } | Error::PossiblyPersisted { .. }
        )
    }

    /// The transactional recovery this error calls for, for an [`Error::Transaction`].
    pub fn transaction_kind(&self) -> Option<TransactionErrorKind> {
        match self {
            Error::Transaction { kind, .. } => Some(*kind),
            _ => None,
        }
    }

    /// Whether this transactional producer was fenced by a newer instance with the same
    /// `transactional.id` (PRODUCER_FENCED or INVALID_PRODUCER_EPOCH): fatal.
    pub fn is_fenced(&self) -> bool {
        matches!(
            self.code(),
            Some(ErrorCode::PRODUCER_FENCED | ErrorCode::INVALID_PRODUCER_EPOCH)
        )
    }

    /// Whether the error means cached metadata is stale (a leader moved).
    pub fn is_stale_metadata(&self) -> bool {
        matches!(
            self.code(),
            Some(
                ErrorCode::NOT_LEADER_OR_FOLLOWER
                    | ErrorCode::LEADER_NOT_AVAILABLE
                    | ErrorCode::UNKNOWN_TOPIC_OR_PARTITION
                    | ErrorCode::FENCED_LEADER_EPOCH
                    | ErrorCode::UNKNOWN_LEADER_EPOCH
                    | ErrorCode::NOT_CONTROLLER
                    | ErrorCode::UNKNOWN_TOPIC_ID
                    | ErrorCode::INCONSISTENT_TOPIC_ID
            )
        )
    }

    /// The error's context, where it has one.
    pub fn context(&self) -> Option<&ErrorContext> {
        match self {
            Error::Connect { context, .. }
            | Error::ConnectionLost { context, .. }
            | Error::Timeout { context, .. }
            | Error::Protocol { context, .. }
            | Error::RequestEncoding { context, .. }
            | Error::UnsupportedVersion { context, .. }
            | Error::Broker { context, .. }
            | Error::Authentication { context, .. }
            | Error::Kerberos { context, .. }
            | Error::Tls { context, .. } => Some(context),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_kafka() {
        assert_eq!(
            ErrorCode::TOPIC_ALREADY_EXISTS.name(),
            "TOPIC_ALREADY_EXISTS"
        );
        assert_eq!(
            ErrorCode::NOT_LEADER_OR_FOLLOWER.name(),
            "NOT_LEADER_OR_FOLLOWER"
        );
        assert!(ErrorCode::NOT_LEADER_OR_FOLLOWER.is_retriable());
        assert!(!ErrorCode::TOPIC_ALREADY_EXISTS.is_retriable());
        assert_eq!(ErrorCode::from_code(0), None);
        let odd = ErrorCode::from_code(31_000).unwrap();
        assert_eq!(odd.name(), "UNKNOWN_CODE_31000");
        assert!(!odd.is_retriable() && !odd.is_known());
    }

    #[test]
    fn display_carries_context() {
        let e = Error::broker(
            ErrorCode::TOPIC_ALREADY_EXISTS,
            ErrorContext::broker(Some(1), "127.0.0.1:9092")
                .with_api(ApiKey::CreateTopics)
                .with_resource("orders"),
            Some("Topic 'orders' already exists.".into()),
        );
        let s = e.to_string();
        assert!(s.starts_with("TOPIC_ALREADY_EXISTS (36)"), "{s}");
        assert!(
            s.contains("CreateTopics") && s.contains("broker 1 (127.0.0.1:9092)"),
            "{s}"
        );
        assert!(s.contains("orders") && s.contains("already exists"), "{s}");
        assert_eq!(e.code(), Some(ErrorCode::TOPIC_ALREADY_EXISTS));
        assert!(!e.is_retriable());
    }
}
