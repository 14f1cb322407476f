//! The keyspace: keys, what each holds (an [`Object`]: string, hash, list, set or sorted set) and optional
//! expiry deadlines.
//!
//! Deadlines are absolute Unix milliseconds on the network's clock (simulated time under turmoil), as Redis
//! replicates them (`PEXPIREAT`, `SET ... PXAT`), so a replica judges expiry exactly like its master. A `BTreeMap`
//! keeps every iteration (KEYS, snapshots, expiry sweeps) in one deterministic order.

use std::collections::BTreeMap;

use bytes::Bytes;
use redsim_resp::Reply;

use crate::hash::Hash;
use crate::object::{Object, Set, Value};
use crate::zset::ZSet;

/// Below this size a key or value is copied out of the buffer it arrived in before it is stored (Redis's
/// `PROTO_MBULK_BIG_ARG`, 32 KB, draws the same line).
///
/// A request's arguments are slices of its connection's read buffer, and a stored slice keeps the whole buffer
/// alive: without the copy, a 10-byte value set in its own read would hold a 16 KB buffer for as long as the
/// key lives. An argument this large or larger has a buffer of about its own size, so it is kept as it is,
/// without a copy, as Redis keeps a big argument's buffer as the value.
pub const OWN_COPY_BELOW_BYTES: usize = 32 * 1024;

/// The bytes in an allocation of their own, unless large (see [`OWN_COPY_BELOW_BYTES`]).
pub(crate) fn own(b: Bytes) -> Bytes {
    if b.len() < OWN_COPY_BELOW_BYTES {
        Bytes::copy_from_slice(&b)
    } else {
        b
    }
}

/// One stored value.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Entry {
    /// What the key holds.
    pub value: Object,
    /// When it expires, in Unix milliseconds.
    pub expire_at_ms: Option<u64>,
    /// A string that APPEND grew in place: Redis keeps it as a raw buffer (`OBJECT ENCODING` says `raw`) until
    /// it is replaced. Not part of a snapshot, as a replica loading one re-encodes its strings.
    pub grown: bool,
}

impl Entry {
    /// Whether the entry is logically gone at `now_ms`.
    pub fn is_expired(&self, now_ms: u64) -> bool {
        self.expire_at_ms.is_some_and(|t| t <= now_ms)
    }
}

/// The whole keyspace of database 0 (the fake supports only database 0, as Sentinel deployments use).
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Keyspace {
    entries: BTreeMap<Bytes, Entry>,
    /// Keys some connection WATCHes: how many watch it, and the version of its last change. Only watched keys
    /// are versioned, so the map stays as small as the set of watches.
    watched: BTreeMap<Bytes, Watched>,
    next_version: u64,
    /// Bumped by every change to any key: equal counts mean equal contents, so a full-resync snapshot built at
    /// one count can be shared with replicas that arrive before the next change.
    changes: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Watched {
    watchers: u32,
    version: u64,
}

impl Keyspace {
    /// An empty keyspace.
    pub fn new() -> Self {
        Self::default()
    }

    /// The live entry under `key` at `now_ms`, ignoring (but not deleting) an expired one.
    pub fn get(&self, key: &[u8], now_ms: u64) -> Option<&Entry> {
        self.entries.get(key).filter(|e| !e.is_expired(now_ms))
    }

    /// A mutable live entry. Asking for one counts as a change for WATCH, as the callers (EXPIRE, PERSIST) are
    /// writes; a write that turns out to change nothing then aborts a watcher's EXEC, where Redis would not.
    pub fn get_mut(&mut self, key: &[u8], now_ms: u64) -> Option<&mut Entry> {
        self.touch(key);
        self.entries.get_mut(key).filter(|e| !e.is_expired(now_ms))
    }

    /// Stores a string, replacing any entry.
    pub fn set(&mut self, key: Bytes, value: Bytes, expire_at_ms: Option<u64>) {
        self.set_object(key, Object::String(own(value)), expire_at_ms);
    }

    /// Stores any value, replacing any entry.
    pub fn set_object(&mut self, key: Bytes, value: Object, expire_at_ms: Option<u64>) {
        self.touch(&key);
        self.entries.insert(
            own(key),
            Entry {
                value,
                expire_at_ms,
                grown: false,
            },
        );
    }

    /// Stores a whole entry (RENAME and COPY move or copy one as it is, encoding included).
    pub fn set_entry(&mut self, key: Bytes, entry: Entry) {
        self.touch(&key);
        self.entries.insert(own(key), entry);
    }

    /// The live string under `key`: `Ok(None)` when there is none, WRONGTYPE when the key holds something else.
    pub fn get_string(&self, key: &[u8], now_ms: u64) -> Result<Option<&Bytes>, Reply> {
        match self.get(key, now_ms).map(|e| &e.value) {
            None => Ok(None),
            Some(Object::String(s)) => Ok(Some(s)),
            Some(_) => Err(wrong_type()),
        }
    }

    /// Deletes `key` if it holds an aggregate with nothing left in it, as Redis deletes a hash, list, set or
    /// sorted set that loses its last element.
    pub fn remove_if_empty(&mut self, key: &[u8]) {
        if self.entries.get(key).is_some_and(|e| e.value.is_empty_aggregate()) {
            self.entries.remove(key);
            self.touch(key);
        }
    }

    /// Removes a key whatever its expiry; returns whether it was live at `now_ms`.
    pub fn remove(&mut self, key: &[u8], now_ms: u64) -> bool {
        let removed = self.entries.remove(key);
        if removed.is_some() {
            self.touch(key);
        }
        removed.is_some_and(|e| !e.is_expired(now_ms))
    }

    /// Deletes the key if it has expired. Only masters do this (and propagate a DEL); replicas wait for it.
    pub fn expire_if_needed(&mut self, key: &[u8], now_ms: u64) -> bool {
        if self.entries.get(key).is_some_and(|e| e.is_expired(now_ms)) {
            self.entries.remove(key);
            self.touch(key);
            true
        } else {
            false
        }
    }

    /// Keys whose deadline has passed, in key order (bounded by `max`, like Redis's active expiry cycle).
    pub fn expired_keys(&self, now_ms: u64, max: usize) -> Vec<Bytes> {
        self.entries
            .iter()
            .filter(|(_, e)| e.is_expired(now_ms))
            .take(max)
            .map(|(k, _)| k.clone())
            .collect()
    }

    /// Live keys matching a glob pattern, in key order.
    pub fn keys(&self, pattern: &[u8], now_ms: u64) -> Vec<Bytes> {
        self.entries
            .iter()
            .filter(|(k, e)| !e.is_expired(now_ms) && redsim_resp::glob_match(pattern, k))
            .map(|(k, _)| k.clone())
            .collect()
    }

    /// Number of stored keys, expired-but-not-yet-deleted included (as Redis's DBSIZE counts them).
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no key is stored.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Number of stored keys that carry a deadline.
    pub fn expires_count(&self) -> usize {
        self.entries.values().filter(|e| e.expire_at_ms.is_some()).count()
    }

    /// Drops everything.
    pub fn clear(&mut self) {
        let stored: Vec<Bytes> = self
            .watched
            .keys()
            .filter(|k| self.entries.contains_key(*k))
            .cloned()
            .collect();
        for k in stored {
            self.touch(&k);
        }
        self.changes += 1;
        self.entries.clear();
    }

    /// Starts watching a key for one more connection; returns its current version, which
    /// [`Keyspace::version`] will still return at EXEC if nothing changed the key.
    pub fn watch(&mut self, key: &Bytes) -> u64 {
        let w = self.watched.entry(key.clone()).or_default();
        w.watchers += 1;
        w.version
    }

    /// One connection stops watching a key.
    pub fn unwatch(&mut self, key: &[u8]) {
        if let Some(w) = self.watched.get_mut(key) {
            w.watchers = w.watchers.saturating_sub(1);
            if w.watchers == 0 {
                self.watched.remove(key);
            }
        }
    }

    /// The version of a watched key (0 for a key nobody watches).
    pub fn version(&self, key: &[u8]) -> u64 {
        self.watched.get(key).map_or(0, |w| w.version)
    }

    /// How many changes the keyspace has seen: a snapshot taken at one count describes the keyspace for as long
    /// as the count stays the same.
    pub fn changes(&self) -> u64 {
        self.changes
    }

    fn touch(&mut self, key: &[u8]) {
        self.changes += 1;
        if let Some(w) = self.watched.get_mut(key) {
            self.next_version += 1;
            w.version = self.next_version;
        }
    }

    /// Every stored entry, in key order.
    pub fn iter(&self) -> impl Iterator<Item = (&Bytes, &Entry)> {
        self.entries.iter()
    }

    /// The live contents at `now_ms` as `(key, value, deadline)`: what two nodes must agree on after
    /// replication.
    pub fn live_values(&self, now_ms: u64) -> Vec<(Bytes, Value, Option<u64>)> {
        self.entries
            .iter()
            .filter(|(_, e)| !e.is_expired(now_ms))
            .map(|(k, e)| (k.clone(), e.value.to_value(), e.expire_at_ms))
            .collect()
    }
}

/// The error for a command on a key that holds another kind of value.
pub(crate) fn wrong_type() -> Reply {
    Reply::Error("WRONGTYPE Operation against a key holding the wrong kind of value".into())
}

/// For each aggregate type: a reader (`Ok(None)` for a missing key, WRONGTYPE for another type), a writer on an
/// existing key, and a writer that creates the key empty when it is missing. A writer counts as a change for
/// WATCH (see [`Keyspace::get_mut`]); callers follow a removal with [`Keyspace::remove_if_empty`].
macro_rules! typed_access {
    ($get:ident, $get_mut:ident, $create:ident, $variant:ident, $ty:ty) => {
        impl Keyspace {
            #[allow(dead_code)]
            pub fn $get(&self, key: &[u8], now_ms: u64) -> Result<Option<&$ty>, Reply> {
                match self.get(key, now_ms).map(|e| &e.value) {
                    None => Ok(None),
                    Some(Object::$variant(v)) => Ok(Some(v)),
                    Some(_) => Err(wrong_type()),
                }
            }

            #[allow(dead_code)]
            pub fn $get_mut(&mut self, key: &[u8], now_ms: u64) -> Result<Option<&mut $ty>, Reply> {
                match self.get(key, now_ms).map(|e| &e.value) {
                    None => return Ok(None),
                    Some(Object::$variant(_)) => {}
                    Some(_) => return Err(wrong_type()),
                }
                match self.get_mut(key, now_ms).map(|e| &mut e.value) {
                    Some(Object::$variant(v)) => Ok(Some(v)),
                    _ => Ok(None),
                }
            }

            #[allow(dead_code)]
            pub fn $create(&mut self, key: &Bytes, now_ms: u64) -> Result<&mut $ty, Reply> {
                match self.get(key, now_ms).map(|e| &e.value) {
                    Some(Object::$variant(_)) => {}
                    Some(_) => return Err(wrong_type()),
                    // Nothing live: an expired entry (on a replica, waiting for its DEL) is replaced.
                    None => {
                        self.entries.remove(&key[..]);
                    }
                }
                self.touch(key);
                let entry = self.entries.entry(own(key.clone())).or_insert_with(|| Entry {
                    value: Object::$variant(<$ty>::default()),
                    expire_at_ms: None,
                    grown: false,
                });
                match &mut entry.value {
                    Object::$variant(v) => Ok(v),
                    _ => Err(wrong_type()),
                }
            }
        }
    };
}

typed_access!(get_hash, hash_mut, hash_or_create, Hash, Hash);
typed_access!(
    get_list,
    list_mut,
    list_or_create,
    List,
    std::collections::VecDeque<Bytes>
);
typed_access!(get_set, set_mut, set_or_create, Set, Set);
typed_access!(get_zset, zset_mut, zset_or_create, ZSet, ZSet);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_watched_key_changes_version_on_write_delete_and_flush_only() {
        let mut ks = Keyspace::new();
        let k = Bytes::from_static(b"k");
        ks.set(k.clone(), "1".into(), None);
        let v0 = ks.watch(&k);
        assert_eq!(ks.version(&k), v0);
        ks.set("other".into(), "x".into(), None);
        assert_eq!(ks.version(&k), v0, "another key's write leaves it alone");
        ks.set(k.clone(), "2".into(), None);
        let v1 = ks.version(&k);
        assert_ne!(v1, v0);
        ks.clear();
        assert_ne!(ks.version(&k), v1, "FLUSHALL touches a stored watched key");
        ks.unwatch(&k);
        assert!(ks.watched.is_empty(), "the last watcher gone, nothing is kept");
    }

    #[test]
    fn expiry_is_logical_until_deleted() {
        let mut ks = Keyspace::new();
        ks.set("k".into(), "v".into(), Some(100));
        assert!(ks.get(b"k", 99).is_some());
        assert!(ks.get(b"k", 100).is_none());
        assert_eq!(ks.len(), 1);
        assert!(ks.expire_if_needed(b"k", 100));
        assert_eq!(ks.len(), 0);
    }
}
