//! `redsim fuzz`: random generated cases from a seed range, on all cores (one simulation per thread, each
//! single-threaded and deterministic), split over machines with `--shard i/n`; a violation is shrunk to a small
//! schedule and handed over as a scenario file, a replay command and a timeline picture.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::generate::{self, Case};
use redsim::checkers::Coverage;
use redsim::report::{self, Outcome};
use redsim::scenario::{Mutant, Scenario};

/// What a campaign does.
#[derive(Debug, Clone)]
pub struct FuzzConfig {
    /// The campaign's seed: case `i` is always the same value.
    pub seed: u64,
    /// How many cases (before sharding).
    pub cases: u64,
    /// Stop starting new cases after this much wall time.
    pub time_budget: Option<Duration>,
    /// This machine's shard `(i, n)`: it runs the cases whose index is `i` modulo `n`.
    pub shard: (u64, u64),
    /// Worker threads.
    pub threads: usize,
    /// Most faults per generated schedule.
    pub max_faults: usize,
    /// A mutant, to check that the campaign catches it.
    pub mutant: Option<Mutant>,
    /// turmoil's step for every case (`None`: the scenario's default, 1 ms).
    pub tick_ms: Option<u64>,
    /// Most simulations spent shrinking one violation.
    pub shrink_steps: usize,
    /// How many failing cases are shrunk (the first ones by index; the others are listed with their seed).
    pub max_shrunk: usize,
    /// Print progress to stderr.
    pub progress: bool,
    /// Stop handing out cases past the first failing one (to show that a mutant is caught, quickly). Every case
    /// before it still runs, so the case shrunk is the same whatever the threads' timing; the counts are not.
    pub stop_at_first: bool,
}

impl Default for FuzzConfig {
    fn default() -> Self {
        FuzzConfig {
            seed: 1,
            cases: 100,
            time_budget: None,
            shard: (0, 1),
            threads: std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
            max_faults: 4,
            mutant: None,
            tick_ms: None,
            shrink_steps: 80,
            max_shrunk: 3,
            progress: false,
            stop_at_first: false,
        }
    }
}

/// A violation found by a campaign, after shrinking.
#[derive(Debug)]
pub struct Found {
    /// The case index in the campaign.
    pub index: u64,
    /// The original case.
    pub original: Case,
    /// The shrunk case.
    pub shrunk: Case,
    /// The shrunk scenario's checked run.
    pub outcome: Outcome,
    /// Simulations spent shrinking.
    pub shrink_steps: usize,
}

/// What a campaign did.
#[derive(Debug, Default)]
pub struct Summary {
    /// Cases run.
    pub cases: u64,
    /// Simulated time, ms.
    pub simulated_ms: u64,
    /// Wall time, ms (measured outside the simulations, for the report only).
    pub wall_ms: u128,
    /// Coverage counters, summed.
    pub coverage: Coverage,
    /// The first failing cases (up to `max_shrunk`), shrunk, by index.
    pub found: Vec<Found>,
    /// Every failing case, by index.
    pub failing: Vec<Failing>,
}

/// A failing case as the campaign saw it, before any shrinking.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failing {
    /// Its index in the campaign.
    pub index: u64,
    /// Its run seed.
    pub seed: u64,
    /// The first violation: `checker: what`.
    pub first: String,
}

/// The scenario a case runs as, with the campaign's mutant (if any) switched on and its tick (if set).
pub fn scenario_of(case: &Case, cfg: &FuzzConfig) -> Scenario {
    let mut s = Scenario {
        mutant: cfg.mutant,
        ..case.scenario()
    };
    if let Some(t) = cfg.tick_ms {
        s.network.tick_ms = t;
    }
    s
}

/// Runs a campaign.
pub fn fuzz(cfg: &FuzzConfig) -> Result<Summary, String> {
    let (shard, shards) = cfg.shard;
    if shards == 0 || shard >= shards {
        return Err(format!(
            "shard {shard}/{shards} is not a valid shard (i must be below n)"
        ));
    }
    let started = Instant::now();
    let next = AtomicU64::new(0);
    let first_failing = AtomicU64::new(u64::MAX);
    let summary = Mutex::new(Summary::default());
    let error: Mutex<Option<String>> = Mutex::new(None);
    std::thread::scope(|scope| {
        for _ in 0..cfg.threads.max(1) {
            scope.spawn(|| {
                loop {
                    let k = next.fetch_add(1, Ordering::Relaxed);
                    let index = shard + k * shards;
                    if index >= cfg.cases
                        || cfg.time_budget.is_some_and(|b| started.elapsed() >= b)
                        || (cfg.stop_at_first && index > first_failing.load(Ordering::Relaxed))
                    {
                        return;
                    }
                    let case = match generate::case_tree(cfg.seed, index, cfg.max_faults) {
                        Ok(t) => t.current(),
                        Err(e) => {
                            *error.lock().unwrap_or_else(|p| p.into_inner()) = Some(e);
                            return;
                        }
                    };
                    let outcome = match report::run_checked(&scenario_of(&case, cfg), case.seed) {
                        Ok(o) => o,
                        Err(e) => {
                            *error.lock().unwrap_or_else(|p| p.into_inner()) = Some(format!("case {index}: {e}"));
                            return;
                        }
                    };
                    let mut s = summary.lock().unwrap_or_else(|p| p.into_inner());
                    s.cases += 1;
                    s.simulated_ms += outcome.history.end_ms;
                    s.coverage.add(&outcome.coverage);
                    if !outcome.passed() {
                        first_failing.fetch_min(index, Ordering::Relaxed);
                        let first = outcome
                            .checks
                            .iter()
                            .filter(|c| !c.passed())
                            .flat_map(|c| c.violations.iter().map(move |v| format!("{}: {v}", c.name)))
                            .next()
                            .unwrap_or_default();
                        s.failing.push(Failing {
                            index,
                            seed: case.seed,
                            first,
                        });
                    }
                    if cfg.progress && s.cases % 10 == 0 {
                        eprintln!(
                            "  {} cases, {} failing, {:.0} s",
                            s.cases,
                            s.failing.len(),
                            started.elapsed().as_secs_f64()
                        );
                    }
                }
            });
        }
    });
    if let Some(e) = error.into_inner().unwrap_or_else(|p| p.into_inner()) {
        return Err(e);
    }
    let mut summary = summary.into_inner().unwrap_or_else(|p| p.into_inner());
    summary.failing.sort_unstable_by_key(|f| f.index);
    // Each failing case shrinks on its own thread; the results do not depend on which thread took which.
    // Past the first failing case, a stopped campaign's list depends on timing: shrink only that one.
    let limit = if cfg.stop_at_first { 1 } else { cfg.max_shrunk };
    let to_shrink: Vec<u64> = summary.failing.iter().take(limit).map(|f| f.index).collect();
    let next = AtomicU64::new(0);
    let found: Mutex<Vec<Result<Found, String>>> = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..cfg.threads.max(1).min(to_shrink.len()) {
            scope.spawn(|| {
                while let Some(&index) = to_shrink.get(next.fetch_add(1, Ordering::Relaxed) as usize) {
                    let f = shrink_case(cfg, index);
                    found.lock().unwrap_or_else(|p| p.into_inner()).push(f);
                }
            });
        }
    });
    let mut found = found
        .into_inner()
        .unwrap_or_else(|p| p.into_inner())
        .into_iter()
        .collect::<Result<Vec<_>, _>>()?;
    found.sort_by_key(|f| f.index);
    summary.found = found;
    summary.wall_ms = started.elapsed().as_millis();
    Ok(summary)
}

/// Shrinks case `index` of the campaign to a smallest schedule that still fails.
fn shrink_case(cfg: &FuzzConfig, index: u64) -> Result<Found, String> {
    let tree = generate::case_tree(cfg.seed, index, cfg.max_faults)?;
    let original = tree.current();
    // Each step is a whole simulation, and shrinking can take many: say where it is, so a long quiet stretch
    // after the campaign's last line is not mistaken for a hang. (stderr only: stdout does not change.)
    if cfg.progress {
        eprintln!(
            "  shrinking case {index} ({}), at most {} runs",
            size(&original),
            cfg.shrink_steps
        );
    }
    let mut step = 0;
    let mut smallest = size(&original);
    let (shrunk, steps) = generate::shrink(tree, cfg.shrink_steps, |c| {
        step += 1;
        let fails = report::run_checked(&scenario_of(c, cfg), c.seed).is_ok_and(|o| !o.passed());
        if fails {
            smallest = size(c);
        }
        if cfg.progress {
            eprintln!(
                "  shrinking case {index}: step {step}/{} ({}), smallest failing: {smallest}",
                cfg.shrink_steps,
                if fails { "fails" } else { "passes" },
            );
        }
        fails
    });
    let outcome = report::run_checked(&scenario_of(&shrunk, cfg), shrunk.seed)?;
    Ok(Found {
        index,
        original,
        shrunk,
        outcome,
        shrink_steps: steps,
    })
}

/// A case's size as shrinking reduces it: its faults first, then its topology.
fn size(c: &Case) -> String {
    format!(
        "{} faults, {} replicas, {} Sentinels",
        c.faults.len(),
        c.replicas,
        c.sentinels
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_shards_are_refused() {
        let cfg = FuzzConfig {
            shard: (2, 2),
            ..FuzzConfig::default()
        };
        assert!(fuzz(&cfg).unwrap_err().contains("not a valid shard"));
    }

    #[test]
    fn a_campaign_s_tick_and_mutant_reach_every_case() {
        let case = generate::case_tree(7, 3, 4).unwrap().current();
        let plain = scenario_of(&case, &FuzzConfig::default());
        assert_eq!((plain.network.tick_ms, plain.mutant), (1, None));
        let cfg = FuzzConfig {
            tick_ms: Some(10),
            mutant: Some(Mutant::NoEjection),
            ..FuzzConfig::default()
        };
        let s = scenario_of(&case, &cfg);
        assert_eq!((s.network.tick_ms, s.mutant), (10, Some(Mutant::NoEjection)));
        // The written case replays as it ran.
        assert_eq!(s.to_string().parse::<Scenario>().unwrap(), s);
    }
}
