//! `kafka-cli dump-log <files...>`: decodes Kafka's on-disk segment files with the SDK's
//! record-batch decoder and prints them like Kafka's `DumpLogSegments` (`--print` style
//! batch lines, `| offset:` record lines with `--deep-iteration`, keys and payloads with
//! `--print-data-log`), or one JSON object per batch (`--json`). `.index` and
//! `.timeindex` files print their entries. A truncated or corrupt segment prints what
//! is readable, then the byte position of the damage, and exits 1. Needs no cluster.

use std::path::Path;

use bytes::Bytes;
use clap::Args;
use kafka_client::records::{
    ControlRecord, ControlRecordType, DecodeLimits, Record, RecordBatch, TimestampType,
};

use crate::exit::Failure;
use crate::progress::{self, Progress};

/// Bytes before a batch's records: the log overhead (offset, length) and the header.
const LOG_OVERHEAD: usize = 12;
const MAGIC_OFFSET: usize = 16;
const MIN_BATCH_SIZE: usize = 61;
/// Attributes bit 6: the batch carries a delete horizon (KIP-534).
const DELETE_HORIZON_BIT: i16 = 0x40;

/// Arguments of `dump-log`.
#[derive(Args, Debug)]
pub struct DumpLogArgs {
    /// Segment files: `.log`, `.index`, `.timeindex`.
    #[arg(required = true)]
    files: Vec<String>,
    /// Print every record, not only the batches.
    #[arg(long)]
    deep_iteration: bool,
    /// Print records with their keys and payloads (implies --deep-iteration).
    #[arg(long)]
    print_data_log: bool,
    /// One JSON object per batch (with its records when deep) instead of text.
    #[arg(long)]
    json: bool,
    /// Show how far each segment is decoded on stderr even when stderr is not a
    /// terminal (on a terminal it is shown anyway).
    #[arg(long)]
    progress: bool,
}

/// What went wrong in one file, for the exit code.
struct Damage(String);

pub fn run(args: DumpLogArgs) -> Result<(), Failure> {
    let mut damaged = Vec::new();
    for file in &args.files {
        println!("Dumping {file}");
        let path = Path::new(file);
        let data =
            std::fs::read(path).map_err(|e| Failure::Usage(format!("cannot read {file}: {e}")))?;
        let base = base_offset(path).ok_or_else(|| {
            Failure::Usage(format!(
                "{file}: not a segment file name (20-digit base offset)"
            ))
        })?;
        let result = match path.extension().and_then(|e| e.to_str()) {
            Some("log") => {
                println!("Log starting offset: {base}");
                dump_segment(Bytes::from(data), &args)
            }
            Some("index") => dump_offset_index(&data, base),
            Some("timeindex") => dump_time_index(&data, base),
            _ => {
                return Err(Failure::Usage(format!(
                    "{file}: expected a .log, .index or .timeindex file"
                )));
            }
        };
        if let Err(Damage(why)) = result {
            eprintln!("{file}: {why}");
            damaged.push(file.clone());
        }
    }
    if damaged.is_empty() {
        Ok(())
    } else {
        Err(Failure::Failed(format!("damaged: {}", damaged.join(", "))))
    }
}

/// The base offset a segment file's name carries (`00000000000000000042.log` → 42).
fn base_offset(path: &Path) -> Option<i64> {
    path.file_stem()?.to_str()?.parse().ok()
}

fn dump_segment(data: Bytes, args: &DumpLogArgs) -> Result<(), Damage> {
    let deep = args.deep_iteration || args.print_data_log;
    let limits = DecodeLimits::default();
    let mut progress = Progress::new(args.progress);
    let total = data.len();
    let line = |pos: usize| {
        format!(
            "decoded {} of {} ({}%)",
            progress::bytes(pos),
            progress::bytes(total),
            (pos * 100).checked_div(total).unwrap_or(100)
        )
    };
    progress.force(&line(0));
    let mut pos = 0usize;
    while pos < data.len() {
        progress.update(|| line(pos));
        let rest = data.len() - pos;
        if rest < LOG_OVERHEAD {
            return Err(Damage(format!(
                "truncated batch header at byte position {pos} ({rest} bytes left)"
            )));
        }
        let length = i32::from_be_bytes(data[pos + 8..pos + 12].try_into().unwrap_or_default());
        let size = LOG_OVERHEAD as i64 + i64::from(length);
        if length < 0 || size < MIN_BATCH_SIZE as i64 {
            return Err(Damage(format!(
                "invalid batch length {length} at byte position {pos}"
            )));
        }
        let size = size as usize;
        if size > rest {
            return Err(Damage(format!(
                "truncated batch at byte position {pos}: {size} bytes declared, {rest} present"
            )));
        }
        if data[pos + MAGIC_OFFSET] != 2 {
            return Err(Damage(format!(
                "batch at byte position {pos} has magic {} (only v2 batches are decoded)",
                data[pos + MAGIC_OFFSET] as i8
            )));
        }
        let batch = RecordBatch::parse(data.slice(pos..pos + size), limits)
            .map_err(|e| Damage(format!("corrupt batch at byte position {pos}: {e}")))?;
        let records = if deep {
            Some(batch.records_vec().map_err(|e| {
                Damage(format!(
                    "corrupt records in the batch at byte position {pos}: {e}"
                ))
            })?)
        } else {
            None
        };
        if args.json {
            println!(
                "{}",
                batch_json(&batch, pos, records.as_deref(), args.print_data_log)
            );
        } else {
            println!("{}", batch_line(&batch, pos));
            for r in records.iter().flatten() {
                println!("{}", record_line(&batch, r, args.print_data_log));
            }
        }
        pos += size;
    }
    progress.force(&line(total));
    Ok(())
}

fn timestamp_type(batch: &RecordBatch) -> &'static str {
    match batch.timestamp_type() {
        TimestampType::CreateTime => "CreateTime",
        TimestampType::LogAppendTime => "LogAppendTime",
    }
}

fn last_sequence(batch: &RecordBatch) -> i32 {
    if batch.base_sequence() < 0 {
        -1
    } else {
        batch
            .base_sequence()
            .wrapping_add(batch.last_offset_delta())
    }
}

fn delete_horizon(batch: &RecordBatch) -> Option<i64> {
    (batch.attributes() & DELETE_HORIZON_BIT != 0).then(|| batch.base_timestamp())
}

/// The batch line of `DumpLogSegments`.
fn batch_line(b: &RecordBatch, position: usize) -> String {
    let horizon = delete_horizon(b).map_or("OptionalLong.empty".to_string(), |h| {
        format!("OptionalLong[{h}]")
    });
    format!(
        "baseOffset: {} lastOffset: {} count: {} baseSequence: {} lastSequence: {} producerId: {} producerEpoch: {} partitionLeaderEpoch: {} isTransactional: {} isControl: {} deleteHorizonMs: {horizon} position: {position} {}: {} size: {} magic: 2 compresscodec: {} crc: {} isvalid: true",
        b.base_offset(),
        b.last_offset(),
        b.records_count(),
        b.base_sequence(),
        last_sequence(b),
        b.producer_id(),
        b.producer_epoch(),
        b.partition_leader_epoch(),
        b.is_transactional(),
        b.is_control(),
        timestamp_type(b),
        b.max_timestamp(),
        b.size_in_bytes(),
        b.compression().name(),
        b.crc(),
    )
}

fn sequence(b: &RecordBatch, r: &Record) -> i64 {
    if b.base_sequence() < 0 {
        -1
    } else {
        i64::from(
            b.base_sequence()
                .wrapping_add((r.offset - b.base_offset()) as i32),
        )
    }
}

fn size(v: &Option<Bytes>) -> i64 {
    v.as_ref().map_or(-1, |b| b.len() as i64)
}

/// `endTxnMarker: ABORT coordinatorEpoch: 3` for a transaction marker.
fn control_text(r: &Record) -> Option<String> {
    let control = ControlRecord::from_key(r.key.as_deref()?)?;
    let kind = match control.kind {
        ControlRecordType::Abort => "ABORT",
        ControlRecordType::Commit => "COMMIT",
        ControlRecordType::Other(_) => {
            return Some(format!("controlType: {}", control.kind.as_i16()));
        }
    };
    let epoch = r
        .value
        .as_deref()
        .filter(|v| v.len() >= 6)
        .map_or(-1, |v| i32::from_be_bytes([v[2], v[3], v[4], v[5]]));
    Some(format!("endTxnMarker: {kind} coordinatorEpoch: {epoch}"))
}

/// The `| offset:` record line of `DumpLogSegments`.
fn record_line(b: &RecordBatch, r: &Record, contents: bool) -> String {
    let keys: Vec<&str> = r.headers.iter().map(|h| h.key.as_str()).collect();
    let mut line = format!(
        "| offset: {} {}: {} keySize: {} valueSize: {} sequence: {} headerKeys: [{}]",
        r.offset,
        timestamp_type(b),
        r.timestamp,
        size(&r.key),
        size(&r.value),
        sequence(b, r),
        keys.join(",")
    );
    if b.is_control() {
        if let Some(c) = control_text(r) {
            line.push(' ');
            line.push_str(&c);
        }
    } else if contents {
        if let Some(k) = &r.key {
            line.push_str(&format!(" key: {}", String::from_utf8_lossy(k)));
        }
        if let Some(v) = &r.value {
            line.push_str(&format!(" payload: {}", String::from_utf8_lossy(v)));
        }
    }
    line
}

fn batch_json(
    b: &RecordBatch,
    position: usize,
    records: Option<&[Record]>,
    contents: bool,
) -> serde_json::Value {
    let text = |v: &Option<Bytes>| v.as_ref().map(|b| String::from_utf8_lossy(b).into_owned());
    let records: Option<Vec<serde_json::Value>> = records.map(|rs| {
        rs.iter()
            .map(|r| {
                let mut o = serde_json::json!({
                    "offset": r.offset,
                    "timestamp": r.timestamp,
                    "keySize": size(&r.key),
                    "valueSize": size(&r.value),
                    "sequence": sequence(b, r),
                    "headerKeys": r.headers.iter().map(|h| h.key.clone()).collect::<Vec<_>>(),
                });
                if b.is_control() {
                    o["control"] = serde_json::json!(control_text(r));
                } else if contents {
                    o["key"] = serde_json::json!(text(&r.key));
                    o["payload"] = serde_json::json!(text(&r.value));
                }
                o
            })
            .collect()
    });
    serde_json::json!({
        "baseOffset": b.base_offset(),
        "lastOffset": b.last_offset(),
        "count": b.records_count(),
        "baseSequence": b.base_sequence(),
        "lastSequence": last_sequence(b),
        "producerId": b.producer_id(),
        "producerEpoch": b.producer_epoch(),
        "partitionLeaderEpoch": b.partition_leader_epoch(),
        "isTransactional": b.is_transactional(),
        "isControl": b.is_control(),
        "deleteHorizonMs": delete_horizon(b),
        "position": position,
        "timestampType": timestamp_type(b),
        "maxTimestamp": b.max_timestamp(),
        "size": b.size_in_bytes(),
        "magic": 2,
        "compresscodec": b.compression().name(),
        "crc": b.crc(),
        "isvalid": true,
        "records": records,
    })
}

/// `offset: N position: P` per entry (8 bytes: relative offset, position), stopping at
/// the zero padding of a preallocated index, as Kafka's tool does.
fn dump_offset_index(data: &[u8], base: i64) -> Result<(), Damage> {
    for (i, e) in data.chunks(8).enumerate() {
        if e.len() < 8 {
            return Err(Damage(format!(
                "truncated index entry at byte position {}",
                i * 8
            )));
        }
        let relative = i32::from_be_bytes([e[0], e[1], e[2], e[3]]);
        let position = i32::from_be_bytes([e[4], e[5], e[6], e[7]]);
        if i > 0 && relative == 0 {
            break;
        }
        println!(
            "offset: {} position: {position}",
            base + i64::from(relative)
        );
    }
    Ok(())
}

/// `timestamp: T offset: N` per entry (12 bytes: timestamp, relative offset).
fn dump_time_index(data: &[u8], base: i64) -> Result<(), Damage> {
    for (i, e) in data.chunks(12).enumerate() {
        if e.len() < 12 {
            return Err(Damage(format!(
                "truncated time index entry at byte position {}",
                i * 12
            )));
        }
        let timestamp = i64::from_be_bytes(e[0..8].try_into().unwrap_or_default());
        let relative = i32::from_be_bytes([e[8], e[9], e[10], e[11]]);
        if i > 0 && relative == 0 && timestamp == 0 {
            break;
        }
        println!(
            "timestamp: {timestamp} offset: {}",
            base + i64::from(relative)
        );
    }
    Ok(())
}
