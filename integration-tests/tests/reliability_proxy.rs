//! The test bed's fault proxy, each control with an observable effect: against a tiny
//! in-process Kafka-framed echo server (fast, no JVM), and once against a real 3-node
//! cluster to check that brokers advertise the proxy ports while the direct listeners
//! stay direct.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use kafka_testbed::fault_proxy::{FaultProxy, ProxyRuntime, Target, api};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// What the echo server saw.
#[derive(Debug, Default)]
struct Seen {
    /// Whole requests received, by API key 0 (Produce) and others.
    produce: AtomicUsize,
    other: AtomicUsize,
    /// Connections that ended in the middle of a frame.
    partial: AtomicUsize,
}

/// A server speaking Kafka framing: every request `[len][api][ver][corr]...` gets the
/// response `[len][corr] b"ok"`.
async fn echo_server() -> (SocketAddr, Arc<Seen>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Arc::new(Seen::default());
    let s = seen.clone();
    tokio::spawn(async move {
        loop {
            let (mut sock, _) = listener.accept().await.unwrap();
            let seen = s.clone();
            tokio::spawn(async move {
                loop {
                    let mut len = [0u8; 4];
                    match sock.read(&mut len[..1]).await {
                        Ok(0) | Err(_) => return,
                        Ok(_) => {}
                    }
                    if sock.read_exact(&mut len[1..]).await.is_err() {
                        seen.partial.fetch_add(1, Ordering::Relaxed);
                        return;
                    }
                    let mut body = vec![0u8; i32::from_be_bytes(len) as usize];
                    if sock.read_exact(&mut body).await.is_err() {
                        seen.partial.fetch_add(1, Ordering::Relaxed);
                        return;
                    }
                    let api = i16::from_be_bytes([body[0], body[1]]);
                    if api == 0 {
                        seen.produce.fetch_add(1, Ordering::Relaxed);
                    } else {
                        seen.other.fetch_add(1, Ordering::Relaxed);
                    }
                    let mut resp = 6i32.to_be_bytes().to_vec();
                    resp.extend_from_slice(&body[4..8]);
                    resp.extend_from_slice(b"ok");
                    if sock.write_all(&resp).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    (addr, seen)
}

/// The echo server behind a proxy. The runtime must outlive the test.
async fn proxied() -> (ProxyRuntime, FaultProxy, Arc<Seen>) {
    let (upstream, seen) = echo_server().await;
    let runtime = ProxyRuntime::new().unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let proxy = FaultProxy::start(&runtime, listener, upstream).unwrap();
    (runtime, proxy, seen)
}

fn request(api: i16, correlation: i32) -> Vec<u8> {
    let mut body = api.to_be_bytes().to_vec();
    body.extend_from_slice(&0i16.to_be_bytes());
    body.extend_from_slice(&correlation.to_be_bytes());
    body.extend_from_slice(&[7u8; 30]);
    let mut frame = (body.len() as i32).to_be_bytes().to_vec();
    frame.extend(body);
    frame
}

/// Sends one request and reads one response; `Err` with what happened otherwise.
async fn roundtrip(s: &mut TcpStream, api: i16, correlation: i32) -> Result<i32, String> {
    s.write_all(&request(api, correlation))
        .await
        .map_err(|e| format!("write: {e}"))?;
    let mut resp = [0u8; 10];
    s.read_exact(&mut resp)
        .await
        .map_err(|e| format!("read: {e}"))?;
    assert_eq!(&resp[8..], b"ok");
    Ok(i32::from_be_bytes(resp[4..8].try_into().unwrap()))
}

async fn connect(p: &FaultProxy) -> TcpStream {
    TcpStream::connect(p.address()).await.unwrap()
}

/// Reads until EOF or error; returns the bytes read (times out after 5 s).
async fn read_to_close(s: &mut TcpStream) -> Vec<u8> {
    let mut out = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), async {
        let mut buf = [0u8; 64];
        loop {
            match s.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => out.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    out
}

#[tokio::test]
async fn forwards_pipelined_frames_in_order() {
    let (_rt, proxy, seen) = proxied().await;
    let mut s = connect(&proxy).await;
    let mut all = Vec::new();
    for c in 1..=3 {
        all.extend(request(api::METADATA, c));
    }
    s.write_all(&all).await.unwrap();
    for c in 1..=3 {
        let mut resp = [0u8; 10];
        s.read_exact(&mut resp).await.unwrap();
        assert_eq!(i32::from_be_bytes(resp[4..8].try_into().unwrap()), c);
    }
    assert_eq!(seen.other.load(Ordering::Relaxed), 3);
    let st = proxy.stats();
    assert_eq!(
        (st.accepted, st.requests, st.responses, st.open),
        (1, 3, 3, 1)
    );
}

#[tokio::test]
async fn cut_connections_closes_open_ones_and_accepts_new_ones() {
    let (_rt, proxy, _) = proxied().await;
    let mut s = connect(&proxy).await;
    assert_eq!(roundtrip(&mut s, api::METADATA, 1).await, Ok(1));
    assert_eq!(proxy.cut_connections(), 1);
    assert!(read_to_close(&mut s).await.is_empty());
    assert!(roundtrip(&mut s, api::METADATA, 2).await.is_err());
    assert!(proxy.wait_for(Duration::from_secs(2), |s| s.cut == 1).await);
    let mut again = connect(&proxy).await;
    assert_eq!(roundtrip(&mut again, api::METADATA, 3).await, Ok(3));
}

#[tokio::test]
async fn cut_for_refuses_connections_until_it_heals() {
    let (_rt, proxy, _) = proxied().await;
    let p = proxy.clone();
    let cut = tokio::spawn(async move { p.cut_for(Duration::from_millis(800)).await });
    tokio::time::sleep(Duration::from_millis(100)).await;
    // The proxy accepts and resets at once: under load the reset can already be there when
    // the client's connect completes, so the connect itself may fail.
    let refused = match TcpStream::connect(proxy.address()).await {
        Ok(mut s) => roundtrip(&mut s, api::METADATA, 1).await.is_err(),
        Err(e) => e.kind() == std::io::ErrorKind::ConnectionReset,
    };
    assert!(refused, "a connection during the cut must be refused");
    assert!(proxy.stats().refused >= 1);
    cut.await.unwrap();
    let mut s = connect(&proxy).await;
    assert_eq!(roundtrip(&mut s, api::METADATA, 2).await, Ok(2));
}

#[tokio::test]
async fn black_hole_holds_traffic_then_delivers_it() {
    let (_rt, proxy, seen) = proxied().await;
    let mut s = connect(&proxy).await;
    assert_eq!(roundtrip(&mut s, api::METADATA, 1).await, Ok(1));
    let p = proxy.clone();
    let hole = tokio::spawn(async move { p.black_hole_for(Duration::from_millis(1_000)).await });
    tokio::time::sleep(Duration::from_millis(50)).await;
    let started = Instant::now();
    s.write_all(&request(api::METADATA, 2)).await.unwrap();
    let mut resp = [0u8; 10];
    let early = tokio::time::timeout(Duration::from_millis(500), s.read_exact(&mut resp)).await;
    assert!(early.is_err(), "nothing passes a black hole");
    assert_eq!(
        seen.other.load(Ordering::Relaxed),
        1,
        "the broker saw nothing"
    );
    s.read_exact(&mut resp).await.unwrap();
    assert!(started.elapsed() >= Duration::from_millis(800));
    assert_eq!(i32::from_be_bytes(resp[4..8].try_into().unwrap()), 2);
    hole.await.unwrap();
}

#[tokio::test]
async fn latency_delays_each_direction() {
    let (_rt, proxy, _) = proxied().await;
    let mut s = connect(&proxy).await;
    assert_eq!(roundtrip(&mut s, api::METADATA, 1).await, Ok(1));
    proxy.set_latency(Duration::from_millis(200));
    let started = Instant::now();
    assert_eq!(roundtrip(&mut s, api::METADATA, 2).await, Ok(2));
    assert!(started.elapsed() >= Duration::from_millis(400));
    proxy.set_latency(Duration::ZERO);
    let started = Instant::now();
    assert_eq!(roundtrip(&mut s, api::METADATA, 3).await, Ok(3));
    assert!(started.elapsed() < Duration::from_millis(200));
}

#[tokio::test]
async fn reset_mid_request_hits_only_the_targeted_api() {
    let (_rt, proxy, seen) = proxied().await;
    proxy.arm_reset_mid_request(Target::Api(api::PRODUCE), 1);
    let mut s = connect(&proxy).await;
    assert_eq!(roundtrip(&mut s, api::METADATA, 1).await, Ok(1));
    assert!(roundtrip(&mut s, api::PRODUCE, 2).await.is_err());
    assert!(
        proxy
            .wait_for(Duration::from_secs(2), |s| s.open == 0)
            .await
    );
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(seen.produce.load(Ordering::Relaxed), 0, "no whole Produce");
    assert_eq!(
        seen.partial.load(Ordering::Relaxed),
        1,
        "half a frame arrived"
    );
    assert_eq!(proxy.stats().requests_reset, 1);
    // One shot only.
    let mut s = connect(&proxy).await;
    assert_eq!(roundtrip(&mut s, api::PRODUCE, 3).await, Ok(3));
}

#[tokio::test]
async fn cut_mid_response_delivers_only_the_first_bytes() {
    let (_rt, proxy, seen) = proxied().await;
    proxy.arm_cut_mid_response(Target::Api(api::PRODUCE), 6, 1);
    let mut s = connect(&proxy).await;
    s.write_all(&request(api::PRODUCE, 9)).await.unwrap();
    let got = read_to_close(&mut s).await;
    assert_eq!(
        got,
        [0, 0, 0, 6, 0, 0],
        "length and half the correlation id"
    );
    assert_eq!(seen.produce.load(Ordering::Relaxed), 1, "the broker got it");
    assert_eq!(proxy.stats().responses_cut, 1);
}

#[tokio::test]
async fn drop_response_after_the_broker_got_the_request() {
    let (_rt, proxy, seen) = proxied().await;
    proxy.arm_drop_response(Target::Api(api::PRODUCE), 1, Duration::from_millis(300));
    let mut s = connect(&proxy).await;
    assert_eq!(roundtrip(&mut s, api::METADATA, 1).await, Ok(1));
    let started = Instant::now();
    s.write_all(&request(api::PRODUCE, 2)).await.unwrap();
    let got = read_to_close(&mut s).await;
    assert!(got.is_empty(), "no response: {got:?}");
    assert!(
        started.elapsed() >= Duration::from_millis(250),
        "held first"
    );
    assert_eq!(
        seen.produce.load(Ordering::Relaxed),
        1,
        "processed upstream"
    );
    assert_eq!(proxy.stats().responses_dropped, 1);
}

#[tokio::test]
async fn heal_clears_armed_faults() {
    let (_rt, proxy, _) = proxied().await;
    proxy.arm_drop_response(Target::Any, 5, Duration::ZERO);
    proxy.set_latency(Duration::from_secs(5));
    proxy.heal();
    let mut s = connect(&proxy).await;
    let started = Instant::now();
    assert_eq!(roundtrip(&mut s, api::PRODUCE, 1).await, Ok(1));
    assert!(started.elapsed() < Duration::from_secs(1));
    assert_eq!(proxy.stats().responses_dropped, 0);
}

/// Brokers advertise the proxies; the direct listener advertises itself; a client
/// through the proxies uses them for every broker; the active controller is found.
#[test]
fn real_cluster_advertises_the_proxy_ports() {
    use kafka_testbed::{ClusterConfig, KafkaCluster, probe_metadata};
    let cluster = KafkaCluster::start(ClusterConfig::new(3).with_fault_proxy()).unwrap();
    let proxies: Vec<String> = cluster
        .proxies()
        .iter()
        .map(|p| p.address().to_string())
        .collect();
    assert_eq!(proxies.len(), 3);
    assert_eq!(cluster.client_bootstrap_servers(), proxies.join(","));
    for (i, id) in cluster.node_ids().into_iter().enumerate() {
        let via_proxy = probe_metadata(&proxies[i], Duration::from_secs(5)).unwrap();
        let advertised: Vec<String> = via_proxy
            .brokers
            .iter()
            .map(|b| format!("{}:{}", b.host, b.port))
            .collect();
        assert_eq!(advertised, proxies, "node {id} advertises the proxies");
        let direct = cluster.probe(id).unwrap();
        assert!(
            direct
                .brokers
                .iter()
                .all(|b| !proxies.contains(&format!("{}:{}", b.host, b.port))),
            "the direct listener bypasses the proxies"
        );
        assert!(cluster.proxy(id).unwrap().stats().requests >= 1);
    }
    let controller = cluster.active_controller(Duration::from_secs(30)).unwrap();
    assert!(cluster.node_ids().contains(&controller));
    // Killing it elects another one.
    assert_eq!(cluster.kill_active_controller().unwrap(), controller);
    let next = cluster.active_controller(Duration::from_secs(30)).unwrap();
    assert_ne!(next, controller);
}
