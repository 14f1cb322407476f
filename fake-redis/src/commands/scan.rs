//! SCAN, and the cursor walk HSCAN, SSCAN and ZSCAN share with it.
//!
//! Redis walks its hash tables in an order that survives inserts and deletes between calls, which gives SCAN its
//! guarantee: an element present for the whole iteration is returned at least once. The fake walks elements in
//! the order of a fixed 64-bit hash of each, and the cursor is the hash to resume from, which keeps the same
//! guarantee (and exactly once, as no table is resized under it). COUNT elements are visited per call, then MATCH
//! and TYPE filter them, as in Redis, so a call may return none while the cursor is not yet 0.
//!
//! A small aggregate (a listpack or an intset) has no table to walk: Redis returns all of it in one call with
//! cursor 0, whatever the cursor and COUNT were, and so does the fake.

use bytes::Bytes;

use super::{int_arg, is, syntax_error};
use crate::node::State;
use redsim_resp::Reply;

/// What the options after the cursor asked for.
pub(crate) struct ScanOptions {
    pub pattern: Option<Bytes>,
    pub count: usize,
    pub type_name: Option<Bytes>,
}

impl ScanOptions {
    /// Whether an element's name passes MATCH.
    pub(crate) fn matches(&self, name: &[u8]) -> bool {
        self.pattern.as_ref().is_none_or(|p| redsim_resp::glob_match(p, name))
    }
}

/// Parses `[MATCH pattern] [COUNT n]` (and `[TYPE type]` for SCAN itself) from `args[from..]`.
pub(crate) fn options(args: &[Bytes], from: usize, allow_type: bool) -> Result<ScanOptions, Reply> {
    let mut o = ScanOptions {
        pattern: None,
        count: 10,
        type_name: None,
    };
    let mut i = from;
    while i < args.len() {
        match args.get(i + 1) {
            Some(v) if is(&args[i], "MATCH") => o.pattern = Some(v.clone()),
            Some(v) if is(&args[i], "COUNT") => match int_arg(v)? {
                n if n >= 1 => o.count = n as usize,
                _ => return Err(syntax_error()),
            },
            Some(v) if allow_type && is(&args[i], "TYPE") => o.type_name = Some(v.clone()),
            _ => return Err(syntax_error()),
        }
        i += 2;
    }
    Ok(o)
}

/// A cursor as Redis reads one (`strtoull`): decimal, an optional sign (`-1` wraps to 2^64 - 1), nothing else,
/// and within 64 bits.
pub(crate) fn cursor(arg: &[u8]) -> Result<u64, Reply> {
    let invalid = || Reply::err("invalid cursor");
    let (neg, digits) = match arg.first() {
        Some(b'-') => (true, &arg[1..]),
        Some(b'+') => (false, &arg[1..]),
        _ => (false, arg),
    };
    if !digits.iter().all(u8::is_ascii_digit) {
        return Err(invalid());
    }
    let mut v: u64 = 0;
    for d in digits {
        v = v
            .checked_mul(10)
            .and_then(|v| v.checked_add(u64::from(d - b'0')))
            .ok_or_else(invalid)?;
    }
    Ok(if neg { v.wrapping_neg() } else { v })
}

/// Where an element falls in the walk's order: FNV-1a, never 0 (a cursor of 0 means the iteration is over).
fn position(name: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in name {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h | 1
}

/// One call's share of a walk over `items` (named by their first part): the cursor to resume from (0 when
/// done) and the `count` items visited, in walk order.
pub(crate) fn walk<'a, T>(
    items: impl Iterator<Item = (&'a Bytes, T)>,
    cursor: u64,
    count: usize,
) -> (u64, Vec<(&'a Bytes, T)>) {
    let mut order: Vec<(u64, &'a Bytes, T)> = items
        .map(|(name, t)| (position(name), name, t))
        .filter(|(h, _, _)| *h >= cursor)
        .collect();
    order.sort_unstable_by(|a, b| (a.0, a.1).cmp(&(b.0, b.1)));
    // Visit `count` items, and never split items of one hash between two calls: the cursor could not tell them
    // apart.
    let mut end = order.len().min(count);
    while end < order.len() && end > 0 && order[end].0 == order[end - 1].0 {
        end += 1;
    }
    let next = order.get(end).map_or(0, |(h, _, _)| *h);
    order.truncate(end);
    (next, order.into_iter().map(|(_, name, t)| (name, t)).collect())
}

/// SCAN's reply: the next cursor and the elements.
pub(crate) fn reply(next: u64, elements: Vec<Reply>) -> Reply {
    Reply::Array(vec![Reply::Bulk(next.to_string().into()), Reply::Array(elements)])
}

/// `SCAN cursor [MATCH pattern] [COUNT n] [TYPE type]`.
pub(crate) fn scan(st: &mut State, args: &[Bytes], now: u64) -> Result<Reply, Reply> {
    let cursor = cursor(&args[1])?;
    let o = options(args, 2, true)?;
    let live = st.ks.iter().filter(|(_, e)| !e.is_expired(now));
    let (next, visited) = walk(live, cursor, o.count);
    let keys = visited
        .into_iter()
        .filter(|(k, e)| o.matches(k) && o.type_name.as_ref().is_none_or(|t| is(t, e.value.type_name())))
        .map(|(k, _)| Reply::Bulk(k.clone()))
        .collect();
    Ok(reply(next, keys))
}
