//! The state of one data node and the path every command takes through it.
//!
//! All of a node's state sits behind one mutex, and a command runs start to finish while holding it, so
//! commands are atomic with respect to each other (as in Redis's single thread) and MULTI/EXEC is atomic by
//! construction. Tasks (connections, the replication link, the cron) lock, act, unlock: no lock is ever held
//! across an `.await`.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, MutexGuard, Weak};

use bytes::{Bytes, BytesMut};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use redsim_net::Net;
use redsim_resp::PushSender;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::backlog::Backlog;
use crate::command::{self, CommandSpec};
use crate::config::Config;
use crate::keyspace::Keyspace;
use crate::log::{ClientKind, ExecLog, LogEntry, Role};
use crate::output_limit::{OutputClass, OutputLimits};
use redsim_resp::encode_multibulk;
use redsim_resp::{Protocol, Reply};

/// Longest argument kept in the execution log.
const LOG_ARG_MAX_CHARS: usize = 200;
/// Most arguments one execution-log entry keeps, the command's name included (Redis's SLOWLOG keeps 32).
const LOG_MAX_ARGS: usize = 32;

/// What a replica connected to this node has told us.
#[derive(Debug, Clone)]
pub(crate) struct ReplicaPeer {
    pub ip: String,
    pub listening_port: u16,
    pub ack_offset: u64,
    pub ack_time_ms: u64,
}

/// One connection (or the replication link, as the `master` client).
#[derive(Debug)]
pub(crate) struct Client {
    pub id: u64,
    pub addr: String,
    pub laddr: String,
    pub name: Option<String>,
    pub kind: ClientKind,
    pub created_ms: u64,
    pub last_ms: u64,
    pub proto: Protocol,
    pub authenticated: bool,
    /// Commands queued since MULTI, and whether queuing hit an error (EXEC then aborts).
    pub multi: Option<Vec<Vec<Bytes>>>,
    pub multi_error: bool,
    /// Keys under WATCH, with their version when watched.
    pub watching: Vec<(Bytes, u64)>,
    pub channels: BTreeSet<Bytes>,
    pub patterns: BTreeSet<Bytes>,
    pub monitor: bool,
    pub replica: Option<ReplicaPeer>,
    /// Port announced with `REPLCONF listening-port`, used once the connection becomes a replica.
    pub listening_port: u16,
    /// Replication offset after this client's last write, for WAIT.
    pub woff: u64,
    pub last_cmd: String,
    pub push: Option<PushSender>,
    pub cancel: CancellationToken,
    /// When (Unix seconds) its unsent output went over its class's soft limit, while it stays over.
    pub obuf_soft_since_s: Option<u64>,
}

impl Client {
    /// The class whose `client-output-buffer-limit` applies, as Redis's `getClientType` decides it.
    pub(crate) fn output_class(&self) -> OutputClass {
        if self.kind == ClientKind::Replica && !self.monitor {
            OutputClass::Replica
        } else if self.subscriptions() > 0 {
            OutputClass::PubSub
        } else {
            OutputClass::Normal
        }
    }

    /// Whether its unsent pushed output is over its class's limit at `now_s` (updating its soft-limit clock),
    /// as Redis's `checkClientOutputBufferLimits`; never for a client already being closed.
    fn output_over_limit(&mut self, limits: &OutputLimits, repl_backlog_bytes: u64, now_s: u64) -> bool {
        let Some(push) = &self.push else { return false };
        if self.cancel.is_cancelled() {
            return false;
        }
        let used = push.queued_bytes() as u64;
        let class = self.output_class();
        // Redis skips a client with nothing pending (except replicas, whose stream is shared).
        if used == 0 && class != OutputClass::Replica {
            return false;
        }
        // A replica limit below the backlog would drop replicas that a partial resync just re-attached.
        let floor = if class == OutputClass::Replica {
            repl_backlog_bytes
        } else {
            0
        };
        limits
            .of(class)
            .exceeded(used, floor, &mut self.obuf_soft_since_s, now_s)
    }

    pub(crate) fn subscriptions(&self) -> usize {
        self.channels.len() + self.patterns.len()
    }

    /// The type `CLIENT KILL TYPE` matches.
    pub(crate) fn kill_type(&self) -> ClientKind {
        match self.kind {
            ClientKind::Master | ClientKind::Replica => self.kind,
            _ if self.subscriptions() > 0 => ClientKind::PubSub,
            _ => ClientKind::Normal,
        }
    }
}

/// The state of the replica side of the master link, as ROLE reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkState {
    /// Not a replica.
    None,
    /// Must connect (waiting for the next attempt).
    Connect,
    /// Dialing the master.
    Connecting,
    /// PING / AUTH / REPLCONF / PSYNC exchange.
    Handshake,
    /// Receiving the full-resync payload.
    Sync,
    /// Streaming.
    Connected,
}

impl LinkState {
    /// ROLE's spelling.
    pub fn redis_name(self) -> &'static str {
        match self {
            LinkState::None => "none",
            LinkState::Connect => "connect",
            LinkState::Connecting => "connecting",
            LinkState::Handshake => "handshake",
            LinkState::Sync => "sync",
            LinkState::Connected => "connected",
        }
    }
}

/// Replication state.
#[derive(Debug)]
pub(crate) struct Repl {
    /// `Some` when this node is a replica of that master.
    pub master: Option<(String, u16)>,
    pub link: LinkState,
    pub replid: String,
    pub replid2: String,
    /// Offset up to which `replid2` is valid (-1 when none).
    pub second_offset: i64,
    /// Master offset when there is no backlog yet.
    pub offset: u64,
    pub backlog: Option<Backlog>,
    /// Whether a PSYNC may name our replid (we were a master, or completed a sync). A fresh replica sends `?`.
    pub has_history: bool,
    pub link_down_since_ms: Option<u64>,
    pub last_io_ms: u64,
    /// Cancels the whole link task (REPLICAOF changes the master).
    pub link_cancel: Option<CancellationToken>,
    /// Client id of the link's `master` client while connected.
    pub master_client: Option<u64>,
    pub last_replica_ping_ms: u64,
    /// Why the link to the master last broke (for timelines and debugging; not shown by INFO).
    pub last_link_error: Option<String>,
    pub sync_full: u64,
    pub sync_partial_ok: u64,
    pub sync_partial_err: u64,
}

impl Repl {
    pub(crate) fn offset(&self) -> u64 {
        self.backlog.as_ref().map(Backlog::end_offset).unwrap_or(self.offset)
    }
}

/// Per-command statistics for INFO commandstats.
#[derive(Debug, Default, Clone)]
pub(crate) struct CommandStat {
    pub calls: u64,
    pub rejected: u64,
    pub failed: u64,
}

#[derive(Debug, Default)]
pub(crate) struct Stats {
    pub connections_received: u64,
    pub commands_processed: u64,
    pub expired_keys: u64,
    pub keyspace_hits: u64,
    pub keyspace_misses: u64,
    pub rejected_connections: u64,
    pub net_input_bytes: u64,
    pub net_output_bytes: u64,
    pub error_replies: u64,
    /// Error replies by code (`ERR`, `READONLY`, ...), for INFO errorstats.
    pub errors: BTreeMap<String, u64>,
    pub commands: BTreeMap<String, CommandStat>,
}

/// What a command asks its connection to do.
#[derive(Debug)]
pub(crate) enum Outcome {
    /// Send this reply.
    Reply(Reply),
    /// Send these replies (SUBSCRIBE to several channels).
    Many(Vec<Reply>),
    /// Send nothing (REPLCONF ACK, commands applied from the master).
    Silent,
    /// Send these raw bytes (PSYNC's `+FULLRESYNC` and payload).
    Raw(Bytes),
    /// Send the reply, then close (QUIT, protocol errors).
    Close(Reply),
    /// WAIT: block until `replicas` replicas acknowledged `offset`, or the timeout (0: forever).
    Wait {
        replicas: u64,
        offset: u64,
        timeout_ms: u64,
    },
}

/// The whole state of a data node.
pub(crate) struct State {
    pub cfg: Config,
    pub net: Net,
    pub log: ExecLog,
    pub ks: Keyspace,
    pub run_id: String,
    pub rng: ChaCha8Rng,
    pub repl: Repl,
    pub clients: BTreeMap<u64, Client>,
    pub next_client_id: u64,
    pub channels: BTreeMap<Bytes, BTreeSet<u64>>,
    pub patterns: BTreeMap<Bytes, BTreeSet<u64>>,
    pub stats: Stats,
    pub start_ms: u64,
    pub loading: bool,
    pub self_ref: Weak<Mutex<State>>,
    /// Woken whenever a replica acknowledges an offset (WAIT waits on it).
    pub acks: Arc<Notify>,
    /// Clients blocked in WAIT now, and how many of those have a timeout (INFO's `blocked_clients` and
    /// `clients_in_timeout_table`).
    pub blocked_clients: usize,
    pub blocked_with_timeout: usize,
    /// Set while EXEC runs the queued commands: propagation wraps them in MULTI ... EXEC.
    pub exec_depth: u32,
    pub exec_multi_emitted: bool,
    /// Set while a script runs outside EXEC: its first write waits here, as Redis 7.0 wraps a script's writes
    /// in MULTI/EXEC only when there are two or more (see [`State::begin_effects`]).
    pub exec_hold_first: bool,
    pub exec_held: Option<Vec<Bytes>>,
    /// The Lua interpreter and the scripts cached in it (EVAL, SCRIPT LOAD).
    pub scripts: crate::script_cache::ScriptCache,
    /// While a script runs, the protocol its `redis.call`s are answered in (RESP2 unless it called
    /// `redis.setresp(3)`), whatever the calling client speaks.
    pub script_proto: Option<Protocol>,
    /// Cancelled by `Node::shutdown`: the node stops as a killed process would.
    pub shutdown: CancellationToken,
    /// Where `CONFIG REWRITE` writes, if anywhere.
    pub config_file: Option<crate::config::ConfigFile>,
    /// The full-resync reply replicas share while it is current (see [`crate::full_sync`]).
    pub shared_snapshot: Option<crate::full_sync::SharedSnapshot>,
}

/// A shared handle to a node's state.
pub(crate) type Shared = Arc<Mutex<State>>;

/// Locks the state; a poisoned lock (a panic elsewhere) still yields the state, as the data is never left
/// half-updated by a panic in our own code paths.
pub(crate) fn lock(shared: &Shared) -> MutexGuard<'_, State> {
    shared.lock().unwrap_or_else(|p| p.into_inner())
}

impl State {
    pub(crate) fn new(net: Net, cfg: Config, log: ExecLog) -> Shared {
        let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed);
        let run_id = random_hex(&mut rng);
        let replid = random_hex(&mut rng);
        let now = net.unix_ms();
        let master = cfg.replicaof.clone();
        let link = if master.is_some() {
            LinkState::Connect
        } else {
            LinkState::None
        };
        Arc::new_cyclic(|weak| {
            Mutex::new(State {
                net,
                log,
                ks: Keyspace::new(),
                run_id,
                rng,
                repl: Repl {
                    master,
                    link,
                    replid,
                    replid2: "0".repeat(40),
                    second_offset: -1,
                    offset: 0,
                    backlog: None,
                    has_history: false,
                    link_down_since_ms: None,
                    last_io_ms: now,
                    link_cancel: None,
                    master_client: None,
                    last_replica_ping_ms: now,
                    last_link_error: None,
                    sync_full: 0,
                    sync_partial_ok: 0,
                    sync_partial_err: 0,
                },
                clients: BTreeMap::new(),
                next_client_id: 1,
                channels: BTreeMap::new(),
                patterns: BTreeMap::new(),
                stats: Stats::default(),
                start_ms: now,
                loading: false,
                self_ref: weak.clone(),
                acks: Arc::new(Notify::new()),
                blocked_clients: 0,
                blocked_with_timeout: 0,
                exec_depth: 0,
                exec_multi_emitted: false,
                exec_hold_first: false,
                exec_held: None,
                scripts: Default::default(),
                script_proto: None,
                shutdown: CancellationToken::new(),
                config_file: None,
                shared_snapshot: None,
                cfg,
            })
        })
    }

    /// Milliseconds on the network's clock.
    pub(crate) fn now_ms(&self) -> u64 {
        self.net.unix_ms()
    }

    /// The node's role right now.
    pub(crate) fn role(&self) -> Role {
        if self.repl.master.is_some() {
            Role::Replica
        } else {
            Role::Master
        }
    }

    pub(crate) fn new_replid(&mut self) -> String {
        random_hex(&mut self.rng)
    }

    /// Registers a connection and returns its id.
    pub(crate) fn add_client(
        &mut self,
        addr: String,
        laddr: String,
        kind: ClientKind,
        push: Option<PushSender>,
        cancel: CancellationToken,
    ) -> u64 {
        let id = self.next_client_id;
        self.next_client_id += 1;
        let now = self.now_ms();
        let authenticated = self.cfg.requirepass.is_none() || kind == ClientKind::Master;
        self.clients.insert(
            id,
            Client {
                id,
                addr,
                laddr,
                name: None,
                kind,
                created_ms: now,
                last_ms: now,
                proto: Protocol::Resp2,
                authenticated,
                multi: None,
                multi_error: false,
                watching: Vec::new(),
                channels: BTreeSet::new(),
                patterns: BTreeSet::new(),
                monitor: false,
                replica: None,
                listening_port: 0,
                woff: 0,
                last_cmd: "NULL".into(),
                push,
                cancel,
                obuf_soft_since_s: None,
            },
        );
        if kind != ClientKind::Master {
            self.stats.connections_received += 1;
        }
        id
    }

    /// Forgets a connection (after it closed) and its subscriptions.
    pub(crate) fn remove_client(&mut self, id: u64) {
        self.unwatch_all(id);
        if let Some(c) = self.clients.remove(&id) {
            for ch in &c.channels {
                remove_sub(&mut self.channels, ch, id);
            }
            for p in &c.patterns {
                remove_sub(&mut self.patterns, p, id);
            }
            c.cancel.cancel();
        }
        if self.repl.master_client == Some(id) {
            self.repl.master_client = None;
        }
    }

    /// Ends every WATCH of a connection (after EXEC, DISCARD, UNWATCH, RESET, or when it closes).
    pub(crate) fn unwatch_all(&mut self, cid: u64) {
        let Some(c) = self.clients.get_mut(&cid) else { return };
        for (key, _) in std::mem::take(&mut c.watching) {
            self.ks.unwatch(&key);
        }
    }

    /// Disconnects a client: its connection task sees the cancellation and closes the socket.
    pub(crate) fn kill_client(&mut self, id: u64) {
        if let Some(c) = self.clients.get(&id) {
            c.cancel.cancel();
        }
    }

    /// Runs one command from client `cid`, in Redis's order of checks.
    pub(crate) fn execute(&mut self, cid: u64, args: Vec<Bytes>) -> Outcome {
        if args.is_empty() || !self.clients.contains_key(&cid) {
            return Outcome::Silent;
        }
        let now = self.now_ms();
        let from_master = self.clients[&cid].kind == ClientKind::Master;
        self.stats.commands_processed += 1;
        let outcome = self.check_and_run(cid, &args, now);
        if let Some(c) = self.clients.get_mut(&cid) {
            c.last_ms = now;
        }
        let reply_for_log = match &outcome {
            Outcome::Reply(r) | Outcome::Close(r) => r.summary(),
            Outcome::Many(rs) => rs.iter().map(Reply::summary).collect::<Vec<_>>().join(" "),
            Outcome::Silent => String::new(),
            Outcome::Raw(b) => String::from_utf8_lossy(&b[..b.len().min(60)])
                .lines()
                .next()
                .unwrap_or("")
                .into(),
            Outcome::Wait { .. } => "(blocked)".into(),
        };
        if let Outcome::Reply(Reply::Error(e)) | Outcome::Close(Reply::Error(e)) = &outcome {
            self.stats.error_replies += 1;
            let code = e.split(' ').next().unwrap_or("ERR").to_string();
            *self.stats.errors.entry(code).or_default() += 1;
        }
        // A queued command is logged when EXEC runs it, not when it is queued.
        if !matches!(&outcome, Outcome::Reply(Reply::Simple(s)) if s == "QUEUED") {
            self.log_executed(cid, &args, now, reply_for_log);
        }
        // Replies to the master are never sent, except the GETACK answer the link handles itself.
        if from_master { Outcome::Silent } else { outcome }
    }

    fn check_and_run(&mut self, cid: u64, args: &[Bytes], now: u64) -> Outcome {
        let spec = match command::lookup(&args[0]) {
            Some(spec) if spec.arity_ok(args.len()) => spec,
            Some(spec) => {
                self.flag_multi_error(cid);
                self.stat_rejected(spec.name);
                return Outcome::Reply(Reply::err(format!(
                    "wrong number of arguments for '{}' command",
                    spec.name
                )));
            }
            None => {
                self.flag_multi_error(cid);
                return Outcome::Reply(redsim_resp::unknown_command(args));
            }
        };
        let client = &self.clients[&cid];
        let from_master = client.kind == ClientKind::Master;
        if !client.authenticated && !spec.has(command::NOAUTH) {
            self.flag_multi_error(cid);
            self.stat_rejected(spec.name);
            return Outcome::Reply(Reply::Error("NOAUTH Authentication required.".into()));
        }
        // EXEC counts as a write when it would run one: a node demoted between MULTI and EXEC refuses it whole.
        let is_exec = spec.name == "exec" && client.multi.is_some();
        let writes = spec.has(command::WRITE)
            || (is_exec
                && client.multi.as_ref().is_some_and(|q| {
                    q.iter()
                        .any(|a| command::lookup(&a[0]).is_some_and(|s| s.has(command::WRITE)))
                }));
        let refusal = if writes && !from_master && self.role() == Role::Master && !self.enough_good_replicas(now) {
            Some("NOREPLICAS Not enough good replicas to write.")
        } else if writes && !from_master && self.role() == Role::Replica && self.cfg.replica_read_only {
            Some("READONLY You can't write against a read only replica.")
        } else {
            None
        };
        if let Some(err) = refusal {
            self.stat_rejected(spec.name);
            if is_exec {
                if let Some(c) = self.clients.get_mut(&cid) {
                    c.multi = None;
                    c.multi_error = false;
                }
                self.unwatch_all(cid);
                return Outcome::Reply(Reply::Error(format!(
                    "EXECABORT Transaction discarded because of: {err}"
                )));
            }
            self.flag_multi_error(cid);
            return Outcome::Reply(Reply::Error(err.into()));
        }
        let client = &self.clients[&cid];
        if client.proto == Protocol::Resp2 && client.subscriptions() > 0 && !spec.has(command::PUBSUB_OK) {
            self.stat_rejected(spec.name);
            return Outcome::Reply(Reply::err(format!(
                "Can't execute '{}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context",
                spec.name
            )));
        }
        if self.role() == Role::Replica
            && !from_master
            && self.repl.link != LinkState::Connected
            && !self.cfg.replica_serve_stale_data
            && !spec.has(command::STALE)
        {
            self.flag_multi_error(cid);
            self.stat_rejected(spec.name);
            return Outcome::Reply(Reply::Error(
                "MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.".into(),
            ));
        }
        if self.clients[&cid].monitor && (spec.has(command::READONLY) || spec.has(command::WRITE)) {
            return Outcome::Reply(Reply::err("Replica can't interact with the keyspace"));
        }
        if self.loading && !spec.has(command::LOADING) {
            self.stat_rejected(spec.name);
            return Outcome::Reply(Reply::Error("LOADING Redis is loading the dataset in memory".into()));
        }
        if self.clients[&cid].multi.is_some() && !spec.has(command::NO_QUEUE) {
            if spec.has(command::NO_MULTI) {
                self.flag_multi_error(cid);
                return Outcome::Reply(Reply::err("Command not allowed inside a transaction"));
            }
            if let Some(q) = self.clients.get_mut(&cid).and_then(|c| c.multi.as_mut()) {
                q.push(args.to_vec());
            }
            return Outcome::Reply(Reply::Simple("QUEUED".into()));
        }
        self.feed_monitors(cid, spec, args);
        let outcome = self.run(cid, spec, args, now);
        self.count_call(spec, args, matches!(outcome, Outcome::Reply(Reply::Error(_))));
        if let Some(c) = self.clients.get_mut(&cid) {
            c.last_cmd = spec.name.to_string();
        }
        outcome
    }

    /// Dispatches to the command's implementation (in `commands/`).
    pub(crate) fn run(&mut self, cid: u64, spec: &CommandSpec, args: &[Bytes], now: u64) -> Outcome {
        use crate::commands::*;
        // Commands from our master see every key, expired or not: a replica's keys expire only through the DEL
        // its master sends (Redis's expireIfNeeded returns "not expired" to the master client). Otherwise a
        // PERSIST that raced an expiry would be lost on the replica and the two would diverge.
        let from_master = self.clients.get(&cid).is_some_and(|c| c.kind == ClientKind::Master);
        let key_now = if from_master { 0 } else { now };
        let r = match spec.name {
            "ping" => return connection::ping(self, cid, args),
            "echo" => Reply::Bulk(args[1].clone()),
            "hello" => connection::hello(self, cid, args),
            "auth" => connection::auth(self, cid, args),
            "select" => connection::select(args),
            "quit" => return Outcome::Close(Reply::ok()),
            "reset" => connection::reset(self, cid),
            "client" => return client::client(self, cid, args),
            "get" => strings::get(self, args, key_now),
            "set" => strings::set(self, cid, args, key_now),
            "getdel" => strings::getdel(self, cid, args, key_now),
            "incr" => strings::incr_by(self, cid, &args[1], 1, key_now),
            "decr" => strings::incr_by(self, cid, &args[1], -1, key_now),
            "incrby" | "decrby" => strings::incrby_command(self, cid, spec.name == "decrby", args, key_now),
            "append" => strings::append(self, cid, args, key_now),
            "strlen" => strings::strlen(self, args, key_now),
            "mget" => strings::mget(self, args, key_now),
            "mset" => strings::mset(self, cid, args),
            "hset" => hashes::hset(self, cid, args, key_now, false).unwrap_or_else(|e| e),
            "hmset" => hashes::hset(self, cid, args, key_now, true).unwrap_or_else(|e| e),
            "hsetnx" => hashes::hsetnx(self, cid, args, key_now).unwrap_or_else(|e| e),
            "hget" => hashes::hget(self, args, key_now).unwrap_or_else(|e| e),
            "hmget" => hashes::hmget(self, args, key_now).unwrap_or_else(|e| e),
            "hgetall" => hashes::hgetall(self, args, key_now).unwrap_or_else(|e| e),
            "hkeys" => hashes::hkeys(self, args, key_now, false).unwrap_or_else(|e| e),
            "hvals" => hashes::hkeys(self, args, key_now, true).unwrap_or_else(|e| e),
            "hdel" => hashes::hdel(self, cid, args, key_now).unwrap_or_else(|e| e),
            "hexists" => hashes::hexists(self, args, key_now).unwrap_or_else(|e| e),
            "hlen" => hashes::hlen(self, args, key_now).unwrap_or_else(|e| e),
            "hstrlen" => hashes::hstrlen(self, args, key_now).unwrap_or_else(|e| e),
            "hincrby" => hashes::hincrby(self, cid, args, key_now).unwrap_or_else(|e| e),
            "lpush" => lists::push(self, cid, args, key_now, true, false).unwrap_or_else(|e| e),
            "rpush" => lists::push(self, cid, args, key_now, false, false).unwrap_or_else(|e| e),
            "lpushx" => lists::push(self, cid, args, key_now, true, true).unwrap_or_else(|e| e),
            "rpushx" => lists::push(self, cid, args, key_now, false, true).unwrap_or_else(|e| e),
            "lpop" => lists::pop(self, cid, args, key_now, true).unwrap_or_else(|e| e),
            "rpop" => lists::pop(self, cid, args, key_now, false).unwrap_or_else(|e| e),
            "lrange" => lists::lrange(self, args, key_now).unwrap_or_else(|e| e),
            "llen" => lists::llen(self, args, key_now).unwrap_or_else(|e| e),
            "lindex" => lists::lindex(self, args, key_now).unwrap_or_else(|e| e),
            "lset" => lists::lset(self, cid, args, key_now).unwrap_or_else(|e| e),
            "lrem" => lists::lrem(self, cid, args, key_now).unwrap_or_else(|e| e),
            "ltrim" => lists::ltrim(self, cid, args, key_now).unwrap_or_else(|e| e),
            "lmove" | "rpoplpush" => lists::lmove(self, cid, args, key_now).unwrap_or_else(|e| e),
            "sadd" => sets::sadd(self, cid, args, key_now).unwrap_or_else(|e| e),
            "srem" => sets::srem(self, cid, args, key_now).unwrap_or_else(|e| e),
            "smembers" => sets::smembers(self, args, key_now).unwrap_or_else(|e| e),
            "sismember" => sets::sismember(self, args, key_now).unwrap_or_else(|e| e),
            "smismember" => sets::smismember(self, args, key_now).unwrap_or_else(|e| e),
            "scard" => sets::scard(self, args, key_now).unwrap_or_else(|e| e),
            "sinter" => sets::algebra(self, args, key_now, sets::Algebra::Inter).unwrap_or_else(|e| e),
            "sunion" => sets::algebra(self, args, key_now, sets::Algebra::Union).unwrap_or_else(|e| e),
            "sdiff" => sets::algebra(self, args, key_now, sets::Algebra::Diff).unwrap_or_else(|e| e),
            "srandmember" => sets::srandmember(self, args, key_now).unwrap_or_else(|e| e),
            "spop" => sets::spop(self, cid, args, key_now).unwrap_or_else(|e| e),
            "sscan" => sets::sscan(self, args, key_now).unwrap_or_else(|e| e),
            "hscan" => hashes::hscan(self, args, key_now).unwrap_or_else(|e| e),
            "zadd" => sorted_sets::zadd(self, cid, args, key_now, false).unwrap_or_else(|e| e),
            "zincrby" => sorted_sets::zadd(self, cid, args, key_now, true).unwrap_or_else(|e| e),
            "zrem" => sorted_sets::zrem(self, cid, args, key_now).unwrap_or_else(|e| e),
            "zscore" => sorted_sets::zscore(self, args, key_now).unwrap_or_else(|e| e),
            "zmscore" => sorted_sets::zmscore(self, args, key_now).unwrap_or_else(|e| e),
            "zcard" => sorted_sets::zcard(self, args, key_now).unwrap_or_else(|e| e),
            "zcount" => sorted_sets::zcount(self, args, key_now).unwrap_or_else(|e| e),
            "zrank" => sorted_sets::zrank(self, args, key_now, false).unwrap_or_else(|e| e),
            "zrevrank" => sorted_sets::zrank(self, args, key_now, true).unwrap_or_else(|e| e),
            "zrange" | "zrevrange" | "zrangebyscore" | "zrevrangebyscore" | "zrangebylex" | "zrevrangebylex" => {
                use sorted_sets::By;
                let (by, rev) = match spec.name {
                    "zrange" => (None, None),
                    "zrevrange" => (Some(By::Rank), Some(true)),
                    "zrangebyscore" => (Some(By::Score), Some(false)),
                    "zrevrangebyscore" => (Some(By::Score), Some(true)),
                    "zrangebylex" => (Some(By::Lex), Some(false)),
                    _ => (Some(By::Lex), Some(true)),
                };
                sorted_sets::zrange(self, cid, args, key_now, by, rev).unwrap_or_else(|e| e)
            }
            "zremrangebyrank" => {
                sorted_sets::zremrange(self, cid, args, key_now, sorted_sets::By::Rank).unwrap_or_else(|e| e)
            }
            "zremrangebyscore" => {
                sorted_sets::zremrange(self, cid, args, key_now, sorted_sets::By::Score).unwrap_or_else(|e| e)
            }
            "zremrangebylex" => {
                sorted_sets::zremrange(self, cid, args, key_now, sorted_sets::By::Lex).unwrap_or_else(|e| e)
            }
            "zpopmin" => sorted_sets::zpop(self, cid, args, key_now, false).unwrap_or_else(|e| e),
            "zpopmax" => sorted_sets::zpop(self, cid, args, key_now, true).unwrap_or_else(|e| e),
            "zscan" => sorted_sets::zscan(self, args, key_now).unwrap_or_else(|e| e),
            "del" | "unlink" => keys::del(self, cid, args, key_now),
            "rename" => keys::rename(self, cid, args, key_now, false),
            "renamenx" => keys::rename(self, cid, args, key_now, true),
            "copy" => keys::copy(self, cid, args, key_now),
            "exists" => keys::exists(self, args, key_now),
            "expire" => keys::expire(self, cid, args, key_now, 1000, false),
            "pexpire" => keys::expire(self, cid, args, key_now, 1, false),
            "expireat" => keys::expire(self, cid, args, key_now, 1000, true),
            "pexpireat" => keys::expire(self, cid, args, key_now, 1, true),
            "ttl" => keys::ttl(self, args, now, 1000, false),
            "pttl" => keys::ttl(self, args, now, 1, false),
            "expiretime" => keys::ttl(self, args, now, 1000, true),
            "pexpiretime" => keys::ttl(self, args, now, 1, true),
            "persist" => keys::persist(self, cid, args, key_now),
            "dbsize" => Reply::Int(self.ks.len() as i64),
            "keys" => keys::keys(self, args, key_now),
            "scan" => scan::scan(self, args, key_now).unwrap_or_else(|e| e),
            "object" => keys::object(self, args, key_now),
            "flushall" | "flushdb" => keys::flush(self, cid, spec.name, args),
            "info" => server::info(self, args),
            "role" => server::role(self),
            "config" => server::config(self, args),
            "monitor" => server::monitor(self, cid),
            "replicaof" | "slaveof" => replication::replicaof(self, args),
            "replconf" => return replication::replconf(self, cid, args, now),
            "psync" => return replication::psync(self, cid, args, now),
            "sync" => return replication::psync(self, cid, &[], now),
            "wait" => return replication::wait(self, cid, args),
            "multi" => transaction::multi(self, cid),
            "exec" => return transaction::exec(self, cid),
            "discard" => transaction::discard(self, cid),
            "watch" => transaction::watch(self, cid, args),
            "unwatch" => {
                self.unwatch_all(cid);
                Reply::ok()
            }
            "type" => keys::type_of(self, args, key_now),
            "readonly" | "readwrite" => Reply::err("This instance has cluster support disabled"),
            "pubsub" => pubsub::pubsub(self, args),
            "subscribe" | "psubscribe" => return pubsub::subscribe(self, cid, spec.name == "psubscribe", args),
            "unsubscribe" | "punsubscribe" => {
                return pubsub::unsubscribe(self, cid, spec.name == "punsubscribe", args);
            }
            "publish" => pubsub::publish(self, args),
            // Scripting.
            "eval" | "evalsha" | "eval_ro" | "evalsha_ro" => scripting::eval(self, cid, spec.name, args, now),
            "script" => scripting::script(self, args),
            other => Reply::err(format!("command '{other}' has no implementation")),
        };
        Outcome::Reply(r)
    }

    /// Counts one call of a command in INFO commandstats (`failed` when it replied with an error).
    pub(crate) fn count_call(&mut self, spec: &CommandSpec, args: &[Bytes], failed: bool) {
        let stat = self.stats.commands.entry(stat_name(spec, args)).or_default();
        stat.calls += 1;
        if failed {
            stat.failed += 1;
        }
    }

    fn flag_multi_error(&mut self, cid: u64) {
        if let Some(c) = self.clients.get_mut(&cid)
            && c.multi.is_some()
        {
            c.multi_error = true;
        }
    }

    /// How many replicas acknowledged at least `offset`.
    pub(crate) fn acked_replicas(&self, offset: u64) -> usize {
        self.clients
            .values()
            .filter_map(|c| c.replica.as_ref())
            .filter(|r| r.ack_offset >= offset)
            .count()
    }

    fn stat_rejected(&mut self, name: &str) {
        self.stats.commands.entry(name.to_string()).or_default().rejected += 1;
    }

    /// `min-replicas-to-write`: enough replicas acknowledged within `min-replicas-max-lag` seconds?
    pub(crate) fn enough_good_replicas(&self, now: u64) -> bool {
        let need = self.cfg.min_replicas_to_write as usize;
        if need == 0 {
            return true;
        }
        let max_lag_ms = self.cfg.min_replicas_max_lag_s as u64 * 1000;
        let good = self
            .clients
            .values()
            .filter_map(|c| c.replica.as_ref())
            .filter(|r| now.saturating_sub(r.ack_time_ms) <= max_lag_ms)
            .count();
        good >= need
    }

    /// Sends a write to the replicas, as this node's master role requires. Replicas never call this for
    /// commands from their master: they proxy the master's bytes instead (see `apply_from_master`).
    pub(crate) fn propagate(&mut self, cid: u64, args: &[&[u8]]) {
        if self.role() != Role::Master || self.repl.backlog.is_none() {
            if let Some(c) = self.clients.get_mut(&cid) {
                c.woff = self.repl.offset();
            }
            return;
        }
        if self.exec_depth > 0 && !self.exec_multi_emitted {
            if self.exec_hold_first && self.exec_held.is_none() {
                // A script's first write: sent alone if it stays the only one (see `end_effects`).
                self.exec_held = Some(args.iter().map(|a| Bytes::copy_from_slice(a)).collect());
                return;
            }
            self.exec_multi_emitted = true;
            self.feed_replicas_args(&[b"MULTI"]);
            if let Some(held) = self.exec_held.take() {
                let held: Vec<&[u8]> = held.iter().map(|a| &a[..]).collect();
                self.feed_replicas_args(&held);
            }
        }
        self.feed_replicas_args(args);
        let off = self.repl.offset();
        if let Some(c) = self.clients.get_mut(&cid) {
            c.woff = off;
        }
    }

    /// The protocol a command's reply is shaped for, where the shape (not only the encoding) differs: the
    /// client's, or a running script's.
    pub(crate) fn reply_proto(&self, cid: u64) -> Protocol {
        self.script_proto
            .unwrap_or_else(|| self.clients.get(&cid).map_or(Protocol::Resp2, |c| c.proto))
    }

    /// [`State::propagate`] for a command passed on to replicas as it arrived.
    pub(crate) fn propagate_args(&mut self, cid: u64, args: &[Bytes]) {
        let refs: Vec<&[u8]> = args.iter().map(|a| a.as_ref()).collect();
        self.propagate(cid, &refs);
    }

    /// Starts collecting a script's writes for the replicas: they are sent as one MULTI ... EXEC when there are
    /// two or more, the single one alone otherwise (Redis 7.0's `propagatePendingCommands`). This is EXEC's own
    /// wrapping (`exec_depth`), with the MULTI held back until a second write. Inside EXEC it does nothing: the
    /// script's writes join the transaction's. Returns whether it started, for [`State::end_effects`].
    pub(crate) fn begin_effects(&mut self) -> bool {
        if self.exec_depth > 0 {
            return false;
        }
        self.exec_depth += 1;
        self.exec_multi_emitted = false;
        self.exec_hold_first = true;
        self.exec_held = None;
        true
    }

    /// Sends what [`State::begin_effects`] collected: the held single write, or the closing EXEC.
    pub(crate) fn end_effects(&mut self, cid: u64, began: bool) {
        if !began {
            return;
        }
        self.exec_depth -= 1;
        self.exec_hold_first = false;
        if let Some(held) = self.exec_held.take() {
            let held: Vec<&[u8]> = held.iter().map(|a| &a[..]).collect();
            self.feed_replicas_args(&held);
        }
        if std::mem::take(&mut self.exec_multi_emitted) {
            self.feed_replicas_args(&[b"EXEC"]);
        }
        let off = self.repl.offset();
        let master = self.role() == Role::Master;
        if let Some(c) = self.clients.get_mut(&cid)
            && c.woff < off
            && master
        {
            c.woff = off;
        }
    }

    pub(crate) fn feed_replicas_args(&mut self, args: &[&[u8]]) {
        let mut buf = BytesMut::new();
        encode_multibulk(&mut buf, args);
        self.feed_replicas(buf.freeze());
    }

    /// Appends bytes to the replication stream: the backlog and every attached replica. A replica whose
    /// unsent stream goes over its output limit is disconnected.
    pub(crate) fn feed_replicas(&mut self, bytes: Bytes) {
        if let Some(b) = self.repl.backlog.as_mut() {
            b.append(&bytes);
        }
        let limits = self.cfg.client_output_buffer_limit;
        let backlog_bytes = self.cfg.repl_backlog_size as u64;
        let now_s = self.now_ms() / 1000;
        let mut over_limit = Vec::new();
        for c in self.clients.values_mut() {
            if c.replica.is_none() {
                continue;
            }
            let Some(p) = &c.push else { continue };
            if !p.send(bytes.clone(), usize::MAX) || c.output_over_limit(&limits, backlog_bytes, now_s) {
                over_limit.push(c.id);
            }
        }
        for id in over_limit {
            self.close_over_output_limit(id, true);
        }
    }

    /// Queues bytes for a client outside request/reply; disconnects it past its output limit.
    pub(crate) fn push_to(&mut self, id: u64, bytes: Bytes) {
        let limits = self.cfg.client_output_buffer_limit;
        let backlog_bytes = self.cfg.repl_backlog_size as u64;
        let now_s = self.now_ms() / 1000;
        let Some(c) = self.clients.get_mut(&id) else { return };
        let Some(p) = &c.push else { return };
        if !p.send(bytes, usize::MAX) || c.output_over_limit(&limits, backlog_bytes, now_s) {
            self.close_over_output_limit(id, true);
        }
    }

    /// The cron's pass over every client, as Redis's `clientsCron`: a soft limit held long enough closes a
    /// client even when nothing more is pushed to it.
    pub(crate) fn enforce_output_limits(&mut self, now_ms: u64) {
        let limits = self.cfg.client_output_buffer_limit;
        let backlog_bytes = self.cfg.repl_backlog_size as u64;
        let mut over_limit = Vec::new();
        for c in self.clients.values_mut() {
            if c.output_over_limit(&limits, backlog_bytes, now_ms / 1000) {
                over_limit.push(c.id);
            }
        }
        for id in over_limit {
            self.close_over_output_limit(id, false);
        }
    }

    /// Disconnects a client over its output limit and says so on stderr in Redis's words (`scheduled` when a
    /// push found it, as Redis closes it asynchronously then; `closed` from the cron).
    fn close_over_output_limit(&mut self, id: u64, scheduled: bool) {
        let Some(c) = self.clients.get(&id) else { return };
        if c.cancel.is_cancelled() {
            return;
        }
        let line = crate::commands::client::client_line(self, c);
        let what = if scheduled {
            "scheduled to be closed ASAP"
        } else {
            "closed"
        };
        eprintln!(
            "fake-redis {}: Client {line} {what} for overcoming of output buffer limits.",
            self.cfg.name
        );
        self.kill_client(id);
    }

    fn feed_monitors(&mut self, cid: u64, spec: &CommandSpec, args: &[Bytes]) {
        // Redis hides admin commands from MONITOR (CONFIG, REPLICAOF, CLIENT KILL/LIST) and redacts secrets.
        let admin_sub = spec.name == "client"
            && args
                .get(1)
                .is_some_and(|a| a.eq_ignore_ascii_case(b"kill") || a.eq_ignore_ascii_case(b"list"));
        if spec.has(command::SKIP_MONITOR) || admin_sub {
            return;
        }
        self.feed_monitor_line(cid, None, args);
    }

    /// Shows a command to every MONITOR client, as sent by client `cid` or, for a command a script ran, by
    /// `who` (`lua`, as Redis prints it).
    pub(crate) fn feed_monitor_line(&mut self, cid: u64, who: Option<&str>, args: &[Bytes]) {
        let monitors: Vec<u64> = self.clients.values().filter(|c| c.monitor).map(|c| c.id).collect();
        if monitors.is_empty() {
            return;
        }
        let us = self.net.unix_us();
        let who = match who {
            Some(w) => w,
            None => self.clients.get(&cid).map_or("", |c| c.addr.as_str()),
        };
        let mut line = format!("+{}.{:06} [0 {}]", us / 1_000_000, us % 1_000_000, who);
        let name = args.first().map(|a| String::from_utf8_lossy(a).to_ascii_lowercase());
        let mut redact_from = if name.as_deref() == Some("auth") { 1 } else { args.len() };
        if name.as_deref() == Some("hello") {
            redact_from = args
                .iter()
                .position(|a| a.eq_ignore_ascii_case(b"auth"))
                .map_or(args.len(), |i| i + 1);
        }
        for (i, a) in args.iter().enumerate() {
            line.push(' ');
            if i >= redact_from && i < redact_from + 2 {
                line.push_str("\"(redacted)\"");
            } else {
                line.push_str(&repr(a));
            }
        }
        line.push_str("\r\n");
        let bytes = Bytes::from(line);
        for id in monitors {
            self.push_to(id, bytes.clone());
        }
    }

    /// Records an executed command in the execution log.
    pub(crate) fn log_executed(&mut self, cid: u64, args: &[Bytes], now: u64, reply: String) {
        let Some(c) = self.clients.get(&cid) else { return };
        let (name, role) = (&self.cfg.name, self.role());
        self.log
            .push_with(self.cfg.log_limit, self.cfg.log_max_bytes, || LogEntry {
                seq: 0,
                time_ms: now,
                node: name.clone(),
                role,
                client_id: cid,
                client_name: c.name.clone(),
                client_kind: c.kill_type(),
                command: log_args(args),
                reply,
            });
    }

    /// Handles expiry of `key` on access: a master deletes an expired key and propagates a DEL; a replica only
    /// hides it (it waits for its master's DEL, as Redis replicas do).
    pub(crate) fn expire_on_access(&mut self, key: &Bytes, now: u64) {
        if self.role() == Role::Master && self.ks.expire_if_needed(key, now) {
            self.stats.expired_keys += 1;
            self.propagate(0, &[b"DEL", key]);
        }
    }
}

/// The INFO commandstats name: `client|list` for container commands, else the command's name.
fn stat_name(spec: &CommandSpec, args: &[Bytes]) -> String {
    if matches!(spec.name, "client" | "config" | "object" | "script") && args.len() > 1 {
        format!(
            "{}|{}",
            spec.name,
            String::from_utf8_lossy(&args[1]).to_ascii_lowercase()
        )
    } else {
        spec.name.to_string()
    }
}

fn remove_sub(map: &mut BTreeMap<Bytes, BTreeSet<u64>>, key: &Bytes, id: u64) {
    if let Some(set) = map.get_mut(key) {
        set.remove(&id);
        if set.is_empty() {
            map.remove(key);
        }
    }
}

/// Quotes bytes as Redis's `sdscatrepr` does (MONITOR lines).
/// A command's arguments as the execution log keeps them ([`LogEntry::command`]): at most
/// [`LOG_MAX_ARGS`] of them, each cut to [`LOG_ARG_MAX_CHARS`] characters. Only what is kept is looked at, so
/// a 100 MB argument or a million arguments cost the log no more than a short command.
fn log_args(args: &[Bytes]) -> Vec<String> {
    let mut out: Vec<String> = args
        .iter()
        .take(if args.len() > LOG_MAX_ARGS {
            LOG_MAX_ARGS - 1
        } else {
            LOG_MAX_ARGS
        })
        .map(|a| {
            // A character is at most 4 bytes; the 4 past the cut keep a character it splits whole.
            let prefix = &a[..a.len().min(LOG_ARG_MAX_CHARS * 4 + 4)];
            let s = String::from_utf8_lossy(prefix);
            match s.char_indices().nth(LOG_ARG_MAX_CHARS) {
                Some((cut, _)) => format!("{}...", &s[..cut]),
                None => s.into_owned(),
            }
        })
        .collect();
    if args.len() > LOG_MAX_ARGS {
        out.push(format!("... ({} more arguments)", args.len() - (LOG_MAX_ARGS - 1)));
    }
    out
}

pub(crate) fn repr(b: &[u8]) -> String {
    let mut s = String::from("\"");
    for &c in b {
        match c {
            b'\\' => s.push_str("\\\\"),
            b'"' => s.push_str("\\\""),
            b'\n' => s.push_str("\\n"),
            b'\r' => s.push_str("\\r"),
            b'\t' => s.push_str("\\t"),
            7 => s.push_str("\\a"),
            8 => s.push_str("\\b"),
            c if c.is_ascii_graphic() || c == b' ' => s.push(c as char),
            c => s.push_str(&format!("\\x{c:02x}")),
        }
    }
    s.push('"');
    s
}

fn random_hex(rng: &mut ChaCha8Rng) -> String {
    (0..40)
        .map(|_| char::from_digit(rng.random_range(0..16), 16).unwrap_or('0'))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_log_keeps_32_arguments_and_counts_the_rest() {
        let args: Vec<Bytes> = std::iter::once(Bytes::from_static(b"EXISTS"))
            .chain(std::iter::repeat_n(Bytes::from_static(b"k"), 1 << 20))
            .collect();
        let kept = log_args(&args);
        assert_eq!(kept.len(), LOG_MAX_ARGS);
        assert_eq!(kept[..2], ["EXISTS", "k"]);
        assert_eq!(
            kept[LOG_MAX_ARGS - 1],
            format!("... ({} more arguments)", (1 << 20) + 1 - 31)
        );
        let exactly: Vec<Bytes> = args[..LOG_MAX_ARGS].to_vec();
        assert_eq!(log_args(&exactly).last().map(String::as_str), Some("k"));
    }

    #[test]
    fn the_log_cuts_a_long_argument_where_it_always_did() {
        // 200 characters, then "...": a multi-byte character at the cut is kept whole or not at all.
        let long = Bytes::from("é".repeat(300));
        assert_eq!(log_args(&[long]), [format!("{}...", "é".repeat(200))]);
        let invalid = Bytes::from(vec![0xff; 10_000]);
        assert_eq!(log_args(&[invalid]), [format!("{}...", "\u{fffd}".repeat(200))]);
        let short = Bytes::from_static(b"value");
        assert_eq!(log_args(&[short]), ["value"]);
    }
}
