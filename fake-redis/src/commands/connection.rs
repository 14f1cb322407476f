//! PING, HELLO, AUTH, SELECT, RESET.

use bytes::Bytes;

use super::is;
use crate::log::Role;
use crate::node::{Outcome, State};
use redsim_resp::{Protocol, Reply};

/// The version the fake reports: it models Redis 7.0.
pub const REDIS_VERSION: &str = "7.0.15";

pub(crate) fn ping(st: &mut State, cid: u64, args: &[Bytes]) -> Outcome {
    if args.len() > 2 {
        return Outcome::Reply(Reply::err("wrong number of arguments for 'ping' command"));
    }
    let c = &st.clients[&cid];
    if c.proto == Protocol::Resp2 && c.subscriptions() > 0 {
        let msg = args.get(1).cloned().unwrap_or_default();
        return Outcome::Reply(Reply::Array(vec![Reply::text("pong"), Reply::Bulk(msg)]));
    }
    Outcome::Reply(match args.get(1) {
        Some(m) => Reply::Bulk(m.clone()),
        None => Reply::Simple("PONG".into()),
    })
}

fn wrongpass() -> Reply {
    Reply::Error("WRONGPASS invalid username-password pair or user is disabled.".into())
}

/// Checks a username/password pair against `requirepass` (the fake knows only the `default` user).
fn check_password(st: &State, user: Option<&[u8]>, pass: &[u8]) -> bool {
    if let Some(u) = user
        && u != b"default"
    {
        return false;
    }
    match &st.cfg.requirepass {
        Some(p) => p.as_bytes() == pass,
        None => true,
    }
}

pub(crate) fn auth(st: &mut State, cid: u64, args: &[Bytes]) -> Reply {
    if args.len() > 3 {
        return super::syntax_error();
    }
    let (user, pass) = if args.len() == 3 {
        (Some(&args[1][..]), &args[2][..])
    } else {
        (None, &args[1][..])
    };
    if user.is_none() && st.cfg.requirepass.is_none() {
        return Reply::err(
            "AUTH <password> called without any password configured for the default user. \
             Are you sure your configuration is correct?",
        );
    }
    if check_password(st, user, pass) {
        if let Some(c) = st.clients.get_mut(&cid) {
            c.authenticated = true;
        }
        Reply::ok()
    } else {
        wrongpass()
    }
}

/// Validates a client name as `CLIENT SETNAME` does.
pub(crate) fn valid_name(name: &[u8]) -> bool {
    name.iter().all(|&c| (b'!'..=b'~').contains(&c))
}

pub(crate) fn invalid_name() -> Reply {
    Reply::err("Client names cannot contain spaces, newlines or special characters.")
}

/// `HELLO [protover [AUTH user pass] [SETNAME name]]`.
pub(crate) fn hello(st: &mut State, cid: u64, args: &[Bytes]) -> Reply {
    let mut proto = st.clients[&cid].proto;
    if let Some(v) = args.get(1) {
        match redsim_resp::parse_int(v) {
            Some(2) => proto = Protocol::Resp2,
            Some(3) => proto = Protocol::Resp3,
            Some(_) => return Reply::Error("NOPROTO unsupported protocol version".into()),
            None => return Reply::err("Protocol version is not an integer or out of range"),
        }
    }
    let mut auth: Option<(&[u8], &[u8])> = None;
    let mut setname: Option<&Bytes> = None;
    let mut i = 2;
    while i < args.len() {
        let more = args.len() - i - 1;
        if is(&args[i], "AUTH") && more >= 2 {
            auth = Some((&args[i + 1], &args[i + 2]));
            i += 3;
        } else if is(&args[i], "SETNAME") && more >= 1 {
            setname = Some(&args[i + 1]);
            i += 2;
        } else {
            return Reply::err(format!(
                "Syntax error in HELLO option '{}'",
                String::from_utf8_lossy(&args[i])
            ));
        }
    }
    if let Some((user, pass)) = auth {
        if !check_password(st, Some(user), pass) {
            return wrongpass();
        }
        if let Some(c) = st.clients.get_mut(&cid) {
            c.authenticated = true;
        }
    }
    if !st.clients[&cid].authenticated {
        return Reply::Error(
            "NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO AUTH \
             <user> <pass> option can be used to authenticate the client and select the RESP protocol version \
             at the same time"
                .into(),
        );
    }
    if let Some(name) = setname {
        if !valid_name(name) {
            return invalid_name();
        }
        if let Some(c) = st.clients.get_mut(&cid) {
            c.name = (!name.is_empty()).then(|| String::from_utf8_lossy(name).into_owned());
        }
    }
    if let Some(c) = st.clients.get_mut(&cid) {
        c.proto = proto;
    }
    let role = if st.role() == Role::Master { "master" } else { "replica" };
    Reply::Map(vec![
        (Reply::text("server"), Reply::text("redis")),
        (Reply::text("version"), Reply::text(REDIS_VERSION)),
        (
            Reply::text("proto"),
            Reply::Int(if proto == Protocol::Resp3 { 3 } else { 2 }),
        ),
        (Reply::text("id"), Reply::Int(cid as i64)),
        (Reply::text("mode"), Reply::text("standalone")),
        (Reply::text("role"), Reply::text(role)),
        (Reply::text("modules"), Reply::Array(vec![])),
    ])
}

/// Only database 0 exists in the fake: Sentinel-managed deployments rarely use others, and one keyspace keeps
/// replication and the checkers simple. Other indexes answer as out of range.
pub(crate) fn select(args: &[Bytes]) -> Reply {
    match redsim_resp::parse_int(&args[1]) {
        Some(0) => Reply::ok(),
        Some(_) => Reply::err("DB index is out of range"),
        None => super::not_an_integer(),
    }
}

pub(crate) fn reset(st: &mut State, cid: u64) -> Reply {
    super::pubsub::unsubscribe_all(st, cid);
    st.unwatch_all(cid);
    if let Some(c) = st.clients.get_mut(&cid) {
        c.multi = None;
        c.multi_error = false;
        c.monitor = false;
        c.proto = Protocol::Resp2;
        c.authenticated = st.cfg.requirepass.is_none();
    }
    Reply::Simple("RESET".into())
}
