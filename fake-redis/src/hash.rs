//! A hash's fields, in the order Redis lists them.
//!
//! A small Redis hash is a listpack: fields stay in the order they were first set (overwriting a value keeps its
//! place; deleting closes the gap), and `HGETALL`, `HKEYS`, `HVALS` list them in that order. Clients and tests
//! see it, so the fake keeps it: each field carries the sequence number of its first insertion, and a second map
//! from sequence number to field gives the order. Both are `BTreeMap`s, so every operation is logarithmic and
//! every walk deterministic. Past the listpack thresholds Redis moves to a hash table whose order is its own;
//! the fake keeps insertion order there too.

use std::collections::BTreeMap;

use bytes::Bytes;

use crate::keyspace::own;
use crate::object::{LISTPACK_MAX_ENTRIES, LISTPACK_MAX_VALUE_BYTES};

/// A hash value.
#[derive(Debug, Clone, Default)]
pub(crate) struct Hash {
    fields: BTreeMap<Bytes, (u64, Bytes)>,
    order: BTreeMap<u64, Bytes>,
    next_seq: u64,
    /// Converted to a hash table (see [`crate::object`]).
    big: bool,
}

/// Two hashes are equal when they hold the same pairs, whatever their order or encoding.
impl PartialEq for Hash {
    fn eq(&self, other: &Self) -> bool {
        self.fields.len() == other.fields.len()
            && self
                .fields
                .iter()
                .zip(other.fields.iter())
                .all(|((f1, (_, v1)), (f2, (_, v2)))| f1 == f2 && v1 == v2)
    }
}

impl Hash {
    /// The value of a field.
    pub(crate) fn get(&self, field: &[u8]) -> Option<&Bytes> {
        self.fields.get(field).map(|(_, v)| v)
    }

    /// Sets a field; whether it is new.
    pub(crate) fn insert(&mut self, field: Bytes, value: Bytes) -> bool {
        if field.len() > LISTPACK_MAX_VALUE_BYTES || value.len() > LISTPACK_MAX_VALUE_BYTES {
            self.big = true;
        }
        let value = own(value);
        if let Some((_, v)) = self.fields.get_mut(&field) {
            *v = value;
            return false;
        }
        let field = own(field);
        let seq = self.next_seq;
        self.next_seq += 1;
        self.order.insert(seq, field.clone());
        self.fields.insert(field, (seq, value));
        if self.fields.len() > LISTPACK_MAX_ENTRIES {
            self.big = true;
        }
        true
    }

    /// Deletes a field; whether it was there.
    pub(crate) fn remove(&mut self, field: &[u8]) -> bool {
        match self.fields.remove(field) {
            Some((seq, _)) => {
                self.order.remove(&seq);
                true
            }
            None => false,
        }
    }

    /// Number of fields.
    pub(crate) fn len(&self) -> usize {
        self.fields.len()
    }

    /// Whether no field is left.
    pub(crate) fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }

    /// Whether Redis would hold it in a hash table rather than a listpack.
    pub(crate) fn is_big(&self) -> bool {
        self.big
    }

    /// Field/value pairs in Redis's listing order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&Bytes, &Bytes)> {
        self.order
            .values()
            .filter_map(|f| self.fields.get_key_value(f).map(|(f, (_, v))| (f, v)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(h: &Hash) -> Vec<&[u8]> {
        h.iter().map(|(f, _)| &f[..]).collect()
    }

    #[test]
    fn fields_keep_their_first_insertion_order_as_a_listpack_does() {
        let mut h = Hash::default();
        for f in ["c", "a", "b"] {
            assert!(h.insert(f.into(), "1".into()));
        }
        assert!(!h.insert("a".into(), "2".into()), "overwriting is not new");
        assert_eq!(fields(&h), [&b"c"[..], b"a", b"b"]);
        assert_eq!(h.get(b"a").map(|v| &v[..]), Some(&b"2"[..]));
        assert!(h.remove(b"c") && !h.remove(b"c"));
        h.insert("c".into(), "3".into());
        assert_eq!(
            fields(&h),
            [&b"a"[..], b"b", b"c"],
            "a deleted field comes back at the end"
        );
    }

    #[test]
    fn a_hash_converts_past_the_thresholds_and_never_back() {
        let mut h = Hash::default();
        for i in 0..LISTPACK_MAX_ENTRIES {
            h.insert(i.to_string().into(), "v".into());
        }
        assert!(!h.is_big());
        h.insert("one more".into(), "v".into());
        assert!(h.is_big());
        h.remove(b"one more");
        assert!(h.is_big(), "Redis never converts back");
        let mut long = Hash::default();
        long.insert("f".into(), Bytes::from(vec![b'x'; LISTPACK_MAX_VALUE_BYTES + 1]));
        assert!(long.is_big());
    }
}
