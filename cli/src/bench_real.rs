//! Figure (c) of `redsim bench`: a scenario on real `redis-server` and `redis-sentinel` processes, timed beside
//! the same scenario in the simulation.
//!
//! The real side starts the scenario's topology on loopback (through `redsim-conformance`'s [`Cluster`]), runs
//! its clients (this crate's client, on real TCP, with each spec's policy, interval and timeout) for the
//! scenario's duration, and applies its schedule. A crash is a SIGKILL there (a machine cannot go silent on
//! loopback) and a restart starts the process again with its first configuration; other faults have no real
//! counterpart here and are refused before anything starts. It needs the two binaries on `PATH`:
//! `redsim bench` skips the row, saying why, when they are missing.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use redsim_client::{Client, Net};
use redsim_conformance::cluster::SENTINELS;
use redsim_conformance::{Cluster, ClusterConfig, Flavor, NodeId};
use tokio::time::Instant;

use crate::bench::{Row, Spread};
use redsim::fault::Fault;
use redsim::report;
use redsim::runner::{WARMUP_MS, read_policy, replica_selection};
use redsim::scenario::{ClientRole, ClientSpec, Scenario};

/// What a real run does at a moment of the schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// SIGKILL the node's process.
    Kill(NodeId),
    /// Start the node's process again.
    Restart(NodeId),
}

/// The real run's plan for `s`: its schedule as process actions, in order. Refuses a topology other than the
/// cluster's (2 replicas, 3 Sentinels) and faults without a real counterpart, before any process starts.
pub fn plan(s: &Scenario) -> Result<Vec<(u64, Action)>, String> {
    if s.topology.replicas != 2 || s.topology.sentinels != SENTINELS.len() as u32 {
        return Err(format!(
            "a real run starts 1 master, 2 replicas and 3 Sentinels; the scenario asks for {} replicas and {} \
             Sentinels",
            s.topology.replicas, s.topology.sentinels
        ));
    }
    let node = |h: &str| -> Result<NodeId, String> {
        redsim_conformance::cluster::DATA_NODES
            .iter()
            .chain(SENTINELS.iter())
            .find(|n| **n == h)
            .copied()
            .ok_or_else(|| format!("a real run has no host '{h}'"))
    };
    s.schedule
        .iter()
        .map(|f| match &f.fault {
            Fault::Crash(h) | Fault::Kill(h) => Ok((f.at_ms, Action::Kill(node(h)?))),
            Fault::Restart(h) => Ok((f.at_ms, Action::Restart(node(h)?))),
            other => Err(format!(
                "a real run cannot apply {other} (only crash, kill and restart)"
            )),
        })
        .collect()
}

/// What one client of a real run saw.
#[derive(Debug, Clone, Default)]
pub struct Tally {
    /// The client's name.
    pub name: String,
    /// Operations that succeeded.
    pub ok: u64,
    /// Operations that failed.
    pub failed: u64,
    /// Failures by kind: how many, and the millisecond of the run of the first.
    pub kinds: BTreeMap<String, (u64, u64)>,
}

/// A finished real run.
#[derive(Debug, Clone)]
pub struct RealRun {
    /// Wall seconds from the first process started to the last operation finished.
    pub wall_s: f64,
    /// Each client's tally, in the scenario's order.
    pub clients: Vec<Tally>,
}

/// Extra wall time after the scenario's end for the last operations (each bounded by its call deadline).
const DRAIN: Duration = Duration::from_secs(1);

async fn client_loop(spec: ClientSpec, sentinels: Vec<String>, keys: u32, start: Instant, until: Instant) -> Tally {
    let mut tally = Tally {
        name: spec.name.clone(),
        ..Tally::default()
    };
    let (policy, selection) = match (read_policy(&spec.policy), replica_selection(&spec.selection)) {
        (Ok(p), Ok(s)) => (p, s),
        (Err(e), _) | (_, Err(e)) => {
            tally.failed += 1;
            tally.kinds.insert(e, (1, 0));
            return tally;
        }
    };
    let built = Client::builder()
        .sentinels(sentinels.iter().map(String::as_str))
        .master_name(redsim_conformance::cluster::MASTER_NAME)
        .client_name(&spec.name)
        .net(Net::Tokio)
        .command_timeout(Duration::from_millis(spec.timeout_ms))
        .read_policy(policy)
        .replica_selection(selection)
        .build();
    let client = match built {
        Ok(c) => c,
        Err(e) => {
            tally.failed += 1;
            tally.kinds.insert(e.kind().to_string(), (1, 0));
            return tally;
        }
    };
    let mut n = 0u64;
    while Instant::now() < until {
        n += 1;
        let key = format!("k{}", n % u64::from(keys.max(1)));
        let result = match spec.role {
            ClientRole::Writer => client.set(&key, &format!("{}:{n}:{key}", spec.name)).await,
            ClientRole::Reader => client.get(&key).await.map(|_| ()),
        };
        match result {
            Ok(()) => tally.ok += 1,
            Err(e) => {
                tally.failed += 1;
                let at_ms = start.elapsed().as_millis() as u64;
                tally.kinds.entry(e.kind().to_string()).or_insert((0, at_ms)).0 += 1;
            }
        }
        tokio::time::sleep(Duration::from_millis(spec.interval_ms)).await;
    }
    tally
}

/// Runs `s` on real processes (see the module's docs). Its own current-thread runtime: a simulation must not
/// share one, turmoil builds its own.
pub fn run_real(s: &Scenario) -> Result<RealRun, String> {
    let plan = plan(s)?;
    if let Some(m) = s.mutant {
        return Err(format!("a real run has no mutant; the scenario asks for {}", m.name()));
    }
    if let Some(c) = s.clients.iter().find(|c| c.concurrency != 1) {
        return Err(format!(
            "a real run runs one operation loop a client; {} asks for more",
            c.name
        ));
    }
    redsim_conformance::block_on(async {
        // The wall clock on purpose: this is real processes on a real network, not a simulation, and how long
        // they take is the figure.
        let wall = std::time::Instant::now();
        let config = ClusterConfig {
            quorum: s.topology.quorum,
            down_after_ms: s.topology.down_after_ms,
            failover_timeout_ms: s.topology.failover_timeout_ms,
            ..ClusterConfig::default()
        };
        let mut cluster = Cluster::start(Flavor::Real, config).await.map_err(|e| e.to_string())?;
        let sentinels: Vec<String> = SENTINELS
            .iter()
            .map(|id| format!("127.0.0.1:{}", cluster.port(id)))
            .collect();
        let start = Instant::now();
        let until = start + Duration::from_millis(s.duration_ms);
        let local = tokio::task::LocalSet::new();
        let loops: Vec<_> = s
            .clients
            .iter()
            .map(|spec| local.spawn_local(client_loop(spec.clone(), sentinels.clone(), s.keys, start, until)))
            .collect();
        local
            .run_until(async {
                for (at_ms, action) in &plan {
                    tokio::time::sleep_until(start + Duration::from_millis(*at_ms)).await;
                    match action {
                        Action::Kill(h) => cluster.kill(h),
                        Action::Restart(h) => cluster.restart(h).map_err(|e| format!("restarting {h}: {e}"))?,
                    }
                }
                let mut clients = Vec::new();
                for l in loops {
                    let drained = tokio::time::timeout_at(until + DRAIN + DRAIN, l).await;
                    clients.push(
                        drained
                            .map_err(|_| "a client did not stop".to_string())?
                            .map_err(|e| e.to_string())?,
                    );
                }
                Ok(RealRun {
                    wall_s: wall.elapsed().as_secs_f64(),
                    clients,
                })
            })
            .await
    })
}

/// Figure (c): `s` once on real processes, then `runs` times simulated (at its own tick): real wall time over
/// simulated wall time. Returns the row and a per-client account of both sides (operations ok / failed, and the
/// real side's failures by kind, with when the first happened).
pub fn bench_real(s: &Scenario, runs: usize) -> Result<(Row, String), String> {
    let real = run_real(s)?;
    let mut walls = Vec::new();
    let mut last = None;
    for i in 0..runs.max(1) {
        // Wall time around a whole simulation (never read inside it): the figure (c) compares.
        let started = std::time::Instant::now();
        let outcome = report::run_checked(s, 1 + i as u64)?;
        walls.push(started.elapsed().as_secs_f64());
        if !outcome.passed() {
            return Err(format!(
                "the scenario failed its checks in the simulation with seed {}",
                1 + i
            ));
        }
        last = Some(outcome);
    }
    let outcome = last.expect("at least one run");
    let mut detail = String::new();
    let _ = writeln!(
        detail,
        "(c) operations ok/failed per client, on real processes and in the simulation with seed {}:",
        walls.len()
    );
    for (t, c) in real.clients.iter().zip(&s.clients) {
        let kinds: Vec<String> = t
            .kinds
            .iter()
            .map(|(k, (count, at_ms))| format!("{count} {k} from {:.2} s", *at_ms as f64 / 1000.0))
            .collect();
        let mine = outcome.history.ops.iter().filter(|o| o.client == c.name);
        let sim_ok = mine.clone().filter(|o| o.outcome.is_ok()).count();
        let _ = writeln!(
            detail,
            "  {}: real {}/{}{}; simulated {sim_ok}/{}",
            t.name,
            t.ok,
            t.failed,
            if kinds.is_empty() {
                String::new()
            } else {
                format!(" ({})", kinds.join(", "))
            },
            mine.count() - sim_ok
        );
    }
    let simulated_s = (WARMUP_MS + s.duration_ms) as f64 / 1000.0;
    let ratios: Vec<f64> = walls.iter().map(|w| real.wall_s / w).collect();
    let row = Row {
        what: format!(
            "(c) {}: one run on real processes ({:.0} s, start-up included) against {simulated_s:.0} s simulated, {} \
             ms tick",
            s.name, real.wall_s, s.network.tick_ms
        ),
        runs: walls.len(),
        wall_s: Spread::of(walls),
        figure: Spread::of(ratios),
        unit: "x faster than real processes".into(),
    };
    Ok((row, detail))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::default_workload;

    #[test]
    fn the_default_workload_s_schedule_becomes_kills_and_restarts() {
        let p = plan(&default_workload()).unwrap();
        assert_eq!(
            p,
            [
                (5000, Action::Kill("redis-3")),
                (15000, Action::Restart("redis-3")),
                (25000, Action::Kill("redis-1")),
                (40000, Action::Restart("redis-1")),
            ]
        );
    }

    #[test]
    fn faults_without_a_real_counterpart_are_refused_before_anything_starts() {
        let mut s = default_workload();
        s.schedule = vec!["at 1000 partition(redis-1 | redis-2, redis-3)".parse().unwrap()];
        assert!(plan(&s).unwrap_err().contains("cannot apply"));
        let mut s = default_workload();
        s.schedule = vec!["at 1000 crash(redis-9)".parse().unwrap()];
        assert!(plan(&s).unwrap_err().contains("redis-9"));
        let mut s = default_workload();
        s.topology.replicas = 4;
        assert!(plan(&s).unwrap_err().contains("4 replicas"));
        let mut s = default_workload();
        s.clients[1].concurrency = 8;
        assert!(run_real(&s).unwrap_err().contains("reader-1"));
    }
}
