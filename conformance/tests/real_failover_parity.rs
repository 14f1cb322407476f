//! Failover parity: the same fault on a real cluster and in the simulation must make the Sentinels publish the
//! same events in the same order, at times that agree within Sentinel's 1 s ping period. Needs real Redis;
//! skipped with one line without it.

use std::io::Write;
use std::time::Duration;

use redsim::history::EPOCH_MS;
use redsim::runner::WARMUP_MS;
use redsim::scenario::Scenario;
use redsim_conformance::parity::{Event, Parity, compare, event_key};
use redsim_conformance::{Cluster, ClusterConfig, Flavor, block_on, skip_unless_real_redis};

/// Sentinel's ping period: the resolution at which two runs of the same failover can be told apart.
const TOLERANCE_MS: i64 = 1000;
/// When the simulated fault strikes, after the harness's warm-up.
const FAULT_AT_MS: u64 = 5000;

/// The simulated events of `faults` (times relative to the first fault), on the topology `Cluster` starts.
fn simulated(name: &str, down_after_ms: u64, faults: &str, until: impl Fn(&[Event]) -> Option<i64>) -> Vec<Event> {
    let c = ClusterConfig {
        down_after_ms,
        ..ClusterConfig::default()
    };
    let text = format!(
        "scenario {name}\nduration_ms 30000\n\
         topology replicas=2 sentinels=3 quorum={} down_after_ms={} failover_timeout_ms={} parallel_syncs=1\n\
         network latency_ms=1..1\n{faults}",
        c.quorum, c.down_after_ms, c.failover_timeout_ms
    );
    let scenario: Scenario = text.parse().expect("the parity scenario parses");
    let history = redsim::runner::run(&scenario, 1).expect("the simulation runs");
    let events: Vec<Event> = history
        .sentinel_events
        .iter()
        .map(|e| Event {
            at_ms: (e.time_ms - EPOCH_MS) as i64 - (WARMUP_MS + FAULT_AT_MS) as i64,
            sentinel: e.sentinel.clone(),
            key: event_key(&e.event, &e.payload),
        })
        .filter(|e| e.at_ms >= 0)
        .collect();
    let end = until(&events).unwrap_or(i64::MAX);
    events.into_iter().filter(|e| e.at_ms <= end).collect()
}

fn report(test: &str, p: &Parity) {
    let _ = writeln!(std::io::stderr(), "{test}:\n{p}");
}

fn switch_ms(events: &[Event]) -> Option<i64> {
    events.iter().find(|e| e.key == "+switch-master").map(|e| e.at_ms)
}

/// After the switch, the leader announces the replicas and finds the old master down: 4 s covers it.
const AFTER_SWITCH_MS: i64 = 4000;

#[test]
fn real_failover_parity_master_kill() {
    if skip_unless_real_redis("real_failover_parity_master_kill").is_none() {
        return;
    }
    let down_after_ms = ClusterConfig::default().down_after_ms;
    let until = |e: &[Event]| switch_ms(e).map(|s| s + AFTER_SWITCH_MS);
    let sim = simulated("parity-master-kill", down_after_ms, "at 5000 kill(redis-1)\n", until);
    let got = block_on(real_master_kill());
    let p = compare(&got, &sim);
    report("master SIGKILL", &p);
    assert!(
        !p.real_leader.is_empty(),
        "no real Sentinel published +elected-leader: {p}"
    );
    assert!(p.leader_order_matches(), "{p}");
    assert!(p.leader_timing_disagreements(TOLERANCE_MS).is_empty(), "{p}");
    assert!(p.disagreements(TOLERANCE_MS).is_empty(), "{p}");
    // The comparison's mutant: Sentinels that wait 1.5 s longer than the real ones must be told apart.
    let slow = simulated(
        "parity-slow-sentinels",
        down_after_ms + 1500,
        "at 5000 kill(redis-1)\n",
        until,
    );
    let p = compare(&got, &slow);
    assert!(!p.disagreements(TOLERANCE_MS).is_empty(), "{p}");
}

async fn real_master_kill() -> Vec<Event> {
    let mut real = Cluster::start(Flavor::Real, ClusterConfig::default())
        .await
        .expect("real cluster");
    let mut events = real.watch_sentinel_events().await.expect("subscribed");
    let t0 = tokio::time::Instant::now();
    real.kill("redis-1");
    let mut got = events
        .collect(t0, Duration::from_secs(30), |e| switch_ms(e).is_some())
        .await;
    let switched = switch_ms(&got).expect("the real Sentinels fail over within 30 s");
    got.extend(
        events
            .collect(t0, Duration::from_millis((switched + AFTER_SWITCH_MS) as u64), |_| {
                false
            })
            .await,
    );
    got
}

#[test]
fn real_failover_parity_replica_pause() {
    if skip_unless_real_redis("real_failover_parity_replica_pause").is_none() {
        return;
    }
    let sim = simulated(
        "parity-replica-pause",
        ClusterConfig::default().down_after_ms,
        "at 5000 pause(redis-2)\nat 10000 resume(redis-2)\n",
        |_| Some(8000),
    );
    let got = block_on(real_replica_pause());
    let p = compare(&got, &sim);
    report("replica SIGSTOP for 5 s", &p);
    // Both sides must have seen the replica go down and come back, not merely agree on seeing nothing.
    for key in ["+sdown slave", "-sdown slave"] {
        assert!(
            p.rows
                .iter()
                .any(|r| r.key == key && r.real_ms.is_some() && r.sim_ms.is_some()),
            "{key} missing: {p}"
        );
    }
    assert!(p.disagreements(TOLERANCE_MS).is_empty(), "{p}");
}

async fn real_replica_pause() -> Vec<Event> {
    let real = Cluster::start(Flavor::Real, ClusterConfig::default())
        .await
        .expect("real cluster");
    let mut events = real.watch_sentinel_events().await.expect("subscribed");
    let t0 = tokio::time::Instant::now();
    real.pause("redis-2").expect("SIGSTOP");
    let mut got = events.collect(t0, Duration::from_secs(5), |_| false).await;
    real.resume("redis-2").expect("SIGCONT");
    got.extend(events.collect(t0, Duration::from_secs(8), |_| false).await);
    got
}
