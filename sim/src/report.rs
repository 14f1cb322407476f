//! Running scenarios and reporting on them: the campaign `redsim run` prints, and what a failing run hands the
//! user (seed, schedule, replay command, timeline).

use std::fmt::Write;
use std::time::Instant;

use crate::checkers::{self, Check, Coverage};
use crate::history::History;
use crate::runner;
use crate::scenario::Scenario;

/// The outcome of one scenario run.
#[derive(Debug)]
pub struct Outcome {
    /// The history.
    pub history: History,
    /// Every checker's verdict.
    pub checks: Vec<Check>,
    /// Wall-clock time of the run (measured outside the simulation, for the report only).
    pub wall_ms: u128,
    /// Coverage counters.
    pub coverage: Coverage,
}

impl Outcome {
    /// Whether every non-reported checker passed.
    pub fn passed(&self) -> bool {
        self.checks.iter().all(Check::passed)
    }

    /// The checker by name.
    pub fn check(&self, name: &str) -> Option<&Check> {
        self.checks.iter().find(|c| c.name == name)
    }
}

/// Runs one scenario and checks it.
pub fn run_checked(scenario: &Scenario, seed: u64) -> Result<Outcome, String> {
    // Wall time only measures the harness for the report; nothing inside the simulation sees it.
    let started = Instant::now();
    let history = runner::run(scenario, seed)?;
    let wall_ms = started.elapsed().as_millis();
    let checks = checkers::check_all(&history);
    let coverage = Coverage::of(&history);
    Ok(Outcome {
        history,
        checks,
        wall_ms,
        coverage,
    })
}

/// The command that replays a run exactly.
pub fn replay_command(scenario: &Scenario, seed: u64, file: Option<&str>) -> String {
    match file {
        Some(f) => format!("redsim replay {f} --seed {seed}"),
        None => {
            let mut cmd = format!("redsim replay {} --seed {seed}", scenario.name);
            if let Some(m) = scenario.mutant {
                let _ = write!(cmd, " --mutant {}", m.name());
            }
            cmd
        }
    }
}

/// What a failing run prints: the violations, the seed, the schedule and the replay command.
pub fn failure_text(o: &Outcome, replay: &str) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "VIOLATION in {} (seed {})", o.history.scenario.name, o.history.seed);
    for c in o.checks.iter().filter(|c| !c.passed()) {
        for v in c.violations.iter().take(5) {
            let _ = writeln!(s, "  {}: {v}", c.name);
        }
        if c.violations.len() > 5 {
            let _ = writeln!(s, "  {}: ... {} more", c.name, c.violations.len() - 5);
        }
    }
    let _ = writeln!(s, "schedule:");
    for line in o.history.scenario.to_string().lines() {
        let _ = writeln!(s, "  {line}");
    }
    let _ = writeln!(s, "replay: {replay}");
    s
}

/// One row of the campaign table.
pub fn row(o: &Outcome) -> String {
    let h = &o.history;
    let passed = o
        .checks
        .iter()
        .filter(|c| c.flavour != checkers::Flavour::Reported && c.passed())
        .count();
    let total = o
        .checks
        .iter()
        .filter(|c| c.flavour != checkers::Flavour::Reported)
        .count();
    let fb = o.check("failover_before_sdown");
    let m = |n: &str| {
        fb.and_then(|c| c.metric(n))
            .map(|v| format!("{v:.0}"))
            .unwrap_or_else(|| "-".into())
    };
    let lost = o
        .check("lost_writes")
        .and_then(|c| c.metric("lost acknowledged writes"))
        .unwrap_or(0.0);
    format!(
        "{:<32} {:>6} {:>7.1} {:>7} {:>5}/{:<2} {:>6} {:>6} {:>6} {:>6} {:>4} {:>4} {:>5} {:>6}",
        h.scenario.name,
        h.seed,
        h.end_ms as f64 / 1000.0,
        o.wall_ms,
        passed,
        total,
        m("re-route p50 ms"),
        m("re-route p99 ms"),
        m("re-route max ms"),
        m("sdown p50 ms"),
        o.coverage.failovers,
        o.coverage.sdowns,
        o.coverage.reroutes,
        lost
    )
}

/// The campaign table's header.
pub fn header() -> String {
    format!(
        "{:<32} {:>6} {:>7} {:>7} {:>8} {:>6} {:>6} {:>6} {:>6} {:>4} {:>4} {:>5} {:>6}\n{}",
        "scenario",
        "seed",
        "sim s",
        "wall ms",
        "checks",
        "rr p50",
        "rr p99",
        "rr max",
        "sdown",
        "fo",
        "sdn",
        "rrte",
        "lost",
        "-".repeat(124)
    )
}
