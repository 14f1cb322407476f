//! The event log: every event a Sentinel publishes (`+sdown`, `+switch-master`, ...), with simulated time, so
//! the harness can read what Sentinels decided without subscribing over the network. Give all Sentinels of a
//! simulation the same [`EventLog`] for one total order.

use std::sync::{Arc, Mutex};

/// One published event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentinelEvent {
    /// Position in the shared log.
    pub seq: u64,
    /// When it was published, in Unix milliseconds on the network's clock.
    pub time_ms: u64,
    /// The configured name of the Sentinel that published it.
    pub sentinel: String,
    /// The event, which is also its Pub/Sub channel (`+sdown`).
    pub event: String,
    /// The message published on that channel (`master mymaster 10.0.0.1 6379`).
    pub payload: String,
}

#[derive(Debug, Default)]
struct Inner {
    events: Vec<SentinelEvent>,
    dropped: u64,
    next_seq: u64,
}

/// A shared, bounded, append-only event log. Cloning shares it.
#[derive(Debug, Clone, Default)]
pub struct EventLog {
    inner: Arc<Mutex<Inner>>,
}

impl EventLog {
    /// An empty log.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends an event unless `limit` events are already held (then the drop is counted).
    pub fn push(&self, mut event: SentinelEvent, limit: usize) {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        event.seq = inner.next_seq;
        inner.next_seq += 1;
        if inner.events.len() >= limit {
            inner.dropped += 1;
        } else {
            inner.events.push(event);
        }
    }

    /// A copy of every event so far.
    pub fn events(&self) -> Vec<SentinelEvent> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner()).events.clone()
    }

    /// How many events were not kept because the log was full.
    pub fn dropped(&self) -> u64 {
        self.inner.lock().unwrap_or_else(|p| p.into_inner()).dropped
    }
}
