//! Test support for the turmoil tests of the Sentinels (and of the client, which includes this file by path):
//! connecting with retries, reading Sentinel replies, waiting for discovery and for events. The deployment, the
//! simulation and the fault loop are redsim's: `redsim::Deployment`, `redsim::sim`, `Cluster::run`.

// Each test file that includes this module uses part of it.
#![allow(dead_code, unused_imports)]

use std::time::Duration;

pub use redsim::Topology;
pub use redsim::deployment::{MASTER_NAME, REDIS_PORT, SENTINEL_PORT, now_ms};
pub use redsim::history::EPOCH_MS;
use redsim_fake_redis::{ExecLog, LogEntry, Reply, RespConn};
use redsim_fake_sentinel::{EventLog, SentinelEvent};
use redsim_net::Net;

pub const TIMEOUT: Duration = Duration::from_secs(5);

/// Host names as the `Vec<String>` a fault takes.
pub fn hosts(names: &[&str]) -> Vec<String> {
    names.iter().map(|s| s.to_string()).collect()
}

/// Connects to `host:port`, retrying for a second (hosts may not have bound yet in the first ticks).
pub async fn connect(host: &str, port: u16) -> RespConn {
    for _ in 0..100 {
        if let Ok(c) = RespConn::connect(Net::Turmoil, host, port, TIMEOUT).await {
            return c;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("cannot connect to {host}:{port}");
}

/// A field of a RESP2 flat map reply (SENTINEL MASTER).
pub fn field(map: &Reply, name: &str) -> Option<String> {
    let items = map.as_array()?;
    items
        .chunks(2)
        .find(|kv| kv[0].as_text().as_deref() == Some(name))
        .and_then(|kv| kv[1].as_text())
}

/// Waits until every Sentinel knows `replicas` replicas (and has read their INFO) and `sentinels - 1` others.
pub async fn wait_discovery(topo: &Topology, within: Duration) -> bool {
    let deadline = tokio::time::Instant::now() + within;
    while tokio::time::Instant::now() < deadline {
        let mut all = true;
        for i in 1..=topo.sentinels {
            let mut c = connect(&format!("sentinel-{i}"), SENTINEL_PORT).await;
            let Ok(m) = c.call(&["SENTINEL", "MASTER", MASTER_NAME]).await else {
                all = false;
                break;
            };
            let ok = field(&m, "num-slaves") == Some(topo.replicas.to_string())
                && field(&m, "num-other-sentinels") == Some((topo.sentinels - 1).to_string());
            // Replicas count only once their own INFO has been read (a failover needs that).
            let replicas = c.call(&["SENTINEL", "REPLICAS", MASTER_NAME]).await.ok();
            let informed = replicas.as_ref().and_then(|r| r.as_array()).is_some_and(|rs| {
                rs.iter()
                    .all(|r| field(r, "master-link-status").as_deref() == Some("ok"))
            });
            all &= ok && informed;
        }
        if all {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    false
}

/// Events named `event`.
pub fn events_named(log: &EventLog, event: &str) -> Vec<SentinelEvent> {
    log.events().into_iter().filter(|e| e.event == event).collect()
}

/// The event log as comparable lines, for determinism checks.
pub fn transcript(log: &EventLog) -> Vec<String> {
    log.events()
        .iter()
        .map(|e| {
            format!(
                "{} {} {} {}",
                e.time_ms.saturating_sub(EPOCH_MS),
                e.sentinel,
                e.event,
                e.payload
            )
        })
        .collect()
}

/// Waits (in simulated time) until `pred` holds on the event log.
pub async fn wait_events(log: &EventLog, within: Duration, pred: impl Fn(&[SentinelEvent]) -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + within;
    while tokio::time::Instant::now() < deadline {
        if pred(&log.events()) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    pred(&log.events())
}

/// Commands `name` that a client called `client` ran, as the nodes logged them.
pub fn ran(log: &ExecLog, client: &str, name: &str) -> Vec<LogEntry> {
    log.entries()
        .into_iter()
        .filter(|e| e.client_name.as_deref() == Some(client) && e.name() == name)
        .collect()
}
