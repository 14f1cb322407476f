//! The step of simulated time (`network tick_ms`) may be coarsened for speed only where it leaves every
//! checker's verdict unchanged: every named scenario, with the default client and with each mutant, must pass
//! and fail exactly the same checkers at each allowed tick as at 1 ms.

use redsim::report::run_checked;
use redsim::scenario::{Mutant, Scenario};
use redsim::scenarios;

/// `(checker, passed)` for every checker.
fn verdicts(s: &Scenario) -> Vec<(&'static str, bool)> {
    let o = run_checked(s, 1).unwrap_or_else(|e| panic!("{}: {e}", s.name));
    o.checks.iter().map(|c| (c.name, c.passed())).collect()
}

fn compare(tick_ms: u64, mutants: &[Option<Mutant>]) {
    let mut differing = Vec::new();
    for base in scenarios::all() {
        for &mutant in mutants {
            let fine = Scenario { mutant, ..base.clone() };
            let mut coarse = fine.clone();
            coarse.network.tick_ms = tick_ms;
            let (a, b) = (verdicts(&fine), verdicts(&coarse));
            if a != b {
                differing.push(format!("{} {mutant:?}: 1 ms {a:?}, {tick_ms} ms {b:?}", base.name));
            }
        }
    }
    assert!(
        differing.is_empty(),
        "verdicts change with the tick:\n{}",
        differing.join("\n")
    );
}

#[test]
fn every_named_scenario_gets_the_same_verdicts_at_a_10_ms_tick() {
    compare(10, &[None]);
}

/// Every mutant too: slow, run by hand (`cargo test --release -p redsim --test ticks -- --ignored`).
#[test]
#[ignore]
fn every_mutant_is_caught_by_the_same_checkers_at_a_10_ms_tick() {
    let mutants: Vec<Option<Mutant>> = Mutant::ALL.iter().map(|(m, _)| Some(*m)).collect();
    compare(10, &mutants);
}
