//! LPUSH, RPUSH, LPUSHX, RPUSHX, LPOP, RPOP, LRANGE, LLEN, LINDEX, LSET, LREM, LTRIM, LMOVE, RPOPLPUSH.
//!
//! A list is a `VecDeque`: both ends in constant time, indexes in constant time. Every write is deterministic, so
//! each is propagated as it was sent. A list that loses its last element is deleted.

use std::collections::VecDeque;

use bytes::Bytes;

use super::{int_arg, is, syntax_error};
use crate::keyspace::own;
use crate::node::State;
use redsim_resp::Reply;

/// `LPUSH`/`RPUSH` (`left` for the head) and, with `only_existing`, `LPUSHX`/`RPUSHX`.
pub(crate) fn push(
    st: &mut State,
    cid: u64,
    args: &[Bytes],
    now: u64,
    left: bool,
    only_existing: bool,
) -> Result<Reply, Reply> {
    st.expire_on_access(&args[1], now);
    if only_existing && st.ks.get_list(&args[1], now)?.is_none() {
        return Ok(Reply::Int(0));
    }
    let list = st.ks.list_or_create(&args[1], now)?;
    for e in &args[2..] {
        let e = own(e.clone());
        if left {
            list.push_front(e);
        } else {
            list.push_back(e);
        }
    }
    let len = list.len();
    st.propagate_args(cid, args);
    Ok(Reply::Int(len as i64))
}

/// `LPOP`/`RPOP key [count]`: one element (or nil), or with a count an array of up to that many (a nil array
/// for a missing key).
pub(crate) fn pop(st: &mut State, cid: u64, args: &[Bytes], now: u64, left: bool) -> Result<Reply, Reply> {
    if args.len() > 3 {
        let name = String::from_utf8_lossy(&args[0]).to_ascii_lowercase();
        return Err(Reply::err(format!("wrong number of arguments for '{name}' command")));
    }
    let count = match args.get(2) {
        Some(c) => Some(positive(c)?),
        None => None,
    };
    st.expire_on_access(&args[1], now);
    let Some(list) = st.ks.list_mut(&args[1], now)? else {
        return Ok(if count.is_some() { Reply::NilArray } else { Reply::Nil });
    };
    let take = |list: &mut VecDeque<Bytes>| if left { list.pop_front() } else { list.pop_back() };
    let reply = match count {
        None => take(list).map_or(Reply::Nil, Reply::Bulk),
        Some(n) => {
            let n = (n as usize).min(list.len());
            Reply::Array((0..n).filter_map(|_| take(list)).map(Reply::Bulk).collect())
        }
    };
    st.ks.remove_if_empty(&args[1]);
    if count != Some(0) {
        st.propagate_args(cid, args);
    }
    Ok(reply)
}

/// A count that must be 0 or more (LPOP, RPOP, SPOP).
pub(crate) fn positive(arg: &[u8]) -> Result<i64, Reply> {
    match redsim_resp::parse_int(arg) {
        Some(n) if n >= 0 => Ok(n),
        _ => Err(Reply::err("value is out of range, must be positive")),
    }
}

/// Turns Redis's `start stop` (negative counts from the end) into a half-open range within `len`, or `None`
/// when it selects nothing. LRANGE, LTRIM and the sorted sets' rank ranges share it.
pub(crate) fn span(start: i64, stop: i64, len: usize) -> Option<(usize, usize)> {
    let len = len as i64;
    let start = if start < 0 { (len + start).max(0) } else { start };
    let stop = if stop < 0 { len + stop } else { stop.min(len - 1) };
    if start > stop || start >= len {
        None
    } else {
        Some((start as usize, stop as usize + 1))
    }
}

pub(crate) fn lrange(st: &mut State, args: &[Bytes], now: u64) -> Result<Reply, Reply> {
    let (start, stop) = (int_arg(&args[2])?, int_arg(&args[3])?);
    st.expire_on_access(&args[1], now);
    let Some(list) = st.ks.get_list(&args[1], now)? else {
        return Ok(Reply::Array(Vec::new()));
    };
    let items = span(start, stop, list.len())
        .map(|(a, b)| list.range(a..b).map(|e| Reply::Bulk(e.clone())).collect())
        .unwrap_or_default();
    Ok(Reply::Array(items))
}

pub(crate) fn llen(st: &mut State, args: &[Bytes], now: u64) -> Result<Reply, Reply> {
    st.expire_on_access(&args[1], now);
    Ok(Reply::Int(st.ks.get_list(&args[1], now)?.map_or(0, |l| l.len()) as i64))
}

/// The position `index` names (negative from the tail), if inside the list.
fn position(index: i64, len: usize) -> Option<usize> {
    let i = if index < 0 { len as i64 + index } else { index };
    (0..len as i64).contains(&i).then_some(i as usize)
}

pub(crate) fn lindex(st: &mut State, args: &[Bytes], now: u64) -> Result<Reply, Reply> {
    let index = int_arg(&args[2])?;
    st.expire_on_access(&args[1], now);
    let Some(list) = st.ks.get_list(&args[1], now)? else {
        return Ok(Reply::Nil);
    };
    Ok(position(index, list.len()).map_or(Reply::Nil, |i| Reply::Bulk(list[i].clone())))
}

pub(crate) fn lset(st: &mut State, cid: u64, args: &[Bytes], now: u64) -> Result<Reply, Reply> {
    let index = int_arg(&args[2])?;
    st.expire_on_access(&args[1], now);
    let Some(list) = st.ks.list_mut(&args[1], now)? else {
        return Err(Reply::err("no such key"));
    };
    let i = position(index, list.len()).ok_or_else(|| Reply::err("index out of range"))?;
    list[i] = own(args[3].clone());
    st.propagate_args(cid, args);
    Ok(Reply::ok())
}

/// `LREM key count element`: removes up to `count` matches from the head (from the tail for a negative
/// count; all of them for 0).
pub(crate) fn lrem(st: &mut State, cid: u64, args: &[Bytes], now: u64) -> Result<Reply, Reply> {
    let count = int_arg(&args[2])?;
    st.expire_on_access(&args[1], now);
    let Some(list) = st.ks.list_mut(&args[1], now)? else {
        return Ok(Reply::Int(0));
    };
    let limit = if count == 0 {
        usize::MAX
    } else {
        count.unsigned_abs() as usize
    };
    let mut removed = 0;
    let mut kept: VecDeque<Bytes> = VecDeque::with_capacity(list.len());
    if count >= 0 {
        for e in list.drain(..) {
            if removed < limit && e == args[3] {
                removed += 1;
            } else {
                kept.push_back(e);
            }
        }
    } else {
        for e in list.drain(..).rev() {
            if removed < limit && e == args[3] {
                removed += 1;
            } else {
                kept.push_front(e);
            }
        }
    }
    *list = kept;
    st.ks.remove_if_empty(&args[1]);
    if removed > 0 {
        st.propagate_args(cid, args);
    }
    Ok(Reply::Int(removed as i64))
}

/// `LTRIM key start stop`: keeps only that range.
pub(crate) fn ltrim(st: &mut State, cid: u64, args: &[Bytes], now: u64) -> Result<Reply, Reply> {
    let (start, stop) = (int_arg(&args[2])?, int_arg(&args[3])?);
    st.expire_on_access(&args[1], now);
    let Some(list) = st.ks.list_mut(&args[1], now)? else {
        return Ok(Reply::ok());
    };
    match span(start, stop, list.len()) {
        Some((a, b)) => {
            list.truncate(b);
            list.drain(..a);
        }
        None => list.clear(),
    }
    st.ks.remove_if_empty(&args[1]);
    st.propagate_args(cid, args);
    Ok(Reply::ok())
}

/// `LMOVE src dst LEFT|RIGHT LEFT|RIGHT`, and `RPOPLPUSH src dst` (RIGHT then LEFT).
pub(crate) fn lmove(st: &mut State, cid: u64, args: &[Bytes], now: u64) -> Result<Reply, Reply> {
    let side = |a: &[u8]| {
        if is(a, "LEFT") {
            Ok(true)
        } else if is(a, "RIGHT") {
            Ok(false)
        } else {
            Err(syntax_error())
        }
    };
    let (from_left, to_left) = if args.len() == 5 {
        (side(&args[3])?, side(&args[4])?)
    } else {
        (false, true)
    };
    let (src, dst) = (&args[1], &args[2]);
    st.expire_on_access(src, now);
    st.expire_on_access(dst, now);
    if st.ks.get_list(src, now)?.is_none() {
        return Ok(Reply::Nil);
    }
    // The destination's type is checked before anything is popped, so a WRONGTYPE changes nothing.
    st.ks.get_list(dst, now)?;
    let Some(source) = st.ks.list_mut(src, now)? else {
        return Ok(Reply::Nil);
    };
    let Some(e) = (if from_left {
        source.pop_front()
    } else {
        source.pop_back()
    }) else {
        return Ok(Reply::Nil);
    };
    st.ks.remove_if_empty(src);
    let target = st.ks.list_or_create(dst, now)?;
    if to_left {
        target.push_front(e.clone());
    } else {
        target.push_back(e.clone());
    }
    st.propagate_args(cid, args);
    Ok(Reply::Bulk(e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_follow_redis_index_rules() {
        assert_eq!(span(0, -1, 3), Some((0, 3)));
        assert_eq!(span(-2, 10, 3), Some((1, 3)));
        assert_eq!(span(-10, 0, 3), Some((0, 1)));
        assert_eq!(span(2, 1, 3), None);
        assert_eq!(span(3, 5, 3), None);
        assert_eq!(span(0, -4, 3), None);
        assert_eq!(position(-1, 3), Some(2));
        assert_eq!(position(3, 3), None);
        assert_eq!(position(-4, 3), None);
    }
}
