//! Generated schedules in `cargo test`: a proptest property over every checker, the determinism meta-test, and
//! a fuzz campaign that must catch and shrink a mutant.
//!
//! Variables: `PROPTEST_CASES` (property cases, default 2), `REDSIM_DETERMINISM_SEEDS` (meta-test seeds,
//! default 200), `REDSIM_SIM_MS` (client time of each meta-test run, default 4000).

use proptest::prelude::*;
use proptest::test_runner::FileFailurePersistence;
use redsim::report::{failure_text, replay_command, run_checked};
use redsim::{Mutant, Scenario, TimedFault};
use redsim_cli::fuzz::{FuzzConfig, fuzz};
use redsim_cli::generate::{Case, case_tree, cases};

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: env_u64("PROPTEST_CASES", 2) as u32,
        // Failing cases are kept in sim/proptest-regressions/ (checked in) and replayed first on every run. (cargo
        // runs tests from the package root; SourceParallel would look for a src/ beside tests/ and fall back to
        // tests/generated.proptest-regressions.)
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct("../sim/proptest-regressions/generated.txt"))),
        max_shrink_iters: 50,
        ..ProptestConfig::default()
    })]

    #[test]
    fn generated_schedules_pass_every_checker(case in cases(3)) {
        let s = case.scenario();
        let o = run_checked(&s, case.seed).map_err(TestCaseError::fail)?;
        prop_assert!(o.passed(), "{}", failure_text(&o, &replay_command(&s, case.seed, Some("<saved scenario file>"))));
    }
}

/// A short scenario from a generated case: its faults that start in the first `ms`, and no stable phase.
fn short(case: &Case, ms: u64) -> Scenario {
    let full = case.scenario();
    let schedule: Vec<TimedFault> = full.schedule.into_iter().filter(|f| f.at_ms < ms).collect();
    Scenario {
        duration_ms: ms,
        stable_ms: 0,
        schedule,
        ..full
    }
}

fn check_same_twice(i: u64, ms: u64) -> Result<(), String> {
    let case = case_tree(0xD5, i, 3).unwrap().current();
    let s = short(&case, ms);
    let first = redsim::run(&s, case.seed)?.render();
    // The second run starts from the scenario's printed and re-parsed text form.
    let reparsed: Scenario = s.to_string().parse()?;
    let second = redsim::run(&reparsed, case.seed)?.render();
    if first == second {
        return Ok(());
    }
    let (a, b): (Vec<&str>, Vec<&str>) = (first.lines().collect(), second.lines().collect());
    let at = a
        .iter()
        .zip(&b)
        .position(|(x, y)| x != y)
        .unwrap_or(a.len().min(b.len()));
    Err(format!(
        "seed {} (case {i}) diverged at line {at}:\n  first:  {}\n  second: {}",
        case.seed,
        a.get(at).unwrap_or(&"<end>"),
        b.get(at).unwrap_or(&"<end>")
    ))
}

#[test]
fn determinism_meta_test_same_seed_same_history() {
    let seeds = env_u64("REDSIM_DETERMINISM_SEEDS", 200);
    let ms = env_u64("REDSIM_SIM_MS", 4000);
    // Two workers (each simulation is single-threaded and independent of the other's thread).
    let failures: Vec<String> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..2u64)
            .map(|w| {
                scope.spawn(move || {
                    (0..seeds)
                        .filter(|i| i % 2 == w)
                        .filter_map(|i| check_same_twice(i, ms).err())
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        workers.into_iter().flat_map(|h| h.join().unwrap()).collect()
    });
    assert!(
        failures.is_empty(),
        "{} of {seeds} seeds diverged; first: {}",
        failures.len(),
        failures[0]
    );
}

#[test]
fn fuzz_catches_the_master_fallback_mutant_and_shrinks_it() {
    let cfg = FuzzConfig {
        seed: 1,
        cases: 4,
        threads: 2,
        max_faults: 3,
        mutant: Some(Mutant::FallBackToMaster),
        shrink_steps: 30,
        ..FuzzConfig::default()
    };
    let s = fuzz(&cfg).unwrap();
    let found = s.found.first().expect("the campaign finds the mutant");
    assert!(
        found.shrunk.faults.len() <= 2,
        "shrunk to {} faults",
        found.shrunk.faults.len()
    );
    let c = found.outcome.check("reads_never_on_master").unwrap();
    assert!(!c.passed());
    let clean = fuzz(&FuzzConfig { mutant: None, ..cfg }).unwrap();
    assert!(
        clean.failing.is_empty(),
        "the default client passes the same cases: {:?}",
        clean.failing
    );
}
