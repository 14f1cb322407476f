//! A Sentinel deployment inside a turmoil simulation: the one place in the workspace that starts fake data
//! nodes and fake Sentinels on turmoil's network.
//!
//! [`Deployment`] is a builder over the plain [`Topology`] data type. [`Deployment::install`] puts the nodes
//! (`redis-1`, the first master, .. `redis-N`) and the Sentinels (`sentinel-1` ..) into a [`turmoil::Sim`] the
//! caller owns, and hands back a [`Cluster`]: the addresses to give a client, a fault injector (every fault of
//! the schedule language, now or at a time), and the ground-truth logs every checker reads. Users' own hosts
//! (their services, their redis-rs code) go into the same `Sim` beside it:
//!
//! ```
//! use redsim::{Deployment, Fault, Topology};
//!
//! let seed = 7;
//! let mut sim = redsim::sim(seed);
//! let mut cluster = Deployment::new(Topology::default()).seed(seed).install(&mut sim);
//! let sentinels = cluster.sentinel_addrs(); // ["sentinel-1:26379", ...]: give these to a client
//! cluster.client(&mut sim, "my-service", async move {
//!     redsim::warmed_up().await; // Sentinels know the replicas from here on
//!     let _ = sentinels;         // ... the service's own code, for two simulated seconds ...
//!     tokio::time::sleep(std::time::Duration::from_secs(2)).await;
//!     Ok(())
//! });
//! cluster.at(1_000, Fault::Crash("redis-2".into())); // 1 s after the warm-up
//! cluster.run(&mut sim).unwrap();
//! assert!(cluster.applied().iter().any(|(_, f)| *f == Fault::Crash("redis-2".into())));
//! assert!(!cluster.exec_log().is_empty());
//! ```
//!
//! Times: the Sentinels need [`WARMUP_MS`] of simulated time to learn the replicas (they read the master's
//! INFO every 10 s), so clients start after it ([`warmed_up`]) and the times of a timed fault, as in a scenario
//! file, count from its end. Everything is derived from one seed: the nodes' and Sentinels' own RNGs descend from
//! [`Deployment::seed`], and the network's from the seed given to [`sim`].

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::rc::Rc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, UNIX_EPOCH};

use redsim_fake_redis::{Config, ConfigFile, ExecLog, Node};
use redsim_fake_sentinel::{EventLog, MasterConfig, Sentinel, SentinelConfig, StateFile};
use redsim_net::Net;
use redsim_resp::RespConn;

use crate::fault::{Fault, Schedule, TimedFault};
use crate::history::EPOCH_MS;
use crate::history::History;
use crate::recorder::Recorder;
use crate::scenario::{Mutant, Network, Scenario, Topology};

/// The port every data node listens on (each node is its own host).
pub const REDIS_PORT: u16 = 6379;
/// The port every Sentinel listens on.
pub const SENTINEL_PORT: u16 = 26379;
/// The name the Sentinels monitor the master by.
pub const MASTER_NAME: &str = "mymaster";
/// Clients start, and schedule times count, from here: Sentinels learn replicas from the master's INFO, which
/// they poll every 10 s, so before that a replica-only client would find no replica at all.
pub const WARMUP_MS: u64 = 12_000;
/// Most commands the data nodes' shared log keeps by default. Every checker reads the whole log (a write no
/// node executed is a violation), so a run that outgrows it has no verdict, and [`Cluster::check_log`] says so.
pub const EXEC_LOG_LIMIT: usize = 2_000_000;
/// Most bytes the data nodes' shared log keeps by default (as [`LogEntry::size_bytes`] counts them): 512 MiB,
/// room for the entry limit's worth of typical commands. A run of large arguments reaches this bound first;
/// it too leaves the run without a verdict.
///
/// [`LogEntry::size_bytes`]: redsim_fake_redis::LogEntry::size_bytes
pub const EXEC_LOG_MAX_BYTES: usize = 512 << 20;
/// The host that sends `SENTINEL FAILOVER` for a `failover` fault: a request over the network, so a paused or
/// isolated Sentinel does not get it either.
const CONTROL_HOST: &str = "ctl";
/// How long the simulation may run by default ([`sim`]): long enough for any of the named scenarios.
const DEFAULT_SIM_MS: u64 = 10 * 60 * 1000;

/// A derived seed for one component: every RNG in a run descends from the run's seed.
pub(crate) fn derive(seed: u64, salt: &str) -> u64 {
    let mut h = seed ^ 0x9E37_79B9_7F4A_7C15;
    for b in salt.bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// Milliseconds of simulated time since the simulation started (0 outside one).
pub fn now_ms() -> u64 {
    turmoil::sim_elapsed().unwrap_or_default().as_millis() as u64
}

/// Waits, inside a simulated host, until the warm-up is over ([`WARMUP_MS`] of simulated time since the start).
pub async fn warmed_up() {
    let now = now_ms();
    if now < WARMUP_MS {
        tokio::time::sleep(Duration::from_millis(WARMUP_MS - now)).await;
    }
}

/// A turmoil builder with the settings redsim's own runs use: the seed drives the network's RNG, the clock
/// starts at a fixed epoch (so logged times are the same in every run), and the network is `network`'s
/// (latency, tick, host order). Add `simulation_duration` and build it, or use [`sim`].
pub fn sim_builder(seed: u64, network: &Network) -> turmoil::Builder {
    let mut builder = turmoil::Builder::new();
    if network.random_order {
        builder.enable_random_order();
    }
    builder
        .rng_seed(seed)
        .epoch(UNIX_EPOCH + Duration::from_millis(EPOCH_MS))
        .tick_duration(Duration::from_millis(network.tick_ms))
        .min_message_latency(Duration::from_millis(network.min_latency_ms))
        .max_message_latency(Duration::from_millis(network.max_latency_ms))
        .simulation_duration(Duration::from_millis(DEFAULT_SIM_MS));
    builder
}

/// A simulation with the default network (2 ms links, 1 ms tick) driven by `seed`, that may run for up to ten
/// simulated minutes.
pub fn sim(seed: u64) -> turmoil::Sim<'static> {
    sim_builder(seed, &Network::default()).build()
}

type Slot<T> = Arc<Mutex<Option<T>>>;

fn live<T: Clone>(slot: &Slot<T>) -> Option<T> {
    slot.lock().unwrap_or_else(|p| p.into_inner()).clone()
}

/// What to deploy: a builder over a [`Topology`]. Cheap to clone; [`Deployment::install`] does the work.
#[derive(Debug, Clone)]
pub struct Deployment {
    topology: Topology,
    seed: u64,
    log_limit: usize,
    log_max_bytes: usize,
    repl_timeout_s: u32,
    repl_ping_replica_period_s: u32,
    network: Network,
    stable_ms: u64,
    mutant: Option<Mutant>,
    sentinel_hook: Option<SentinelHook>,
    node_hook: Option<NodeHook>,
}

/// A caller's change to each Sentinel's configuration ([`Deployment::sentinel_config`]).
#[derive(Clone)]
struct SentinelHook(Arc<dyn Fn(&mut SentinelConfig) + Send + Sync>);

impl std::fmt::Debug for SentinelHook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SentinelHook")
    }
}

/// A caller's change to each data node's configuration ([`Deployment::node_config`]).
#[derive(Clone)]
struct NodeHook(Arc<dyn Fn(&mut Config) + Send + Sync>);

impl std::fmt::Debug for NodeHook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NodeHook")
    }
}

impl Deployment {
    /// A deployment of `topology`, seed 0, the fakes' settings redsim's scenarios use.
    pub fn new(topology: Topology) -> Deployment {
        Deployment {
            topology,
            seed: 0,
            log_limit: EXEC_LOG_LIMIT,
            log_max_bytes: EXEC_LOG_MAX_BYTES,
            repl_timeout_s: 10,
            repl_ping_replica_period_s: 2,
            network: Network::default(),
            stable_ms: 0,
            mutant: None,
            sentinel_hook: None,
            node_hook: None,
        }
    }

    /// The network [`Deployment::sim`] builds (default: 2 ms links, 1 ms tick). When the caller builds the
    /// `Sim`, give the same network here: the checkers read its normal latency (a `latency` fault above it
    /// explains a slow re-route).
    pub fn network(mut self, network: Network) -> Deployment {
        self.network = network;
        self
    }

    /// The final part of the run in which the cluster must be healthy again and every client succeed
    /// (`recovers_after_heal`; default 0: not judged). No fault may fall in it.
    pub fn stable_ms(mut self, ms: u64) -> Deployment {
        self.stable_ms = ms;
        self
    }

    /// A simulation with redsim's settings, driven by the deployment's seed, on its network: the `Sim` to
    /// [`Deployment::install`] into when the caller does not bring one.
    pub fn sim(&self) -> turmoil::Sim<'static> {
        sim_builder(self.seed, &self.network).build()
    }

    /// The seed the nodes' and Sentinels' own random choices descend from (use the simulation's seed).
    pub fn seed(mut self, seed: u64) -> Deployment {
        self.seed = seed;
        self
    }

    /// Most commands the data nodes' log keeps (default [`EXEC_LOG_LIMIT`]).
    pub fn log_limit(mut self, entries: usize) -> Deployment {
        self.log_limit = entries;
        self
    }

    /// Most bytes the data nodes' log keeps (default [`EXEC_LOG_MAX_BYTES`]).
    pub fn log_max_bytes(mut self, bytes: usize) -> Deployment {
        self.log_max_bytes = bytes;
        self
    }

    /// The data nodes' `repl-timeout` (default 10 s: a dead replication link is noticed within it) and
    /// `repl-ping-replica-period` (default 2 s).
    pub fn replication_timeouts(mut self, repl_timeout_s: u32, repl_ping_replica_period_s: u32) -> Deployment {
        self.repl_timeout_s = repl_timeout_s;
        self.repl_ping_replica_period_s = repl_ping_replica_period_s;
        self
    }

    /// A deliberately broken behaviour of the fakes (for proving checkers only).
    #[doc(hidden)]
    pub fn mutant(mut self, mutant: Option<Mutant>) -> Deployment {
        self.mutant = mutant;
        self
    }

    /// Changes every Sentinel's configuration (`name` tells them apart) once the topology's settings are in,
    /// before the Sentinel first starts; a restart still starts it from its state file. For Sentinel tests the
    /// topology cannot describe: a master on one of the caller's hosts, preset epochs, replicas already known.
    pub fn sentinel_config(mut self, change: impl Fn(&mut SentinelConfig) + Send + Sync + 'static) -> Deployment {
        self.sentinel_hook = Some(SentinelHook(Arc::new(change)));
        self
    }

    /// Changes every data node's configuration (`name` tells them apart: `redis-1` is the first master) once
    /// the topology's and the deployment's settings are in, before the node first starts; a restart still starts
    /// it from its own rewritten config file. For tests of the data nodes themselves, which need settings no
    /// topology describes: a password, a small backlog, a loading delay, their own seeds and timeouts.
    pub fn node_config(mut self, change: impl Fn(&mut Config) + Send + Sync + 'static) -> Deployment {
        self.node_hook = Some(NodeHook(Arc::new(change)));
        self
    }

    /// The topology.
    pub fn topology(&self) -> &Topology {
        &self.topology
    }

    /// Data node host names: `redis-1` (the first master) .. `redis-<replicas + 1>`.
    pub fn redis_hosts(&self) -> Vec<String> {
        (1..=self.topology.replicas + 1).map(|i| format!("redis-{i}")).collect()
    }

    /// Sentinel host names: `sentinel-1` ...
    pub fn sentinel_hosts(&self) -> Vec<String> {
        (1..=self.topology.sentinels).map(|i| format!("sentinel-{i}")).collect()
    }

    /// Checks the topology ([`Topology::validate`]: its sizes against what turmoil's network can carry, its
    /// Sentinel settings); [`Deployment::try_install`] does this first.
    pub fn validate(&self) -> Result<(), String> {
        self.topology.validate()
    }

    /// Installs the data nodes, then the Sentinels, into `sim` (as restartable turmoil hosts: a `restart`
    /// starts a node again from its last rewritten config, a Sentinel from its last flushed state file), or
    /// says why the topology cannot run ([`Deployment::validate`]) and installs nothing.
    ///
    /// The application hosts added beside it connect to the same nodes: keep them within
    /// [`crate::scenario::CLIENTS_MAX`] too.
    pub fn try_install(self, sim: &mut turmoil::Sim<'_>) -> Result<Cluster, String> {
        self.validate()?;
        Ok(self.install_valid(sim))
    }

    /// [`Deployment::try_install`] for a topology known to be valid.
    ///
    /// # Panics
    ///
    /// When the topology is not valid, with the reason [`Deployment::validate`] gives (a topology too large
    /// for turmoil would otherwise panic later, inside a step, with turmoil's own message).
    pub fn install(self, sim: &mut turmoil::Sim<'_>) -> Cluster {
        if let Err(e) = self.validate() {
            panic!("Deployment::install: {e} (Deployment::try_install returns this as an error)");
        }
        self.install_valid(sim)
    }

    fn install_valid(self, sim: &mut turmoil::Sim<'_>) -> Cluster {
        let exec = ExecLog::new();
        let events = EventLog::new();
        let t = &self.topology;
        let mut nodes: BTreeMap<String, Slot<Node>> = BTreeMap::new();
        for (i, name) in self.redis_hosts().into_iter().enumerate() {
            let slot: Slot<Node> = Arc::default();
            let cfg = Config {
                name: name.clone(),
                port: REDIS_PORT,
                replicaof: (i > 0).then(|| ("redis-1".to_string(), REDIS_PORT)),
                replica_priority: if i > 0 {
                    t.priorities.get(i - 1).copied().unwrap_or(100)
                } else {
                    100
                },
                repl_timeout_s: self.repl_timeout_s,
                repl_ping_replica_period_s: self.repl_ping_replica_period_s,
                seed: derive(self.seed, &name),
                replica_read_only: self.mutant != Some(Mutant::BlindMaster),
                log_limit: self.log_limit,
                log_max_bytes: self.log_max_bytes,
                ..Config::default()
            };
            let cfg = match &self.node_hook {
                Some(NodeHook(change)) => {
                    let mut cfg = cfg;
                    change(&mut cfg);
                    cfg
                }
                None => cfg,
            };
            let (s, log) = (slot.clone(), exec.clone());
            // The node's redis.conf outlives restarts: Sentinel's CONFIG REWRITE decides how it comes back.
            let file = ConfigFile::default();
            sim.host(name.clone(), move || {
                let node = Node::new(Net::Turmoil, file.load().unwrap_or_else(|| cfg.clone()), log.clone());
                node.set_config_file(file.clone());
                *s.lock().unwrap_or_else(|p| p.into_inner()) = Some(node.clone());
                async move {
                    node.serve().await?;
                    Ok(())
                }
            });
            nodes.insert(name, slot);
        }
        let mut sentinels: BTreeMap<String, Slot<Sentinel>> = BTreeMap::new();
        for name in self.sentinel_hosts() {
            let slot: Slot<Sentinel> = Arc::default();
            let mut master = MasterConfig::new(MASTER_NAME, "redis-1", REDIS_PORT, t.quorum);
            master.down_after_ms = t.down_after_ms;
            master.failover_timeout_ms = t.failover_timeout_ms;
            master.parallel_syncs = t.parallel_syncs;
            let cfg = SentinelConfig {
                name: name.clone(),
                port: SENTINEL_PORT,
                masters: vec![master],
                seed: derive(self.seed, &name),
                skip_client_kill: self.mutant == Some(Mutant::SkipClientKill),
                ..SentinelConfig::default()
            };
            let cfg = match &self.sentinel_hook {
                Some(SentinelHook(change)) => {
                    let mut cfg = cfg;
                    change(&mut cfg);
                    cfg
                }
                None => cfg,
            };
            let (s, ev) = (slot.clone(), events.clone());
            // sentinel.conf outlives restarts: a restarted Sentinel monitors the master it last switched to.
            let file = StateFile::default();
            sim.host(name.clone(), move || {
                let sentinel = Sentinel::new(Net::Turmoil, file.load().unwrap_or_else(|| cfg.clone()), ev.clone());
                sentinel.set_state_file(file.clone());
                *s.lock().unwrap_or_else(|p| p.into_inner()) = Some(sentinel.clone());
                async move {
                    sentinel.serve().await?;
                    Ok(())
                }
            });
            sentinels.insert(name, slot);
        }
        let mut hosts: Vec<String> = nodes.keys().cloned().collect();
        hosts.extend(sentinels.keys().cloned());
        Cluster {
            deployment: self,
            exec,
            events,
            nodes,
            sentinels,
            hosts,
            pending: Vec::new(),
            scheduled: Vec::new(),
            requests: FaultHandle::default(),
            applied: Vec::new(),
            held: Holds::default(),
            cut: BTreeSet::new(),
            cut_off: BTreeSet::new(),
            control: None,
            controls_started: 0,
            control_until_ms: None,
        }
    }
}

/// Asks for faults from inside a simulated host (turmoil applies faults from outside the hosts, between
/// steps): a request is applied by [`Cluster::step`] before the next step. Cloning shares the queue.
#[derive(Debug, Clone, Default)]
pub struct FaultHandle(Rc<RefCell<Vec<Fault>>>);

impl FaultHandle {
    /// Applies `fault` before the next step of the simulation.
    pub fn request(&self, fault: Fault) {
        self.0.borrow_mut().push(fault);
    }
}

/// A control host's state: the failovers it still has to send, and whether it should stop.
#[derive(Debug, Default)]
struct Control {
    failovers: u32,
    done: bool,
    finished: bool,
}

/// A deployment running in a simulation: addresses, faults, logs. Made by [`Deployment::install`].
#[derive(Debug)]
pub struct Cluster {
    deployment: Deployment,
    exec: ExecLog,
    events: EventLog,
    nodes: BTreeMap<String, Slot<Node>>,
    sentinels: BTreeMap<String, Slot<Sentinel>>,
    /// Every host a pause or an isolation cuts `n` from: the deployment's, the application hosts, the control
    /// host.
    hosts: Vec<String>,
    /// Timed faults not yet applied, earliest first (absolute simulated ms).
    pending: Vec<(u64, Fault)>,
    /// Every timed fault asked for, as a scenario would list it.
    scheduled: Schedule,
    requests: FaultHandle,
    applied: Vec<(u64, Fault)>,
    held: Holds,
    cut: BTreeSet<(String, String)>,
    /// Hosts cut off from every other (paused or isolated): a host that joins meanwhile is cut off from them too.
    cut_off: BTreeSet<String>,
    control: Option<Rc<RefCell<Control>>>,
    controls_started: u32,
    control_until_ms: Option<u64>,
}

impl Cluster {
    /// The name the Sentinels monitor the master by (`mymaster`).
    pub fn master_name(&self) -> &'static str {
        MASTER_NAME
    }

    /// The Sentinels' addresses (`sentinel-1:26379`, ...), to give a Sentinel-aware client.
    pub fn sentinel_addrs(&self) -> Vec<String> {
        self.sentinel_hosts()
            .iter()
            .map(|s| format!("{s}:{SENTINEL_PORT}"))
            .collect()
    }

    /// Data node host names; `redis-1` is the first master.
    pub fn redis_hosts(&self) -> Vec<String> {
        self.deployment.redis_hosts()
    }

    /// Sentinel host names.
    pub fn sentinel_hosts(&self) -> Vec<String> {
        self.deployment.sentinel_hosts()
    }

    /// The deployed topology.
    pub fn topology(&self) -> &Topology {
        &self.deployment.topology
    }

    /// Every host the cluster knows: its nodes and Sentinels, then the application hosts added through
    /// [`Cluster::client`] or [`Cluster::track_host`], in the order they were added.
    pub fn hosts(&self) -> &[String] {
        &self.hosts
    }

    /// Every command every data node executed, with the node's role at that instant: the ground truth.
    pub fn exec_log(&self) -> &ExecLog {
        &self.exec
    }

    /// Every event every Sentinel published.
    pub fn event_log(&self) -> &EventLog {
        &self.events
    }

    /// The running data node on `host`, if it has started.
    pub fn node(&self, host: &str) -> Option<Node> {
        self.nodes.get(host).and_then(live)
    }

    /// The running Sentinel on `host`, if it has started.
    pub fn sentinel(&self, host: &str) -> Option<Sentinel> {
        self.sentinels.get(host).and_then(live)
    }

    /// Adds an application host to `sim` (as [`turmoil::Sim::client`] does) and tracks it, so pauses and
    /// isolations cut it off too. The simulation ends when every such client has returned.
    pub fn client<F>(&mut self, sim: &mut turmoil::Sim<'_>, name: &str, client: F)
    where
        F: Future<Output = turmoil::Result> + 'static,
    {
        sim.client(name, client);
        self.join(sim, name);
    }

    /// Tracks a host the caller added to `sim` itself, so pauses and isolations cut it off too (add it before
    /// the first fault; [`Cluster::client`] also covers a host added while a node is cut off).
    pub fn track_host(&mut self, name: &str) {
        if !self.hosts.iter().any(|h| h == name) {
            self.hosts.push(name.to_string());
        }
    }

    /// Tracks a new host and cuts it off from the hosts that are cut off from everyone right now.
    fn join(&mut self, sim: &mut turmoil::Sim<'_>, name: &str) {
        self.track_host(name);
        for n in self.cut_off.clone() {
            if n != name {
                self.held.hold(sim, &n, name);
            }
        }
    }

    /// A handle to request faults from inside a simulated host.
    pub fn fault_handle(&self) -> FaultHandle {
        self.requests.clone()
    }

    /// Schedules `fault` at `at_ms` after the warm-up (the time a scenario file would give it).
    pub fn at(&mut self, at_ms: u64, fault: Fault) {
        self.scheduled.push(TimedFault {
            at_ms,
            fault: fault.clone(),
        });
        self.scheduled.sort_by_key(|f| f.at_ms);
        self.pending.push((WARMUP_MS + at_ms, fault));
        // Faults at the same time apply in the order given (a stable sort).
        self.pending.sort_by_key(|(at, _)| *at);
    }

    /// Schedules every fault of a schedule (times after the warm-up).
    pub fn schedule(&mut self, schedule: &Schedule) {
        for f in schedule {
            self.at(f.at_ms, f.fault.clone());
        }
    }

    /// Runs one control host (it sends `SENTINEL FAILOVER` for a `failover` fault) from the first step until
    /// this simulated time (absolute ms), polling for work every 10 ms. By default a control host is started
    /// only for a `failover` and returns once it has sent it, so it never keeps a simulation running.
    pub fn control_until(&mut self, at_ms: u64) {
        self.control_until_ms = Some(at_ms);
    }

    /// Applies `fault` now.
    pub fn inject(&mut self, sim: &mut turmoil::Sim<'_>, fault: Fault) {
        let now = sim.elapsed().as_millis() as u64;
        self.apply(sim, &fault);
        self.applied.push((now, fault));
    }

    /// The faults applied so far, with the simulated time (absolute ms) each took effect.
    pub fn applied(&self) -> &[(u64, Fault)] {
        &self.applied
    }

    /// Applies what is due (timed faults, requests from hosts), then advances the simulation one step. `true`
    /// when the simulation is over (every client returned, or its duration ran out).
    pub fn step(&mut self, sim: &mut turmoil::Sim<'_>) -> turmoil::Result<bool> {
        if self.control_until_ms.is_some() && self.control.is_none() && !self.sentinels.is_empty() {
            self.start_control(sim);
        }
        let now = sim.elapsed().as_millis() as u64;
        while self.pending.first().is_some_and(|(at, _)| *at <= now) {
            let (at, fault) = self.pending.remove(0);
            self.apply(sim, &fault);
            self.applied.push((at, fault));
        }
        let requested = std::mem::take(&mut *self.requests.0.borrow_mut());
        for fault in requested {
            self.apply(sim, &fault);
            self.applied.push((now, fault));
        }
        if let (Some(control), Some(until)) = (&self.control, self.control_until_ms)
            && now >= until
        {
            control.borrow_mut().done = true;
        }
        sim.step()
    }

    /// Runs the simulation to its end, applying faults as they fall due.
    pub fn run(&mut self, sim: &mut turmoil::Sim<'_>) -> turmoil::Result {
        while !self.step(sim)? {}
        Ok(())
    }

    /// The history of a finished run for the checkers ([`crate::checkers::check_all`]): the operations a
    /// [`Recorder`] kept, the clients it declared, this cluster's logs and faults. It describes the run as a
    /// [`Scenario`] named `name`: the deployment's topology, network and stable window, the declared clients,
    /// the timed faults as the schedule, and a duration up to the last operation. Errors: an operation by a
    /// client never declared (the checkers must know its role and read policy), or a full command log.
    pub fn history(&self, name: &str, sim: &turmoil::Sim<'_>, recorder: &Recorder) -> Result<History, String> {
        let clients = recorder.clients();
        let ops = recorder.ops();
        if let Some(op) = ops.iter().find(|o| !clients.iter().any(|c| c.name == o.client)) {
            return Err(format!(
                "operations were recorded for client '{}', which was never declared: call \
                 Recorder::declare_reader or declare_writer with its name",
                op.client
            ));
        }
        let last_ms = ops.iter().map(|o| o.complete_ms).max().unwrap_or(WARMUP_MS);
        let scenario = Scenario {
            name: name.to_string(),
            duration_ms: last_ms.saturating_sub(WARMUP_MS).max(1),
            stable_ms: self.deployment.stable_ms,
            keys: 1,
            topology: self.deployment.topology.clone(),
            network: self.deployment.network.clone(),
            clients,
            schedule: self.scheduled.clone(),
            mutant: self.deployment.mutant,
        };
        History::from_cluster(scenario, self.deployment.seed, ops, self, sim)
    }

    /// An error when the data nodes' log filled up: then the checkers cannot judge the run.
    pub fn check_log(&self) -> Result<(), String> {
        if self.exec.dropped() > 0 {
            return Err(format!(
                "the data nodes' command log filled up at {} commands of {} bytes ({} more were not kept), so \
                 the checkers cannot judge this run: shorten the scenario or lower its load",
                self.exec.len(),
                self.exec.bytes(),
                self.exec.dropped()
            ));
        }
        Ok(())
    }

    /// Registers a control host: the one that runs until [`Cluster::control_until`], or one for the failovers
    /// asked for now, which returns once it has sent them. It is added after the caller's own hosts (so it
    /// changes no other host's address) and is cut off from a paused or isolated Sentinel like any host.
    fn start_control(&mut self, sim: &mut turmoil::Sim<'_>) {
        let persistent = self.control_until_ms.is_some();
        let control: Rc<RefCell<Control>> = Rc::default();
        let state = control.clone();
        // Both callers check there is a Sentinel; without one there is nobody to ask for a failover.
        let Some(first_sentinel) = self.sentinel_hosts().into_iter().next() else {
            return;
        };
        self.controls_started += 1;
        let name = match self.controls_started {
            1 => CONTROL_HOST.to_string(),
            n => format!("{CONTROL_HOST}-{n}"),
        };
        sim.client(name.clone(), async move {
            loop {
                if persistent && state.borrow().done {
                    break;
                }
                let pending = std::mem::take(&mut state.borrow_mut().failovers);
                for _ in 0..pending {
                    if let Ok(mut c) =
                        RespConn::connect(Net::Turmoil, &first_sentinel, SENTINEL_PORT, Duration::from_secs(1)).await
                    {
                        let _ = c.call(&["SENTINEL", "FAILOVER", MASTER_NAME]).await;
                    }
                }
                if !persistent && state.borrow().failovers == 0 {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            state.borrow_mut().finished = true;
            Ok(())
        });
        self.join(sim, &name);
        self.control = Some(control);
    }

    fn others(&self, n: &str) -> Vec<String> {
        self.hosts.iter().filter(|h| h.as_str() != n).cloned().collect()
    }

    fn apply(&mut self, sim: &mut turmoil::Sim<'_>, fault: &Fault) {
        match fault {
            Fault::Crash(n) => sim.crash(n.as_str()),
            Fault::Kill(n) => {
                if let Some(node) = self.node(n) {
                    node.shutdown();
                }
                if let Some(s) = self.sentinel(n) {
                    s.shutdown();
                }
            }
            Fault::Restart(n) => sim.bounce(n.as_str()),
            // A Sentinel's timer stops too, so it does not time out pings it could not have sent while frozen; a
            // data node's keeps running (an approximation the checkers tolerate).
            Fault::Pause(n) => {
                for o in self.others(n) {
                    self.held.hold(sim, n, &o);
                }
                self.cut_off.insert(n.clone());
                if let Some(s) = self.sentinel(n) {
                    s.freeze();
                }
            }
            Fault::Resume(n) => {
                for o in self.others(n) {
                    self.held.release(sim, n, &o);
                }
                self.cut_off.remove(n);
                if let Some(s) = self.sentinel(n) {
                    s.thaw();
                }
            }
            // Real TCP retransmits what a partition swallowed, so a partition is a hold: segments wait and arrive
            // after the heal, and connects hang meanwhile. (turmoil's own partition drops them and leaves
            // established connections wedged forever, turmoil #185: a 100 ms cut would then take a Sentinel link
            // down for good and look like a failed node.)
            Fault::Hold(a, b) | Fault::Partition(a, b) => {
                for x in a {
                    for y in b {
                        self.held.hold(sim, x, y);
                    }
                }
            }
            Fault::Release(a, b) => {
                for x in a {
                    for y in b {
                        self.held.release(sim, x, y);
                    }
                }
            }
            Fault::Isolate(n) => {
                for o in self.others(n) {
                    self.held.hold(sim, n, &o);
                }
                self.cut_off.insert(n.clone());
            }
            // turmoil cannot hold one direction only: a one-way partition drops, and its connections stay wedged.
            Fault::PartitionOneway(a, b) => {
                for x in a {
                    for y in b {
                        sim.partition_oneway(x.as_str(), y.as_str());
                        self.cut.insert((x.clone(), y.clone()));
                    }
                }
            }
            Fault::Heal => {
                for (a, b) in std::mem::take(&mut self.cut) {
                    sim.repair(a.as_str(), b.as_str());
                }
                self.held.release_all(sim);
                self.cut_off.clear();
            }
            Fault::Latency(a, b, ms) => {
                let (ia, ib) = (sim.lookup(a.as_str()), sim.lookup(b.as_str()));
                let mut exists = false;
                sim.links(|links| {
                    for l in links {
                        let (x, y) = l.pair();
                        exists |= (x == ia && y == ib) || (x == ib && y == ia);
                    }
                });
                // turmoil panics on a link that never carried a message; such a link has nothing to slow down yet.
                if exists {
                    sim.set_link_latency(a.as_str(), b.as_str(), Duration::from_millis(*ms));
                }
            }
            Fault::Failover => {
                if self.sentinels.is_empty() {
                    return;
                }
                let usable = self
                    .control
                    .as_ref()
                    .is_some_and(|c| !c.borrow().finished && !c.borrow().done);
                if !usable {
                    self.start_control(sim);
                }
                if let Some(c) = &self.control {
                    c.borrow_mut().failovers += 1;
                }
            }
        }
    }
}

/// The links held and by how many faults: a pause and a partition may overlap on one link, and it is released
/// only when neither holds it any more.
#[derive(Debug, Default)]
struct Holds(BTreeMap<(String, String), u32>);

impl Holds {
    fn key(a: &str, b: &str) -> (String, String) {
        if a <= b {
            (a.into(), b.into())
        } else {
            (b.into(), a.into())
        }
    }

    fn hold(&mut self, sim: &mut turmoil::Sim<'_>, a: &str, b: &str) {
        let n = self.0.entry(Self::key(a, b)).or_default();
        if *n == 0 {
            sim.hold(a, b);
        }
        *n += 1;
    }

    fn release(&mut self, sim: &mut turmoil::Sim<'_>, a: &str, b: &str) {
        let key = Self::key(a, b);
        if let Some(n) = self.0.get_mut(&key) {
            *n -= 1;
            if *n == 0 {
                self.0.remove(&key);
                sim.release(a, b);
            }
        }
    }

    fn release_all(&mut self, sim: &mut turmoil::Sim<'_>) {
        for (a, b) in std::mem::take(&mut self.0).into_keys() {
            sim.release(a.as_str(), b.as_str());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One lone data node (no replica, no Sentinel) is a deployment too: the data nodes' own tests use it.
    #[test]
    fn a_lone_node_with_a_changed_config_runs() {
        let topology = Topology {
            replicas: 0,
            sentinels: 0,
            ..Topology::default()
        };
        let mut sim = sim(3);
        let mut cluster = Deployment::new(topology)
            .seed(3)
            .node_config(|cfg| {
                if cfg.name == "redis-1" {
                    cfg.requirepass = Some("pw".into());
                }
            })
            .install(&mut sim);
        assert_eq!(cluster.redis_hosts(), ["redis-1"]);
        assert!(cluster.sentinel_addrs().is_empty());
        let node = cluster
            .node("redis-1")
            .expect("a host's node starts when it is installed");
        assert_eq!(node.name(), "redis-1");
        cluster.client(&mut sim, "app", async move {
            let mut c = loop {
                if let Ok(c) = RespConn::connect(Net::Turmoil, "redis-1", REDIS_PORT, Duration::from_secs(1)).await {
                    break c;
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            };
            let denied = c.call(&["GET", "k"]).await?;
            assert!(denied.as_text().is_some_and(|t| t.starts_with("NOAUTH")), "{denied:?}");
            c.call(&["AUTH", "pw"]).await?;
            c.call(&["SET", "k", "v"]).await?;
            Ok(())
        });
        cluster.run(&mut sim).unwrap();
        assert!(
            cluster
                .exec_log()
                .entries()
                .iter()
                .any(|e| e.node == "redis-1" && e.name() == "SET")
        );
    }
}
