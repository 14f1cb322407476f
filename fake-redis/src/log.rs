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
    /// The command and its arguments (lossy UTF-8; long arguments are cut).
    pub command: Vec<String>,
    /// A one-line summary of the reply.
    pub reply: String,
}

impl LogEntry {
    /// The command name, upper-cased.
    pub fn name(&self) -> String {
        self.command.first().map(|c| c.to_ascii_uppercase()).unwrap_or_default()
    }

    /// Whether the command is `name`, in any case (without building a string: checkers ask this of every
    /// entry).
    pub fn is(&self, name: &str) -> bool {
        self.command.first().is_some_and(|c| c.eq_ignore_ascii_case(name))
    }
}

#[derive(Debug, Default)]
struct Inner {
    entries: Vec<LogEntry>,
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

    /// Appends an entry (its `seq` is assigned here) unless the log already holds `limit` entries, in which
    /// case the drop is counted.
    pub fn push(&self, mut entry: LogEntry, limit: usize) {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        entry.seq = inner.next_seq;
        inner.next_seq += 1;
        if inner.entries.len() >= limit {
            inner.dropped += 1;
        } else {
            inner.entries.push(entry);
        }
    }

    /// A copy of every entry so far.
    pub fn entries(&self) -> Vec<LogEntry> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner()).entries.clone()
    }

    /// Moves every entry out, leaving the log empty (numbering goes on): the harness's way to read a finished
    /// run's log without holding two copies of it.
    pub fn take(&self) -> Vec<LogEntry> {
        std::mem::take(&mut self.inner.lock().unwrap_or_else(|p| p.into_inner()).entries)
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
