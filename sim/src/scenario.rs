//! Scenarios: a topology, a network, clients with their workload, and a fault schedule. Plain data with a
//! text form a person can write (and serde JSON):
//!
//! ```text
//! scenario test3-crash
//! duration_ms 30000
//! stable_ms 10000
//! keys 8
//! topology replicas=2 sentinels=3 quorum=2 down_after_ms=5000 failover_timeout_ms=60000 parallel_syncs=1
//! network latency_ms=1..3 random_order=true tick_ms=1
//! client writer-1 writer interval_ms=100 timeout_ms=500
//! client reader-1 reader policy=replica-only selection=sticky interval_ms=100 timeout_ms=500
//! at 5000 crash(redis-2)
//! ```

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

pub use crate::data_mix::DataMix;
use crate::fault::{Schedule, TimedFault};

/// The cluster.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Topology {
    /// Replicas (`redis-2` ..); the master is `redis-1`.
    pub replicas: u32,
    /// Replica priorities by replica index (missing: 100).
    pub priorities: Vec<u32>,
    /// Sentinels (`sentinel-1` ..).
    pub sentinels: u32,
    /// Sentinel quorum.
    pub quorum: u32,
    /// `down-after-milliseconds`.
    pub down_after_ms: u64,
    /// `failover-timeout`.
    pub failover_timeout_ms: u64,
    /// `parallel-syncs`.
    pub parallel_syncs: u32,
}

impl Default for Topology {
    fn default() -> Self {
        Topology {
            replicas: 2,
            priorities: vec![],
            sentinels: 3,
            quorum: 2,
            down_after_ms: 5000,
            failover_timeout_ms: 60_000,
            parallel_syncs: 1,
        }
    }
}

/// Most replicas a [`Topology`] may have.
///
/// The sizes are bounded by turmoil's queue of connections waiting to be accepted: 64 per listener (its
/// `tcp_capacity`), filled by every connect that arrives before the host next runs, and a panic ("server socket
/// buffer full") when one more arrives. The most one node may see at once, at the start or when it comes back
/// after a restart: a replication link from every replica, two links from every Sentinel, up to three from
/// every client (discovery and both subscriptions when only one Sentinel is left) and the control host:
/// `16 + 2 * 7 + 3 * 8 + 1 = 55` at these limits, short of 64. (Measured before the limits: 59 replicas
/// overflowed the master's queue at the first step, 40 clients the first Sentinel's at the end of the warm-up.)
/// Raising turmoil's capacity instead is no way out: the same number is every connection's window, so a held
/// link would accept 1024 messages instead of 64 and every run with a pause or a partition would change.
pub const REPLICAS_MAX: u32 = 16;

/// Most Sentinels a [`Topology`] may have (see [`REPLICAS_MAX`] for why there is a bound). Real deployments run
/// three or five.
pub const SENTINELS_MAX: u32 = 7;

/// Most clients a [`Scenario`] may run (see [`REPLICAS_MAX`]); each may run up to [`CONCURRENCY_MAX`] operation
/// loops on its connections.
pub const CLIENTS_MAX: usize = 8;

impl Topology {
    /// Checks sizes and settings, the one check every way into a simulation goes through ([`Scenario::validate`],
    /// [`crate::Deployment::try_install`]); the error names the setting, its value and the limit.
    ///
    /// A topology without Sentinels is valid (data-node tests deploy one); its quorum is then unused.
    pub fn validate(&self) -> Result<(), String> {
        if self.replicas > REPLICAS_MAX {
            return Err(format!(
                "topology replicas {} is above the limit of {REPLICAS_MAX}",
                self.replicas
            ));
        }
        if self.sentinels > SENTINELS_MAX {
            return Err(format!(
                "topology sentinels {} is above the limit of {SENTINELS_MAX}",
                self.sentinels
            ));
        }
        if self.sentinels > 0 && !(1..=self.sentinels).contains(&self.quorum) {
            return Err(format!(
                "quorum {} must be between 1 and the {} Sentinels",
                self.quorum, self.sentinels
            ));
        }
        if self.down_after_ms == 0 || self.failover_timeout_ms == 0 || self.parallel_syncs == 0 {
            return Err("down_after_ms, failover_timeout_ms and parallel_syncs must be above zero".into());
        }
        if self.priorities.len() > self.replicas as usize {
            return Err(format!(
                "topology priorities has {} entries for {} replicas",
                self.priorities.len(),
                self.replicas
            ));
        }
        Ok(())
    }
}

/// The network between every pair of hosts (a `latency` fault changes one link).
///
/// The default latency is fixed. With a range, turmoil draws each message's latency from the simulation's RNG
/// in the order messages are sent, and when a host crashes, tokio drops its tasks (and their sockets send
/// their last messages) in an order set by process-wide task ids: a crash then consumes draws in an order that
/// depends on what ran earlier in the same process. A run with a range is still reproduced exactly by
/// `redsim replay` (a fresh process), but two runs inside one process may differ after a crash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Network {
    /// Least one-way latency.
    pub min_latency_ms: u64,
    /// Greatest one-way latency (turmoil draws between the two, skewed towards the low end).
    pub max_latency_ms: u64,
    /// Whether turmoil runs the hosts in a seeded random order each tick instead of a fixed one, so messages sent
    /// in the same millisecond interleave differently from seed to seed. Off by default.
    #[serde(default)]
    pub random_order: bool,
    /// turmoil's step of simulated time. Every host is polled once a step whatever it has to do, so the step
    /// sets the cost of quiet time; a message or timer is due at the first step at or after its time, so it also
    /// sets the resolution of every latency measured. 1 ms by default; at most [`TICK_MAX_MS`].
    #[serde(default = "default_tick_ms")]
    pub tick_ms: u64,
}

/// The largest step of simulated time a scenario may ask for: Sentinel's timer runs every 100 ms and clients
/// time out after 200-500 ms, and a coarser step would blur them.
pub const TICK_MAX_MS: u64 = 10;

fn default_tick_ms() -> u64 {
    1
}

impl Default for Network {
    fn default() -> Self {
        Network {
            min_latency_ms: 2,
            max_latency_ms: 2,
            random_order: false,
            tick_ms: default_tick_ms(),
        }
    }
}

/// What a client does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClientRole {
    /// Writes unique values (`<client>:<seq>:<key>`), so every read can be traced to its write.
    Writer,
    /// Reads.
    Reader,
}

/// Deliberately broken behaviours that prove the checkers bite. Never used by default. The one list, shared
/// with the client (which compiles them only with its `mutants` feature, enabled by this crate): some break
/// the client, `SkipClientKill` the Sentinels, and `BlindMaster` also runs the nodes with
/// `replica-read-only no`.
pub use redsim_client::Mutant;

/// A scenario's mutant in its JSON form: the text name (`"no-ejection"`), or `null`.
mod mutant_name {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    use super::Mutant;

    /// Writes the name, or `null`.
    pub fn serialize<S: Serializer>(m: &Option<Mutant>, s: S) -> Result<S::Ok, S::Error> {
        m.map(Mutant::name).serialize(s)
    }

    /// Reads a name (refusing unknown ones, with the known ones listed), or `null`.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Mutant>, D::Error> {
        Option::<String>::deserialize(d)?
            .map(|n| n.parse().map_err(serde::de::Error::custom))
            .transpose()
    }
}

/// One client of the workload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientSpec {
    /// Its host name and `CLIENT SETNAME`.
    pub name: String,
    /// Writer or reader.
    pub role: ClientRole,
    /// `replica-only`, `replica-preferred`, `master`, `nearest`.
    pub policy: String,
    /// `sticky`, `round-robin`, `random`, `lowest-latency`.
    pub selection: String,
    /// Pause between operations.
    pub interval_ms: u64,
    /// Per-command timeout.
    pub timeout_ms: u64,
    /// Operation loops sharing the client (and its connections), each pausing `interval_ms` after its
    /// operation: load beyond one request in flight.
    #[serde(default = "one")]
    pub concurrency: u32,
    /// The commands it sends: strings only (the default, left out of scenario texts) or every data type.
    #[serde(default, skip_serializing_if = "DataMix::is_strings")]
    pub data: DataMix,
}

fn one() -> u32 {
    1
}

impl ClientSpec {
    /// A client with the default settings: replica-only reads, sticky replica choice, an operation every
    /// 100 ms, 500 ms timeouts, one operation loop.
    pub fn new(name: &str, role: ClientRole) -> ClientSpec {
        ClientSpec {
            name: name.into(),
            role,
            policy: "replica-only".into(),
            selection: "sticky".into(),
            interval_ms: 100,
            timeout_ms: 500,
            concurrency: 1,
            data: DataMix::Strings,
        }
    }
}

/// Most operation loops one client may run.
pub const CONCURRENCY_MAX: u32 = 256;

/// A whole scenario.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Scenario {
    /// Its name.
    pub name: String,
    /// How long clients run, in simulated ms.
    pub duration_ms: u64,
    /// The final part of the run during which the cluster must be healthy again (no faults in it).
    pub stable_ms: u64,
    /// Distinct keys the workload uses.
    pub keys: u32,
    /// The cluster.
    pub topology: Topology,
    /// The network.
    pub network: Network,
    /// The clients.
    pub clients: Vec<ClientSpec>,
    /// The faults.
    pub schedule: Schedule,
    /// A deliberately broken behaviour, for proving checkers (never on by default).
    #[serde(default, with = "mutant_name")]
    pub mutant: Option<Mutant>,
}

impl Default for Scenario {
    /// The default: 1 master, 2 replicas, 3 Sentinels, quorum 2, down-after 5000 ms, one writer and two
    /// replica-only readers, no faults.
    fn default() -> Self {
        let client = ClientSpec::new;
        Scenario {
            name: "default".into(),
            duration_ms: 30_000,
            stable_ms: 8_000,
            keys: 8,
            topology: Topology::default(),
            network: Network::default(),
            clients: vec![
                client("writer-1", ClientRole::Writer),
                client("reader-1", ClientRole::Reader),
                client("reader-2", ClientRole::Reader),
            ],
            schedule: vec![],
            mutant: None,
        }
    }
}

impl Scenario {
    /// Data node host names.
    pub fn redis_hosts(&self) -> Vec<String> {
        (1..=self.topology.replicas + 1).map(|i| format!("redis-{i}")).collect()
    }

    /// Sentinel host names.
    pub fn sentinel_hosts(&self) -> Vec<String> {
        (1..=self.topology.sentinels).map(|i| format!("sentinel-{i}")).collect()
    }

    /// Every host, clients included.
    pub fn all_hosts(&self) -> Vec<String> {
        let mut h = self.redis_hosts();
        h.extend(self.sentinel_hosts());
        h.extend(self.clients.iter().map(|c| c.name.clone()));
        h
    }

    /// Checks names and numbers; the error says what is wrong.
    pub fn validate(&self) -> Result<(), String> {
        self.topology.validate()?;
        if self.topology.sentinels == 0 {
            return Err("topology sentinels 0: a scenario's clients need a Sentinel to find the master".into());
        }
        if self.clients.len() > CLIENTS_MAX {
            return Err(format!(
                "{} clients is above the limit of {CLIENTS_MAX}",
                self.clients.len()
            ));
        }
        if self.network.min_latency_ms > self.network.max_latency_ms {
            return Err("network latency range is empty".into());
        }
        if !(1..=TICK_MAX_MS).contains(&self.network.tick_ms) {
            return Err(format!(
                "network tick_ms {} must be between 1 and {TICK_MAX_MS}",
                self.network.tick_ms
            ));
        }
        if self.keys == 0 || self.duration_ms == 0 {
            return Err("keys and duration_ms must be above zero".into());
        }
        // The checkers judge recovery on the last stable_ms of the run, so a window longer than the run judges
        // nothing it says it does.
        if self.stable_ms > self.duration_ms {
            return Err(format!(
                "stable_ms {} is longer than duration_ms {}: the window judged for recovery ends the run \
                 (stable_ms is {} when not given)",
                self.stable_ms,
                self.duration_ms,
                Scenario::default().stable_ms
            ));
        }
        let hosts = self.all_hosts();
        for c in &self.clients {
            if hosts.iter().filter(|h| **h == c.name).count() > 1 {
                return Err(format!("client name '{}' is taken", c.name));
            }
            crate::runner::read_policy(&c.policy)?;
            crate::runner::replica_selection(&c.selection)?;
            if c.interval_ms == 0 || c.timeout_ms == 0 {
                return Err(format!(
                    "client {}: interval_ms and timeout_ms must be above zero",
                    c.name
                ));
            }
            if !(1..=CONCURRENCY_MAX).contains(&c.concurrency) {
                return Err(format!(
                    "client {}: concurrency {} must be between 1 and {CONCURRENCY_MAX}",
                    c.name, c.concurrency
                ));
            }
        }
        for f in &self.schedule {
            // The clients stop at duration_ms and the run ends once they return: a later fault may or may not
            // be applied, and would be seen by nobody.
            if f.at_ms > self.duration_ms {
                return Err(format!(
                    "'{f}' falls after the end of the run (duration_ms {})",
                    self.duration_ms
                ));
            }
            if let Some(h) = f.fault.self_link() {
                return Err(format!("'{f}' puts {h} on both sides: a host has no link to itself"));
            }
            for h in crate::runner::hosts_named(&f.fault) {
                if !hosts.contains(&h) {
                    return Err(format!("'{f}' names unknown host '{h}'"));
                }
            }
        }
        Ok(())
    }
}

fn kv(word: &str) -> Result<(&str, &str), String> {
    word.split_once('=').ok_or_else(|| format!("'{word}' is not key=value"))
}

fn num<T: FromStr>(key: &str, v: &str) -> Result<T, String> {
    v.parse().map_err(|_| format!("{key}: '{v}' is not a number"))
}

impl FromStr for Scenario {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let mut s = Scenario {
            clients: vec![],
            ..Scenario::default()
        };
        let mut explicit_clients = false;
        for (no, raw) in text.lines().enumerate() {
            let line = raw.split('#').next().unwrap_or("").trim();
            if line.is_empty() {
                continue;
            }
            let err = |e: String| format!("line {}: {e}", no + 1);
            let mut words = line.split_whitespace();
            let head = words.next().unwrap_or_default();
            let rest: Vec<&str> = words.collect();
            match head {
                "scenario" => s.name = rest.join(" "),
                "duration_ms" => s.duration_ms = num("duration_ms", rest.first().unwrap_or(&"")).map_err(err)?,
                "stable_ms" => s.stable_ms = num("stable_ms", rest.first().unwrap_or(&"")).map_err(err)?,
                "keys" => s.keys = num("keys", rest.first().unwrap_or(&"")).map_err(err)?,
                "mutant" => s.mutant = Some(rest.first().unwrap_or(&"").parse().map_err(err)?),
                "topology" => {
                    for w in rest {
                        let (k, v) = kv(w).map_err(err)?;
                        let t = &mut s.topology;
                        match k {
                            "replicas" => t.replicas = num(k, v).map_err(err)?,
                            "sentinels" => t.sentinels = num(k, v).map_err(err)?,
                            "quorum" => t.quorum = num(k, v).map_err(err)?,
                            "down_after_ms" => t.down_after_ms = num(k, v).map_err(err)?,
                            "failover_timeout_ms" => t.failover_timeout_ms = num(k, v).map_err(err)?,
                            "parallel_syncs" => t.parallel_syncs = num(k, v).map_err(err)?,
                            "priorities" => {
                                t.priorities = v.split(',').map(|p| num(k, p)).collect::<Result<_, _>>().map_err(err)?
                            }
                            _ => return Err(err(format!("unknown topology setting '{k}'"))),
                        }
                    }
                }
                "network" => {
                    for w in rest {
                        let (k, v) = kv(w).map_err(err)?;
                        match k {
                            "latency_ms" => {
                                let (lo, hi) = v.split_once("..").unwrap_or((v, v));
                                s.network.min_latency_ms = num(k, lo).map_err(err)?;
                                s.network.max_latency_ms = num(k, hi).map_err(err)?;
                            }
                            "tick_ms" => s.network.tick_ms = num(k, v).map_err(err)?,
                            "random_order" => {
                                s.network.random_order = match v {
                                    "true" => true,
                                    "false" => false,
                                    _ => return Err(err(format!("random_order is true or false, not '{v}'"))),
                                }
                            }
                            _ => return Err(err(format!("unknown network setting '{k}'"))),
                        }
                    }
                }
                "client" => {
                    explicit_clients = true;
                    let [name, role, settings @ ..] = &rest[..] else {
                        return Err(err("expected 'client <name> writer|reader [key=value ...]'".into()));
                    };
                    let role = match *role {
                        "writer" => ClientRole::Writer,
                        "reader" => ClientRole::Reader,
                        other => return Err(err(format!("client role '{other}' is neither writer nor reader"))),
                    };
                    let mut c = ClientSpec::new(name, role);
                    for w in settings {
                        let (k, v) = kv(w).map_err(err)?;
                        match k {
                            "policy" => c.policy = v.into(),
                            "selection" => c.selection = v.into(),
                            "interval_ms" => c.interval_ms = num(k, v).map_err(err)?,
                            "timeout_ms" => c.timeout_ms = num(k, v).map_err(err)?,
                            "concurrency" => c.concurrency = num(k, v).map_err(err)?,
                            "data" => {
                                c.data = match v {
                                    "strings" => DataMix::Strings,
                                    "all-types" => DataMix::AllTypes,
                                    other => {
                                        return Err(err(format!(
                                            "client data '{other}' is neither strings nor all-types"
                                        )));
                                    }
                                }
                            }
                            _ => return Err(err(format!("unknown client setting '{k}'"))),
                        }
                    }
                    s.clients.push(c);
                }
                "at" => s.schedule.push(line.parse::<TimedFault>().map_err(err)?),
                other => return Err(err(format!("unknown directive '{other}'"))),
            }
        }
        if !explicit_clients {
            s.clients = Scenario::default().clients;
        }
        s.schedule.sort_by_key(|f| f.at_ms);
        s.validate()?;
        Ok(s)
    }
}

impl fmt::Display for Scenario {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let t = &self.topology;
        writeln!(f, "scenario {}", self.name)?;
        writeln!(f, "duration_ms {}", self.duration_ms)?;
        writeln!(f, "stable_ms {}", self.stable_ms)?;
        writeln!(f, "keys {}", self.keys)?;
        write!(
            f,
            "topology replicas={} sentinels={} quorum={} down_after_ms={} failover_timeout_ms={} parallel_syncs={}",
            t.replicas, t.sentinels, t.quorum, t.down_after_ms, t.failover_timeout_ms, t.parallel_syncs
        )?;
        if !t.priorities.is_empty() {
            let p: Vec<String> = t.priorities.iter().map(u32::to_string).collect();
            write!(f, " priorities={}", p.join(","))?;
        }
        writeln!(f)?;
        write!(
            f,
            "network latency_ms={}..{}",
            self.network.min_latency_ms, self.network.max_latency_ms
        )?;
        if self.network.random_order {
            write!(f, " random_order=true")?;
        }
        if self.network.tick_ms != default_tick_ms() {
            write!(f, " tick_ms={}", self.network.tick_ms)?;
        }
        writeln!(f)?;
        for c in &self.clients {
            let role = match c.role {
                ClientRole::Writer => "writer",
                ClientRole::Reader => "reader",
            };
            write!(
                f,
                "client {} {role} policy={} selection={} interval_ms={} timeout_ms={}",
                c.name, c.policy, c.selection, c.interval_ms, c.timeout_ms
            )?;
            if c.concurrency != 1 {
                write!(f, " concurrency={}", c.concurrency)?;
            }
            if c.data == DataMix::AllTypes {
                write!(f, " data=all-types")?;
            }
            writeln!(f)?;
        }
        if let Some(m) = self.mutant {
            writeln!(f, "mutant {}", m.name())?;
        }
        for tf in &self.schedule {
            writeln!(f, "{tf}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fault::Fault;

    #[test]
    fn text_and_json_round_trip() {
        let mut s = Scenario {
            name: "t".into(),
            mutant: Some(Mutant::NoEjection),
            ..Scenario::default()
        };
        s.topology.priorities = vec![0, 100];
        s.network.tick_ms = 10;
        s.clients[1].concurrency = 16;
        s.clients[2].data = DataMix::AllTypes;
        s.schedule = vec![
            TimedFault {
                at_ms: 100,
                fault: Fault::Crash("redis-2".into()),
            },
            TimedFault {
                at_ms: 200,
                fault: Fault::Heal,
            },
        ];
        let text = s.to_string();
        assert_eq!(text.parse::<Scenario>().unwrap(), s);
        let json = serde_json::to_string(&s).unwrap();
        assert_eq!(serde_json::from_str::<Scenario>(&json).unwrap(), s);
    }

    #[test]
    fn bad_scenarios_are_refused_with_the_line() {
        assert!(
            "topology quorum=9"
                .parse::<Scenario>()
                .unwrap_err()
                .contains("quorum 9")
        );
        assert!("keys none".parse::<Scenario>().unwrap_err().contains("line 1"));
        assert!(
            "at 5 crash(redis-9)"
                .parse::<Scenario>()
                .unwrap_err()
                .contains("unknown host 'redis-9'")
        );
        assert!(
            "client r reader policy=sometimes"
                .parse::<Scenario>()
                .unwrap_err()
                .contains("sometimes")
        );
        assert!("bogus".parse::<Scenario>().unwrap_err().contains("unknown directive"));
        assert!(
            "network tick_ms=11"
                .parse::<Scenario>()
                .unwrap_err()
                .contains("tick_ms 11 must be between 1 and 10")
        );
        assert!(
            "client r reader concurrency=0"
                .parse::<Scenario>()
                .unwrap_err()
                .contains("concurrency 0 must be between 1 and 256")
        );
        assert!(
            "topology replicas=64"
                .parse::<Scenario>()
                .unwrap_err()
                .contains("topology replicas 64 is above the limit of 16")
        );
        assert!(
            "topology sentinels=8 quorum=2"
                .parse::<Scenario>()
                .unwrap_err()
                .contains("topology sentinels 8 is above the limit of 7")
        );
        assert!(
            "topology replicas=1 priorities=1,2"
                .parse::<Scenario>()
                .unwrap_err()
                .contains("priorities has 2 entries for 1 replicas")
        );
        let many: String = (1..=9).map(|i| format!("client c{i} reader\n")).collect();
        assert!(
            many.parse::<Scenario>()
                .unwrap_err()
                .contains("9 clients is above the limit of 8")
        );
        assert!(
            "duration_ms 5000\nstable_ms 6000"
                .parse::<Scenario>()
                .unwrap_err()
                .contains("stable_ms 6000 is longer than duration_ms 5000")
        );
        assert!(
            "duration_ms 5000\nstable_ms 1000\nat 5001 crash(redis-2)"
                .parse::<Scenario>()
                .unwrap_err()
                .contains("'at 5001 crash(redis-2)' falls after the end of the run (duration_ms 5000)")
        );
        assert!(
            "at 500 partition(redis-1, redis-2 | redis-2)"
                .parse::<Scenario>()
                .unwrap_err()
                .contains("puts redis-2 on both sides")
        );
        assert!(
            "at 500 latency(redis-1, redis-1, 50)"
                .parse::<Scenario>()
                .unwrap_err()
                .contains("puts redis-1 on both sides")
        );
        // At the limits, and a fault at the very end, are still fine.
        let edge = "duration_ms 5000\nstable_ms 5000\ntopology replicas=16 sentinels=7 quorum=4\nat 5000 heal";
        edge.parse::<Scenario>().unwrap();
        assert!(
            "mutant nope"
                .parse::<Scenario>()
                .unwrap_err()
                .contains("unknown mutant")
        );
    }
}
