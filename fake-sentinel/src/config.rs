//! Sentinel configuration: what `sentinel.conf` and `SENTINEL MONITOR` / `SENTINEL SET` cover.

use std::sync::{Arc, Mutex};

/// One monitored master, as `sentinel monitor <name> <ip> <port> <quorum>` and its `sentinel <option>` lines
/// declare it. Units last in names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MasterConfig {
    /// The master's name (`mymaster`).
    pub name: String,
    /// Its address.
    pub host: String,
    /// Its port.
    pub port: u16,
    /// Sentinels that must agree the master is down before it is objectively down.
    pub quorum: u32,
    /// `down-after-milliseconds`: silence before an instance is subjectively down.
    pub down_after_ms: u64,
    /// `failover-timeout`.
    pub failover_timeout_ms: u64,
    /// `parallel-syncs`: replicas reconfigured at once during a failover.
    pub parallel_syncs: u32,
    /// `auth-pass`: password for the master and its replicas.
    pub auth_pass: Option<String>,
    /// `sentinel config-epoch`: the epoch of the configuration that made `host:port` the master (0 at first).
    pub config_epoch: u64,
    /// `sentinel known-replica` lines: replicas known before the master's INFO lists them (as a restarted
    /// Sentinel knows them from its rewritten config).
    pub known_replicas: Vec<(String, u16)>,
}

impl MasterConfig {
    /// A master with Redis's default timings (down-after 30 s, failover-timeout 180 s, parallel-syncs 1).
    pub fn new(name: impl Into<String>, host: impl Into<String>, port: u16, quorum: u32) -> Self {
        MasterConfig {
            name: name.into(),
            host: host.into(),
            port,
            quorum,
            down_after_ms: 30_000,
            failover_timeout_ms: 180_000,
            parallel_syncs: 1,
            auth_pass: None,
            config_epoch: 0,
            known_replicas: Vec::new(),
        }
    }
}

/// A Sentinel's configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentinelConfig {
    /// Name in logs and timelines (`sentinel-1`). Not a Redis setting.
    pub name: String,
    /// TCP port (26379 by default).
    pub port: u16,
    /// Address to bind.
    pub bind: String,
    /// `sentinel announce-ip`: the address announced in Hello messages. When unset, the local address of the
    /// link the Hello travels on is announced, as Redis does.
    pub announce_ip: Option<String>,
    /// The masters to monitor.
    pub masters: Vec<MasterConfig>,
    /// Seed for this Sentinel's choices (run id, timer jitter, failover start jitter).
    pub seed: u64,
    /// Most events the event log keeps before it counts drops instead.
    pub event_limit: usize,
    /// `maxclients`: client connections beyond this are refused with `-ERR max number of clients reached`. On
    /// real TCP it is lowered at bind when the process's descriptor limit cannot hold it, as Redis lowers it
    /// (and, as Redis's rewritten `sentinel.conf` does, the state file then keeps the lowered value).
    pub maxclients: usize,
    /// A deliberately broken behaviour for testing checkers: reconfigure nodes without CLIENT KILL, so clients
    /// stay connected to a node whose role changed. Never set it otherwise.
    #[cfg(feature = "mutants")]
    #[doc(hidden)]
    pub skip_client_kill: bool,
    /// `sentinel current-epoch`: the highest epoch seen (0 at first).
    pub current_epoch: u64,
}

/// A Sentinel's `sentinel.conf` as the Sentinel itself rewrites it: it outlives the process, so a restarted
/// Sentinel monitors the master it last switched to, with the epochs it had reached, as real Sentinel does
/// after flushing its config on every change.
#[derive(Debug, Clone, Default)]
pub struct StateFile(Arc<Mutex<Option<SentinelConfig>>>);

impl StateFile {
    /// What was last written, if anything.
    pub fn load(&self) -> Option<SentinelConfig> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Writes `config`, replacing what was there.
    pub fn save(&self, config: SentinelConfig) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = Some(config);
    }
}

impl Default for SentinelConfig {
    fn default() -> Self {
        SentinelConfig {
            name: "sentinel".into(),
            port: 26379,
            bind: "0.0.0.0".into(),
            announce_ip: None,
            masters: Vec::new(),
            seed: 0,
            event_limit: 1_000_000,
            maxclients: 10_000,
            #[cfg(feature = "mutants")]
            skip_client_kill: false,
            current_epoch: 0,
        }
    }
}
