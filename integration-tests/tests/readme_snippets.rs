//! The README's "Using it" and "Producing and consuming" snippets, run in order against
//! a real broker, as a newcomer would run them: the first creates `orders`, the second
//! produces one record and consumes it as group `billing`. The test checks what they
//! do (the group's committed offsets after `close`), and that the code here is the
//! README's, line for line (only the bootstrap address differs), so neither drifts.

use std::time::Duration;

use kafka_admin::ListGroupOffsetsOptions;

/// The README's first snippet (between its hidden `#` lines); not reformatted, so it
/// stays the README's text.
#[rustfmt::skip]
async fn readme_using_it(bootstrap: &str) -> Result<(), Box<dyn std::error::Error>> {
    use kafka_admin::{Admin, CreateTopicsOptions, NewTopic};
    use kafka_client::{Client, ErrorCode};
    let client = Client::builder()
        .bootstrap_servers([bootstrap])
        .request_timeout(Duration::from_secs(30))
        .build()?; // validates the settings; connects on first use

    let admin = Admin::new(client.clone());
    let results = admin
        .create_topics([NewTopic::new("orders").partitions(6).replication_factor(1)],
                       CreateTopicsOptions::default())
        .await?;
    match &results["orders"] {
        Ok(created) => println!("created with {} partitions", created.partitions),
        Err(e) if e.code() == Some(ErrorCode::TOPIC_ALREADY_EXISTS) => println!("already there"),
        Err(e) => return Err(e.clone().into()),
    }

    let metadata = client.metadata().await?;
    for broker in metadata.brokers.values() {
        println!("broker {} at {}", broker.id, broker.address);
    }
    Ok(())
}

/// The README's second snippet.
#[rustfmt::skip]
async fn readme_producing_and_consuming(
    bootstrap: &str,
) -> Result<(), Box<dyn std::error::Error>> {
    use kafka_client::consumer::AutoOffsetReset;
    use kafka_client::{Consumer, Producer, ProducerRecord};
    let producer = Producer::builder()
        .bootstrap_servers([bootstrap])
        .linger(Duration::from_millis(5))
        .build()?;
    // `send` waits only for buffer space; the future it returns resolves on acknowledgement.
    let delivery = producer
        .send(ProducerRecord::new("orders").with_key("user-1").with_value("tea"))
        .await?;
    let meta = delivery.await?;
    println!("written to {}-{} at offset {}", meta.topic, meta.partition, meta.offset);
    producer.close(Duration::from_secs(10)).await?;

    let consumer = Consumer::builder()
        .bootstrap_servers([bootstrap])
        .group_id("billing")
        .auto_offset_reset(AutoOffsetReset::Earliest) // a new group reads from the start
        .build()?;
    consumer.subscribe(["orders"])?;
    let mut received = 0;
    loop {
        // The first polls may be empty while the consumer joins its group.
        let records = consumer.poll(Duration::from_secs(1)).await?;
        for r in &records {
            println!("{}:{}:{} {:?}", r.topic, r.partition, r.offset, r.value);
        }
        received += records.len();
        if records.is_empty() && received > 0 {
            break; // caught up
        }
    }
    consumer.close().await?; // commits, then leaves the group
    Ok(())
}

/// The code lines of the README's ```rust blocks: hidden (`#`) lines and blank lines
/// dropped, indentation trimmed.
fn readme_blocks() -> Vec<Vec<String>> {
    let readme = include_str!("../../README.md");
    let mut blocks = Vec::new();
    let mut current: Option<Vec<String>> = None;
    for line in readme.lines() {
        match &mut current {
            None if line.starts_with("```rust") => current = Some(Vec::new()),
            None => {}
            Some(_) if line.trim() == "```" => blocks.extend(current.take()),
            Some(block) => {
                let t = line.trim();
                if !t.is_empty() && !t.starts_with("# ") && t != "#" {
                    block.push(t.to_string());
                }
            }
        }
    }
    blocks
}

/// This file's lines, trimmed, with the test's bootstrap argument written as the
/// README's address.
fn this_file_lines() -> Vec<String> {
    include_str!("readme_snippets.rs")
        .lines()
        .map(|l| l.trim().replace("[bootstrap]", "[\"127.0.0.1:9092\"]"))
        .filter(|l| !l.is_empty())
        .collect()
}

fn contains_in_order(haystack: &[String], needle: &[String]) -> bool {
    // `use` lines sit at the top of each function here: compare them as a set, and the
    // code after them as one contiguous run.
    let (uses, code): (Vec<&String>, Vec<&String>) =
        needle.iter().partition(|l| l.starts_with("use "));
    let uses_ok = uses.iter().all(|u| haystack.contains(u));
    let code_ok = haystack
        .windows(code.len())
        .any(|w| w.iter().eq(code.iter().copied()));
    uses_ok && code_ok
}

#[test]
fn readme_snippets_are_the_code_this_test_runs() {
    let blocks = readme_blocks();
    assert!(blocks.len() >= 2, "README has {} rust blocks", blocks.len());
    let here = this_file_lines();
    for (i, block) in blocks.iter().take(2).enumerate() {
        assert!(
            contains_in_order(&here, block),
            "README rust block {} is not the code of tests/readme_snippets.rs; update both:\n{}",
            i + 1,
            block.join("\n")
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readme_snippets_run_in_order_consume_what_they_produce() {
    let bootstrap = kafka_testbed::shared_cluster().bootstrap_servers();
    let run = async {
        readme_using_it(&bootstrap).await.expect("README snippet 1");
        readme_producing_and_consuming(&bootstrap)
            .await
            .expect("README snippet 2");
    };
    tokio::time::timeout(Duration::from_secs(120), run)
        .await
        .expect("the README snippets finish");
    // What the second snippet's consumer read, it committed on close.
    let admin = kafka_admin::Admin::connect(&bootstrap).expect("admin");
    let committed = admin
        .list_consumer_group_offsets("billing", ListGroupOffsetsOptions::default())
        .await
        .expect("offsets");
    let total: i64 = committed
        .iter()
        .filter(|(tp, _)| tp.topic == "orders")
        .filter_map(|(_, r)| r.as_ref().ok().and_then(|o| o.as_ref()).map(|o| o.offset))
        .sum();
    assert!(
        total >= 1,
        "group billing committed nothing on orders: the snippet consumed no record ({committed:?})"
    );
}
