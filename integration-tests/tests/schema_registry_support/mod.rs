//! Shared by the schema-registry tests: the Avro interop fixture (the same records as
//! `avro_fixture()` in sr_interop.py), hex helpers for talking to the script, and the
//! producer and consumer they use.
#![allow(dead_code)]

pub mod protobuf;

use std::collections::HashMap;
use std::time::Duration;

use apache_avro::types::Value;
use kafka_client::consumer::{AutoOffsetReset, Consumer, TopicPartition};
use kafka_client::producer::Producer;

use crate::common;

/// A producer with a 5 ms linger.
pub fn producer(bootstrap: &str) -> Producer {
    Producer::builder()
        .bootstrap_servers([bootstrap])
        .linger(Duration::from_millis(5))
        .build()
        .expect("producer config")
}

/// A consumer assigned to partition 0 of `topic`, from the earliest offset.
pub fn consumer(bootstrap: &str, topic: &str) -> Consumer {
    let c = common::consumer_util::consumer(bootstrap)
        .auto_offset_reset(AutoOffsetReset::Earliest)
        .build()
        .expect("consumer config");
    c.assign([TopicPartition::new(topic, 0)]).expect("assign");
    c
}

fn record(fields: Vec<(&str, Value)>) -> Value {
    Value::Record(fields.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
}

fn string(s: &str) -> Value {
    Value::String(s.to_owned())
}

fn line(sku: &str, qty: i32) -> Value {
    record(vec![("sku", string(sku)), ("qty", Value::Int(qty))])
}

/// The same records as `avro_fixture()` in sr_interop.py.
pub fn fixture() -> Vec<Value> {
    let order = |id: i64,
                 customer: Value,
                 status: (u32, &str),
                 lines: Vec<Value>,
                 attributes: &[(&str, &str)],
                 note: Option<&str>,
                 payload: &[u8],
                 total: Vec<u8>,
                 created_ms: i64,
                 updated_us: i64,
                 ratio: f64,
                 paid: bool| {
        record(vec![
            ("id", Value::Long(id)),
            ("customer", customer),
            ("status", Value::Enum(status.0, status.1.to_owned())),
            ("lines", Value::Array(lines)),
            (
                "attributes",
                Value::Map(
                    attributes
                        .iter()
                        .map(|(k, v)| ((*k).to_owned(), string(v)))
                        .collect::<HashMap<_, _>>(),
                ),
            ),
            (
                "note",
                match note {
                    Some(n) => Value::Union(1, Box::new(string(n))),
                    None => Value::Union(0, Box::new(Value::Null)),
                },
            ),
            ("payload", Value::Bytes(payload.to_vec())),
            ("total", Value::Decimal(apache_avro::Decimal::from(total))),
            ("created_at", Value::TimestampMillis(created_ms)),
            ("updated_at", Value::TimestampMicros(updated_us)),
            ("ratio", Value::Double(ratio)),
            ("paid", Value::Boolean(paid)),
        ])
    };
    let ada = record(vec![
        ("name", string("Ada")),
        (
            "email",
            Value::Union(1, Box::new(string("ada@example.com"))),
        ),
    ]);
    let bob = record(vec![
        ("name", string("Bob")),
        ("email", Value::Union(0, Box::new(Value::Null))),
    ]);
    // 2024-01-02T03:04:05.678901Z
    let (ms, us) = (1_704_164_645_678, 1_704_164_645_678_901);
    vec![
        order(
            1,
            ada.clone(),
            (1, "PAID"),
            vec![line("tea", 2), line("cake", 1)],
            &[("channel", "web")],
            None,
            &[0, 1, 0xfe, 0xff],
            vec![0x04, 0xd2], // 12.34
            ms,
            us,
            0.25,
            true,
        ),
        order(
            -9_000_000_000,
            bob,
            (0, "NEW"),
            vec![],
            &[],
            Some("leave at the door"),
            &[],
            vec![0xfb], // -0.05
            -1,
            2_147_483_648_000_001,
            -1.5e300,
            false,
        ),
        order(
            3,
            ada,
            (2, "SHIPPED"),
            vec![line("tea", 2), line("cake", 1)],
            &[("channel", "web")],
            Some(""),
            &[0, 1, 0xfe, 0xff],
            vec![0x02, 0x54, 0x0b, 0xe3, 0xff], // 99999999.99
            ms,
            us,
            0.25,
            true,
        ),
    ]
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}
