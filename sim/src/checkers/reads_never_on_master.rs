//! `reads_never_on_master` (always): no read from a replica-only client executes on a node that is master at
//! that instant. Judged from the data nodes' execution logs, which record each command with the node's role at
//! the moment it ran. A read is any command Redis flags read-only (`GET`, `HGETALL`, `LRANGE`, ...), sent over
//! an ordinary connection named after the client: a service that also writes through the same client sends its
//! writes to the master, and those are no violation.

use super::{Check, Flavour, Violation, replica_only_readers, sim_ms};
use crate::history::History;

/// Runs the checker.
pub fn check(h: &History) -> Check {
    let mut c = Check::new("reads_never_on_master", Flavour::Always);
    let readers = replica_only_readers(h);
    let mut reads = 0;
    for e in &h.exec {
        let by_reader = e.client_kind == redsim_fake_redis::ClientKind::Normal
            && e.client_name.as_ref().is_some_and(|n| readers.contains(n));
        if !by_reader || !redsim_client::is_read_only(&e.name()) {
            continue;
        }
        reads += 1;
        if e.role == redsim_fake_redis::Role::Master {
            c.violations.push(Violation {
                at_ms: sim_ms(e.time_ms),
                what: format!(
                    "{} ran {} on {} while it was master",
                    e.client_name.clone().unwrap_or_default(),
                    e.command.iter().take(2).cloned().collect::<Vec<_>>().join(" "),
                    e.node
                ),
            });
        }
    }
    c.metrics.push(("replica-only reads executed".into(), reads as f64));
    c
}
