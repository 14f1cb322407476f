//! `writes_follow_failover` (eventually): after Sentinels publish `+switch-master`, writers' writes succeed on
//! the new master within a bound.

use super::{Check, Flavour, Violation, disrupted, sim_ms};
use crate::history::{History, OpKind};
use crate::scenario::ClientRole;

/// How long after the first `+switch-master` a write must have succeeded on the new master.
pub const BOUND_MS: u64 = 2000;

/// Runs the checker.
pub fn check(h: &History) -> Check {
    let mut c = Check::new("writes_follow_failover", Flavour::Eventually);
    let writers: Vec<&str> = h
        .scenario
        .clients
        .iter()
        .filter(|c| c.role == ClientRole::Writer)
        .map(|c| c.name.as_str())
        .collect();
    let mut seen: Vec<&str> = Vec::new();
    for e in h.sentinel_events.iter().filter(|e| e.event == "+switch-master") {
        if seen.contains(&e.payload.as_str()) {
            continue;
        }
        seen.push(&e.payload);
        let switch_ms = sim_ms(e.time_ms);
        let Some(new_ip) = e.payload.split(' ').nth(3) else {
            continue;
        };
        let new_master = h.host_of(new_ip);
        // Only judge switches with enough run left to see the writes.
        let last_op = h.ops.iter().map(|o| o.complete_ms).max().unwrap_or(0);
        if switch_ms + BOUND_MS > last_op {
            continue;
        }
        // Sentinels can demote the node they just named (they converted it before hearing of its promotion); a
        // node that runs nothing as master in the bound is no master to write to.
        let acted_as_master = h.exec.iter().any(|x| {
            x.node == new_master
                && (switch_ms..=switch_ms + BOUND_MS).contains(&sim_ms(x.time_ms))
                && x.role == redsim_fake_redis::Role::Master
        });
        if !acted_as_master {
            c.metrics
                .push((format!("skipped: {new_master} was no master after the switch"), 1.0));
            continue;
        }
        for w in &writers {
            // A fault on the new master or between it and the writer in the bound explains a slow switch.
            if disrupted(h, w, &new_master, switch_ms, switch_ms + BOUND_MS) {
                c.metrics
                    .push((format!("{w} skipped: cut off from the new master"), 1.0));
                continue;
            }
            let first = h
                .ops
                .iter()
                .filter(|o| o.client == *w && o.kind == OpKind::Write && o.outcome.is_ok())
                .filter(|o| o.served_by.as_deref() == Some(new_master.as_str()) && o.complete_ms >= switch_ms)
                .map(|o| o.complete_ms)
                .min();
            match first {
                Some(t) if t <= switch_ms + BOUND_MS => c
                    .metrics
                    .push((format!("{w} first write after switch ms"), (t - switch_ms) as f64)),
                _ => c.violations.push(Violation {
                    at_ms: switch_ms,
                    what: format!(
                        "{w}: no successful write on the new master {new_master} within {BOUND_MS} ms of +switch-master"
                    ),
                }),
            }
        }
    }
    c
}
