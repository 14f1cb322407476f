//! GET, SET, GETDEL, INCR family, APPEND, STRLEN, MGET, MSET.

use bytes::Bytes;

use super::{int_arg, is, not_an_integer, syntax_error};
use crate::node::State;
use redsim_resp::Reply;

pub(crate) fn get(st: &mut State, args: &[Bytes], now: u64) -> Reply {
    st.expire_on_access(&args[1], now);
    match st.ks.get_string(&args[1], now) {
        Ok(Some(v)) => {
            let v = Reply::Bulk(v.clone());
            st.stats.keyspace_hits += 1;
            v
        }
        Ok(None) => {
            st.stats.keyspace_misses += 1;
            Reply::Nil
        }
        Err(e) => e,
    }
}

/// `SET key value [NX|XX] [GET] [EX s|PX ms|EXAT ts|PXAT ts-ms|KEEPTTL]`.
pub(crate) fn set(st: &mut State, cid: u64, args: &[Bytes], now: u64) -> Reply {
    let (mut nx, mut xx, mut get, mut keepttl) = (false, false, false, false);
    let mut deadline: Option<u64> = None;
    let mut expire_given = false;
    let mut i = 3;
    while i < args.len() {
        let a = &args[i];
        let next = args.get(i + 1);
        if is(a, "NX") && !xx {
            nx = true;
        } else if is(a, "XX") && !nx {
            xx = true;
        } else if is(a, "GET") {
            get = true;
        } else if is(a, "KEEPTTL") && !expire_given {
            keepttl = true;
        } else if (is(a, "EX") || is(a, "PX") || is(a, "EXAT") || is(a, "PXAT")) && !keepttl && !expire_given {
            let Some(n) = next else { return syntax_error() };
            let v = match int_arg(n) {
                Ok(v) => v,
                Err(e) => return e,
            };
            if v <= 0 {
                return Reply::err("invalid expire time in 'set' command");
            }
            let upper = a.to_ascii_uppercase();
            let ms = match upper.as_slice() {
                b"EX" => (v as u64).checked_mul(1000).and_then(|d| d.checked_add(now)),
                b"PX" => (v as u64).checked_add(now),
                b"EXAT" => (v as u64).checked_mul(1000),
                _ => Some(v as u64),
            };
            match ms {
                Some(ms) if ms <= i64::MAX as u64 => deadline = Some(ms),
                _ => return Reply::err("invalid expire time in 'set' command"),
            }
            expire_given = true;
            i += 1;
        } else {
            return syntax_error();
        }
        i += 1;
    }
    st.expire_on_access(&args[1], now);
    // SET replaces a value of any type, but SET ... GET must return the old one, so it needs a string.
    let old_value = match st.ks.get_string(&args[1], now) {
        Ok(v) => v.cloned(),
        Err(e) if get => return e,
        Err(_) => None,
    };
    let old = st.ks.get(&args[1], now).map(|e| e.expire_at_ms);
    let old_reply = || old_value.clone().map(Reply::Bulk).unwrap_or(Reply::Nil);
    if (nx && old.is_some()) || (xx && old.is_none()) {
        return if get { old_reply() } else { Reply::Nil };
    }
    let expire_at = if keepttl { old.flatten() } else { deadline };
    st.ks.set(args[1].clone(), args[2].clone(), expire_at);
    // Replicas must get an absolute deadline, so relative expiries are rewritten as PXAT (as Redis 7 does).
    match (deadline, keepttl) {
        (Some(ms), _) => {
            let ms = ms.to_string();
            st.propagate(cid, &[b"SET", &args[1], &args[2], b"PXAT", ms.as_bytes()]);
        }
        (None, true) => st.propagate(cid, &[b"SET", &args[1], &args[2], b"KEEPTTL"]),
        (None, false) => st.propagate(cid, &[b"SET", &args[1], &args[2]]),
    }
    if get { old_reply() } else { Reply::ok() }
}

pub(crate) fn getdel(st: &mut State, cid: u64, args: &[Bytes], now: u64) -> Reply {
    st.expire_on_access(&args[1], now);
    match st.ks.get_string(&args[1], now).map(Option::<&Bytes>::cloned) {
        Ok(Some(v)) => {
            st.ks.remove(&args[1], now);
            st.propagate(cid, &[b"DEL", &args[1]]);
            Reply::Bulk(v)
        }
        Ok(None) => Reply::Nil,
        Err(e) => e,
    }
}

pub(crate) fn incrby_command(st: &mut State, cid: u64, negate: bool, args: &[Bytes], now: u64) -> Reply {
    match int_arg(&args[2]) {
        Ok(by) if negate => match by.checked_neg() {
            Some(by) => incr_by(st, cid, &args[1], by, now),
            None => Reply::err("decrement would overflow"),
        },
        Ok(by) => incr_by(st, cid, &args[1], by, now),
        Err(e) => e,
    }
}

pub(crate) fn incr_by(st: &mut State, cid: u64, key: &Bytes, by: i64, now: u64) -> Reply {
    st.expire_on_access(key, now);
    let ttl = st.ks.get(key, now).and_then(|e| e.expire_at_ms);
    let current = match st.ks.get_string(key, now) {
        Ok(Some(v)) => match redsim_resp::parse_int(v) {
            Some(v) => v,
            None => return not_an_integer(),
        },
        Ok(None) => 0,
        Err(e) => return e,
    };
    let Some(new) = current.checked_add(by) else {
        return Reply::err("increment or decrement would overflow");
    };
    let text = new.to_string();
    st.ks.set(key.clone(), Bytes::from(text.clone()), ttl);
    // Propagated as INCRBY so one replication form covers INCR, DECR, INCRBY and DECRBY.
    st.propagate(cid, &[b"INCRBY", key, by.to_string().as_bytes()]);
    Reply::Int(new)
}

pub(crate) fn append(st: &mut State, cid: u64, args: &[Bytes], now: u64) -> Reply {
    st.expire_on_access(&args[1], now);
    let ttl = st.ks.get(&args[1], now).and_then(|e| e.expire_at_ms);
    let mut value = match st.ks.get_string(&args[1], now) {
        Ok(v) => v.map(|v| v.to_vec()).unwrap_or_default(),
        Err(e) => return e,
    };
    if value.len() + args[2].len() > redsim_resp::BULK_MAX_BYTES as usize {
        return Reply::err("string exceeds maximum allowed size (proto-max-bulk-len)");
    }
    let existed = st.ks.get(&args[1], now).is_some();
    value.extend_from_slice(&args[2]);
    let len = value.len();
    st.ks.set(args[1].clone(), Bytes::from(value), ttl);
    if existed && let Some(e) = st.ks.get_mut(&args[1], now) {
        e.grown = true;
    }
    st.propagate(cid, &[b"APPEND", &args[1], &args[2]]);
    Reply::Int(len as i64)
}

pub(crate) fn strlen(st: &mut State, args: &[Bytes], now: u64) -> Reply {
    st.expire_on_access(&args[1], now);
    match st.ks.get_string(&args[1], now) {
        Ok(v) => Reply::Int(v.map_or(0, |v| v.len()) as i64),
        Err(e) => e,
    }
}

pub(crate) fn mget(st: &mut State, args: &[Bytes], now: u64) -> Reply {
    let mut out = Vec::with_capacity(args.len() - 1);
    for k in &args[1..] {
        st.expire_on_access(k, now);
        // MGET answers nil for a key of another type, where GET would refuse it.
        out.push(match st.ks.get_string(k, now) {
            Ok(Some(v)) => Reply::Bulk(v.clone()),
            _ => Reply::Nil,
        });
    }
    Reply::Array(out)
}

pub(crate) fn mset(st: &mut State, cid: u64, args: &[Bytes]) -> Reply {
    if args.len() % 2 == 0 {
        return Reply::err("wrong number of arguments for 'mset' command");
    }
    for pair in args[1..].chunks(2) {
        st.ks.set(pair[0].clone(), pair[1].clone(), None);
    }
    let refs: Vec<&[u8]> = args.iter().map(|a| a.as_ref()).collect();
    st.propagate(cid, &refs);
    Reply::ok()
}
