//! Sentinel configuration: what `sentinel.conf` and `SENTINEL MONITOR` / `SENTINEL SET` cover.

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
    /// A deliberately broken behaviour for testing checkers: reconfigure nodes without CLIENT KILL, so clients
    /// stay connected to a node whose role changed. Never set it otherwise.
    pub skip_client_kill: bool,
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
            skip_client_kill: false,
        }
    }
}
