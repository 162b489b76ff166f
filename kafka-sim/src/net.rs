//! The simulated network: a [`Dial`] that connects the client to a simulated broker
//! over an in-memory pipe, and the broker side of each connection, where the seeded
//! network faults happen (lost requests, lost responses, delayed and duplicated
//! responses, requests to the group coordinator held on their way). A crash or a reset closes a broker's connections.

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
    /// The request reaches the broker this late (a congested link or a broker's full
    /// request queue): the broker acts on it only then, and reads nothing else from
    /// the connection meanwhile.
    DelayRequest(Duration),
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
        if let Some(NetFault::DelayRequest(d)) = fault {
            tokio::time::sleep(d).await;
            // A request the client gave up on meanwhile is not acted on (see
            // `ClientEnd`), nor one that reached a broker that crashed meanwhile.
            if !cluster.alive(broker) || closed.load(Ordering::SeqCst) {
                return;
            }
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

#[cfg(test)]
mod tests {
    use bytes::BytesMut;
    use kafka_protocol::messages::consumer_group_heartbeat_request::TopicPartitions;
    use kafka_protocol::messages::offset_fetch_request::{
        OffsetFetchRequestGroup, OffsetFetchRequestTopics,
    };
    use kafka_protocol::messages::{
        ConsumerGroupHeartbeatRequest, GroupId, OffsetFetchRequest, OffsetFetchResponse,
        RequestHeader, ResponseHeader, TopicName,
    };
    use kafka_protocol::protocol::{Decodable, Encodable, StrBytes};

    use super::*;
    use crate::cluster::{GROUP, TOPIC, topic_id};

    const STALE_MEMBER_EPOCH: i16 = 113;

    fn hold_every_group_request(seed: u64) -> Chaos {
        Chaos::with_rates(seed, [0, 0, 0, 0, 1000])
    }

    #[test]
    fn only_requests_to_the_group_coordinator_are_held_and_never_too_long() {
        let chaos = hold_every_group_request(1);
        for api in [
            ApiKey::Produce,
            ApiKey::Fetch,
            ApiKey::Metadata,
            ApiKey::ApiVersions,
        ] {
            assert_eq!(chaos.net_fault(api), None, "{api:?}");
        }
        for api in [
            ApiKey::OffsetFetch,
            ApiKey::ConsumerGroupHeartbeat,
            ApiKey::OffsetCommit,
            ApiKey::Heartbeat,
        ] {
            for _ in 0..50 {
                match chaos.net_fault(api) {
                    Some(NetFault::DelayRequest(d)) => {
                        assert!(d > Duration::ZERO && d < crate::faults::REQUEST_DELAY_MAX)
                    }
                    other => panic!("{api:?}: {other:?}"),
                }
            }
        }
        chaos.calm();
        assert_eq!(
            chaos.net_fault(ApiKey::OffsetFetch),
            None,
            "calm: no faults"
        );
    }

    /// A member's ConsumerGroupHeartbeat, applied straight to the coordinator (as if
    /// on another, fault-free connection); returns the epoch and the partitions of
    /// `sim` it got, if any.
    fn beat(cluster: &Cluster, member: &str, epoch: i32, owned: &[i32]) -> (i32, Option<Vec<i32>>) {
        let r = ConsumerGroupHeartbeatRequest::default()
            .with_group_id(GroupId(StrBytes::from_static_str(GROUP)))
            .with_member_id(StrBytes::from_string(member.to_string()))
            .with_member_epoch(epoch)
            .with_rebalance_timeout_ms(30_000)
            .with_subscribed_topic_names(
                (epoch == 0).then(|| vec![TopicName(StrBytes::from_static_str(TOPIC))]),
            )
            .with_topic_partitions(Some(vec![
                TopicPartitions::default()
                    .with_topic_id(topic_id(TOPIC))
                    .with_partitions(owned.to_vec()),
            ]));
        let resp = cluster
            .state()
            .consumer_group
            .heartbeat(&r, 1, tokio::time::Instant::now());
        assert_eq!(resp.error_code, 0, "{member}'s heartbeat");
        let got = resp.assignment.map(|a| {
            a.topic_partitions
                .iter()
                .filter(|t| t.topic_id == topic_id(TOPIC))
                .flat_map(|t| t.partitions.clone())
                .collect()
        });
        (resp.member_epoch, got)
    }

    fn offset_fetch_frame(member: &str, epoch: i32) -> Vec<u8> {
        let (api, version) = (ApiKey::OffsetFetch, 9);
        let mut buf = BytesMut::new();
        RequestHeader::default()
            .with_request_api_key(api as i16)
            .with_request_api_version(version)
            .with_correlation_id(7)
            .encode(&mut buf, api.request_header_version(version))
            .unwrap();
        OffsetFetchRequest::default()
            .with_groups(vec![
                OffsetFetchRequestGroup::default()
                    .with_group_id(GroupId(StrBytes::from_static_str(GROUP)))
                    .with_member_id(Some(StrBytes::from_string(member.to_string())))
                    .with_member_epoch(epoch)
                    .with_topics(Some(vec![
                        OffsetFetchRequestTopics::default()
                            .with_name(TopicName(StrBytes::from_static_str(TOPIC)))
                            .with_partition_indexes(vec![0, 1, 2]),
                    ])),
            ])
            .encode(&mut buf, version)
            .unwrap();
        let mut frame = (buf.len() as i32).to_be_bytes().to_vec();
        frame.extend_from_slice(&buf);
        frame
    }

    /// Member `a` asks for its committed offsets with the epoch it has, and right after
    /// (before the request is read) the coordinator moves `a` to a new epoch: `b`
    /// joins, `a` revokes and moves on. The group-level error of the answer.
    async fn fetch_while_the_epoch_moves(chaos: Chaos) -> i16 {
        let cluster = Cluster::new(false);
        let a = "aaaaaaaaaaaaaaaaaaaaaa";
        let (e1, _) = beat(&cluster, a, 0, &[]);
        let (e1b, got) = beat(&cluster, a, e1, &[]);
        assert_eq!(
            (e1b, got),
            (e1, Some(vec![0, 1, 2])),
            "a alone holds everything"
        );

        let (mut client, server) = tokio::io::duplex(1 << 16);
        let closed = Arc::new(AtomicBool::new(false));
        let task = tokio::spawn(serve(server, closed, 1, cluster.clone(), chaos));
        client.write_all(&offset_fetch_frame(a, e1)).await.unwrap();
        // Let the broker side read the request (and answer it, unless it is held);
        // the clock stands still meanwhile.
        for _ in 0..20 {
            tokio::task::yield_now().await;
        }
        let (_, _) = beat(&cluster, "bbbbbbbbbbbbbbbbbbbbbb", 0, &[]);
        let (still, kept) = beat(&cluster, a, e1, &[0, 1, 2]);
        assert_eq!(still, e1, "the epoch holds while a revokes");
        let kept = kept.expect("a is told what to keep");
        let (e2, _) = beat(&cluster, a, e1, &kept);
        assert!(e2 > e1, "a's epoch moved on: {e1} -> {e2}");

        let len = client.read_i32().await.unwrap();
        let mut body = vec![0u8; len as usize];
        client.read_exact(&mut body).await.unwrap();
        let mut body = Bytes::from(body);
        let header =
            ResponseHeader::decode(&mut body, ApiKey::OffsetFetch.response_header_version(9))
                .unwrap();
        assert_eq!(header.correlation_id, 7);
        let resp = OffsetFetchResponse::decode(&mut body, 9).unwrap();
        task.abort();
        resp.groups[0].error_code
    }

    #[tokio::test(start_paused = true)]
    async fn a_held_offset_fetch_is_acted_on_after_the_epoch_moved_and_is_stale() {
        assert_eq!(
            fetch_while_the_epoch_moves(hold_every_group_request(2)).await,
            STALE_MEMBER_EPOCH
        );
    }

    #[tokio::test(start_paused = true)]
    async fn an_offset_fetch_not_held_is_answered_with_the_epoch_it_carries() {
        assert_eq!(
            fetch_while_the_epoch_moves(Chaos::with_rates(2, [0; 5])).await,
            0
        );
    }
}
