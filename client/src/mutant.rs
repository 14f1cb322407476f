//! Deliberately broken behaviours (feature `mutants`), so a test harness can prove its checkers catch real
//! client bugs. Never compiled into a default build.
//!
//! This is the one list of mutants, shared with the harness: some of them break the client, the others the
//! harness's fakes (a Sentinel that skips `CLIENT KILL`); the client ignores those that are not its own.

use std::str::FromStr;

/// A deliberately broken behaviour. Never set one in production: each breaks a guarantee on purpose.
#[doc(hidden)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mutant {
    /// Client: reads go to the master when no replica answers, whatever the policy (redis-py's `slave_for`).
    FallBackToMaster,
    /// Client: a failed replica is neither remembered nor skipped, and the read is not retried (go-redis-like).
    NoEjection,
    /// Client: a request that timed out gives up its place in its connection's reply queue, but the connection
    /// is kept (and the slow replica too), so its late reply answers the next request.
    KeepTimedOutConnection,
    /// Sentinel (not the client): reconfigures nodes without `CLIENT KILL`, so clients stay connected to a node
    /// whose role changed.
    SkipClientKill,
    /// Client: keeps the first master it discovered; it ignores `+switch-master` and the master in later
    /// discoveries, so its writes never follow a failover.
    StickyMaster,
    /// Client: as [`Mutant::StickyMaster`], and connections are not checked with `ROLE`, so the demoted master
    /// goes on receiving writes. A harness also runs its nodes with `replica-read-only no`, so the demoted
    /// master acknowledges them.
    BlindMaster,
}

impl Mutant {
    /// Every mutant, with its text name (kebab-case, as on a command line or in a scenario).
    pub const ALL: [(Mutant, &'static str); 6] = [
        (Mutant::FallBackToMaster, "fall-back-to-master"),
        (Mutant::NoEjection, "no-ejection"),
        (Mutant::KeepTimedOutConnection, "keep-timed-out-connection"),
        (Mutant::SkipClientKill, "skip-client-kill"),
        (Mutant::StickyMaster, "sticky-master"),
        (Mutant::BlindMaster, "blind-master"),
    ];

    /// The text name.
    pub fn name(self) -> &'static str {
        Mutant::ALL
            .iter()
            .find(|(m, _)| *m == self)
            .map(|(_, n)| *n)
            .unwrap_or("?")
    }

    /// Whether the client keeps the first master it found, whatever Sentinel says later.
    pub(crate) fn keeps_first_master(self) -> bool {
        matches!(self, Mutant::StickyMaster | Mutant::BlindMaster)
    }
}

impl FromStr for Mutant {
    type Err = String;

    /// Parses a text name; the error lists the known ones.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Mutant::ALL
            .iter()
            .find(|(_, n)| *n == s)
            .map(|(m, _)| *m)
            .ok_or_else(|| {
                let names: Vec<&str> = Mutant::ALL.iter().map(|(_, n)| *n).collect();
                format!("unknown mutant '{s}' (known: {})", names.join(", "))
            })
    }
}
