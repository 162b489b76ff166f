//! Request and response framing: a 4-byte big-endian length, then the header and body.
//!
//! Requests that carry record batches (Produce) are encoded into a [`Frame`]: the header
//! and the small fields are written into one buffer, and each batch's `Bytes` is kept by
//! reference at its place instead of being copied, so the connection writes it straight
//! from the producer's batch buffer (vectored write) and the batch bytes are never
//! resident twice.

use std::fmt;

use super::Fault;

use bytes::buf::UninitSlice;
use bytes::{Buf, BufMut, Bytes, BytesMut};
use kafka_protocol::messages::{ApiKey, ProduceRequest, RequestHeader, ResponseHeader};
use kafka_protocol::protocol::buf::ByteBufMut;
use kafka_protocol::protocol::{Decodable, Encodable, HeaderVersion, Request, StrBytes};

/// Byte offset of the correlation id in an encoded request frame:
/// length (4) + api key (2) + api version (2).
pub(crate) const CORRELATION_OFFSET: usize = 8;

/// A request that could not be encoded: which API and version, and kafka-protocol's
/// reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct EncodeError {
    api: i16,
    version: i16,
    detail: String,
}

impl EncodeError {
    fn new<R: Request>(version: i16, detail: impl fmt::Display) -> Self {
        Self {
            api: R::KEY,
            version,
            detail: detail.to_string(),
        }
    }
}

impl fmt::Display for EncodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match ApiKey::try_from(self.api) {
            Ok(api) => write!(f, "{api:?} v{}: {}", self.version, self.detail),
            Err(()) => write!(f, "API key {} v{}: {}", self.api, self.version, self.detail),
        }
    }
}

impl std::error::Error for EncodeError {}

/// Encodes `req` at `version` into a complete frame whose correlation id is 0; the
/// connection task patches the real id in with [`set_correlation_id`].
pub(crate) fn encode_request<R: Request>(
    req: &R,
    version: i16,
    client_id: &StrBytes,
) -> Result<BytesMut, EncodeError> {
    let api =
        ApiKey::try_from(R::KEY).map_err(|_| EncodeError::new::<R>(version, "unknown API key"))?;
    let header = request_header::<R>(version, client_id);
    let header_version = api.request_header_version(version);
    let size = header
        .compute_size(header_version)
        .and_then(|h| req.compute_size(version).map(|b| h + b))
        .map_err(|e| EncodeError::new::<R>(version, format_args!("cannot size: {e}")))?;
    let mut buf = BytesMut::with_capacity(4 + size);
    buf.put_i32(0);
    header
        .encode(&mut buf, header_version)
        .and_then(|()| req.encode(&mut buf, version))
        .map_err(|e| EncodeError::new::<R>(version, e))?;
    let len = (buf.len() - 4) as i32;
    buf[..4].copy_from_slice(&len.to_be_bytes());
    Ok(buf)
}

/// Byte strings shorter than this are always copied into the frame's buffer.
const SPLICE_MIN: usize = 1024;

/// An encoded request frame: `head` holds every byte except the spliced parts, each of
/// which goes at its offset in `head` (before the byte at that offset).
#[derive(Debug)]
pub(crate) struct Frame {
    pub(crate) head: BytesMut,
    pub(crate) spliced: Vec<(usize, Bytes)>,
}

impl Frame {
    /// Length on the wire, length prefix included.
    pub(crate) fn len(&self) -> usize {
        self.head.len() + self.spliced.iter().map(|(_, b)| b.len()).sum::<usize>()
    }

    /// Writes the correlation id (always in `head`: the header is never spliced).
    pub(crate) fn set_correlation_id(&mut self, id: i32) {
        set_correlation_id(&mut self.head, id);
    }
}

/// A `BufMut` that writes into `head`, except that a `put_slice` of exactly one of
/// `candidates` (same memory, same length) is recorded as a splice instead of copied.
struct SplicingBuf<'a> {
    head: BytesMut,
    spliced: Vec<(usize, Bytes)>,
    spliced_len: usize,
    candidates: &'a [Bytes],
    /// Candidates come in encoding order: where the next one is looked for first.
    next: usize,
}

impl SplicingBuf<'_> {
    fn find(&mut self, src: &[u8]) -> Option<Bytes> {
        if src.len() < SPLICE_MIN {
            return None;
        }
        let n = self.candidates.len();
        (0..n)
            .map(|i| (self.next + i) % n)
            .find(|&i| {
                let c = &self.candidates[i];
                c.as_ptr() == src.as_ptr() && c.len() == src.len()
            })
            .map(|i| {
                self.next = i + 1;
                self.candidates[i].clone()
            })
    }
}

// SAFETY: every method forwards to `BytesMut`'s own `BufMut` implementation with the
// caller's arguments, so the contract (`chunk_mut` valid for writes, `advance_mut` only
// over initialised bytes) holds exactly as it does for `BytesMut`. Only `put_slice` is
// overridden, and it goes through safe calls.
#[allow(unsafe_code)]
unsafe impl BufMut for SplicingBuf<'_> {
    fn remaining_mut(&self) -> usize {
        self.head.remaining_mut()
    }

    unsafe fn advance_mut(&mut self, cnt: usize) {
        // SAFETY: forwarded unchanged; the caller upholds `advance_mut`'s contract.
        unsafe { self.head.advance_mut(cnt) }
    }

    fn chunk_mut(&mut self) -> &mut UninitSlice {
        self.head.chunk_mut()
    }

    fn put_slice(&mut self, src: &[u8]) {
        match self.find(src) {
            Some(part) => {
                self.spliced_len += part.len();
                self.spliced.push((self.head.len(), part));
            }
            None => self.head.extend_from_slice(src),
        }
    }
}

impl ByteBufMut for SplicingBuf<'_> {
    fn offset(&self) -> usize {
        self.head.len() + self.spliced_len
    }

    fn seek(&mut self, offset: usize) {
        // Only gaps use seek/range, and kafka-protocol's message encoders use none; keep
        // them correct for bytes written after the last splice.
        self.head.resize(offset.saturating_sub(self.spliced_len), 0);
    }

    fn range(&mut self, r: std::ops::Range<usize>) -> &mut [u8] {
        let d = self.spliced_len;
        &mut self.head[r.start.saturating_sub(d)..r.end.saturating_sub(d)]
    }
}

/// Encodes a Produce request into a [`Frame`] (correlation id 0) whose record batches
/// are spliced in by reference rather than copied.
pub(crate) fn encode_produce(
    req: &ProduceRequest,
    version: i16,
    client_id: &StrBytes,
) -> Result<Frame, EncodeError> {
    let batches: Vec<Bytes> = req
        .topic_data
        .iter()
        .flat_map(|t| t.partition_data.iter())
        .filter_map(|p| p.records.clone())
        .collect();
    encode_spliced(req, version, client_id, &batches)
}

/// Encodes `req` into a [`Frame`], splicing in any of `candidates` the encoding writes.
pub(crate) fn encode_spliced<R: Request>(
    req: &R,
    version: i16,
    client_id: &StrBytes,
    candidates: &[Bytes],
) -> Result<Frame, EncodeError> {
    let api =
        ApiKey::try_from(R::KEY).map_err(|_| EncodeError::new::<R>(version, "unknown API key"))?;
    let header = request_header::<R>(version, client_id);
    let header_version = api.request_header_version(version);
    let size = header
        .compute_size(header_version)
        .and_then(|h| req.compute_size(version).map(|b| h + b))
        .map_err(|e| EncodeError::new::<R>(version, format_args!("cannot size: {e}")))?;
    let by_ref: usize = candidates
        .iter()
        .filter(|c| c.len() >= SPLICE_MIN)
        .map(Bytes::len)
        .sum();
    let mut buf = SplicingBuf {
        head: BytesMut::with_capacity((4 + size).saturating_sub(by_ref).max(64)),
        spliced: Vec::with_capacity(candidates.len()),
        spliced_len: 0,
        candidates,
        next: 0,
    };
    buf.put_i32(0);
    header
        .encode(&mut buf, header_version)
        .and_then(|()| req.encode(&mut buf, version))
        .map_err(|e| EncodeError::new::<R>(version, e))?;
    let total = buf.head.len() + buf.spliced_len;
    let len = i32::try_from(total - 4).map_err(|_| {
        EncodeError::new::<R>(
            version,
            format_args!("a request of {total} bytes is too large"),
        )
    })?;
    buf.head[..4].copy_from_slice(&len.to_be_bytes());
    Ok(Frame {
        head: buf.head,
        spliced: buf.spliced,
    })
}

fn request_header<R: Request>(version: i16, client_id: &StrBytes) -> RequestHeader {
    RequestHeader::default()
        .with_request_api_key(R::KEY)
        .with_request_api_version(version)
        .with_correlation_id(0)
        .with_client_id(Some(client_id.clone()))
}

/// The API version of an encoded request frame (bytes 6..8).
pub(crate) fn frame_version(frame: &[u8]) -> i16 {
    frame
        .get(6..8)
        .map_or(-1, |b| i16::from_be_bytes([b[0], b[1]]))
}

/// Writes the correlation id into an encoded frame.
pub(crate) fn set_correlation_id(frame: &mut [u8], id: i32) {
    frame[CORRELATION_OFFSET..CORRELATION_OFFSET + 4].copy_from_slice(&id.to_be_bytes());
}

/// Reads the length prefix of a response and checks it: at least 4 bytes (the
/// correlation id), at most `max`.
pub(crate) fn check_length(len: i32, max: usize) -> Result<usize, Fault> {
    if len < 4 {
        return Err(Fault::decode(format!(
            "response frame length {len} is below the 4-byte minimum"
        )));
    }
    let len = len as usize;
    if len > max {
        return Err(Fault::decode(format!(
            "response frame of {len} bytes exceeds the {max}-byte limit \
             (is the peer a Kafka broker speaking plaintext?)"
        )));
    }
    Ok(len)
}

/// Decodes a response frame (starting at the correlation id) for `R` at `version`,
/// checking that every byte was consumed.
pub(crate) fn decode_response<R: Request>(
    mut frame: Bytes,
    version: i16,
) -> Result<R::Response, Fault> {
    let api = ApiKey::try_from(R::KEY)
        .map_err(|_| Fault::decode(format!("unknown API key {}", R::KEY)))?;
    // Bounds every length and count first: kafka-protocol reserves array capacity from
    // the wire count, and a failed huge allocation aborts the process. The generated
    // messages (protocol_gen) bound every count in their own decoders.
    if !crate::protocol_gen::codec::is_generated::<R::Response>() {
        super::shape::check_response(
            R::KEY,
            version,
            R::Response::header_version(version),
            &frame,
        )
        .map_err(|e| Fault::decode(format!("cannot decode {e}")))?;
    }
    ResponseHeader::decode(&mut frame, R::Response::header_version(version)).map_err(|e| {
        Fault::decode(format!(
            "cannot decode {api:?} v{version} response header: {e}"
        ))
    })?;
    let resp = R::Response::decode(&mut frame, version)
        .map_err(|e| Fault::decode(format!("cannot decode {api:?} v{version} response: {e}")))?;
    if frame.has_remaining() {
        return Err(Fault::decode(format!(
            "{api:?} v{version} response has {} trailing bytes",
            frame.remaining()
        )));
    }
    Ok(resp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_field_the_version_lacks_is_an_encode_error_naming_api_and_version() {
        use kafka_protocol::messages::FindCoordinatorRequest;
        let req = FindCoordinatorRequest::default()
            .with_coordinator_keys(vec![StrBytes::from_static_str("g")]);
        let e = encode_request(&req, 3, &StrBytes::from_static_str("t")).unwrap_err();
        let text = e.to_string();
        assert!(text.starts_with("FindCoordinator v3: "), "{text}");
        assert!(encode_request(&req, 4, &StrBytes::from_static_str("t")).is_ok());
    }
    use kafka_protocol::messages::{ApiVersionsRequest, MetadataRequest};

    #[test]
    fn frame_layout() {
        let req = MetadataRequest::default();
        let mut f = encode_request(&req, 12, &StrBytes::from_static_str("t")).unwrap();
        let len = i32::from_be_bytes(f[..4].try_into().unwrap()) as usize;
        assert_eq!(len, f.len() - 4);
        assert_eq!(i16::from_be_bytes([f[4], f[5]]), 3);
        assert_eq!(i16::from_be_bytes([f[6], f[7]]), 12);
        set_correlation_id(&mut f, 0x01020304);
        assert_eq!(&f[8..12], &[1, 2, 3, 4]);
        let _ = encode_request(&ApiVersionsRequest::default(), 3, &StrBytes::new()).unwrap();
    }

    #[test]
    fn produce_batches_are_spliced_not_copied() {
        use kafka_protocol::messages::TopicName;
        use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
        let big = Bytes::from(vec![7u8; 5000]);
        let small = Bytes::from(vec![9u8; 10]);
        let part = |i, b: &Bytes| {
            PartitionProduceData::default()
                .with_index(i)
                .with_records(Some(b.clone()))
        };
        let req = ProduceRequest::default()
            .with_acks(-1)
            .with_topic_data(vec![
                TopicProduceData::default()
                    .with_name(TopicName(StrBytes::from_static_str("t")))
                    .with_partition_data(vec![part(0, &big), part(1, &small), part(2, &big)]),
            ]);
        let id = StrBytes::from_static_str("c");
        for version in [3, 9, 12] {
            let mut f = encode_produce(&req, version, &id).unwrap();
            assert_eq!(f.spliced.len(), 2, "v{version}: the two big batches");
            assert!(f.spliced.iter().all(|(_, b)| b.as_ptr() == big.as_ptr()));
            // Flattened, the frame is byte for byte the copying encoder's.
            let mut flat = Vec::new();
            let mut at = 0;
            for (pos, b) in &f.spliced {
                flat.extend_from_slice(&f.head[at..*pos]);
                flat.extend_from_slice(b);
                at = *pos;
            }
            flat.extend_from_slice(&f.head[at..]);
            let copied = encode_request(&req, version, &id).unwrap();
            assert_eq!(flat, &copied[..]);
            assert_eq!(f.len(), copied.len());
            f.set_correlation_id(5);
            assert_eq!(&f.head[8..12], &[0, 0, 0, 5]);
        }
    }

    #[test]
    fn lengths_checked() {
        assert!(check_length(-1, 100).is_err());
        assert!(check_length(3, 100).is_err());
        assert!(
            check_length(101, 100)
                .unwrap_err()
                .to_string()
                .contains("exceeds")
        );
        assert_eq!(check_length(4, 100), Ok(4));
        // "HTTP" read as a length: an HTTP server on the port.
        assert!(check_length(i32::from_be_bytes(*b"HTTP"), 100 << 20).is_err());
    }
}
