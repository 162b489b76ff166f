//! Talking to a KDC: one request per TCP connection, each message prefixed with its
//! 4-byte big-endian length (RFC 4120 7.2.2). KDCs are tried in order.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::KerberosFailure;

/// How long one KDC gets to answer (connect, send, receive).
const KDC_TIMEOUT: Duration = Duration::from_secs(10);
/// The largest reply accepted.
const MAX_REPLY: usize = 1 << 20;

/// Sends `request` to the first KDC of `kdcs` that answers; returns its reply.
pub(crate) async fn send(kdcs: &[String], request: &[u8]) -> Result<Vec<u8>, KerberosFailure> {
    let mut last = String::from("no KDC configured");
    for kdc in kdcs {
        match tokio::time::timeout(KDC_TIMEOUT, exchange(kdc, request)).await {
            Ok(Ok(reply)) => return Ok(reply),
            Ok(Err(e)) => last = format!("{kdc}: {e}"),
            Err(_) => last = format!("{kdc}: no answer within {KDC_TIMEOUT:?}"),
        }
        tracing::debug!(kdc = %kdc, error = %last, "KDC did not answer");
    }
    Err(KerberosFailure::KdcUnreachable {
        kdcs: kdcs.to_vec(),
        reason: last,
    })
}

async fn exchange(kdc: &str, request: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut s = TcpStream::connect(kdc).await?;
    let mut out = Vec::with_capacity(request.len() + 4);
    out.extend_from_slice(&(request.len() as u32).to_be_bytes());
    out.extend_from_slice(request);
    s.write_all(&out).await?;
    let mut len = [0u8; 4];
    s.read_exact(&mut len).await?;
    let len = u32::from_be_bytes(len) as usize;
    if len > MAX_REPLY {
        return Err(std::io::Error::other(format!(
            "reply of {len} bytes is larger than {MAX_REPLY}"
        )));
    }
    let mut reply = vec![0u8; len];
    s.read_exact(&mut reply).await?;
    Ok(reply)
}
