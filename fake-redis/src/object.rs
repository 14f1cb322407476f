//! What a key holds: a string, hash, list, set or sorted set (Redis's `robj`), and the encoding Redis would give
//! it.
//!
//! Redis stores small aggregates compactly (a listpack, an intset) and converts them to a hash table or skiplist
//! once they grow past a threshold, and never back. The encoding is visible to clients: `OBJECT ENCODING`
//! names it, a small hash or set answers `HSCAN`/`SSCAN` in a single call whatever `COUNT` says, and an intset
//! lists its members in numeric order. So each aggregate here remembers whether it has been converted, with
//! Redis 7.0's default thresholds, while its contents live in plain ordered collections (deterministic
//! iteration). A snapshot does not carry the flag: as when Redis loads an RDB file, a resynchronised replica
//! picks the encoding from the contents.

use std::collections::{BTreeSet, VecDeque};

use bytes::Bytes;

use crate::hash::Hash;
use crate::zset::ZSet;

/// `hash-max-listpack-entries` and `zset-max-listpack-entries`: more fields than this and the aggregate is a
/// hash table or skiplist.
pub const LISTPACK_MAX_ENTRIES: usize = 128;
/// `hash-max-listpack-value` and `zset-max-listpack-value`: a field, value or member longer than this converts.
pub const LISTPACK_MAX_VALUE_BYTES: usize = 64;
/// `set-max-intset-entries`: a set of integers larger than this is a hash table.
pub const INTSET_MAX_ENTRIES: usize = 512;

/// The keyspace's value for one key.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Object {
    String(Bytes),
    Hash(Hash),
    List(VecDeque<Bytes>),
    Set(Set),
    ZSet(ZSet),
}

impl Object {
    /// The name `TYPE` answers.
    pub(crate) fn type_name(&self) -> &'static str {
        match self {
            Object::String(_) => "string",
            Object::Hash(_) => "hash",
            Object::List(_) => "list",
            Object::Set(_) => "set",
            Object::ZSet(_) => "zset",
        }
    }

    /// The name `OBJECT ENCODING` answers.
    pub(crate) fn encoding(&self) -> &'static str {
        match self {
            // Redis keeps a string that reads as a 64-bit integer as a number, a short one embedded in its
            // object header (44 bytes fit an allocation of 64), a longer one as a separate buffer.
            Object::String(s) if s.len() <= 20 && redsim_resp::parse_int(s).is_some() => "int",
            Object::String(s) if s.len() <= 44 => "embstr",
            Object::String(_) => "raw",
            Object::Hash(h) if h.is_big() => "hashtable",
            Object::Hash(_) => "listpack",
            // Redis 7.0 keeps every list in a quicklist (listpack-encoded small lists came in 7.2).
            Object::List(_) => "quicklist",
            Object::Set(s) if s.hashtable => "hashtable",
            Object::Set(_) => "intset",
            Object::ZSet(z) if z.is_big() => "skiplist",
            Object::ZSet(_) => "listpack",
        }
    }

    /// Whether an aggregate has no element left (Redis deletes such a key).
    pub(crate) fn is_empty_aggregate(&self) -> bool {
        match self {
            Object::String(_) => false,
            Object::Hash(h) => h.is_empty(),
            Object::List(l) => l.is_empty(),
            Object::Set(s) => s.members.is_empty(),
            Object::ZSet(z) => z.is_empty(),
        }
    }

    /// The contents as plain data.
    pub(crate) fn to_value(&self) -> Value {
        match self {
            Object::String(s) => Value::String(s.clone()),
            Object::Hash(h) => {
                let mut pairs: Vec<(Bytes, Bytes)> = h.iter().map(|(f, v)| (f.clone(), v.clone())).collect();
                pairs.sort();
                Value::Hash(pairs)
            }
            Object::List(l) => Value::List(l.iter().cloned().collect()),
            Object::Set(s) => Value::Set(s.members.iter().cloned().collect()),
            Object::ZSet(z) => Value::ZSet(z.iter().map(|(m, s)| (m.clone(), s)).collect()),
        }
    }
}

/// A key's contents as plain data, the same on any two nodes that agree, whatever order or encoding their
/// histories left them in: hash fields and set members sorted, list elements in list order, sorted-set members in
/// score order.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Value {
    /// A string.
    String(Bytes),
    /// A hash's field/value pairs, sorted by field.
    Hash(Vec<(Bytes, Bytes)>),
    /// A list's elements, head first.
    List(Vec<Bytes>),
    /// A set's members, sorted.
    Set(Vec<Bytes>),
    /// A sorted set's members with their scores, lowest score first (ties by member).
    ZSet(Vec<(Bytes, f64)>),
}

impl Value {
    /// The string, if the value is one.
    pub fn as_string(&self) -> Option<&Bytes> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }
}

/// A set: its members in byte order, and whether Redis would have converted it from an intset to a hash table.
#[derive(Debug, Clone, Default)]
pub(crate) struct Set {
    pub members: BTreeSet<Bytes>,
    pub hashtable: bool,
}

impl PartialEq for Set {
    fn eq(&self, other: &Self) -> bool {
        self.members == other.members
    }
}

impl Set {
    /// Adds a member; whether it was new. A member that is not a canonical 64-bit integer, or one too many, makes
    /// the set a hash table for good.
    pub(crate) fn insert(&mut self, member: Bytes) -> bool {
        if !self.hashtable {
            let integer = redsim_resp::parse_int(&member).is_some();
            let grows_past = self.members.len() >= INTSET_MAX_ENTRIES && !self.members.contains(&member);
            self.hashtable = !integer || grows_past;
        }
        self.members.insert(crate::keyspace::own(member))
    }

    /// The members in the order Redis lists them: numeric for an intset, the fake's byte order for a hash table
    /// (Redis's is its table's, which no client may rely on).
    pub(crate) fn ordered(&self) -> Vec<Bytes> {
        let mut out: Vec<Bytes> = self.members.iter().cloned().collect();
        if !self.hashtable {
            out.sort_by_key(|m| redsim_resp::parse_int(m).unwrap_or(0));
        }
        out
    }

    /// A set built from a snapshot or a computation, encoded as Redis would encode it fresh.
    pub(crate) fn from_members(members: impl IntoIterator<Item = Bytes>) -> Set {
        let mut s = Set::default();
        for m in members {
            s.insert(m);
        }
        s
    }
}
