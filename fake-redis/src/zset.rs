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

#[allow(dead_code)] // The sorted-set and set commands arrive in the next commits.
impl ZSet {
    /// A member's score.
    pub(crate) fn score(&self, member: &[u8]) -> Option<f64> {
        self.scores.get(member).copied()
    }

    /// Sets a member's score; returns the score it had.
    pub(crate) fn insert(&mut self, member: Bytes, score: f64) -> Option<f64> {
        if member.len() > LISTPACK_MAX_VALUE_BYTES {
            self.big = true;
        }
        if let Some((m, &old)) = self.scores.get_key_value(&member) {
            let m = m.clone();
            self.order.remove(&Scored(old, m.clone()));
            self.order.insert(Scored(score, m.clone()));
            self.scores.insert(m, score);
            return Some(old);
        }
        let member = own(member);
        self.scores.insert(member.clone(), score);
        self.order.insert(Scored(score, member));
        if self.scores.len() > LISTPACK_MAX_ENTRIES {
            self.big = true;
        }
        None
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

    /// The 0-based rank of a member, lowest score first.
    pub(crate) fn rank(&self, member: &[u8]) -> Option<usize> {
        let score = self.score(member)?;
        let key = Scored(score, Bytes::copy_from_slice(member));
        Some(self.order.range(..key).count())
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
        assert_eq!(z.rank(b"c"), Some(2));
        assert_eq!(z.rank(b"a"), Some(0));
        assert!(z.remove(b"a") && !z.remove(b"a"));
        assert_eq!(z.len(), 2);
        assert_eq!(z.rank(b"b"), Some(0));
    }
}
