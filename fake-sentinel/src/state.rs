//! The state of one Sentinel, behind one mutex: the masters it monitors (with their replicas and fellow
//! Sentinels), its epoch and identity, the clients connected to it, and the bus its events go out on.
//! Tasks lock, act, unlock; no lock is held across an `.await`.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, MutexGuard, Weak};

use bytes::Bytes;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use redsim_net::Net;
use redsim_resp::{Protocol, PushSender, Reply, glob_match};
use tokio_util::sync::CancellationToken;

use crate::config::{MasterConfig, SentinelConfig};
use crate::event::{EventLog, SentinelEvent};
use crate::instance::{FailoverState, Instance, Kind, Master};

/// Output queued for a Pub/Sub client before it is disconnected (`client-output-buffer-limit pubsub 32mb`).
const PUBSUB_OUTPUT_LIMIT_BYTES: usize = 32 * 1024 * 1024;

/// Which instance a link task or a reply belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Target {
    pub master: String,
    pub kind: Kind,
    /// Replica `ip:port`, Sentinel run id; unused for the master itself.
    pub key: String,
}

/// A client connected to this Sentinel.
#[derive(Debug)]
pub(crate) struct Client {
    pub id: u64,
    pub addr: String,
    pub laddr: String,
    pub name: Option<String>,
    pub proto: Protocol,
    pub created_ms: u64,
    pub last_ms: u64,
    pub last_cmd: String,
    pub channels: BTreeSet<Bytes>,
    pub patterns: BTreeSet<Bytes>,
    pub push: PushSender,
    pub cancel: CancellationToken,
}

impl Client {
    pub(crate) fn subscriptions(&self) -> usize {
        self.channels.len() + self.patterns.len()
    }
}

/// Where events go: the event log and every subscribed client.
pub(crate) struct Bus {
    pub sentinel: String,
    pub log: EventLog,
    pub limit: usize,
    pub clients: BTreeMap<u64, Client>,
}

impl Bus {
    /// Publishes `payload` on channel `event` and records it.
    pub(crate) fn publish(&mut self, now: u64, event: &str, payload: String) {
        let channel = Bytes::copy_from_slice(event.as_bytes());
        let message = Bytes::from(payload.clone());
        let mut over_limit = Vec::new();
        for c in self.clients.values() {
            let mut frames = Vec::new();
            if c.channels.contains(&channel) {
                frames.push(vec![
                    Reply::text("message"),
                    Reply::Bulk(channel.clone()),
                    Reply::Bulk(message.clone()),
                ]);
            }
            for p in &c.patterns {
                if glob_match(p, &channel) {
                    frames.push(vec![
                        Reply::text("pmessage"),
                        Reply::Bulk(p.clone()),
                        Reply::Bulk(channel.clone()),
                        Reply::Bulk(message.clone()),
                    ]);
                }
            }
            for items in frames {
                let frame = if c.proto == Protocol::Resp3 {
                    Reply::Push(items)
                } else {
                    Reply::Array(items)
                };
                if !c.push.send(frame.to_bytes(c.proto), PUBSUB_OUTPUT_LIMIT_BYTES) {
                    over_limit.push(c.id);
                }
            }
        }
        for id in over_limit {
            if let Some(c) = self.clients.get(&id) {
                c.cancel.cancel();
            }
        }
        let event = SentinelEvent {
            seq: 0,
            time_ms: now,
            sentinel: self.sentinel.clone(),
            event: event.into(),
            payload,
        };
        self.log.push(event, self.limit);
    }
}

/// The whole state of a Sentinel.
pub(crate) struct State {
    pub cfg: SentinelConfig,
    pub net: Net,
    pub myid: String,
    pub current_epoch: u64,
    pub rng: ChaCha8Rng,
    pub masters: BTreeMap<String, Master>,
    pub bus: Bus,
    pub next_client_id: u64,
    pub next_link_id: u64,
    pub tilt: bool,
    /// When serving started (network clock), for `uptime_in_seconds`.
    pub start_ms: u64,
    /// Global options set with `SENTINEL CONFIG SET`.
    pub options: BTreeMap<String, String>,
    pub tilt_start_time: u64,
    pub previous_time: u64,
    pub self_ref: Weak<Mutex<State>>,
    /// Cancelled by `Sentinel::shutdown`.
    pub shutdown: CancellationToken,
    /// Frozen as by SIGSTOP: the timer does nothing until thawed (then the time jump may enter TILT).
    pub frozen: bool,
    /// Where the Sentinel flushes its configuration, if anywhere.
    pub state_file: Option<crate::config::StateFile>,
}

/// A shared handle to a Sentinel's state.
pub(crate) type Shared = Arc<Mutex<State>>;

/// Locks the state (a poisoned lock still yields it: no code path leaves it half-updated by a panic).
pub(crate) fn lock(shared: &Shared) -> MutexGuard<'_, State> {
    shared.lock().unwrap_or_else(|p| p.into_inner())
}

/// `%@`: how an event names an instance: `<type> <name> <ip> <port>`, plus ` @ <master> <ip> <port>` for
/// replicas and Sentinels.
pub(crate) fn describe(master: &Master, kind: Kind, key: &str) -> String {
    let m = &master.inst;
    let inst = match kind {
        Kind::Master => m,
        Kind::Replica => match master.replicas.get(key) {
            Some(r) => r,
            None => return String::new(),
        },
        Kind::Sentinel => match master.sentinels.get(key) {
            Some(s) => s,
            None => return String::new(),
        },
    };
    let mut s = format!("{} {} {} {}", kind.event_name(), inst.name, inst.ip, inst.port);
    if kind != Kind::Master {
        s.push_str(&format!(" @ {} {} {}", m.name, m.ip, m.port));
    }
    s
}

impl State {
    pub(crate) fn new(net: Net, cfg: SentinelConfig, log: EventLog) -> Shared {
        let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed);
        let myid: String = (0..40)
            .map(|_| char::from_digit(rng.random_range(0..16), 16).unwrap_or('0'))
            .collect();
        Arc::new_cyclic(|weak| {
            Mutex::new(State {
                bus: Bus {
                    sentinel: cfg.name.clone(),
                    log,
                    limit: cfg.event_limit,
                    clients: BTreeMap::new(),
                },
                net,
                myid,
                current_epoch: cfg.current_epoch,
                rng,
                masters: BTreeMap::new(),
                next_client_id: 1,
                next_link_id: 1,
                tilt: false,
                start_ms: 0,
                options: BTreeMap::new(),
                tilt_start_time: 0,
                previous_time: 0,
                self_ref: weak.clone(),
                shutdown: CancellationToken::new(),
                frozen: false,
                state_file: None,
                cfg: cfg.clone(),
            })
        })
    }

    /// Starts monitoring the configured masters (publishing `+monitor` for each). Called when serving starts:
    /// under turmoil the clock is only readable from inside a running host.
    pub(crate) fn start(&mut self) {
        self.previous_time = self.now_ms();
        self.start_ms = self.previous_time;
        for m in self.cfg.masters.clone() {
            // A duplicate name in the configuration is skipped, as the second `sentinel monitor` line would be.
            let _ = self.add_master(m);
        }
    }

    pub(crate) fn now_ms(&self) -> u64 {
        self.net.unix_ms()
    }

    /// A random number in `0..n` from this Sentinel's seeded generator.
    pub(crate) fn rand_below(&mut self, n: u64) -> u64 {
        self.rng.random_range(0..n.max(1))
    }

    /// Writes the current configuration to the state file (as Redis's `sentinelFlushConfig`): each master at its
    /// current address with its config epoch, and the current epoch. Called after every change to them.
    pub(crate) fn flush_config(&self) {
        let Some(file) = &self.state_file else { return };
        let masters = self
            .masters
            .iter()
            .map(|(name, m)| MasterConfig {
                name: name.clone(),
                host: m.inst.ip.clone(),
                port: m.inst.port,
                quorum: m.quorum,
                down_after_ms: m.inst.down_after_ms,
                failover_timeout_ms: m.failover_timeout_ms,
                parallel_syncs: m.parallel_syncs,
                auth_pass: m.auth_pass.clone(),
                config_epoch: m.config_epoch,
                known_replicas: m.replicas.values().map(|r| (r.ip.clone(), r.port)).collect(),
            })
            .collect();
        file.save(SentinelConfig {
            masters,
            current_epoch: self.current_epoch,
            ..self.cfg.clone()
        });
    }

    /// Starts monitoring a master and publishes `+monitor`.
    pub(crate) fn add_master(&mut self, cfg: MasterConfig) -> Result<(), String> {
        if self.masters.contains_key(&cfg.name) {
            return Err("Duplicate master name.".into());
        }
        let now = self.now_ms();
        // Sentinel compares addresses with the IPs replicas report, so a host name is resolved once, here.
        let ip = self
            .net
            .resolve(&cfg.host)
            .map(|ip| ip.to_string())
            .unwrap_or_else(|| cfg.host.clone());
        let inst = Instance::new(Kind::Master, cfg.name.clone(), ip, cfg.port, cfg.down_after_ms, now);
        let mut master = Master {
            inst,
            quorum: cfg.quorum,
            failover_timeout_ms: cfg.failover_timeout_ms,
            parallel_syncs: cfg.parallel_syncs,
            auth_pass: cfg.auth_pass.clone(),
            config_epoch: cfg.config_epoch,
            leader: None,
            leader_epoch: 0,
            failover_state: FailoverState::None,
            failover_state_change_time: 0,
            failover_start_time: 0,
            failover_epoch: 0,
            promoted: None,
            replicas: BTreeMap::new(),
            sentinels: BTreeMap::new(),
        };
        let name = cfg.name.clone();
        for (rip, rport) in &cfg.known_replicas {
            // Loaded silently, as Redis loads `known-replica` lines: no `+slave` event.
            let key = format!("{rip}:{rport}");
            let r = Instance::new(Kind::Replica, key.clone(), rip.clone(), *rport, cfg.down_after_ms, now);
            master.replicas.insert(key, r);
        }
        self.masters.insert(name.clone(), master);
        self.event_on(&name, Kind::Master, "", "+monitor", &format!(" quorum {}", cfg.quorum));
        self.flush_config();
        Ok(())
    }

    /// Publishes an event about an instance: payload `%@` followed by `extra`.
    pub(crate) fn event_on(&mut self, master: &str, kind: Kind, key: &str, event: &str, extra: &str) {
        let Some(m) = self.masters.get(master) else { return };
        let payload = format!("{}{extra}", describe(m, kind, key));
        let now = self.now_ms();
        self.bus.publish(now, event, payload);
    }

    /// Publishes an event with a free-form payload (`+new-epoch`, `+vote-for-leader`, `+switch-master`).
    pub(crate) fn event_raw(&mut self, event: &str, payload: String) {
        let now = self.now_ms();
        self.bus.publish(now, event, payload);
    }

    /// The instance a target names.
    pub(crate) fn instance_mut(&mut self, t: &Target) -> Option<&mut Instance> {
        let m = self.masters.get_mut(&t.master)?;
        match t.kind {
            Kind::Master => Some(&mut m.inst),
            Kind::Replica => m.replicas.get_mut(&t.key),
            Kind::Sentinel => m.sentinels.get_mut(&t.key),
        }
    }

    /// The address clients should use for a master: the promoted replica's once promotion is confirmed.
    pub(crate) fn current_master_addr(m: &Master) -> (String, u16) {
        if m.inst.flags.failover_in_progress
            && m.failover_state >= FailoverState::ReconfSlaves
            && let Some(p) = m.promoted.as_ref().and_then(|k| m.replicas.get(k))
        {
            return (p.ip.clone(), p.port);
        }
        (m.inst.ip.clone(), m.inst.port)
    }
}
