//! Describe cluster: brokers, controller, cluster id (DescribeCluster, or Metadata from
//! brokers that predate it).

use std::collections::BTreeMap;
use std::time::Duration;

use kafka_client::lowlevel::Target;
use kafka_client::{Error, Result};
use kafka_protocol::messages::{ApiKey, DescribeClusterRequest};

use kafka_client::lowlevel::RetryClock;

use crate::admin::{Admin, check_item, version};

/// Options for [`Admin::describe_cluster`].
#[derive(Clone, Debug)]
pub struct DescribeClusterOptions {
    timeout: Duration,
    include_fenced_brokers: bool,
}

impl Default for DescribeClusterOptions {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(60),
            include_fenced_brokers: false,
        }
    }
}

impl DescribeClusterOptions {
    /// How long the whole call may take, retries included. Default 60 s.
    pub fn timeout(mut self, t: Duration) -> Self {
        self.timeout = t;
        self
    }

    /// Also list fenced brokers (DescribeCluster v2 and later; ignored before).
    pub fn include_fenced_brokers(mut self, v: bool) -> Self {
        self.include_fenced_brokers = v;
        self
    }
}

/// One broker of the cluster.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct BrokerNode {
    /// Node id.
    pub id: i32,
    /// Advertised host.
    pub host: String,
    /// Advertised port.
    pub port: u16,
    /// Rack, when configured.
    pub rack: Option<String>,
    /// Whether the broker is fenced (only listed with `include_fenced_brokers`).
    pub is_fenced: bool,
}

/// The cluster as [`Admin::describe_cluster`] reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ClusterDescription {
    /// Cluster id.
    pub cluster_id: String,
    /// Node id of the controller as brokers report it (in KRaft, a broker that forwards
    /// to the active controller), if any. Through `bootstrap.controllers` (KIP-919): the
    /// active controller.
    pub controller: Option<i32>,
    /// Brokers by node id; through `bootstrap.controllers`, the controllers (with their
    /// controller listeners' addresses).
    pub brokers: BTreeMap<i32, BrokerNode>,
}

impl Admin {
    /// Describes the cluster: its id, brokers and controller. An admin whose client was
    /// built with `bootstrap.controllers` (KIP-919) describes the KRaft controllers
    /// instead (DescribeCluster v1+ with the controller endpoint type), as Java's does.
    ///
    /// # Cancel safety
    /// Cancel-safe: read-only, and the admin client holds no state a dropped call could
    /// leave behind. Dropping it changes nothing; the next call works.
    pub async fn describe_cluster(
        &self,
        options: DescribeClusterOptions,
    ) -> Result<ClusterDescription> {
        let mut clock = RetryClock::new(&self.client, "DescribeCluster", options.timeout);
        loop {
            match clock.bound(self.describe_cluster_once(&options)).await {
                Err(Error::UnsupportedVersion { .. }) => {
                    return clock.bound(self.cluster_from_metadata()).await;
                }
                Err(e) => clock.retry_after(e).await?,
                Ok(d) => return Ok(d),
            }
        }
    }

    async fn describe_cluster_once(
        &self,
        options: &DescribeClusterOptions,
    ) -> Result<ClusterDescription> {
        let via_controllers = self.client.config().via_controllers();
        let conn = self.client.target_connection(Target::Any).await?;
        let v = version::<DescribeClusterRequest>(&conn)?;
        let mut req = DescribeClusterRequest::default();
        if v >= 1 {
            // Brokers, or through `bootstrap.controllers` (KIP-919) the controllers.
            req = req.with_endpoint_type(if via_controllers { 2 } else { 1 });
        }
        if v >= 2 {
            req = req.with_include_fenced_brokers(options.include_fenced_brokers);
        }
        let resp = conn.request(&req).await?;
        check_item(
            resp.error_code,
            || kafka_client::ErrorContext::default().with_api(ApiKey::DescribeCluster),
            resp.error_message.as_ref(),
        )?;
        let brokers = resp
            .brokers
            .into_iter()
            .map(|b| {
                let node = BrokerNode {
                    id: b.broker_id.0,
                    host: b.host.to_string(),
                    port: u16::try_from(b.port).unwrap_or(0),
                    rack: b.rack.map(|r| r.to_string()),
                    is_fenced: b.is_fenced,
                };
                (node.id, node)
            })
            .collect();
        Ok(ClusterDescription {
            cluster_id: resp.cluster_id.to_string(),
            controller: (resp.controller_id.0 >= 0).then_some(resp.controller_id.0),
            brokers,
        })
    }

    async fn cluster_from_metadata(&self) -> Result<ClusterDescription> {
        let m = self.client.metadata().await?;
        Ok(ClusterDescription {
            cluster_id: m.cluster_id.clone().unwrap_or_default(),
            controller: m.controller,
            brokers: m
                .brokers
                .values()
                .map(|b| {
                    let node = BrokerNode {
                        id: b.id,
                        host: b.address.host.clone(),
                        port: b.address.port,
                        rack: b.rack.clone(),
                        is_fenced: false,
                    };
                    (b.id, node)
                })
                .collect(),
        })
    }
}
