//! `kafka-cli consume`: records to stdout, one per line.

use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

use clap::Args;
use kafka_client::consumer::{
    AutoOffsetReset, Consumer, ConsumerRecord, OffsetAndMetadata, TopicPartition,
};

use crate::Ctx;
use crate::exit::Failure;
use crate::produce::{ValueFormat, registry_for};

#[derive(Args, Debug)]
pub struct ConsumeArgs {
    /// Topic to read.
    #[arg(long)]
    topic: String,
    /// Start at the beginning of each partition (without a committed offset) instead of
    /// the end.
    #[arg(long)]
    from_beginning: bool,
    /// Consume as a member of this group and commit what was printed.
    #[arg(long, value_name = "G")]
    group: Option<String>,
    /// Exit after this many records.
    #[arg(long, value_name = "N")]
    count: Option<u64>,
    /// Output template; placeholders {topic} {partition} {offset} {key} {value}
    /// {timestamp} {headers}. A null key or value prints as `null`; headers as
    /// `k=v,k=v`. Default: `{value}`.
    #[arg(long, value_name = "TEMPLATE", conflicts_with = "json")]
    format: Option<String>,
    /// One JSON object per line: topic, partition, offset, timestamp, key, value,
    /// headers.
    #[arg(long)]
    json: bool,
    /// Decode values written in the schema-registry wire format (Avro, Protobuf, JSON
    /// Schema) and print them as JSON (Protobuf: its canonical JSON, the writer's schema
    /// fetched by id); a value that does not decode is printed as it is, with a warning
    /// on stderr.
    #[arg(long, value_enum, default_value = "raw")]
    value_format: ValueFormat,
    /// The schema registry's URL for --value-format.
    #[arg(long, value_name = "URL", env = "SCHEMA_REGISTRY_URL")]
    schema_registry: Option<String>,
}

/// Decodes registry-framed values to JSON text.
enum ValueDecoder {
    Raw,
    Avro(Box<kafka_serde::schema_registry::AvroValueDeserializer>),
    Json(kafka_serde::schema_registry::JsonSchemaDeserializer<serde_json::Value>),
    Protobuf(crate::protobuf_json::ProtobufDecoder),
}

impl ValueDecoder {
    fn new(args: &ConsumeArgs) -> Result<Self, Failure> {
        use kafka_serde::schema_registry::{AvroValueDeserializer, JsonSchemaDeserializer};
        let registry = registry_for(args.value_format, args.schema_registry.as_deref())?;
        Ok(match (args.value_format, registry) {
            (ValueFormat::Avro, Some(r)) => {
                ValueDecoder::Avro(Box::new(AvroValueDeserializer::new(r)))
            }
            (ValueFormat::JsonSchema, Some(r)) => {
                ValueDecoder::Json(JsonSchemaDeserializer::new(r))
            }
            (ValueFormat::Protobuf, Some(r)) => {
                ValueDecoder::Protobuf(crate::protobuf_json::ProtobufDecoder::new(r))
            }
            _ => ValueDecoder::Raw,
        })
    }

    /// The record with its value replaced by its JSON text (unchanged if raw, null or
    /// undecodable).
    async fn decode(&self, mut r: ConsumerRecord) -> ConsumerRecord {
        let Some(value) = r.value.as_ref() else {
            return r;
        };
        let text = match self {
            ValueDecoder::Raw => return r,
            ValueDecoder::Avro(de) => de
                .deserialize_with_headers_async(&r.headers, value)
                .await
                .and_then(|v| {
                    serde_json::Value::try_from(v)
                        .map(|j| j.to_string())
                        .map_err(|e| {
                            kafka_serde::schema_registry::RegistrySerdeError::Payload(e.to_string())
                        })
                }),
            ValueDecoder::Json(de) => de
                .deserialize_with_headers_async(&r.headers, value)
                .await
                .map(|j| j.to_string()),
            ValueDecoder::Protobuf(de) => de
                .decode(value)
                .await
                .map_err(kafka_serde::schema_registry::RegistrySerdeError::Payload),
        };
        match text {
            Ok(text) => r.value = Some(text.into()),
            Err(e) => eprintln!(
                "{}-{} offset {}: cannot decode the value: {e}",
                r.topic, r.partition, r.offset
            ),
        }
        r
    }
}

const PLACEHOLDERS: [&str; 7] = [
    "topic",
    "partition",
    "offset",
    "key",
    "value",
    "timestamp",
    "headers",
];

/// A parsed template: literal text and placeholders.
enum Piece {
    Text(String),
    Field(&'static str),
}

fn parse_template(t: &str) -> Result<Vec<Piece>, Failure> {
    let mut out = Vec::new();
    let mut rest = t;
    let mut text = String::new();
    while let Some(i) = rest.find('{') {
        text.push_str(&rest[..i]);
        rest = &rest[i..];
        let end = rest
            .find('}')
            .ok_or_else(|| Failure::Usage(format!("--format: unclosed '{{' in {t:?}")))?;
        let name = &rest[1..end];
        let field = PLACEHOLDERS.iter().find(|p| **p == name).ok_or_else(|| {
            Failure::Usage(format!(
                "--format: unknown placeholder {{{name}}} (known: {})",
                PLACEHOLDERS.map(|p| format!("{{{p}}}")).join(" ")
            ))
        })?;
        if !text.is_empty() {
            out.push(Piece::Text(std::mem::take(&mut text)));
        }
        out.push(Piece::Field(field));
        rest = &rest[end + 1..];
    }
    text.push_str(rest);
    let text = text.replace("\\t", "\t").replace("\\n", "\n");
    if !text.is_empty() {
        out.push(Piece::Text(text));
    }
    Ok(out)
}

fn bytes_str(b: Option<&bytes::Bytes>) -> String {
    b.map_or_else(
        || "null".to_owned(),
        |b| String::from_utf8_lossy(b).into_owned(),
    )
}

fn render(pieces: &[Piece], r: &ConsumerRecord) -> String {
    let mut s = String::new();
    for p in pieces {
        match p {
            Piece::Text(t) => s.push_str(t),
            Piece::Field(f) => match *f {
                "topic" => s.push_str(&r.topic),
                "partition" => s.push_str(&r.partition.to_string()),
                "offset" => s.push_str(&r.offset.to_string()),
                "timestamp" => s.push_str(&r.timestamp.to_string()),
                "key" => s.push_str(&bytes_str(r.key.as_ref())),
                "value" => s.push_str(&bytes_str(r.value.as_ref())),
                _ => {
                    let h: Vec<String> = r
                        .headers
                        .iter()
                        .map(|h| format!("{}={}", h.key, bytes_str(h.value.as_ref())))
                        .collect();
                    s.push_str(&h.join(","));
                }
            },
        }
    }
    s
}

fn json(r: &ConsumerRecord) -> String {
    let opt = |b: Option<&bytes::Bytes>| {
        b.map_or(serde_json::Value::Null, |b| {
            serde_json::Value::String(String::from_utf8_lossy(b).into_owned())
        })
    };
    let headers: Vec<serde_json::Value> = r
        .headers
        .iter()
        .map(|h| serde_json::json!({"key": h.key, "value": opt(h.value.as_ref())}))
        .collect();
    serde_json::json!({
        "topic": &*r.topic,
        "partition": r.partition,
        "offset": r.offset,
        "timestamp": r.timestamp,
        "key": opt(r.key.as_ref()),
        "value": opt(r.value.as_ref()),
        "headers": headers,
    })
    .to_string()
}

pub async fn run(ctx: &Ctx, args: ConsumeArgs) -> Result<(), Failure> {
    let pieces = parse_template(args.format.as_deref().unwrap_or("{value}"))?;
    let decoder = ValueDecoder::new(&args)?;
    let client = ctx.admin.client().clone();
    let meta = client.refresh_topics(&[args.topic.as_str()]).await?;
    let Some(info) = meta.topic(&args.topic) else {
        return Err(Failure::Failed(format!(
            "topic {} does not exist",
            args.topic
        )));
    };
    let partitions: Vec<TopicPartition> = info
        .partitions
        .iter()
        .map(|p| TopicPartition::new(args.topic.as_str(), p.partition))
        .collect();
    let reset = if args.from_beginning {
        AutoOffsetReset::Earliest
    } else {
        AutoOffsetReset::Latest
    };
    let mut builder = Consumer::builder()
        .client(client)
        .auto_offset_reset(reset)
        .enable_auto_commit(false)
        .fetch_max_wait(Duration::from_millis(200));
    if let Some(g) = &args.group {
        builder = builder.group_id(g.clone());
    }
    let consumer = builder.build()?;
    if args.group.is_some() {
        consumer.subscribe([args.topic.as_str()])?;
    } else {
        consumer.assign(partitions)?;
    }

    let progress = std::io::stderr().is_terminal();
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let mut printed = 0u64;
    let mut next: BTreeMap<TopicPartition, OffsetAndMetadata> = BTreeMap::new();
    let mut last_record = Instant::now();
    let write_err = |e: std::io::Error| Failure::Failed(format!("writing stdout: {e}"));
    let result: Result<(), Failure> = 'outer: loop {
        if args.count.is_some_and(|n| printed >= n) {
            break Ok(());
        }
        if last_record.elapsed() >= ctx.timeout {
            break Ok(());
        }
        let batch = match consumer.poll(Duration::from_millis(500)).await {
            Ok(b) => b,
            Err(e) => break Err(e.into()),
        };
        let (records, errors) = batch.into_parts();
        if let Some(e) = errors.into_iter().next() {
            break Err(e.into_error().into());
        }
        if !records.is_empty() {
            last_record = Instant::now();
        }
        for r in records {
            if args.count.is_some_and(|n| printed >= n) {
                break;
            }
            let r = decoder.decode(r).await;
            let line = if args.json {
                json(&r)
            } else {
                render(&pieces, &r)
            };
            if let Err(e) = writeln!(out, "{line}") {
                break 'outer Err(write_err(e));
            }
            printed += 1;
            next.insert(r.topic_partition(), OffsetAndMetadata::new(r.offset + 1));
            if progress && printed % 1000 == 0 {
                eprint!("\rconsumed {printed} records");
            }
        }
        if let Err(e) = out.flush() {
            break Err(write_err(e));
        }
    };
    if progress && printed >= 1000 {
        eprint!("\r");
    }
    out.flush().map_err(write_err)?;
    if args.group.is_some() && !next.is_empty() {
        consumer.commit_offsets(next).await?;
    }
    let _ = consumer.close().await;
    eprintln!("consumed {printed} records from {}", args.topic);
    result
}
