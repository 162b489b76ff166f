//! KIP-794 adaptive partitioning on a real 3-node cluster: when one broker is slow
//! (every frame through its fault proxy delayed), keyless records go less to its
//! partitions than uniform sticky draws send there, and with
//! `partitioner.availability.timeout.ms` hardly at all; every record is still delivered.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use kafka_admin::{Admin, CreateTopicsOptions, NewTopic};
use kafka_client::config::Properties;
use kafka_client::producer::{ProducerBuilder, ProducerRecord};
use kafka_testbed::{ClusterConfig, KafkaCluster};

/// Records per run, and the slow broker's share of the partitions (2 of 6).
const RECORDS: usize = 4000;
const SLOW_BROKER: i32 = 1;

/// Sends `RECORDS` keyless records of 100 bytes as fast as `send` takes them and
/// returns how many were delivered to each partition.
async fn run(bootstrap: &str, topic: &str, props: &[(&str, &str)]) -> BTreeMap<i32, usize> {
    let mut config: Vec<(String, String)> = vec![
        ("bootstrap.servers".into(), bootstrap.into()),
        ("linger.ms".into(), "5".into()),
        ("batch.size".into(), "1000".into()),
    ];
    config.extend(props.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    let properties: Properties = config.into_iter().collect();
    let p = ProducerBuilder::from_properties(properties)
        .and_then(|b| b.build())
        .expect("producer properties");
    // Warm up first: the producer id and a connection to every broker, so that during
    // the run the fast brokers drain at once while the slow one lags.
    let warm: Vec<_> = (0..6)
        .map(|partition| {
            ProducerRecord::new(topic)
                .with_partition(partition)
                .with_value("warm")
        })
        .collect();
    for r in warm {
        p.send_and_wait(r).await.expect("warm-up record");
    }
    let started = std::time::Instant::now();
    let mut deliveries = Vec::with_capacity(RECORDS);
    for i in 0..RECORDS {
        if i % 20 == 0 {
            // A steady stream rather than one burst: the fast brokers keep up with it.
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        let value = format!("{i:0>100}");
        deliveries.push(
            p.send(ProducerRecord::new(topic).with_value(value))
                .await
                .expect("accepted"),
        );
    }
    let mut per_partition = BTreeMap::new();
    for d in deliveries {
        let meta = d.await.expect("every record is delivered");
        *per_partition.entry(meta.partition).or_insert(0) += 1;
    }
    eprintln!(
        "{props:?}: {RECORDS} records delivered in {:?}",
        started.elapsed()
    );
    p.close(Duration::from_secs(30)).await.expect("close");
    per_partition
}

fn slow_share(per_partition: &BTreeMap<i32, usize>) -> f64 {
    // Partitions 0 and 1 are the slow broker's (see the assignment below).
    let slow: usize = per_partition
        .iter()
        .filter(|(p, _)| **p < 2)
        .map(|(_, n)| n)
        .sum();
    assert_eq!(per_partition.values().sum::<usize>(), RECORDS);
    slow as f64 / RECORDS as f64
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn adaptive_partitioning_sends_keyless_records_away_from_a_slow_broker() {
    let cluster = tokio::task::spawn_blocking(|| {
        KafkaCluster::start(ClusterConfig::new(3).with_fault_proxy())
    })
    .await
    .unwrap()
    .expect("3-node cluster");
    let bootstrap = cluster.client_bootstrap_servers();
    let client = common::client(&bootstrap);
    let admin = Admin::new(client.clone());
    let topic = common::unique_topic("adaptive");
    // Two partitions per broker: 0, 1 on broker 1; 2, 3 on 2; 4, 5 on 3.
    let new = (0..6).fold(NewTopic::new(&topic), |t, p| t.assignment(p, [p / 2 + 1]));
    admin
        .create_topics([new], CreateTopicsOptions::default())
        .await
        .expect("CreateTopics")[&topic]
        .as_ref()
        .expect("created");
    common::wait_for_leaders(&client, &topic, 6).await;
    let meta = client.refresh_topics(&[topic.as_str()]).await.unwrap();
    let leaders: Vec<Option<i32>> = meta
        .topic(&topic)
        .unwrap()
        .partitions
        .iter()
        .map(|p| p.leader)
        .collect();
    assert_eq!(
        leaders,
        [Some(1), Some(1), Some(2), Some(2), Some(3), Some(3)],
        "assignment as asked"
    );
    // Every frame to and from broker 1 waits 250 ms each way: with 5 requests in
    // flight, its partitions drain far slower than the others.
    cluster
        .proxy(SLOW_BROKER)
        .expect("proxied")
        .set_latency(Duration::from_millis(250));

    let uniform = run(
        &bootstrap,
        &topic,
        &[("partitioner.adaptive.partitioning.enable", "false")],
    )
    .await;
    let adaptive = run(&bootstrap, &topic, &[]).await;
    let available = run(
        &bootstrap,
        &topic,
        &[("partitioner.availability.timeout.ms", "100")],
    )
    .await;
    cluster.proxy(SLOW_BROKER).unwrap().heal();

    let (u, a, t) = (
        slow_share(&uniform),
        slow_share(&adaptive),
        slow_share(&available),
    );
    eprintln!(
        "slow broker's share of {RECORDS} keyless records: uniform {u:.3} {uniform:?}, \
         adaptive {a:.3} {adaptive:?}, adaptive + availability timeout {t:.3} {available:?}"
    );
    // Uniform draws give the slow broker about a third of the batches.
    assert!(u > 0.2, "uniform sticky draws: slow share {u:.3}");
    // Weighted by queue length, it gets far fewer.
    assert!(a < u * 0.67, "adaptive {a:.3} vs uniform {u:.3}");
    assert!(
        t < u / 2.0,
        "with availability timeout {t:.3} vs uniform {u:.3}"
    );
    // Every record is in the log: the end offsets add up to the three runs.
    let end = common::txn::end_offsets(&client, &topic, 6).await;
    assert_eq!(
        end,
        3 * (RECORDS as i64 + 6),
        "every record and the warm-up records"
    );
}
