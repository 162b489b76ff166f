//! Rebootstrap (KIP-899): the whole cluster replaced behind the same bootstrap address
//! while a producer and consumers run. The bootstrap address is a TCP forwarder; the
//! brokers advertise their own addresses, so once bootstrapped the clients know only
//! cluster A's broker. A is stopped, a new cluster B starts elsewhere, and the forwarder
//! is pointed at B: a client with `metadata.recovery.strategy=rebootstrap` (the default)
//! goes back to the bootstrap address and carries on against B; one with `none` keeps to
//! A's dead broker and reports `Error::BrokersUnreachable`.

mod common;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::consumer_util::consumer;
use kafka_client::consumer::{AutoOffsetReset, Consumer, TopicPartition};
use kafka_client::producer::{Acks, Producer, ProducerRecord};
use kafka_client::{Client, Error, MetadataRecoveryStrategy};
use kafka_testbed::{ClusterConfig, KafkaCluster};
use tokio::net::{TcpListener, TcpStream};

/// A TCP forwarder whose upstream can be changed; new connections go to the current one.
struct Forwarder {
    address: SocketAddr,
    upstream: Arc<Mutex<SocketAddr>>,
}

impl Forwarder {
    async fn start(upstream: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let upstream = Arc::new(Mutex::new(upstream));
        let target = upstream.clone();
        tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                let to = *target.lock().unwrap();
                tokio::spawn(async move {
                    if let Ok(mut outbound) = TcpStream::connect(to).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
            }
        });
        Self { address, upstream }
    }

    fn point_at(&self, upstream: SocketAddr) {
        *self.upstream.lock().unwrap() = upstream;
    }
}

async fn start_cluster() -> KafkaCluster {
    tokio::task::spawn_blocking(|| KafkaCluster::start(ClusterConfig::new(1)))
        .await
        .unwrap()
        .expect("1-node cluster")
}

/// A client with `strategy` and timeouts of `request` and `api` seconds.
fn client_with(
    bootstrap: &str,
    strategy: MetadataRecoveryStrategy,
    (request, api): (u64, u64),
) -> Client {
    Client::builder()
        .bootstrap_servers([bootstrap])
        .request_timeout(Duration::from_secs(request))
        .api_timeout(Duration::from_secs(api))
        .metadata_recovery_strategy(strategy)
        .build()
        .unwrap()
}

fn client(bootstrap: &str, strategy: MetadataRecoveryStrategy) -> Client {
    client_with(bootstrap, strategy, (5, 10))
}

fn assigned_consumer(client: &Client, topic: &str) -> Consumer {
    let c = consumer("unused:1")
        .client(client.clone())
        .auto_offset_reset(AutoOffsetReset::Earliest)
        .build()
        .unwrap();
    c.assign([TopicPartition::new(topic, 0)]).unwrap();
    c
}

async fn send(p: &Producer, topic: &str, prefix: &str, n: usize) {
    let mut acks = Vec::new();
    for i in 0..n {
        let r = ProducerRecord::new(topic)
            .with_partition(0)
            .with_value(format!("{prefix}-{i}"));
        acks.push(p.send(r).await.expect("queued"));
    }
    for a in acks {
        a.await.expect("delivered");
    }
}

/// Polls `c` until it returned the values `want` (in order), ignoring poll errors
/// (the consumer reports the outage while it lasts), for at most `timeout`.
async fn read_values(c: &Consumer, want: &[String], timeout: Duration) {
    let deadline = tokio::time::Instant::now() + timeout;
    let mut got = Vec::new();
    while got.len() < want.len() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "read only {got:?} of {want:?}"
        );
        if let Ok(batch) = c.poll(Duration::from_millis(500)).await {
            for r in batch.into_parts().0 {
                got.push(String::from_utf8_lossy(r.value.as_deref().unwrap()).into_owned());
            }
        }
    }
    assert_eq!(got, want);
}

fn values(prefix: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{prefix}-{i}")).collect()
}

async fn create_topic_on(bootstrap: &str, topic: &str) {
    let admin = common::client(bootstrap);
    common::create_topic(&admin, topic, 1, 1).await;
    admin.close();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rebootstrap_follows_the_bootstrap_address_to_a_replacement_cluster() {
    let a = start_cluster().await;
    let a_addr: SocketAddr = a.bootstrap_servers().parse().unwrap();
    let forwarder = Forwarder::start(a_addr).await;
    let boot = forwarder.address.to_string();
    let topic = common::unique_topic("rebootstrap");
    create_topic_on(&a.bootstrap_servers(), &topic).await;

    let rb = client(&boot, MetadataRecoveryStrategy::Rebootstrap);
    let none = client(&boot, MetadataRecoveryStrategy::None);
    let producer = Producer::builder()
        .client(rb.clone())
        .acks(Acks::All)
        .linger(Duration::from_millis(5))
        .delivery_timeout(Duration::from_secs(90))
        .build()
        .unwrap();
    let c_rb = assigned_consumer(&rb, &topic);
    let c_none = assigned_consumer(&none, &topic);

    send(&producer, &topic, "a", 5).await;
    read_values(&c_rb, &values("a", 5), Duration::from_secs(30)).await;
    read_values(&c_none, &values("a", 5), Duration::from_secs(30)).await;
    for c in [&rb, &none] {
        let m = c.cached_metadata();
        let known: Vec<String> = m.brokers.values().map(|b| b.address.to_string()).collect();
        assert_eq!(
            known,
            [a_addr.to_string()],
            "the clients know A's broker itself"
        );
    }
    let a_cluster = rb.cached_metadata().cluster_id.clone();

    // The whole cluster is replaced behind the same bootstrap address.
    drop(a);
    let b = start_cluster().await;
    assert_ne!(b.bootstrap_servers(), a_addr.to_string());
    create_topic_on(&b.bootstrap_servers(), &topic).await;
    forwarder.point_at(b.bootstrap_servers().parse().unwrap());

    // `rebootstrap`: the producer and its consumer go on against B.
    send(&producer, &topic, "b", 5).await;
    read_values(&c_rb, &values("b", 5), Duration::from_secs(60)).await;
    let m = rb.cached_metadata();
    assert_ne!(m.cluster_id, a_cluster, "rb now knows cluster B");
    let known: Vec<String> = m.brokers.values().map(|x| x.address.to_string()).collect();
    assert_eq!(known, [b.bootstrap_servers()]);
    assert!(rb.stats().rebootstraps >= 1, "{:?}", rb.stats());

    // `none`: the consumer keeps to A's broker and says it is unreachable.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let err = loop {
        assert!(
            tokio::time::Instant::now() < deadline,
            "no BrokersUnreachable with strategy none"
        );
        match c_none.poll(Duration::from_millis(500)).await {
            Ok(batch) => assert!(
                batch.into_parts().0.is_empty(),
                "strategy none read from the replacement cluster"
            ),
            Err(e) => break e,
        }
    };
    assert!(matches!(err, Error::BrokersUnreachable { .. }), "{err:?}");
    assert!(
        err.to_string().contains(&a_addr.port().to_string()),
        "{err}"
    );
    assert_eq!(none.stats().rebootstraps, 0);
    assert_eq!(none.cached_metadata().cluster_id, a_cluster);

    producer.close(Duration::from_secs(10)).await.unwrap();
    c_rb.close().await.unwrap();
    c_none.close().await.unwrap();
}

/// A fake broker advertising Metadata v13 (the top-level error code, KIP-1102) whose
/// Metadata answers are normal for the first `normal` requests, then
/// REBOOTSTRAP_REQUIRED.
async fn fake_broker(normal: usize) -> SocketAddr {
    use kafka_testkit::raw::messages::{ApiKey, ApiVersionsResponse};
    use kafka_testkit::raw::{FakeBroker, Req, api_versions, frame, metadata};
    let answered = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let broker = FakeBroker::start(Arc::new(move |req: &Req| match req.api {
        ApiKey::ApiVersions => {
            let mut r = req.clone();
            r.version = req.version.min(3);
            let v: ApiVersionsResponse =
                api_versions(&[(ApiKey::ApiVersions, 0, 3), (ApiKey::Metadata, 0, 13)]);
            Some(frame(&r, &v))
        }
        ApiKey::Metadata => {
            let n = answered.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let code = if n < normal { 0 } else { 129 };
            Some(frame(req, &metadata(req.port, 1).with_error_code(code)))
        }
        _ => None,
    }))
    .await
    .expect("fake broker");
    broker.bootstrap.parse().unwrap()
}

fn fake_client(bootstrap: &str, strategy: MetadataRecoveryStrategy) -> Client {
    client_with(bootstrap, strategy, (2, 3))
}

#[tokio::test]
async fn rebootstrap_required_sends_the_client_back_to_the_bootstrap_address() {
    // Broker A answers once, then says REBOOTSTRAP_REQUIRED; B always answers.
    let a = fake_broker(1).await;
    let b = fake_broker(usize::MAX).await;
    let forwarder = Forwarder::start(a).await;
    let client = fake_client(
        &forwarder.address.to_string(),
        MetadataRecoveryStrategy::Rebootstrap,
    );
    let m = client
        .metadata()
        .await
        .expect("bootstrapped through the forwarder");
    assert_eq!(m.broker(1).unwrap().address.to_string(), a.to_string());
    forwarder.point_at(b);
    let m = client.metadata().await.expect("rebootstrapped");
    assert_eq!(
        m.broker(1).unwrap().address.to_string(),
        b.to_string(),
        "the bootstrap address now leads to B"
    );
    assert_eq!(client.stats().rebootstraps, 1);
}

#[tokio::test]
async fn rebootstrap_required_with_strategy_none_is_an_error_naming_it() {
    let a = fake_broker(1).await;
    let client = fake_client(&a.to_string(), MetadataRecoveryStrategy::None);
    client.metadata().await.expect("bootstrapped");
    let err = client
        .metadata()
        .await
        .expect_err("no rebootstrap with none");
    assert!(matches!(err, Error::Bootstrap { .. }), "{err:?}");
    assert!(err.to_string().contains("REBOOTSTRAP_REQUIRED"), "{err}");
    assert_eq!(client.stats().rebootstraps, 0);
}
