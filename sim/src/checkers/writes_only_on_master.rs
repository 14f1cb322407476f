//! `writes_only_on_master` (always): every acknowledged write executed on a node that was master at that
//! instant (found in the execution logs by its unique value).

use std::collections::BTreeMap;

use redsim_fake_redis::LogEntry;

use super::{Check, Flavour, Violation, sim_ms};
use crate::history::{History, OpKind};

/// Runs the checker.
pub fn check(h: &History) -> Check {
    let mut c = Check::new("writes_only_on_master", Flavour::Always);
    // Every successful SET by client and value, first execution first: written values are unique.
    let mut sets: BTreeMap<(&str, &str), &LogEntry> = BTreeMap::new();
    for e in h.exec.iter().filter(|e| e.is("SET") && e.reply == "OK") {
        if let (Some(client), Some(value)) = (e.client_name.as_deref(), e.command.get(2)) {
            sets.entry((client, value.as_str())).or_insert(e);
        }
    }
    let mut acked = 0;
    for op in h.ops.iter().filter(|o| o.kind == OpKind::Write && o.outcome.is_ok()) {
        acked += 1;
        let Some(value) = &op.written else { continue };
        let ran = sets.get(&(op.client.as_str(), value.as_str()));
        match ran {
            Some(e) if e.role == redsim_fake_redis::Role::Master => {}
            Some(e) => c.violations.push(Violation {
                at_ms: sim_ms(e.time_ms),
                what: format!("{} wrote {value} on {} while it was a replica", op.client, e.node),
            }),
            None => c.violations.push(Violation {
                at_ms: op.complete_ms,
                what: format!("{} was told {value} was written, but no node executed it", op.client),
            }),
        }
    }
    c.metrics.push(("acknowledged writes".into(), acked as f64));
    c
}
