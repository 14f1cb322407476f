//! DEL, UNLINK, EXISTS, EXPIRE family, TTL, PTTL, EXPIRETIME, PEXPIRETIME, PERSIST, KEYS, SCAN, RENAME, RENAMENX, COPY, FLUSHALL,
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
    st.ks.set(dst.clone(), entry.value, entry.expire_at_ms);
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
    st.ks.set(dst.clone(), entry.value, entry.expire_at_ms);
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

/// `TYPE key`: `string` for a live key (the fake stores nothing else), `none` otherwise.
pub(crate) fn type_of(st: &mut State, args: &[Bytes], now: u64) -> Reply {
    st.expire_on_access(&args[1], now);
    match st.ks.get(&args[1], now) {
        Some(_) => Reply::Simple("string".into()),
        None => Reply::Simple("none".into()),
    }
}

/// `SCAN cursor [MATCH pattern] [COUNT n] [TYPE type]`.
///
/// Redis walks its hash table in an order that survives inserts and deletes between calls, which gives SCAN its
/// guarantee: a key present for the whole iteration is returned at least once. The fake walks keys in the order
/// of a fixed 64-bit hash of each key, and the cursor is the hash to resume from, which keeps the same
/// guarantee (and exactly once, as no table is resized under it). COUNT keys are visited per call, then MATCH
/// and TYPE filter them, as in Redis, so a call may return none while the cursor is not yet 0.
pub(crate) fn scan(st: &mut State, args: &[Bytes], now: u64) -> Reply {
    let Some(cursor) = scan_cursor(&args[1]) else {
        return Reply::err("invalid cursor");
    };
    let (mut pattern, mut count, mut type_name) = (None, 10usize, None);
    let mut i = 2;
    while i < args.len() {
        let value = args.get(i + 1);
        match value {
            Some(v) if is(&args[i], "MATCH") => pattern = Some(v),
            Some(v) if is(&args[i], "COUNT") => match int_arg(v) {
                Ok(n) if n >= 1 => count = n as usize,
                Ok(_) => return syntax_error(),
                Err(e) => return e,
            },
            Some(v) if is(&args[i], "TYPE") => type_name = Some(v),
            _ => return syntax_error(),
        }
        i += 2;
    }
    let mut order: Vec<(u64, &Bytes)> = st
        .ks
        .iter()
        .filter(|(_, e)| !e.is_expired(now))
        .map(|(k, _)| (scan_hash(k), k))
        .filter(|(h, _)| *h >= cursor)
        .collect();
    order.sort_unstable();
    // Visit `count` keys, and never split keys of one hash between two calls: the cursor could not tell them apart.
    let mut end = order.len().min(count);
    while end < order.len() && end > 0 && order[end].0 == order[end - 1].0 {
        end += 1;
    }
    let next = order.get(end).map_or(0, |(h, _)| *h);
    let keys: Vec<Reply> = order[..end]
        .iter()
        .filter(|(_, k)| pattern.is_none_or(|p| redsim_resp::glob_match(p, k)))
        .filter(|_| type_name.is_none_or(|t| is(t, "string")))
        .map(|(_, k)| Reply::Bulk((*k).clone()))
        .collect();
    Reply::Array(vec![Reply::Bulk(next.to_string().into()), Reply::Array(keys)])
}

/// A cursor as Redis reads one (`strtoull`): decimal, an optional sign (`-1` wraps to 2^64 - 1), nothing else,
/// and within 64 bits.
fn scan_cursor(arg: &[u8]) -> Option<u64> {
    let (neg, digits) = match arg.first() {
        Some(b'-') => (true, &arg[1..]),
        Some(b'+') => (false, &arg[1..]),
        _ => (false, arg),
    };
    if !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let mut v: u64 = 0;
    for d in digits {
        v = v.checked_mul(10)?.checked_add(u64::from(d - b'0'))?;
    }
    Some(if neg { v.wrapping_neg() } else { v })
}

/// Where a key falls in SCAN's order: FNV-1a, never 0 (a cursor of 0 means the iteration is over).
fn scan_hash(key: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in key {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h | 1
}
