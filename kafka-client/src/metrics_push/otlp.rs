//! The OTLP metrics payload of a PushTelemetry request (KIP-714): an
//! `opentelemetry.proto.metrics.v1.MetricsData` protobuf message, written by hand (the
//! few fields a client needs; no protobuf dependency).
//!
//! ```text
//! MetricsData { resource_metrics = 1: ResourceMetrics }
//! ResourceMetrics { resource = 1: Resource { attributes = 1: KeyValue }, scope_metrics = 2 }
//! ScopeMetrics { scope = 1: InstrumentationScope { name = 1, version = 2 }, metrics = 2 }
//! Metric { name = 1, description = 2, unit = 3, gauge = 5 | sum = 7 }
//! Sum { data_points = 1, aggregation_temporality = 2, is_monotonic = 3 }
//! Gauge { data_points = 1 }
//! NumberDataPoint { start_time_unix_nano = 2 (fixed64), time_unix_nano = 3 (fixed64),
//!                   as_double = 4 (double) | as_int = 6 (sfixed64), attributes = 7 }
//! KeyValue { key = 1, value = 2: AnyValue { string_value = 1 } }
//! ```

/// One metric value to push.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Point {
    /// The OTLP name (`org.apache.kafka.…`).
    pub name: String,
    pub description: &'static str,
    pub unit: &'static str,
    /// A monotonic sum (a counter) or a gauge.
    pub monotonic: bool,
    pub value: PointValue,
    /// Point attributes (`broker`, ...).
    pub attributes: Vec<(&'static str, String)>,
}

/// A point's number: counts are integers, averages and maxima (of latencies in ms)
/// doubles, as the Java client pushes them.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum PointValue {
    Int(i64),
    Double(f64),
}

/// Sum temporality: cumulative (since the client started) or delta (since the last
/// push), as the subscription asks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Temporality {
    Delta,
    Cumulative,
}

/// Wire types.
const VARINT: u8 = 0;
const FIXED64: u8 = 1;
const LEN: u8 = 2;

fn varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn tag(out: &mut Vec<u8>, field: u32, wire: u8) {
    varint(out, (u64::from(field) << 3) | u64::from(wire));
}

fn bytes(out: &mut Vec<u8>, field: u32, b: &[u8]) {
    tag(out, field, LEN);
    varint(out, b.len() as u64);
    out.extend_from_slice(b);
}

fn fixed64(out: &mut Vec<u8>, field: u32, v: u64) {
    tag(out, field, FIXED64);
    out.extend_from_slice(&v.to_le_bytes());
}

fn uint(out: &mut Vec<u8>, field: u32, v: u64) {
    tag(out, field, VARINT);
    varint(out, v);
}

/// A length-delimited sub-message written by `f`.
fn message(out: &mut Vec<u8>, field: u32, f: impl FnOnce(&mut Vec<u8>)) {
    let mut inner = Vec::new();
    f(&mut inner);
    bytes(out, field, &inner);
}

fn key_value(out: &mut Vec<u8>, field: u32, key: &str, value: &str) {
    message(out, field, |kv| {
        bytes(kv, 1, key.as_bytes());
        message(kv, 2, |any| bytes(any, 1, value.as_bytes()));
    });
}

/// Encodes `points` taken at `now_nanos` (since the Unix epoch), their sums counted
/// from `start_nanos`, with `resource` attributes, as a `MetricsData` message.
pub(crate) fn encode(
    resource: &[(&str, String)],
    points: &[Point],
    temporality: Temporality,
    start_nanos: u64,
    now_nanos: u64,
) -> Vec<u8> {
    let mut out = Vec::new();
    message(&mut out, 1, |rm| {
        message(rm, 1, |res| {
            for (k, v) in resource {
                key_value(res, 1, k, v);
            }
        });
        message(rm, 2, |sm| {
            message(sm, 1, |scope| {
                bytes(scope, 1, b"kafka-rs");
                bytes(scope, 2, env!("CARGO_PKG_VERSION").as_bytes());
            });
            for p in points {
                message(sm, 2, |m| {
                    bytes(m, 1, p.name.as_bytes());
                    bytes(m, 2, p.description.as_bytes());
                    bytes(m, 3, p.unit.as_bytes());
                    let point = |dp: &mut Vec<u8>| {
                        if p.monotonic {
                            fixed64(dp, 2, start_nanos);
                        }
                        fixed64(dp, 3, now_nanos);
                        match p.value {
                            PointValue::Int(v) => {
                                tag(dp, 6, FIXED64);
                                dp.extend_from_slice(&v.to_le_bytes());
                            }
                            PointValue::Double(v) => {
                                tag(dp, 4, FIXED64);
                                dp.extend_from_slice(&v.to_le_bytes());
                            }
                        }
                        for (k, v) in &p.attributes {
                            key_value(dp, 7, k, v);
                        }
                    };
                    if p.monotonic {
                        message(m, 7, |sum| {
                            message(sum, 1, point);
                            let t = match temporality {
                                Temporality::Delta => 1,
                                Temporality::Cumulative => 2,
                            };
                            uint(sum, 2, t);
                            uint(sum, 3, 1);
                        });
                    } else {
                        message(m, 5, |gauge| message(gauge, 1, point));
                    }
                });
            }
        });
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A minimal protobuf reader for the tests: (field, wire type, payload) triples.
    fn fields(mut b: &[u8]) -> Vec<(u32, u8, Vec<u8>)> {
        fn read_varint(b: &mut &[u8]) -> u64 {
            let (mut v, mut shift) = (0u64, 0);
            loop {
                let byte = b[0];
                *b = &b[1..];
                v |= u64::from(byte & 0x7f) << shift;
                if byte < 0x80 {
                    return v;
                }
                shift += 7;
            }
        }
        let mut out = Vec::new();
        while !b.is_empty() {
            let key = read_varint(&mut b);
            let (field, wire) = ((key >> 3) as u32, (key & 7) as u8);
            let payload = match wire {
                VARINT => read_varint(&mut b).to_le_bytes().to_vec(),
                FIXED64 => {
                    let (v, rest) = b.split_at(8);
                    b = rest;
                    v.to_vec()
                }
                LEN => {
                    let n = read_varint(&mut b) as usize;
                    let (v, rest) = b.split_at(n);
                    b = rest;
                    v.to_vec()
                }
                w => panic!("wire type {w}"),
            };
            out.push((field, wire, payload));
        }
        out
    }

    fn one(b: &[u8], field: u32) -> Vec<u8> {
        fields(b)
            .into_iter()
            .find(|(f, ..)| *f == field)
            .unwrap_or_else(|| panic!("field {field}"))
            .2
    }

    #[test]
    fn a_counter_and_a_gauge_encode_as_sum_and_gauge() {
        let points = vec![
            Point {
                name: "org.apache.kafka.client.requests".into(),
                description: "Requests sent.",
                unit: "requests",
                monotonic: true,
                value: PointValue::Int(42),
                attributes: vec![],
            },
            Point {
                name: "org.apache.kafka.client.requests.in.flight".into(),
                description: "In flight.",
                unit: "requests",
                monotonic: false,
                value: PointValue::Int(-3),
                attributes: vec![("broker", "1".into())],
            },
            Point {
                name: "org.apache.kafka.producer.node.request.latency.avg".into(),
                description: "Avg.",
                unit: "ms",
                monotonic: false,
                value: PointValue::Double(2.5),
                attributes: vec![("node_id", "node-1".into())],
            },
        ];
        let resource = [("client_id", "app".to_string())];
        let b = encode(&resource, &points, Temporality::Delta, 10, 20);
        let rm = one(&b, 1);
        let res = one(&rm, 1);
        let kv = one(&res, 1);
        assert_eq!(one(&kv, 1), b"client_id");
        assert_eq!(one(&one(&kv, 2), 1), b"app");
        let sm = one(&rm, 2);
        assert_eq!(one(&one(&sm, 1), 1), b"kafka-rs");
        let metrics: Vec<Vec<u8>> = fields(&sm)
            .into_iter()
            .filter(|(f, ..)| *f == 2)
            .map(|x| x.2)
            .collect();
        assert_eq!(metrics.len(), 3);
        assert_eq!(one(&metrics[0], 1), b"org.apache.kafka.client.requests");
        let sum = one(&metrics[0], 7);
        assert_eq!(one(&sum, 2)[0], 1, "delta");
        assert_eq!(one(&sum, 3)[0], 1, "monotonic");
        let dp = one(&sum, 1);
        assert_eq!(one(&dp, 2), 10u64.to_le_bytes());
        assert_eq!(one(&dp, 3), 20u64.to_le_bytes());
        assert_eq!(one(&dp, 6), 42i64.to_le_bytes());
        let gauge = one(&metrics[1], 5);
        let dp = one(&gauge, 1);
        assert_eq!(one(&dp, 6), (-3i64).to_le_bytes());
        assert_eq!(one(&one(&dp, 7), 1), b"broker");
        assert!(
            fields(&dp).iter().all(|(f, ..)| *f != 2),
            "a gauge has no start"
        );
        let dp = one(&one(&metrics[2], 5), 1);
        assert_eq!(one(&dp, 4), 2.5f64.to_le_bytes(), "as_double");
        assert!(fields(&dp).iter().all(|(f, ..)| *f != 6), "no as_int");
        let kv = one(&dp, 7);
        assert_eq!(
            (one(&kv, 1), one(&one(&kv, 2), 1)),
            (b"node_id".to_vec(), b"node-1".to_vec())
        );
    }

    #[test]
    fn long_fields_use_multi_byte_lengths() {
        let p = Point {
            name: "x".repeat(300),
            description: "",
            unit: "",
            monotonic: true,
            value: PointValue::Int(1),
            attributes: vec![],
        };
        let b = encode(&[], &[p], Temporality::Cumulative, 0, 0);
        let sm = one(&one(&b, 1), 2);
        let metric = fields(&sm).into_iter().find(|(f, ..)| *f == 2).unwrap().2;
        assert_eq!(one(&metric, 1).len(), 300);
        assert_eq!(one(&one(&metric, 7), 2)[0], 2, "cumulative");
    }
}
