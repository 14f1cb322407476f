//! `no_reply_mixup` (always): every successful read returns nil or a value some client wrote to that key.
//! Values are unique and name their key (`<client>:<seq>:<key>`), so a reply matched to the wrong request (a
//! late reply on a reused connection) shows up as a value of another key, or as another command's reply. A key
//! some write changed without recording the value it stored (a user's `INCRBY`) cannot be judged so, and is
//! not: the metric counts the reads judged.

use std::collections::{BTreeMap, BTreeSet};

use super::{Check, Flavour, Violation};
use crate::history::{History, OpKind};

/// Runs the checker.
pub fn check(h: &History) -> Check {
    let mut c = Check::new("no_reply_mixup", Flavour::Always);
    let mut written: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    let mut untraced: BTreeSet<&str> = BTreeSet::new();
    for op in h.ops.iter().filter(|o| o.kind == OpKind::Write) {
        match &op.written {
            Some(v) => {
                written.entry(op.key.as_str()).or_default().insert(v.as_str());
            }
            None => {
                untraced.insert(op.key.as_str());
            }
        }
    }
    let mut reads = 0;
    for op in h.ops.iter().filter(|o| o.kind == OpKind::Read) {
        let Ok(Some(value)) = &op.outcome else { continue };
        if untraced.contains(op.key.as_str()) {
            continue;
        }
        reads += 1;
        if !written
            .get(op.key.as_str())
            .is_some_and(|vs| vs.contains(value.as_str()))
        {
            c.violations.push(Violation {
                at_ms: op.complete_ms,
                what: format!(
                    "{} read {} and got {value:?}, which nobody wrote to {}",
                    op.client, op.key, op.key
                ),
            });
        }
    }
    c.metrics.push(("non-nil reads".into(), reads as f64));
    c
}
