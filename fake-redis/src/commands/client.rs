//! CLIENT ID, SETNAME, GETNAME, LIST, INFO, KILL, NO-EVICT, REPLY.

use bytes::Bytes;

use super::connection::{invalid_name, valid_name};
use super::is;
use crate::log::ClientKind;
use crate::node::{Client, Outcome, State};
use redsim_resp::{Protocol, Reply};

const SUBCOMMANDS: &[(&str, i32)] = &[
    ("id", 2),
    ("setname", 3),
    ("getname", 2),
    ("list", -2),
    ("info", 2),
    ("kill", -3),
    ("no-evict", 3),
    ("reply", 3),
];

pub(crate) fn client(st: &mut State, cid: u64, args: &[Bytes]) -> Outcome {
    let sub = String::from_utf8_lossy(&args[1]).to_ascii_lowercase();
    let Some(&(name, arity)) = SUBCOMMANDS.iter().find(|(n, _)| *n == sub) else {
        let msg = format!(
            "unknown subcommand '{}'. Try CLIENT HELP.",
            String::from_utf8_lossy(&args[1])
        );
        return Outcome::Reply(Reply::err(msg));
    };
    let argc = args.len() as i32;
    if (arity > 0 && argc != arity) || (arity < 0 && argc < -arity) {
        return Outcome::Reply(Reply::err(format!(
            "wrong number of arguments for 'client|{name}' command"
        )));
    }
    if let Some(c) = st.clients.get_mut(&cid) {
        c.last_cmd = format!("client|{name}");
    }
    let reply = match name {
        "id" => Reply::Int(cid as i64),
        "setname" => {
            if !valid_name(&args[2]) {
                return Outcome::Reply(invalid_name());
            }
            if let Some(c) = st.clients.get_mut(&cid) {
                c.name = (!args[2].is_empty()).then(|| String::from_utf8_lossy(&args[2]).into_owned());
            }
            Reply::ok()
        }
        "getname" => match &st.clients[&cid].name {
            Some(n) => Reply::text(n),
            None => Reply::Nil,
        },
        "list" => list(st, cid, args),
        "info" => text_reply(st, cid, client_line(st, &st.clients[&cid])),
        "kill" => return kill(st, cid, args),
        "no-evict" | "reply" => Reply::ok(),
        _ => Reply::err("unreachable"),
    };
    Outcome::Reply(reply)
}

/// CLIENT LIST and INFO answer a bulk string under RESP2 and a verbatim string under RESP3.
fn text_reply(st: &State, cid: u64, text: String) -> Reply {
    if st.clients[&cid].proto == Protocol::Resp3 {
        Reply::Verbatim("txt", Bytes::from(text))
    } else {
        Reply::Bulk(Bytes::from(text))
    }
}

fn parse_type(t: &[u8]) -> Result<ClientKind, Reply> {
    let s = String::from_utf8_lossy(t).to_ascii_lowercase();
    match s.as_str() {
        "normal" => Ok(ClientKind::Normal),
        "pubsub" => Ok(ClientKind::PubSub),
        "replica" | "slave" => Ok(ClientKind::Replica),
        "master" => Ok(ClientKind::Master),
        _ => Err(Reply::err(format!(
            "Unknown client type '{}'",
            String::from_utf8_lossy(t)
        ))),
    }
}

fn list(st: &State, cid: u64, args: &[Bytes]) -> Reply {
    let mut kind = None;
    let mut ids: Option<Vec<u64>> = None;
    match args.len() {
        2 => {}
        4 if is(&args[2], "TYPE") => match parse_type(&args[3]) {
            Ok(k) => kind = Some(k),
            Err(e) => return e,
        },
        n if n >= 4 && is(&args[2], "ID") => {
            let mut v = Vec::new();
            for a in &args[3..] {
                match redsim_resp::parse_int(a) {
                    Some(id) if id > 0 => v.push(id as u64),
                    _ => return Reply::err("Invalid client ID"),
                }
            }
            ids = Some(v);
        }
        _ => return super::syntax_error(),
    }
    let mut out = String::new();
    for c in st.clients.values() {
        if kind.is_some_and(|k| c.kill_type() != k) || ids.as_ref().is_some_and(|v| !v.contains(&c.id)) {
            continue;
        }
        out.push_str(&client_line(st, c));
    }
    text_reply(st, cid, out)
}

/// One line of CLIENT LIST, with Redis 7.0's fields in order. Memory and buffer fields are not modelled and
/// show fixed values.
/// The client's line in `CLIENT LIST` (also how the log names a client it closes).
pub(crate) fn client_line(st: &State, c: &Client) -> String {
    let now = st.now_ms();
    let mut flags = String::new();
    match c.kind {
        ClientKind::Replica => flags.push('S'),
        ClientKind::Master => flags.push('M'),
        _ => {}
    }
    if c.subscriptions() > 0 {
        flags.push('P');
    }
    if c.multi.is_some() {
        flags.push('x');
    }
    if c.monitor {
        flags.push('O');
    }
    if flags.is_empty() {
        flags.push('N');
    }
    let multi = c.multi.as_ref().map(|q| q.len() as i64).unwrap_or(-1);
    let user = if c.kind == ClientKind::Master {
        "(superuser)"
    } else {
        "default"
    };
    format!(
        "id={} addr={} laddr={} fd={} name={} age={} idle={} flags={} db=0 sub={} psub={} ssub=0 multi={} \
         qbuf=0 qbuf-free=0 argv-mem=0 multi-mem=0 rbs=1024 rbp=0 obl=0 oll=0 omem=0 tot-mem=0 events=r cmd={} \
         user={} redir=-1 resp={}\n",
        c.id,
        c.addr,
        c.laddr,
        c.id + 7,
        c.name.as_deref().unwrap_or(""),
        now.saturating_sub(c.created_ms) / 1000,
        now.saturating_sub(c.last_ms) / 1000,
        flags,
        c.channels.len(),
        c.patterns.len(),
        multi,
        c.last_cmd,
        user,
        if c.proto == Protocol::Resp3 { 3 } else { 2 },
    )
}

/// `CLIENT KILL addr` (old form) or `CLIENT KILL <filter> <value> ...` (ID, ADDR, LADDR, TYPE, USER, SKIPME).
fn kill(st: &mut State, cid: u64, args: &[Bytes]) -> Outcome {
    if args.len() == 3 {
        let addr = String::from_utf8_lossy(&args[2]).into_owned();
        let Some(victim) = st.clients.values().find(|c| c.addr == addr).map(|c| c.id) else {
            return Outcome::Reply(Reply::err("No such client"));
        };
        if victim == cid {
            return Outcome::Close(Reply::ok());
        }
        st.kill_client(victim);
        return Outcome::Reply(Reply::ok());
    }
    let mut id: Option<u64> = None;
    let mut addr: Option<String> = None;
    let mut laddr: Option<String> = None;
    let mut kind: Option<ClientKind> = None;
    let mut skipme = true;
    let mut i = 2;
    while i < args.len() {
        let Some(value) = args.get(i + 1) else {
            return Outcome::Reply(super::syntax_error());
        };
        let opt = &args[i];
        if is(opt, "ID") {
            match redsim_resp::parse_int(value) {
                Some(v) if v > 0 => id = Some(v as u64),
                _ => return Outcome::Reply(Reply::err("client-id should be greater than 0")),
            }
        } else if is(opt, "ADDR") {
            addr = Some(String::from_utf8_lossy(value).into_owned());
        } else if is(opt, "LADDR") {
            laddr = Some(String::from_utf8_lossy(value).into_owned());
        } else if is(opt, "TYPE") {
            match parse_type(value) {
                Ok(k) => kind = Some(k),
                Err(e) => return Outcome::Reply(e),
            }
        } else if is(opt, "USER") {
            if &value[..] != b"default" {
                let msg = format!("No such user '{}'", String::from_utf8_lossy(value));
                return Outcome::Reply(Reply::err(msg));
            }
        } else if is(opt, "SKIPME") {
            if is(value, "yes") {
                skipme = true;
            } else if is(value, "no") {
                skipme = false;
            } else {
                return Outcome::Reply(super::syntax_error());
            }
        } else {
            return Outcome::Reply(super::syntax_error());
        }
        i += 2;
    }
    let victims: Vec<u64> = st
        .clients
        .values()
        .filter(|c| id.is_none_or(|v| c.id == v))
        .filter(|c| addr.as_ref().is_none_or(|a| &c.addr == a))
        .filter(|c| laddr.as_ref().is_none_or(|a| &c.laddr == a))
        .filter(|c| kind.is_none_or(|k| c.kill_type() == k))
        .filter(|c| !(skipme && c.id == cid))
        .map(|c| c.id)
        .collect();
    let mut self_killed = false;
    for &v in &victims {
        if v == cid {
            self_killed = true;
        } else {
            st.kill_client(v);
        }
    }
    let reply = Reply::Int(victims.len() as i64);
    if self_killed {
        Outcome::Close(reply)
    } else {
        Outcome::Reply(reply)
    }
}
