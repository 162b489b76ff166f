//! Unit tests of the record batch v2 codec (crate-private helpers included): round trips for every codec, known wire bytes from librdkafka
//! and the Java client, and malformed input that must give typed errors, never panics.

use crate::records::{
    BATCH_HEADER_SIZE, BatchBuilder, BatchMeta, Compression, ControlRecord, ControlRecordType,
    DecodeLimits, Header, Record, RecordBatch, RecordsError, TimestampType, batch_size_upper_bound,
    crc32c, decode_batches, restamp_producer,
};
use bytes::{BufMut, Bytes, BytesMut};

// ---------------------------------------------------------------------------------------
// Helpers

fn hex(s: &str) -> Bytes {
    assert!(s.len() % 2 == 0);
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect::<Vec<u8>>()
        .into()
}

fn decode_all(data: Bytes) -> (Vec<RecordBatch>, bool) {
    let mut decoder = decode_batches(data, DecodeLimits::default());
    let batches = decoder.by_ref().map(Result::unwrap).collect();
    (batches, decoder.is_truncated())
}

fn single_batch(data: Bytes) -> RecordBatch {
    let (mut batches, truncated) = decode_all(data);
    assert_eq!(batches.len(), 1);
    assert!(!truncated);
    batches.pop().unwrap()
}

/// A record as given to the builder.
#[derive(Clone)]
struct Input {
    timestamp: i64,
    key: Option<Vec<u8>>,
    value: Option<Vec<u8>>,
    headers: Vec<Header>,
}

fn varied_inputs(n: usize) -> Vec<Input> {
    (0..n)
        .map(|i| {
            let key = match i % 4 {
                0 => None,
                1 => Some(Vec::new()),
                _ => Some(format!("key-{i}").into_bytes()),
            };
            let value = match i % 7 {
                0 => None,
                1 => Some(Vec::new()),
                // A few large values spanning many compression blocks.
                2 if i % 100 == 2 => Some((0..300_000).map(|j| (j * 31 + i) as u8).collect()),
                _ => Some(format!("value {i} {}", "x".repeat(i % 50)).into_bytes()),
            };
            let headers = match i % 3 {
                0 => Vec::new(),
                1 => vec![
                    Header::new("dup", Some(Bytes::from(format!("first-{i}")))),
                    Header::new("other", None),
                    Header::new("dup", Some(Bytes::new())),
                    Header::new("dup", Some(Bytes::from_static(b"third"))),
                ],
                _ => vec![Header::new(
                    "ünïcödé",
                    Some(Bytes::from_static(b"\x00\xff")),
                )],
            };
            // Timestamps go up and down: deltas may be negative.
            let timestamp = 1_700_000_000_000 + ((i as i64 * 37 + 500) % 1000) - 500;
            Input {
                timestamp,
                key,
                value,
                headers,
            }
        })
        .collect()
}

fn build(compression: Compression, inputs: &[Input], meta: &BatchMeta) -> Bytes {
    let mut builder = BatchBuilder::new(compression, usize::MAX);
    for r in inputs {
        builder
            .append(
                r.timestamp,
                r.key.as_deref(),
                r.value.as_deref(),
                &r.headers,
            )
            .unwrap();
    }
    assert_eq!(builder.len(), inputs.len());
    builder.finish(meta).unwrap()
}

fn assert_records_match(records: &[Record], inputs: &[Input], base_offset: i64) {
    assert_eq!(records.len(), inputs.len());
    for (i, (got, want)) in records.iter().zip(inputs).enumerate() {
        assert_eq!(got.offset, base_offset + i as i64, "record {i}");
        assert_eq!(got.timestamp, want.timestamp, "record {i}");
        assert_eq!(got.key.as_deref(), want.key.as_deref(), "record {i}");
        assert_eq!(got.value.as_deref(), want.value.as_deref(), "record {i}");
        assert_eq!(got.headers, want.headers, "record {i}");
    }
}

/// A v2 batch with arbitrary header fields and records section, and a correct CRC.
fn raw_batch(base_offset: i64, attributes: i16, count: i32, records: &[u8]) -> Bytes {
    let mut b = BytesMut::new();
    b.put_i64(base_offset);
    b.put_i32((BATCH_HEADER_SIZE - 12 + records.len()) as i32);
    b.put_i32(0); // partition leader epoch
    b.put_i8(2);
    b.put_u32(0); // crc placeholder
    b.put_i16(attributes);
    b.put_i32(count - 1);
    b.put_i64(1_000); // base timestamp
    b.put_i64(2_000); // max timestamp
    b.put_i64(-1);
    b.put_i16(-1);
    b.put_i32(-1);
    b.put_i32(count);
    b.put_slice(records);
    fix_crc(&mut b);
    b.freeze()
}

fn fix_crc(batch: &mut [u8]) {
    let crc = crc32c(&batch[21..]);
    batch[17..21].copy_from_slice(&crc.to_be_bytes());
}

/// Zig-zag varint, written independently of the crate's own encoder.
fn varint(out: &mut Vec<u8>, v: i64) {
    let mut u = ((v << 1) ^ (v >> 63)) as u64;
    while u >= 0x80 {
        out.push((u as u8) | 0x80);
        u >>= 7;
    }
    out.push(u as u8);
}

/// One record's body (without its length prefix): key "k", value "v", given headers.
fn record_body(offset_delta: i64, headers: &[(&[u8], Option<&[u8]>)]) -> Vec<u8> {
    let mut b = vec![0u8]; // attributes
    varint(&mut b, 0); // timestamp delta
    varint(&mut b, offset_delta);
    varint(&mut b, 1);
    b.push(b'k');
    varint(&mut b, 1);
    b.push(b'v');
    varint(&mut b, headers.len() as i64);
    for (k, v) in headers {
        varint(&mut b, k.len() as i64);
        b.extend_from_slice(k);
        match v {
            None => varint(&mut b, -1),
            Some(v) => {
                varint(&mut b, v.len() as i64);
                b.extend_from_slice(v);
            }
        }
    }
    b
}

fn with_length(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    varint(&mut out, body.len() as i64);
    out.extend_from_slice(body);
    out
}

/// Decodes a single raw batch and collects its records, returning the first error.
fn records_of(batch: Bytes) -> Result<Vec<Record>, RecordsError> {
    let mut batches = decode_batches(batch, DecodeLimits::default());
    let batch = batches.next().expect("one batch")?;
    batch.records_vec()
}

// ---------------------------------------------------------------------------------------
// Checksums and known bytes

#[test]
fn crc32c_check_vector() {
    assert_eq!(crc32c(b"123456789"), 0xE306_9283);
    assert_eq!(crc32c(b""), 0);
}

// Batches captured by rskafka's tests from librdkafka (one record: key, "hello kafka",
// header foo=bar) and, for snappy, a two-record batch written by the Java client (xerial
// framing), read back from a broker.
const NONE: &str = concat!(
    "00000000000000000000004b00000000022724fecd0000000000000000000061",
    "d59b770000000061d59b77ffffffffffffffffffffffffffff00000001320000",
    "00001668656c6c6f206b61666b610206666f6f06626172",
);
const GZIP: &str = concat!(
    "0000000000000000000000640000000002ba4146650001000000000000017e90",
    "b334670000017e90b33467ffffffffffffffffffffffffffff000000011f8b08",
    "00000000000003fbc3c8c0c07082b1820e402c233527275f213b312d3b91892d",
    "2d3f9f2d29b10800e4cdba1f80000000",
);
const LZ4: &str = concat!(
    "00000000000000000000006300000000021ba592350003000000000000017eb1",
    "1fc7240000017eb11fc724ffffffffffffffffffffffffffff0000000104224d",
    "18604082230000008ffc01000000c80178010050f0061668656c6c6f206b6166",
    "6b610206666f6f0662617200000000",
);
const SNAPPY_RAW: &str = concat!(
    "0000000000000000000000580000000002ad86f4f40002000000000000017eb6",
    "450e520000017eb6450e52ffffffffffffffffffffffffffff0000000180011c",
    "fc01000000c80178fe01008a0100501668656c6c6f206b61666b610206666f6f",
    "06626172",
);
const SNAPPY_JAVA: &str = concat!(
    "00000000000000000000008c0000000002791e2dce0002000000010000017f07",
    "257ab10000017f07257ab1ffffffffffffffffffffffffffff0000000282534e",
    "4150505900000000010000000100000047ff011cfc01000000c80178fe01008a",
    "0100641668656c6c6f206b61666b610206666f6f06626172fa01000002fe8000",
    "9680004c14736f6d652076616c75650206666f6f06626172",
);
const ZSTD: &str = concat!(
    "00000000000000000000005d0000000002a16e4e950004000000000000017ebf",
    "78f3ad0000017ebf78f3adffffffffffffffffffffffffffff0000000128b52f",
    "fd00581d0100e8fc01000000c801781668656c6c6f206b61666b610206666f6f",
    "06626172010020055c",
);

fn check_fixture_record(r: &Record, offset: i64, timestamp: i64, key: &[u8], value: &[u8]) {
    assert_eq!(r.offset, offset);
    assert_eq!(r.timestamp, timestamp);
    assert_eq!(r.key.as_deref(), Some(key));
    assert_eq!(r.value.as_deref(), Some(value));
    assert_eq!(
        r.headers,
        vec![Header::new("foo", Some(Bytes::from_static(b"bar")))]
    );
}

#[test]
fn librdkafka_and_java_fixtures_decode() {
    let xs = [b'x'; 100];
    let cases: [(&str, Compression, i64, &[u8]); 5] = [
        (NONE, Compression::None, 1_641_388_919, b""),
        (GZIP, Compression::Gzip, 1_643_105_170_535, &xs),
        (LZ4, Compression::Lz4, 1_643_649_156_900, &xs),
        (SNAPPY_RAW, Compression::Snappy, 1_643_735_486_034, &xs),
        (ZSTD, Compression::Zstd, 1_643_889_882_029, &xs),
    ];
    for (data, compression, timestamp, key) in cases {
        let batch = single_batch(hex(data));
        assert_eq!(batch.compression(), compression);
        assert_eq!(batch.base_offset(), 0);
        assert_eq!(batch.last_offset(), 0);
        assert_eq!(batch.partition_leader_epoch(), 0);
        assert_eq!(batch.producer_id(), -1);
        assert_eq!(batch.producer_epoch(), -1);
        assert_eq!(batch.base_sequence(), -1);
        assert_eq!(batch.max_timestamp(), timestamp);
        assert_eq!(batch.timestamp_type(), TimestampType::CreateTime);
        assert!(!batch.is_transactional() && !batch.is_control());
        let records = batch.records_vec().unwrap();
        assert_eq!(records.len(), 1, "{compression}");
        check_fixture_record(&records[0], 0, timestamp, key, b"hello kafka");
    }

    let batch = single_batch(hex(SNAPPY_JAVA));
    assert_eq!(batch.compression(), Compression::Snappy);
    assert_eq!(batch.records_count(), 2);
    assert_eq!(batch.last_offset(), 1);
    let records = batch.records_vec().unwrap();
    check_fixture_record(&records[0], 0, 1_645_092_371_121, &xs, b"hello kafka");
    check_fixture_record(&records[1], 1, 1_645_092_371_121, &xs, b"some value");
}

#[test]
fn encoder_reproduces_librdkafka_bytes_exactly() {
    let mut builder = BatchBuilder::new(Compression::None, 1 << 20);
    let headers = [Header::new("foo", Some(Bytes::from_static(b"bar")))];
    builder
        .append(1_641_388_919, Some(b""), Some(b"hello kafka"), &headers)
        .unwrap();
    let meta = BatchMeta {
        partition_leader_epoch: 0,
        ..BatchMeta::default()
    };
    assert_eq!(builder.finish(&meta).unwrap(), hex(NONE));
}

#[test]
fn fixtures_re_encode_and_round_trip() {
    for data in [NONE, GZIP, LZ4, SNAPPY_RAW, SNAPPY_JAVA, ZSTD] {
        let batch = single_batch(hex(data));
        let original = batch.records_vec().unwrap();
        let mut builder = BatchBuilder::new(batch.compression(), 1 << 20);
        for r in &original {
            builder
                .append(
                    r.timestamp,
                    r.key.as_deref(),
                    r.value.as_deref(),
                    &r.headers,
                )
                .unwrap();
        }
        let again = single_batch(builder.finish(&BatchMeta::default()).unwrap());
        assert_eq!(again.records_vec().unwrap(), original);
    }
}

// ---------------------------------------------------------------------------------------
// Round trips

#[test]
fn every_codec_round_trips_many_records() {
    let inputs = varied_inputs(1_000);
    let meta = BatchMeta {
        producer_id: 4_242,
        producer_epoch: 7,
        base_sequence: 1_000,
        transactional: true,
        partition_leader_epoch: -1,
        is_control: false,
    };
    let min_ts = inputs.iter().map(|r| r.timestamp).min().unwrap();
    let max_ts = inputs.iter().map(|r| r.timestamp).max().unwrap();
    let mut uncompressed_len = 0;
    for compression in Compression::ALL {
        let bytes = build(compression, &inputs, &meta);
        if compression == Compression::None {
            uncompressed_len = bytes.len();
        } else {
            assert!(
                bytes.len() < uncompressed_len / 2,
                "{compression} did not compress"
            );
        }
        let batch = single_batch(bytes);
        assert_eq!(batch.compression(), compression);
        assert_eq!(batch.records_count(), 1_000);
        assert_eq!(batch.last_offset(), 999);
        assert_eq!(batch.next_offset(), 1_000);
        assert_eq!(batch.producer_id(), 4_242);
        assert_eq!(batch.producer_epoch(), 7);
        assert_eq!(batch.base_sequence(), 1_000);
        assert!(batch.is_transactional());
        assert!(!batch.is_control());
        assert_eq!(batch.base_timestamp(), inputs[0].timestamp);
        assert_eq!(batch.max_timestamp(), max_ts);
        assert!(min_ts < batch.base_timestamp());
        assert_eq!(batch.control_record().unwrap(), None);
        let records = batch.records_vec().unwrap();
        assert_records_match(&records, &inputs, 0);
    }
}

#[test]
fn several_batches_with_real_offsets_decode_in_order() {
    let inputs = varied_inputs(50);
    let mut fetch = BytesMut::new();
    let mut next = 1_000i64;
    for compression in Compression::ALL {
        let mut batch = BytesMut::from(&build(compression, &inputs, &BatchMeta::default())[..]);
        // The broker assigns the base offset; it is outside the CRC.
        batch[..8].copy_from_slice(&next.to_be_bytes());
        fetch.extend_from_slice(&batch);
        next += inputs.len() as i64;
    }
    let (batches, truncated) = decode_all(fetch.freeze());
    assert!(!truncated);
    assert_eq!(batches.len(), 5);
    for (i, batch) in batches.iter().enumerate() {
        let base = 1_000 + 50 * i as i64;
        assert_eq!(batch.base_offset(), base);
        assert_records_match(&batch.records_vec().unwrap(), &inputs, base);
    }
}

#[test]
fn uncompressed_records_share_the_fetch_buffer() {
    let inputs = varied_inputs(20);
    let bytes = build(Compression::None, &inputs, &BatchMeta::default());
    let range = bytes.as_ptr() as usize..bytes.as_ptr() as usize + bytes.len();
    let batch = single_batch(bytes.clone());
    assert_eq!(batch.as_bytes().as_ptr(), bytes.as_ptr());
    // Lazy: take three records without parsing the rest.
    let mut records = batch.records().unwrap();
    let first: Vec<Record> = records.by_ref().take(3).map(Result::unwrap).collect();
    assert_eq!(records.remaining(), 17);
    let value = first[2].value.as_ref().unwrap();
    assert!(range.contains(&(value.as_ptr() as usize)));
}

#[test]
fn empty_batch_round_trips() {
    for compression in Compression::ALL {
        let bytes = BatchBuilder::new(compression, 1024)
            .finish(&BatchMeta::default())
            .unwrap();
        let batch = single_batch(bytes);
        assert_eq!(batch.records_count(), 0);
        assert_eq!(batch.last_offset_delta(), -1);
        assert_eq!(batch.max_timestamp(), -1);
        assert!(batch.records_vec().unwrap().is_empty(), "{compression}");
    }
}

#[test]
fn builder_respects_max_bytes_and_reports_sizes() {
    let value = [b'v'; 100];
    let mut builder = BatchBuilder::new(Compression::None, 1_000);
    assert!(builder.is_empty());
    assert_eq!(builder.estimated_size(), BATCH_HEADER_SIZE);
    let mut accepted = 0;
    loop {
        let fits = builder.would_fit(5, None, Some(&value), &[]);
        let size_before = builder.estimated_size();
        let record_size = builder.record_size(5, None, Some(&value), &[]);
        let appended = builder.try_append(5, None, Some(&value), &[]).unwrap();
        assert_eq!(fits, appended);
        if !appended {
            assert_eq!(builder.estimated_size(), size_before);
            break;
        }
        assert_eq!(builder.estimated_size(), size_before + record_size);
        assert!(builder.estimated_size() <= 1_000);
        accepted += 1;
    }
    assert_eq!(accepted, builder.len());
    assert!(accepted > 5);
    // An uncompressed batch is exactly its estimate.
    let estimate = builder.estimated_size();
    assert_eq!(
        builder.finish(&BatchMeta::default()).unwrap().len(),
        estimate
    );

    // The first record always fits, however large.
    let big = vec![1u8; 5_000];
    let mut builder = BatchBuilder::new(Compression::Lz4, 1_000);
    assert!(builder.try_append(1, Some(b"k"), Some(&big), &[]).unwrap());
    assert!(!builder.try_append(1, None, Some(b"small"), &[]).unwrap());
    let headers = [Header::new("a", Some(Bytes::from_static(b"b")))];
    let bound = batch_size_upper_bound(Some(b"k"), Some(&big), &headers);
    let mut one = BatchBuilder::new(Compression::None, 0).with_base_timestamp(i64::MAX);
    one.append(i64::MIN, Some(b"k"), Some(&big), &headers)
        .unwrap();
    assert!(one.estimated_size() <= bound);
}

#[test]
fn buffer_reuse_and_explicit_base_timestamp() {
    let buf = b"left over bytes from an earlier batch".to_vec();
    let mut builder =
        BatchBuilder::with_buffer(Compression::Snappy, 1 << 16, buf).with_base_timestamp(100);
    builder.append(90, None, Some(b"a"), &[]).unwrap();
    builder.append(130, None, Some(b"b"), &[]).unwrap();
    let batch = single_batch(builder.finish(&BatchMeta::default()).unwrap());
    assert_eq!(batch.base_timestamp(), 100);
    assert_eq!(batch.max_timestamp(), 130);
    let ts: Vec<i64> = batch
        .records()
        .unwrap()
        .map(|r| r.unwrap().timestamp)
        .collect();
    assert_eq!(ts, [90, 130]);
}

#[test]
fn log_append_time_uses_the_batch_max_timestamp() {
    let inputs = varied_inputs(5);
    let mut bytes = BytesMut::from(&build(Compression::Gzip, &inputs, &BatchMeta::default())[..]);
    // Broker rewrites: attributes bit 3 and max timestamp.
    bytes[22] |= 0x08;
    bytes[35..43].copy_from_slice(&9_999i64.to_be_bytes());
    fix_crc(&mut bytes);
    let batch = single_batch(bytes.freeze());
    assert_eq!(batch.timestamp_type(), TimestampType::LogAppendTime);
    for r in batch.records().unwrap() {
        assert_eq!(r.unwrap().timestamp, 9_999);
    }
}

#[test]
fn control_batches_expose_their_marker() {
    for (kind, transactional) in [
        (ControlRecordType::Commit, true),
        (ControlRecordType::Abort, true),
        (ControlRecordType::Other(3), false),
    ] {
        let mut builder = BatchBuilder::new(Compression::None, 1024);
        let key = ControlRecord::new(kind).to_key();
        // End transaction marker value: version 0, coordinator epoch 5.
        builder
            .append(1, Some(&key), Some(&[0, 0, 0, 0, 0, 5]), &[])
            .unwrap();
        let meta = BatchMeta {
            producer_id: 9,
            producer_epoch: 1,
            transactional,
            is_control: true,
            ..BatchMeta::default()
        };
        let batch = single_batch(builder.finish(&meta).unwrap());
        assert!(batch.is_control());
        assert_eq!(batch.is_transactional(), transactional);
        assert_eq!(
            batch.control_record().unwrap(),
            Some(ControlRecord { version: 0, kind })
        );
    }

    // A control batch without a usable key is an error, not a panic.
    let body = {
        let mut b = vec![0u8, 0, 0];
        varint(&mut b, -1); // null key
        varint(&mut b, -1); // null value
        varint(&mut b, 0);
        b
    };
    let batch = decode_batches(
        raw_batch(0, 0x30, 1, &with_length(&body)),
        DecodeLimits::default(),
    )
    .next()
    .unwrap()
    .unwrap();
    assert!(matches!(
        batch.control_record(),
        Err(RecordsError::InvalidControlRecord { .. })
    ));
    let empty_control = raw_batch(0, 0x20, 0, &[]);
    let batch = decode_batches(empty_control, DecodeLimits::default())
        .next()
        .unwrap()
        .unwrap();
    assert!(matches!(
        batch.control_record(),
        Err(RecordsError::InvalidControlRecord { .. })
    ));
}

// ---------------------------------------------------------------------------------------
// Re-stamping and CRC

#[test]
fn restamp_keeps_the_crc_valid() {
    let inputs = varied_inputs(30);
    let meta = BatchMeta {
        producer_id: 1,
        producer_epoch: 0,
        base_sequence: 10,
        ..BatchMeta::default()
    };
    for compression in Compression::ALL {
        let original = build(compression, &inputs, &meta);
        let mut bytes = BytesMut::from(&original[..]);
        restamp_producer(&mut bytes, 77, 3, 500).unwrap();
        let batch = single_batch(bytes.freeze());
        assert_eq!(batch.producer_id(), 77);
        assert_eq!(batch.producer_epoch(), 3);
        assert_eq!(batch.base_sequence(), 500);
        assert_records_match(&batch.records_vec().unwrap(), &inputs, 0);

        let mut copy = original.to_vec();
        restamp_producer(&mut copy, 78, 4, 501).unwrap();
        let batch = single_batch(Bytes::from(copy));
        assert_eq!(
            (
                batch.producer_id(),
                batch.producer_epoch(),
                batch.base_sequence()
            ),
            (78, 4, 501)
        );
    }
}

#[test]
fn restamp_rejects_what_is_not_one_batch() {
    let bytes = build(Compression::None, &varied_inputs(2), &BatchMeta::default());
    let mut short = bytes[..40].to_vec();
    assert!(matches!(
        restamp_producer(&mut short, 1, 1, 1),
        Err(RecordsError::InvalidBatchLength { .. })
    ));
    let mut extra = bytes.to_vec();
    extra.push(0);
    assert!(matches!(
        restamp_producer(&mut extra, 1, 1, 1),
        Err(RecordsError::InvalidBatchLength { .. })
    ));
    let mut magic1 = bytes.to_vec();
    magic1[16] = 1;
    assert!(matches!(
        restamp_producer(&mut magic1, 1, 1, 1),
        Err(RecordsError::UnsupportedMagic { magic: 1, .. })
    ));
}

#[test]
fn crc_mismatch_is_detected_and_iteration_continues() {
    let inputs = varied_inputs(10);
    let good = build(Compression::None, &inputs, &BatchMeta::default());
    let mut bad = BytesMut::from(&good[..]);
    bad[..8].copy_from_slice(&500i64.to_be_bytes());
    let last = bad.len() - 1;
    bad[last] ^= 0x01;
    let mut fetch = BytesMut::new();
    fetch.extend_from_slice(&bad);
    fetch.extend_from_slice(&good);
    let results: Vec<_> = decode_batches(fetch.clone().freeze(), DecodeLimits::default()).collect();
    assert_eq!(results.len(), 2);
    match &results[0] {
        Err(RecordsError::CrcMismatch {
            base_offset,
            expected,
            actual,
        }) => {
            assert_eq!(*base_offset, 500);
            assert_ne!(expected, actual);
        }
        other => panic!("expected a CRC mismatch, got {other:?}"),
    }
    assert!(results[1].is_ok());

    let no_check = DecodeLimits {
        verify_crc: false,
        ..DecodeLimits::default()
    };
    assert!(decode_batches(fetch.freeze(), no_check).all(|r| r.is_ok()));
}

// ---------------------------------------------------------------------------------------
// Truncation

#[test]
fn truncated_last_batch_ends_iteration_cleanly() {
    let inputs = varied_inputs(20);
    let mut fetch = BytesMut::new();
    for (i, compression) in [Compression::None, Compression::Zstd, Compression::Lz4]
        .into_iter()
        .enumerate()
    {
        let mut b = BytesMut::from(&build(compression, &inputs, &BatchMeta::default())[..]);
        b[..8].copy_from_slice(&(i as i64 * 20).to_be_bytes());
        fetch.extend_from_slice(&b);
    }
    let fetch = fetch.freeze();
    let (all, truncated) = decode_all(fetch.clone());
    assert_eq!(all.len(), 3);
    assert!(!truncated);
    let last_start = all[0].size_in_bytes() + all[1].size_in_bytes();
    // Every cut inside the last batch, from one byte to all but one.
    for cut in last_start + 1..fetch.len() {
        let mut decoder = decode_batches(fetch.slice(..cut), DecodeLimits::default());
        let batches: Vec<RecordBatch> = decoder.by_ref().map(Result::unwrap).collect();
        assert_eq!(batches.len(), 2, "cut at {cut}");
        assert!(decoder.is_truncated(), "cut at {cut}");
        assert_eq!(decoder.remaining_bytes(), cut - last_start);
        assert_records_match(&batches[1].records_vec().unwrap(), &inputs, 20);
    }
    // A fetch holding only part of its first batch yields nothing, truncated.
    let mut decoder = decode_batches(fetch.slice(..100), DecodeLimits::default());
    assert!(decoder.next().is_none());
    assert!(decoder.is_truncated());
}

// ---------------------------------------------------------------------------------------
// Malformed input

#[test]
fn framing_errors_are_typed() {
    // Wrong magic (an old message set).
    let mut old = raw_batch(3, 0, 0, &[]).to_vec();
    old[16] = 1;
    let mut it = decode_batches(old.into(), DecodeLimits::default());
    assert!(matches!(
        it.next(),
        Some(Err(RecordsError::UnsupportedMagic {
            base_offset: 3,
            magic: 1
        }))
    ));
    assert!(it.next().is_none());

    // Batch length below the header size, and negative.
    for length in [48, 0, -1, i32::MIN] {
        let mut b = raw_batch(0, 0, 0, &[]).to_vec();
        b[8..12].copy_from_slice(&length.to_be_bytes());
        let mut it = decode_batches(b.into(), DecodeLimits::default());
        assert!(
            matches!(
                it.next(),
                Some(Err(RecordsError::InvalidBatchLength { length: l, .. }))
                    if l == i64::from(length)
            ),
            "length {length}"
        );
        assert!(it.next().is_none());
    }

    // A huge length is a batch we do not have all of: truncation, not an error.
    let mut b = raw_batch(0, 0, 0, &[]).to_vec();
    b[8..12].copy_from_slice(&i32::MAX.to_be_bytes());
    let mut it = decode_batches(b.into(), DecodeLimits::default());
    assert!(it.next().is_none());
    assert!(it.is_truncated());

    // Unknown codec id and negative record count.
    assert!(matches!(
        decode_batches(raw_batch(0, 6, 0, &[]), DecodeLimits::default()).next(),
        Some(Err(RecordsError::UnknownCompression { codec: 6, .. }))
    ));
    assert!(matches!(
        decode_batches(raw_batch(0, 0, -5, &[]), DecodeLimits::default()).next(),
        Some(Err(RecordsError::NegativeLength {
            field: "records count",
            value: -5,
            ..
        }))
    ));
}

#[test]
fn record_errors_are_typed() {
    let good = with_length(&record_body(0, &[]));
    let two = [good.clone(), with_length(&record_body(1, &[]))].concat();

    // Fewer records than declared.
    assert!(matches!(
        records_of(raw_batch(0, 0, 3, &two)),
        Err(RecordsError::RecordCountMismatch {
            declared: 3,
            actual: 2,
            ..
        })
    ));
    // More bytes than the declared records.
    assert!(matches!(
        records_of(raw_batch(0, 0, 1, &two)),
        Err(RecordsError::TrailingBytes { declared: 1, extra, .. }) if extra == good.len()
    ));
    // Record length beyond the records section.
    let mut long = good.clone();
    long[0] += 20;
    assert!(matches!(
        records_of(raw_batch(0, 0, 1, &long)),
        Err(RecordsError::TruncatedRecord {
            field: "record",
            ..
        })
    ));
    // Record length shorter than its fields.
    let body = record_body(0, &[]);
    let mut short = Vec::new();
    varint(&mut short, body.len() as i64 - 2);
    short.extend_from_slice(&body);
    assert!(matches!(
        records_of(raw_batch(0, 0, 1, &short)),
        Err(RecordsError::TruncatedRecord { .. })
    ));
    // Record length longer than its fields (padding inside the record).
    let mut padded = body.clone();
    padded.push(0);
    assert!(matches!(
        records_of(raw_batch(0, 0, 1, &with_length(&padded))),
        Err(RecordsError::RecordSizeMismatch { .. })
    ));
    // Negative record length.
    assert!(matches!(
        records_of(raw_batch(0, 0, 1, &[0x01])),
        Err(RecordsError::NegativeLength {
            field: "record length",
            value: -1,
            ..
        })
    ));
    // Varint overflow in the record length and in the timestamp delta.
    assert!(matches!(
        records_of(raw_batch(0, 0, 1, &[0xff, 0xff, 0xff, 0xff, 0xff, 0x01])),
        Err(RecordsError::VarintOverflow {
            field: "record length",
            ..
        })
    ));
    let mut bad_ts = vec![0u8];
    bad_ts.extend_from_slice(&[0xff; 11]);
    assert!(matches!(
        records_of(raw_batch(0, 0, 1, &with_length(&bad_ts))),
        Err(RecordsError::VarintOverflow {
            field: "timestamp delta",
            ..
        })
    ));
    // Key length below -1.
    let mut neg_key = vec![0u8, 0, 0];
    varint(&mut neg_key, -2);
    assert!(matches!(
        records_of(raw_batch(0, 0, 1, &with_length(&neg_key))),
        Err(RecordsError::NegativeLength {
            field: "key length",
            value: -2,
            ..
        })
    ));
    // Header count larger than the record could hold.
    let mut many_headers = vec![0u8, 0, 0, 1, 1];
    varint(&mut many_headers, i64::from(i32::MAX));
    assert!(matches!(
        records_of(raw_batch(0, 0, 1, &with_length(&many_headers))),
        Err(RecordsError::TruncatedRecord { .. })
    ));
    // Header key not UTF-8.
    let bad_key = record_body(0, &[(b"\xff\xfe", None)]);
    assert!(matches!(
        records_of(raw_batch(7, 0, 1, &with_length(&bad_key))),
        Err(RecordsError::InvalidHeaderKey {
            base_offset: 7,
            offset: 7
        })
    ));
    // Header key length negative (a null key is not allowed).
    let mut null_header_key = vec![0u8, 0, 0, 1, 1];
    varint(&mut null_header_key, 1);
    varint(&mut null_header_key, -1);
    assert!(matches!(
        records_of(raw_batch(0, 0, 1, &with_length(&null_header_key))),
        Err(RecordsError::NegativeLength {
            field: "header key length",
            ..
        })
    ));
    // Corrupt compressed payload.
    assert!(matches!(
        records_of(raw_batch(0, 1, 1, b"not gzip at all")),
        Err(RecordsError::Decompress {
            codec: Compression::Gzip,
            ..
        })
    ));

    // Errors carry a readable message.
    let err = records_of(raw_batch(0, 0, 3, &two)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "record batch at offset 0: header declares 3 records but only 2 are present"
    );
}

#[test]
fn record_iterator_stops_after_an_error() {
    let records = [with_length(&record_body(0, &[])), vec![0x01]].concat();
    let batch = decode_batches(raw_batch(0, 0, 2, &records), DecodeLimits::default())
        .next()
        .unwrap()
        .unwrap();
    let mut it = batch.records().unwrap();
    assert!(it.next().unwrap().is_ok());
    assert!(it.next().unwrap().is_err());
    assert!(it.next().is_none());
    assert!(it.next().is_none());
}

/// Deterministic xorshift, for the corruption sweep.
fn xorshift(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

#[test]
fn corrupted_batches_never_panic() {
    let inputs = varied_inputs(12)
        .into_iter()
        .filter(|r| r.value.as_ref().is_none_or(|v| v.len() < 1000))
        .collect::<Vec<_>>();
    let limits = DecodeLimits {
        verify_crc: false, // let corruption reach the record parser
        max_decompressed_bytes: 1 << 20,
    };
    let mut seed = 0x9E37_79B9_7F4A_7C15u64;
    for compression in Compression::ALL {
        let good = build(compression, &inputs, &BatchMeta::default());
        for _ in 0..3_000 {
            let mut bytes = good.to_vec();
            let flips = 1 + xorshift(&mut seed) % 4;
            for _ in 0..flips {
                let at = (xorshift(&mut seed) as usize) % bytes.len();
                bytes[at] = xorshift(&mut seed) as u8;
            }
            let cut = bytes.len() - (xorshift(&mut seed) as usize % 8);
            bytes.truncate(cut);
            for batch in decode_batches(bytes.into(), limits).flatten() {
                let _ = batch.control_record();
                if let Ok(records) = batch.records() {
                    for r in records {
                        let _ = r;
                    }
                }
            }
        }
    }
    // Pure garbage.
    for len in 0..200 {
        let bytes: Vec<u8> = (0..len).map(|_| xorshift(&mut seed) as u8).collect();
        for batch in decode_batches(bytes.into(), limits).flatten() {
            let _ = batch.records_vec();
        }
    }
}

// ---------------------------------------------------------------------------------------
// Compression bombs

#[test]
fn compression_bomb_is_refused() {
    let limits = DecodeLimits {
        max_decompressed_bytes: 1 << 20,
        ..DecodeLimits::default()
    };
    // 100 MiB of zeros gzip to about 100 KiB.
    let zeros = vec![0u8; 100 << 20];
    let mut builder = BatchBuilder::new(Compression::Gzip, usize::MAX);
    builder.append(0, None, Some(&zeros), &[]).unwrap();
    let bomb = builder.finish(&BatchMeta::default()).unwrap();
    assert!(bomb.len() < 1 << 20);
    let batch = decode_batches(bomb, limits).next().unwrap().unwrap();
    match batch.records() {
        Err(RecordsError::DecompressedTooLarge { codec, limit, .. }) => {
            assert_eq!(codec, Compression::Gzip);
            assert_eq!(limit, 1 << 20);
        }
        other => panic!("expected the bomb to be refused, got {other:?}"),
    }

    // The other codecs, with 16 MiB.
    let zeros = &zeros[..16 << 20];
    for compression in [Compression::Snappy, Compression::Lz4, Compression::Zstd] {
        let mut builder = BatchBuilder::new(compression, usize::MAX);
        builder.append(0, None, Some(zeros), &[]).unwrap();
        let bomb = builder.finish(&BatchMeta::default()).unwrap();
        let batch = decode_batches(bomb, limits).next().unwrap().unwrap();
        assert!(
            matches!(
                batch.records(),
                Err(RecordsError::DecompressedTooLarge { codec, .. }) if codec == compression
            ),
            "{compression}"
        );
    }
}
