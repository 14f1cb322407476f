//! `writes_only_on_master` (always): every acknowledged write executed on a node that was master at that
//! instant. A write that recorded the value it stores is found in the execution logs by that value (redsim's
//! own writers write unique values); any other (a user's `INCRBY`, `HSET`) by its client, key and time, as
//! [`crate::history::attribute`] finds it.

use std::collections::BTreeMap;

use redsim_fake_redis::LogEntry;

use super::{Check, Flavour, Violation, sim_ms};
use crate::history::{History, OpKind, commands_by_client, serving_entry};

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
    let by_client = commands_by_client(&h.exec);
    let mut acked = 0;
    for op in h.ops.iter().filter(|o| o.kind == OpKind::Write && o.outcome.is_ok()) {
        acked += 1;
        let (ran, what) = match &op.written {
            Some(value) => (sets.get(&(op.client.as_str(), value.as_str())).copied(), value.as_str()),
            None => (
                by_client
                    .get(op.client.as_str())
                    .and_then(|entries| serving_entry(op, entries)),
                op.key.as_str(),
            ),
        };
        match ran {
            Some(e) if e.role == redsim_fake_redis::Role::Master => {}
            Some(e) => c.violations.push(Violation {
                at_ms: sim_ms(e.time_ms),
                what: format!("{} wrote {what} on {} while it was a replica", op.client, e.node),
            }),
            None => c.violations.push(Violation {
                at_ms: op.complete_ms,
                what: format!("{} was told {what} was written, but no node executed it", op.client),
            }),
        }
    }
    c.metrics.push(("acknowledged writes".into(), acked as f64));
    c
}
