//! INFO, ROLE, CONFIG, MONITOR.

use bytes::Bytes;

use crate::log::{ClientKind, Role};
use crate::node::{LinkState, State};
use redsim_resp::Reply;

/// Sections of the default `INFO` (and `INFO default`), in Redis's order.
const DEFAULT_SECTIONS: &[&str] = &[
    "server",
    "clients",
    "memory",
    "persistence",
    "stats",
    "replication",
    "cpu",
    "modules",
    "errorstats",
    "cluster",
    "keyspace",
];

pub(crate) fn info(st: &mut State, args: &[Bytes]) -> Reply {
    let mut wanted: Vec<String> = args[1..]
        .iter()
        .map(|a| String::from_utf8_lossy(a).to_ascii_lowercase())
        .collect();
    if wanted.is_empty() || wanted.iter().any(|w| w == "default") {
        wanted = DEFAULT_SECTIONS.iter().map(|s| s.to_string()).collect();
    } else if wanted.iter().any(|w| w == "all" || w == "everything") {
        wanted = DEFAULT_SECTIONS.iter().map(|s| s.to_string()).collect();
        wanted.push("commandstats".into());
    }
    let mut sections = Vec::new();
    for s in DEFAULT_SECTIONS.iter().copied().chain(["commandstats"]) {
        if wanted.iter().any(|w| w == s)
            && let Some(text) = section(st, s)
        {
            sections.push(text);
        }
    }
    let mut text = sections.join("\r\n");
    if !text.is_empty() {
        text.push_str("\r\n");
    }
    Reply::Verbatim("txt", Bytes::from(text))
}

fn section(st: &State, name: &str) -> Option<String> {
    let now = st.now_ms();
    let mut out = Lines::default();
    let line = &mut |k: &str, v: &dyn std::fmt::Display| out.kv(k, v);
    match name {
        "server" => {
            let info = redsim_resp::info::ServerInfo {
                mode: "standalone",
                os: "redsim fake-redis",
                run_id: &st.run_id,
                tcp_port: st.cfg.port,
                unix_us: st.net.unix_us(),
                uptime_s: now.saturating_sub(st.start_ms) / 1000,
            };
            return Some(redsim_resp::info::server_section(&info));
        }
        "clients" => {
            let normal = st
                .clients
                .values()
                .filter(|c| !matches!(c.kind, ClientKind::Replica | ClientKind::Master));
            return Some(redsim_resp::info::clients_section(
                normal.count(),
                st.cfg.maxclients,
                st.blocked_clients,
                st.blocked_with_timeout,
            ));
        }
        "memory" => {
            line("# Memory", &Title);
            line("used_memory", &0);
            line("maxmemory", &0);
            line("maxmemory_policy", &"noeviction");
        }
        "persistence" => {
            line("# Persistence", &Title);
            line("loading", &(st.loading as u8));
            line("async_loading", &0);
            line("rdb_bgsave_in_progress", &0);
            line("aof_enabled", &0);
        }
        "stats" => {
            let t = &st.stats;
            line("# Stats", &Title);
            line("total_connections_received", &t.connections_received);
            line("total_commands_processed", &t.commands_processed);
            line("instantaneous_ops_per_sec", &0);
            line("total_net_input_bytes", &t.net_input_bytes);
            line("total_net_output_bytes", &t.net_output_bytes);
            line("rejected_connections", &t.rejected_connections);
            line("sync_full", &st.repl.sync_full);
            line("sync_partial_ok", &st.repl.sync_partial_ok);
            line("sync_partial_err", &st.repl.sync_partial_err);
            line("expired_keys", &t.expired_keys);
            line("evicted_keys", &0);
            line("keyspace_hits", &t.keyspace_hits);
            line("keyspace_misses", &t.keyspace_misses);
            line("pubsub_channels", &st.channels.len());
            line("pubsub_patterns", &st.patterns.len());
            line("total_error_replies", &t.error_replies);
        }
        "replication" => replication_section(st, now, line),
        "cpu" => {
            line("# CPU", &Title);
            line("used_cpu_sys", &"0.000000");
            line("used_cpu_user", &"0.000000");
        }
        "modules" => line("# Modules", &""),
        "errorstats" => {
            line("# Errorstats", &Title);
            for (code, n) in &st.stats.errors {
                line(&format!("errorstat_{code}"), &format!("count={n}"));
            }
        }
        "cluster" => {
            line("# Cluster", &Title);
            line("cluster_enabled", &0);
        }
        "keyspace" => {
            line("# Keyspace", &Title);
            if !st.ks.is_empty() {
                let ttls: Vec<u64> = st
                    .ks
                    .iter()
                    .filter_map(|(_, e)| e.expire_at_ms)
                    .map(|t| t.saturating_sub(now))
                    .collect();
                let avg = if ttls.is_empty() || st.role() == Role::Replica {
                    0
                } else {
                    ttls.iter().sum::<u64>() / ttls.len() as u64
                };
                line(
                    "db0",
                    &format!("keys={},expires={},avg_ttl={avg}", st.ks.len(), st.ks.expires_count()),
                );
            }
        }
        "commandstats" => {
            line("# Commandstats", &Title);
            for (name, c) in &st.stats.commands {
                line(
                    &format!("cmdstat_{name}"),
                    &format!(
                        "calls={},usec=0,usec_per_call=0.00,rejected_calls={},failed_calls={}",
                        c.calls, c.rejected, c.failed
                    ),
                );
            }
        }
        _ => return None,
    }
    Some(out.0)
}

/// Marks a section title line (`# Server`), printed without a value.
struct Title;

impl std::fmt::Display for Title {
    fn fmt(&self, _: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        Ok(())
    }
}

/// INFO text being built: `key:value` lines, and titles printed bare.
#[derive(Default)]
struct Lines(String);

impl Lines {
    fn kv(&mut self, k: &str, v: &dyn std::fmt::Display) {
        if k.starts_with('#') {
            self.0.push_str(k);
        } else {
            self.0.push_str(&format!("{k}:{v}"));
        }
        self.0.push_str("\r\n");
    }
}

fn replication_section(st: &State, now: u64, line: &mut dyn FnMut(&str, &dyn std::fmt::Display)) {
    let r = &st.repl;
    line("# Replication", &Title);
    line("role", &st.role().redis_name());
    if let Some((host, port)) = &r.master {
        let up = r.link == LinkState::Connected;
        line("master_host", host);
        line("master_port", port);
        line("master_link_status", &if up { "up" } else { "down" });
        let io = if up {
            (now.saturating_sub(r.last_io_ms) / 1000) as i64
        } else {
            -1
        };
        line("master_last_io_seconds_ago", &io);
        line("master_sync_in_progress", &u8::from(r.link == LinkState::Sync));
        line("slave_read_repl_offset", &r.offset());
        line("slave_repl_offset", &r.offset());
        if !up {
            let since = r
                .link_down_since_ms
                .map(|t| (now.saturating_sub(t) / 1000) as i64)
                .unwrap_or(-1);
            line("master_link_down_since_seconds", &since);
        }
        line("slave_priority", &st.cfg.replica_priority);
        line("slave_read_only", &u8::from(st.cfg.replica_read_only));
        line("replica_announced", &u8::from(st.cfg.replica_announced));
    }
    let replicas: Vec<_> = st.clients.values().filter_map(|c| c.replica.as_ref()).collect();
    line("connected_slaves", &replicas.len());
    for (i, p) in replicas.iter().enumerate() {
        let lag = now.saturating_sub(p.ack_time_ms) / 1000;
        line(
            &format!("slave{i}"),
            &format!(
                "ip={},port={},state=online,offset={},lag={lag}",
                p.ip, p.listening_port, p.ack_offset
            ),
        );
    }
    line("master_failover_state", &"no-failover");
    line("master_replid", &r.replid);
    line("master_replid2", &r.replid2);
    line("master_repl_offset", &r.offset());
    line("second_repl_offset", &r.second_offset);
    match &r.backlog {
        Some(b) => {
            line("repl_backlog_active", &1);
            line("repl_backlog_size", &st.cfg.repl_backlog_size);
            line("repl_backlog_first_byte_offset", &b.first_offset());
            line("repl_backlog_histlen", &b.len());
        }
        None => {
            line("repl_backlog_active", &0);
            line("repl_backlog_size", &st.cfg.repl_backlog_size);
            line("repl_backlog_first_byte_offset", &0);
            line("repl_backlog_histlen", &0);
        }
    }
}

/// `ROLE`.
pub(crate) fn role(st: &State) -> Reply {
    match &st.repl.master {
        None => {
            let replicas = st
                .clients
                .values()
                .filter_map(|c| c.replica.as_ref())
                .map(|p| {
                    Reply::Array(vec![
                        Reply::text(&p.ip),
                        Reply::text(p.listening_port.to_string()),
                        Reply::text(p.ack_offset.to_string()),
                    ])
                })
                .collect();
            Reply::Array(vec![
                Reply::text("master"),
                Reply::Int(st.repl.offset() as i64),
                Reply::Array(replicas),
            ])
        }
        Some((host, port)) => {
            let known = st.repl.link == LinkState::Connected || st.repl.link_down_since_ms.is_some();
            Reply::Array(vec![
                Reply::text("slave"),
                Reply::text(host),
                Reply::Int(*port as i64),
                Reply::text(st.repl.link.redis_name()),
                Reply::Int(if known { st.repl.offset() as i64 } else { -1 }),
            ])
        }
    }
}

/// `CONFIG GET|SET|REWRITE|RESETSTAT`.
pub(crate) fn config(st: &mut State, args: &[Bytes]) -> Reply {
    let sub = String::from_utf8_lossy(&args[1]).to_ascii_lowercase();
    let arity_err = |n: &str| Reply::err(format!("wrong number of arguments for 'config|{n}' command"));
    match sub.as_str() {
        "get" => {
            if args.len() < 3 {
                return arity_err("get");
            }
            let mut pairs: Vec<(String, String)> = Vec::new();
            for pat in &args[2..] {
                let pat = String::from_utf8_lossy(pat).into_owned();
                let found = if pat.contains(['*', '?', '[']) {
                    st.cfg.get_matching(&pat)
                } else {
                    // An exact name is echoed as the client spelled it.
                    crate::config::Config::canonical(&pat)
                        .and_then(|c| st.cfg.get(c))
                        .map(|v| vec![(pat.clone(), v)])
                        .unwrap_or_default()
                };
                for (k, v) in found {
                    if !pairs.iter().any(|(k2, _)| k2.eq_ignore_ascii_case(&k)) {
                        pairs.push((k, v));
                    }
                }
            }
            Reply::Map(
                pairs
                    .into_iter()
                    .map(|(k, v)| (Reply::text(k), Reply::text(v)))
                    .collect(),
            )
        }
        "set" => {
            if args.len() < 4 || args.len() % 2 != 0 {
                return arity_err("set");
            }
            // All or nothing, as Redis 7 applies a multi-parameter CONFIG SET.
            let mut cfg = st.cfg.clone();
            let mut maxclients_spelled = None;
            for pair in args[2..].chunks(2) {
                let name = String::from_utf8_lossy(&pair[0]).into_owned();
                let value = String::from_utf8_lossy(&pair[1]).into_owned();
                let canonical = crate::config::Config::canonical(&name);
                if canonical == Some("port") && value == st.cfg.port.to_string() {
                    continue;
                }
                if let Err(e) = cfg.set(&name, &value) {
                    return Reply::err(e.0);
                }
                if canonical == Some("maxclients") {
                    maxclients_spelled = Some(name);
                }
            }
            // More clients need more descriptors: as Redis does, refit, and refuse what the limit cannot hold.
            if let Some(name) = maxclients_spelled
                && cfg.maxclients > st.cfg.maxclients
            {
                let fits = crate::server::fit_maxclients(st.net, &st.cfg.name, cfg.maxclients)
                    .map_err(|e| e.to_string())
                    .and_then(|fitted| {
                        if fitted >= cfg.maxclients {
                            Ok(())
                        } else {
                            Err(format!(
                                "The operating system is not able to handle the specified number of clients, try \
                                 with {fitted}"
                            ))
                        }
                    });
                if let Err(why) = fits {
                    eprintln!(
                        "fake-redis {}: Failed applying new configuration. Possibly related to new maxclients \
                         setting. Restoring previous settings.",
                        st.cfg.name
                    );
                    return Reply::err(format!(
                        "CONFIG SET failed (possibly related to argument '{name}') - {why}"
                    ));
                }
            }
            if cfg.repl_backlog_size != st.cfg.repl_backlog_size
                && let Some(b) = st.repl.backlog.as_mut()
            {
                b.resize(cfg.repl_backlog_size);
            }
            st.cfg = cfg;
            Reply::ok()
        }
        "rewrite" if args.len() == 2 => {
            if let Some(file) = &st.config_file {
                let mut cfg = st.cfg.clone();
                cfg.replicaof = st.repl.master.clone();
                file.save(cfg);
            }
            Reply::ok()
        }
        "resetstat" if args.len() == 2 => {
            st.stats = Default::default();
            Reply::ok()
        }
        "rewrite" | "resetstat" => arity_err(&sub),
        _ => Reply::err(format!(
            "unknown subcommand '{}'. Try CONFIG HELP.",
            String::from_utf8_lossy(&args[1])
        )),
    }
}

pub(crate) fn monitor(st: &mut State, cid: u64) -> Reply {
    if st.exec_depth > 0 {
        return Reply::err("MONITOR isn't allowed for DENY BLOCKING client");
    }
    if let Some(c) = st.clients.get_mut(&cid) {
        c.monitor = true;
    }
    Reply::ok()
}
