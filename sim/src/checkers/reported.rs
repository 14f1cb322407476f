//! Redis's own weaknesses, measured and reported without failing a run: acknowledged writes later lost (the
//! Jepsen 2013 finding), stale reads and their age, and writes accepted by an old master after the Sentinels had
//! switched away from it.

use std::collections::{BTreeMap, BTreeSet};

use super::{Check, Flavour, Violation};
use crate::history::{History, Op, OpKind};

/// `lost_writes`: acknowledged writes that never reached the final master (neither written there by a client
/// nor replicated to it): the writes an isolated old master accepted and later discarded (Jepsen 2013).
pub fn lost_writes(h: &History) -> Check {
    let mut c = Check::new("lost_writes", Flavour::Reported);
    let final_master = h
        .sentinel_events
        .iter()
        .rev()
        .find(|e| e.event == "+switch-master")
        .and_then(|e| e.payload.split(' ').nth(3))
        .map(|ip| h.host_of(ip))
        .unwrap_or_else(|| "redis-1".into());
    let reached: BTreeSet<&str> = h
        .exec
        .iter()
        .filter(|e| e.node == final_master && e.is("SET"))
        .filter_map(|e| e.command.get(2).map(String::as_str))
        .collect();
    let mut lost = 0;
    for op in h.ops.iter().filter(|o| o.kind == OpKind::Write && o.outcome.is_ok()) {
        if let Some(v) = &op.written
            && !reached.contains(v.as_str())
        {
            lost += 1;
            c.violations.push(Violation {
                at_ms: op.complete_ms,
                what: format!(
                    "acknowledged write {v} to {} never reached the final master {final_master}",
                    op.key
                ),
            });
        }
    }
    c.metrics.push(("lost acknowledged writes".into(), lost as f64));
    c
}

/// `stale_reads`: reads that returned a value older than a write acknowledged before the read began.
pub fn stale_reads(h: &History) -> Check {
    let mut c = Check::new("stale_reads", Flavour::Reported);
    // Acknowledged writes per key, in completion order (the history's order).
    let mut writes: BTreeMap<&str, Vec<&Op>> = BTreeMap::new();
    for w in h.ops.iter().filter(|w| w.kind == OpKind::Write && w.outcome.is_ok()) {
        writes.entry(w.key.as_str()).or_default().push(w);
    }
    let mut ages = Vec::new();
    for read in h.ops.iter().filter(|o| o.kind == OpKind::Read && o.outcome.is_ok()) {
        let Ok(got) = &read.outcome else { continue };
        // The last write acknowledged before the read began.
        let newest = writes.get(read.key.as_str()).and_then(|ws| {
            let n = ws.partition_point(|w| w.complete_ms < read.invoke_ms);
            n.checked_sub(1).map(|i| ws[i])
        });
        if let Some(w) = newest
            && got.as_deref() != w.written.as_deref()
        {
            ages.push((read.invoke_ms - w.complete_ms) as f64);
        }
    }
    c.metrics.push(("stale reads".into(), ages.len() as f64));
    if let Some(max) = ages.iter().cloned().reduce(f64::max) {
        c.metrics.push(("max staleness ms".into(), max));
    }
    c
}

/// `isolated_master_writes`: writes executed by a node as master after the Sentinels switched the master away
/// from it.
pub fn isolated_master_writes(h: &History) -> Check {
    let mut c = Check::new("isolated_master_writes", Flavour::Reported);
    let mut n = 0;
    let mut seen: Vec<&str> = Vec::new();
    for s in h.sentinel_events.iter().filter(|e| e.event == "+switch-master") {
        if seen.contains(&s.payload.as_str()) {
            continue;
        }
        seen.push(&s.payload);
        let Some(old_ip) = s.payload.split(' ').nth(1) else {
            continue;
        };
        let old = h.host_of(old_ip);
        let after = h.exec.iter().filter(|e| {
            e.node == old
                && e.is("SET")
                && e.reply == "OK"
                && e.role == redsim_fake_redis::Role::Master
                && e.time_ms > s.time_ms
        });
        n += after.count();
    }
    c.metrics.push(("writes on a deposed master".into(), n as f64));
    c
}
