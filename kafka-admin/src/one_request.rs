//! Calls that are one request as a whole (list reassignments, describe quotas, ...): sent
//! through the same retry driver as the batched calls, with the whole call as its only
//! item.

use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::time::Duration;

use kafka_client::lowlevel::{Connection, Target};
use kafka_client::{Client, Error, ErrorContext, Result};
use kafka_protocol::messages::ApiKey;

use crate::driver::{Call, fixed};

/// The single item of a whole-request call, named after the operation.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Whole(&'static str);

impl fmt::Display for Whole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

/// Where a whole-request call goes and how it retries.
pub(crate) struct OneRequest<'a> {
    pub(crate) client: &'a Client,
    pub(crate) operation: &'static str,
    pub(crate) api: ApiKey,
    pub(crate) timeout: Duration,
    pub(crate) target: Target,
    pub(crate) retry: fn(&Error) -> bool,
}

impl OneRequest<'_> {
    /// Sends the request `send` builds to the target, retrying what `retry` accepts until
    /// the timeout.
    pub(crate) async fn run<R, S, SF>(&self, send: S) -> Result<R>
    where
        S: Fn(Connection) -> SF,
        SF: Future<Output = Result<R>>,
    {
        let call = Call::new(self.client, self.operation, self.api, self.timeout).retry(self.retry);
        let key = Whole(self.operation);
        let target = self.target;
        let send = &send;
        let mut results = call
            .run(
                BTreeMap::from([(key.clone(), ())]),
                |keys| fixed(target, keys),
                |conn, _batch| {
                    let key = key.clone();
                    async move { Ok(vec![(key, send(conn).await)]) }
                },
            )
            .await;
        results.remove(&key).unwrap_or_else(|| {
            Err(Error::Protocol {
                context: ErrorContext::default().with_api(self.api),
                message: "no result for the request".into(),
            })
        })
    }
}
