//! Routing events: what the client decided and why, as a stream a test harness or a dashboard can record.
//! Each event also goes to `tracing` at debug level.

use std::time::Duration;

/// One routing decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoutingEvent {
    /// Time since the client was built (tokio time: simulated under turmoil).
    pub at: Duration,
    /// What happened.
    pub kind: EventKind,
}

/// The kinds of routing events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventKind {
    /// Sentinel gave a new view: master and usable replicas.
    TopologyChanged {
        /// The master's address.
        master: String,
        /// Usable replicas' addresses.
        replicas: Vec<String>,
    },
    /// A Sentinel published `+switch-master`, or reconciliation found a new master.
    MasterSwitched {
        /// Previous address, if known.
        from: Option<String>,
        /// New address.
        to: String,
    },
    /// A read was sent to this replica.
    ReplicaChosen {
        /// The replica.
        addr: String,
    },
    /// A replica failed and is skipped until its backoff ends and a probe succeeds.
    ReplicaEjected {
        /// The replica.
        addr: String,
        /// Why (the error kind).
        reason: String,
        /// How long it is ejected for.
        backoff: Duration,
    },
    /// An ejected replica answered a probe and is used again.
    ReplicaRestored {
        /// The replica.
        addr: String,
    },
    /// A call is retried on another node.
    Retry {
        /// The node that failed.
        from: String,
        /// Why.
        reason: String,
        /// Which attempt failed (1 = the first).
        attempt: u32,
    },
    /// Every replica was ejected, so a `ReplicaOnly` read tries the one whose backoff ends first instead of
    /// failing: an ejection is a guess made from one failure, and the replica may be back already.
    LastResort {
        /// The ejected replica tried.
        addr: String,
    },
    /// A read went to the master because no replica was usable (`ReplicaPreferred` only).
    FellBackToMaster,
    /// A Sentinel did not answer.
    SentinelUnreachable {
        /// The Sentinel.
        addr: String,
        /// Why (refused, timed out, garbage).
        reason: String,
    },
}
