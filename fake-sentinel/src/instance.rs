//! What a Sentinel knows about one instance it monitors or talks to: a master, a replica or another Sentinel.
//! Field names follow `sentinelRedisInstance` in Redis's sentinel.c; times are milliseconds on the network's
//! clock, 0 meaning "never".

use std::collections::BTreeMap;

use bytes::Bytes;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// The three kinds of instances.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    /// A monitored master.
    Master,
    /// A replica of a monitored master.
    Replica,
    /// Another Sentinel monitoring the same master.
    Sentinel,
}

impl Kind {
    /// The word events use (`master`, `slave`, `sentinel`).
    pub fn event_name(self) -> &'static str {
        match self {
            Kind::Master => "master",
            Kind::Replica => "slave",
            Kind::Sentinel => "sentinel",
        }
    }
}

/// Per-instance state flags, printed in Redis's order by [`Flags::render`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Flags {
    pub s_down: bool,
    pub o_down: bool,
    /// A Sentinel told us it sees the master down.
    pub master_down: bool,
    pub failover_in_progress: bool,
    pub promoted: bool,
    pub reconf_sent: bool,
    pub reconf_inprog: bool,
    pub reconf_done: bool,
    pub force_failover: bool,
}

impl Flags {
    /// The `flags` field of SENTINEL MASTER/REPLICAS/SENTINELS.
    pub fn render(&self, kind: Kind, disconnected: bool) -> String {
        let mut out: Vec<&str> = Vec::new();
        if self.s_down {
            out.push("s_down");
        }
        if self.o_down {
            out.push("o_down");
        }
        out.push(match kind {
            Kind::Master => "master",
            Kind::Replica => "slave",
            Kind::Sentinel => "sentinel",
        });
        let rest = [
            (disconnected, "disconnected"),
            (self.master_down, "master_down"),
            (self.failover_in_progress, "failover_in_progress"),
            (self.promoted, "promoted"),
            (self.reconf_sent, "reconf_sent"),
            (self.reconf_inprog, "reconf_inprog"),
            (self.reconf_done, "reconf_done"),
            (self.force_failover, "force_failover"),
        ];
        out.extend(rest.iter().filter(|(on, _)| *on).map(|(_, n)| *n));
        out.join(",")
    }
}

/// Why a command was sent on a link, so its reply can be routed back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Tag {
    Ping,
    Info,
    Hello,
    AskMasterDown,
    /// AUTH, CLIENT SETNAME, SUBSCRIBE, the SLAVEOF transaction: replies are discarded.
    Ignore,
}

/// A command queued for a link task.
#[derive(Debug)]
pub(crate) struct Outgoing {
    pub tag: Tag,
    pub args: Vec<Bytes>,
}

/// The handle of a running link task (a command or Pub/Sub connection to an instance).
#[derive(Debug)]
pub(crate) struct LinkHandle {
    /// Distinguishes this connection from earlier ones, so late news from a closed one is ignored.
    pub id: u64,
    pub tx: mpsc::UnboundedSender<Outgoing>,
    pub cancel: CancellationToken,
}

impl LinkHandle {
    pub(crate) fn send(&self, tag: Tag, args: &[&[u8]]) -> bool {
        let args = args.iter().map(|a| Bytes::copy_from_slice(a)).collect();
        self.tx.send(Outgoing { tag, args }).is_ok()
    }
}

impl Drop for LinkHandle {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

/// The connections to an instance and their timing (Redis's `instanceLink`).
#[derive(Debug)]
pub(crate) struct Link {
    /// Command connection.
    pub cc: Option<LinkHandle>,
    /// Pub/Sub connection (masters and replicas only).
    pub pc: Option<LinkHandle>,
    pub disconnected: bool,
    pub pending_commands: u32,
    pub cc_conn_time: u64,
    pub pc_conn_time: u64,
    pub pc_last_activity: u64,
    pub last_avail_time: u64,
    /// Time of the oldest unanswered PING (0: none pending).
    pub act_ping_time: u64,
    pub last_ping_time: u64,
    pub last_pong_time: u64,
    pub last_reconn_time: u64,
    /// Our address on the command connection, announced in Hello messages.
    pub cc_local_ip: Option<String>,
}

impl Link {
    pub(crate) fn new(now: u64) -> Link {
        Link {
            cc: None,
            pc: None,
            disconnected: true,
            pending_commands: 0,
            cc_conn_time: 0,
            pc_conn_time: 0,
            pc_last_activity: 0,
            last_avail_time: now,
            act_ping_time: now,
            last_ping_time: 0,
            last_pong_time: now,
            last_reconn_time: 0,
            cc_local_ip: None,
        }
    }
}

/// One instance.
#[derive(Debug)]
pub(crate) struct Instance {
    pub kind: Kind,
    /// `mymaster` for masters, `ip:port` for replicas, the run id for Sentinels.
    pub name: String,
    pub ip: String,
    pub port: u16,
    pub runid: Option<String>,
    pub flags: Flags,
    pub link: Link,
    pub down_after_ms: u64,
    pub s_down_since_time: u64,
    pub o_down_since_time: u64,
    pub info_refresh: u64,
    /// The role the instance itself reports in INFO.
    pub role_reported: Kind,
    pub role_reported_time: u64,
    pub slave_conf_change_time: u64,
    pub last_pub_time: u64,
    pub info: Option<String>,
    // Replicas, from their INFO.
    pub master_link_down_time: u64,
    pub slave_master_host: Option<String>,
    pub slave_master_port: u16,
    pub slave_master_link_up: bool,
    pub slave_priority: u32,
    pub slave_repl_offset: u64,
    pub replica_announced: bool,
    pub slave_reconf_sent_time: u64,
    // Sentinels.
    pub last_hello_time: u64,
    pub last_master_down_reply_time: u64,
    pub leader: Option<String>,
    pub leader_epoch: u64,
}

impl Instance {
    pub(crate) fn new(kind: Kind, name: String, ip: String, port: u16, down_after_ms: u64, now: u64) -> Instance {
        Instance {
            kind,
            name,
            ip,
            port,
            runid: None,
            flags: Flags::default(),
            link: Link::new(now),
            down_after_ms,
            s_down_since_time: 0,
            o_down_since_time: 0,
            info_refresh: 0,
            role_reported: if kind == Kind::Replica {
                Kind::Replica
            } else {
                Kind::Master
            },
            role_reported_time: now,
            slave_conf_change_time: now,
            last_pub_time: now,
            info: None,
            master_link_down_time: 0,
            slave_master_host: None,
            slave_master_port: 0,
            slave_master_link_up: false,
            slave_priority: 100,
            slave_repl_offset: 0,
            replica_announced: true,
            slave_reconf_sent_time: 0,
            last_hello_time: now,
            last_master_down_reply_time: now,
            leader: None,
            leader_epoch: 0,
        }
    }

    /// `ip:port`, the key of a replica.
    pub(crate) fn addr(&self) -> String {
        format!("{}:{}", self.ip, self.port)
    }

    /// Closes both connections (the tasks stop when their handles drop).
    pub(crate) fn close_links(&mut self) {
        self.link.cc = None;
        self.link.pc = None;
        self.link.pending_commands = 0;
        self.link.disconnected = true;
    }
}

/// The failover states, with the names `SENTINEL MASTER` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum FailoverState {
    /// No failover.
    None,
    /// Started; gathering votes.
    WaitStart,
    /// Elected; choosing the replica to promote.
    SelectSlave,
    /// Sending `SLAVEOF NO ONE` to it.
    SendSlaveofNoone,
    /// Waiting for it to report role master.
    WaitPromotion,
    /// Pointing the other replicas at it.
    ReconfSlaves,
    /// Done; the master's address is switched at the next tick.
    UpdateConfig,
}

impl FailoverState {
    /// The `failover-state` field.
    pub fn redis_name(self) -> &'static str {
        match self {
            FailoverState::None => "none",
            FailoverState::WaitStart => "wait_start",
            FailoverState::SelectSlave => "select_slave",
            FailoverState::SendSlaveofNoone => "send_slaveof_noone",
            FailoverState::WaitPromotion => "wait_promotion",
            FailoverState::ReconfSlaves => "reconf_slaves",
            FailoverState::UpdateConfig => "update_config",
        }
    }
}

/// A monitored master with everything hanging off it.
#[derive(Debug)]
pub(crate) struct Master {
    pub inst: Instance,
    pub quorum: u32,
    pub failover_timeout_ms: u64,
    pub parallel_syncs: u32,
    pub auth_pass: Option<String>,
    pub config_epoch: u64,
    /// Our vote for this master's failover leader, and its epoch.
    pub leader: Option<String>,
    pub leader_epoch: u64,
    pub failover_state: FailoverState,
    pub failover_state_change_time: u64,
    pub failover_start_time: u64,
    pub failover_epoch: u64,
    /// Key of the replica being promoted.
    pub promoted: Option<String>,
    pub replicas: BTreeMap<String, Instance>,
    pub sentinels: BTreeMap<String, Instance>,
}
