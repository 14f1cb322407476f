//! A Sentinel deployment inside turmoil: data nodes `redis-1` (master) .. `redis-N`, Sentinels `sentinel-1` ..,
//! all sharing one execution log and one event log, with helpers to wait for events and read replies.

#![allow(dead_code)]

use std::sync::{Arc, Mutex};
use std::time::{Duration, UNIX_EPOCH};

use redsim_fake_redis::{Config, ExecLog, Node, Reply, RespConn};
use redsim_fake_sentinel::{EventLog, MasterConfig, Sentinel, SentinelConfig, SentinelEvent};
use redsim_net::Net;

pub const REDIS_PORT: u16 = 6379;
pub const SENTINEL_PORT: u16 = 26379;
pub const TIMEOUT: Duration = Duration::from_secs(5);
/// The simulation's epoch: event times are offsets from it.
pub const EPOCH_MS: u64 = 1_700_000_000_000;

/// What a scenario is built from.
#[derive(Clone)]
pub struct Topology {
    pub replicas: usize,
    pub sentinels: usize,
    pub quorum: u32,
    pub down_after_ms: u64,
    pub failover_timeout_ms: u64,
    pub parallel_syncs: u32,
    /// Replica priorities, by replica index (default 100).
    pub priorities: Vec<u32>,
}

impl Default for Topology {
    fn default() -> Self {
        Topology {
            replicas: 2,
            sentinels: 3,
            quorum: 2,
            down_after_ms: 5000,
            failover_timeout_ms: 60_000,
            parallel_syncs: 1,
            priorities: vec![],
        }
    }
}

/// Handles on everything running in a deployment.
pub struct Deployment {
    pub exec: ExecLog,
    pub events: EventLog,
    pub nodes: Vec<Arc<Mutex<Option<Node>>>>,
    pub sentinels: Vec<Arc<Mutex<Option<Sentinel>>>>,
}

pub fn sim(seed: u64, duration: Duration) -> turmoil::Sim<'static> {
    turmoil::Builder::new()
        .rng_seed(seed)
        .epoch(UNIX_EPOCH + Duration::from_millis(EPOCH_MS))
        .tick_duration(Duration::from_millis(1))
        // A fixed latency: with a range, a crash would consume the RNG's latency draws in an order set by
        // process-wide tokio task ids, and two runs in one process could differ (see redsim's Network docs).
        .min_message_latency(Duration::from_millis(2))
        .max_message_latency(Duration::from_millis(2))
        .simulation_duration(duration)
        .build()
}

pub fn deploy(sim: &mut turmoil::Sim<'static>, topo: &Topology) -> Deployment {
    let exec = ExecLog::new();
    let events = EventLog::new();
    let mut nodes = Vec::new();
    for i in 1..=topo.replicas + 1 {
        let slot: Arc<Mutex<Option<Node>>> = Arc::default();
        let cfg = Config {
            name: format!("redis-{i}"),
            port: REDIS_PORT,
            replicaof: (i > 1).then(|| ("redis-1".to_string(), REDIS_PORT)),
            replica_priority: topo
                .priorities
                .get(i.saturating_sub(2))
                .copied()
                .filter(|_| i > 1)
                .unwrap_or(100),
            seed: 100 + i as u64,
            ..Config::default()
        };
        let (s, log) = (slot.clone(), exec.clone());
        sim.host(cfg.name.clone(), move || {
            let node = Node::new(Net::Turmoil, cfg.clone(), log.clone());
            *s.lock().unwrap() = Some(node.clone());
            async move {
                node.serve().await?;
                Ok(())
            }
        });
        nodes.push(slot);
    }
    let mut sentinels = Vec::new();
    for i in 1..=topo.sentinels {
        let slot: Arc<Mutex<Option<Sentinel>>> = Arc::default();
        let mut master = MasterConfig::new("mymaster", "redis-1", REDIS_PORT, topo.quorum);
        master.down_after_ms = topo.down_after_ms;
        master.failover_timeout_ms = topo.failover_timeout_ms;
        master.parallel_syncs = topo.parallel_syncs;
        let cfg = SentinelConfig {
            name: format!("sentinel-{i}"),
            port: SENTINEL_PORT,
            masters: vec![master],
            seed: 200 + i as u64,
            ..SentinelConfig::default()
        };
        let (s, ev) = (slot.clone(), events.clone());
        sim.host(cfg.name.clone(), move || {
            let sentinel = Sentinel::new(Net::Turmoil, cfg.clone(), ev.clone());
            *s.lock().unwrap() = Some(sentinel.clone());
            async move {
                sentinel.serve().await?;
                Ok(())
            }
        });
        sentinels.push(slot);
    }
    Deployment {
        exec,
        events,
        nodes,
        sentinels,
    }
}

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
            let Ok(m) = c.call(&["SENTINEL", "MASTER", "mymaster"]).await else {
                all = false;
                break;
            };
            let ok = field(&m, "num-slaves") == Some(topo.replicas.to_string())
                && field(&m, "num-other-sentinels") == Some((topo.sentinels - 1).to_string());
            // Replicas count only once their own INFO has been read (a failover needs that).
            let replicas = c.call(&["SENTINEL", "REPLICAS", "mymaster"]).await.ok();
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

/// Milliseconds of simulated time.
pub fn now_ms() -> u64 {
    turmoil::sim_elapsed().unwrap_or_default().as_millis() as u64
}

/// Events named `event`, optionally only from one Sentinel.
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

/// Faults a scenario's client asks the simulation loop to apply (turmoil applies them from outside the hosts).
#[derive(Clone, Default)]
pub struct Faults(std::rc::Rc<std::cell::RefCell<Vec<Fault>>>);

#[derive(Clone, Debug)]
pub enum Fault {
    Crash(String),
    Bounce(String),
    Partition(Vec<String>, Vec<String>),
    Repair(Vec<String>, Vec<String>),
    /// Sets the one-way latency of an existing link (turmoil creates links on first contact).
    Latency(String, String, Duration),
    /// Messages between the groups are held (delayed, not lost): a frozen process, seen from outside.
    Hold(Vec<String>, Vec<String>),
    Release(Vec<String>, Vec<String>),
}

impl Faults {
    pub fn request(&self, f: Fault) {
        self.0.borrow_mut().push(f);
    }
}

/// Runs the simulation to the end, applying requested faults as they come.
pub fn run(sim: &mut turmoil::Sim<'static>, faults: &Faults) -> turmoil::Result {
    loop {
        for f in faults.0.borrow_mut().drain(..) {
            match f {
                Fault::Crash(h) => sim.crash(h),
                Fault::Bounce(h) => sim.bounce(h),
                Fault::Partition(a, b) => {
                    for x in &a {
                        for y in &b {
                            sim.partition(x.as_str(), y.as_str());
                        }
                    }
                }
                Fault::Repair(a, b) => {
                    for x in &a {
                        for y in &b {
                            sim.repair(x.as_str(), y.as_str());
                        }
                    }
                }
                Fault::Latency(a, b, d) => sim.set_link_latency(a.as_str(), b.as_str(), d),
                Fault::Hold(a, b) => {
                    for x in &a {
                        for y in &b {
                            sim.hold(x.as_str(), y.as_str());
                        }
                    }
                }
                Fault::Release(a, b) => {
                    for x in &a {
                        for y in &b {
                            sim.release(x.as_str(), y.as_str());
                        }
                    }
                }
            }
        }
        if sim.step()? {
            return Ok(());
        }
    }
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
