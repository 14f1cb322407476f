//! Checkers: named, documented units that judge a [`History`] from the nodes' own logs. `Always` checkers fail
//! on any violation; `Eventually` ones require something to happen within a bound; `Reported` ones measure
//! Redis's own weaknesses (lost writes, stale reads) without failing a run.

mod failover_before_sdown;
mod no_reply_mixup;
mod reads_never_on_master;
mod recovers_after_heal;
mod reported;
mod writes_follow_failover;
mod writes_only_on_master;

use std::fmt;

use crate::fault::Fault;
use crate::history::{EPOCH_MS, History};
use crate::scenario::ClientRole;

/// How a checker's verdict counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavour {
    /// Must hold at every instant.
    Always,
    /// Must happen within a bound.
    Eventually,
    /// Measured and reported; never fails a run.
    Reported,
}

/// One checker's verdict.
#[derive(Debug, Clone, PartialEq)]
pub struct Check {
    /// The checker's name.
    pub name: &'static str,
    /// How it counts.
    pub flavour: Flavour,
    /// What went wrong (empty: nothing).
    pub violations: Vec<Violation>,
    /// Measurements (`re-route latency`, counts).
    pub metrics: Vec<(String, f64)>,
}

/// One violation, at a simulated time, with the nodes it involves (for the timeline).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// Simulated ms.
    pub at_ms: u64,
    /// What happened.
    pub what: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "at {} ms: {}", self.at_ms, self.what)
    }
}

impl Check {
    fn new(name: &'static str, flavour: Flavour) -> Check {
        Check {
            name,
            flavour,
            violations: vec![],
            metrics: vec![],
        }
    }

    /// Whether the run passes this checker.
    pub fn passed(&self) -> bool {
        self.flavour == Flavour::Reported || self.violations.is_empty()
    }

    /// A metric by name.
    pub fn metric(&self, name: &str) -> Option<f64> {
        self.metrics.iter().find(|(n, _)| n == name).map(|(_, v)| *v)
    }
}

/// Runs every checker.
pub fn check_all(h: &History) -> Vec<Check> {
    vec![
        reads_never_on_master::check(h),
        writes_only_on_master::check(h),
        no_reply_mixup::check(h),
        failover_before_sdown::check(h),
        writes_follow_failover::check(h),
        recovers_after_heal::check(h),
        reported::lost_writes(h),
        reported::stale_reads(h),
        reported::isolated_master_writes(h),
    ]
}

/// How often the interesting things happened in a run (so a schedule space that never exercises them shows).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Coverage {
    /// `+switch-master` (counted once per failover, not per Sentinel).
    pub failovers: u64,
    /// `+sdown` events.
    pub sdowns: u64,
    /// `+odown` events.
    pub odowns: u64,
    /// Client retries on another node.
    pub reroutes: u64,
    /// Full resynchronisations served.
    pub full_resyncs: u64,
}

impl Coverage {
    /// Counts a history.
    pub fn of(h: &History) -> Coverage {
        let mut switches: Vec<&str> = h
            .sentinel_events
            .iter()
            .filter(|e| e.event == "+switch-master")
            .map(|e| e.payload.as_str())
            .collect();
        switches.sort_unstable();
        switches.dedup();
        Coverage {
            failovers: switches.len() as u64,
            sdowns: h.sentinel_events.iter().filter(|e| e.event == "+sdown").count() as u64,
            odowns: h.sentinel_events.iter().filter(|e| e.event == "+odown").count() as u64,
            reroutes: h
                .client_events
                .iter()
                .filter(|(_, _, e)| matches!(e, redsim_client::EventKind::Retry { .. }))
                .count() as u64,
            full_resyncs: h
                .exec
                .iter()
                .filter(|e| e.is("PSYNC") && e.reply.starts_with("+FULLRESYNC"))
                .count() as u64,
        }
    }

    /// Adds another run's counts.
    pub fn add(&mut self, o: &Coverage) {
        self.failovers += o.failovers;
        self.sdowns += o.sdowns;
        self.odowns += o.odowns;
        self.reroutes += o.reroutes;
        self.full_resyncs += o.full_resyncs;
    }
}

/// Simulated ms of an absolute log time (the logs stamp Unix ms from the simulation's fixed epoch).
pub fn sim_ms(abs: u64) -> u64 {
    abs.saturating_sub(EPOCH_MS)
}

/// Whether hosts `a` and `b` could not talk at some moment of `[from, until]`: either was crashed, killed,
/// paused or isolated, a partition (either way) or a hold separated them, or their link had a latency spike. Checkers
/// with a time bound skip what such a fault explains.
pub(crate) fn disrupted(h: &History, a: &str, b: &str, from: u64, until: u64) -> bool {
    let normal_ms = h.scenario.network.max_latency_ms;
    let link = |x: &str, y: &str| (x == a && y == b) || (x == b && y == a);
    let starts = |f: &Fault| match f {
        Fault::Partition(x, y) | Fault::PartitionOneway(x, y) | Fault::Hold(x, y) => {
            let has = |g: &[String], n: &str| g.iter().any(|m| m == n);
            (has(x, a) && has(y, b)) || (has(x, b) && has(y, a))
        }
        Fault::Isolate(n) | Fault::Crash(n) | Fault::Kill(n) | Fault::Pause(n) => n == a || n == b,
        Fault::Latency(x, y, ms) => *ms > normal_ms && link(x, y),
        _ => false,
    };
    h.faults.iter().enumerate().any(|(i, (start, f))| {
        if !starts(f) || *start > until {
            return false;
        }
        let end = h.faults[i + 1..]
            .iter()
            .find(|(_, g)| f.is_repaired_by(g))
            .map(|(t, _)| *t)
            .unwrap_or(u64::MAX);
        end >= from
    })
}

/// Names of reader clients whose policy never allows the master.
pub(crate) fn replica_only_readers(h: &History) -> Vec<String> {
    h.scenario
        .clients
        .iter()
        .filter(|c| c.role == ClientRole::Reader && c.policy == "replica-only")
        .map(|c| c.name.clone())
        .collect()
}
