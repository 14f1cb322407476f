//! Generated cases: proptest strategies for topologies and fault schedules, with swarm testing (each case first
//! draws which fault kinds it may use), two phases (faults, then a stable phase in which everything is
//! repaired), and the run's seed inside the generated value so shrinking never changes it.
//!
//! Shrinking works on the value: fewer faults (the schedule is a `Vec`), earlier and shorter faults (times and
//! durations shrink towards zero), a smaller topology (replicas and Sentinels shrink towards their minimum).

use proptest::prelude::*;
use proptest::strategy::{NewTree, ValueTree};
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};

use redsim::fault::{Fault, TimedFault};
use redsim::scenario::{ClientRole, Scenario, Topology};

/// Length of the fault phase, in ms of client time.
pub const FAULT_PHASE_MS: u64 = 12_000;
/// Length of the stable phase (everything repaired; every client must recover by its last 5 s). Long enough for
/// Sentinel to turn an old master back into a replica after a failover late in the fault phase (up to ~18 s)
/// and for it to resync: with one replica, replica-only reads have nowhere to go until then.
pub const STABLE_PHASE_MS: u64 = 30_000;

/// A scenario in the two phases every search uses: `schedule` in the fault phase, then a `heal` that opens the
/// stable phase, in which every client must recover. The schedule is sorted (stably) by time.
pub fn two_phase(name: String, mut schedule: Vec<TimedFault>) -> Scenario {
    schedule.push(TimedFault {
        at_ms: FAULT_PHASE_MS,
        fault: Fault::Heal,
    });
    schedule.sort_by_key(|f| f.at_ms);
    Scenario {
        name,
        duration_ms: FAULT_PHASE_MS + STABLE_PHASE_MS,
        stable_ms: STABLE_PHASE_MS,
        schedule,
        ..Scenario::default()
    }
}

/// The kinds of faults a case may draw from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    /// `crash`, later `restart`.
    Crash,
    /// `kill`, later `restart`.
    Kill,
    /// `pause`, later `resume`.
    Pause,
    /// `isolate` or `partition`, later `heal`.
    Partition,
    /// `latency` spike on a link, later back to normal.
    Latency,
    /// A manual `failover`.
    Failover,
    /// `hold` of a data node's messages to the Sentinels or to the clients, later `release`d (delayed, not lost).
    Hold,
}

const KINDS: [Kind; 7] = [
    Kind::Crash,
    Kind::Kill,
    Kind::Pause,
    Kind::Partition,
    Kind::Latency,
    Kind::Failover,
    Kind::Hold,
];

/// One generated fault before it is placed: its kind, the target index, when and for how long.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Planned {
    /// Which kind.
    pub kind: Kind,
    /// Target: an index into the data nodes, Sentinels, or both (taken modulo their count).
    pub target: u32,
    /// Start, in ms into the fault phase.
    pub at_ms: u64,
    /// How long it lasts.
    pub for_ms: u64,
}

/// A generated case: the seed, the topology and the planned faults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Case {
    /// The run's seed (kept apart from the schedule, so shrinking the schedule keeps it).
    pub seed: u64,
    /// Replicas (1-4).
    pub replicas: u32,
    /// Sentinels (1-5).
    pub sentinels: u32,
    /// down-after in ms.
    pub down_after_ms: u64,
    /// Sentinel quorum; 0 means a majority of the Sentinels, larger values are capped at their count.
    pub quorum: u32,
    /// Every reader's replica selection (`sticky`, `round-robin`, `random`, `lowest-latency`).
    pub selection: &'static str,
    /// Every client's pause between operations, in ms.
    pub interval_ms: u64,
    /// Every client's command timeout, in ms (capped at half of down-after, so a client can notice a failure
    /// before Sentinel does, which `failover_before_sdown` relies on).
    pub timeout_ms: u64,
    /// The faults.
    pub faults: Vec<Planned>,
}

/// The strategy for cases. `max_faults` bounds the schedule length.
///
/// Swarm testing: a non-empty mask draws which fault kinds this case may use, and each fault's kind is picked
/// among the enabled ones. The strategy is one flat tuple (no `prop_flat_map`), so every part shrinks on its own.
pub fn cases(max_faults: usize) -> impl Strategy<Value = Case> {
    let planned = (0usize..KINDS.len(), 0u32..16, 0u64..FAULT_PHASE_MS - 1000, 100u64..6000);
    (
        // The seed is part of the value but never shrunk: a shrunk schedule replays with the seed it failed with.
        any::<u64>().no_shrink(),
        1u32..=4,
        1u32..=5,
        prop::sample::select(vec![1000u64, 2000, 5000]),
        // Each of these shrinks towards the first value, the default client and a majority quorum.
        0u32..=5,
        prop::sample::select(SELECTIONS.to_vec()),
        prop::sample::select(vec![100u64, 50, 200]),
        prop::sample::select(vec![500u64, 300, 200]),
        1u8..(1 << KINDS.len()),
        prop::collection::vec(planned, 0..=max_faults),
    )
        .prop_map(
            |(seed, replicas, sentinels, down_after_ms, quorum, selection, interval_ms, timeout_ms, mask, faults)| {
                let enabled: Vec<Kind> = KINDS
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| mask & (1 << i) != 0)
                    .map(|(_, k)| *k)
                    .collect();
                Case {
                    seed,
                    replicas,
                    sentinels,
                    down_after_ms,
                    quorum,
                    selection,
                    interval_ms,
                    timeout_ms,
                    faults: faults
                        .into_iter()
                        .map(|(k, target, at_ms, for_ms)| Planned {
                            kind: enabled[k % enabled.len()],
                            target,
                            at_ms,
                            for_ms,
                        })
                        .collect(),
                }
            },
        )
}

/// The replica selections a generated reader may use.
const SELECTIONS: [&str; 4] = ["sticky", "round-robin", "random", "lowest-latency"];

impl Case {
    /// The scenario this case describes: faults in the first phase, each repaired before the stable phase.
    pub fn scenario(&self) -> Scenario {
        let sentinels = self.sentinels.max(1);
        let topology = Topology {
            replicas: self.replicas.max(1),
            sentinels,
            quorum: match self.quorum {
                0 => sentinels / 2 + 1,
                q => q.min(sentinels),
            },
            down_after_ms: self.down_after_ms,
            ..Topology::default()
        };
        // The cluster first (the faults name its hosts), then the two phases around the schedule.
        let mut s = Scenario {
            topology,
            ..Scenario::default()
        };
        for c in &mut s.clients {
            c.interval_ms = self.interval_ms;
            c.timeout_ms = self.timeout_ms.min(self.down_after_ms / 2);
            if c.role == ClientRole::Reader {
                c.selection = self.selection.into();
            }
        }
        let nodes = s.redis_hosts();
        let sents = s.sentinel_hosts();
        let mut schedule = Vec::new();
        for p in &self.faults {
            let end = (p.at_ms + p.for_ms).min(FAULT_PHASE_MS);
            let node = nodes[p.target as usize % nodes.len()].clone();
            let any_host = {
                let all: Vec<String> = nodes.iter().chain(&sents).cloned().collect();
                all[p.target as usize % all.len()].clone()
            };
            let (fail, repair) = match p.kind {
                Kind::Crash => (Fault::Crash(node.clone()), Some(Fault::Restart(node))),
                Kind::Kill => (Fault::Kill(any_host.clone()), Some(Fault::Restart(any_host))),
                Kind::Pause => (Fault::Pause(any_host.clone()), Some(Fault::Resume(any_host))),
                // Isolation, a two-sided partition of a data node from the Sentinels, or a one-way cut from it
                // to the clients, by the target's remainder.
                Kind::Partition => {
                    let clients: Vec<String> = s.clients.iter().map(|c| c.name.clone()).collect();
                    let fault = match p.target % 3 {
                        0 => Fault::Isolate(any_host),
                        1 => Fault::Partition(vec![node], sents.clone()),
                        _ => Fault::PartitionOneway(vec![node], clients),
                    };
                    (fault, Some(Fault::Heal))
                }
                Kind::Latency => {
                    let client = s.clients[p.target as usize % s.clients.len()].name.clone();
                    (
                        Fault::Latency(client.clone(), node.clone(), 50 + p.for_ms / 20),
                        Some(Fault::Latency(client, node, 2)),
                    )
                }
                Kind::Failover => (Fault::Failover, None),
                Kind::Hold => {
                    let other = if p.target % 2 == 0 {
                        sents.clone()
                    } else {
                        s.clients.iter().map(|c| c.name.clone()).collect()
                    };
                    (
                        Fault::Hold(vec![node.clone()], other.clone()),
                        Some(Fault::Release(vec![node], other)),
                    )
                }
            };
            schedule.push(TimedFault {
                at_ms: p.at_ms,
                fault: fail,
            });
            if let Some(r) = repair {
                schedule.push(TimedFault {
                    at_ms: end.max(p.at_ms + 1),
                    fault: r,
                });
            }
        }
        // The stable phase starts with everything healed, whatever was left.
        Scenario {
            topology: s.topology,
            clients: s.clients,
            ..two_phase(format!("generated-{}", self.seed), schedule)
        }
    }
}

/// A deterministic generator of cases for `redsim fuzz`: case `i` of a campaign seeded `seed` is always the
/// same value, and its value tree can be shrunk.
pub fn case_tree(
    campaign_seed: u64,
    index: u64,
    max_faults: usize,
) -> Result<Box<dyn ValueTree<Value = Case>>, String> {
    let mut bytes = [0u8; 32];
    bytes[..8].copy_from_slice(&campaign_seed.to_le_bytes());
    bytes[8..16].copy_from_slice(&index.to_le_bytes());
    let rng = TestRng::from_seed(RngAlgorithm::ChaCha, &bytes);
    let mut runner = TestRunner::new_with_rng(Config::default(), rng);
    let strategy: BoxedStrategy<Case> = cases(max_faults).boxed();
    let tree: NewTree<BoxedStrategy<Case>> = strategy.new_tree(&mut runner);
    tree.map(|t| Box::new(t) as Box<dyn ValueTree<Value = Case>>)
        .map_err(|e| e.to_string())
}

/// Shrinks a failing case the way proptest's runner does: simplify while the case still fails, complicate (and
/// test again) when a simplification made it pass; at most `max_steps` runs of `still_fails`.
pub fn shrink(
    mut tree: Box<dyn ValueTree<Value = Case>>,
    max_steps: usize,
    mut still_fails: impl FnMut(&Case) -> bool,
) -> (Case, usize) {
    let mut best = tree.current();
    let mut steps = 0;
    if !tree.simplify() {
        return (best, steps);
    }
    while steps < max_steps {
        steps += 1;
        let candidate = tree.current();
        if still_fails(&candidate) {
            best = candidate;
            if !tree.simplify() {
                break;
            }
        } else if !tree.complicate() {
            break;
        }
    }
    (best, steps)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cases_are_valid_scenarios_and_reproducible() {
        for i in 0..200 {
            let case = case_tree(7, i, 4).unwrap().current();
            let s = case.scenario();
            s.validate().unwrap_or_else(|e| panic!("{case:?}: {e}"));
            assert_eq!(s.to_string().parse::<Scenario>().unwrap(), s);
            assert_eq!(case_tree(7, i, 4).unwrap().current(), case, "case {i} is reproducible");
        }
    }

    #[test]
    fn shrinking_reduces_a_schedule() {
        // A fake property: "fails" while any crash is scheduled. Shrinking keeps exactly one crash.
        let mut found = None;
        for i in 0..100 {
            let tree = case_tree(3, i, 6).unwrap();
            let case = tree.current();
            if case.faults.iter().filter(|f| f.kind == Kind::Crash).count() >= 2 {
                found = Some(tree);
                break;
            }
        }
        let tree = found.expect("a case with two crashes");
        let original = tree.current();
        let first_crash = original
            .faults
            .iter()
            .filter(|f| f.kind == Kind::Crash)
            .map(|f| f.at_ms)
            .min()
            .unwrap();
        let (small, steps) = shrink(tree, 5000, |c| c.faults.iter().any(|f| f.kind == Kind::Crash));
        assert_eq!(small.faults.len(), 1, "{small:?}");
        assert_eq!(small.faults[0].kind, Kind::Crash);
        assert!(
            small.faults[0].at_ms <= first_crash,
            "shrunk towards the start: {small:?} from {original:?} in {steps} steps"
        );
        assert_eq!(small.seed, original.seed, "the seed never shrinks");
    }
}
