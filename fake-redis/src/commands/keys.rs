//! DEL, UNLINK, EXISTS, TYPE, OBJECT, EXPIRE family, TTL, PTTL, EXPIRETIME, PEXPIRETIME, PERSIST, KEYS, RENAME, RENAMENX, COPY, FLUSHALL,
//! FLUSHDB.

use bytes::Bytes;

use super::{int_arg, is, syntax_error};
use crate::node::State;
use redsim_resp::Reply;

/// `DEL` and `UNLINK` (which frees memory in the background in Redis: here the same thing), each removed key
/// propagated as the command that removed it.
pub(crate) fn del(st: &mut State, cid: u64, args: &[Bytes], now: u64) -> Reply {
    let name = if is(&args[0], "UNLINK") {
        &b"UNLINK"[..]
    } else {
        &b"DEL"[..]
    };
    let mut n = 0;
    for k in &args[1..] {
        st.expire_on_access(k, now);
        if st.ks.remove(k, now) {
            n += 1;
            st.propagate(cid, &[name, k]);
        }
    }
    Reply::Int(n)
}

/// `RENAME src dst` (`nx`: `RENAMENX`): the value and its deadline move to `dst`, replacing what was there
/// (RENAMENX leaves an existing `dst` alone and answers 0). A missing `src` is an error even when `dst` is the
/// same key, as Redis looks the source up first.
pub(crate) fn rename(st: &mut State, cid: u64, args: &[Bytes], now: u64, nx: bool) -> Reply {
    let (src, dst) = (&args[1], &args[2]);
    st.expire_on_access(src, now);
    let Some(entry) = st.ks.get(src, now).cloned() else {
        return Reply::err("no such key");
    };
    if src == dst {
        return if nx { Reply::Int(0) } else { Reply::ok() };
    }
    st.expire_on_access(dst, now);
    if nx && st.ks.get(dst, now).is_some() {
        return Reply::Int(0);
    }
    st.ks.remove(src, now);
    st.ks.set_entry(dst.clone(), entry);
    st.propagate(cid, &[if nx { b"RENAMENX" } else { b"RENAME" }, src, dst]);
    if nx { Reply::Int(1) } else { Reply::ok() }
}

/// `COPY src dst [DB n] [REPLACE]`: 1 when copied (deadline included), 0 when `src` is missing or `dst` exists
/// without REPLACE. The fake has database 0 only, so `DB` names 0 or is out of range, as SELECT answers.
pub(crate) fn copy(st: &mut State, cid: u64, args: &[Bytes], now: u64) -> Reply {
    let (src, dst) = (&args[1], &args[2]);
    let mut replace = false;
    let mut i = 3;
    while i < args.len() {
        if is(&args[i], "REPLACE") {
            replace = true;
        } else if is(&args[i], "DB") && i + 1 < args.len() {
            i += 1;
            match int_arg(&args[i]) {
                Ok(0) => {}
                Ok(_) => return Reply::err("DB index is out of range"),
                Err(e) => return e,
            }
        } else {
            return syntax_error();
        }
        i += 1;
    }
    if src == dst {
        return Reply::err("source and destination objects are the same");
    }
    st.expire_on_access(src, now);
    let Some(entry) = st.ks.get(src, now).cloned() else {
        return Reply::Int(0);
    };
    st.expire_on_access(dst, now);
    if st.ks.get(dst, now).is_some() && !replace {
        return Reply::Int(0);
    }
    st.ks.set_entry(dst.clone(), entry);
    let propagated: Vec<&[u8]> = args.iter().map(|a| &a[..]).collect();
    st.propagate(cid, &propagated);
    Reply::Int(1)
}

pub(crate) fn exists(st: &mut State, args: &[Bytes], now: u64) -> Reply {
    let mut n = 0;
    for k in &args[1..] {
        st.expire_on_access(k, now);
        if st.ks.get(k, now).is_some() {
            n += 1;
        }
    }
    Reply::Int(n)
}

/// EXPIRE / PEXPIRE (relative, `unit_ms` per unit) and EXPIREAT / PEXPIREAT (absolute), with NX, XX, GT, LT.
pub(crate) fn expire(st: &mut State, cid: u64, args: &[Bytes], now: u64, unit_ms: i64, absolute: bool) -> Reply {
    let name = String::from_utf8_lossy(&args[0]).to_ascii_lowercase();
    let v = match int_arg(&args[2]) {
        Ok(v) => v,
        Err(e) => return e,
    };
    let (mut nx, mut xx, mut gt, mut lt) = (false, false, false, false);
    for opt in &args[3..] {
        if is(opt, "NX") {
            nx = true;
        } else if is(opt, "XX") {
            xx = true;
        } else if is(opt, "GT") {
            gt = true;
        } else if is(opt, "LT") {
            lt = true;
        } else {
            return Reply::err(format!("Unsupported option {}", String::from_utf8_lossy(opt)));
        }
    }
    if nx && (xx || gt || lt) {
        return Reply::err("NX and XX, GT or LT options at the same time are not compatible");
    }
    if gt && lt {
        return Reply::err("GT and LT options at the same time are not compatible");
    }
    let deadline = v
        .checked_mul(unit_ms)
        .and_then(|d| if absolute { Some(d) } else { d.checked_add(now as i64) });
    let Some(deadline) = deadline else {
        return Reply::err(format!("invalid expire time in '{name}' command"));
    };
    st.expire_on_access(&args[1], now);
    let Some(current) = st.ks.get(&args[1], now).map(|e| e.expire_at_ms) else {
        return Reply::Int(0);
    };
    let ok = match current {
        Some(cur) => !nx && (!gt || deadline > cur as i64) && (!lt || deadline < cur as i64),
        None => !xx && !gt,
    };
    if !ok {
        return Reply::Int(0);
    }
    if deadline <= now as i64 {
        // A deadline in the past deletes the key at once (and replicas get a DEL, as Redis does).
        st.ks.remove(&args[1], now);
        st.propagate(cid, &[b"DEL", &args[1]]);
        return Reply::Int(1);
    }
    if let Some(e) = st.ks.get_mut(&args[1], now) {
        e.expire_at_ms = Some(deadline as u64);
    }
    st.propagate(cid, &[b"PEXPIREAT", &args[1], deadline.to_string().as_bytes()]);
    Reply::Int(1)
}

/// `TTL`/`PTTL` (time left, in `unit_ms` units, rounded) and, with `absolute`, `EXPIRETIME`/`PEXPIRETIME` (the
/// deadline itself); -2 for a missing key, -1 for one without a deadline.
pub(crate) fn ttl(st: &mut State, args: &[Bytes], now: u64, unit_ms: u64, absolute: bool) -> Reply {
    st.expire_on_access(&args[1], now);
    match st.ks.get(&args[1], now) {
        None => Reply::Int(-2),
        Some(e) => match e.expire_at_ms {
            None => Reply::Int(-1),
            Some(t) => {
                let left = if absolute { t } else { t.saturating_sub(now) };
                Reply::Int(((left + unit_ms / 2) / unit_ms) as i64)
            }
        },
    }
}

pub(crate) fn persist(st: &mut State, cid: u64, args: &[Bytes], now: u64) -> Reply {
    st.expire_on_access(&args[1], now);
    match st.ks.get_mut(&args[1], now) {
        Some(e) if e.expire_at_ms.is_some() => {
            e.expire_at_ms = None;
            st.propagate(cid, &[b"PERSIST", &args[1]]);
            Reply::Int(1)
        }
        _ => Reply::Int(0),
    }
}

pub(crate) fn keys(st: &mut State, args: &[Bytes], now: u64) -> Reply {
    Reply::Array(st.ks.keys(&args[1], now).into_iter().map(Reply::Bulk).collect())
}

pub(crate) fn flush(st: &mut State, cid: u64, name: &str, args: &[Bytes]) -> Reply {
    match args.len() {
        1 => {}
        2 if is(&args[1], "ASYNC") || is(&args[1], "SYNC") => {}
        _ => return syntax_error(),
    }
    st.ks.clear();
    st.propagate(cid, &[name.to_ascii_uppercase().as_bytes()]);
    Reply::ok()
}

/// `TYPE key`: `string`, `hash`, `list`, `set` or `zset` for a live key, `none` otherwise.
pub(crate) fn type_of(st: &mut State, args: &[Bytes], now: u64) -> Reply {
    st.expire_on_access(&args[1], now);
    let name = st.ks.get(&args[1], now).map_or("none", |e| e.value.type_name());
    Reply::Simple(name.into())
}

/// Redis's refcount of a shared object: small integers are one shared object each (`OBJ_SHARED_INTEGERS`).
const SHARED_REFCOUNT: i64 = i32::MAX as i64;
const SHARED_INTEGERS: i64 = 10_000;

/// `OBJECT ENCODING|REFCOUNT|IDLETIME|FREQ|HELP key`. The fake tracks no access times, so IDLETIME is 0, as for
/// a key just touched; FREQ needs an LFU policy, which the fake has no `maxmemory` for.
pub(crate) fn object(st: &mut State, args: &[Bytes], now: u64) -> Reply {
    let sub = String::from_utf8_lossy(&args[1]).to_ascii_lowercase();
    if sub == "help" && args.len() == 2 {
        let lines = [
            "OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "ENCODING <key>",
            "    Return the kind of internal representation used in order to store the value",
            "    associated with a <key>.",
            "FREQ <key>",
            "    Return the access frequency index of the <key>. The returned integer is",
            "    proportional to the logarithm of the recent access frequency of the key.",
            "IDLETIME <key>",
            "    Return the idle time of the <key>, that is the approximated number of",
            "    seconds elapsed since the last access to the key.",
            "REFCOUNT <key>",
            "    Return the number of references of the value associated with the specified",
            "    <key>.",
            "HELP",
            "    Prints this help.",
        ];
        return Reply::Array(lines.iter().map(|l| Reply::Simple((*l).into())).collect());
    }
    if !matches!(sub.as_str(), "encoding" | "refcount" | "idletime" | "freq" | "help") {
        return Reply::err(format!(
            "unknown subcommand '{}'. Try OBJECT HELP.",
            String::from_utf8_lossy(&args[1])
        ));
    }
    // Each subcommand has its own arity in Redis 7.0's table: HELP takes nothing, the others one key.
    if args.len() != if sub == "help" { 2 } else { 3 } {
        return Reply::err(format!("wrong number of arguments for 'object|{sub}' command"));
    }
    st.expire_on_access(&args[2], now);
    let Some(entry) = st.ks.get(&args[2], now) else {
        return Reply::Nil;
    };
    match sub.as_str() {
        // A string APPEND grew in place stays a raw buffer in Redis, however short.
        "encoding" if entry.grown => Reply::Bulk("raw".into()),
        "encoding" => Reply::Bulk(entry.value.encoding().into()),
        "refcount" => match &entry.value {
            crate::object::Object::String(s)
                if redsim_resp::parse_int(s).is_some_and(|n| (0..SHARED_INTEGERS).contains(&n)) =>
            {
                Reply::Int(SHARED_REFCOUNT)
            }
            _ => Reply::Int(1),
        },
        "idletime" => Reply::Int(0),
        _ => Reply::err(
            "An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching \
             between policies at runtime LRU and LFU data will take some time to adjust.",
        ),
    }
}
