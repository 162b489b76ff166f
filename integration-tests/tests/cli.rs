//! `kafka-cli` driven end to end as a user would: create a topic, produce lines from
//! stdin with keys and headers, consume them back (template and JSON), consume in a
//! group and show its lag, and the exit codes scripts rely on (1 failed operation,
//! 2 bad usage, 3 unreachable cluster).
//!
//! The binary lives in the `examples` package, so `CARGO_BIN_EXE_*` is not available
//! here: the test builds it once with the same cargo and profile as the test itself,
//! and runs it from the same target directory.

mod common;

use std::process::Output;

use common::example_bin::show;

/// Runs `kafka-cli` with `args` and `stdin`; returns its output.
fn run(bootstrap: Option<&str>, args: &[&str], stdin: &str) -> Output {
    let mut all: Vec<&str> = bootstrap.map_or(Vec::new(), |b| vec!["--bootstrap-server", b]);
    all.extend_from_slice(args);
    common::example_bin::run_example("kafka-cli", &all, stdin)
}

fn code(o: &Output) -> i32 {
    o.status.code().expect("exited normally")
}

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).expect("utf-8 stdout")
}

#[test]
fn create_produce_consume_and_group_lag() {
    let bootstrap = kafka_testbed::shared_cluster().bootstrap_servers();
    let b = Some(bootstrap.as_str());
    let topic = common::unique_topic("cli");

    let o = run(
        b,
        &[
            "topics",
            "create",
            "--topic",
            &topic,
            "--partitions",
            "1",
            "--replication-factor",
            "1",
        ],
        "",
    );
    assert_eq!(code(&o), 0, "{}", show(&o));
    // Again: the topic exists (1), unless --if-not-exists (0).
    let o = run(
        b,
        &["topics", "create", "--topic", &topic, "--partitions", "1"],
        "",
    );
    assert_eq!(code(&o), 1, "{}", show(&o));
    let o = run(
        b,
        &[
            "topics",
            "create",
            "--topic",
            &topic,
            "--partitions",
            "1",
            "--if-not-exists",
        ],
        "",
    );
    assert_eq!(code(&o), 0, "{}", show(&o));

    // Produce keyed lines with a header, gzip-compressed.
    let o = run(
        b,
        &[
            "produce",
            "--topic",
            &topic,
            "--key-separator",
            ":",
            "--header",
            "src=cli",
            "--compression",
            "gzip",
            "--acks",
            "all",
        ],
        "k1:v1\nk2:hello: world\nk3:\n",
    );
    assert_eq!(code(&o), 0, "{}", show(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("produced 3 of 3"),
        "{}",
        show(&o)
    );
    // A line without the separator is a usage error.
    let o = run(
        b,
        &["produce", "--topic", &topic, "--key-separator", ":"],
        "nosep\n",
    );
    assert_eq!(code(&o), 2, "{}", show(&o));

    // Consume them back with a template.
    let o = run(
        b,
        &[
            "--timeout",
            "20",
            "consume",
            "--topic",
            &topic,
            "--from-beginning",
            "--count",
            "3",
            "--format",
            "{topic}|{partition}|{offset}|{key}|{value}|{headers}",
        ],
        "",
    );
    assert_eq!(code(&o), 0, "{}", show(&o));
    assert_eq!(
        stdout(&o),
        format!(
            "{topic}|0|0|k1|v1|src=cli\n{topic}|0|1|k2|hello: world|src=cli\n{topic}|0|2|k3||src=cli\n"
        )
    );

    // And as JSON, one object per line.
    let o = run(
        b,
        &[
            "--timeout",
            "20",
            "consume",
            "--topic",
            &topic,
            "--from-beginning",
            "--count",
            "3",
            "--json",
        ],
        "",
    );
    assert_eq!(code(&o), 0, "{}", show(&o));
    let lines: Vec<serde_json::Value> = stdout(&o)
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .collect();
    assert_eq!(lines.len(), 3);
    assert_eq!(lines[1]["key"], "k2");
    assert_eq!(lines[1]["value"], "hello: world");
    assert_eq!(lines[1]["offset"], 1);
    assert_eq!(lines[1]["partition"], 0);
    assert_eq!(lines[1]["topic"], topic.as_str());
    assert_eq!(
        lines[1]["headers"],
        serde_json::json!([{"key": "src", "value": "cli"}])
    );

    // An idle timeout ends a consume without --count, exit 0 (nothing new after the end).
    let o = run(b, &["--timeout", "3", "consume", "--topic", &topic], "");
    assert_eq!(code(&o), 0, "{}", show(&o));
    assert_eq!(stdout(&o), "");

    // A group consume commits what it printed: lag 0 afterwards.
    let group = common::unique_topic("cli-group");
    let o = run(
        b,
        &[
            "--timeout",
            "30",
            "consume",
            "--topic",
            &topic,
            "--from-beginning",
            "--group",
            &group,
            "--count",
            "3",
            "--format",
            "{key}={value}",
        ],
        "",
    );
    assert_eq!(code(&o), 0, "{}", show(&o));
    assert_eq!(stdout(&o), "k1=v1\nk2=hello: world\nk3=\n");
    let o = run(b, &["groups", "lag", "--group", &group], "");
    assert_eq!(code(&o), 0, "{}", show(&o));
    let out = stdout(&o);
    let row = out
        .lines()
        .find(|l| l.starts_with(topic.as_str()))
        .unwrap_or_else(|| panic!("no lag row for {topic}:\n{out}"));
    let cols: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(&cols[..5], &[topic.as_str(), "0", "3", "3", "0"], "{out}");
}

#[test]
fn exit_codes_for_usage_errors_and_unreachable_clusters() {
    // Usage errors: exit 2.
    let o = run(None, &[], "");
    assert_eq!(code(&o), 2, "{}", show(&o));
    let o = run(None, &["consume", "--bogus-flag"], "");
    assert_eq!(code(&o), 2, "{}", show(&o));
    let o = run(Some("127.0.0.1:1"), &["produce"], "");
    assert_eq!(code(&o), 2, "missing --topic: {}", show(&o));
    let o = run(None, &["topics", "list"], "");
    assert_eq!(code(&o), 2, "no bootstrap: {}", show(&o));
    let o = run(
        Some("127.0.0.1:1"),
        &["consume", "--topic", "t", "--format", "{nope}"],
        "",
    );
    assert_eq!(code(&o), 2, "{}", show(&o));
    let o = run(
        Some("127.0.0.1:1"),
        &["produce", "--topic", "t", "--compression", "brotli"],
        "",
    );
    assert_eq!(code(&o), 2, "{}", show(&o));
    // --help works for the new subcommands.
    for sub in ["produce", "consume"] {
        let o = run(None, &[sub, "--help"], "");
        assert_eq!(code(&o), 0, "{}", show(&o));
        assert!(stdout(&o).contains("--topic"), "{}", show(&o));
    }

    // Nothing listens on port 1: exit 3, for admin, produce and consume alike.
    for args in [
        &["--timeout", "3", "topics", "list"][..],
        &["--timeout", "3", "produce", "--topic", "t"][..],
        &["--timeout", "3", "consume", "--topic", "t"][..],
    ] {
        let o = run(Some("127.0.0.1:1"), args, "a\n");
        assert_eq!(code(&o), 3, "{args:?}: {}", show(&o));
    }
}
