//! The connection loop both fake brokers share: read a frame, decode its header, ask
//! the handler, write the answer.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use kafka_protocol::messages::{ApiKey, ProduceRequest};
use kafka_protocol::protocol::Decodable;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::raw::{Req, parse_request};

/// What a handler answers, when it is ready: the whole response frame and how long to
/// wait before writing it, or `None` to close the connection.
pub(crate) type Answer = Pin<Box<dyn Future<Output = Option<(Vec<u8>, Duration)>> + Send>>;

/// Answers a request (a group coordinator's JoinGroup waits for the other members).
pub(crate) type Handler = Arc<dyn Fn(Req) -> Answer + Send + Sync>;

/// Largest request frame accepted; a longer one closes the connection.
const MAX_FRAME: i32 = 100 * 1024 * 1024;

/// Serves one connection until the peer closes it, sends a frame that does not decode,
/// or the handler says to close.
pub(crate) async fn serve(mut sock: TcpStream, port: u16, handler: Handler) {
    loop {
        let Ok(len) = sock.read_i32().await else {
            return;
        };
        if !(4..=MAX_FRAME).contains(&len) {
            return;
        }
        let mut body = vec![0u8; len as usize];
        if sock.read_exact(&mut body).await.is_err() {
            return;
        }
        let Some(req) = parse_request(Bytes::from(body), port) else {
            return;
        };
        let acks_zero = req.api == ApiKey::Produce
            && ProduceRequest::decode(&mut req.body.clone(), req.version)
                .map(|p| p.acks == 0)
                .unwrap_or(false);
        let api = req.api;
        let Some((out, delay)) = handler(req).await else {
            return;
        };
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        if matches!(api, ApiKey::Fetch | ApiKey::ShareFetch) && out.len() < 200 {
            // Empty fetches: behave like a long poll instead of spinning.
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        if acks_zero {
            continue;
        }
        if sock.write_all(&out).await.is_err() {
            return;
        }
    }
}
