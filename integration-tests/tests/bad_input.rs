//! Bad input at the connection layer: unreachable servers, peers that are not Kafka,
//! oversized and garbled frames, bad configuration. Fake servers here stand in only for
//! what a real broker cannot be made to send.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bytes::{BufMut, BytesMut};
use kafka_client::{Client, Error};
use kafka_protocol::messages::api_versions_response::ApiVersion;
use kafka_protocol::messages::{ApiKey, ApiVersionsResponse, ResponseHeader};
use kafka_protocol::protocol::Encodable;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

fn client_for(addr: &str, timeout: Duration) -> Client {
    Client::builder()
        .bootstrap_servers([addr])
        .connect_timeout(timeout)
        .request_timeout(timeout)
        .api_timeout(timeout)
        .build()
        .unwrap()
}

/// A server that runs `serve` on every accepted connection.
async fn fake_server<F, Fut>(serve: F) -> String
where
    F: Fn(TcpStream) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    counting_fake_server(serve).await.0
}

/// Like [`fake_server`], also counting accepted connections.
async fn counting_fake_server<F, Fut>(serve: F) -> (String, Arc<AtomicUsize>)
where
    F: Fn(TcpStream) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let serve = Arc::new(serve);
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = accepted.clone();
    tokio::spawn(async move {
        while let Ok((sock, _)) = listener.accept().await {
            count.fetch_add(1, Ordering::SeqCst);
            let serve = serve.clone();
            tokio::spawn(async move { serve(sock).await });
        }
    });
    (addr, accepted)
}

/// Reads one request frame; returns (api key, version, correlation id).
async fn read_request(sock: &mut TcpStream) -> Option<(i16, i16, i32)> {
    let len = sock.read_i32().await.ok()?;
    let mut body = vec![0u8; len as usize];
    sock.read_exact(&mut body).await.ok()?;
    let key = i16::from_be_bytes([body[0], body[1]]);
    let ver = i16::from_be_bytes([body[2], body[3]]);
    let corr = i32::from_be_bytes([body[4], body[5], body[6], body[7]]);
    Some((key, ver, corr))
}

/// A valid ApiVersions response advertising Metadata v0..=12.
fn api_versions_frame(correlation_id: i32, version: i16) -> BytesMut {
    let resp = ApiVersionsResponse::default().with_api_keys(vec![
        ApiVersion::default()
            .with_api_key(ApiKey::ApiVersions as i16)
            .with_min_version(0)
            .with_max_version(4),
        ApiVersion::default()
            .with_api_key(ApiKey::Metadata as i16)
            .with_min_version(0)
            .with_max_version(12),
    ]);
    let mut body = BytesMut::new();
    ResponseHeader::default()
        .with_correlation_id(correlation_id)
        .encode(&mut body, 0)
        .unwrap();
    resp.encode(&mut body, version).unwrap();
    let mut frame = BytesMut::new();
    frame.put_i32(body.len() as i32);
    frame.extend_from_slice(&body);
    frame
}

#[tokio::test]
async fn unreachable_bootstrap_fails_in_time_naming_every_address() {
    // Two closed ports: connection refused at once, retried until the timeout.
    let a = TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap();
    let b = TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap();
    let client = client_for(&format!("{a},{b}"), Duration::from_secs(2));
    let started = Instant::now();
    let err = client.metadata().await.unwrap_err();
    let took = started.elapsed();
    assert!(took < Duration::from_secs(4), "took {took:?}");
    assert!(matches!(err, Error::Bootstrap { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(
        msg.contains(&a.to_string()) && msg.contains(&b.to_string()),
        "{msg}"
    );
}

#[tokio::test]
async fn silent_server_times_out_naming_the_address() {
    // Accepts the connection, never answers: the handshake must not hang.
    let addr = fake_server(|mut sock| async move {
        let mut sink = Vec::new();
        let _ = sock.read_to_end(&mut sink).await;
    })
    .await;
    let client = client_for(&addr, Duration::from_millis(1500));
    let started = Instant::now();
    let err = client.metadata().await.unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "took {:?}",
        started.elapsed()
    );
    assert!(err.to_string().contains(&addr), "{err}");
}

#[tokio::test]
async fn http_server_is_a_protocol_error() {
    let addr = fake_server(|mut sock| async move {
        let mut buf = [0u8; 512];
        let _ = sock.read(&mut buf).await;
        let _ = sock
            .write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 11\r\nConnection: close\r\n\r\nBad Request")
            .await;
    })
    .await;
    let client = client_for(&addr, Duration::from_secs(2));
    let err = client.metadata().await.unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("protocol error") && msg.contains("exceeds"),
        "{msg}"
    );
}

#[tokio::test]
async fn oversized_frame_is_a_protocol_error() {
    let addr = fake_server(|mut sock| async move {
        if let Some((_, _, corr)) = read_request(&mut sock).await {
            let mut f = BytesMut::new();
            f.put_i32(i32::MAX);
            f.put_i32(corr);
            let _ = sock.write_all(&f).await;
            tokio::time::sleep(Duration::from_secs(5)).await;
        }
    })
    .await;
    let err = client_for(&addr, Duration::from_secs(2))
        .metadata()
        .await
        .unwrap_err();
    assert!(err.to_string().contains("exceeds"), "{err}");
}

#[tokio::test]
async fn negative_frame_length_is_a_protocol_error() {
    let addr = fake_server(|mut sock| async move {
        if read_request(&mut sock).await.is_some() {
            let _ = sock.write_all(&(-5i32).to_be_bytes()).await;
            tokio::time::sleep(Duration::from_secs(5)).await;
        }
    })
    .await;
    let err = client_for(&addr, Duration::from_secs(2))
        .metadata()
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("below the 4-byte minimum"),
        "{err}"
    );
}

/// After a valid handshake, the Metadata response is garbage, or carries the wrong
/// correlation id: the request fails with a protocol error and the connection closes, so
/// the client's retries open new connections.
#[tokio::test]
async fn garbled_and_mismatched_responses_close_the_connection() {
    for mode in [
        "garbled",
        "wrong-correlation-id",
        "oversized-after-handshake",
    ] {
        let (addr, accepted) = counting_fake_server(move |mut sock| async move {
            let Some((_, ver, corr)) = read_request(&mut sock).await else {
                return;
            };
            let _ = sock.write_all(&api_versions_frame(corr, ver)).await;
            while let Some((_, _, corr)) = read_request(&mut sock).await {
                let mut f = BytesMut::new();
                match mode {
                    "garbled" => {
                        f.put_i32(12);
                        f.put_i32(corr);
                        f.put_slice(&[0xff; 8]);
                    }
                    "wrong-correlation-id" => {
                        f.put_i32(8);
                        f.put_i32(corr + 1000);
                        f.put_i32(0);
                    }
                    _ => {
                        f.put_i32(0x7fff_fff0);
                    }
                }
                let _ = sock.write_all(&f).await;
            }
        })
        .await;
        let client = client_for(&addr, Duration::from_secs(2));
        let err = client.metadata().await.unwrap_err();
        let msg = err.to_string();
        let expected = match mode {
            "garbled" => "cannot decode",
            "wrong-correlation-id" => "correlation id mismatch",
            _ => "exceeds",
        };
        assert!(msg.contains(expected), "{mode}: {msg}");
        let opened = accepted.load(Ordering::SeqCst);
        assert!(
            opened >= 2,
            "{mode}: the failed connection was reused ({opened} accepted)"
        );
    }
}

#[test]
fn bad_bootstrap_config_is_rejected_at_build() {
    let err = Client::builder().build().unwrap_err();
    assert!(matches!(err, Error::Config(_)), "{err:?}");
    let err = Client::builder()
        .bootstrap_servers(Vec::<String>::new())
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("empty"), "{err}");
    for bad in ["localhost", "localhost:notaport", "[::1:9092", "host:99999"] {
        let err = Client::builder()
            .bootstrap_servers([bad])
            .build()
            .unwrap_err();
        assert!(
            matches!(err, Error::Config(_)) && err.to_string().contains(bad),
            "{bad}: {err}"
        );
    }
}
