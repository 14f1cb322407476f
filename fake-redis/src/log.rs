//! The execution log: every command a node executes, with the node's role at that instant.
//!
//! This is the ground truth the harness's checkers read: "no read from a replica-only client ran on a master"
//! is decided here, never from what a client believes it did. Give every node of a simulation the same
//! [`ExecLog`] and its entries come out in one total order, the order in which the single-threaded simulation
//! executed them.

use std::sync::{Arc, Mutex};

/// The replication role of a data node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    /// Accepts writes, streams them to replicas.
    Master,
    /// Follows a master.
    Replica,
}

impl Role {
    /// `master` or `slave`, as ROLE and INFO spell it.
    pub fn redis_name(self) -> &'static str {
        match self {
            Role::Master => "master",
            Role::Replica => "slave",
        }
    }
}

/// What kind of connection sent a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ClientKind {
    /// An ordinary client.
    Normal,
    /// A client in Pub/Sub mode.
    PubSub,
    /// A replica's connection to this node (this node is its master).
    Replica,
    /// This node's link to its own master: commands applied from the replication stream.
    Master,
}

impl ClientKind {
    /// The name `CLIENT KILL TYPE` uses.
    pub fn redis_name(self) -> &'static str {
        match self {
            ClientKind::Normal => "normal",
            ClientKind::PubSub => "pubsub",
            ClientKind::Replica => "replica",
            ClientKind::Master => "master",
        }
    }
}

/// One executed command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogEntry {
    /// Position in the shared log: a total order across every node that writes to it.
    pub seq: u64,
    /// When it ran, in Unix milliseconds of the network's clock (simulated under turmoil).
    pub time_ms: u64,
    /// The node's configured name.
    pub node: String,
    /// The node's role at the instant the command ran.
    pub role: Role,
    /// The connection's id (as `CLIENT ID` reports it).
    pub client_id: u64,
    /// The connection's name (`CLIENT SETNAME`), if any.
    pub client_name: Option<String>,
    /// The kind of connection.
    pub client_kind: ClientKind,
    /// The command and its arguments, lossy UTF-8. Long arguments are cut to 200 characters and `...`; past
    /// 32 arguments the last one kept says how many more there were (`... (N more arguments)`), as Redis's
    /// SLOWLOG does, so one command of a million arguments costs the log what one of 32 costs.
    pub command: Vec<String>,
    /// A one-line summary of the reply.
    pub reply: String,
}

impl LogEntry {
    /// The command name, upper-cased.
    pub fn name(&self) -> String {
        self.command.first().map(|c| c.to_ascii_uppercase()).unwrap_or_default()
    }

    /// The first key the command names: its first argument, except for scripts (`EVAL script numkeys key ...`),
    /// whose first key follows the key count. `None` for a command without one (or a script given no keys).
    pub fn key(&self) -> Option<&str> {
        let script = ["EVAL", "EVALSHA", "EVAL_RO", "EVALSHA_RO"].iter().any(|n| self.is(n));
        if script {
            let numkeys: usize = self.command.get(2)?.parse().ok()?;
            return if numkeys > 0 {
                self.command.get(3).map(String::as_str)
            } else {
                None
            };
        }
        self.command.get(1).map(String::as_str)
    }

    /// Whether the command is `name`, in any case (without building a string: checkers ask this of every
    /// entry).
    pub fn is(&self, name: &str) -> bool {
        self.command.first().is_some_and(|c| c.eq_ignore_ascii_case(name))
    }

    /// About how many bytes the entry holds: its text plus the fixed size of each part. The log's byte limit
    /// counts this.
    pub fn size_bytes(&self) -> usize {
        let string = std::mem::size_of::<String>();
        std::mem::size_of::<LogEntry>()
            + self.node.len()
            + self.client_name.as_ref().map_or(0, String::len)
            + self.command.iter().map(|a| string + a.len()).sum::<usize>()
            + self.reply.len()
    }
}

#[derive(Debug, Default)]
struct Inner {
    entries: Vec<LogEntry>,
    /// The sum of the kept entries' [`LogEntry::size_bytes`].
    bytes: usize,
    dropped: u64,
    next_seq: u64,
}

/// A shared, bounded, append-only log. Cloning shares it.
#[derive(Debug, Clone, Default)]
pub struct ExecLog {
    inner: Arc<Mutex<Inner>>,
}

impl ExecLog {
    /// An empty log.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends the entry `build` makes (its `seq` is assigned here), unless the log already holds `max_entries`
    /// entries or the entry would take it past `max_bytes`: then the drop is counted instead. `build` runs only
    /// when the entry may be kept, so a full log costs a command nothing but the count.
    pub fn push_with(&self, max_entries: usize, max_bytes: usize, build: impl FnOnce() -> LogEntry) {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let seq = inner.next_seq;
        inner.next_seq += 1;
        if inner.entries.len() >= max_entries || inner.bytes >= max_bytes {
            inner.dropped += 1;
            return;
        }
        let mut entry = build();
        let size = entry.size_bytes();
        if inner.bytes + size > max_bytes {
            inner.dropped += 1;
            return;
        }
        entry.seq = seq;
        inner.bytes += size;
        inner.entries.push(entry);
    }

    /// Appends an entry under an entry limit alone (see [`ExecLog::push_with`]).
    pub fn push(&self, entry: LogEntry, max_entries: usize) {
        self.push_with(max_entries, usize::MAX, || entry);
    }

    /// A copy of every entry so far.
    pub fn entries(&self) -> Vec<LogEntry> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner()).entries.clone()
    }

    /// Moves every entry out, leaving the log empty (numbering goes on): the harness's way to read a finished
    /// run's log without holding two copies of it.
    pub fn take(&self) -> Vec<LogEntry> {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        inner.bytes = 0;
        std::mem::take(&mut inner.entries)
    }

    /// About how many bytes the kept entries hold (the sum of their [`LogEntry::size_bytes`]).
    pub fn bytes(&self) -> usize {
        self.inner.lock().unwrap_or_else(|p| p.into_inner()).bytes
    }

    /// How many entries were not kept because the log was full.
    pub fn dropped(&self) -> u64 {
        self.inner.lock().unwrap_or_else(|p| p.into_inner()).dropped
    }

    /// Number of entries kept.
    pub fn len(&self) -> usize {
        self.inner.lock().unwrap_or_else(|p| p.into_inner()).entries.len()
    }

    /// Whether nothing was logged.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(arg_bytes: usize) -> LogEntry {
        LogEntry {
            seq: 0,
            time_ms: 0,
            node: "redis-1".into(),
            role: Role::Master,
            client_id: 1,
            client_name: None,
            client_kind: ClientKind::Normal,
            command: vec!["SET".into(), "k".into(), "v".repeat(arg_bytes)],
            reply: "OK".into(),
        }
    }

    #[test]
    fn the_byte_limit_counts_drops_and_keeps_numbering() {
        let log = ExecLog::new();
        let size = entry(100).size_bytes();
        for _ in 0..10 {
            log.push_with(usize::MAX, 3 * size, || entry(100));
        }
        assert_eq!((log.len(), log.dropped(), log.bytes()), (3, 7, 3 * size));
        // One entry too big for what is left is dropped whole; a small one still fits if there is room.
        let log = ExecLog::new();
        log.push_with(usize::MAX, 2 * size, || entry(100));
        log.push_with(usize::MAX, 2 * size, || entry(10_000));
        log.push_with(usize::MAX, 2 * size, || entry(100));
        let kept: Vec<u64> = log.entries().iter().map(|e| e.seq).collect();
        assert_eq!((kept, log.dropped()), (vec![0, 2], 1));
    }

    #[test]
    fn a_full_log_does_not_build_the_entry() {
        let log = ExecLog::new();
        log.push_with(0, usize::MAX, || {
            unreachable!("built an entry for a log that keeps none")
        });
        assert_eq!((log.len(), log.dropped()), (0, 1));
    }

    #[test]
    fn a_script_names_its_key_after_the_key_count() {
        let with = |command: &[&str]| LogEntry {
            command: command.iter().map(|c| c.to_string()).collect(),
            ..entry(0)
        };
        assert_eq!(with(&["HGETALL", "h:k1"]).key(), Some("h:k1"));
        assert_eq!(with(&["eval_ro", "return 1", "1", "k2", "a"]).key(), Some("k2"));
        assert_eq!(with(&["EVALSHA", "abc", "0", "notakey"]).key(), None);
        assert_eq!(with(&["EVAL", "return 1", "x"]).key(), None);
        assert_eq!(with(&["PING"]).key(), None);
    }
}
