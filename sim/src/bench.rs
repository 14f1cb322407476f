//! `redsim bench`: fixed workloads, timed over several runs, printed as a table of medians with min and max.
//!
//! Timings are wall-clock readings of whole simulations, so they live here and never in a test: these machines
//! are shared and noisy. Each simulation itself stays deterministic; only how long it takes varies.
//!
//! - `default`: the default topology (1 master, 2 replicas, 3 Sentinels), a writer and two readers at about
//!   100 operations a second each, a replica crash and a master failover, 60 simulated seconds after the
//!   harness's 12 s warm-up: wall time, and simulated time over wall time.
//! - `fuzz`: random default-topology schedules of 30 simulated seconds (plus warm-up), one after another on
//!   one thread: schedules per second per core.
//! - Both timed workloads run at the default 1 ms tick and at 10 ms, the coarsest a scenario may ask for
//!   (`tests/ticks.rs` shows every checker's verdict is the same at both).
//! - `memory`: peak resident memory of one simulation, and of a fuzz campaign on 2 threads, each measured in a
//!   fresh process of this same binary (Linux's `VmHWM`).

use std::fmt::Write as _;
use std::time::Instant;

use crate::report;
use crate::runner::WARMUP_MS;
use crate::scenario::Scenario;
use crate::scenarios;

/// The `default` workload.
pub fn default_workload() -> Scenario {
    let text = "scenario bench-default\nduration_ms 60000\nstable_ms 15000\n\
                topology replicas=2 sentinels=3 quorum=2 down_after_ms=5000 failover_timeout_ms=60000 parallel_syncs=1\n\
                network latency_ms=1..1\n\
                client writer-1 writer policy=replica-only selection=sticky interval_ms=10 timeout_ms=500\n\
                client reader-1 reader policy=replica-only selection=sticky interval_ms=10 timeout_ms=500\n\
                client reader-2 reader policy=replica-only selection=sticky interval_ms=10 timeout_ms=500\n\
                at 5000 crash(redis-3)\nat 15000 restart(redis-3)\n\
                at 25000 crash(redis-1)\nat 40000 restart(redis-1)\n";
    text.parse().expect("the bench scenario is valid")
}

/// Median, min and max of some samples.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Spread {
    /// The median.
    pub median: f64,
    /// The smallest.
    pub min: f64,
    /// The largest.
    pub max: f64,
}

impl Spread {
    /// Of a non-empty list.
    pub fn of(mut v: Vec<f64>) -> Spread {
        v.sort_by(f64::total_cmp);
        let n = v.len();
        let median = if n % 2 == 1 {
            v[n / 2]
        } else {
            (v[n / 2 - 1] + v[n / 2]) / 2.0
        };
        Spread {
            median,
            min: v[0],
            max: v[n - 1],
        }
    }
}

/// One row of the report.
#[derive(Debug, Clone)]
pub struct Row {
    /// What was measured.
    pub what: String,
    /// How many runs.
    pub runs: usize,
    /// Wall seconds per run.
    pub wall_s: Spread,
    /// The figure the target is about, and its unit.
    pub figure: Spread,
    /// The figure's unit.
    pub unit: String,
}

/// Peak resident memory of this process so far, in KiB (`VmHWM`), where the platform tells it.
pub fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Runs the `default` workload `runs` times, with turmoil stepping `tick_ms` at a time.
pub fn bench_default(runs: usize, tick_ms: u64) -> Result<Row, String> {
    let mut scenario = default_workload();
    scenario.network.tick_ms = tick_ms;
    let simulated_s = (WARMUP_MS + scenario.duration_ms) as f64 / 1000.0;
    let mut walls = Vec::new();
    for i in 0..runs.max(1) {
        let start = Instant::now();
        let outcome = report::run_checked(&scenario, 1 + i as u64)?;
        walls.push(start.elapsed().as_secs_f64());
        if !outcome.passed() {
            return Err(format!("the bench scenario failed its checks with seed {}", 1 + i));
        }
    }
    let ratios: Vec<f64> = walls.iter().map(|w| simulated_s / w).collect();
    Ok(Row {
        what: format!("(a) default scenario, {simulated_s:.0} s simulated, {tick_ms} ms tick"),
        runs: walls.len(),
        wall_s: Spread::of(walls),
        figure: Spread::of(ratios),
        unit: "x real time".into(),
    })
}

/// Runs `schedules` random default-topology schedules one after another, `runs` times.
pub fn bench_fuzz(runs: usize, schedules: u64, tick_ms: u64) -> Result<Row, String> {
    let mut walls = Vec::new();
    for r in 0..runs.max(1) {
        let start = Instant::now();
        for i in 0..schedules.max(1) {
            let seed = 1 + r as u64 * schedules + i;
            let mut s = scenarios::random(seed);
            s.network.tick_ms = tick_ms;
            report::run_checked(&s, seed)?;
        }
        walls.push(start.elapsed().as_secs_f64());
    }
    let rates: Vec<f64> = walls.iter().map(|w| schedules.max(1) as f64 / w).collect();
    Ok(Row {
        what: format!(
            "(b) {} random 30 s schedules on one core, {tick_ms} ms tick",
            schedules.max(1)
        ),
        runs: walls.len(),
        wall_s: Spread::of(walls),
        figure: Spread::of(rates),
        unit: "schedules/s/core".into(),
    })
}

/// Renders rows as a Markdown table.
pub fn table(rows: &[Row]) -> String {
    let mut out =
        String::from("| workload | runs | wall s: median (min-max) | figure: median (min-max) |\n|---|---|---|---|\n");
    for r in rows {
        let _ = writeln!(
            out,
            "| {} | {} | {:.2} ({:.2}-{:.2}) | {:.1} ({:.1}-{:.1}) {} |",
            r.what,
            r.runs,
            r.wall_s.median,
            r.wall_s.min,
            r.wall_s.max,
            r.figure.median,
            r.figure.min,
            r.figure.max,
            r.unit
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spreads_are_medians_with_their_extremes() {
        assert_eq!(
            Spread::of(vec![3.0, 1.0, 2.0]),
            Spread {
                median: 2.0,
                min: 1.0,
                max: 3.0
            }
        );
        assert_eq!(Spread::of(vec![4.0, 1.0, 2.0, 3.0]).median, 2.5);
    }

    #[test]
    fn the_bench_workload_is_the_issue_s_default_scenario() {
        let s = default_workload();
        assert_eq!((s.topology.replicas, s.topology.sentinels, s.clients.len()), (2, 3, 3));
        assert_eq!(s.duration_ms, 60_000);
        assert_eq!(s.schedule.len(), 4, "a replica crash and a master crash, each repaired");
    }
}
