//! `reads_never_on_master` (always): no read from a replica-only client executes on a node that is master at
//! that instant. Judged from the data nodes' execution logs, which record each command with the node's role at
//! the moment it ran.

use super::{Check, Flavour, Violation, replica_only_readers, sim_ms};
use crate::history::History;

/// Runs the checker.
pub fn check(h: &History) -> Check {
    let mut c = Check::new("reads_never_on_master", Flavour::Always);
    let readers = replica_only_readers(h);
    for e in &h.exec {
        let by_reader = e.client_name.as_ref().is_some_and(|n| readers.contains(n));
        if by_reader && e.is("GET") && e.role == redsim_fake_redis::Role::Master {
            c.violations.push(Violation {
                at_ms: sim_ms(e.time_ms),
                what: format!(
                    "{} read {} on {} while it was master",
                    e.client_name.clone().unwrap_or_default(),
                    e.command.get(1).cloned().unwrap_or_default(),
                    e.node
                ),
            });
        }
    }
    let reads = h
        .exec
        .iter()
        .filter(|e| e.is("GET") && e.client_name.as_ref().is_some_and(|n| readers.contains(n)))
        .count();
    c.metrics.push(("replica-only reads executed".into(), reads as f64));
    c
}
