//! Failover parity: the Sentinel events of the same fault on a real cluster and in the simulation.
//!
//! Each side gives the events every Sentinel published, timed from the fault. [`compare`] lines them up two
//! ways: the failover leader's own sequence (the Sentinel that published `+elected-leader`: one process, so its
//! order is strict), and the first time any Sentinel published each kind of event. Events are told apart by
//! name and, where the payload starts with one, the instance type (`+sdown master` is not `+sdown slave`).

use std::collections::BTreeMap;
use std::fmt;

/// Events real Redis publishes in some runs of the same failover and not in others, so their absence on one
/// side is no disagreement. `-odown master` at the end of a failover: the leader clears ODOWN only if the other
/// Sentinels, already switched to the new master by Hello, answer its last `IS-MASTER-DOWN-BY-ADDR` before the
/// failover ends (seen both ways on Redis 7.0.15 here).
pub const OPTIONAL_EVENTS: [&str; 1] = ["-odown master"];

/// One published event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// Milliseconds from the fault (negative: before it).
    pub at_ms: i64,
    /// Which Sentinel published it.
    pub sentinel: String,
    /// [`event_key`] of it.
    pub key: String,
}

/// `+sdown master`, `+odown master`, `+try-failover master`, `+new-epoch`, ...
pub fn event_key(event: &str, payload: &str) -> String {
    match payload.split(' ').next() {
        Some(kind @ ("master" | "slave" | "sentinel")) => format!("{event} {kind}"),
        _ => event.to_string(),
    }
}

/// One kind of event on both sides.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    /// The event key.
    pub key: String,
    /// When a real Sentinel first published it.
    pub real_ms: Option<i64>,
    /// When a simulated Sentinel first published it.
    pub sim_ms: Option<i64>,
}

/// The comparison.
#[derive(Debug, Clone, Default)]
pub struct Parity {
    /// The real leader's events, in order, with times.
    pub real_leader: Vec<(String, i64)>,
    /// The simulated leader's.
    pub sim_leader: Vec<(String, i64)>,
    /// First publication of every kind of event, in the real order (then those only the simulation has).
    pub rows: Vec<Row>,
}

impl Parity {
    /// Whether both leaders published the same events in the same order.
    pub fn leader_order_matches(&self) -> bool {
        names(&self.real_leader) == names(&self.sim_leader)
    }

    /// Rows whose kind of event is missing on one side, or whose first times differ by more than `tolerance_ms`.
    pub fn disagreements(&self, tolerance_ms: i64) -> Vec<&Row> {
        self.rows
            .iter()
            .filter(|r| match (r.real_ms, r.sim_ms) {
                (Some(a), Some(b)) => (a - b).abs() > tolerance_ms,
                _ => !OPTIONAL_EVENTS.contains(&r.key.as_str()),
            })
            .collect()
    }

    /// Steps of the leaders' sequences whose times differ by more than `tolerance_ms` (same order assumed).
    pub fn leader_timing_disagreements(&self, tolerance_ms: i64) -> Vec<(String, i64, i64)> {
        let required = |v: &[(String, i64)]| -> Vec<(String, i64)> {
            v.iter()
                .filter(|(k, _)| !OPTIONAL_EVENTS.contains(&k.as_str()))
                .cloned()
                .collect()
        };
        required(&self.real_leader)
            .into_iter()
            .zip(required(&self.sim_leader))
            .filter(|((_, a), (_, b))| (a - b).abs() > tolerance_ms)
            .map(|((k, a), (_, b))| (k, a, b))
            .collect()
    }
}

/// A leader's sequence without the optional events.
fn names(v: &[(String, i64)]) -> Vec<String> {
    v.iter()
        .map(|(k, _)| k.clone())
        .filter(|k| !OPTIONAL_EVENTS.contains(&k.as_str()))
        .collect()
}

fn leader_sequence(events: &[Event]) -> Vec<(String, i64)> {
    let Some(leader) = events.iter().find(|e| e.key.starts_with("+elected-leader")) else {
        return Vec::new();
    };
    let mut seq: Vec<(String, i64)> = Vec::new();
    for e in events.iter().filter(|e| e.sentinel == leader.sentinel) {
        // Several replicas reconfigured one after another read as one step.
        if seq.last().is_none_or(|(k, _)| *k != e.key) {
            seq.push((e.key.clone(), e.at_ms));
        }
    }
    seq
}

fn first_times(events: &[Event]) -> (Vec<String>, BTreeMap<String, i64>) {
    let mut order = Vec::new();
    let mut first = BTreeMap::new();
    for e in events {
        if !first.contains_key(&e.key) {
            order.push(e.key.clone());
            first.insert(e.key.clone(), e.at_ms);
        }
    }
    (order, first)
}

/// Lines up the real and the simulated events (each sorted by time).
pub fn compare(real: &[Event], sim: &[Event]) -> Parity {
    let (real_order, real_first) = first_times(real);
    let (sim_order, sim_first) = first_times(sim);
    let mut rows: Vec<Row> = real_order
        .iter()
        .map(|k| Row {
            key: k.clone(),
            real_ms: real_first.get(k).copied(),
            sim_ms: sim_first.get(k).copied(),
        })
        .collect();
    rows.extend(sim_order.iter().filter(|k| !real_first.contains_key(*k)).map(|k| Row {
        key: k.clone(),
        real_ms: None,
        sim_ms: sim_first.get(k).copied(),
    }));
    Parity {
        real_leader: leader_sequence(real),
        sim_leader: leader_sequence(sim),
        rows,
    }
}

impl fmt::Display for Parity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = |v: Option<i64>| v.map_or_else(|| "-".to_string(), |v| v.to_string());
        writeln!(
            f,
            "| event (first by any Sentinel) | real ms | simulated ms | difference ms |"
        )?;
        writeln!(f, "|---|---|---|---|")?;
        for r in &self.rows {
            let diff = match (r.real_ms, r.sim_ms) {
                (Some(a), Some(b)) => (b - a).to_string(),
                _ => "missing".into(),
            };
            let optional = if OPTIONAL_EVENTS.contains(&r.key.as_str()) {
                " (optional)"
            } else {
                ""
            };
            writeln!(
                f,
                "| `{}`{optional} | {} | {} | {diff} |",
                r.key,
                ms(r.real_ms),
                ms(r.sim_ms)
            )?;
        }
        let seq = |v: &[(String, i64)]| v.iter().map(|(k, t)| format!("{k}@{t}")).collect::<Vec<_>>().join(", ");
        writeln!(f, "real leader:      {}", seq(&self.real_leader))?;
        writeln!(f, "simulated leader: {}", seq(&self.sim_leader))?;
        writeln!(
            f,
            "leader order {}",
            if self.leader_order_matches() {
                "matches"
            } else {
                "DIFFERS"
            }
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(at_ms: i64, sentinel: &str, key: &str) -> Event {
        Event {
            at_ms,
            sentinel: sentinel.into(),
            key: key.into(),
        }
    }

    #[test]
    fn keys_keep_the_instance_type_only() {
        assert_eq!(event_key("+sdown", "master mymaster 127.0.0.1 6379"), "+sdown master");
        assert_eq!(event_key("+new-epoch", "1"), "+new-epoch");
        assert_eq!(event_key("+vote-for-leader", "abc 1"), "+vote-for-leader");
    }

    #[test]
    fn a_reordered_leader_or_a_late_event_is_reported() {
        let real = [
            ev(2100, "s1", "+sdown master"),
            ev(2200, "s1", "+odown master"),
            ev(2300, "s1", "+elected-leader master"),
            ev(3000, "s1", "+switch-master"),
        ];
        let same = compare(&real, &real);
        assert!(same.leader_order_matches() && same.disagreements(1000).is_empty());
        let sim = [
            ev(2100, "s2", "+sdown master"),
            ev(2300, "s2", "+elected-leader master"),
            ev(2400, "s2", "+odown master"),
            ev(4500, "s2", "+switch-master"),
        ];
        let p = compare(&real, &sim);
        assert!(!p.leader_order_matches());
        assert_eq!(p.disagreements(1000).len(), 1, "{p}");
        assert!(p.to_string().contains("| `+switch-master` | 3000 | 4500 | 1500 |"));
    }

    #[test]
    fn an_optional_event_on_one_side_only_is_no_disagreement() {
        let real = [
            ev(2300, "s1", "+elected-leader master"),
            ev(4000, "s1", "+failover-end master"),
        ];
        let sim = [
            ev(2300, "s2", "+elected-leader master"),
            ev(4000, "s2", "-odown master"),
            ev(4000, "s2", "+failover-end master"),
        ];
        let p = compare(&real, &sim);
        assert!(p.leader_order_matches() && p.disagreements(1000).is_empty(), "{p}");
    }
}
