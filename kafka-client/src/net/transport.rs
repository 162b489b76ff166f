//! The byte stream under a connection: TCP now, TLS over TCP when configured.

use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

use crate::config::BrokerAddress;

/// What a connection reads and writes: any async byte stream.
pub(crate) trait AsyncStream: AsyncRead + AsyncWrite + Send + Unpin {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin> AsyncStream for T {}

/// A boxed stream, so TCP and TLS connections share one connection task.
pub(crate) type BoxedStream = Box<dyn AsyncStream>;

/// Resolves `addr` and connects to the first address that answers within `timeout`.
pub(crate) async fn connect_tcp(
    addr: &BrokerAddress,
    timeout: Duration,
) -> Result<BoxedStream, String> {
    let target = (addr.host.as_str(), addr.port);
    let attempt = async {
        let mut last = String::from("no addresses resolved");
        let resolved = tokio::net::lookup_host(target)
            .await
            .map_err(|e| format!("cannot resolve {addr}: {e}"))?;
        for sock in resolved {
            match TcpStream::connect(sock).await {
                Ok(s) => {
                    let _ = s.set_nodelay(true);
                    return Ok(Box::new(s) as BoxedStream);
                }
                Err(e) => last = format!("{sock}: {e}"),
            }
        }
        Err(last)
    };
    match tokio::time::timeout(timeout, attempt).await {
        Ok(r) => r,
        Err(_) => Err(format!("TCP connect to {addr} timed out after {timeout:?}")),
    }
}
