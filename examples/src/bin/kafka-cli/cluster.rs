//! `kafka-cli cluster describe`: the cluster id, its nodes and controller (what
//! `kafka-cluster.sh cluster-id` and Java's `Admin.describeCluster` give). With
//! `--bootstrap-controller` the nodes are the KRaft controllers (KIP-919).

use clap::Subcommand;
use kafka_admin::DescribeClusterOptions;

use crate::Ctx;
use crate::exit::Failure;

#[derive(Subcommand, Debug)]
pub enum ClusterCommand {
    /// The cluster id, each node (id, host:port, rack) and the controller: the brokers,
    /// or the controllers with `--bootstrap-controller`.
    Describe {
        /// One JSON object (clusterId, controllerId, nodes) instead of text.
        #[arg(long)]
        json: bool,
    },
}

pub async fn run(ctx: &Ctx, cmd: ClusterCommand) -> Result<(), Failure> {
    let ClusterCommand::Describe { json } = cmd;
    let c = ctx
        .admin
        .describe_cluster(DescribeClusterOptions::default().timeout(ctx.timeout))
        .await?;
    if json {
        let nodes: Vec<serde_json::Value> = c
            .brokers
            .values()
            .map(|n| {
                serde_json::json!({
                    "id": n.id,
                    "host": n.host,
                    "port": n.port,
                    "rack": n.rack,
                })
            })
            .collect();
        let line = serde_json::json!({
            "clusterId": c.cluster_id,
            "controllerId": c.controller,
            "nodes": nodes,
        });
        println!("{line}");
        return Ok(());
    }
    println!("ClusterId:    {}", c.cluster_id);
    println!(
        "ControllerId: {}",
        c.controller.map_or("-".to_string(), |id| id.to_string())
    );
    for n in c.brokers.values() {
        println!(
            "Node: {}\t{}:{}\tRack: {}",
            n.id,
            n.host,
            n.port,
            n.rack.as_deref().unwrap_or("-")
        );
    }
    Ok(())
}
