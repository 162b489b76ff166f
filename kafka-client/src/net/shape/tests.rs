//! Layouts checked against kafka-protocol's own codec, for every version of every API.
//!
//! For each API and version a populated body is synthesised from the layout (two
//! elements per array, non-empty strings and bytes, every known tagged field plus an
//! unknown one, non-default values so the encoder writes every tagged field);
//! kafka-protocol must decode it consuming every byte and re-encode it byte for byte,
//! and the walker must accept it. Then every array count and length prefix is corrupted
//! in turn and the walker must reject it, naming the API, version and field.

use bytes::Bytes;
use kafka_protocol::messages::*;
use kafka_protocol::protocol::{Decodable, Encodable, HeaderVersion, Message, VersionRange};

use super::layout::{Api, Field, Kind};
use super::{APIS, check_body, check_response};

/// One length/count prefix in a synthesised body.
struct Prefix {
    offset: usize,
    width: usize,
    field: &'static str,
    array: bool,
}

struct Gen {
    out: Vec<u8>,
    version: i16,
    flexible: bool,
    prefixes: Vec<Prefix>,
}

const UNKNOWN_TAG: u32 = 99;
/// Tags below this that a struct does not declare are probed as unknown.
const PROBED_TAGS: u32 = 8;

impl Gen {
    fn uvarint(&mut self, mut v: u32) {
        while v >= 0x80 {
            self.out.push((v as u8) | 0x80);
            v >>= 7;
        }
        self.out.push(v as u8);
    }

    fn prefix(&mut self, n: usize, classic_width: usize, field: &'static str, array: bool) {
        let offset = self.out.len();
        if self.flexible {
            self.uvarint(n as u32 + 1);
        } else if classic_width == 2 {
            self.out.extend_from_slice(&(n as i16).to_be_bytes());
        } else {
            self.out.extend_from_slice(&(n as i32).to_be_bytes());
        }
        let width = self.out.len() - offset;
        self.prefixes.push(Prefix {
            offset,
            width,
            field,
            array,
        });
    }

    fn kind(&mut self, kind: &Kind, field: &'static str) {
        match kind {
            Kind::Fixed { size } => self
                .out
                .extend(std::iter::repeat_n(1u8, usize::from(*size))),
            Kind::Str => {
                self.prefix(2, 2, field, false);
                self.out.extend_from_slice(b"ab");
            }
            Kind::Bytes => {
                self.prefix(3, 4, field, false);
                self.out.extend_from_slice(&[7, 8, 9]);
            }
            Kind::Array { of } => {
                self.prefix(2, 4, field, true);
                self.kind(of, field);
                self.kind(of, field);
            }
            Kind::Struct { fields } => self.fields(fields),
        }
    }

    fn fields(&mut self, fields: &[Field]) {
        for f in fields {
            if f.tag.is_none() && f.present(self.version) {
                self.kind(&f.kind, f.name);
            }
        }
        if !self.flexible {
            return;
        }
        // Known tags with generated content; every undeclared tag below 8 and one high
        // tag with a one-byte probe. If kafka-protocol knew a tag the layout does not,
        // it would decode the probe structurally and the round trip would fail.
        let mut entries: Vec<(u32, Vec<u8>, Vec<Prefix>)> = Vec::new();
        for f in fields
            .iter()
            .filter(|f| f.tag.is_some() && f.present(self.version))
        {
            let mut inner = Gen {
                out: Vec::new(),
                version: self.version,
                flexible: true,
                prefixes: Vec::new(),
            };
            inner.kind(&f.kind, f.name);
            entries.push((f.tag.unwrap(), inner.out, inner.prefixes));
        }
        for t in (0..PROBED_TAGS).chain([UNKNOWN_TAG]) {
            if !fields.iter().any(|f| f.tag == Some(t)) {
                entries.push((t, vec![1], Vec::new()));
            }
        }
        entries.sort_by_key(|e| e.0);
        self.uvarint(entries.len() as u32);
        for (tag, content, prefixes) in entries {
            self.uvarint(tag);
            self.uvarint(content.len() as u32);
            let base = self.out.len();
            self.out.extend_from_slice(&content);
            self.prefixes.extend(prefixes.into_iter().map(|mut p| {
                p.offset += base;
                p
            }));
        }
    }
}

fn synthesise(api: &Api, version: i16) -> Gen {
    let mut g = Gen {
        out: Vec::new(),
        version,
        flexible: version >= api.flex,
        prefixes: Vec::new(),
    };
    g.fields(api.body);
    g
}

/// Decodes `body` with kafka-protocol's type for the API and encodes it back.
fn roundtrip<R: Decodable + Encodable>(body: &[u8], version: i16) -> Result<Vec<u8>, String> {
    let mut buf = Bytes::copy_from_slice(body);
    let decoded = R::decode(&mut buf, version).map_err(|e| format!("decode: {e}"))?;
    if !buf.is_empty() {
        return Err(format!("kafka-protocol left {} bytes", buf.len()));
    }
    let mut out = bytes::BytesMut::new();
    decoded
        .encode(&mut out, version)
        .map_err(|e| format!("encode: {e}"))?;
    Ok(out.to_vec())
}

/// kafka-protocol's facts about a response type: versions and header version.
struct Codec {
    versions: VersionRange,
    header_version: fn(i16) -> i16,
    roundtrip: fn(&[u8], i16) -> Result<Vec<u8>, String>,
}

fn codec<R: Decodable + Encodable + Message + HeaderVersion>() -> Codec {
    Codec {
        versions: R::VERSIONS,
        header_version: R::header_version,
        roundtrip: roundtrip::<R>,
    }
}

fn codec_for(key: i16) -> Codec {
    match ApiKey::try_from(key).expect("known key") {
        ApiKey::Produce => codec::<ProduceResponse>(),
        ApiKey::Fetch => codec::<FetchResponse>(),
        ApiKey::ListOffsets => codec::<ListOffsetsResponse>(),
        ApiKey::Metadata => codec::<MetadataResponse>(),
        ApiKey::OffsetCommit => codec::<OffsetCommitResponse>(),
        ApiKey::OffsetFetch => codec::<OffsetFetchResponse>(),
        ApiKey::FindCoordinator => codec::<FindCoordinatorResponse>(),
        ApiKey::JoinGroup => codec::<JoinGroupResponse>(),
        ApiKey::Heartbeat => codec::<HeartbeatResponse>(),
        ApiKey::LeaveGroup => codec::<LeaveGroupResponse>(),
        ApiKey::SyncGroup => codec::<SyncGroupResponse>(),
        ApiKey::SaslHandshake => codec::<SaslHandshakeResponse>(),
        ApiKey::ApiVersions => codec::<ApiVersionsResponse>(),
        ApiKey::SaslAuthenticate => codec::<SaslAuthenticateResponse>(),
        ApiKey::InitProducerId => codec::<InitProducerIdResponse>(),
        ApiKey::AddPartitionsToTxn => codec::<AddPartitionsToTxnResponse>(),
        ApiKey::AddOffsetsToTxn => codec::<AddOffsetsToTxnResponse>(),
        ApiKey::EndTxn => codec::<EndTxnResponse>(),
        ApiKey::TxnOffsetCommit => codec::<TxnOffsetCommitResponse>(),
        ApiKey::CreateTopics => codec::<CreateTopicsResponse>(),
        ApiKey::DeleteTopics => codec::<DeleteTopicsResponse>(),
        ApiKey::DeleteRecords => codec::<DeleteRecordsResponse>(),
        ApiKey::DescribeGroups => codec::<DescribeGroupsResponse>(),
        ApiKey::ListGroups => codec::<ListGroupsResponse>(),
        ApiKey::DescribeAcls => codec::<DescribeAclsResponse>(),
        ApiKey::CreateAcls => codec::<CreateAclsResponse>(),
        ApiKey::DeleteAcls => codec::<DeleteAclsResponse>(),
        ApiKey::DescribeConfigs => codec::<DescribeConfigsResponse>(),
        ApiKey::CreatePartitions => codec::<CreatePartitionsResponse>(),
        ApiKey::DeleteGroups => codec::<DeleteGroupsResponse>(),
        ApiKey::IncrementalAlterConfigs => codec::<IncrementalAlterConfigsResponse>(),
        ApiKey::OffsetDelete => codec::<OffsetDeleteResponse>(),
        ApiKey::DescribeCluster => codec::<DescribeClusterResponse>(),
        ApiKey::ConsumerGroupDescribe => codec::<ConsumerGroupDescribeResponse>(),
        other => panic!("no codec for {other:?} in the test table"),
    }
}

#[test]
fn layouts_cover_every_version_kafka_protocol_decodes() {
    for api in APIS {
        let c = codec_for(api.key);
        assert_eq!(
            (api.min, api.max),
            (c.versions.min, c.versions.max),
            "{} version range",
            api.name
        );
        for v in api.min..=api.max {
            // ApiVersions always answers with header v0 so that any client can read it.
            let flexible_header = (c.header_version)(v) >= 1;
            let expected = v >= api.flex && api.key != ApiKey::ApiVersions as i16;
            assert_eq!(flexible_header, expected, "{} v{v} flexibility", api.name);
        }
    }
}

#[test]
fn populated_bodies_match_kafka_protocol_for_every_version() {
    let mut checked = 0;
    for api in APIS {
        let c = codec_for(api.key);
        for v in api.min..=api.max {
            let g = synthesise(api, v);
            let again = (c.roundtrip)(&g.out, v).unwrap_or_else(|e| {
                panic!("{} v{v}: kafka-protocol rejects the layout: {e}", api.name)
            });
            assert_eq!(again, g.out, "{} v{v}: re-encoded bytes differ", api.name);
            check_body(api.key, v, &g.out)
                .unwrap_or_else(|e| panic!("{} v{v}: walker rejects a valid body: {e}", api.name));
            // The whole frame, with the header the API uses at this version.
            let mut frame = 7i32.to_be_bytes().to_vec();
            let hv = (c.header_version)(v);
            if hv >= 1 {
                frame.push(0);
            }
            frame.extend_from_slice(&g.out);
            check_response(api.key, v, hv, &frame)
                .unwrap_or_else(|e| panic!("{} v{v}: walker rejects a valid frame: {e}", api.name));
            checked += 1;
        }
    }
    assert!(checked > 150, "only {checked} API versions checked");
}

/// Replaces the prefix at `p` with a hostile value.
fn corrupt(body: &[u8], p: &Prefix, flexible: bool, value: u32) -> Vec<u8> {
    let mut out = body[..p.offset].to_vec();
    if flexible {
        let mut v = value;
        while v >= 0x80 {
            out.push((v as u8) | 0x80);
            v >>= 7;
        }
        out.push(v as u8);
    } else if p.width == 2 {
        out.extend_from_slice(
            &((value as i32).clamp(i16::MIN.into(), i16::MAX.into()) as i16).to_be_bytes(),
        );
    } else {
        out.extend_from_slice(&(value as i32).to_be_bytes());
    }
    out.extend_from_slice(&body[p.offset + p.width..]);
    out
}

#[test]
fn every_corrupted_count_and_length_is_rejected_with_its_field() {
    let mut corrupted = 0;
    for api in APIS {
        for v in api.min..=api.max {
            let g = synthesise(api, v);
            for p in &g.prefixes {
                let flexible = v >= api.flex;
                for value in [i32::MAX as u32, 1 << 31, 0x7fff] {
                    let bad = corrupt(&g.out, p, flexible, value);
                    let err = check_body(api.key, v, &bad)
                        .expect_err(&format!(
                            "{} v{v}: corrupted {} at {} accepted",
                            api.name, p.field, p.offset
                        ))
                        .to_string();
                    assert!(
                        err.contains(api.name)
                            && err.contains(&format!("v{v}"))
                            && err.contains(p.field),
                        "{} v{v} {}: {err}",
                        api.name,
                        p.field
                    );
                    if p.array {
                        assert!(
                            err.contains("array count") || err.contains("negative"),
                            "{err}"
                        );
                    }
                    corrupted += 1;
                }
                // Negative lengths other than -1 (classic encodings only).
                if !flexible {
                    let bad = corrupt(&g.out, p, false, (-2i32) as u32);
                    let err = check_body(api.key, v, &bad)
                        .expect_err("negative length accepted")
                        .to_string();
                    assert!(err.contains("negative"), "{err}");
                }
            }
        }
    }
    assert!(corrupted > 1000, "only {corrupted} corruptions tried");
}
