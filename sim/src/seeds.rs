//! The seed loop for tests: run a simulation for several seeds, judge each with every checker, and when one
//! fails, say exactly how to get that run back.
//!
//! ```no_run
//! # fn run_my_service(seed: u64) -> Result<redsim::History, String> { unimplemented!() }
//! #[test]
//! fn my_service_reads_only_replicas() {
//!     // Seeds 1..=REDSIM_SEEDS (default 3); REDSIM_SEED=<n> runs that one seed alone.
//!     redsim::check_seeds("my_service_reads_only_replicas", |seed| run_my_service(seed));
//! }
//! ```
//!
//! A failure panics with the seed, the faults applied, the checkers' violations, the line that re-runs exactly
//! that case (`REDSIM_SEED=<seed> cargo test <name>`) and the path of a timeline picture of the run (written
//! to `REDSIM_OUT`, default the system's temporary directory). The closure may return `Err` for a failure of
//! its own (a service error it asserts on): it is reported with the seed the same way.

use std::path::PathBuf;

use crate::checkers::{self, Check};
use crate::history::History;

/// How many seeds [`check_seeds`] runs when `REDSIM_SEEDS` is not set.
pub const DEFAULT_SEEDS: u64 = 3;

/// The seeds to run, from the environment: `REDSIM_SEED=<n>` gives that seed alone, `REDSIM_SEEDS=<n>` gives
/// 1..=n, and neither gives 1..=[`DEFAULT_SEEDS`]. A value that is not a number is an error that names it.
pub fn seeds_from_env() -> Result<Vec<u64>, String> {
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
    let number = |name: &str, v: String| {
        v.trim()
            .parse::<u64>()
            .map_err(|_| format!("{name}={v:?} is not a number"))
    };
    if let Some(v) = var("REDSIM_SEED") {
        return Ok(vec![number("REDSIM_SEED", v)?]);
    }
    let n = match var("REDSIM_SEEDS") {
        Some(v) => number("REDSIM_SEEDS", v)?,
        None => DEFAULT_SEEDS,
    };
    if n == 0 {
        return Err("REDSIM_SEEDS=0 runs nothing: give at least 1".into());
    }
    Ok((1..=n).collect())
}

/// What a failing seed produced.
#[derive(Debug, Clone, PartialEq)]
pub struct SeedFailure {
    /// The seed.
    pub seed: u64,
    /// The whole report, as [`check_seeds`] panics with it.
    pub report: String,
}

/// Runs `run` for every seed of [`seeds_from_env`], judges each history with [`checkers::check_all`], and
/// panics at the first seed that fails (see the module docs for what the message holds). `name` is the test's
/// name, for the line that re-runs it.
pub fn check_seeds(name: &str, run: impl FnMut(u64) -> Result<History, String>) {
    let seeds = seeds_from_env().unwrap_or_else(|e| panic!("redsim: {e}"));
    if let Err(f) = check_these_seeds(name, &seeds, run) {
        panic!("{}", f.report);
    }
}

/// [`check_seeds`] over the given seeds, returning the first failure instead of panicking.
pub fn check_these_seeds(
    name: &str,
    seeds: &[u64],
    mut run: impl FnMut(u64) -> Result<History, String>,
) -> Result<(), SeedFailure> {
    for &seed in seeds {
        let failure = match run(seed) {
            Err(e) => Some(report(name, seed, None, &[], &e)),
            Ok(h) => {
                let checks = checkers::check_all(&h);
                if checks.iter().all(Check::passed) {
                    None
                } else {
                    Some(report(name, seed, Some(&h), &checks, ""))
                }
            }
        };
        if let Some(report) = failure {
            return Err(SeedFailure { seed, report });
        }
    }
    Ok(())
}

fn report(name: &str, seed: u64, h: Option<&History>, checks: &[Check], error: &str) -> String {
    let mut out = format!("redsim: {name} failed at seed {seed}\n");
    if !error.is_empty() {
        out.push_str(&format!("  error: {error}\n"));
    }
    for c in checks.iter().filter(|c| !c.passed()) {
        for v in c.violations.iter().take(5) {
            out.push_str(&format!("  {}: {v}\n", c.name));
        }
        if c.violations.len() > 5 {
            out.push_str(&format!("  {}: ... {} violations in all\n", c.name, c.violations.len()));
        }
    }
    if let Some(h) = h {
        // The faults as applied (timed, injected or requested from a host), in schedule times: after the warm-up.
        if h.faults.is_empty() {
            out.push_str("  faults: none\n");
        } else {
            out.push_str("  faults:\n");
            for (t, f) in &h.faults {
                let at = t.saturating_sub(crate::deployment::WARMUP_MS);
                out.push_str(&format!("    at {at} {f}\n"));
            }
        }
        match write_timeline(name, seed, h, checks) {
            Ok(path) => out.push_str(&format!("  timeline: {}\n", path.display())),
            Err(e) => out.push_str(&format!("  timeline: not written ({e})\n")),
        }
    }
    out.push_str(&format!("  reproduce: REDSIM_SEED={seed} cargo test {name}\n"));
    out
}

fn write_timeline(name: &str, seed: u64, h: &History, checks: &[Check]) -> std::io::Result<PathBuf> {
    let dir = std::env::var_os("REDSIM_OUT")
        .map(PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
    let safe: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let path = dir.join(format!("redsim-{safe}-{seed}.svg"));
    std::fs::write(&path, crate::timeline::svg(h, checks))?;
    Ok(path)
}
