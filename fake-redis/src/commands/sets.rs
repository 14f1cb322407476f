//! SADD, SREM, SMEMBERS, SISMEMBER, SMISMEMBER, SCARD, SINTER, SUNION, SDIFF, SRANDMEMBER, SPOP, SSCAN.
//!
//! SRANDMEMBER and SPOP draw from the node's seeded generator, so a simulation's choices repeat with its seed.
//! SPOP is the one set write that is not deterministic: a replica running it would pick other members, so it
//! is propagated as its effect, an SREM of the members it took (a DEL when it took them all), as Redis does.

use std::collections::BTreeSet;

use bytes::Bytes;
use rand::Rng;

use super::{int_arg, scan};
use crate::commands::lists::positive;
use crate::node::State;
use crate::object::Set;
use redsim_resp::Reply;

pub(crate) fn sadd(st: &mut State, cid: u64, args: &[Bytes], now: u64) -> Result<Reply, Reply> {
    st.expire_on_access(&args[1], now);
    let set = st.ks.set_or_create(&args[1], now)?;
    let added = args[2..].iter().filter(|m| set.insert((*m).clone())).count();
    st.ks.remove_if_empty(&args[1]);
    if added > 0 {
        st.propagate_args(cid, args);
    }
    Ok(Reply::Int(added as i64))
}

pub(crate) fn srem(st: &mut State, cid: u64, args: &[Bytes], now: u64) -> Result<Reply, Reply> {
    st.expire_on_access(&args[1], now);
    let Some(set) = st.ks.set_mut(&args[1], now)? else {
        return Ok(Reply::Int(0));
    };
    let removed = args[2..].iter().filter(|m| set.members.remove(&m[..])).count();
    st.ks.remove_if_empty(&args[1]);
    if removed > 0 {
        st.propagate_args(cid, args);
    }
    Ok(Reply::Int(removed as i64))
}

fn bulks(members: Vec<Bytes>) -> Vec<Reply> {
    members.into_iter().map(Reply::Bulk).collect()
}

/// `SMEMBERS`: a set in RESP3, an array in RESP2.
pub(crate) fn smembers(st: &mut State, args: &[Bytes], now: u64) -> Result<Reply, Reply> {
    st.expire_on_access(&args[1], now);
    let members = st.ks.get_set(&args[1], now)?.map(Set::ordered).unwrap_or_default();
    Ok(Reply::Set(bulks(members)))
}

pub(crate) fn sismember(st: &mut State, args: &[Bytes], now: u64) -> Result<Reply, Reply> {
    st.expire_on_access(&args[1], now);
    let found = st
        .ks
        .get_set(&args[1], now)?
        .is_some_and(|s| s.members.contains(&args[2][..]));
    Ok(Reply::Int(found as i64))
}

pub(crate) fn smismember(st: &mut State, args: &[Bytes], now: u64) -> Result<Reply, Reply> {
    st.expire_on_access(&args[1], now);
    let set = st.ks.get_set(&args[1], now)?;
    Ok(Reply::Array(
        args[2..]
            .iter()
            .map(|m| Reply::Int(set.is_some_and(|s| s.members.contains(&m[..])) as i64))
            .collect(),
    ))
}

pub(crate) fn scard(st: &mut State, args: &[Bytes], now: u64) -> Result<Reply, Reply> {
    st.expire_on_access(&args[1], now);
    Ok(Reply::Int(
        st.ks.get_set(&args[1], now)?.map_or(0, |s| s.members.len()) as i64
    ))
}

/// Which of SINTER, SUNION, SDIFF.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Algebra {
    Inter,
    Union,
    Diff,
}

/// `SINTER`, `SUNION`, `SDIFF key...`: every key is type-checked first (a WRONGTYPE anywhere is the answer),
/// a missing key counts as the empty set.
pub(crate) fn algebra(st: &mut State, args: &[Bytes], now: u64, op: Algebra) -> Result<Reply, Reply> {
    for k in &args[1..] {
        st.expire_on_access(k, now);
    }
    let mut sets: Vec<Option<&Set>> = Vec::with_capacity(args.len() - 1);
    for k in &args[1..] {
        sets.push(st.ks.get_set(k, now)?);
    }
    let members = |s: &Option<&Set>| s.map(|s| s.members.clone()).unwrap_or_default();
    let mut result: BTreeSet<Bytes> = members(&sets[0]);
    for s in &sets[1..] {
        let other = s.map(|s| &s.members);
        match op {
            Algebra::Inter => result.retain(|m| other.is_some_and(|o| o.contains(m))),
            Algebra::Union => result.extend(members(s)),
            Algebra::Diff => result.retain(|m| !other.is_some_and(|o| o.contains(m))),
        }
    }
    // Listed as Redis lists a fresh set of these members: numeric order if it would be an intset.
    Ok(Reply::Set(bulks(Set::from_members(result).ordered())))
}

/// Most draws one `SRANDMEMBER key -count` makes. Every other reply is bounded by data a client stored; this
/// one grows with a number alone, and Redis would build a reply of a billion members for `-1000000000`. The fake
/// answers a larger count with an error instead of gigabytes (a deliberate difference from Redis).
pub const RANDOM_DRAWS_MAX: u64 = 1_000_000;

/// `SRANDMEMBER key [count]`: a positive count gives distinct members (all of them if it is larger than the
/// set), a negative one that many draws with repetition.
pub(crate) fn srandmember(st: &mut State, args: &[Bytes], now: u64) -> Result<Reply, Reply> {
    if args.len() > 3 {
        return Err(super::syntax_error());
    }
    let count = match args.get(2) {
        // Redis reads the count within ±LONG_MAX, so the one value below is out of range.
        Some(c) => match int_arg(c)? {
            i64::MIN => {
                return Err(Reply::err(
                    "value is out of range, value must between -9223372036854775807 and 9223372036854775807",
                ));
            }
            n => Some(n),
        },
        None => None,
    };
    if count.is_some_and(|n| n < 0 && n.unsigned_abs() > RANDOM_DRAWS_MAX) {
        return Err(Reply::err(format!(
            "count is out of range for the fake: at most {RANDOM_DRAWS_MAX} draws with repetition"
        )));
    }
    st.expire_on_access(&args[1], now);
    let Some(set) = st.ks.get_set(&args[1], now)? else {
        return Ok(if count.is_some() {
            Reply::Array(Vec::new())
        } else {
            Reply::Nil
        });
    };
    let all = set.ordered();
    let reply = match count {
        None => {
            let i = st.rng.random_range(0..all.len());
            Reply::Bulk(all[i].clone())
        }
        Some(n) if n >= 0 => Reply::Array(bulks(draw_distinct(st, all, n as usize))),
        Some(n) => {
            let draws = n.unsigned_abs() as usize;
            let picked = (0..draws)
                .map(|_| all[st.rng.random_range(0..all.len())].clone())
                .collect();
            Reply::Array(bulks(picked))
        }
    };
    Ok(reply)
}

/// Up to `n` distinct members, chosen with the node's generator (a partial Fisher-Yates shuffle).
fn draw_distinct(st: &mut State, mut all: Vec<Bytes>, n: usize) -> Vec<Bytes> {
    if n >= all.len() {
        return all;
    }
    for i in 0..n {
        let j = st.rng.random_range(i..all.len());
        all.swap(i, j);
    }
    all.truncate(n);
    all
}

/// `SPOP key [count]`.
pub(crate) fn spop(st: &mut State, cid: u64, args: &[Bytes], now: u64) -> Result<Reply, Reply> {
    if args.len() > 3 {
        return Err(super::syntax_error());
    }
    let count = match args.get(2) {
        Some(c) => Some(positive(c)?),
        None => None,
    };
    st.expire_on_access(&args[1], now);
    let Some(set) = st.ks.get_set(&args[1], now)? else {
        return Ok(if count.is_some() {
            Reply::Set(Vec::new())
        } else {
            Reply::Nil
        });
    };
    let all = set.ordered();
    let size = all.len();
    let picked = draw_distinct(st, all, count.unwrap_or(1) as usize);
    if let Some(set) = st.ks.set_mut(&args[1], now)? {
        for m in &picked {
            set.members.remove(m);
        }
    }
    st.ks.remove_if_empty(&args[1]);
    if picked.len() == size && count.is_some() {
        st.propagate(cid, &[b"DEL", &args[1]]);
    } else if !picked.is_empty() {
        let mut srem: Vec<&[u8]> = vec![b"SREM", &args[1]];
        srem.extend(picked.iter().map(|m| &m[..]));
        st.propagate(cid, &srem);
    }
    Ok(match count {
        None => picked.into_iter().next().map_or(Reply::Nil, Reply::Bulk),
        Some(_) => Reply::Set(bulks(picked)),
    })
}

/// `SSCAN key cursor [MATCH pattern] [COUNT n]`.
pub(crate) fn sscan(st: &mut State, args: &[Bytes], now: u64) -> Result<Reply, Reply> {
    let cursor = scan::cursor(&args[2])?;
    st.expire_on_access(&args[1], now);
    let Some(set) = st.ks.get_set(&args[1], now)? else {
        return Ok(scan::reply(0, Vec::new()));
    };
    let o = scan::options(args, 3, false)?;
    let members: Vec<Reply> = if set.hashtable {
        let (next, visited) = scan::walk(set.members.iter().map(|m| (m, ())), cursor, o.count);
        let items = visited
            .into_iter()
            .filter(|(m, _)| o.matches(m))
            .map(|(m, _)| Reply::Bulk(m.clone()))
            .collect();
        return Ok(scan::reply(next, items));
    } else {
        set.ordered()
            .into_iter()
            .filter(|m| o.matches(m))
            .map(Reply::Bulk)
            .collect()
    };
    Ok(scan::reply(0, members))
}
