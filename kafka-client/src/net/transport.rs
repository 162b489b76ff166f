//! The byte stream under a connection: TCP, or TLS (rustls) over TCP.

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

use super::Fault;
use super::tls;
use crate::config::{BrokerAddress, ClientConfig};
use crate::error::{Error, ErrorContext};

/// What a connection reads and writes: any async byte stream (a TCP socket, a TLS
/// session, or what a [`Dial`] implementation returns).
pub trait AsyncStream: AsyncRead + AsyncWrite + Send + Unpin {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin> AsyncStream for T {}

/// What [`Dial::dial`] returns: the connected stream, or why not.
pub type DialFuture =
    Pin<Box<dyn std::future::Future<Output = io::Result<Box<dyn AsyncStream>>> + Send>>;

/// Opens the byte stream to a broker instead of TCP: the seam a deterministic
/// simulation uses to run the client over in-memory pipes. Set only through
/// [`lowlevel::with_dialer`](crate::lowlevel::with_dialer).
pub trait Dial: Send + Sync {
    /// Connects to `addr` (TLS and SASL, when configured, still run on top).
    fn dial(&self, addr: &BrokerAddress) -> DialFuture;
}

/// A configured [`Dial`], shared by every connection of a client.
#[derive(Clone)]
pub(crate) struct Dialer(pub(crate) Arc<dyn Dial>);

impl std::fmt::Debug for Dialer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Dialer(custom)")
    }
}

/// A boxed stream, so TCP and TLS connections share one connection task.
pub(crate) type BoxedStream = Box<dyn AsyncStream>;

/// Resolves `addr` and connects to the first address that answers within `timeout`.
pub(crate) async fn connect_tcp(
    addr: &BrokerAddress,
    timeout: Duration,
) -> Result<TcpStream, Fault> {
    let target = (addr.host.as_str(), addr.port);
    let attempt = async {
        let mut last = String::from("no addresses resolved");
        let resolved = tokio::net::lookup_host(target)
            .await
            .map_err(|e| Fault::connect(format!("cannot resolve {addr}: {e}")))?;
        for sock in resolved {
            match TcpStream::connect(sock).await {
                Ok(s) => {
                    let _ = s.set_nodelay(true);
                    return Ok(s);
                }
                Err(e) => last = format!("{sock}: {e}"),
            }
        }
        Err(Fault::connect(last))
    };
    match tokio::time::timeout(timeout, attempt).await {
        Ok(r) => r,
        Err(_) => Err(Fault::connect(format!(
            "TCP connect to {addr} timed out after {timeout:?}"
        ))),
    }
}

/// A connected stream, plus (for TLS) the last TLS error seen on it: with TLS 1.3 the
/// broker rejects a missing client certificate only after the client's handshake has
/// finished, so the alert arrives with the first response.
pub(crate) struct Transport {
    pub(crate) stream: BoxedStream,
    pub(crate) tls_errors: Option<TlsErrors>,
}

/// Connects to `addr` over TCP, then TLS when the security protocol says so. TLS
/// verification failures come back as typed [`Error::Tls`]s.
pub(crate) async fn connect(
    addr: &BrokerAddress,
    config: &ClientConfig,
    context: &ErrorContext,
) -> Result<Transport, Error> {
    let fail = |reason: String| Error::Connect {
        context: context.clone(),
        reason,
    };
    let tcp: BoxedStream = match &config.dialer {
        Some(Dialer(dial)) => {
            match tokio::time::timeout(config.connect_timeout, dial.dial(addr)).await {
                Ok(Ok(stream)) => stream,
                Ok(Err(e)) => return Err(fail(format!("dialing {addr}: {e}"))),
                Err(_) => {
                    return Err(fail(format!(
                        "dialing {addr} timed out after {:?}",
                        config.connect_timeout
                    )));
                }
            }
        }
        None => Box::new(
            connect_tcp(addr, config.connect_timeout)
                .await
                .map_err(|f| fail(f.into_message()))?,
        ),
    };
    let Some(source) = config.security.tls.as_ref() else {
        return Ok(Transport {
            stream: Box::new(tcp),
            tls_errors: None,
        });
    };
    // Per connection: the material may have been rotated (`config/tls_reload.rs`).
    let tls_config = source.current().await?;
    let name = tls::server_name(&addr.host).map_err(|f| fail(f.into_message()))?;
    let connector = tokio_rustls::TlsConnector::from(tls_config);
    let stream = connector.connect(name, tcp).await.map_err(|e| {
        tls::classify(&e, context).unwrap_or_else(|| fail(format!("TLS handshake failed: {e}")))
    })?;
    let errors = TlsErrors::default();
    Ok(Transport {
        stream: Box::new(Tapped {
            inner: stream,
            errors: errors.clone(),
        }),
        tls_errors: Some(errors),
    })
}

/// The last rustls error a [`Tapped`] stream reported.
#[derive(Clone, Default)]
pub(crate) struct TlsErrors(Arc<Mutex<Option<rustls::Error>>>);

impl TlsErrors {
    /// The error seen, if any.
    pub(crate) fn take(&self) -> Option<rustls::Error> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).take()
    }

    fn note<T>(&self, r: Poll<io::Result<T>>) -> Poll<io::Result<T>> {
        if let Poll::Ready(Err(e)) = &r {
            if let Some(t) = e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()) {
                *self.0.lock().unwrap_or_else(|e| e.into_inner()) = Some(t.clone());
            }
        }
        r
    }
}

/// A stream that records the TLS errors its reads and writes return.
struct Tapped<S> {
    inner: S,
    errors: TlsErrors,
}

impl<S: AsyncRead + Unpin> AsyncRead for Tapped<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let r = Pin::new(&mut self.inner).poll_read(cx, buf);
        self.errors.note(r)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Tapped<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write(cx, buf);
        self.errors.note(r)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let r = Pin::new(&mut self.inner).poll_flush(cx);
        self.errors.note(r)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        self.errors.note(r)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}
