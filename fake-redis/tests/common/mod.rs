//! Test support for the turmoil tests of fake-redis: the settings they were written against, connecting with
//! retries, and small helpers to read INFO fields. The deployment and the simulation are redsim's:
//! `redsim::Deployment` (data nodes `redis-1`, the master, `redis-2` ..), `redsim::sim_builder`, `Cluster::run`.

#![allow(dead_code, unused_imports)]

use std::time::Duration;

pub use redsim::{Cluster, Deployment, Fault, Network, Topology};
use redsim_fake_redis::{Config, Reply, RespConn};
use redsim_net::Net;

pub const PORT: u16 = redsim::deployment::REDIS_PORT;
pub const TIMEOUT: Duration = Duration::from_secs(5);

/// A network whose every link takes exactly `latency_ms`.
pub fn network(latency_ms: u64) -> Network {
    Network {
        min_latency_ms: latency_ms,
        max_latency_ms: latency_ms,
        ..Network::default()
    }
}

/// A master (`redis-1`) and `replicas` replicas (`redis-2` ..), no Sentinel, on a `latency_ms` network, with
/// the settings these tests assume ([`node_defaults`]). Add `.node_config` for more (call `node_defaults` in it).
pub fn deployment(seed: u64, replicas: u32, latency_ms: u64) -> Deployment {
    Deployment::new(Topology {
        replicas,
        sentinels: 0,
        ..Topology::default()
    })
    .seed(seed)
    .network(network(latency_ms))
    .node_config(node_defaults)
}

/// The node settings these tests were written against: a short repl-timeout (5 s) so that partitions are
/// detected within test durations, the fake's own default ping period, and seed N for `redis-N`.
pub fn node_defaults(cfg: &mut Config) {
    cfg.repl_timeout_s = 5;
    cfg.repl_ping_replica_period_s = Config::default().repl_ping_replica_period_s;
    cfg.seed = cfg
        .name
        .strip_prefix("redis-")
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
}

pub async fn connect(host: &str) -> RespConn {
    // Hosts may not have bound yet in the first ticks: retry briefly.
    for _ in 0..50 {
        if let Ok(c) = RespConn::connect(Net::Turmoil, host, PORT, TIMEOUT).await {
            return c;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("cannot connect to {host}");
}

/// One field of an INFO reply.
pub fn info_field(info: &Reply, field: &str) -> Option<String> {
    let text = info.as_text()?;
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")).map(str::to_string))
}

/// Polls `INFO replication` on `host` until `field` has `value`, within `within`.
pub async fn wait_for(host: &str, field: &str, value: &str, within: Duration) -> bool {
    let deadline = tokio::time::Instant::now() + within;
    while tokio::time::Instant::now() < deadline {
        if let Ok(mut c) = RespConn::connect(Net::Turmoil, host, PORT, TIMEOUT).await
            && let Ok(info) = c.call(&["INFO", "replication"]).await
            && info_field(&info, field).as_deref() == Some(value)
        {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

/// Waits until the replicas `redis-2` ..= `redis-<n + 1>` report their master link up; panics after 10 s.
pub async fn links_up(n: usize) {
    for i in 2..=n + 1 {
        let host = format!("redis-{i}");
        assert!(
            wait_for(&host, "master_link_status", "up", Duration::from_secs(10)).await,
            "{host}: link never up"
        );
    }
}

pub fn bulk(s: &str) -> Reply {
    Reply::text(s)
}
