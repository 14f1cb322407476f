//! Shared scaffolding for the turmoil tests of fake-redis: a simulation with fixed latency and epoch, nodes
//! registered as hosts (re-created on restart), and small helpers to read INFO fields.

#![allow(dead_code)]

use std::sync::{Arc, Mutex};
use std::time::{Duration, UNIX_EPOCH};

use redsim_fake_redis::{Config, ExecLog, Node, Reply, RespConn};
use redsim_net::Net;

pub const PORT: u16 = 6379;
pub const TIMEOUT: Duration = Duration::from_secs(5);

/// A simulation with a fixed epoch, 1 ms ticks and a fixed one-way latency.
pub fn sim(seed: u64, latency: Duration, duration: Duration) -> turmoil::Sim<'static> {
    turmoil::Builder::new()
        .rng_seed(seed)
        .epoch(UNIX_EPOCH + Duration::from_secs(1_700_000_000))
        .tick_duration(Duration::from_millis(1))
        .min_message_latency(latency)
        .max_message_latency(latency)
        .simulation_duration(duration)
        .build()
}

/// The node currently running on a host (replaced when the host restarts).
#[derive(Clone, Default)]
pub struct Slot(Arc<Mutex<Option<Node>>>);

impl Slot {
    pub fn get(&self) -> Node {
        self.0.lock().unwrap().clone().expect("node not started yet")
    }
}

/// A node config for host `name`: a replica of `master` when given, with a short repl-timeout so that
/// partitions are detected within test durations.
pub fn config(name: &str, master: Option<&str>, seed: u64) -> Config {
    Config {
        name: name.into(),
        port: PORT,
        replicaof: master.map(|m| (m.to_string(), PORT)),
        repl_timeout_s: 5,
        seed,
        ..Config::default()
    }
}

/// Registers a host running a fake Redis node.
pub fn add_node(sim: &mut turmoil::Sim<'static>, cfg: Config, log: &ExecLog) -> Slot {
    let slot = Slot::default();
    let (s, log) = (slot.clone(), log.clone());
    let name = cfg.name.clone();
    sim.host(name, move || {
        let node = Node::new(Net::Turmoil, cfg.clone(), log.clone());
        *s.0.lock().unwrap() = Some(node.clone());
        async move {
            node.serve().await?;
            Ok(())
        }
    });
    slot
}

/// A master and `replicas` replicas named `master`, `replica-1`, ...
pub fn cluster(sim: &mut turmoil::Sim<'static>, replicas: usize, log: &ExecLog) -> Vec<Slot> {
    let mut slots = vec![add_node(sim, config("master", None, 1), log)];
    for i in 1..=replicas {
        slots.push(add_node(
            sim,
            config(&format!("replica-{i}"), Some("master"), 1 + i as u64),
            log,
        ));
    }
    slots
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

/// Waits until `replica-1` ..= `replica-n` report their master link up; panics after 10 s.
pub async fn links_up(n: usize) {
    for i in 1..=n {
        let host = format!("replica-{i}");
        assert!(
            wait_for(&host, "master_link_status", "up", Duration::from_secs(10)).await,
            "{host}: link never up"
        );
    }
}

pub fn bulk(s: &str) -> Reply {
    Reply::text(s)
}
