//! The client on a real cluster: the `rw_split` example users run against their deployment, driven against real
//! redis-server and redis-sentinel, with MONITOR on every data node as ground truth; and the same scenario in the
//! simulation, for the figures side by side. Needs real Redis; skipped with one line without it.

use std::collections::BTreeMap;
use std::io::{BufRead, Write};
use std::time::Duration;

use redsim::history::{EPOCH_MS, History, OpKind};
use redsim::runner::WARMUP_MS;
use redsim::scenario::Scenario;
use redsim_conformance::cluster::SENTINELS;
use redsim_conformance::ground_truth::{Monitors, reads_on_master};
use redsim_conformance::parity::Event;
use redsim_conformance::process::{Process, rw_split};
use redsim_conformance::{Cluster, ClusterConfig, Flavor, block_on, skip_unless_real_redis};
use tokio::time::Instant;

/// The key `rw_split` writes and reads.
const KEY: &str = "rw_split:key";

/// How a replica or the master fails.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Fault {
    /// None (Test1: all reads on replicas).
    None,
    /// SIGKILL the replica the client reads from.
    KillReplica,
    /// SIGSTOP it.
    PauseReplica,
    /// SIGKILL the master: Sentinel fails over.
    KillMaster,
}

/// What a run shows, real or simulated; times in ms after the fault.
#[derive(Debug, Default)]
struct Figures {
    reads: usize,
    read_errors: usize,
    /// First successful read on another replica.
    reroute_ms: Option<i64>,
    /// First `+sdown` (of the failed replica, or of the master).
    sdown_ms: Option<i64>,
    /// `+switch-master`.
    switch_ms: Option<i64>,
    /// First successful write on the new master.
    write_on_new_master_ms: Option<i64>,
    reads_on_master: usize,
    /// Distinct nodes that served reads.
    read_nodes: usize,
    /// Each failed operation: ms after the fault (negative: before), and `read err <kind>` as printed.
    errors: Vec<(i64, String)>,
}

impl std::fmt::Display for Figures {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ms = |v: Option<i64>| v.map_or_else(|| "-".to_string(), |v| v.to_string());
        write!(
            f,
            "reads {}, read errors {}, re-route {} ms, +sdown {} ms, +switch-master {} ms, first write on the new \
             master {} ms, reads on a master {}, nodes that served reads {}, errors {:?}",
            self.reads,
            self.read_errors,
            ms(self.reroute_ms),
            ms(self.sdown_ms),
            ms(self.switch_ms),
            ms(self.write_on_new_master_ms),
            self.reads_on_master,
            self.read_nodes,
            self.errors
        )
    }
}

fn ms_since(t0: Instant, t: Instant) -> i64 {
    if t >= t0 {
        (t - t0).as_millis() as i64
    } else {
        -((t0 - t).as_millis() as i64)
    }
}

/// One `rw_split` output line: `<elapsed> read ok 127.0.0.1:6379`, timed on arrival.
struct Line {
    at: Instant,
    kind: String,
    ok: bool,
    port: Option<u16>,
    text: String,
}

fn parse_line(at: Instant, text: &str) -> Option<Line> {
    let words: Vec<&str> = text.split_whitespace().collect();
    let [_, kind, outcome, last] = words[..] else {
        return None;
    };
    Some(Line {
        at,
        kind: kind.to_string(),
        ok: outcome == "ok",
        port: last.rsplit_once(':').and_then(|(_, p)| p.parse().ok()),
        text: words[1..].join(" "),
    })
}

async fn real_run(fault: Fault, duration_ms: u64, extra_args: &[&str]) -> Figures {
    let mut cluster = Cluster::start(Flavor::Real, ClusterConfig::default())
        .await
        .expect("real cluster");
    let mut monitors = Monitors::start(&cluster).await.expect("MONITOR");
    let mut events = cluster.watch_sentinel_events().await.expect("subscribed");
    let mut args: Vec<String> = Vec::new();
    for s in SENTINELS {
        args.extend(["--sentinel".into(), format!("127.0.0.1:{}", cluster.port(s))]);
    }
    args.extend(
        [
            "--master",
            "mymaster",
            "--interval-ms",
            "100",
            "--duration-ms",
            &duration_ms.to_string(),
        ]
        .map(String::from),
    );
    if fault == Fault::KillMaster {
        args.extend(["--write-interval-ms".into(), "200".into()]);
    }
    args.extend(extra_args.iter().map(|a| a.to_string()));
    let bin = rw_split().expect("the rw_split example");
    let (mut process, stdout) =
        Process::spawn_piped("rw_split", &bin, &args, &cluster.dir().join("rw_split.log")).expect("rw_split starts");
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send((Instant::now(), line)).is_err() {
                return;
            }
        }
    });
    // The fault strikes once the client reads from a replica, one second in.
    let mut lines: Vec<Line> = Vec::new();
    let started = Instant::now();
    while !lines.iter().any(|l| l.kind == "read" && l.ok) {
        let (at, text) = tokio::time::timeout(Duration::from_secs(10), rx.recv())
            .await
            .expect("rw_split reads within 10 s")
            .expect("rw_split runs");
        lines.extend(parse_line(at, &text));
    }
    tokio::time::sleep_until(started + Duration::from_millis(1000)).await;
    let node_of_port: BTreeMap<u16, &'static str> = cluster.ports().into_iter().map(|(id, p)| (p, id)).collect();
    while let Ok((at, text)) = rx.try_recv() {
        lines.extend(parse_line(at, &text));
    }
    let used = lines
        .iter()
        .rev()
        .find(|l| l.kind == "read" && l.ok)
        .and_then(|l| l.port)
        .and_then(|p| node_of_port.get(&p).copied())
        .expect("the client read from a node");
    let victim = match fault {
        Fault::KillMaster => "redis-1",
        _ => used,
    };
    let victim_port = cluster.port(victim);
    let t0 = Instant::now();
    match fault {
        Fault::None => {}
        Fault::KillReplica | Fault::KillMaster => cluster.kill(victim),
        Fault::PauseReplica => cluster.pause(victim).expect("SIGSTOP"),
    }
    let end = started + Duration::from_millis(duration_ms + 500);
    while let Ok(Some((at, text))) = tokio::time::timeout_at(end, rx.recv()).await {
        lines.extend(parse_line(at, &text));
    }
    if fault == Fault::PauseReplica {
        let _ = cluster.resume(victim);
    }
    process.kill();
    let published = events.collect(t0, Duration::ZERO, |_| false).await;
    let streams = monitors.drain();
    let after: Vec<&Line> = lines.iter().filter(|l| l.at >= t0).collect();
    let sdown_key = if fault == Fault::KillMaster {
        "+sdown master"
    } else {
        "+sdown slave"
    };
    let first = |key: &str| -> Option<i64> { published.iter().find(|e: &&Event| e.key == key).map(|e| e.at_ms) };
    let new_master = published.iter().find(|e| e.key == "+switch-master").map(|_| ());
    Figures {
        reads: lines.iter().filter(|l| l.kind == "read").count(),
        read_errors: lines.iter().filter(|l| l.kind == "read" && !l.ok).count(),
        reroute_ms: after
            .iter()
            .find(|l| l.kind == "read" && l.ok && l.port != Some(victim_port))
            .map(|l| ms_since(t0, l.at))
            .filter(|_| matches!(fault, Fault::KillReplica | Fault::PauseReplica)),
        sdown_ms: first(sdown_key),
        switch_ms: first("+switch-master"),
        write_on_new_master_ms: new_master.and_then(|_| {
            after
                .iter()
                .find(|l| l.kind == "write" && l.ok && l.port != Some(victim_port))
                .map(|l| ms_since(t0, l.at))
        }),
        reads_on_master: reads_on_master(&streams, KEY).values().sum(),
        errors: lines
            .iter()
            .filter(|l| !l.ok)
            .map(|l| (ms_since(t0, l.at), l.text.clone()))
            .collect(),
        read_nodes: lines
            .iter()
            .filter(|l| l.kind == "read" && l.ok)
            .filter_map(|l| l.port)
            .collect::<std::collections::BTreeSet<_>>()
            .len(),
    }
}

/// The same scenario in the simulation: one sticky replica-only reader (and a writer for the failover), the
/// same topology and timeouts, the fault 1 s into the run, on the replica the reader uses.
fn simulated(fault: Fault, duration_ms: u64, selection: &str) -> Figures {
    let c = ClusterConfig::default();
    for seed in 1..=20 {
        let (faults, victim) = match fault {
            Fault::None => (String::new(), "redis-2"),
            Fault::KillReplica => ("at 1000 kill(redis-2)\n".to_string(), "redis-2"),
            Fault::PauseReplica => ("at 1000 pause(redis-2)\n".to_string(), "redis-2"),
            Fault::KillMaster => ("at 1000 kill(redis-1)\n".to_string(), "redis-1"),
        };
        let text = format!(
            "scenario real-client-{fault:?}\nduration_ms {duration_ms}\nstable_ms 0\n\
             topology replicas=2 sentinels=3 quorum={} down_after_ms={} failover_timeout_ms={} parallel_syncs=1\n\
             network latency_ms=1..1\n\
             client reader-1 reader policy=replica-only selection={selection} interval_ms=100 timeout_ms=500\n\
             client writer-1 writer policy=replica-only selection=sticky interval_ms=200 timeout_ms=500\n{faults}",
            c.quorum, c.down_after_ms, c.failover_timeout_ms
        );
        let scenario: Scenario = text.parse().expect("the scenario parses");
        let h = redsim::runner::run(&scenario, seed).expect("the simulation runs");
        let t0 = WARMUP_MS + 1000;
        let reads = || {
            h.ops
                .iter()
                .filter(|o| o.client == "reader-1" && o.kind == OpKind::Read)
        };
        let used_victim = reads()
            .rev()
            .find(|o| o.complete_ms < t0 && o.outcome.is_ok())
            .is_some_and(|o| o.served_by.as_deref() == Some(victim));
        if fault != Fault::KillMaster && fault != Fault::None && !used_victim {
            continue; // another seed, whose sticky reader uses the replica that fails
        }
        return sim_figures(&h, fault, t0, victim);
    }
    panic!("no seed in 1..=20 made the reader use redis-2");
}

fn sim_figures(h: &History, fault: Fault, t0: u64, victim: &str) -> Figures {
    let rel = |t: u64| t as i64 - t0 as i64;
    let victim_ip = h.hosts.get(victim).cloned().unwrap_or_default();
    let event = |name: &str, of: &str| {
        h.sentinel_events
            .iter()
            .find(|e| e.event == name && e.payload.starts_with(of) && e.time_ms - EPOCH_MS >= t0)
            .map(|e| rel(e.time_ms - EPOCH_MS))
    };
    let reads: Vec<_> = h
        .ops
        .iter()
        .filter(|o| o.client == "reader-1" && o.kind == OpKind::Read)
        .collect();
    let switch_ms = event("+switch-master", "");
    Figures {
        reads: reads.len(),
        read_errors: reads.iter().filter(|o| o.outcome.is_err()).count(),
        reroute_ms: reads
            .iter()
            .find(|o| o.complete_ms >= t0 && o.outcome.is_ok() && o.served_by.as_deref() != Some(victim))
            .map(|o| rel(o.complete_ms))
            .filter(|_| matches!(fault, Fault::KillReplica | Fault::PauseReplica)),
        sdown_ms: if fault == Fault::KillMaster {
            event("+sdown", "master")
        } else {
            event("+sdown", &format!("slave {victim_ip}:"))
        },
        switch_ms,
        write_on_new_master_ms: switch_ms.and_then(|_| {
            h.ops
                .iter()
                .find(|o| {
                    o.client == "writer-1"
                        && o.kind == OpKind::Write
                        && o.complete_ms >= t0
                        && o.outcome.is_ok()
                        && o.served_by.as_deref() != Some(victim)
                })
                .map(|o| rel(o.complete_ms))
        }),
        reads_on_master: h
            .exec
            .iter()
            .filter(|e| {
                e.role == redsim_fake_redis::Role::Master
                    && e.client_name.as_deref().is_some_and(|n| n.starts_with("reader"))
                    && e.command.first().is_some_and(|c| c.eq_ignore_ascii_case("GET"))
            })
            .count(),
        errors: h
            .ops
            .iter()
            .filter_map(|o| {
                o.outcome
                    .as_ref()
                    .err()
                    .map(|e| (rel(o.complete_ms), format!("{}: {e}", o.client)))
            })
            .collect(),
        read_nodes: reads
            .iter()
            .filter_map(|o| o.served_by.as_deref())
            .collect::<std::collections::BTreeSet<_>>()
            .len(),
    }
}

fn both(test: &str, fault: Fault, duration_ms: u64, selection: &str) -> Option<(Figures, Figures)> {
    skip_unless_real_redis(test)?;
    let sim = simulated(fault, duration_ms, selection);
    let real = block_on(real_run(fault, duration_ms, &["--selection", selection]));
    let _ = writeln!(std::io::stderr(), "{test}\n  real:      {real}\n  simulated: {sim}");
    Some((real, sim))
}

/// Test1: with no fault, a replica-only client never reads on the master, and never fails.
#[test]
fn real_client_reads_only_replicas() {
    let Some((real, sim)) = both("real_client_reads_only_replicas", Fault::None, 3000, "sticky") else {
        return;
    };
    for f in [&real, &sim] {
        assert!(f.reads > 10, "{f}");
        assert_eq!((f.read_errors, f.reads_on_master, f.read_nodes), (0, 0, 1), "{f}");
    }
}

/// Test2: reads spread at random over the replicas, never on the master.
#[test]
fn real_client_spreads_reads_over_the_replicas() {
    let Some((real, sim)) = both(
        "real_client_spreads_reads_over_the_replicas",
        Fault::None,
        3000,
        "random",
    ) else {
        return;
    };
    for f in [&real, &sim] {
        assert_eq!((f.read_errors, f.reads_on_master, f.read_nodes), (0, 0, 2), "{f}");
    }
}

/// Test3: with the client's replica gone, reads move to the other replica, with no error, before Sentinel's
/// +sdown: at once after a SIGKILL (connections refused), after the 500 ms timeout after a SIGSTOP.
fn replica_loss(test: &str, fault: Fault) {
    let Some((real, sim)) = both(test, fault, 5000, "sticky") else {
        return;
    };
    for f in [&real, &sim] {
        assert_eq!((f.read_errors, f.reads_on_master), (0, 0), "{f}");
        let (reroute, sdown) = (f.reroute_ms.expect("re-routed"), f.sdown_ms.expect("+sdown"));
        assert!(reroute < sdown, "{f}");
    }
}

#[test]
fn real_client_survives_a_killed_replica() {
    replica_loss("real_client_survives_a_killed_replica", Fault::KillReplica);
}

#[test]
fn real_client_survives_a_paused_replica() {
    replica_loss("real_client_survives_a_paused_replica", Fault::PauseReplica);
}

/// Master failover: writes reach the new master after +switch-master, and no read ever runs on a master (the
/// promoted replica included, from its `SLAVEOF NO ONE` on).
#[test]
fn real_client_follows_a_master_failover() {
    let Some((real, sim)) = both(
        "real_client_follows_a_master_failover",
        Fault::KillMaster,
        10_000,
        "sticky",
    ) else {
        return;
    };
    for f in [&real, &sim] {
        assert_eq!(f.reads_on_master, 0, "{f}");
        let (switch, write) = (
            f.switch_ms.expect("+switch-master"),
            f.write_on_new_master_ms.expect("a write on the new master"),
        );
        assert!(write >= switch - 1000 && write <= switch + 3000, "{f}");
    }
}

/// The ground truth's mutant: the same binary told to read from the master is caught by MONITOR.
#[test]
fn real_client_ground_truth_sees_reads_on_the_master() {
    if skip_unless_real_redis("real_client_ground_truth_sees_reads_on_the_master").is_none() {
        return;
    }
    let f = block_on(real_run(Fault::None, 2000, &["--policy", "master"]));
    assert!(f.reads_on_master > 10, "{f}");
}
