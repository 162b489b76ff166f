//! Every configuration option in one table: builder method, Java/librdkafka property
//! name (and aliases), default and meaning. `docs/configuration.md` is generated from
//! [`OPTIONS`], and a test checks both that the document is current and that the table
//! matches the properties adapters (every property listed is taken by its adapter, and
//! every key an adapter takes is listed).

/// Which builder an option belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// [`crate::ClientBuilder`]: connections, shared by producer, consumer and admin.
    Client,
    /// [`crate::ProducerBuilder`].
    Producer,
    /// [`crate::ConsumerBuilder`].
    Consumer,
    /// `kafka_admin::Admin`.
    Admin,
}

impl Scope {
    fn title(self) -> &'static str {
        match self {
            Scope::Client => {
                "Client (`ClientBuilder`; also accepted by the producer and consumer builders and adapters)"
            }
            Scope::Producer => "Producer (`ProducerBuilder`, `ProducerBuilder::from_properties`)",
            Scope::Consumer => "Consumer (`ConsumerBuilder`, `ConsumerBuilder::from_properties`)",
            Scope::Admin => "Admin (`kafka_admin::Admin`)",
        }
    }
}

/// One option.
#[derive(Debug, Clone, Copy)]
pub struct OptionDoc {
    /// The builder it belongs to.
    pub scope: Scope,
    /// The builder method (`-` when there is none).
    pub method: &'static str,
    /// The Java/librdkafka property name (`-` when the option has none).
    pub property: &'static str,
    /// Other accepted property names (librdkafka's, older Java names).
    pub aliases: &'static [&'static str],
    /// The default, as the property would spell it.
    pub default: &'static str,
    /// What it does.
    pub meaning: &'static str,
    /// A value the properties adapter accepts (used by the consistency test).
    pub sample: &'static str,
}

macro_rules! options {
    ($( $scope:ident $method:literal $prop:literal [$($alias:literal),*] $default:literal $sample:literal $meaning:literal; )*) => {
        /// Every option, grouped by scope.
        pub const OPTIONS: &[OptionDoc] = &[
            $( OptionDoc {
                scope: Scope::$scope,
                method: $method,
                property: $prop,
                aliases: &[$($alias),*],
                default: $default,
                meaning: $meaning,
                sample: $sample,
            }, )*
        ];
    };
}

options! {
    Client "bootstrap_servers" "bootstrap.servers" [] "(required)" "127.0.0.1:9092"
        "Comma-separated `host:port` list used for the first metadata request; IPv6 in brackets.";
    Client "client_id" "client.id" [] "kafka-rs (producer: kafka-rs-producer)" "app-1"
        "Client id sent in every request header (broker logs and quotas).";
    Client "request_timeout" "request.timeout.ms" [] "30000" "15000"
        "How long one request may wait for its response; a timeout closes the connection.";
    Client "connect_timeout" "socket.connection.setup.timeout.ms" [] "10000" "5000"
        "How long TCP connect, TLS, ApiVersions and SASL together may take.";
    Client "api_timeout" "default.api.timeout.ms" [] "60000" "30000"
        "How long an operation with retries (bootstrap, metadata, admin calls, commits) may take.";
    Client "metadata_max_age" "metadata.max.age.ms" [] "300000" "60000"
        "Cached metadata older than this is refreshed before use.";
    Client "reconnect_backoff" "reconnect.backoff.ms" [] "50" "100"
        "First wait before reconnecting to a broker after a failure; doubles per failure, with jitter.";
    Client "reconnect_backoff" "reconnect.backoff.max.ms" [] "1000" "2000"
        "Cap of the reconnect backoff.";
    Client "retry_backoff" "retry.backoff.ms" [] "100" "200"
        "First wait before retrying after a retriable error; doubles per attempt, with jitter.";
    Client "retry_backoff" "retry.backoff.max.ms" [] "1000" "2000"
        "Cap of the retry backoff.";
    Client "max_response_size" "receive.message.max.bytes" [] "104857600" "1048576"
        "Largest response frame accepted; a larger one is a protocol error (closes the connection).";
    Client "security_protocol" "security.protocol" [] "inferred (PLAINTEXT)" "PLAINTEXT"
        "PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL; when unset it follows from the TLS and SASL settings.";
    Client "sasl" "sasl.mechanism" ["sasl.mechanisms"] "(none)" "PLAIN"
        "PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 or OAUTHBEARER (token provider set in code).";
    Client "sasl" "sasl.username" [] "(none)" "alice"
        "SASL user name (PLAIN, SCRAM).";
    Client "sasl" "sasl.password" [] "(none)" "secret"
        "SASL password (PLAIN, SCRAM); kept in a `Secret`, never printed.";
    Client "sasl" "sasl.jaas.config" [] "(none)" "org.apache.kafka.common.security.plain.PlainLoginModule required username=\"u\" password=\"p\";"
        "Java JAAS line: only PlainLoginModule and ScramLoginModule with username and password are read.";
    Client "tls" "ssl.ca.location" ["ssl.truststore.location"] "built-in Mozilla roots" "/etc/kafka/ca.pem"
        "PEM file of the CA certificates to trust.";
    Client "tls" "ssl.ca.pem" ["ssl.truststore.certificates"] "(none)" "-----BEGIN CERTIFICATE-----"
        "CA certificates as inline PEM.";
    Client "tls" "ssl.certificate.location" [] "(none)" "/etc/kafka/client.pem"
        "PEM file of the client certificate chain (mutual TLS).";
    Client "tls" "ssl.certificate.pem" ["ssl.keystore.certificate.chain"] "(none)" "-----BEGIN CERTIFICATE-----"
        "Client certificate chain as inline PEM.";
    Client "tls" "ssl.key.location" [] "(none)" "/etc/kafka/client.key"
        "PEM file of the client's private key (PKCS#8, PKCS#1 or SEC1; unencrypted).";
    Client "tls" "ssl.key.pem" ["ssl.keystore.key"] "(none)" "-----BEGIN PRIVATE KEY-----"
        "Client private key as inline PEM.";
    Client "tls" "ssl.keystore.location" [] "(none)" "/etc/kafka/client-all.pem"
        "One PEM file holding the client key and certificate chain.";
    Client "tls" "ssl.endpoint.identification.algorithm" [] "https" "https"
        "`https` checks the broker's host name against its certificate; empty or `none` disables only that check.";
    Client "tls" "ssl.truststore.type" ["ssl.keystore.type"] "PEM" "PEM"
        "Only PEM is supported (JKS and PKCS12 stores are rejected: convert them to PEM).";
    Client "-" "ssl.key.password" ["ssl.keystore.password", "ssl.truststore.password"] "(unsupported)" "x"
        "Rejected: encrypted keys and password-protected stores cannot be read; give an unencrypted PEM key.";
    Client "hooks" "-" [] "(none)" ""
        "Instrumentation callbacks (`observe::Hooks`): connections, requests, batches, throttling.";
    Producer "acks" "acks" ["request.required.acks"] "all" "1"
        "Acknowledgements the leader waits for: 0 (none), 1 (leader), all/-1 (in-sync replicas).";
    Producer "linger" "linger.ms" ["queue.buffering.max.ms"] "5" "10"
        "How long a batch waits for more records before it is sent.";
    Producer "batch_size" "batch.size" [] "16384" "65536"
        "Target size in bytes of one partition's batch.";
    Producer "buffer_memory" "buffer.memory" [] "33554432" "67108864"
        "Bytes of records waiting to be acknowledged; `send` waits (and `try_send` fails) when full.";
    Producer "compression" "compression.type" ["compression.codec"] "none" "lz4"
        "none, gzip, snappy, lz4 or zstd.";
    Producer "retries" "retries" ["message.send.max.retries"] "4294967295" "10"
        "Retries of a batch after retriable errors, within `delivery.timeout.ms`.";
    Producer "delivery_timeout" "delivery.timeout.ms" ["message.timeout.ms"] "120000" "30000"
        "Upper bound on the time from `send` to the record's outcome, retries included.";
    Producer "max_in_flight" "max.in.flight.requests.per.connection" ["max.in.flight"] "5" "1"
        "Produce requests in flight per broker connection.";
    Producer "max_request_size" "max.request.size" [] "1048576" "2097152"
        "Largest Produce request, and so the largest record.";
    Producer "max_block" "max.block.ms" [] "60000" "1000"
        "How long `send` may wait for metadata of an unknown topic.";
    Producer "partitioning" "partitioner" ["partitioner.class"] "default" "round_robin"
        "default/murmur2_random (Java's key hash, sticky without key), sticky, round_robin; `partitioner()` takes a custom one.";
    Producer "enable_idempotence" "enable.idempotence" [] "true" "false"
        "Sequence numbers so retries never duplicate or reorder; needs acks=all and at most 5 in flight (on by default when those hold, as in Java).";
    Producer "transactional_id" "transactional.id" [] "(none)" "copier-1"
        "Stable id of a transactional producer (build with `build_transactional`); a new instance with the same id fences older ones.";
    Producer "transaction_timeout" "transaction.timeout.ms" [] "60000" "30000"
        "How long the coordinator keeps a transaction open before aborting it.";
    Producer "client" "-" [] "(own client)" ""
        "Produce through an existing `Client`, sharing its connections, metadata and statistics.";
    Consumer "group_id" "group.id" [] "(none)" "my-group"
        "Consumer group; without it only `assign` is possible and offsets are not committed.";
    Consumer "group_instance_id" "group.instance.id" [] "(none)" "member-1"
        "Static membership id (KIP-345): a restart within the session timeout keeps the assignment.";
    Consumer "auto_offset_reset" "auto.offset.reset" [] "latest" "earliest"
        "Where to start without a committed offset: earliest, latest or none (error).";
    Consumer "enable_auto_commit" "enable.auto.commit" [] "true" "false"
        "Commit polled positions every `auto.commit.interval.ms` and on revocation and close.";
    Consumer "auto_commit_interval" "auto.commit.interval.ms" [] "5000" "1000"
        "Interval of automatic commits.";
    Consumer "isolation_level" "isolation.level" [] "read_uncommitted" "read_committed"
        "read_committed hides aborted transactional records and stops at the last stable offset.";
    Consumer "fetch_min_bytes" "fetch.min.bytes" [] "1" "1024"
        "Bytes a fetch waits for (up to `fetch.max.wait.ms`).";
    Consumer "fetch_max_wait" "fetch.max.wait.ms" [] "500" "100"
        "Longest time the broker holds a fetch waiting for `fetch.min.bytes`.";
    Consumer "fetch_max_bytes" "fetch.max.bytes" [] "52428800" "10485760"
        "Bytes one fetch response may carry.";
    Consumer "max_partition_fetch_bytes" "max.partition.fetch.bytes" [] "1048576" "2097152"
        "Bytes per partition in one fetch response.";
    Consumer "max_poll_records" "max.poll.records" [] "500" "100"
        "Records one `poll` returns at most.";
    Consumer "max_buffered_bytes" "-" [] "67108864" ""
        "Cap on fetched bytes buffered ahead of `poll`.";
    Consumer "max_partition_buffered_bytes" "-" [] "4194304" ""
        "Fetch-ahead per partition: a partition is fetched again while fewer bytes than this wait in the buffer for `poll` (1: only once its buffer is empty).";
    Consumer "session_timeout" "session.timeout.ms" [] "45000" "30000"
        "The group drops a member not heard from for this long.";
    Consumer "heartbeat_interval" "heartbeat.interval.ms" [] "3000" "1000"
        "Interval of heartbeats to the group coordinator.";
    Consumer "max_poll_interval" "max.poll.interval.ms" [] "300000" "60000"
        "A member that does not poll for this long leaves the group until it polls again.";
    Consumer "assignment_strategies" "partition.assignment.strategy" [] "range,cooperative-sticky" "cooperative-sticky"
        "Assignors offered, in order of preference: range, roundrobin, cooperative-sticky (Java class names accepted).";
    Consumer "check_crcs" "check.crcs" [] "true" "false"
        "Verify each fetched batch's CRC-32C.";
    Consumer "rebalance_listener" "-" [] "(none)" ""
        "Callbacks on partitions assigned, revoked and lost.";
    Consumer "client" "-" [] "(own client)" ""
        "Consume through an existing `Client`, sharing its connections, metadata and statistics.";
    Admin "Admin::new" "-" [] "-" ""
        "Admin calls use the client's settings (`default.api.timeout.ms`, retry backoff); each call's options set its own timeout.";
}

/// `docs/configuration.md`, generated from [`OPTIONS`].
pub fn configuration_markdown() -> String {
    let mut out = String::from(
        "# Configuration\n\n\
         <!-- Generated from kafka-client/src/config/options.rs by \
         `UPDATE_DOCS=1 cargo test -p kafka-client --test docs_current`; do not edit. -->\n\n\
         Every option, with its builder method, its Java/librdkafka property name (accepted by\n\
         the `from_properties` adapters, aliases in parentheses), its default and its meaning.\n\
         Unknown property names and malformed values fail, naming the key.\n",
    );
    for scope in [
        Scope::Client,
        Scope::Producer,
        Scope::Consumer,
        Scope::Admin,
    ] {
        out.push_str(&format!(
            "\n## {}\n\n| method | property (aliases) | default | meaning |\n|---|---|---|---|\n",
            scope.title()
        ));
        for o in OPTIONS.iter().filter(|o| o.scope == scope) {
            let method = if o.method == "-" {
                "-".to_owned()
            } else {
                format!("`{}`", o.method)
            };
            let mut prop = if o.property == "-" {
                "-".to_owned()
            } else {
                format!("`{}`", o.property)
            };
            if !o.aliases.is_empty() {
                let a: Vec<String> = o.aliases.iter().map(|a| format!("`{a}`")).collect();
                prop.push_str(&format!(" ({})", a.join(", ")));
            }
            out.push_str(&format!(
                "| {method} | {prop} | {} | {} |\n",
                o.default, o.meaning
            ));
        }
    }
    out
}
