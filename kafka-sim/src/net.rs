//! The simulated network: a [`Dial`] that connects the client to a simulated broker
//! over an in-memory pipe, and the broker side of each connection, where the seeded
//! network faults happen (lost requests, lost responses, delayed and duplicated
//! responses). A crash or a reset closes a broker's connections.

use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use kafka_client::BrokerAddress;
use kafka_client::lowlevel::{AsyncStream, Dial, DialFuture};
use kafka_protocol::messages::ApiKey;
use kafka_testkit::raw::parse_request;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, DuplexStream, ReadBuf};
use tokio::task::AbortHandle;

use crate::cluster::{Cluster, PORT};
use crate::faults::Chaos;

/// The broker side of the client's connections, per broker, to close them.
#[derive(Debug, Default)]
pub(crate) struct Connections(Mutex<Vec<(i32, AbortHandle)>>);

impl Connections {
    /// Closes every connection of `broker`.
    pub fn reset(&self, broker: i32) {
        let mut all = self.0.lock().unwrap_or_else(|e| e.into_inner());
        all.retain(|(b, h)| {
            if *b == broker {
                h.abort();
            }
            *b != broker && !h.is_finished()
        });
    }
}

/// Dials simulated brokers (`broker-<id>:9092`).
#[derive(Debug, Clone)]
pub(crate) struct SimDialer {
    pub cluster: Cluster,
    pub chaos: Chaos,
    pub connections: Arc<Connections>,
}

impl Dial for SimDialer {
    fn dial(&self, addr: &BrokerAddress) -> DialFuture {
        let this = self.clone();
        let broker = addr
            .host
            .strip_prefix("broker-")
            .and_then(|id| id.parse::<i32>().ok())
            .filter(|_| addr.port == PORT);
        Box::pin(async move {
            let Some(broker) = broker.filter(|&b| this.cluster.alive(b)) else {
                return Err(io::Error::new(
                    io::ErrorKind::ConnectionRefused,
                    "simulated broker is down",
                ));
            };
            let (client, server) = tokio::io::duplex(1 << 20);
            let closed = Arc::new(AtomicBool::new(false));
            let task = tokio::spawn(serve(
                server,
                closed.clone(),
                broker,
                this.cluster.clone(),
                this.chaos,
            ));
            this.connections
                .0
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push((broker, task.abort_handle()));
            Ok(Box::new(ClientEnd {
                inner: client,
                closed,
            }) as Box<dyn AsyncStream>)
        })
    }
}

/// What the network does to one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NetFault {
    /// The connection drops before the broker reads the request.
    LoseRequest,
    /// The broker acts on the request, then the connection drops.
    LoseResponse,
    /// The response arrives this late.
    Delay(Duration),
    /// The response frame arrives twice.
    Duplicate,
}

/// The client's end of a pipe. Dropping it (the client closed the connection) tells
/// the broker side to drop what it has not read yet: a broker reads a connection's next
/// request only after answering the previous one, and a closed socket's unread bytes
/// are never read, so a request the client gave up on is not acted on later.
struct ClientEnd {
    inner: DuplexStream,
    closed: Arc<AtomicBool>,
}

impl Drop for ClientEnd {
    fn drop(&mut self) {
        self.closed.store(true, Ordering::SeqCst);
    }
}

impl AsyncRead for ClientEnd {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for ClientEnd {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.closed.store(true, Ordering::SeqCst);
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

async fn serve(
    mut sock: DuplexStream,
    closed: Arc<AtomicBool>,
    broker: i32,
    cluster: Cluster,
    chaos: Chaos,
) {
    loop {
        let Ok(len) = sock.read_i32().await else {
            return;
        };
        if len < 4 {
            return;
        }
        let mut body = vec![0u8; len as usize];
        if sock.read_exact(&mut body).await.is_err() {
            return;
        }
        let Some(req) = parse_request(Bytes::from(body), PORT) else {
            return;
        };
        if !cluster.alive(broker) || closed.load(Ordering::SeqCst) {
            return;
        }
        let fault = chaos.net_fault(req.api);
        if fault == Some(NetFault::LoseRequest) {
            return;
        }
        let Some(out) = cluster.answer(broker, &req).await else {
            return;
        };
        if fault == Some(NetFault::LoseResponse) {
            return;
        }
        if let Some(NetFault::Delay(d)) = fault {
            tokio::time::sleep(d).await;
        }
        if req.api == ApiKey::Fetch && out.len() < 200 {
            // An empty fetch waits, as a broker's long poll does.
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        if !cluster.alive(broker) || sock.write_all(&out).await.is_err() {
            return;
        }
        if fault == Some(NetFault::Duplicate) && sock.write_all(&out).await.is_err() {
            return;
        }
    }
}
