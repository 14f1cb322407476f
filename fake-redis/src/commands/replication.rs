//! REPLICAOF / SLAVEOF, PSYNC / SYNC, REPLCONF, WAIT: the master's side of replication and role changes.
//! The replica's side (dialing the master, applying the stream) is in [`crate::replica_link`].

use bytes::{Bytes, BytesMut};

use super::is;
use crate::backlog::Backlog;
use crate::log::{ClientKind, Role};
use crate::node::{LinkState, Outcome, ReplicaPeer, State};
use redsim_resp::Reply;

/// `REPLICAOF host port` or `REPLICAOF NO ONE`.
pub(crate) fn replicaof(st: &mut State, args: &[Bytes]) -> Reply {
    if is(&args[1], "no") && is(&args[2], "one") {
        if st.role() == Role::Replica {
            promote(st);
        }
        return Reply::ok();
    }
    let port = match redsim_resp::parse_int(&args[2]) {
        Some(p) if (0..=65535).contains(&p) => p as u16,
        _ => return Reply::err("Invalid master port"),
    };
    let host = String::from_utf8_lossy(&args[1]).into_owned();
    if st.repl.master.as_ref() == Some(&(host.clone(), port)) {
        return Reply::Simple("OK Already connected to specified master".into());
    }
    if st.role() == Role::Master {
        // Like Redis's replicationCacheMasterUsingMyself: our own history lets us PSYNC with the new master.
        st.repl.has_history = true;
    }
    st.repl.master = Some((host, port));
    st.repl.link = LinkState::Connect;
    crate::replica_link::restart(st);
    Reply::ok()
}

/// `REPLICAOF NO ONE` on a replica: keep the data, start a new replication history (the old id stays valid as
/// `replid2` up to the current offset, so former fellow replicas can continue partially), drop our replicas so
/// they learn the new id, keep normal clients.
pub(crate) fn promote(st: &mut State) {
    crate::replica_link::stop(st);
    st.repl.master = None;
    st.repl.link = LinkState::None;
    st.repl.link_down_since_ms = None;
    let offset = st.repl.offset();
    st.repl.replid2 = std::mem::take(&mut st.repl.replid);
    st.repl.second_offset = offset as i64 + 1;
    st.repl.replid = st.new_replid();
    st.repl.has_history = true;
    if st.repl.backlog.is_none() {
        st.repl.backlog = Some(Backlog::new(st.cfg.repl_backlog_size, offset));
    }
    let replicas: Vec<u64> = st
        .clients
        .values()
        .filter(|c| c.kind == ClientKind::Replica)
        .map(|c| c.id)
        .collect();
    for id in replicas {
        st.kill_client(id);
    }
}

pub(crate) fn replconf(st: &mut State, cid: u64, args: &[Bytes], now: u64) -> Outcome {
    if args.len() % 2 == 0 {
        return Outcome::Reply(super::syntax_error());
    }
    let mut i = 1;
    while i < args.len() {
        let (opt, value) = (&args[i], &args[i + 1]);
        if is(opt, "listening-port") {
            match redsim_resp::parse_int(value) {
                Some(p) if (0..=65535).contains(&p) => {
                    if let Some(c) = st.clients.get_mut(&cid) {
                        c.listening_port = p as u16;
                    }
                }
                _ => return Outcome::Reply(super::not_an_integer()),
            }
        } else if is(opt, "ack") {
            let Some(off) = redsim_resp::parse_int(value) else {
                return Outcome::Silent;
            };
            if let Some(p) = st.clients.get_mut(&cid).and_then(|c| c.replica.as_mut()) {
                p.ack_offset = p.ack_offset.max(off.max(0) as u64);
                p.ack_time_ms = now;
                st.acks.notify_waiters();
            }
            // Redis never replies to REPLCONF ACK.
            return Outcome::Silent;
        } else if is(opt, "getack") {
            // Only meaningful on the master link, which answers it itself (see replica_link).
            return Outcome::Silent;
        } else if !(is(opt, "capa") || is(opt, "ip-address") || is(opt, "rdb-only")) {
            let msg = format!("Unrecognized REPLCONF option: {}", String::from_utf8_lossy(opt));
            return Outcome::Reply(Reply::err(msg));
        }
        i += 2;
    }
    Outcome::Reply(Reply::ok())
}

/// `PSYNC replid offset` (or `SYNC`, args empty): continue from the backlog when our history contains the
/// replica's, else send a full snapshot. Either way the connection becomes a replica and receives the stream.
pub(crate) fn psync(st: &mut State, cid: u64, args: &[Bytes], now: u64) -> Outcome {
    if st.role() == Role::Replica && st.repl.link != LinkState::Connected {
        return Outcome::Reply(Reply::Error(
            "NOMASTERLINK Can't SYNC while not connected with my master".into(),
        ));
    }
    if st.clients.get(&cid).is_some_and(|c| c.replica.is_some()) {
        return Outcome::Silent;
    }
    if st.repl.backlog.is_none() {
        // First replica of a master without history: start a fresh one, as Redis does.
        if st.role() == Role::Master {
            st.repl.replid = st.new_replid();
            st.repl.replid2 = "0".repeat(40);
            st.repl.second_offset = -1;
        }
        st.repl.backlog = Some(Backlog::new(st.cfg.repl_backlog_size, st.repl.offset));
    }
    let asked_id = args.get(1).map(|a| String::from_utf8_lossy(a).into_owned());
    let asked_offset = args.get(2).and_then(|a| redsim_resp::parse_int(a));
    let mut partial = None;
    if let (Some(id), Some(off)) = (&asked_id, asked_offset)
        && off > 0
    {
        let same_history = *id == st.repl.replid || (*id == st.repl.replid2 && off <= st.repl.second_offset);
        if same_history {
            partial = st.repl.backlog.as_ref().and_then(|b| b.since(off as u64));
        }
    }
    let reply = match partial {
        Some(rest) => {
            st.repl.sync_partial_ok += 1;
            let mut out = BytesMut::new();
            out.extend_from_slice(format!("+CONTINUE {}\r\n", st.repl.replid).as_bytes());
            out.extend_from_slice(&rest);
            out.freeze()
        }
        None => {
            if asked_id.as_deref().is_some_and(|id| id != "?") {
                st.repl.sync_partial_err += 1;
            }
            st.repl.sync_full += 1;
            crate::full_sync::reply(st)
        }
    };
    if let Some(c) = st.clients.get_mut(&cid) {
        let ip = c
            .addr
            .rsplit_once(':')
            .map(|(ip, _)| ip.to_string())
            .unwrap_or_default();
        c.kind = ClientKind::Replica;
        c.replica = Some(ReplicaPeer {
            ip,
            listening_port: c.listening_port,
            ack_offset: 0,
            ack_time_ms: now,
        });
        c.last_cmd = "psync".into();
    }
    Outcome::Raw(reply)
}

/// `WAIT numreplicas timeout`.
pub(crate) fn wait(st: &mut State, cid: u64, args: &[Bytes]) -> Outcome {
    if st.role() == Role::Replica {
        return Outcome::Reply(Reply::err(
            "WAIT cannot be used with replica instances. Please also note that since Redis 4.0 if a replica is \
             configured to be writable (which is not the default) writes to replicas are just local and are not \
             propagated.",
        ));
    }
    let Some(replicas) = redsim_resp::parse_int(&args[1]) else {
        return Outcome::Reply(super::not_an_integer());
    };
    let timeout_ms = match redsim_resp::parse_int(&args[2]) {
        Some(t) if t < 0 => return Outcome::Reply(Reply::err("timeout is negative")),
        Some(t) => t as u64,
        None => return Outcome::Reply(Reply::err("timeout is not an integer or out of range")),
    };
    let offset = st.clients.get(&cid).map(|c| c.woff).unwrap_or(0);
    let acked = st.acked_replicas(offset);
    if acked as i64 >= replicas || st.exec_depth > 0 {
        return Outcome::Reply(Reply::Int(acked as i64));
    }
    // Ask replicas to acknowledge now rather than at their next once-a-second ACK, as Redis does.
    if st.repl.backlog.is_some() {
        st.feed_replicas_args(&[b"REPLCONF", b"GETACK", b"*"]);
    }
    Outcome::Wait {
        replicas: replicas.max(0) as u64,
        offset,
        timeout_ms,
    }
}
