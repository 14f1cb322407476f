//! `failover_before_sdown` (eventually, bounded by Sentinel): when the replica a reader uses fails while another
//! replica is healthy, the reader's next successful read comes before the first `+sdown` any Sentinel publishes
//! for the failed replica. Reports the re-route latency next to Sentinel's SDOWN latency.

use super::{Check, Flavour, Violation, disrupted, sim_ms};
use crate::fault::Fault;
use crate::history::{History, OpKind};
use crate::scenario::ClientRole;

/// Faults that make a node stop serving.
fn disabled_node(f: &Fault) -> Option<&str> {
    match f {
        Fault::Crash(n) | Fault::Kill(n) | Fault::Pause(n) | Fault::Isolate(n) => Some(n),
        _ => None,
    }
}

/// Whether some Sentinel flags the replica at `ip` subjectively down at any moment of `[from, to]`: it is down
/// at `from` (its last `+sdown` before then was not followed by `-sdown`) or goes down within the window.
fn sentinel_holds_down(h: &History, ip: &str, from: u64, to: u64) -> bool {
    let prefix = format!("slave {ip}:");
    let mut down_by: std::collections::BTreeMap<&str, bool> = std::collections::BTreeMap::new();
    for e in &h.sentinel_events {
        let at = sim_ms(e.time_ms);
        if at > to || !e.payload.starts_with(&prefix) {
            continue;
        }
        match e.event.as_str() {
            "+sdown" if at >= from => return true,
            "+sdown" => {
                down_by.insert(&e.sentinel, true);
            }
            "-sdown" if at < from => {
                down_by.insert(&e.sentinel, false);
            }
            _ => {}
        }
    }
    down_by.values().any(|d| *d)
}

/// Runs the checker.
pub fn check(h: &History) -> Check {
    let mut c = Check::new("failover_before_sdown", Flavour::Eventually);
    let readers: Vec<&str> = h
        .scenario
        .clients
        .iter()
        .filter(|c| c.role == ClientRole::Reader && c.policy.starts_with("replica"))
        .map(|c| c.name.as_str())
        .collect();
    // Each reader's reads, once: a run under load has millions of operations and this runs for every fault.
    let reads_of: Vec<Vec<&crate::history::Op>> = readers
        .iter()
        .map(|reader| {
            h.ops
                .iter()
                .filter(|o| o.client == *reader && o.kind == OpKind::Read)
                .collect()
        })
        .collect();
    let mut reroutes = Vec::new();
    let mut sdowns = Vec::new();
    for (t, fault) in h.faults.iter() {
        let Some(node) = disabled_node(fault) else { continue };
        let Some(ip) = h.hosts.get(node) else { continue };
        // Only replicas at that time, and only while another replica stays up.
        let was_replica = h
            .exec
            .iter()
            .rev()
            .find(|e| e.node == node && sim_ms(e.time_ms) <= *t)
            .is_some_and(|e| e.role == redsim_fake_redis::Role::Replica);
        let until = t + h.scenario.topology.down_after_ms + 1000;
        if !was_replica {
            continue;
        }
        // Sentinel's SDOWN clock may already run from an earlier fault that cut a Sentinel off from this node (a
        // kill whose link it has not redialled yet, a hold or partition between them): then its +sdown says
        // nothing about how fast it noticed this one.
        let window = h.scenario.topology.down_after_ms + 1000;
        let earlier = h
            .scenario
            .sentinel_hosts()
            .iter()
            .any(|s| disrupted(h, s, node, t.saturating_sub(window), t.saturating_sub(1)));
        if earlier {
            continue;
        }
        let sdown = h
            .sentinel_events
            .iter()
            .filter(|e| {
                e.event == "+sdown" && e.payload.starts_with(&format!("slave {ip}:")) && sim_ms(e.time_ms) >= *t
            })
            .map(|e| sim_ms(e.time_ms))
            .min();
        if let Some(s) = sdown {
            sdowns.push((s - t) as f64);
        }
        // The other replicas that stay replicas and in Sentinel's list until Sentinel would have noticed (the
        // same for every reader, so judged once).
        let alternatives: Vec<String> = h
            .scenario
            .redis_hosts()
            .into_iter()
            .filter(|r| r.as_str() != node)
            .filter(|r| {
                let replica_then = h
                    .exec
                    .iter()
                    .rev()
                    .find(|e| e.node == **r && sim_ms(e.time_ms) <= *t)
                    .is_some_and(|e| e.role == redsim_fake_redis::Role::Replica);
                // A replica Sentinel promotes meanwhile is no alternative for a replica-only reader either.
                let promoted = || {
                    h.exec.iter().any(|e| {
                        e.node == **r
                            && (*t..=until).contains(&sim_ms(e.time_ms))
                            && e.role == redsim_fake_redis::Role::Master
                    })
                };
                // Nor is one a Sentinel holds down meanwhile: a client follows Sentinel's list of replicas, which
                // leaves out those flagged s_down, even when the client itself could still reach them.
                let sentinel_down = || {
                    h.hosts
                        .get(r.as_str())
                        .is_some_and(|ip| sentinel_holds_down(h, ip, *t, until))
                };
                replica_then && !promoted() && !sentinel_down()
            })
            .collect();
        for (reader, reads) in readers.iter().zip(&reads_of) {
            // Judged only while another replica stays reachable from this reader until Sentinel would have
            // noticed: a replica the reader cannot reach (crashed, partitioned from it, behind a latency spike)
            // is no alternative.
            if !alternatives.iter().any(|r| !disrupted(h, reader, r, *t, until)) {
                continue;
            }
            let last_before = reads.iter().rev().find(|o| o.complete_ms <= *t && o.outcome.is_ok());
            if last_before.and_then(|o| o.served_by.as_deref()) != Some(node) {
                continue;
            }
            // A read in flight when the replica failed counts too: the client may have moved it elsewhere.
            let next = reads
                .iter()
                .find(|o| o.complete_ms > *t && o.outcome.is_ok())
                .map(|o| o.complete_ms);
            match (next, sdown) {
                (Some(n), Some(s)) if n < s => reroutes.push((n - t) as f64),
                (Some(n), _) if sdown.is_none() => reroutes.push((n - t) as f64),
                (next, _) => c.violations.push(Violation {
                    at_ms: *t,
                    what: format!(
                        "{reader} read from {node}, which failed at {t} ms; its next successful read came at {} but \
                         Sentinel published +sdown at {}",
                        next.map(|n| format!("{n} ms")).unwrap_or_else(|| "never".into()),
                        sdown.map(|s| format!("{s} ms")).unwrap_or_else(|| "never".into())
                    ),
                }),
            }
        }
    }
    let stat = |v: &mut Vec<f64>, name: &str, c: &mut Check| {
        if v.is_empty() {
            return;
        }
        v.sort_by(f64::total_cmp);
        let p = |q: f64| v[((v.len() - 1) as f64 * q).round() as usize];
        c.metrics.push((format!("{name} p50 ms"), p(0.5)));
        c.metrics.push((format!("{name} p99 ms"), p(0.99)));
        c.metrics.push((format!("{name} max ms"), v[v.len() - 1]));
    };
    stat(&mut reroutes, "re-route", &mut c);
    stat(&mut sdowns, "sdown", &mut c);
    c
}
