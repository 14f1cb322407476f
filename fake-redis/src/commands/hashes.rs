//! HSET, HSETNX, HMSET, HGET, HMGET, HGETALL, HDEL, HEXISTS, HINCRBY, HLEN, HSTRLEN, HKEYS, HVALS, HSCAN.
//!
//! Each write is propagated as it was sent: every one is deterministic, so a replica applying it reaches the same
//! hash. A hash that loses its last field is deleted.

use bytes::Bytes;

use super::{int_arg, scan};
use crate::node::State;
use redsim_resp::Reply;

/// `HSET key field value [field value ...]` (and the older `HMSET`, which answers OK).
pub(crate) fn hset(st: &mut State, cid: u64, args: &[Bytes], now: u64, hmset: bool) -> Result<Reply, Reply> {
    if args.len() % 2 != 0 {
        let name = if hmset { "hmset" } else { "hset" };
        return Err(Reply::err(format!("wrong number of arguments for '{name}' command")));
    }
    st.expire_on_access(&args[1], now);
    let h = st.ks.hash_or_create(&args[1], now)?;
    let mut added = 0;
    for pair in args[2..].chunks(2) {
        if h.insert(pair[0].clone(), pair[1].clone()) {
            added += 1;
        }
    }
    st.propagate_args(cid, args);
    Ok(if hmset { Reply::ok() } else { Reply::Int(added) })
}

/// `HSETNX key field value`: sets the field only if it is absent.
pub(crate) fn hsetnx(st: &mut State, cid: u64, args: &[Bytes], now: u64) -> Result<Reply, Reply> {
    st.expire_on_access(&args[1], now);
    if st
        .ks
        .get_hash(&args[1], now)?
        .is_some_and(|h| h.get(&args[2]).is_some())
    {
        return Ok(Reply::Int(0));
    }
    st.ks
        .hash_or_create(&args[1], now)?
        .insert(args[2].clone(), args[3].clone());
    st.propagate_args(cid, args);
    Ok(Reply::Int(1))
}

pub(crate) fn hget(st: &mut State, args: &[Bytes], now: u64) -> Result<Reply, Reply> {
    st.expire_on_access(&args[1], now);
    let v = st.ks.get_hash(&args[1], now)?.and_then(|h| h.get(&args[2]));
    Ok(v.map_or(Reply::Nil, |v| Reply::Bulk(v.clone())))
}

pub(crate) fn hmget(st: &mut State, args: &[Bytes], now: u64) -> Result<Reply, Reply> {
    st.expire_on_access(&args[1], now);
    let h = st.ks.get_hash(&args[1], now)?;
    Ok(Reply::Array(
        args[2..]
            .iter()
            .map(|f| h.and_then(|h| h.get(f)).map_or(Reply::Nil, |v| Reply::Bulk(v.clone())))
            .collect(),
    ))
}

/// `HGETALL`: a map in RESP3, field/value pairs in RESP2, in the hash's listing order.
pub(crate) fn hgetall(st: &mut State, args: &[Bytes], now: u64) -> Result<Reply, Reply> {
    st.expire_on_access(&args[1], now);
    let pairs = st.ks.get_hash(&args[1], now)?.map_or_else(Vec::new, |h| {
        h.iter()
            .map(|(f, v)| (Reply::Bulk(f.clone()), Reply::Bulk(v.clone())))
            .collect()
    });
    Ok(Reply::Map(pairs))
}

/// `HKEYS` (`values` false) and `HVALS` (`values` true).
pub(crate) fn hkeys(st: &mut State, args: &[Bytes], now: u64, values: bool) -> Result<Reply, Reply> {
    st.expire_on_access(&args[1], now);
    let items = st.ks.get_hash(&args[1], now)?.map_or_else(Vec::new, |h| {
        h.iter()
            .map(|(f, v)| Reply::Bulk(if values { v.clone() } else { f.clone() }))
            .collect()
    });
    Ok(Reply::Array(items))
}

pub(crate) fn hdel(st: &mut State, cid: u64, args: &[Bytes], now: u64) -> Result<Reply, Reply> {
    st.expire_on_access(&args[1], now);
    let Some(h) = st.ks.hash_mut(&args[1], now)? else {
        return Ok(Reply::Int(0));
    };
    let removed = args[2..].iter().filter(|f| h.remove(f)).count();
    st.ks.remove_if_empty(&args[1]);
    if removed > 0 {
        st.propagate_args(cid, args);
    }
    Ok(Reply::Int(removed as i64))
}

pub(crate) fn hexists(st: &mut State, args: &[Bytes], now: u64) -> Result<Reply, Reply> {
    st.expire_on_access(&args[1], now);
    let found = st
        .ks
        .get_hash(&args[1], now)?
        .is_some_and(|h| h.get(&args[2]).is_some());
    Ok(Reply::Int(found as i64))
}

pub(crate) fn hlen(st: &mut State, args: &[Bytes], now: u64) -> Result<Reply, Reply> {
    st.expire_on_access(&args[1], now);
    Ok(Reply::Int(st.ks.get_hash(&args[1], now)?.map_or(0, |h| h.len()) as i64))
}

pub(crate) fn hstrlen(st: &mut State, args: &[Bytes], now: u64) -> Result<Reply, Reply> {
    st.expire_on_access(&args[1], now);
    let len = st
        .ks
        .get_hash(&args[1], now)?
        .and_then(|h| h.get(&args[2]))
        .map_or(0, |v| v.len());
    Ok(Reply::Int(len as i64))
}

/// `HINCRBY key field n`: the increment is checked first, then the key's type, then the field's value, as
/// Redis checks them.
pub(crate) fn hincrby(st: &mut State, cid: u64, args: &[Bytes], now: u64) -> Result<Reply, Reply> {
    let by = int_arg(&args[3])?;
    st.expire_on_access(&args[1], now);
    let h = st.ks.hash_or_create(&args[1], now)?;
    let current = match h.get(&args[2]) {
        Some(v) => redsim_resp::parse_int(v).ok_or_else(|| Reply::err("hash value is not an integer"))?,
        None => 0,
    };
    let new = current
        .checked_add(by)
        .ok_or_else(|| Reply::err("increment or decrement would overflow"))?;
    h.insert(args[2].clone(), Bytes::from(new.to_string()));
    st.propagate_args(cid, args);
    Ok(Reply::Int(new))
}

/// `HSCAN key cursor [MATCH pattern] [COUNT n]`: field/value pairs; MATCH looks at fields.
pub(crate) fn hscan(st: &mut State, args: &[Bytes], now: u64) -> Result<Reply, Reply> {
    let cursor = scan::cursor(&args[2])?;
    st.expire_on_access(&args[1], now);
    let Some(h) = st.ks.get_hash(&args[1], now)? else {
        return Ok(scan::reply(0, Vec::new()));
    };
    let o = scan::options(args, 3, false)?;
    let (next, visited) = if h.is_big() {
        scan::walk(h.iter(), cursor, o.count)
    } else {
        (0, h.iter().collect())
    };
    let items = visited
        .into_iter()
        .filter(|(f, _)| o.matches(f))
        .flat_map(|(f, v)| [Reply::Bulk(f.clone()), Reply::Bulk(v.clone())])
        .collect();
    Ok(scan::reply(next, items))
}
