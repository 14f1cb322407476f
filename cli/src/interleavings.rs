//! `redsim explore --interleavings`: bounded exhaustive exploration of message orderings around the handshakes
//! that decide where a client sends its commands.
//!
//! Fault schedules (`redsim explore`) choose *which* failures happen; this chooses *in which order the messages
//! around one failure arrive*. Three handshakes are explored on the default topology:
//! - `failover`: a manual `SENTINEL FAILOVER`: `REPLICAOF NO ONE` to the chosen replica, `CLIENT KILL` of its
//!   clients, `+switch-master` to the clients' subscriptions, their `ROLE` checks on new connections;
//! - `master-crash`: the same after Sentinel detects a crashed master, and the old master's return as a replica;
//! - `replica-crash`: the reader re-routing before Sentinel publishes `+sdown`.
//!
//! The messages travel on three channels: clients↔Sentinels, Sentinels↔data nodes and clients↔data nodes.
//! A *plan* holds up to [`MAX_HELD`] of them for a while (turmoil's hold/release: delayed, not lost), starting
//! at a few offsets from the handshake's anchor (the first `+failover-state-send-slaveof-noone`, or the crash),
//! so each channel's messages arrive before, during or after the others'. Every run also lets turmoil poll the
//! hosts in a seeded random order, which reorders messages sent in the same millisecond.

use crate::explore::{Exploration, run_all_with};
use crate::generate::{FAULT_PHASE_MS, two_phase};
use crate::progress::Progress;
use redsim::checkers::sim_ms;
use redsim::fault::{Fault, TimedFault};
use redsim::runner::WARMUP_MS;
use redsim::scenario::{Mutant, Scenario};

/// When the handshake's trigger fires, ms into the fault phase.
pub const TRIGGER_MS: u64 = 2000;
/// When a crashed node restarts, ms into the fault phase.
pub const RESTART_MS: u64 = 9000;
/// Hold starts, ms after the anchor.
pub const HOLD_AT_MS: [u64; 3] = [0, 200, 1000];
/// Hold lengths, ms.
pub const HOLD_FOR_MS: [u64; 2] = [100, 1000];
/// Most channels held in one plan.
pub const MAX_HELD: usize = 2;

/// One handshake to explore.
#[derive(Debug, Clone)]
pub struct Handshake {
    /// Its name.
    pub name: &'static str,
    /// The faults that start it.
    pub trigger: Vec<TimedFault>,
    /// Whether Sentinel promotes a replica: holds are then placed from the promotion, not the trigger.
    pub promotes: bool,
}

/// The handshakes explored.
pub fn handshakes() -> Vec<Handshake> {
    let at = |at_ms, fault| TimedFault { at_ms, fault };
    let crash = |n: &str| {
        vec![
            at(TRIGGER_MS, Fault::Crash(n.into())),
            at(RESTART_MS, Fault::Restart(n.into())),
        ]
    };
    vec![
        Handshake {
            name: "failover",
            trigger: vec![at(TRIGGER_MS, Fault::Failover)],
            promotes: true,
        },
        Handshake {
            name: "master-crash",
            trigger: crash("redis-1"),
            promotes: true,
        },
        Handshake {
            name: "replica-crash",
            trigger: crash("redis-2"),
            promotes: false,
        },
    ]
}

/// The three channels of a scenario, as (name, one side, the other side).
pub fn channels(s: &Scenario) -> Vec<(&'static str, Vec<String>, Vec<String>)> {
    let clients: Vec<String> = s.clients.iter().map(|c| c.name.clone()).collect();
    vec![
        ("clients-sentinels", clients.clone(), s.sentinel_hosts()),
        ("sentinels-nodes", s.sentinel_hosts(), s.redis_hosts()),
        ("clients-nodes", clients, s.redis_hosts()),
    ]
}

/// A plan: for each channel, nothing or a hold (index into [`HOLD_AT_MS`], index into [`HOLD_FOR_MS`]).
pub type Plan = Vec<Option<(usize, usize)>>;

/// Every plan holding at most [`MAX_HELD`] of `n` channels, in a fixed order.
pub fn plans(n: usize) -> Vec<Plan> {
    let options: Vec<Option<(usize, usize)>> = std::iter::once(None)
        .chain((0..HOLD_AT_MS.len()).flat_map(|a| (0..HOLD_FOR_MS.len()).map(move |f| Some((a, f)))))
        .collect();
    let mut all: Vec<Plan> = vec![vec![]];
    for _ in 0..n {
        all = all
            .into_iter()
            .flat_map(|p| {
                options.iter().map(move |o| {
                    let mut q = p.clone();
                    q.push(*o);
                    q
                })
            })
            .collect();
    }
    all.retain(|p| p.iter().flatten().count() <= MAX_HELD);
    all
}

/// The handshake's scenario without holds.
pub fn base(hs: &Handshake, mutant: Option<Mutant>) -> Scenario {
    let mut s = Scenario {
        mutant,
        ..two_phase(format!("interleave-{}", hs.name), hs.trigger.clone())
    };
    s.network.random_order = true;
    s
}

/// The anchor of a handshake in a base run, ms into the fault phase: when the promotion starts, or the trigger
/// itself for a replica crash (nothing is promoted).
pub fn anchor(hs: &Handshake, base: &Scenario, seed: u64) -> Result<u64, String> {
    if !hs.promotes {
        return Ok(TRIGGER_MS);
    }
    let h = redsim::runner::run(base, seed)?;
    h.sentinel_events
        .iter()
        .find(|e| e.event == "+failover-state-send-slaveof-noone")
        .map(|e| sim_ms(e.time_ms).saturating_sub(WARMUP_MS))
        .ok_or_else(|| format!("{}: no promotion happened with seed {seed}", base.name))
}

/// The base scenario with a plan's holds placed from `anchor_ms`.
pub fn with_plan(base: &Scenario, plan: &Plan, anchor_ms: u64) -> Scenario {
    let mut s = base.clone();
    let mut held = Vec::new();
    for ((name, a, b), step) in channels(base).into_iter().zip(plan) {
        let Some((at, len)) = step else { continue };
        let start = (anchor_ms + HOLD_AT_MS[*at]).min(FAULT_PHASE_MS - 1);
        let end = (start + HOLD_FOR_MS[*len]).min(FAULT_PHASE_MS);
        s.schedule.push(TimedFault {
            at_ms: start,
            fault: Fault::Hold(a.clone(), b.clone()),
        });
        s.schedule.push(TimedFault {
            at_ms: end,
            fault: Fault::Release(a, b),
        });
        held.push(format!("{name}@+{}/{}ms", HOLD_AT_MS[*at], HOLD_FOR_MS[*len]));
    }
    s.schedule.sort_by_key(|f| f.at_ms);
    if !held.is_empty() {
        s.name = format!("{} {}", s.name, held.join(" "));
    }
    s
}

/// Every scenario of the exploration, in order: each handshake's plans (a base run per promoting handshake
/// finds its anchor).
pub fn scenarios(seed: u64, mutant: Option<Mutant>) -> Result<Vec<Scenario>, String> {
    let mut all = Vec::new();
    for hs in handshakes() {
        let b = base(&hs, mutant);
        let anchor_ms = anchor(&hs, &b, seed)?;
        for plan in plans(channels(&b).len()) {
            all.push(with_plan(&b, &plan, anchor_ms));
        }
    }
    Ok(all)
}

/// Runs every plan on every handshake with `seed`, counting runs into `progress`.
pub fn explore(seed: u64, threads: usize, mutant: Option<Mutant>, progress: &Progress) -> Result<Exploration, String> {
    run_all_with(&scenarios(seed, mutant)?, seed, threads, progress)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_explored_interleavings_are_pinned() {
        // Per channel: not held, or 3 starts x 2 lengths. At most two of three channels held:
        // 1 + 3 x 6 + 3 x 6 x 6 plans per handshake.
        let n = plans(3).len();
        assert_eq!(n, 1 + 18 + 108);
        assert_eq!(handshakes().len() * n, 381);
        let b = base(&handshakes()[0], None);
        for p in plans(3) {
            let s = with_plan(&b, &p, 4000);
            s.validate().unwrap();
            assert_eq!(s.to_string().parse::<Scenario>().unwrap(), s, "{s}");
        }
    }
}
