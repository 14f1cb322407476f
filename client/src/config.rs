//! Configuration and the builder.

use std::time::Duration;

use redsim_net::Net;

use crate::error::{Error, Result};
#[cfg(feature = "mutants")]
use crate::mutant::Mutant;

/// The smallest reply limit accepted: room for a short status or error line.
const MIN_REPLY_BYTES: usize = 64;

/// Where reads go.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ReadPolicy {
    /// Replicas only; never the master, whatever happens (reads fail with `NoReplicaAvailable` instead).
    #[default]
    ReplicaOnly,
    /// Replicas; the master only while no replica is usable, back to replicas as soon as one is.
    ReplicaPreferred,
    /// The master only.
    Master,
    /// The node (replica or master) with the lowest measured latency.
    Nearest,
}

/// Which usable replica serves a read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ReplicaSelection {
    /// One replica per client, chosen at random once and kept while it works (go-redis's behaviour).
    #[default]
    Sticky,
    /// Each read on the next replica.
    RoundRobin,
    /// Each read on a random replica (from the client's seeded generator).
    Random,
    /// The replica with the lowest measured latency.
    LowestLatency,
}

/// Everything the client needs to know; built with [`crate::Client::builder`].
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// Sentinels to ask first (`host:port`), in order. Learned Sentinels are added; these are never dropped.
    pub sentinels: Vec<(String, u16)>,
    /// The monitored master's name.
    pub master_name: String,
    /// Where reads go.
    pub read_policy: ReadPolicy,
    /// Which replica serves a read.
    pub replica_selection: ReplicaSelection,
    /// Time to establish a connection.
    pub connect_timeout: Duration,
    /// Time for one command's reply.
    pub command_timeout: Duration,
    /// Time for a Sentinel to answer a query.
    pub sentinel_timeout: Duration,
    /// Total time one call may take, retries included.
    pub call_deadline: Duration,
    /// Attempts on other nodes after a failure, per call.
    pub max_retries: u32,
    /// First ejection of a failing replica; doubles on repeated failure.
    pub eject_base: Duration,
    /// Longest ejection.
    pub eject_max: Duration,
    /// How often the topology is reconciled with Sentinel, events or not.
    pub refresh_interval: Duration,
    /// How many Sentinels to subscribe to for `+switch-master` and replica events.
    pub subscriptions: usize,
    /// Skip replicas Sentinel flags `s_down`, `o_down` or `disconnected` (for a second after a master switch, a
    /// replica already in use and flagged only `disconnected` stays: Sentinel flags every replica so while it
    /// relinks after the switch).
    pub skip_flagged_replicas: bool,
    /// Skip replicas whose link to the master has been down longer than this (from Sentinel).
    pub max_replica_link_down: Option<Duration>,
    /// Password for Sentinels (`AUTH`), if they require one.
    pub sentinel_password: Option<String>,
    /// Username and password for data nodes.
    pub username: Option<String>,
    /// Password for data nodes.
    pub password: Option<String>,
    /// Name set on every data connection with `CLIENT SETNAME` (visible in CLIENT LIST and node logs).
    pub client_name: String,
    /// The network: real TCP, or turmoil in simulations.
    pub net: Net,
    /// Seed of the client's random choices (replica choice, jitter).
    pub seed: u64,
    /// Largest reply accepted from a data node, in bytes: a larger one fails its command and the connection is
    /// dropped, before the client buffers more than this.
    pub max_reply_bytes: usize,
    /// Largest reply accepted from a Sentinel, in bytes (Sentinel's answers are small: a few KB per replica).
    pub max_sentinel_reply_bytes: usize,
    /// A deliberately broken behaviour, for testing checkers only (default none).
    #[cfg(feature = "mutants")]
    #[doc(hidden)]
    pub mutant: Option<Mutant>,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            sentinels: Vec::new(),
            master_name: String::new(),
            read_policy: ReadPolicy::ReplicaOnly,
            replica_selection: ReplicaSelection::Sticky,
            connect_timeout: Duration::from_millis(500),
            command_timeout: Duration::from_millis(500),
            sentinel_timeout: Duration::from_millis(300),
            call_deadline: Duration::from_secs(3),
            max_retries: 3,
            eject_base: Duration::from_millis(500),
            eject_max: Duration::from_secs(10),
            refresh_interval: Duration::from_secs(2),
            subscriptions: 2,
            skip_flagged_replicas: true,
            max_replica_link_down: None,
            sentinel_password: None,
            username: None,
            password: None,
            client_name: "redsim-client".into(),
            net: Net::Tokio,
            seed: 0,
            max_reply_bytes: redsim_resp::REPLY_MAX_BYTES,
            max_sentinel_reply_bytes: 1024 * 1024,
            #[cfg(feature = "mutants")]
            mutant: None,
        }
    }
}

/// Parses `host:port`.
pub fn parse_addr(s: &str) -> Result<(String, u16)> {
    let (host, port) = s
        .rsplit_once(':')
        .ok_or_else(|| Error::Config(format!("'{s}' is not host:port")))?;
    let port = port
        .parse()
        .map_err(|_| Error::Config(format!("'{port}' in '{s}' is not a port")))?;
    if host.is_empty() {
        return Err(Error::Config(format!("'{s}' has no host")));
    }
    Ok((host.trim_matches(['[', ']']).to_string(), port))
}

/// Builds a [`crate::Client`].
#[derive(Debug, Clone, Default)]
pub struct ClientBuilder {
    cfg: ClientConfig,
    // The first error a setter met, kept as the error itself: wrapping its text in another `Error::Config` made
    // the message read "configuration error: configuration error: ...".
    errors: Vec<Error>,
}

impl ClientBuilder {
    /// Adds a Sentinel (`host:port`).
    pub fn sentinel(mut self, addr: &str) -> Self {
        match parse_addr(addr) {
            Ok(a) => self.cfg.sentinels.push(a),
            Err(e) => self.errors.push(e),
        }
        self
    }

    /// Adds several Sentinels.
    pub fn sentinels<'a>(mut self, addrs: impl IntoIterator<Item = &'a str>) -> Self {
        for a in addrs {
            self = self.sentinel(a);
        }
        self
    }

    /// The master's name (`mymaster`).
    pub fn master_name(mut self, name: &str) -> Self {
        self.cfg.master_name = name.to_string();
        self
    }

    /// Where reads go (default `ReplicaOnly`).
    pub fn read_policy(mut self, p: ReadPolicy) -> Self {
        self.cfg.read_policy = p;
        self
    }

    /// Which replica serves a read (default `Sticky`).
    pub fn replica_selection(mut self, s: ReplicaSelection) -> Self {
        self.cfg.replica_selection = s;
        self
    }

    /// Connection timeout (default 500 ms).
    pub fn connect_timeout(mut self, d: Duration) -> Self {
        self.cfg.connect_timeout = d;
        self
    }

    /// Per-command reply timeout (default 500 ms).
    pub fn command_timeout(mut self, d: Duration) -> Self {
        self.cfg.command_timeout = d;
        self
    }

    /// Sentinel query timeout (default 300 ms).
    pub fn sentinel_timeout(mut self, d: Duration) -> Self {
        self.cfg.sentinel_timeout = d;
        self
    }

    /// Total time for one call, retries included (default 3 s).
    pub fn call_deadline(mut self, d: Duration) -> Self {
        self.cfg.call_deadline = d;
        self
    }

    /// Retries on other nodes per call (default 3).
    pub fn max_retries(mut self, n: u32) -> Self {
        self.cfg.max_retries = n;
        self
    }

    /// How often to reconcile with Sentinel (default 2 s).
    pub fn refresh_interval(mut self, d: Duration) -> Self {
        self.cfg.refresh_interval = d;
        self
    }

    /// Skip replicas whose master link has been down longer than this.
    pub fn max_replica_link_down(mut self, d: Duration) -> Self {
        self.cfg.max_replica_link_down = Some(d);
        self
    }

    /// Password for Sentinels.
    pub fn sentinel_password(mut self, p: &str) -> Self {
        self.cfg.sentinel_password = Some(p.to_string());
        self
    }

    /// Password (and optionally username) for data nodes.
    pub fn password(mut self, username: Option<&str>, password: &str) -> Self {
        self.cfg.username = username.map(str::to_string);
        self.cfg.password = Some(password.to_string());
        self
    }

    /// The name set on data connections (default `redsim-client`).
    pub fn client_name(mut self, name: &str) -> Self {
        self.cfg.client_name = name.to_string();
        self
    }

    /// The network (default real TCP).
    pub fn net(mut self, net: Net) -> Self {
        self.cfg.net = net;
        self
    }

    /// Seed of the client's random choices (default 0).
    pub fn seed(mut self, seed: u64) -> Self {
        self.cfg.seed = seed;
        self
    }

    /// Largest reply accepted from a data node (default 64 MiB); a larger one fails its command and drops the
    /// connection.
    pub fn max_reply_bytes(mut self, n: usize) -> Self {
        self.cfg.max_reply_bytes = n;
        self
    }

    /// Largest reply accepted from a Sentinel (default 1 MiB); a larger one counts as the Sentinel failing.
    pub fn max_sentinel_reply_bytes(mut self, n: usize) -> Self {
        self.cfg.max_sentinel_reply_bytes = n;
        self
    }

    /// Enables a deliberately broken behaviour (for testing checkers; never in production).
    #[cfg(feature = "mutants")]
    #[doc(hidden)]
    pub fn mutant(mut self, m: Mutant) -> Self {
        self.cfg.mutant = Some(m);
        self
    }

    /// Replaces the whole configuration (fields not set through the builder).
    pub fn config(mut self, cfg: ClientConfig) -> Self {
        self.cfg = cfg;
        self
    }

    /// Validates the configuration and starts the client's background tasks (Sentinel subscriptions, periodic
    /// reconciliation, probing of ejected replicas). Must be called inside a tokio runtime. Discovery happens on
    /// the first command, so a client can be built while Sentinels are still starting.
    pub fn build(self) -> Result<crate::Client> {
        if let Some(e) = self.errors.into_iter().next() {
            return Err(e);
        }
        let c = &self.cfg;
        if c.sentinels.is_empty() {
            return Err(Error::Config("no Sentinel given".into()));
        }
        if c.master_name.is_empty() {
            return Err(Error::Config("no master name given".into()));
        }
        for (what, d) in [
            ("connect_timeout", c.connect_timeout),
            ("command_timeout", c.command_timeout),
            ("sentinel_timeout", c.sentinel_timeout),
            ("call_deadline", c.call_deadline),
            ("refresh_interval", c.refresh_interval),
        ] {
            if d.is_zero() {
                return Err(Error::Config(format!("{what} must be above zero")));
            }
        }
        // A limit below a few bytes refuses even `+OK`: a typo, not a choice.
        for (what, n) in [
            ("max_reply_bytes", c.max_reply_bytes),
            ("max_sentinel_reply_bytes", c.max_sentinel_reply_bytes),
        ] {
            if n < MIN_REPLY_BYTES {
                return Err(Error::Config(format!(
                    "{what} must be at least {MIN_REPLY_BYTES}, not {n}"
                )));
            }
        }
        // The background tasks are spawned on the current runtime: outside one, say so instead of panicking.
        if tokio::runtime::Handle::try_current().is_err() {
            return Err(Error::Config(
                "build() must run inside a tokio runtime (in a simulation: inside the host that uses the client)"
                    .into(),
            ));
        }
        Ok(crate::client::Client::start(self.cfg))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn building_outside_a_runtime_is_an_error_not_a_panic() {
        let e = crate::Client::builder()
            .sentinel("s:26379")
            .master_name("m")
            .build()
            .unwrap_err();
        assert!(e.to_string().contains("inside a tokio runtime"), "{e}");
    }

    #[test]
    fn addresses_parse_with_clear_errors() {
        assert_eq!(parse_addr("10.0.0.1:26379").unwrap(), ("10.0.0.1".into(), 26379));
        assert_eq!(parse_addr("[::1]:26379").unwrap(), ("::1".into(), 26379));
        assert!(parse_addr("nohost").unwrap_err().to_string().contains("not host:port"));
        assert!(parse_addr("h:99999").unwrap_err().to_string().contains("not a port"));
        assert!(parse_addr(":1").is_err());
    }
}
