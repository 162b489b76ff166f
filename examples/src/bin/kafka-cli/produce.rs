//! `kafka-cli produce`: one record per stdin line.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use clap::{Args, ValueEnum};
use kafka_client::producer::{Acks, Producer, ProducerRecord};
use kafka_client::records::Compression;
use tokio::io::AsyncBufReadExt;

use crate::Ctx;
use crate::exit::Failure;

/// Compression codec names as on the command line.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum Codec {
    /// No compression.
    None,
    /// gzip.
    Gzip,
    /// Snappy.
    Snappy,
    /// LZ4.
    Lz4,
    /// Zstandard.
    Zstd,
}

/// `acks` on the command line.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum AcksArg {
    /// No acknowledgement.
    #[value(name = "0")]
    Zero,
    /// The leader's.
    #[value(name = "1")]
    One,
    /// Every in-sync replica's.
    #[value(name = "all", alias = "-1")]
    All,
}

#[derive(Args, Debug)]
pub struct ProduceArgs {
    /// Topic to write to.
    #[arg(long)]
    topic: String,
    /// Split each line at the first SEP into key and value (a line without SEP is an
    /// error). Without it, lines are values with a null key.
    #[arg(long, value_name = "SEP")]
    key_separator: Option<String>,
    /// A header `key=value` added to every record; repeatable.
    #[arg(long = "header", value_name = "K=V")]
    headers: Vec<String>,
    /// Compression codec.
    #[arg(long, value_enum, default_value = "none")]
    compression: Codec,
    /// Acknowledgements to wait for.
    #[arg(long, value_enum, default_value = "all")]
    acks: AcksArg,
    /// Send every record to this partition.
    #[arg(long)]
    partition: Option<i32>,
    /// Value encoding: `raw` (the line's bytes), or each line's JSON written as Avro,
    /// Protobuf or JSON Schema in the schema-registry wire format, with --value-schema
    /// registered under `<topic>-value` in --schema-registry.
    #[arg(long, value_enum, default_value = "raw")]
    value_format: ValueFormat,
    /// The value schema file (an Avro `.avsc`, a `.proto` file or a JSON Schema) for
    /// --value-format.
    #[arg(long, value_name = "FILE")]
    value_schema: Option<std::path::PathBuf>,
    /// With `--value-format protobuf`: the message type of each line (its full name, or
    /// its name without the package). Default: the file's first message.
    #[arg(long, value_name = "NAME")]
    value_message: Option<String>,
    /// The schema registry's URL for --value-format.
    #[arg(long, value_name = "URL", env = "SCHEMA_REGISTRY_URL")]
    schema_registry: Option<String>,
}

/// `--value-format` of `produce` and `consume`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ValueFormat {
    /// Bytes as they are.
    Raw,
    /// Avro with a registry schema id (values as JSON on the command line).
    Avro,
    /// Protobuf with a registry schema id and message-index path (values as Protobuf's
    /// canonical JSON on the command line).
    Protobuf,
    /// JSON validated against a registered JSON Schema.
    JsonSchema,
}

/// The registry client for --value-format (`None` for `raw`).
pub(crate) fn registry_for(
    format: ValueFormat,
    url: Option<&str>,
) -> Result<Option<kafka_schema_registry::SchemaRegistryClient>, Failure> {
    if format == ValueFormat::Raw {
        return Ok(None);
    }
    let url = url.ok_or_else(|| {
        Failure::Usage("--value-format needs --schema-registry URL (or SCHEMA_REGISTRY_URL)".into())
    })?;
    kafka_schema_registry::RegistryConfig::new(url)
        .build()
        .map(Some)
        .map_err(|e| Failure::Usage(format!("--schema-registry: {e}")))
}

/// Encodes a line's JSON for the registry.
enum ValueEncoder {
    Raw,
    Avro(kafka_serde::schema_registry::AvroValueSerializer),
    Json(kafka_serde::schema_registry::JsonSchemaSerializer<serde_json::Value>),
    Protobuf(crate::protobuf_json::ProtobufEncoder),
}

impl ValueEncoder {
    fn new(args: &ProduceArgs) -> Result<Self, Failure> {
        use kafka_serde::schema_registry::{
            AvroValueSerializer, JsonSchemaSerializer, SerdeConfig,
        };
        let Some(registry) = registry_for(args.value_format, args.schema_registry.as_deref())?
        else {
            return Ok(ValueEncoder::Raw);
        };
        let path = args
            .value_schema
            .as_ref()
            .ok_or_else(|| Failure::Usage("--value-format needs --value-schema FILE".into()))?;
        let schema = std::fs::read_to_string(path)
            .map_err(|e| Failure::Usage(format!("--value-schema {}: {e}", path.display())))?;
        let bad = |e: kafka_serde::schema_registry::RegistrySerdeError| {
            Failure::Usage(format!("--value-schema {}: {e}", path.display()))
        };
        Ok(match args.value_format {
            ValueFormat::Raw => ValueEncoder::Raw,
            ValueFormat::Avro => ValueEncoder::Avro(
                AvroValueSerializer::new(registry, &schema, SerdeConfig::value()).map_err(bad)?,
            ),
            ValueFormat::JsonSchema => ValueEncoder::Json(
                JsonSchemaSerializer::new(registry, &schema, SerdeConfig::value()).map_err(bad)?,
            ),
            ValueFormat::Protobuf => ValueEncoder::Protobuf(
                crate::protobuf_json::ProtobufEncoder::new(
                    registry,
                    &schema,
                    args.value_message.as_deref(),
                )
                .map_err(|e| Failure::Usage(format!("--value-schema {}: {e}", path.display())))?,
            ),
        })
    }

    async fn encode(
        &self,
        topic: &str,
        line_no: u64,
        value: &str,
    ) -> Result<bytes::Bytes, Failure> {
        let fail = |e: &dyn std::fmt::Display| {
            Failure::Failed(format!(
                "line {line_no}: {e} (nothing after line {} was sent)",
                line_no - 1
            ))
        };
        let json = || serde_json::from_str::<serde_json::Value>(value).map_err(|e| fail(&e));
        Ok(match self {
            ValueEncoder::Raw => bytes::Bytes::copy_from_slice(value.as_bytes()),
            ValueEncoder::Avro(ser) => ser
                .serialize_async(topic, &apache_avro::types::Value::from(json()?))
                .await
                .map_err(|e| fail(&e))?
                .into(),
            ValueEncoder::Json(ser) => ser
                .serialize_async(topic, &json()?)
                .await
                .map_err(|e| fail(&e))?
                .into(),
            ValueEncoder::Protobuf(enc) => {
                enc.encode(topic, value).await.map_err(|e| fail(&e))?.into()
            }
        })
    }
}

pub async fn run(ctx: &Ctx, args: ProduceArgs) -> Result<(), Failure> {
    let mut headers = Vec::new();
    for h in &args.headers {
        let (k, v) = h
            .split_once('=')
            .ok_or_else(|| Failure::Usage(format!("--header {h:?}: expected key=value")))?;
        headers.push((k.to_owned(), v.to_owned()));
    }
    if args.key_separator.as_deref() == Some("") {
        return Err(Failure::Usage("--key-separator must not be empty".into()));
    }
    let compression = match args.compression {
        Codec::None => Compression::None,
        Codec::Gzip => Compression::Gzip,
        Codec::Snappy => Compression::Snappy,
        Codec::Lz4 => Compression::Lz4,
        Codec::Zstd => Compression::Zstd,
    };
    let acks = match args.acks {
        AcksArg::Zero => Acks::None,
        AcksArg::One => Acks::Leader,
        AcksArg::All => Acks::All,
    };
    // Fail fast (exit 3) when the cluster is unreachable, and with exit 1 on a missing
    // topic, before reading stdin.
    let meta = ctx
        .admin
        .client()
        .refresh_topics(&[args.topic.as_str()])
        .await?;
    if meta.topic(&args.topic).is_none() {
        return Err(Failure::Failed(format!(
            "topic {} does not exist",
            args.topic
        )));
    }
    let encoder = ValueEncoder::new(&args)?;
    let producer = Producer::builder()
        .client(ctx.admin.client().clone())
        .compression(compression)
        .acks(acks)
        .linger(Duration::from_millis(5))
        .build()?;

    let progress = std::io::stderr().is_terminal();
    let started = Instant::now();
    let mut lines = tokio::io::BufReader::new(tokio::io::stdin()).lines();
    let mut pending = Vec::new();
    let mut line_no = 0u64;
    while let Some(line) = lines
        .next_line()
        .await
        .map_err(|e| Failure::Failed(format!("reading stdin: {e}")))?
    {
        line_no += 1;
        let line = line.strip_suffix('\r').unwrap_or(&line);
        let mut record = ProducerRecord::new(args.topic.as_str());
        match &args.key_separator {
            Some(sep) => {
                let (k, v) = line.split_once(sep.as_str()).ok_or_else(|| {
                    Failure::Usage(format!(
                        "line {line_no}: no key separator {sep:?} (nothing after line {} was sent)",
                        line_no - 1
                    ))
                })?;
                let v = encoder.encode(&args.topic, line_no, v).await?;
                record = record.with_key(k.to_owned()).with_value(v);
            }
            None => record = record.with_value(encoder.encode(&args.topic, line_no, line).await?),
        }
        for (k, v) in &headers {
            record = record.with_header(k.clone(), v.clone());
        }
        if let Some(p) = args.partition {
            record = record.with_partition(p);
        }
        pending.push(producer.send(record).await?);
        if progress && line_no % 1000 == 0 {
            eprint!("\rproduced {line_no} records");
        }
    }
    if progress && line_no >= 1000 {
        eprint!("\r");
    }
    let mut failed = 0u64;
    let mut first_error = None;
    for f in pending {
        if let Err(e) = f.await {
            failed += 1;
            first_error.get_or_insert(e);
        }
    }
    let _ = producer.close(ctx.timeout).await;
    let elapsed = started.elapsed().as_secs_f64();
    eprintln!(
        "produced {} of {line_no} records to {} in {elapsed:.2} s",
        line_no - failed,
        args.topic
    );
    match first_error {
        None => Ok(()),
        Some(e) => {
            eprintln!("{failed} record(s) failed; first error: {e}");
            Err(Failure::from(e))
        }
    }
}
