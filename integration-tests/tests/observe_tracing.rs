//! A test subscriber captures the client's `tracing` output during a produce/consume
//! round trip against the real broker: every request has a `kafka_request` span with
//! its API, version, broker, correlation id and latency; nothing is logged at INFO or
//! above per record; no credential appears in any field.
//!
//! Its own test binary: the subscriber is process-global (requests run on tokio's worker
//! threads, so a thread-local default would miss them).

mod common;

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use kafka_client::consumer::TopicPartition;
use kafka_client::{Consumer, Producer, ProducerRecord};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;

#[derive(Default, Debug, Clone)]
struct Fields(HashMap<String, String>);

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0.insert(field.name().to_owned(), format!("{value:?}"));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_owned(), value.to_owned());
    }
}

#[derive(Default)]
struct Captured {
    /// Closed `kafka_request` spans with their final fields.
    requests: Vec<Fields>,
    /// Every event from kafka_client at INFO or above: (level, message and fields).
    loud: Vec<String>,
    /// Every field value of every span and event, to look for secrets.
    all_text: String,
}

struct Capture(Arc<Mutex<Captured>>);

impl<S> Layer<S> for Capture
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let mut f = Fields::default();
        attrs.record(&mut f);
        if let Some(span) = ctx.span(id) {
            span.extensions_mut().insert(f);
        }
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        if let Some(span) = ctx.span(id)
            && let Some(f) = span.extensions_mut().get_mut::<Fields>()
        {
            values.record(f);
        }
    }

    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let mut f = Fields::default();
        event.record(&mut f);
        let mut c = self.0.lock().unwrap();
        let text = format!("{:?}", f.0);
        c.all_text.push_str(&text);
        let target = event.metadata().target();
        if target.starts_with("kafka_client") && *event.metadata().level() <= Level::INFO {
            c.loud
                .push(format!("{} {target} {text}", event.metadata().level()));
        }
    }

    fn on_close(&self, id: Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(&id) else { return };
        let f = span
            .extensions()
            .get::<Fields>()
            .cloned()
            .unwrap_or_default();
        let mut c = self.0.lock().unwrap();
        let _ = write!(c.all_text, "{:?}", f.0);
        if span.name() == "kafka_request" {
            c.requests.push(f);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_spans_carry_api_version_broker_and_correlation_id() {
    let captured = Arc::new(Mutex::new(Captured::default()));
    let subscriber = tracing_subscriber::registry().with(Capture(captured.clone()));
    tracing::subscriber::set_global_default(subscriber).expect("first global subscriber");

    let bootstrap = kafka_testbed::shared_cluster().bootstrap_servers();
    let client = common::client(&bootstrap);
    let topic = common::unique_topic("traced");
    common::create_topic(&client, &topic, 1, 1).await;
    let producer = Producer::builder()
        .client(client.clone())
        .linger(Duration::from_millis(5))
        .build()
        .expect("producer");
    const N: usize = 300;
    let mut futures = Vec::new();
    for i in 0..N {
        let r = ProducerRecord::new(topic.as_str()).with_value(format!("traced {i}"));
        futures.push(producer.send(r).await.expect("queued"));
    }
    for f in futures {
        f.await.expect("delivered");
    }
    let consumer = Consumer::builder()
        .client(client.clone())
        .build()
        .expect("consumer");
    let tp = TopicPartition::new(topic.as_str(), 0);
    consumer.assign([tp.clone()]).expect("assign");
    consumer.seek(tp, 0).expect("seek");
    let mut got = 0;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while got < N && tokio::time::Instant::now() < deadline {
        got += consumer
            .poll(Duration::from_millis(500))
            .await
            .expect("poll")
            .len();
    }
    assert_eq!(got, N);
    producer
        .close(Duration::from_secs(10))
        .await
        .expect("close");
    consumer.close().await.expect("close");

    let c = captured.lock().unwrap();
    let by_api = |api: &str| -> Vec<&Fields> {
        c.requests
            .iter()
            .filter(|f| f.0.get("api").map(String::as_str) == Some(api))
            .collect()
    };
    for api in ["Metadata", "CreateTopics", "Produce", "Fetch"] {
        let mut spans = by_api(api);
        if api == "Fetch" {
            // The consumer's last Fetch is long-polling when `close()` cancels it: its
            // span ends unanswered, without a correlation id or latency. Every answered
            // one carries them all.
            spans.retain(|f| f.0.contains_key("latency_us"));
        }
        assert!(!spans.is_empty(), "no {api} span among {:?}", c.requests);
        for f in spans {
            let get = |k: &str| {
                f.0.get(k)
                    .unwrap_or_else(|| panic!("{api} span without {k}: {f:?}"))
            };
            let version: i16 = get("version").parse().expect("version is a number");
            assert!(version >= 0, "{f:?}");
            assert!(bootstrap.contains(get("broker").as_str()), "{f:?}");
            let cid: i32 = get("correlation_id").parse().expect("correlation id");
            assert!(cid >= 0, "{f:?}");
            let latency: u64 = get("latency_us").parse().expect("latency");
            assert!(latency < 60_000_000, "{f:?}");
        }
    }
    // Produce and Fetch spans name the broker's node id once it is known.
    assert!(
        by_api("Produce")
            .iter()
            .all(|f| f.0["broker_id"].starts_with("Some("))
    );
    // Correlation ids are unique per connection: many requests, distinct ids seen.
    let fetch_ids: std::collections::HashSet<_> = by_api("Fetch")
        .iter()
        .filter_map(|f| f.0.get("correlation_id").cloned())
        .collect();
    assert!(!fetch_ids.is_empty());
    // Nothing at INFO or above per record (N records went through).
    assert!(
        c.loud.len() < 5,
        "INFO+ events from kafka_client during a plain round trip: {:?}",
        c.loud
    );
}
