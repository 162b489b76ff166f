//! The share consumer's requests on a real broker: ShareGroupHeartbeat through the
//! group's coordinator, ShareFetch and ShareAcknowledge to partition leaders, topic
//! routes from the client's metadata.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::exchange::{AckAsk, FetchAsk, ShareAnswer, ShareWire, TopicRoute};
use super::membership::{HeartbeatReply, HeartbeatRequest};
use crate::client::Client;
use crate::error::{Error, Result};
use crate::ops::CoordinatorLink;
use crate::types::BoxFuture;

/// The broker side of [`ShareWire`].
#[derive(Debug)]
pub(crate) struct BrokerWire {
    client: Client,
    link: CoordinatorLink,
}

impl BrokerWire {
    pub(crate) fn new(client: Client, group_id: String) -> Self {
        Self {
            link: CoordinatorLink::new(client.clone(), group_id),
            client,
        }
    }
}

fn not_yet() -> Error {
    Error::InvalidState("share group requests are not wired yet".into())
}

impl ShareWire for BrokerWire {
    fn heartbeat(&self, _req: HeartbeatRequest) -> BoxFuture<'_, Result<HeartbeatReply>> {
        let _ = &self.link;
        Box::pin(async { Err(not_yet()) })
    }

    fn fetch(&self, _broker: i32, _ask: FetchAsk) -> BoxFuture<'_, Result<ShareAnswer>> {
        Box::pin(async { Err(not_yet()) })
    }

    fn acknowledge(&self, _broker: i32, _ask: AckAsk) -> BoxFuture<'_, Result<ShareAnswer>> {
        Box::pin(async { Err(not_yet()) })
    }

    fn routes(&self, topics: Vec<String>, refresh: bool) -> BoxFuture<'_, Result<Vec<TopicRoute>>> {
        Box::pin(async move {
            let names: Vec<&str> = topics.iter().map(String::as_str).collect();
            let meta = if refresh
                || topics
                    .iter()
                    .any(|t| self.client.cached_metadata().topic(t).is_none())
            {
                self.client.refresh_topics(&names).await?
            } else {
                self.client.cached_metadata()
            };
            Ok(topics
                .iter()
                .filter_map(|t| meta.topic(t))
                .map(|info| TopicRoute {
                    id: info.id,
                    name: Arc::from(info.name.as_str()),
                    leaders: info
                        .partitions
                        .iter()
                        .filter_map(|p| p.leader.map(|l| (p.partition, l)))
                        .collect::<BTreeMap<i32, i32>>(),
                })
                .collect())
        })
    }
}
