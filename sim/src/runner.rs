//! Runs a scenario on turmoil from one seed and returns its [`History`].

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, BTreeSet};
use std::rc::Rc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, UNIX_EPOCH};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use redsim_client::{Client, ReadPolicy, ReplicaSelection};
use redsim_fake_redis::{Config, ConfigFile, ExecLog, Node};
use redsim_fake_sentinel::{EventLog, MasterConfig, Sentinel, SentinelConfig, StateFile};
use redsim_net::Net;
use redsim_resp::RespConn;

use crate::fault::Fault;
use crate::history::{EPOCH_MS, History, Op, OpKind};
use crate::scenario::{ClientRole, ClientSpec, Mutant, Scenario};

const REDIS_PORT: u16 = 6379;
const SENTINEL_PORT: u16 = 26379;
/// Name of the monitored master.
pub const MASTER_NAME: &str = "mymaster";
/// Clients start, and schedule times count, from here: Sentinels learn replicas from the master's INFO, which
/// they poll every 10 s, so before that a replica-only client would find no replica at all.
pub const WARMUP_MS: u64 = 12_000;
/// Extra simulated time allowed beyond the scenario's duration before turmoil gives up.
const SLACK_MS: u64 = 30_000;

/// Parses a read policy name.
pub fn read_policy(s: &str) -> Result<ReadPolicy, String> {
    Ok(match s {
        "replica-only" => ReadPolicy::ReplicaOnly,
        "replica-preferred" => ReadPolicy::ReplicaPreferred,
        "master" => ReadPolicy::Master,
        "nearest" => ReadPolicy::Nearest,
        other => return Err(format!("unknown read policy '{other}'")),
    })
}

/// Parses a replica selection name.
pub fn replica_selection(s: &str) -> Result<ReplicaSelection, String> {
    Ok(match s {
        "sticky" => ReplicaSelection::Sticky,
        "round-robin" => ReplicaSelection::RoundRobin,
        "random" => ReplicaSelection::Random,
        "lowest-latency" => ReplicaSelection::LowestLatency,
        other => return Err(format!("unknown replica selection '{other}'")),
    })
}

/// Hosts a fault names.
pub fn hosts_named(f: &Fault) -> Vec<String> {
    match f {
        Fault::Kill(n)
        | Fault::Crash(n)
        | Fault::Restart(n)
        | Fault::Pause(n)
        | Fault::Resume(n)
        | Fault::Isolate(n) => {
            vec![n.clone()]
        }
        Fault::Partition(a, b) | Fault::PartitionOneway(a, b) | Fault::Hold(a, b) | Fault::Release(a, b) => {
            a.iter().chain(b).cloned().collect()
        }
        Fault::Latency(a, b, _) => vec![a.clone(), b.clone()],
        Fault::Heal | Fault::Failover => vec![],
    }
}

/// A derived seed for one component: every RNG descends from the run's seed.
fn derive(seed: u64, salt: &str) -> u64 {
    let mut h = seed ^ 0x9E37_79B9_7F4A_7C15;
    for b in salt.bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    h
}

type Slot<T> = Arc<Mutex<Option<T>>>;

fn now_ms() -> u64 {
    turmoil::sim_elapsed().unwrap_or_default().as_millis() as u64
}

/// The host that sends manual failovers.
const CONTROL_HOST: &str = "ctl";

/// Runs a scenario from a seed.
pub fn run(scenario: &Scenario, seed: u64) -> Result<History, String> {
    run_with_log_limit(scenario, seed, EXEC_LOG_LIMIT)
}

/// Most commands the data nodes' shared log keeps in one run. Every checker reads the whole log (a write no
/// node executed is a violation), so a run that outgrows it has no verdict and [`run`] says so.
pub const EXEC_LOG_LIMIT: usize = 2_000_000;

fn run_with_log_limit(scenario: &Scenario, seed: u64, log_limit: usize) -> Result<History, String> {
    scenario.validate()?;
    let mut builder = turmoil::Builder::new();
    if scenario.network.random_order {
        builder.enable_random_order();
    }
    let mut sim = builder
        .rng_seed(seed)
        .epoch(UNIX_EPOCH + Duration::from_millis(EPOCH_MS))
        .tick_duration(Duration::from_millis(scenario.network.tick_ms))
        .min_message_latency(Duration::from_millis(scenario.network.min_latency_ms))
        .max_message_latency(Duration::from_millis(scenario.network.max_latency_ms))
        .simulation_duration(Duration::from_millis(WARMUP_MS + scenario.duration_ms + SLACK_MS))
        .build();
    let exec = ExecLog::new();
    let events = EventLog::new();
    let t = &scenario.topology;
    let mut nodes: BTreeMap<String, Slot<Node>> = BTreeMap::new();
    for (i, name) in scenario.redis_hosts().into_iter().enumerate() {
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
            repl_timeout_s: 10,
            repl_ping_replica_period_s: 2,
            seed: derive(seed, &name),
            replica_read_only: scenario.mutant != Some(Mutant::BlindMaster),
            log_limit,
            ..Config::default()
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
    for name in scenario.sentinel_hosts() {
        let slot: Slot<Sentinel> = Arc::default();
        let mut master = MasterConfig::new(MASTER_NAME, "redis-1", REDIS_PORT, t.quorum);
        master.down_after_ms = t.down_after_ms;
        master.failover_timeout_ms = t.failover_timeout_ms;
        master.parallel_syncs = t.parallel_syncs;
        let cfg = SentinelConfig {
            name: name.clone(),
            port: SENTINEL_PORT,
            masters: vec![master],
            seed: derive(seed, &name),
            skip_client_kill: scenario.mutant == Some(Mutant::SkipClientKill),
            ..SentinelConfig::default()
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
    let ops: Rc<RefCell<Vec<Op>>> = Rc::default();
    let client_events: Rc<RefCell<Vec<(u64, String, redsim_client::EventKind)>>> = Rc::default();
    let sentinel_addrs: Vec<String> = scenario
        .sentinel_hosts()
        .iter()
        .map(|s| format!("{s}:{SENTINEL_PORT}"))
        .collect();
    for spec in &scenario.clients {
        let (ops, evs, spec, addrs) = (ops.clone(), client_events.clone(), spec.clone(), sentinel_addrs.clone());
        let (keys, duration, mutant) = (scenario.keys, scenario.duration_ms, scenario.mutant);
        let client_seed = derive(seed, &spec.name);
        sim.client(spec.name.clone(), async move {
            workload(spec, addrs, keys, duration, mutant, client_seed, ops, evs).await;
            Ok(())
        });
    }
    // Manual failovers are requests sent over the network, by a control client.
    let failovers: Rc<RefCell<Vec<u64>>> = Rc::default();
    let control_done = Rc::new(RefCell::new(false));
    {
        let (queue, done) = (failovers.clone(), control_done.clone());
        let first_sentinel = scenario.sentinel_hosts()[0].clone();
        sim.client(CONTROL_HOST, async move {
            while !*done.borrow() {
                let pending = std::mem::take(&mut *queue.borrow_mut());
                for _ in pending {
                    if let Ok(mut c) =
                        RespConn::connect(Net::Turmoil, &first_sentinel, SENTINEL_PORT, Duration::from_secs(1)).await
                    {
                        let _ = c.call(&["SENTINEL", "FAILOVER", MASTER_NAME]).await;
                    }
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            Ok(())
        });
    }
    let mut hosts = BTreeMap::new();
    for h in scenario.all_hosts() {
        hosts.insert(h.clone(), sim.lookup(h.as_str()).to_string());
    }
    // The control client counts as a host for holds: a paused or isolated Sentinel gets no FAILOVER either.
    let mut all: Vec<String> = scenario.all_hosts();
    all.push(CONTROL_HOST.into());
    let mut pending: Vec<(u64, Fault)> = scenario
        .schedule
        .iter()
        .map(|f| (f.at_ms + WARMUP_MS, f.fault.clone()))
        .collect();
    pending.reverse();
    let mut applied = Vec::new();
    let mut held = Holds::default();
    let mut cut: BTreeSet<(String, String)> = BTreeSet::new();
    let end_ms = WARMUP_MS + scenario.duration_ms;
    loop {
        let now = sim.elapsed().as_millis() as u64;
        while pending.last().is_some_and(|(at, _)| *at <= now) {
            let (at, fault) = pending.pop().expect("checked");
            apply(
                &mut sim, &fault, &all, &nodes, &sentinels, &mut held, &mut cut, &failovers,
            );
            applied.push((at, fault));
        }
        if now >= end_ms + 500 {
            *control_done.borrow_mut() = true;
        }
        match sim.step() {
            Ok(true) => break,
            Ok(false) => {}
            Err(e) => return Err(format!("simulation failed at {now} ms: {e}")),
        }
    }
    let end_ms = sim.elapsed().as_millis() as u64;
    if exec.dropped() > 0 {
        return Err(format!(
            "the data nodes' command log filled up at {} commands ({} more were not kept), so the checkers \
             cannot judge this run: shorten the scenario or lower its load",
            exec.len(),
            exec.dropped()
        ));
    }
    // Taken, not copied: under load the history holds millions of operations.
    let mut ops = std::mem::take(&mut *ops.borrow_mut());
    ops.sort_by_key(|o| (o.complete_ms, o.invoke_ms));
    let host_of_ip: BTreeMap<&str, &String> = hosts.iter().map(|(k, v)| (v.as_str(), k)).collect();
    let hist = History {
        scenario: scenario.clone(),
        seed,
        ops: ops
            .into_iter()
            .map(|mut o| {
                o.served_by = o.served_by.map(|a| {
                    let ip = a.rsplit_once(':').map_or(a.as_str(), |(ip, _)| ip);
                    host_of_ip.get(ip).map_or_else(|| a.clone(), |k| (*k).clone())
                });
                o
            })
            .collect(),
        exec: exec.take(),
        sentinel_events: events.events(),
        client_events: std::mem::take(&mut *client_events.borrow_mut()),
        faults: applied,
        hosts,
        end_ms,
    };
    Ok(hist)
}

/// The links held and by how many faults: a pause and a partition may overlap on one link, and it is released
/// only when neither holds it any more.
#[derive(Default)]
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

#[allow(clippy::too_many_arguments)]
fn apply(
    sim: &mut turmoil::Sim<'_>,
    fault: &Fault,
    all: &[String],
    nodes: &BTreeMap<String, Slot<Node>>,
    sentinels: &BTreeMap<String, Slot<Sentinel>>,
    held: &mut Holds,
    cut: &mut BTreeSet<(String, String)>,
    failovers: &Rc<RefCell<Vec<u64>>>,
) {
    let others = |n: &str| all.iter().filter(|h| h.as_str() != n).cloned().collect::<Vec<_>>();
    match fault {
        Fault::Crash(n) => sim.crash(n.as_str()),
        Fault::Kill(n) => {
            if let Some(node) = nodes.get(n).and_then(|s| s.lock().ok()?.clone()) {
                node.shutdown();
            }
            if let Some(s) = sentinels.get(n).and_then(|s| s.lock().ok()?.clone()) {
                s.shutdown();
            }
        }
        Fault::Restart(n) => sim.bounce(n.as_str()),
        // A Sentinel's timer stops too, so it does not time out pings it could not have sent while frozen; a data
        // node's keeps running (an approximation the checkers tolerate).
        Fault::Pause(n) => {
            for o in others(n) {
                held.hold(sim, n, &o);
            }
            if let Some(s) = sentinels.get(n).and_then(|s| s.lock().ok()?.clone()) {
                s.freeze();
            }
        }
        Fault::Resume(n) => {
            for o in others(n) {
                held.release(sim, n, &o);
            }
            if let Some(s) = sentinels.get(n).and_then(|s| s.lock().ok()?.clone()) {
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
                    held.hold(sim, x, y);
                }
            }
        }
        Fault::Release(a, b) => {
            for x in a {
                for y in b {
                    held.release(sim, x, y);
                }
            }
        }
        Fault::Isolate(n) => {
            for o in others(n) {
                held.hold(sim, n, &o);
            }
        }
        // turmoil cannot hold one direction only: a one-way partition drops, and its connections stay wedged.
        Fault::PartitionOneway(a, b) => {
            for x in a {
                for y in b {
                    sim.partition_oneway(x.as_str(), y.as_str());
                    cut.insert((x.clone(), y.clone()));
                }
            }
        }
        Fault::Heal => {
            for (a, b) in std::mem::take(cut) {
                sim.repair(a.as_str(), b.as_str());
            }
            held.release_all(sim);
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
        Fault::Failover => failovers.borrow_mut().push(0),
    }
}

#[allow(clippy::too_many_arguments)]
async fn workload(
    spec: ClientSpec,
    sentinels: Vec<String>,
    keys: u32,
    duration_ms: u64,
    mutant: Option<Mutant>,
    seed: u64,
    ops: Rc<RefCell<Vec<Op>>>,
    events: Rc<RefCell<Vec<(u64, String, redsim_client::EventKind)>>>,
) {
    tokio::time::sleep(Duration::from_millis(WARMUP_MS)).await;
    let mut builder = Client::builder()
        .sentinels(sentinels.iter().map(String::as_str))
        .master_name(MASTER_NAME)
        .client_name(&spec.name)
        .net(Net::Turmoil)
        .seed(seed)
        .command_timeout(Duration::from_millis(spec.timeout_ms))
        .read_policy(read_policy(&spec.policy).unwrap_or_default())
        .replica_selection(replica_selection(&spec.selection).unwrap_or_default());
    if let Some(m) = mutant {
        builder = builder.mutant(m);
    }
    let Ok(client) = builder.build() else { return };
    // Routing events are stamped with simulated time as they arrive (the event's own clock reading is a tokio
    // instant whose sub-millisecond part is not reproducible across runs in one process).
    let mut rx = client.events();
    let (evs, name) = (events.clone(), spec.name.clone());
    // turmoil runs every host on a LocalSet, so a task may hold the history's Rc.
    tokio::task::spawn_local(async move {
        while let Ok(e) = rx.recv().await {
            evs.borrow_mut().push((now_ms(), name.clone(), e.kind));
        }
    });
    // Loop 0 is the whole workload of a client with concurrency 1; the others share its client (and so its
    // connections) and its sequence numbers, which keep written values unique.
    let seq = Rc::new(Cell::new(0u64));
    let spec = Rc::new(spec);
    for i in 1..spec.concurrency {
        let rng = ChaCha8Rng::seed_from_u64(seed.wrapping_add(u64::from(i).wrapping_mul(0x9E37_79B9_7F4A_7C15)));
        let run = operations(
            spec.clone(),
            client.clone(),
            rng,
            keys,
            duration_ms,
            seq.clone(),
            ops.clone(),
        );
        tokio::task::spawn_local(run);
    }
    operations(
        spec,
        client,
        ChaCha8Rng::seed_from_u64(seed),
        keys,
        duration_ms,
        seq,
        ops,
    )
    .await;
}

/// One loop of operations: a random key, a write or a read, its record, a pause.
async fn operations(
    spec: Rc<ClientSpec>,
    client: Client,
    mut rng: ChaCha8Rng,
    keys: u32,
    duration_ms: u64,
    next_seq: Rc<Cell<u64>>,
    ops: Rc<RefCell<Vec<Op>>>,
) {
    let end = WARMUP_MS + duration_ms;
    while now_ms() < end {
        let seq = next_seq.get() + 1;
        next_seq.set(seq);
        let key = format!("k{}", rng.random_range(0..keys));
        let invoke_ms = now_ms();
        let (kind, written, result) = match spec.role {
            ClientRole::Writer => {
                let value = format!("{}:{seq}:{key}", spec.name);
                let r = client.command_routed(&["SET", &key, &value]).await;
                (OpKind::Write, Some(value), r.map(|(_, by)| (None, by)))
            }
            ClientRole::Reader => {
                let r = client.command_routed(&["GET", &key]).await;
                (OpKind::Read, None, r.map(|(v, by)| (v.as_text(), by)))
            }
        };
        let complete_ms = now_ms();
        let (outcome, served_by) = match result {
            Ok((v, by)) => (Ok(v), Some(by)),
            Err(e) => (Err(e.kind().to_string()), None),
        };
        ops.borrow_mut().push(Op {
            client: spec.name.clone(),
            kind,
            key,
            written,
            invoke_ms,
            complete_ms,
            outcome,
            served_by,
        });
        tokio::time::sleep(Duration::from_millis(spec.interval_ms)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_that_outgrows_the_command_log_has_no_verdict() {
        let s = Scenario {
            duration_ms: 2_000,
            ..Scenario::default()
        };
        // The run logs about 340 commands.
        match run_with_log_limit(&s, 1, 100) {
            Err(e) => assert!(e.contains("command log filled up at 100 commands"), "{e}"),
            Ok(h) => panic!("a full log gave a history of {} commands", h.exec.len()),
        }
        assert!(run_with_log_limit(&s, 1, EXEC_LOG_LIMIT).is_ok());
    }
}
