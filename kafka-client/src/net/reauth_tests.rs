//! The connection task's in-band re-authentication (KIP-368) against a scripted broker
//! on tokio's paused clock: when it happens, that nothing else is written during the
//! exchange, that requests made meanwhile are answered, and that a credential that
//! cannot be renewed ends the connection with a typed error.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::{BufMut, BytesMut};
use kafka_protocol::messages::api_versions_response::ApiVersion;
use kafka_protocol::messages::{
    ApiKey, ApiVersionsResponse, MetadataRequest, MetadataResponse, ResponseHeader,
    SaslAuthenticateResponse, SaslHandshakeResponse,
};
use kafka_protocol::protocol::{Encodable, StrBytes};
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};
use tokio::time::Instant;

use super::connection::{Connection, Peer};
use super::reauth::ReauthSetup;
use super::versions::BrokerVersions;
use crate::config::{OAuthBearerToken, SaslConfig, TokenError, TokenProvider};
use crate::error::Error;
use crate::observe::Telemetry;
use crate::types::BoxFuture;

const LIFETIME: Duration = Duration::from_secs(10);

fn versions() -> BrokerVersions {
    let v = |k: ApiKey, min, max| {
        ApiVersion::default()
            .with_api_key(k as i16)
            .with_min_version(min)
            .with_max_version(max)
    };
    BrokerVersions::from_response(&ApiVersionsResponse::default().with_api_keys(vec![
        v(ApiKey::Metadata, 4, 4),
        v(ApiKey::SaslHandshake, 1, 1),
        v(ApiKey::SaslAuthenticate, 1, 1),
    ]))
    .expect("versions")
}

fn spawn(sasl: SaslConfig, telemetry: &Arc<Telemetry>) -> (Connection, DuplexStream) {
    let (ours, broker) = tokio::io::duplex(64 * 1024);
    let conn = Connection::spawn(
        Box::new(ours),
        Peer {
            id: Some(1),
            address: "fake:9092".into(),
        },
        versions(),
        StrBytes::from_static_str("t"),
        Duration::from_secs(30),
        1 << 20,
        2,
        Some(ReauthSetup {
            sasl,
            handshake_version: 1,
            authenticate_version: 1,
            lifetime: LIFETIME,
            started: Instant::now(),
        }),
        telemetry.clone(),
    );
    (conn, broker)
}

/// Reads one request: (api key, correlation id).
async fn read_request(s: &mut DuplexStream) -> Option<(i16, i32)> {
    let len = s.read_i32().await.ok()? as usize;
    let mut body = vec![0u8; len];
    s.read_exact(&mut body).await.ok()?;
    let api = i16::from_be_bytes([body[0], body[1]]);
    let id = i32::from_be_bytes([body[4], body[5], body[6], body[7]]);
    Some((api, id))
}

async fn answer(s: &mut DuplexStream, id: i32, body: impl Encodable, version: i16) {
    let mut buf = BytesMut::new();
    ResponseHeader::default()
        .with_correlation_id(id)
        .encode(&mut buf, 0)
        .expect("header");
    body.encode(&mut buf, version).expect("body");
    let mut frame = BytesMut::new();
    frame.put_i32(buf.len() as i32);
    frame.extend_from_slice(&buf);
    s.write_all(&frame).await.expect("write");
}

/// Answers every request, slowly for SaslHandshake (so that requests pile up during the
/// exchange); logs (api, when read).
async fn broker(mut s: DuplexStream, log: Arc<Mutex<Vec<(i16, Instant)>>>) {
    while let Some((api, id)) = read_request(&mut s).await {
        log.lock().unwrap().push((api, Instant::now()));
        match ApiKey::try_from(api) {
            Ok(ApiKey::SaslHandshake) => {
                tokio::time::sleep(Duration::from_millis(300)).await;
                let r = SaslHandshakeResponse::default()
                    .with_mechanisms(vec![StrBytes::from_static_str("PLAIN")]);
                answer(&mut s, id, r, 1).await;
            }
            Ok(ApiKey::SaslAuthenticate) => {
                let r = SaslAuthenticateResponse::default()
                    .with_session_lifetime_ms(LIFETIME.as_millis() as i64);
                answer(&mut s, id, r, 1).await;
            }
            _ => answer(&mut s, id, MetadataResponse::default(), 4).await,
        }
    }
}

/// Sessions of 10 s are renewed on the same connection at 85-95 % of their life, twice
/// in 25 s; requests keep working throughout, none is written mid-exchange.
#[tokio::test(start_paused = true)]
async fn renews_the_session_in_band_at_85_to_95_percent() {
    let telemetry = Arc::new(Telemetry::default());
    let start = Instant::now();
    let (conn, broker_end) = spawn(SaslConfig::plain("u", "p"), &telemetry);
    let log = Arc::new(Mutex::new(Vec::new()));
    tokio::spawn(broker(broker_end, log.clone()));
    let mut answered = 0;
    while start.elapsed() < Duration::from_secs(25) {
        // Several at once, so some are made while an exchange runs.
        let req = MetadataRequest::default();
        let reqs = (0..3).map(|_| conn.request_at(&req, 4, Duration::from_secs(5)));
        for r in futures::future::join_all(reqs).await {
            r.expect("metadata");
            answered += 1;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(!conn.is_closed() && !conn.is_expired());
    assert!(answered > 100, "{answered}");
    assert_eq!(telemetry.net.snapshot().reauthentications, 2);
    let log = log.lock().unwrap();
    let handshakes: Vec<usize> = (0..log.len())
        .filter(|&i| log[i].0 == ApiKey::SaslHandshake as i16)
        .collect();
    assert_eq!(handshakes.len(), 2, "{log:?}");
    let mut session_start = start;
    for &i in &handshakes {
        let at = log[i].1 - session_start;
        assert!(
            at >= Duration::from_millis(8_500) && at <= Duration::from_millis(9_500),
            "re-authenticated {at:?} into a 10 s session"
        );
        // The very next request read is the SaslAuthenticate.
        assert_eq!(log[i + 1].0, ApiKey::SaslAuthenticate as i16, "{log:?}");
        session_start = log[i].1;
    }
}

#[derive(Debug)]
struct IdpDown;

impl TokenProvider for IdpDown {
    fn token(&self) -> BoxFuture<'_, Result<OAuthBearerToken, TokenError>> {
        Box::pin(async { Err("the identity provider is down".into()) })
    }
}

/// No token for the renewal: the connection ends, and a request made then gets a typed
/// authentication error naming the cause.
#[tokio::test(start_paused = true)]
async fn a_token_that_cannot_be_renewed_ends_the_connection() {
    let telemetry = Arc::new(Telemetry::default());
    let (conn, broker_end) = spawn(SaslConfig::oauthbearer(Arc::new(IdpDown)), &telemetry);
    let log = Arc::new(Mutex::new(Vec::new()));
    tokio::spawn(broker(broker_end, log.clone()));
    conn.request_at(&MetadataRequest::default(), 4, Duration::from_secs(5))
        .await
        .expect("before the renewal");
    tokio::time::sleep(Duration::from_millis(9_600)).await;
    assert!(conn.is_closed());
    let e = conn
        .request_at(&MetadataRequest::default(), 4, Duration::from_secs(5))
        .await
        .expect_err("closed");
    match &e {
        Error::Authentication { message, .. } => {
            assert!(message.contains("identity provider is down"), "{e}")
        }
        other => panic!("not an authentication error: {other:?}"),
    }
    assert_eq!(telemetry.net.snapshot().reauthentications, 0);
    assert!(
        log.lock()
            .unwrap()
            .iter()
            .all(|(api, _)| *api == ApiKey::Metadata as i16)
    );
}
