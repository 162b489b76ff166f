//! Request and response framing: a 4-byte big-endian length, then the header and body.

use bytes::{Buf, BufMut, Bytes, BytesMut};
use kafka_protocol::messages::{ApiKey, RequestHeader, ResponseHeader};
use kafka_protocol::protocol::{Decodable, Encodable, HeaderVersion, Request, StrBytes};

/// Byte offset of the correlation id in an encoded request frame:
/// length (4) + api key (2) + api version (2).
pub(crate) const CORRELATION_OFFSET: usize = 8;

/// Encodes `req` at `version` into a complete frame whose correlation id is 0; the
/// connection task patches the real id in with [`set_correlation_id`].
pub(crate) fn encode_request<R: Request>(
    req: &R,
    version: i16,
    client_id: &StrBytes,
) -> Result<BytesMut, String> {
    let api = ApiKey::try_from(R::KEY).map_err(|_| format!("unknown API key {}", R::KEY))?;
    let header = RequestHeader::default()
        .with_request_api_key(R::KEY)
        .with_request_api_version(version)
        .with_correlation_id(0)
        .with_client_id(Some(client_id.clone()));
    let header_version = api.request_header_version(version);
    let size = header
        .compute_size(header_version)
        .and_then(|h| req.compute_size(version).map(|b| h + b))
        .map_err(|e| format!("cannot size {api:?} v{version}: {e}"))?;
    let mut buf = BytesMut::with_capacity(4 + size);
    buf.put_i32(0);
    header
        .encode(&mut buf, header_version)
        .and_then(|()| req.encode(&mut buf, version))
        .map_err(|e| format!("cannot encode {api:?} v{version}: {e}"))?;
    let len = (buf.len() - 4) as i32;
    buf[..4].copy_from_slice(&len.to_be_bytes());
    Ok(buf)
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
pub(crate) fn check_length(len: i32, max: usize) -> Result<usize, String> {
    if len < 4 {
        return Err(format!(
            "response frame length {len} is below the 4-byte minimum"
        ));
    }
    let len = len as usize;
    if len > max {
        return Err(format!(
            "response frame of {len} bytes exceeds the {max}-byte limit \
             (is the peer a Kafka broker speaking plaintext?)"
        ));
    }
    Ok(len)
}

/// Decodes a response frame (starting at the correlation id) for `R` at `version`,
/// checking that every byte was consumed.
pub(crate) fn decode_response<R: Request>(
    mut frame: Bytes,
    version: i16,
) -> Result<R::Response, String> {
    let api = ApiKey::try_from(R::KEY).map_err(|_| format!("unknown API key {}", R::KEY))?;
    ResponseHeader::decode(&mut frame, R::Response::header_version(version))
        .map_err(|e| format!("cannot decode {api:?} v{version} response header: {e}"))?;
    let resp = R::Response::decode(&mut frame, version)
        .map_err(|e| format!("cannot decode {api:?} v{version} response: {e}"))?;
    if frame.has_remaining() {
        return Err(format!(
            "{api:?} v{version} response has {} trailing bytes",
            frame.remaining()
        ));
    }
    Ok(resp)
}

#[cfg(test)]
mod tests {
    use super::*;
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
    fn lengths_checked() {
        assert!(check_length(-1, 100).is_err());
        assert!(check_length(3, 100).is_err());
        assert!(check_length(101, 100).unwrap_err().contains("exceeds"));
        assert_eq!(check_length(4, 100), Ok(4));
        // "HTTP" read as a length: an HTTP server on the port.
        assert!(check_length(i32::from_be_bytes(*b"HTTP"), 100 << 20).is_err());
    }
}
