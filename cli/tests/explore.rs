//! The explorers' scenarios are checked like any other: a mutant shows up in them, the default client does not.
//! (The full explorations take minutes; their counts are pinned in unit tests and their figures are in the
//! README.)

use redsim::{Fault, Mutant};
use redsim_cli::explore::{alphabet, run_all, scenario, schedules};
use redsim_cli::interleavings;

#[test]
fn a_two_fault_schedule_catches_the_master_fallback_and_spares_the_default_client() {
    let a = alphabet();
    // Both replicas crash at the first grid point: a redis-py-like client reads from the master.
    let both: Vec<(usize, usize)> = schedules(2, a.len())
        .into_iter()
        .find(|s| {
            s.len() == 2
                && s.iter()
                    .all(|(g, i)| *g == 0 && matches!(&a[*i].0, Fault::Crash(n) if n != "redis-1"))
        })
        .expect("the schedule exists");
    let broken = run_all(&[scenario(&both, &a, Some(Mutant::FallBackToMaster))], 1, 1).unwrap();
    let o = broken.counterexample.expect("caught");
    assert!(!o.check("reads_never_on_master").unwrap().passed());
    let fine = run_all(&[scenario(&both, &a, None)], 1, 1).unwrap();
    assert_eq!(
        fine.violations,
        0,
        "{:?}",
        fine.counterexample.map(|o| o.history.scenario.to_string())
    );
}

#[test]
fn an_interleaving_catches_a_sentinel_that_skips_client_kill() {
    // The failover handshake with the clients-nodes channel held from the promotion for 1 s: without CLIENT
    // KILL, a reader's pooled connection to the promoted replica keeps serving reads on a master.
    let pick = |all: Vec<redsim::Scenario>| {
        all.into_iter()
            .find(|s| s.name == "interleave-failover clients-nodes@+0/1000ms")
            .expect("the plan exists")
    };
    let broken = pick(interleavings::scenarios(1, Some(Mutant::SkipClientKill)).unwrap());
    let o = run_all(&[broken], 1, 1).unwrap();
    assert_eq!(o.violations, 1);
    let fine = pick(interleavings::scenarios(1, None).unwrap());
    assert_eq!(run_all(&[fine], 1, 1).unwrap().violations, 0);
}
