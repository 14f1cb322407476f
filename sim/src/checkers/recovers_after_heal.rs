//! `recovers_after_heal` (eventually): once faults stop and the cluster has had time to settle, every client
//! succeeds again. Judged on the end of the final `stable_ms` of the run, if no fault falls in it.

use std::collections::BTreeMap;

use super::{Check, Flavour, Violation};
use crate::history::History;
use crate::runner::WARMUP_MS;

/// The longest stretch at the end of the stable window that is judged. Sentinel can take up to ~18 s after a
/// failover to turn a returning old master into a replica (it waits 8 s after the role report, and reads INFO
/// every 10 s), so a long stable window gives it that time and judges only its end.
pub const JUDGED_MS: u64 = 5000;

/// How long after a Sentinel leaves TILT the cluster may still be settling: a failover TILT interrupted resumes
/// (a few seconds) and the old master is turned into a replica (up to ~18 s).
pub const SETTLE_AFTER_TILT_MS: u64 = 20_000;

/// When the cluster has settled after the last TILT (in sim ms), if any Sentinel entered TILT; `u64::MAX` if
/// one never left it.
fn tilt_settles_at(h: &History) -> Option<u64> {
    // Per Sentinel: None while in TILT, else when it left.
    let mut left: BTreeMap<&str, Option<u64>> = BTreeMap::new();
    for e in &h.sentinel_events {
        match e.event.as_str() {
            "+tilt" => {
                left.insert(&e.sentinel, None);
            }
            "-tilt" => {
                left.insert(&e.sentinel, Some(super::sim_ms(e.time_ms)));
            }
            _ => {}
        }
    }
    left.values()
        .map(|l| l.map_or(u64::MAX, |t| t + SETTLE_AFTER_TILT_MS))
        .max()
}

/// The node the Sentinels name as master at `at_ms` (sim ms): the last `+switch-master` before it, or the
/// first master.
fn sentinel_master(h: &History, at_ms: u64) -> String {
    h.sentinel_events
        .iter()
        .filter(|e| e.event == "+switch-master" && super::sim_ms(e.time_ms) <= at_ms)
        .filter_map(|e| {
            let w: Vec<&str> = e.payload.split_whitespace().collect();
            Some(h.host_of(w.get(3)?))
        })
        .next_back()
        .unwrap_or_else(|| h.scenario.redis_hosts()[0].clone())
}

/// Runs the checker.
pub fn check(h: &History) -> Check {
    let mut c = Check::new("recovers_after_heal", Flavour::Eventually);
    let end = WARMUP_MS + h.scenario.duration_ms;
    let window_start = end.saturating_sub(h.scenario.stable_ms);
    // A fault exactly at the window start is the heal that opens it (the generated cases end their fault phase
    // so); only later faults disturb the window.
    if h.faults.iter().any(|(t, _)| *t > window_start) || h.scenario.stable_ms == 0 {
        c.metrics.push(("skipped: faults in the stable window".into(), 1.0));
        return c;
    }
    // Give the cluster time to settle; the last part of the window (half of it, at most JUDGED_MS) must be
    // clean.
    let judged_from = end - (h.scenario.stable_ms / 2).min(JUDGED_MS);
    // A Sentinel thawed after a pause of more than 2 s is in TILT for 30 s (Redis's rule): it acts on nothing,
    // not even a failover it started, so the cluster is not settled until some time after it leaves TILT.
    if let Some(until) = tilt_settles_at(h)
        && until > judged_from
    {
        c.metrics
            .push(("skipped: a Sentinel in TILT, settled at ms".into(), until as f64));
        return c;
    }
    // Sentinel itself must have converged: the node it names as master is one. Redis's Sentinel can leave its
    // master a replica for a while (a replica it had not yet converted, promoted in a second failover, that the
    // other Sentinels convert back before they hear of the promotion); it repairs that only after
    // down-after + 20 s of the master reporting itself a replica.
    let master = sentinel_master(h, judged_from);
    let role = h
        .exec
        .iter()
        .rev()
        .find(|e| e.node == master && super::sim_ms(e.time_ms) <= judged_from)
        .map(|e| e.role);
    if role == Some(redsim_fake_redis::Role::Replica) {
        c.metrics.push(("skipped: Sentinel's master is a replica".into(), 1.0));
        return c;
    }
    for client in &h.scenario.clients {
        let ops: Vec<_> = h
            .ops
            .iter()
            .filter(|o| o.client == client.name && o.invoke_ms >= judged_from)
            .collect();
        let failed: Vec<_> = ops.iter().filter(|o| o.outcome.is_err()).collect();
        if ops.is_empty() || !failed.is_empty() {
            c.violations.push(Violation {
                at_ms: judged_from,
                what: format!(
                    "{}: {} of {} operations failed after the cluster was stable (first: {:?})",
                    client.name,
                    failed.len(),
                    ops.len(),
                    failed.first().map(|o| o.outcome.clone())
                ),
            });
        }
    }
    c
}
