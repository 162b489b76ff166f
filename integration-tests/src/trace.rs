//! The client's debug events on stderr, switched on by an environment variable: how a
//! flaky test or a matrix scenario is traced without rebuilding.

use std::sync::Once;

/// The variable that turns the client's debug trace on in every test that starts a
/// cluster (`KAFKA_TEST_TRACE=1 cargo test ... -- --nocapture`).
pub const TEST_TRACE_ENV: &str = "KAFKA_TEST_TRACE";

/// When `var` is set, installs (once per process) a subscriber that prints the client's
/// events (target `kafka_client`, level DEBUG and above) to stderr, with timestamps.
/// Does nothing when `var` is unset or another subscriber is already installed.
pub fn trace_client_if_set(var: &str) {
    static ONCE: Once = Once::new();
    if std::env::var_os(var).is_none() {
        return;
    }
    ONCE.call_once(|| {
        use tracing_subscriber::layer::SubscriberExt;
        use tracing_subscriber::{Layer, filter};
        let layer = tracing_subscriber::fmt::layer()
            .with_writer(std::io::stderr)
            .with_filter(filter::filter_fn(|m| {
                m.target().starts_with("kafka_client") && *m.level() <= tracing::Level::DEBUG
            }));
        let _ = tracing::subscriber::set_global_default(tracing_subscriber::registry().with(layer));
    });
}
