//! Routes transactional ids to their transaction coordinators (FindCoordinator key type
//! 1: every key in one request from v4, one request per key before).

use std::collections::BTreeMap;

use kafka_client::protocol::messages::{ApiKey, FindCoordinatorRequest};
use kafka_client::protocol::protocol::StrBytes;
use kafka_client::{Client, Error, ErrorCode, ErrorContext, Result, Target};

use crate::admin::{item_error, version, wire_str};
use crate::driver::{Route, retry_coordinator_errors};

const TRANSACTION_KEY_TYPE: i8 = 1;

fn route(id: &str, node: i32, code: i16, message: Option<&StrBytes>) -> Route {
    let ctx = || {
        ErrorContext::default()
            .with_api(ApiKey::FindCoordinator)
            .with_resource(id)
    };
    match item_error(code, ctx, message) {
        None if node >= 0 => Route::To(Target::Broker(node)),
        None => Route::Retry(Error::broker(
            ErrorCode::COORDINATOR_NOT_AVAILABLE,
            ctx(),
            None,
        )),
        Some(e) if retry_coordinator_errors(&e) => Route::Retry(e),
        Some(e) => Route::Fail(e),
    }
}

/// Each transactional id's coordinator.
pub(crate) async fn transaction_coordinators(
    client: &Client,
    ids: Vec<String>,
) -> Result<BTreeMap<String, Route>> {
    let conn = client.target_connection(Target::Any).await?;
    let v = version::<FindCoordinatorRequest>(&conn)?;
    let mut routes = BTreeMap::new();
    if v >= 4 {
        let req = FindCoordinatorRequest::default()
            .with_key_type(TRANSACTION_KEY_TYPE)
            .with_coordinator_keys(ids.iter().map(|g| wire_str(g)).collect());
        let resp = conn.request(&req).await?;
        for c in resp.coordinators {
            let id = c.key.to_string();
            let r = route(&id, c.node_id.0, c.error_code, c.error_message.as_ref());
            routes.insert(id, r);
        }
    } else {
        for id in ids {
            let req = FindCoordinatorRequest::default()
                .with_key(wire_str(&id))
                .with_key_type(TRANSACTION_KEY_TYPE);
            let resp = conn.request(&req).await?;
            let r = route(
                &id,
                resp.node_id.0,
                resp.error_code,
                resp.error_message.as_ref(),
            );
            routes.insert(id, r);
        }
    }
    Ok(routes)
}
