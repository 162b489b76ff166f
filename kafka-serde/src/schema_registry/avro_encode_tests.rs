//! The direct Avro encoders (`avro_encode`, `avro_serde_encode`) against `apache-avro`'s
//! own encoding of the same value (`to_value`, resolved to the schema, `to_avro_datum`),
//! type by type; and what they refuse, which then takes that general path.

use std::collections::BTreeMap;

use apache_avro::types::Value;
use apache_avro::{Decimal, Schema};
use serde::Serialize;

use super::avro_encode::{Names, encode_value};
use super::avro_serde_encode::encode_serde;

fn parse(schema: &str) -> (Schema, Names) {
    let schema = Schema::parse_str(schema).expect("schema");
    let names = Names::of([&schema]);
    (schema, names)
}

fn parsed(schema: &str) -> super::avro::ParsedAvro {
    super::avro::parse_avro(&kafka_schema_registry::Schema::avro(schema), &[]).unwrap()
}

/// `apache-avro`'s encoding of `value` resolved to `schema`.
fn reference(schema: &Schema, value: Value) -> Vec<u8> {
    let resolved = value.resolve(schema).expect("resolves");
    apache_avro::to_avro_datum(schema, resolved).expect("apache-avro encodes")
}

/// Ours (direct, no fallback) equals `apache-avro`'s via `to_value`.
fn serde_same<T: Serialize>(schema: &str, value: &T) -> Vec<u8> {
    let (schema, names) = parse(schema);
    let mut ours = Vec::new();
    encode_serde(&mut ours, value, &schema, &names).expect("taken directly");
    let theirs = reference(&schema, apache_avro::to_value(value).unwrap());
    assert_eq!(ours, theirs, "serde encoding differs from apache-avro's");
    ours
}

fn serde_refused<T: Serialize>(schema: &str, value: &T) {
    let (schema, names) = parse(schema);
    let mut out = Vec::new();
    assert!(encode_serde(&mut out, value, &schema, &names).is_err());
}

/// Ours (direct) equals `apache-avro`'s for a generic value.
fn value_same(schema: &str, value: Value) -> Vec<u8> {
    let (schema, names) = parse(schema);
    let mut ours = Vec::new();
    encode_value(&mut ours, &value, &schema, &names).expect("taken directly");
    assert_eq!(ours, reference(&schema, value), "Value encoding differs");
    ours
}

#[derive(Serialize)]
struct Line {
    sku: String,
    qty: i32,
}

#[derive(Serialize)]
#[allow(dead_code)]
enum Status {
    New,
    Paid,
    Shipped,
}

#[derive(Serialize)]
struct Order {
    id: i64,
    status: Status,
    note: Option<String>,
    lines: Vec<Line>,
    again: Vec<Line>,
    tags: BTreeMap<String, i64>,
    #[serde(with = "apache_avro::serde_avro_bytes")]
    payload: Vec<u8>,
    #[serde(with = "apache_avro::serde_avro_fixed")]
    digest: [u8; 4],
    total: Decimal,
    price: Decimal,
    created_at: i64,
    day: i32,
    ratio: f32,
    score: f64,
    paid: bool,
    ignored_by_schema: u8,
    choice: Option<i64>,
}

const ORDER: &str = r#"{"type":"record","name":"Order","namespace":"shop","fields":[
    {"name":"id","type":"long"},
    {"name":"status","type":{"type":"enum","name":"Status","symbols":["New","Paid","Shipped"]}},
    {"name":"note","type":["null","string"],"default":null},
    {"name":"lines","type":{"type":"array","items":{"type":"record","name":"Line","fields":[
        {"name":"sku","type":"string"},{"name":"qty","type":"int"}]}}},
    {"name":"again","type":{"type":"array","items":"Line"}},
    {"name":"tags","type":{"type":"map","values":"long"}},
    {"name":"payload","type":"bytes"},
    {"name":"digest","type":{"type":"fixed","name":"Digest","size":4}},
    {"name":"total","type":{"type":"bytes","logicalType":"decimal","precision":4,"scale":2}},
    {"name":"price","type":{"type":"fixed","name":"Price","size":3,"logicalType":"decimal","precision":6,"scale":2}},
    {"name":"created_at","type":{"type":"long","logicalType":"timestamp-millis"}},
    {"name":"day","type":{"type":"int","logicalType":"date"}},
    {"name":"ratio","type":"double"},
    {"name":"score","type":"float"},
    {"name":"paid","type":"boolean"},
    {"name":"choice","type":["null","string","long"]}]}"#;

fn order(note: Option<&str>, lines: usize, total: &[u8], price: &[u8]) -> Order {
    Order {
        id: -42,
        status: Status::Paid,
        note: note.map(str::to_owned),
        lines: (0..lines)
            .map(|i| Line {
                sku: format!("sku-{i}"),
                qty: i as i32 - 1,
            })
            .collect(),
        again: vec![Line {
            sku: "x".into(),
            qty: 1 << 20,
        }],
        tags: [("k".to_owned(), i64::MIN)].into(),
        payload: vec![0, 255, 7],
        digest: *b"\x01\x02\x03\x04",
        total: Decimal::from(total),
        price: Decimal::from(price),
        created_at: 1_733_000_000_123,
        day: 20_000,
        ratio: 0.25,
        score: 1.5,
        paid: true,
        ignored_by_schema: 9,
        choice: Some(7),
    }
}

#[test]
fn serde_records_unions_enums_arrays_maps_bytes_fixed_decimals_and_logical_types() {
    for (note, lines) in [(None, 0), (Some("fragile"), 1), (Some(""), 3)] {
        // Decimals at their full width: resolution takes them, so the reference applies.
        serde_same(
            ORDER,
            &order(note, lines, &[0x27, 0x0f], &[0x0f, 0x42, 0x3f]),
        );
    }
}

#[test]
fn serde_short_decimals_are_written_as_confluent_writes_them() {
    // A bytes decimal shorter than its precision's maximum (Confluent's way) is written
    // as it is, a fixed one sign-extended; resolution through a `Value` refuses both.
    let (schema, names) = parse(ORDER);
    let mut out = Vec::new();
    let neg = order(None, 0, &[0x85], &[0x85]);
    encode_serde(&mut out, &neg, &schema, &names).expect("taken directly");
    let pos = order(None, 0, &[0x05], &[0x05]);
    let mut out_pos = Vec::new();
    encode_serde(&mut out_pos, &pos, &schema, &names).expect("taken directly");
    let decoded = apache_avro::from_avro_datum(&schema, &mut &out[..], None).unwrap();
    let decoded_pos = apache_avro::from_avro_datum(&schema, &mut &out_pos[..], None).unwrap();
    let field = |v: &Value, name: &str| match v {
        Value::Record(fields) => fields.iter().find(|(n, _)| n == name).unwrap().1.clone(),
        _ => unreachable!(),
    };
    assert_eq!(
        field(&decoded, "total"),
        Value::Decimal(Decimal::from([0x85]))
    );
    assert_eq!(
        field(&decoded, "price"),
        Value::Decimal(Decimal::from([0xff, 0xff, 0x85]))
    );
    assert_eq!(
        field(&decoded_pos, "price"),
        Value::Decimal(Decimal::from([0x00, 0x00, 0x05]))
    );
}

#[test]
fn serde_unions_pick_the_branch_resolution_picks() {
    const U: &str = r#"["null","int","string",{"type":"array","items":"long"},{"type":"map","values":"int"},
        {"type":"record","name":"R","fields":[{"name":"a","type":"double"}]}]"#;
    #[derive(Serialize)]
    struct R {
        a: f64,
    }
    serde_same(U, &None::<i32>);
    serde_same(U, &Some(5i32));
    serde_same(U, &Some(5u8));
    serde_same(U, &"text");
    serde_same(U, &'é');
    serde_same(U, &vec![1i64, -2]);
    serde_same(U, &BTreeMap::from([("one".to_owned(), 1)]));
    serde_same(U, &R { a: 0.5 });
    // A long into a union with only a double: promoted, as resolution does.
    serde_same(r#"["null","double"]"#, &Some(3i64));
    serde_same(r#"["null","float","double"]"#, &Some(3.5f64));
    serde_same(
        r#"["null",{"type":"long","logicalType":"timestamp-micros"}]"#,
        &Some(9i64),
    );
}

#[test]
fn serde_arrays_and_maps_without_a_length_up_front() {
    struct Unsized<'a>(&'a [i32]);
    impl Serialize for Unsized<'_> {
        fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            s.collect_seq(self.0.iter().filter(|_| true))
        }
    }
    struct UnsizedMap(usize);
    impl Serialize for UnsizedMap {
        fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            s.collect_map((0..self.0).filter(|_| true).map(|i| ("k", i as i32)))
        }
    }
    let items: Vec<i32> = (0..200).collect();
    // 200 items: a two-byte count moved in front of them.
    serde_same(r#"{"type":"array","items":"int"}"#, &Unsized(&items));
    serde_same(r#"{"type":"array","items":"int"}"#, &Unsized(&[]));
    serde_same(r#"{"type":"map","values":"int"}"#, &UnsizedMap(1));
    serde_same(r#"{"type":"map","values":"int"}"#, &UnsizedMap(0));
}

#[test]
fn serde_maps_of_many_entries_decode_to_the_same_map() {
    // Map order is not part of Avro's encoding (`to_value` makes a `HashMap`): compare
    // decoded values.
    let (schema, names) = parse(r#"{"type":"map","values":"string"}"#);
    let map: BTreeMap<String, String> = (0..20).map(|i| (format!("k{i}"), "v".repeat(i))).collect();
    let mut out = Vec::new();
    encode_serde(&mut out, &map, &schema, &names).unwrap();
    let decoded = apache_avro::from_avro_datum(&schema, &mut &out[..], None).unwrap();
    assert_eq!(decoded, apache_avro::to_value(&map).unwrap());
}

#[test]
fn serde_refuses_what_needs_the_general_path() {
    #[derive(Serialize)]
    struct OutOfOrder {
        b: i32,
        a: i32,
    }
    #[derive(Serialize)]
    struct Skips {
        a: i32,
        #[serde(skip_serializing_if = "Option::is_none")]
        b: Option<i32>,
    }
    #[derive(Serialize)]
    enum WithData {
        A(i32),
    }
    const AB: &str = r#"{"type":"record","name":"AB","fields":[
        {"name":"a","type":"int"},{"name":"b","type":["null","int"],"default":null}]}"#;
    serde_refused(AB, &OutOfOrder { b: 1, a: 2 });
    serde_refused(AB, &Skips { a: 1, b: None });
    serde_refused(r#""int""#, &WithData::A(1));
    serde_refused(r#""int""#, &i64::MAX);
    serde_refused(r#"{"type":"string","logicalType":"uuid"}"#, &"7a0f");
    serde_refused(r#"{"type":"enum","name":"E","symbols":["A"]}"#, &"B");
}

#[test]
fn serializer_fallback_writes_fields_in_the_schema_order() {
    // The general path resolves by name: a struct whose fields are declared in another
    // order than the schema's still encodes in the schema's order.
    #[derive(Serialize)]
    struct OutOfOrder {
        b: Option<i32>,
        a: i32,
    }
    const AB: &str = r#"{"type":"record","name":"AB","fields":[
        {"name":"a","type":"int"},{"name":"b","type":["null","int"],"default":null}]}"#;
    let parsed = parsed(AB);
    let mut out = Vec::new();
    parsed
        .encode_serde(&mut out, &OutOfOrder { b: Some(3), a: 1 })
        .unwrap();
    // a = 1, then b: branch 1, 3.
    assert_eq!(out, [2, 2, 6]);
}

#[test]
fn values_of_every_type() {
    value_same(
        ORDER,
        Value::Record(vec![
            ("id".into(), Value::Long(-42)),
            ("status".into(), Value::Enum(1, "Paid".into())),
            (
                "note".into(),
                Value::Union(1, Box::new(Value::String("x".into()))),
            ),
            (
                "lines".into(),
                Value::Array(vec![Value::Record(vec![
                    ("sku".into(), Value::String("a".into())),
                    ("qty".into(), Value::Int(3)),
                ])]),
            ),
            ("again".into(), Value::Array(vec![])),
            (
                "tags".into(),
                Value::Map([("k".to_owned(), Value::Long(1))].into()),
            ),
            ("payload".into(), Value::Bytes(vec![1, 2])),
            ("digest".into(), Value::Fixed(4, vec![1, 2, 3, 4])),
            ("total".into(), Value::Decimal(Decimal::from([0x27, 0x0f]))),
            ("price".into(), Value::Bytes(vec![0x0f, 0x42, 0x3f])),
            (
                "created_at".into(),
                Value::TimestampMillis(1_733_000_000_123),
            ),
            ("day".into(), Value::Date(20_000)),
            ("ratio".into(), Value::Float(0.25)),
            ("score".into(), Value::Float(1.5)),
            ("paid".into(), Value::Boolean(false)),
            ("choice".into(), Value::Union(0, Box::new(Value::Null))),
        ]),
    );
    value_same(r#"["null","string"]"#, Value::Null);
    const PRICE: &str =
        r#"{"type":"fixed","name":"P","size":3,"logicalType":"decimal","precision":6,"scale":2}"#;
    value_same(PRICE, Value::Decimal(Decimal::from([0xfe, 0x42, 0x3f])));
    value_same(PRICE, Value::Fixed(3, vec![0x0f, 0x42, 0x3f]));
    value_same(
        r#"{"type":"enum","name":"E","symbols":["A","B"]}"#,
        Value::String("B".into()),
    );
    value_same(r#""long""#, Value::Int(-1));
    value_same(
        r#"{"type":"long","logicalType":"timestamp-micros"}"#,
        Value::Long(5),
    );
    value_same(
        r#"{"type":"fixed","name":"D","size":12,"logicalType":"duration"}"#,
        Value::Fixed(12, vec![1; 12]),
    );
}

#[test]
fn values_refused_take_the_general_path() {
    let (schema, names) = parse(r#"["null","string"]"#);
    // A bare string for a union: it needs its branch, which resolution finds.
    let mut out = Vec::new();
    assert!(encode_value(&mut out, &Value::String("x".into()), &schema, &names).is_err());
    let parsed = parsed(r#"["null","string"]"#);
    let mut out = Vec::new();
    parsed.encode(&mut out, &Value::String("x".into())).unwrap();
    assert_eq!(out, [2, 2, b'x']);
}
