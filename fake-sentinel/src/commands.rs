//! The commands a Sentinel answers, with Redis 7.0's reply shapes and errors: PING, SENTINEL *, INFO, ROLE,
//! Pub/Sub, PUBLISH (Hello only), CLIENT, HELLO, AUTH. Everything else is an unknown command, as on a real
//! Sentinel.

use bytes::Bytes;
use redsim_resp::{Outcome, Protocol, Reply, glob_match, parse_int, unknown_command};

use crate::config::MasterConfig;
use crate::instance::{Instance, Kind, Master};
use crate::state::State;

/// Commands a Sentinel knows, with Redis arity.
const COMMANDS: &[(&str, i32)] = &[
    ("ping", -1),
    ("sentinel", -2),
    ("subscribe", -2),
    ("unsubscribe", -1),
    ("psubscribe", -2),
    ("punsubscribe", -1),
    ("publish", 3),
    ("info", -1),
    ("role", 1),
    ("client", -2),
    ("hello", -1),
    ("auth", -2),
    ("command", -1),
];

/// SENTINEL subcommands with Redis arity.
const SUBCOMMANDS: &[(&str, i32)] = &[
    ("ckquorum", 3),
    ("config", -3),
    ("debug", -2),
    ("failover", 3),
    ("flushconfig", 2),
    ("get-master-addr-by-name", 3),
    ("help", 2),
    ("info-cache", -3),
    ("is-master-down-by-addr", 6),
    ("master", 3),
    ("masters", 2),
    ("monitor", 6),
    ("myid", 2),
    ("pending-scripts", 2),
    ("remove", 3),
    ("replicas", 3),
    ("slaves", 3),
    ("reset", 3),
    ("sentinels", 3),
    ("set", -5),
    ("simulate-failure", -3),
];

fn arity_ok(arity: i32, argc: usize) -> bool {
    if arity > 0 {
        argc as i32 == arity
    } else {
        argc as i32 >= -arity
    }
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn no_such_master() -> Reply {
    Reply::err("No such master with that name")
}

impl State {
    /// Runs one client command.
    pub(crate) fn execute(&mut self, cid: u64, args: Vec<Bytes>) -> Outcome {
        let now = self.now_ms();
        let name = text(&args[0]).to_ascii_lowercase();
        let Some(&(_, arity)) = COMMANDS.iter().find(|(n, _)| *n == name) else {
            return Outcome::Reply(unknown_command(&args));
        };
        if !arity_ok(arity, args.len()) {
            return Outcome::Reply(Reply::err(format!("wrong number of arguments for '{name}' command")));
        }
        let Some(client) = self.bus.clients.get_mut(&cid) else {
            return Outcome::Silent;
        };
        client.last_ms = now;
        client.last_cmd = name.clone();
        let subscribed = client.proto == Protocol::Resp2 && client.subscriptions() > 0;
        if subscribed
            && !matches!(
                name.as_str(),
                "ping" | "subscribe" | "psubscribe" | "unsubscribe" | "punsubscribe"
            )
        {
            return Outcome::Reply(Reply::err(format!(
                "Can't execute '{name}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context"
            )));
        }
        let reply = match name.as_str() {
            "ping" => match (args.len(), subscribed) {
                (1, false) => Reply::Simple("PONG".into()),
                (2, false) => Reply::Bulk(args[1].clone()),
                (n, true) if n <= 2 => Reply::Array(vec![
                    Reply::text("pong"),
                    Reply::Bulk(args.get(1).cloned().unwrap_or_default()),
                ]),
                _ => Reply::err("wrong number of arguments for 'ping' command"),
            },
            "sentinel" => self.sentinel_command(&args),
            "subscribe" | "psubscribe" => return self.subscribe(cid, name == "psubscribe", &args[1..]),
            "unsubscribe" | "punsubscribe" => return self.unsubscribe(cid, name == "punsubscribe", &args[1..]),
            "publish" => {
                if &args[1][..] != b"__sentinel__:hello" {
                    Reply::err("Only HELLO messages are accepted by Sentinel instances.")
                } else {
                    self.process_hello(&text(&args[2]));
                    Reply::Int(1)
                }
            }
            "info" => self.info(&args[1..]),
            "role" => Reply::Array(vec![
                Reply::text("sentinel"),
                Reply::Array(self.masters.keys().map(Reply::text).collect()),
            ]),
            "client" => return self.client_command(cid, &args),
            "hello" => self.hello(cid, &args),
            "auth" => {
                if args.len() == 2 {
                    Reply::err(
                        "AUTH <password> called without any password configured for the default user. Are you sure \
                         your configuration is correct?",
                    )
                } else if args.len() == 3 && &args[1][..] == b"default" {
                    Reply::ok()
                } else if args.len() == 3 {
                    Reply::Error("WRONGPASS invalid username-password pair or user is disabled.".into())
                } else {
                    Reply::err("syntax error")
                }
            }
            // redis-cli asks for command docs at start-up; an empty answer is valid and means "no hints".
            "command" => Reply::Array(vec![]),
            _ => unknown_command(&args),
        };
        Outcome::Reply(reply)
    }

    fn sentinel_command(&mut self, args: &[Bytes]) -> Reply {
        let sub = text(&args[1]).to_ascii_lowercase();
        let Some(&(sub_name, arity)) = SUBCOMMANDS.iter().find(|(n, _)| *n == sub) else {
            return Reply::err(format!("unknown subcommand '{}'. Try SENTINEL HELP.", text(&args[1])));
        };
        if !arity_ok(arity, args.len()) {
            return Reply::err(format!("wrong number of arguments for 'sentinel|{sub_name}' command"));
        }
        let now = self.now_ms();
        let master = |st: &State| st.masters.get(&text(&args[2]).to_string()).map(|m| m.inst.name.clone());
        match sub_name {
            "myid" => Reply::text(&self.myid),
            "masters" => Reply::Array(self.masters.values().map(|m| master_reply(self, m, now)).collect()),
            "master" => match self.masters.get(&text(&args[2])) {
                Some(m) => master_reply(self, m, now),
                None => no_such_master(),
            },
            "replicas" | "slaves" => match self.masters.get(&text(&args[2])) {
                Some(m) => Reply::Array(
                    m.replicas
                        .values()
                        .filter(|r| r.replica_announced)
                        .map(|r| instance_reply(self, m, r, now))
                        .collect(),
                ),
                None => no_such_master(),
            },
            "sentinels" => match self.masters.get(&text(&args[2])) {
                Some(m) => Reply::Array(m.sentinels.values().map(|s| instance_reply(self, m, s, now)).collect()),
                None => no_such_master(),
            },
            "get-master-addr-by-name" => match self.masters.get(&text(&args[2])) {
                Some(m) => {
                    let (ip, port) = State::current_master_addr(m);
                    Reply::Array(vec![Reply::text(ip), Reply::text(port.to_string())])
                }
                None => Reply::NilArray,
            },
            "is-master-down-by-addr" => self.is_master_down_by_addr(args),
            "config" => self.sentinel_config(args),
            "ckquorum" => match self.masters.get(&text(&args[2])) {
                Some(m) => ckquorum(m),
                None => no_such_master(),
            },
            "failover" => {
                let Some(name) = master(self) else {
                    return no_such_master();
                };
                if self.masters[&name].inst.flags.failover_in_progress {
                    return Reply::Error("INPROG Failover already in progress".into());
                }
                if self.select_slave(&name).is_none() {
                    return Reply::Error("NOGOODSLAVE No suitable replica to promote".into());
                }
                self.start_failover(&name);
                if let Some(m) = self.masters.get_mut(&name) {
                    m.inst.flags.force_failover = true;
                }
                Reply::ok()
            }
            "reset" => {
                let pattern = args[2].clone();
                let names: Vec<String> = self
                    .masters
                    .keys()
                    .filter(|n| glob_match(&pattern, n.as_bytes()))
                    .cloned()
                    .collect();
                for n in &names {
                    self.reset_master(n, true, false);
                }
                Reply::Int(names.len() as i64)
            }
            "monitor" => self.monitor_command(args),
            "remove" => {
                let Some(name) = master(self) else {
                    return no_such_master();
                };
                self.event_on(&name, Kind::Master, "", "-monitor", "");
                self.masters.remove(&name);
                self.flush_config();
                Reply::ok()
            }
            "set" => self.set_command(args),
            "flushconfig" => {
                self.flush_config();
                Reply::ok()
            }
            "pending-scripts" => Reply::Array(vec![]),
            "help" => Reply::Array(
                [
                    "SENTINEL <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
                    "CKQUORUM <master-name>",
                    "    Check if the current Sentinel configuration is able to reach the quorum needed",
                    "    to failover a master and the majority needed to authorize the failover.",
                    "GET-MASTER-ADDR-BY-NAME <master-name>",
                    "    Return the ip and port number of the master with that name.",
                    "FAILOVER <master-name>",
                    "    Manually failover a master node without asking for agreement from other",
                    "    Sentinels",
                    "HELP",
                    "    Prints this help.",
                ]
                .iter()
                .map(|l| Reply::Simple(l.to_string()))
                .collect(),
            ),
            other => Reply::err(format!(
                "SENTINEL {} is not supported by the redsim fake Sentinel",
                other.to_uppercase()
            )),
        }
    }

    /// `SENTINEL CONFIG GET <glob> | SET <option> <value>` over Sentinel's global options. The fake keeps them
    /// (and `announce-ip` takes effect), but hostnames are never resolved whatever `resolve-hostnames` says.
    fn sentinel_config(&mut self, args: &[Bytes]) -> Reply {
        const OPTIONS: [&str; 6] = [
            "resolve-hostnames",
            "announce-hostnames",
            "announce-ip",
            "announce-port",
            "sentinel-user",
            "sentinel-pass",
        ];
        let op = text(&args[2]).to_ascii_lowercase();
        match (op.as_str(), args.len()) {
            ("get", 4) => Reply::Map(
                OPTIONS
                    .iter()
                    .filter(|o| glob_match(&args[3].to_ascii_lowercase(), o.as_bytes()))
                    .map(|o| (Reply::text(o), Reply::text(self.config_option(o))))
                    .collect(),
            ),
            ("set", 5) => {
                let name = text(&args[3]).to_ascii_lowercase();
                let value = text(&args[4]);
                let valid = match name.as_str() {
                    "resolve-hostnames" | "announce-hostnames" => ["yes", "no"].contains(&value.as_str()),
                    "announce-port" => value.parse::<u16>().is_ok(),
                    "announce-ip" | "sentinel-user" | "sentinel-pass" => true,
                    _ => return Reply::err(format!("Invalid argument '{}' to SENTINEL CONFIG SET", text(&args[3]))),
                };
                if !valid {
                    return Reply::err(format!("Invalid value '{value}' to SENTINEL CONFIG SET '{name}'"));
                }
                if name == "announce-ip" {
                    self.cfg.announce_ip = (!value.is_empty()).then(|| value.clone());
                }
                self.options.insert(name, value);
                Reply::ok()
            }
            _ => Reply::err("Only SENTINEL CONFIG GET <option> / SET <option> <value> are supported."),
        }
    }

    fn config_option(&self, name: &str) -> String {
        if let Some(v) = self.options.get(name) {
            return v.clone();
        }
        match name {
            "resolve-hostnames" | "announce-hostnames" => "no".into(),
            "announce-port" => "0".into(),
            "announce-ip" => self.cfg.announce_ip.clone().unwrap_or_default(),
            _ => String::new(),
        }
    }

    fn is_master_down_by_addr(&mut self, args: &[Bytes]) -> Reply {
        let (Some(port), Some(epoch)) = (parse_int(&args[3]), parse_int(&args[4])) else {
            return Reply::err("value is not an integer or out of range");
        };
        let (ip, runid) = (text(&args[2]), text(&args[5]));
        let found = self
            .masters
            .values()
            .find(|m| i64::from(m.inst.port) == port && self.same_host(Some(&ip), &m.inst.ip))
            .map(|m| (m.inst.name.clone(), m.inst.flags.s_down));
        let is_down = !self.tilt && found.as_ref().is_some_and(|(_, down)| *down);
        let (mut leader, mut leader_epoch) = (None, 0);
        if let Some((name, _)) = &found
            && runid != "*"
        {
            (leader, leader_epoch) = self.vote_leader(name, epoch.max(0) as u64, &runid);
        }
        Reply::Array(vec![
            Reply::Int(i64::from(is_down)),
            Reply::text(leader.unwrap_or_else(|| "*".into())),
            Reply::Int(leader_epoch as i64),
        ])
    }

    fn monitor_command(&mut self, args: &[Bytes]) -> Reply {
        let (name, host) = (text(&args[2]), text(&args[3]));
        let Some(quorum) = parse_int(&args[5]) else {
            return Reply::err("Invalid quorum");
        };
        let Some(port) = parse_int(&args[4]) else {
            return Reply::err("Invalid port");
        };
        if quorum <= 0 {
            return Reply::err("Quorum must be 1 or greater.");
        }
        let Some(ip) = self.net.resolve(&host) else {
            return Reply::err("Invalid IP address or hostname specified");
        };
        if !(0..=65535).contains(&port) {
            return Reply::err("Invalid port number.");
        }
        match self.add_master(MasterConfig::new(name, ip.to_string(), port as u16, quorum as u32)) {
            Ok(()) => Reply::ok(),
            Err(e) => Reply::err(e),
        }
    }

    fn set_command(&mut self, args: &[Bytes]) -> Reply {
        let name = text(&args[2]);
        if !self.masters.contains_key(&name) {
            return no_such_master();
        }
        let mut i = 3;
        while i < args.len() {
            let opt = text(&args[i]);
            let Some(value) = args.get(i + 1).map(|v| text(v)) else {
                return Reply::err(format!(
                    "Unknown option or number of arguments for SENTINEL SET '{opt}'"
                ));
            };
            let invalid = || Reply::err(format!("Invalid argument '{value}' for SENTINEL SET '{opt}'"));
            let positive = || parse_int(value.as_bytes()).filter(|n| *n > 0);
            let m = self.masters.get_mut(&name).expect("checked above");
            let shown = match opt.to_ascii_lowercase().as_str() {
                "down-after-milliseconds" => {
                    let Some(ms) = positive() else { return invalid() };
                    m.inst.down_after_ms = ms as u64;
                    m.replicas.values_mut().for_each(|r| r.down_after_ms = ms as u64);
                    m.sentinels.values_mut().for_each(|s| s.down_after_ms = ms as u64);
                    value.clone()
                }
                "failover-timeout" => {
                    let Some(ms) = positive() else { return invalid() };
                    m.failover_timeout_ms = ms as u64;
                    value.clone()
                }
                "parallel-syncs" => {
                    let Some(n) = positive() else { return invalid() };
                    m.parallel_syncs = n as u32;
                    value.clone()
                }
                "quorum" => {
                    let Some(n) = positive() else { return invalid() };
                    m.quorum = n as u32;
                    value.clone()
                }
                "auth-pass" => {
                    m.auth_pass = (!value.is_empty()).then(|| value.clone());
                    m.inst.close_links();
                    m.replicas.values_mut().for_each(Instance::close_links);
                    "******".to_string()
                }
                _ => {
                    return Reply::err(format!(
                        "Unknown option or number of arguments for SENTINEL SET '{opt}'"
                    ));
                }
            };
            self.event_on(&name, Kind::Master, "", "+set", &format!(" {opt} {shown}"));
            i += 2;
        }
        self.flush_config();
        Reply::ok()
    }

    fn info(&self, sections: &[Bytes]) -> Reply {
        const ALL: [&str; 5] = ["server", "clients", "cpu", "stats", "sentinel"];
        let wanted: Vec<String> = sections.iter().map(|s| text(s).to_ascii_lowercase()).collect();
        let all = wanted.is_empty() || wanted.iter().any(|w| w == "all" || w == "everything" || w == "default");
        let now = self.now_ms();
        let mut parts = Vec::new();
        for section in ALL {
            if !all && !wanted.iter().any(|w| w == section) {
                continue;
            }
            let body = match section {
                "server" => redsim_resp::info::server_section(&redsim_resp::info::ServerInfo {
                    mode: "sentinel",
                    os: "redsim fake-sentinel",
                    run_id: &self.myid,
                    tcp_port: self.cfg.port,
                    unix_us: self.net.unix_us(),
                    uptime_s: now.saturating_sub(self.start_ms) / 1000,
                }),
                "clients" => redsim_resp::info::clients_section(self.bus.clients.len(), self.cfg.maxclients, 0, 0),
                "cpu" => "# CPU\r\nused_cpu_sys:0.000000\r\nused_cpu_user:0.000000\r\n".to_string(),
                "stats" => "# Stats\r\ntotal_connections_received:0\r\n".to_string(),
                _ => {
                    let mut s = format!(
                        "# Sentinel\r\nsentinel_masters:{}\r\nsentinel_tilt:{}\r\nsentinel_tilt_since_seconds:{}\r\n\
                         sentinel_running_scripts:0\r\nsentinel_scripts_queue_length:0\r\n\
                         sentinel_simulate_failure_flags:0\r\n",
                        self.masters.len(),
                        u8::from(self.tilt),
                        if self.tilt {
                            (now.saturating_sub(self.tilt_start_time) / 1000) as i64
                        } else {
                            -1
                        }
                    );
                    for (i, m) in self.masters.values().enumerate() {
                        let status = if m.inst.flags.o_down {
                            "odown"
                        } else if m.inst.flags.s_down {
                            "sdown"
                        } else {
                            "ok"
                        };
                        s.push_str(&format!(
                            "master{i}:name={},status={status},address={}:{},slaves={},sentinels={}\r\n",
                            m.inst.name,
                            m.inst.ip,
                            m.inst.port,
                            m.replicas.len(),
                            m.sentinels.len() + 1
                        ));
                    }
                    s
                }
            };
            parts.push(body);
        }
        Reply::Bulk(Bytes::from(parts.join("\r\n")))
    }

    fn hello(&mut self, cid: u64, args: &[Bytes]) -> Reply {
        let mut proto = self.bus.clients.get(&cid).map(|c| c.proto).unwrap_or_default();
        if let Some(v) = args.get(1) {
            match parse_int(v) {
                Some(2) => proto = Protocol::Resp2,
                Some(3) => proto = Protocol::Resp3,
                Some(_) => return Reply::Error("NOPROTO unsupported protocol version".into()),
                None => return Reply::err("Protocol version is not an integer or out of range"),
            }
        }
        let mut i = 2;
        while i < args.len() {
            let opt = text(&args[i]).to_ascii_uppercase();
            if opt == "SETNAME" && i + 1 < args.len() {
                if let Some(c) = self.bus.clients.get_mut(&cid) {
                    c.name = Some(text(&args[i + 1])).filter(|n| !n.is_empty());
                }
                i += 2;
            } else if opt == "AUTH" && i + 2 < args.len() {
                i += 3;
            } else {
                return Reply::err(format!("Syntax error in HELLO option '{}'", text(&args[i])));
            }
        }
        if let Some(c) = self.bus.clients.get_mut(&cid) {
            c.proto = proto;
        }
        Reply::Map(vec![
            (Reply::text("server"), Reply::text("redis")),
            (Reply::text("version"), Reply::text("7.0.15")),
            (
                Reply::text("proto"),
                Reply::Int(if proto == Protocol::Resp3 { 3 } else { 2 }),
            ),
            (Reply::text("id"), Reply::Int(cid as i64)),
            (Reply::text("mode"), Reply::text("sentinel")),
            (Reply::text("role"), Reply::text("master")),
            (Reply::text("modules"), Reply::Array(vec![])),
        ])
    }

    fn client_command(&mut self, cid: u64, args: &[Bytes]) -> Outcome {
        let sub = text(&args[1]).to_ascii_lowercase();
        let reply = match (sub.as_str(), args.len()) {
            ("id", 2) => Reply::Int(cid as i64),
            ("getname", 2) => match self.bus.clients.get(&cid).and_then(|c| c.name.clone()) {
                Some(n) => Reply::text(n),
                None => Reply::Nil,
            },
            ("setname", 3) => {
                if !args[2].iter().all(|c| (b'!'..=b'~').contains(c)) {
                    Reply::err("Client names cannot contain spaces, newlines or special characters.")
                } else {
                    if let Some(c) = self.bus.clients.get_mut(&cid) {
                        c.name = Some(text(&args[2])).filter(|n| !n.is_empty());
                    }
                    Reply::ok()
                }
            }
            ("list", 2) => {
                let now = self.now_ms();
                let lines: String = self
                    .bus
                    .clients
                    .values()
                    .map(|c| {
                        format!(
                            "id={} addr={} laddr={} name={} age={} idle={} flags={} sub={} psub={} cmd={} resp={}\n",
                            c.id,
                            c.addr,
                            c.laddr,
                            c.name.as_deref().unwrap_or(""),
                            now.saturating_sub(c.created_ms) / 1000,
                            now.saturating_sub(c.last_ms) / 1000,
                            if c.subscriptions() > 0 { "P" } else { "N" },
                            c.channels.len(),
                            c.patterns.len(),
                            c.last_cmd,
                            if c.proto == Protocol::Resp3 { 3 } else { 2 }
                        )
                    })
                    .collect();
                Reply::Bulk(Bytes::from(lines))
            }
            ("kill", n) if n >= 3 => return self.client_kill(cid, args),
            ("id" | "getname" | "setname" | "list", _) => {
                Reply::err(format!("wrong number of arguments for 'client|{sub}' command"))
            }
            _ => Reply::err(format!("unknown subcommand '{}'. Try CLIENT HELP.", text(&args[1]))),
        };
        Outcome::Reply(reply)
    }

    /// CLIENT KILL addr | ID id | ADDR addr | TYPE normal|pubsub [SKIPME yes|no].
    fn client_kill(&mut self, cid: u64, args: &[Bytes]) -> Outcome {
        if args.len() == 3 {
            let addr = text(&args[2]);
            let Some(id) = self.bus.clients.values().find(|c| c.addr == addr).map(|c| c.id) else {
                return Outcome::Reply(Reply::err("No such client"));
            };
            if id == cid {
                return Outcome::Close(Reply::ok());
            }
            self.bus.clients[&id].cancel.cancel();
            return Outcome::Reply(Reply::ok());
        }
        let (mut id, mut addr, mut kind, mut skipme) = (None, None, None, true);
        for pair in args[2..].chunks(2) {
            let [opt, value] = pair else {
                return Outcome::Reply(Reply::err("syntax error"));
            };
            match text(opt).to_ascii_lowercase().as_str() {
                "id" => match parse_int(value) {
                    Some(v) if v > 0 => id = Some(v as u64),
                    _ => return Outcome::Reply(Reply::err("client-id should be greater than 0")),
                },
                "addr" => addr = Some(text(value)),
                "type" => match text(value).to_ascii_lowercase().as_str() {
                    t @ ("normal" | "pubsub" | "master" | "replica" | "slave") => kind = Some(t.to_string()),
                    _ => return Outcome::Reply(Reply::err(format!("Unknown client type '{}'", text(value)))),
                },
                "skipme" => match text(value).to_ascii_lowercase().as_str() {
                    "yes" => skipme = true,
                    "no" => skipme = false,
                    _ => return Outcome::Reply(Reply::err("syntax error")),
                },
                _ => return Outcome::Reply(Reply::err("syntax error")),
            }
        }
        let victims: Vec<u64> = self
            .bus
            .clients
            .values()
            .filter(|c| id.is_none_or(|v| v == c.id))
            .filter(|c| addr.as_ref().is_none_or(|a| *a == c.addr))
            // A Sentinel's clients are all normal or pubsub; replication types match none of them.
            .filter(|c| {
                kind.as_deref()
                    .is_none_or(|k| k == if c.subscriptions() > 0 { "pubsub" } else { "normal" })
            })
            .filter(|c| !(skipme && c.id == cid))
            .map(|c| c.id)
            .collect();
        let mut close_self = false;
        for v in &victims {
            if *v == cid {
                close_self = true;
            } else {
                self.bus.clients[v].cancel.cancel();
            }
        }
        let reply = Reply::Int(victims.len() as i64);
        if close_self {
            Outcome::Close(reply)
        } else {
            Outcome::Reply(reply)
        }
    }

    fn subscribe(&mut self, cid: u64, pattern: bool, chans: &[Bytes]) -> Outcome {
        let kind = if pattern { "psubscribe" } else { "subscribe" };
        let Some(c) = self.bus.clients.get_mut(&cid) else {
            return Outcome::Silent;
        };
        let mut replies = Vec::new();
        for ch in chans {
            if pattern {
                c.patterns.insert(ch.clone());
            } else {
                c.channels.insert(ch.clone());
            }
            let items = vec![
                Reply::text(kind),
                Reply::Bulk(ch.clone()),
                Reply::Int(c.subscriptions() as i64),
            ];
            replies.push(if c.proto == Protocol::Resp3 {
                Reply::Push(items)
            } else {
                Reply::Array(items)
            });
        }
        Outcome::Many(replies)
    }

    fn unsubscribe(&mut self, cid: u64, pattern: bool, chans: &[Bytes]) -> Outcome {
        let kind = if pattern { "punsubscribe" } else { "unsubscribe" };
        let Some(c) = self.bus.clients.get_mut(&cid) else {
            return Outcome::Silent;
        };
        let frame = |proto: Protocol, items: Vec<Reply>| {
            if proto == Protocol::Resp3 {
                Reply::Push(items)
            } else {
                Reply::Array(items)
            }
        };
        let targets: Vec<Bytes> = if !chans.is_empty() {
            chans.to_vec()
        } else if pattern {
            c.patterns.iter().cloned().collect()
        } else {
            c.channels.iter().cloned().collect()
        };
        if targets.is_empty() {
            let n = c.subscriptions() as i64;
            return Outcome::Many(vec![frame(c.proto, vec![Reply::text(kind), Reply::Nil, Reply::Int(n)])]);
        }
        let mut replies = Vec::new();
        for ch in targets {
            if pattern {
                c.patterns.remove(&ch);
            } else {
                c.channels.remove(&ch);
            }
            let n = c.subscriptions() as i64;
            replies.push(frame(c.proto, vec![Reply::text(kind), Reply::Bulk(ch), Reply::Int(n)]));
        }
        Outcome::Many(replies)
    }
}

fn ckquorum(m: &Master) -> Reply {
    let usable = 1 + m
        .sentinels
        .values()
        .filter(|s| !s.flags.s_down && !s.flags.o_down)
        .count() as u32;
    let voters = m.sentinels.len() as u32 + 1;
    let no_quorum = usable < m.quorum;
    let no_majority = usable < voters / 2 + 1;
    if !no_quorum && !no_majority {
        return Reply::Simple(format!(
            "OK {usable} usable Sentinels. Quorum and failover authorization can be reached"
        ));
    }
    let mut msg = format!("NOQUORUM {usable} usable Sentinels. ");
    if no_quorum {
        msg.push_str("Not enough available Sentinels to reach the specified quorum for this master");
    }
    if no_quorum && no_majority {
        msg.push_str(". ");
    }
    if no_majority {
        msg.push_str("Not enough available Sentinels to reach the majority and authorize a failover");
    }
    Reply::Error(msg)
}

fn master_reply(st: &State, m: &Master, now: u64) -> Reply {
    instance_reply(st, m, &m.inst, now)
}

/// The map SENTINEL MASTER/REPLICAS/SENTINELS print for one instance, fields in Redis's order, every value a
/// bulk string.
fn instance_reply(_st: &State, m: &Master, i: &Instance, now: u64) -> Reply {
    let mut f: Vec<(&str, String)> = vec![
        ("name", i.name.clone()),
        ("ip", i.ip.clone()),
        ("port", i.port.to_string()),
        ("runid", i.runid.clone().unwrap_or_default()),
        ("flags", i.flags.render(i.kind, i.link.disconnected)),
        ("link-pending-commands", i.link.pending_commands.to_string()),
        ("link-refcount", "1".into()),
    ];
    if i.kind == Kind::Master && i.flags.failover_in_progress {
        f.push(("failover-state", m.failover_state.redis_name().into()));
    }
    let ago = |t: u64| now.saturating_sub(t).to_string();
    f.push((
        "last-ping-sent",
        if i.link.act_ping_time != 0 {
            ago(i.link.act_ping_time)
        } else {
            "0".into()
        },
    ));
    f.push(("last-ok-ping-reply", ago(i.link.last_avail_time)));
    f.push(("last-ping-reply", ago(i.link.last_pong_time)));
    if i.flags.s_down {
        f.push(("s-down-time", ago(i.s_down_since_time)));
    }
    if i.flags.o_down {
        f.push(("o-down-time", ago(i.o_down_since_time)));
    }
    f.push(("down-after-milliseconds", i.down_after_ms.to_string()));
    if i.kind != Kind::Sentinel {
        f.push((
            "info-refresh",
            if i.info_refresh != 0 {
                ago(i.info_refresh)
            } else {
                "0".into()
            },
        ));
        f.push((
            "role-reported",
            if i.role_reported == Kind::Master {
                "master"
            } else {
                "slave"
            }
            .into(),
        ));
        f.push(("role-reported-time", ago(i.role_reported_time)));
    }
    match i.kind {
        Kind::Master => {
            f.push(("config-epoch", m.config_epoch.to_string()));
            f.push(("num-slaves", m.replicas.len().to_string()));
            f.push(("num-other-sentinels", m.sentinels.len().to_string()));
            f.push(("quorum", m.quorum.to_string()));
            f.push(("failover-timeout", m.failover_timeout_ms.to_string()));
            f.push(("parallel-syncs", m.parallel_syncs.to_string()));
        }
        Kind::Replica => {
            f.push(("master-link-down-time", i.master_link_down_time.to_string()));
            f.push((
                "master-link-status",
                if i.slave_master_link_up { "ok" } else { "err" }.into(),
            ));
            f.push(("master-host", i.slave_master_host.clone().unwrap_or_else(|| "?".into())));
            f.push(("master-port", i.slave_master_port.to_string()));
            f.push(("slave-priority", i.slave_priority.to_string()));
            f.push(("slave-repl-offset", i.slave_repl_offset.to_string()));
            f.push(("replica-announced", u8::from(i.replica_announced).to_string()));
        }
        Kind::Sentinel => {
            f.push(("last-hello-message", ago(i.last_hello_time)));
            f.push(("voted-leader", i.leader.clone().unwrap_or_else(|| "?".into())));
            f.push(("voted-leader-epoch", i.leader_epoch.to_string()));
        }
    }
    Reply::Map(f.into_iter().map(|(k, v)| (Reply::text(k), Reply::text(v))).collect())
}
