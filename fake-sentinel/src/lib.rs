//! Simulated Redis Sentinels.
//!
//! A [`Sentinel`] is an in-process model of `redis-sentinel` 7.0. It talks to the data nodes only over the
//! network, as a real Sentinel does: PING every second, INFO every 10 s (every second for replicas while the
//! master is in trouble), Hello messages every 2 s on `__sentinel__:hello`. From that alone it detects SDOWN,
//! agrees on ODOWN with the quorum through `SENTINEL is-master-down-by-addr`, elects a leader by epochs and
//! votes, and runs the failover: select a replica, `SLAVEOF NO ONE`, reconfigure the others `parallel-syncs` at a
//! time, switch the master's address. It answers the `SENTINEL` commands clients use with Redis's reply shapes
//! and publishes Redis's events (`+sdown`, `+odown`, `+switch-master`, ...), each also recorded in an
//! [`EventLog`] the simulation reads.
//!
//! Timings, decisions and texts follow Redis 7.0.15's sentinel.c (see `conformance/sentinel-7.0-notes.md`).
//! Simplifications: no scripts, no persistence of the config (FLUSHCONFIG answers OK), no ACL users,
//! `SENTINEL DEBUG` / `CONFIG` / `INFO-CACHE` / `SIMULATE-FAILURE` answer an error, each instance has its own
//! link (Redis shares links to a Sentinel that watches several masters), and host names are resolved to IPs when
//! a master is configured (as with `resolve-hostnames yes`).
//!
//! ```no_run
//! use redsim_fake_sentinel::{EventLog, MasterConfig, Sentinel, SentinelConfig};
//! use redsim_net::Net;
//!
//! # async fn demo() -> std::io::Result<()> {
//! let mut master = MasterConfig::new("mymaster", "127.0.0.1", 6379, 2);
//! master.down_after_ms = 5000;
//! let cfg = SentinelConfig { name: "s1".into(), port: 26379, masters: vec![master], ..Default::default() };
//! let sentinel = Sentinel::new(Net::Tokio, cfg, EventLog::new());
//! sentinel.serve().await
//! # }
//! ```

#![warn(missing_docs)]

mod commands;
mod config;
mod election;
mod event;
mod failover;
mod hello;
mod info;
mod instance;
mod link;
mod monitor;
mod server;
mod state;

pub use config::{MasterConfig, SentinelConfig, StateFile};
pub use event::{EventLog, SentinelEvent};
pub use instance::FailoverState;

use std::io;

use redsim_net::{Listener, Net};

use crate::state::{Shared, State, lock};

/// A Sentinel. Cloning gives another handle to the same Sentinel.
#[derive(Clone)]
pub struct Sentinel {
    shared: Shared,
}

impl std::fmt::Debug for Sentinel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sentinel").field("name", &self.name()).finish()
    }
}

impl Sentinel {
    /// A Sentinel that is not serving yet; its events go to `events`. Master host names are resolved now,
    /// through the network it runs on (inside a turmoil host for `Net::Turmoil`).
    pub fn new(net: Net, config: SentinelConfig, events: EventLog) -> Sentinel {
        Sentinel {
            shared: State::new(net, config, events),
        }
    }

    /// Gives the Sentinel a state file it flushes its configuration to on every change (master address, epochs).
    /// Start a restarted Sentinel from [`StateFile::load`] to model `sentinel.conf` surviving the restart.
    pub fn set_state_file(&self, file: StateFile) {
        let st = &mut *lock(&self.shared);
        st.state_file = Some(file);
    }

    /// Binds and serves forever.
    pub async fn serve(&self) -> io::Result<()> {
        let listener = self.bind().await?;
        self.serve_on(listener).await
    }

    /// Binds the configured address (port 0: a free port, then [`Sentinel::port`]). On real TCP it first fits
    /// `maxclients` in the process's descriptor limit as Redis does ([`Net::fit_maxclients`]), and fails, as
    /// Redis refuses to start, when the limit cannot hold a single client.
    pub async fn bind(&self) -> io::Result<Listener> {
        server::bind(&self.shared).await
    }

    /// Starts monitoring and serves clients on a listener from [`Sentinel::bind`], until [`Sentinel::shutdown`].
    /// A failed accept (out of descriptors, say) is logged on stderr and retried after a short pause; it never
    /// ends the Sentinel.
    pub async fn serve_on(&self, listener: Listener) -> io::Result<()> {
        server::serve_on(self.shared.clone(), listener).await
    }

    /// Stops the Sentinel as a killed process stops: listener, links and client connections close, and
    /// `serve` returns.
    pub fn shutdown(&self) {
        lock(&self.shared).shutdown.cancel();
    }

    /// Freezes the Sentinel as SIGSTOP does: its timer stops, so it sends no PING, INFO or Hello and judges
    /// nothing. (Freezing its network is the caller's business: the harness holds its links.)
    pub fn freeze(&self) {
        lock(&self.shared).frozen = true;
    }

    /// Thaws a frozen Sentinel as SIGCONT does. Its next tick sees the time jump and, after more than 2 s,
    /// enters TILT like Redis's Sentinel.
    pub fn thaw(&self) {
        lock(&self.shared).frozen = false;
    }

    /// The configured name.
    pub fn name(&self) -> String {
        lock(&self.shared).cfg.name.clone()
    }

    /// The port it serves on.
    pub fn port(&self) -> u16 {
        lock(&self.shared).cfg.port
    }

    /// Its 40-character run id (`SENTINEL MYID`).
    pub fn myid(&self) -> String {
        lock(&self.shared).myid.clone()
    }

    /// Its current epoch.
    pub fn current_epoch(&self) -> u64 {
        lock(&self.shared).current_epoch
    }

    /// The address it currently gives for a master (`SENTINEL GET-MASTER-ADDR-BY-NAME`).
    pub fn master_addr(&self, name: &str) -> Option<(String, u16)> {
        lock(&self.shared).masters.get(name).map(State::current_master_addr)
    }

    /// The event log it writes to.
    pub fn events(&self) -> EventLog {
        lock(&self.shared).bus.log.clone()
    }
}
