//! The routing decision on its own: whether a call goes to the master, and which replica serves a read.
//!
//! The [`Client`](crate::Client) makes this decision on every call, holding its topology lock, before any
//! network work. It lives here, apart from the network, so it can be tested and measured by itself
//! (`cargo bench -p redsim-client --bench routing`). What happens after the decision (the retries, the ejections,
//! the last resort) is the client's.
//!
//! ```
//! use redsim_client::routing::{Candidate, Router};
//! use redsim_client::{ReadPolicy, ReplicaSelection};
//!
//! let mut router = Router::new(ReadPolicy::ReplicaOnly, ReplicaSelection::RoundRobin, 7);
//! let replicas = [Candidate::new("10.0.0.2:6379", 0), Candidate::new("10.0.0.3:6379", 0)];
//! assert!(router.goes_to_master(false, 0, &replicas)); // a write
//! assert!(!router.goes_to_master(true, 0, &replicas)); // a read, replica-only
//! let first = router.pick(&replicas).unwrap();
//! let second = router.pick(&replicas).unwrap();
//! assert_ne!(first, second); // round robin alternates
//! ```

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::config::{ReadPolicy, ReplicaSelection};

/// A replica a read may go to: usable now (not ejected, not skipped by this call).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Candidate<'a> {
    /// `host:port`.
    pub addr: &'a str,
    /// Smoothed round-trip time in microseconds; 0 when not measured yet.
    pub latency_us: u64,
}

impl<'a> Candidate<'a> {
    /// A candidate at `addr` with the given smoothed latency (0: not measured yet).
    pub fn new(addr: &'a str, latency_us: u64) -> Self {
        Candidate { addr, latency_us }
    }
}

/// The decision's state: the policy, the selection, and what the selection remembers between calls (the sticky
/// replica, the round-robin position, the seeded generator that makes random picks reproducible).
#[derive(Debug, Clone)]
pub struct Router {
    policy: ReadPolicy,
    selection: ReplicaSelection,
    sticky: Option<String>,
    round_robin: usize,
    rng: ChaCha8Rng,
}

impl Router {
    /// A router for `policy` and `selection`; `seed` drives its random picks, so one seed gives one sequence.
    pub fn new(policy: ReadPolicy, selection: ReplicaSelection, seed: u64) -> Self {
        Router {
            policy,
            selection,
            sticky: None,
            round_robin: 0,
            rng: ChaCha8Rng::seed_from_u64(seed),
        }
    }

    /// Whether a call goes to the master: every write does; a read does under [`ReadPolicy::Master`], and
    /// under [`ReadPolicy::Nearest`] when the master is nearer than every candidate replica.
    ///
    /// `candidates` are the usable replicas. A `ReplicaOnly` or `ReplicaPreferred` read with no candidate is
    /// not sent to the master here: falling back is the client's decision, made only after it asked Sentinel.
    pub fn goes_to_master(&self, read: bool, master_latency_us: u64, candidates: &[Candidate<'_>]) -> bool {
        match self.policy {
            _ if !read => true,
            ReadPolicy::Master => true,
            ReadPolicy::Nearest => master_is_nearest(master_latency_us, candidates),
            ReadPolicy::ReplicaOnly | ReadPolicy::ReplicaPreferred => false,
        }
    }

    /// Picks the replica a read goes to among `candidates` (in the client's order: by address), or `None` when
    /// there is none. `Nearest` always picks by latency, whatever the selection says.
    pub fn pick<'a>(&mut self, candidates: &[Candidate<'a>]) -> Option<&'a str> {
        if candidates.is_empty() {
            return None;
        }
        let selection = if self.policy == ReadPolicy::Nearest {
            ReplicaSelection::LowestLatency
        } else {
            self.selection
        };
        let pick = match selection {
            ReplicaSelection::Sticky => match candidates.iter().find(|c| Some(c.addr) == self.sticky.as_deref()) {
                Some(c) => c.addr,
                None => {
                    let c = candidates[self.rng.random_range(0..candidates.len())].addr;
                    self.sticky = Some(c.to_string());
                    c
                }
            },
            ReplicaSelection::RoundRobin => {
                self.round_robin = self.round_robin.wrapping_add(1);
                candidates[self.round_robin % candidates.len()].addr
            }
            ReplicaSelection::Random => candidates[self.rng.random_range(0..candidates.len())].addr,
            // The first of equals, so ties resolve by address: deterministic.
            ReplicaSelection::LowestLatency => candidates.iter().min_by_key(|c| c.latency_us)?.addr,
        };
        Some(pick)
    }

    /// Forgets the sticky replica if it is `addr` (it failed, or left the topology): the next read picks anew.
    pub fn forget(&mut self, addr: &str) {
        if self.sticky.as_deref() == Some(addr) {
            self.sticky = None;
        }
    }

    /// The sticky replica, if one is chosen.
    pub fn sticky(&self) -> Option<&str> {
        self.sticky.as_deref()
    }
}

/// Whether the master is the nearest node for a `Nearest` read. Unmeasured nodes (latency 0) go first, so every
/// node gets measured; with no candidate replica, the master is the only node.
fn master_is_nearest(master_latency_us: u64, candidates: &[Candidate<'_>]) -> bool {
    if candidates.is_empty() {
        return true;
    }
    let unmeasured_replica = candidates.iter().any(|c| c.latency_us == 0);
    if master_latency_us == 0 || unmeasured_replica {
        return master_latency_us == 0 && !unmeasured_replica;
    }
    candidates.iter().all(|c| master_latency_us < c.latency_us)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn three() -> [Candidate<'static>; 3] {
        [
            Candidate::new("a:1", 300),
            Candidate::new("b:1", 100),
            Candidate::new("c:1", 100),
        ]
    }

    #[test]
    fn writes_go_to_the_master_and_replica_reads_never_do() {
        for policy in [ReadPolicy::ReplicaOnly, ReadPolicy::ReplicaPreferred] {
            let r = Router::new(policy, ReplicaSelection::Sticky, 1);
            assert!(r.goes_to_master(false, 1, &three()));
            assert!(!r.goes_to_master(true, 1, &three()));
            assert!(
                !r.goes_to_master(true, 1, &[]),
                "falling back is the client's call, not the router's"
            );
        }
        let r = Router::new(ReadPolicy::Master, ReplicaSelection::Sticky, 1);
        assert!(r.goes_to_master(true, 1, &three()));
    }

    #[test]
    fn nearest_measures_everyone_then_prefers_the_fastest() {
        let r = Router::new(ReadPolicy::Nearest, ReplicaSelection::Sticky, 1);
        assert!(r.goes_to_master(true, 0, &three()), "an unmeasured master is tried");
        assert!(
            !r.goes_to_master(true, 0, &[Candidate::new("a:1", 0)]),
            "so is an unmeasured replica"
        );
        assert!(r.goes_to_master(true, 50, &three()));
        assert!(!r.goes_to_master(true, 100, &three()), "a tie goes to the replica");
        assert!(
            r.goes_to_master(true, 500, &[]),
            "no replica: the master is the only node"
        );
    }

    #[test]
    fn each_selection_picks_as_documented() {
        let c = three();
        let mut sticky = Router::new(ReadPolicy::ReplicaOnly, ReplicaSelection::Sticky, 3);
        let first = sticky.pick(&c).unwrap();
        assert!((0..20).all(|_| sticky.pick(&c) == Some(first)));
        sticky.forget(first);
        assert_eq!(sticky.sticky(), None);
        let others: Vec<Candidate> = c.iter().copied().filter(|x| x.addr != first).collect();
        assert_ne!(sticky.pick(&others), Some(first), "a replica that left is not picked");

        let mut rr = Router::new(ReadPolicy::ReplicaOnly, ReplicaSelection::RoundRobin, 3);
        let picks: Vec<&str> = (0..6).map(|_| rr.pick(&c).unwrap()).collect();
        assert_eq!(picks, ["b:1", "c:1", "a:1", "b:1", "c:1", "a:1"]);

        let mut low = Router::new(ReadPolicy::ReplicaOnly, ReplicaSelection::LowestLatency, 3);
        assert_eq!(low.pick(&c), Some("b:1"), "ties resolve by address");
        let mut near = Router::new(ReadPolicy::Nearest, ReplicaSelection::RoundRobin, 3);
        assert_eq!(
            near.pick(&c),
            Some("b:1"),
            "nearest picks by latency whatever the selection"
        );

        let mut empty = Router::new(ReadPolicy::ReplicaOnly, ReplicaSelection::Random, 3);
        assert_eq!(empty.pick(&[]), None);
    }

    #[test]
    fn random_picks_repeat_with_the_seed_and_cover_every_replica() {
        let c = three();
        let run = |seed| {
            let mut r = Router::new(ReadPolicy::ReplicaOnly, ReplicaSelection::Random, seed);
            (0..64).map(|_| r.pick(&c).unwrap()).collect::<Vec<_>>()
        };
        assert_eq!(run(9), run(9));
        assert_ne!(run(9), run(10));
        let picks = run(9);
        assert!(c.iter().all(|x| picks.contains(&x.addr)));
    }
}
