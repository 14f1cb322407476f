//! `redsim explore`: bounded exhaustive exploration. Every schedule of up to `k` faults drawn from a finite
//! alphabet (crash, pause or isolation of each data node, each repaired a fixed time later) placed on a coarse
//! time grid is run on the default topology. Faults that start at the same grid point are unordered, so only one
//! order of them is run.

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use crate::generate::{FAULT_PHASE_MS, two_phase};
use crate::progress::Progress;
use redsim::fault::{Fault, TimedFault};
use redsim::report::{self, Outcome};
use redsim::scenario::{Mutant, Scenario};

/// Grid points (ms into the fault phase) at which faults may start.
pub const GRID_MS: [u64; 3] = [2000, 5000, 8000];
/// How long each fault lasts before its repair.
pub const FAULT_MS: u64 = 3000;

/// The largest `--k` accepted. The schedules number `sum over j <= k of C(9, j) x 3^j` (see
/// [`schedule_count`]): 352 at k = 2, 2,620 at k = 3, 12,826 at k = 4, and each takes about 1.2 CPU seconds, so
/// k = 3 is about half an hour on 2 cores and k = 4 would be hours. A larger K is refused up front rather than
/// left to run for a day (or, for a huge K, to spin building schedules before running any).
pub const MAX_K: usize = 3;

/// The alphabet: a fault and its repair, for every data node of the default topology.
pub fn alphabet() -> Vec<(Fault, Fault)> {
    let mut v = Vec::new();
    for n in Scenario::default().redis_hosts() {
        v.push((Fault::Crash(n.clone()), Fault::Restart(n.clone())));
        v.push((Fault::Pause(n.clone()), Fault::Resume(n.clone())));
        v.push((Fault::Isolate(n), Fault::Heal));
    }
    v
}

/// Every schedule of up to `k` faults, in a fixed order: each as a list of (grid index, alphabet index),
/// sorted, without the same fault twice.
pub fn schedules(k: usize, alphabet_len: usize) -> Vec<Vec<(usize, usize)>> {
    let mut out = vec![vec![]];
    let mut frontier: Vec<Vec<(usize, usize)>> = vec![vec![]];
    for _ in 0..k {
        let mut next = Vec::new();
        for s in &frontier {
            let last = s.last().copied();
            for g in 0..GRID_MS.len() {
                for a in 0..alphabet_len {
                    // Canonical order: by grid point, then by fault; a fault is used once.
                    if last.is_some_and(|l| (g, a) <= l) || s.iter().any(|(_, b)| *b == a) {
                        continue;
                    }
                    let mut t = s.clone();
                    t.push((g, a));
                    next.push(t);
                }
            }
        }
        out.extend(next.iter().cloned());
        frontier = next;
    }
    out
}

/// How many schedules [`schedules`] returns, without building them (saturating, for any `k`).
pub fn schedule_count(k: usize, alphabet_len: usize) -> u128 {
    // j distinct faults out of the alphabet, each at one of the grid points: C(n, j) x grid^j.
    let grid = GRID_MS.len() as u128;
    let (mut total, mut choose, mut power) = (0u128, 1u128, 1u128);
    for j in 0..=k.min(alphabet_len) {
        if j > 0 {
            choose = choose * (alphabet_len - j + 1) as u128 / j as u128;
            power = power.saturating_mul(grid);
        }
        total = total.saturating_add(choose.saturating_mul(power));
    }
    total
}

/// The scenario of one explored schedule.
pub fn scenario(s: &[(usize, usize)], alphabet: &[(Fault, Fault)], mutant: Option<Mutant>) -> Scenario {
    let mut schedule = Vec::new();
    for (g, a) in s {
        let (fail, repair) = &alphabet[*a];
        let at = GRID_MS[*g];
        schedule.push(TimedFault {
            at_ms: at,
            fault: fail.clone(),
        });
        schedule.push(TimedFault {
            at_ms: (at + FAULT_MS).min(FAULT_PHASE_MS),
            fault: repair.clone(),
        });
    }
    let faults: Vec<String> = s
        .iter()
        .map(|(g, a)| format!("{}@{}", alphabet[*a].0, GRID_MS[*g]))
        .collect();
    let name = if faults.is_empty() {
        "explore-none".into()
    } else {
        format!("explore {}", faults.join(" "))
    };
    Scenario {
        mutant,
        ..two_phase(name, schedule)
    }
}

/// What an exploration found.
#[derive(Debug)]
pub struct Exploration {
    /// Schedules run.
    pub explored: usize,
    /// Wall time, ms (for the report only).
    pub wall_ms: u128,
    /// The first counterexample, if any (in enumeration order).
    pub counterexample: Option<Outcome>,
    /// How many schedules violated a checker.
    pub violations: usize,
}

/// Refuses a `k` above [`MAX_K`], saying how many schedules it would have meant.
pub fn check_k(k: usize) -> Result<(), String> {
    if k <= MAX_K {
        return Ok(());
    }
    let n = alphabet().len();
    Err(format!(
        "--k {k} would run {} schedules; the most is --k {MAX_K} ({} schedules, about half an hour on 2 cores)",
        schedule_count(k, n),
        schedule_count(MAX_K, n)
    ))
}

/// Runs every schedule up to `k` faults (at most [`MAX_K`]) with `seed`, on `threads` threads, counting runs
/// into `progress`.
pub fn explore(
    k: usize,
    seed: u64,
    threads: usize,
    mutant: Option<Mutant>,
    progress: &Progress,
) -> Result<Exploration, String> {
    check_k(k)?;
    let alphabet = alphabet();
    let all: Vec<Scenario> = schedules(k, alphabet.len())
        .iter()
        .map(|s| scenario(s, &alphabet, mutant))
        .collect();
    run_all_with(&all, seed, threads, progress)
}

/// Runs every scenario with `seed` on `threads` threads (one simulation per thread at a time). The
/// counterexample reported is the first violating scenario in list order, whatever the threads' timing.
pub fn run_all(all: &[Scenario], seed: u64, threads: usize) -> Result<Exploration, String> {
    run_all_with(all, seed, threads, &Progress::quiet())
}

/// [`run_all`], counting each finished run into `progress` (which never changes the result).
pub fn run_all_with(all: &[Scenario], seed: u64, threads: usize, progress: &Progress) -> Result<Exploration, String> {
    progress.start(all.len());
    let started = Instant::now();
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<(usize, Outcome)>> = Mutex::new(Vec::new());
    let failures = AtomicUsize::new(0);
    let error: Mutex<Option<String>> = Mutex::new(None);
    std::thread::scope(|scope| {
        for _ in 0..threads.max(1) {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(s) = all.get(i) else { return };
                    match report::run_checked(s, seed) {
                        Ok(o) if !o.passed() => {
                            failures.fetch_add(1, Ordering::Relaxed);
                            results.lock().unwrap_or_else(|p| p.into_inner()).push((i, o));
                            progress.record(true);
                        }
                        Ok(_) => progress.record(false),
                        Err(e) => {
                            *error.lock().unwrap_or_else(|p| p.into_inner()) = Some(e);
                            return;
                        }
                    }
                }
            });
        }
    });
    if let Some(e) = error.into_inner().unwrap_or_else(|p| p.into_inner()) {
        return Err(e);
    }
    let mut found = results.into_inner().unwrap_or_else(|p| p.into_inner());
    found.sort_by_key(|(i, _)| *i);
    Ok(Exploration {
        explored: all.len(),
        wall_ms: started.elapsed().as_millis(),
        violations: failures.into_inner(),
        counterexample: found.into_iter().next().map(|(_, o)| o),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_explored_space_is_pinned() {
        let n = alphabet().len();
        assert_eq!(n, 9);
        // 1 empty + 9 x 3 single faults + 3 x C(9,2) pairs at one grid point + 3 x 9 x 8 pairs at two.
        assert_eq!(schedules(1, n).len(), 1 + 27);
        assert_eq!(schedules(2, n).len(), 1 + 27 + 108 + 216);
        for s in schedules(2, n) {
            scenario(&s, &alphabet(), None).validate().unwrap();
        }
        for k in 0..=4 {
            assert_eq!(schedule_count(k, n), schedules(k, n).len() as u128, "k = {k}");
        }
        assert_eq!(schedule_count(MAX_K, n), 2620);
        // Past the alphabet, nothing new: every fault is used once.
        assert_eq!(schedule_count(usize::MAX, n), 4u128.pow(9));
    }

    #[test]
    fn k_above_the_bound_is_refused_before_anything_runs() {
        assert_eq!(check_k(MAX_K), Ok(()));
        let e = explore(MAX_K + 1, 1, 1, None, &Progress::quiet()).unwrap_err();
        assert_eq!(
            e,
            "--k 4 would run 12826 schedules; the most is --k 3 (2620 schedules, about half an hour on 2 cores)"
        );
        assert!(check_k(usize::MAX).unwrap_err().contains("would run 262144 schedules"));
    }
}
