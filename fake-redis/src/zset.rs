//! A sorted set: members with scores, ordered by score and then by member bytes, as Redis orders them.
//!
//! Two `BTreeMap`s play the parts of Redis's dict and skiplist: one finds a member's score, the other keeps the
//! order. Scores are never NaN (commands refuse one before it gets here), so ordering by `partial_cmp` is total;
//! `-0` and `0` compare equal, as in Redis, and ties fall to the member.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};

use bytes::Bytes;

use crate::keyspace::own;
use crate::object::{LISTPACK_MAX_ENTRIES, LISTPACK_MAX_VALUE_BYTES};

/// A (score, member) pair in the set's order.
#[derive(Debug, Clone)]
pub(crate) struct Scored(pub f64, pub Bytes);

impl PartialEq for Scored {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Scored {}
impl PartialOrd for Scored {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Scored {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0
            .partial_cmp(&other.0)
            .unwrap_or(Ordering::Equal)
            .then_with(|| self.1.cmp(&other.1))
    }
}

/// A sorted-set value.
#[derive(Debug, Clone, Default)]
pub(crate) struct ZSet {
    scores: BTreeMap<Bytes, f64>,
    order: BTreeSet<Scored>,
    /// Converted to a skiplist (see [`crate::object`]).
    big: bool,
}

/// Equal when the same members have the same scores, whatever the encoding.
impl PartialEq for ZSet {
    fn eq(&self, other: &Self) -> bool {
        self.scores.len() == other.scores.len()
            && self
                .scores
                .iter()
                .zip(other.scores.iter())
                .all(|((m1, s1), (m2, s2))| m1 == m2 && s1.to_bits() == s2.to_bits())
    }
}

/// Bounds within which a listpack keeps a score as an integer (Redis's `double2ll`: within `LLONG_MAX / 2`).
const LISTPACK_INT_SCORE_MAX: f64 = (i64::MAX / 2) as f64;

impl ZSet {
    /// A member's score.
    pub(crate) fn score(&self, member: &[u8]) -> Option<f64> {
        self.scores.get(member).copied()
    }

    /// Sets a member's score; returns the score it had.
    ///
    /// A listpack converts to a skiplist before a member that would make it too long or too wide goes in (an
    /// update never converts), and a listpack stores an integral score as an integer, so `-0` goes in as `0`
    /// there; a skiplist keeps `-0`. `ZSCORE` shows the difference, so the fake keeps it.
    pub(crate) fn insert(&mut self, member: Bytes, score: f64) -> Option<f64> {
        if let Some((m, &old)) = self.scores.get_key_value(&member) {
            let score = self.stored(score);
            let m = m.clone();
            self.order.remove(&Scored(old, m.clone()));
            self.order.insert(Scored(score, m.clone()));
            self.scores.insert(m, score);
            return Some(old);
        }
        if member.len() > LISTPACK_MAX_VALUE_BYTES || self.scores.len() + 1 > LISTPACK_MAX_ENTRIES {
            self.big = true;
        }
        let score = self.stored(score);
        let member = own(member);
        self.scores.insert(member.clone(), score);
        self.order.insert(Scored(score, member));
        None
    }

    /// A sorted set loaded whole, as from a snapshot: Redis loads it into a skiplist and converts it to a
    /// listpack afterwards if it is small, so its encoding (and with it how `-0` is kept) depends on the final
    /// size, not on the order the members come in.
    pub(crate) fn from_pairs(pairs: Vec<(Bytes, f64)>) -> Self {
        let big = pairs.len() > LISTPACK_MAX_ENTRIES || pairs.iter().any(|(m, _)| m.len() > LISTPACK_MAX_VALUE_BYTES);
        let mut z = ZSet { big, ..ZSet::default() };
        for (m, s) in pairs {
            z.insert(m, s);
        }
        z
    }

    /// The score as the current encoding stores it.
    fn stored(&self, score: f64) -> f64 {
        if !self.big && score == 0.0 { 0.0 } else { score }
    }

    /// A score as ZSCAN lists it: a listpack's integer text for an integral score it holds as an integer,
    /// otherwise `%.17g` (which is `1e+17` where a listpack says `100000000000000000`).
    pub(crate) fn scan_text(&self, score: f64) -> String {
        if !self.big && score.fract() == 0.0 && score.abs() <= LISTPACK_INT_SCORE_MAX {
            (score as i64).to_string()
        } else {
            redsim_resp::format_double(score)
        }
    }

    /// Takes the lowest (or, with `max`, the highest) member out.
    pub(crate) fn pop(&mut self, max: bool) -> Option<(Bytes, f64)> {
        let first = if max {
            self.order.pop_last()
        } else {
            self.order.pop_first()
        }?;
        self.scores.remove(&first.1);
        Some((first.1, first.0))
    }

    /// Removes a member; whether it was there.
    pub(crate) fn remove(&mut self, member: &[u8]) -> bool {
        match self.scores.remove_entry(member) {
            Some((m, s)) => {
                self.order.remove(&Scored(s, m));
                true
            }
            None => false,
        }
    }

    /// Number of members.
    pub(crate) fn len(&self) -> usize {
        self.scores.len()
    }

    /// Whether no member is left.
    pub(crate) fn is_empty(&self) -> bool {
        self.scores.is_empty()
    }

    /// Whether Redis would hold it in a skiplist rather than a listpack.
    pub(crate) fn is_big(&self) -> bool {
        self.big
    }

    /// Members and scores, lowest first.
    pub(crate) fn iter(&self) -> impl DoubleEndedIterator<Item = (&Bytes, f64)> {
        self.order.iter().map(|Scored(s, m)| (m, *s))
    }

    /// The 0-based rank of a member, lowest score first (highest first with `rev`).
    pub(crate) fn rank(&self, member: &[u8], rev: bool) -> Option<usize> {
        let score = self.score(member)?;
        let key = Scored(score, Bytes::copy_from_slice(member));
        let below = self.order.range(..key).count();
        Some(if rev { self.len() - 1 - below } else { below })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn members_order_by_score_then_bytes_and_move_when_rescored() {
        let mut z = ZSet::default();
        assert_eq!(z.insert("b".into(), 1.0), None);
        assert_eq!(z.insert("a".into(), 1.0), None);
        assert_eq!(z.insert("c".into(), 0.5), None);
        let order: Vec<&[u8]> = z.iter().map(|(m, _)| &m[..]).collect();
        assert_eq!(order, [&b"c"[..], b"a", b"b"]);
        assert_eq!(z.insert("c".into(), 2.0), Some(0.5));
        assert_eq!(z.rank(b"c", false), Some(2));
        assert_eq!(z.rank(b"c", true), Some(0));
        assert_eq!(z.rank(b"a", false), Some(0));
        assert!(z.remove(b"a") && !z.remove(b"a"));
        assert_eq!(z.len(), 2);
        assert_eq!(z.rank(b"b", false), Some(0));
        assert_eq!(z.pop(true), Some(("c".into(), 2.0)));
        assert_eq!(z.pop(false), Some(("b".into(), 1.0)));
        assert_eq!(z.pop(false), None);
    }

    #[test]
    fn a_listpack_stores_negative_zero_as_zero_and_a_skiplist_keeps_it() {
        let mut small = ZSet::default();
        small.insert("m".into(), -0.0);
        assert!(small.score(b"m").unwrap().is_sign_positive());
        assert_eq!(small.scan_text(1e17), "100000000000000000");
        let mut big = ZSet::default();
        for i in 0..=LISTPACK_MAX_ENTRIES {
            big.insert(i.to_string().into(), i as f64);
        }
        assert!(big.is_big());
        big.insert("m".into(), -0.0);
        assert!(big.score(b"m").unwrap().is_sign_negative());
        assert_eq!(big.scan_text(1e17), "1e+17");
    }

    #[test]
    fn the_129th_member_converts_before_it_goes_in() {
        let mut z = ZSet::default();
        for i in 0..LISTPACK_MAX_ENTRIES {
            z.insert(i.to_string().into(), 1.0);
        }
        assert!(!z.is_big());
        z.insert("last".into(), -0.0);
        assert!(z.is_big());
        assert!(z.score(b"last").unwrap().is_sign_negative());
    }
}
