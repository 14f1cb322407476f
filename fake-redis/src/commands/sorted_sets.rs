//! ZADD, ZINCRBY, ZREM, ZSCORE, ZMSCORE, ZCARD, ZCOUNT, ZRANK, ZREVRANK, ZRANGE and its older forms
//! (ZREVRANGE, ZRANGEBYSCORE, ZREVRANGEBYSCORE, ZRANGEBYLEX, ZREVRANGEBYLEX), ZREMRANGEBYRANK/SCORE/LEX,
//! ZPOPMIN, ZPOPMAX, ZSCAN, as Redis 7.0's `t_zset.c` answers them.
//!
//! Three things about sorted sets are easy to get subtly wrong, and clients see all three:
//! - Scores print with `%.17g` ([`redsim_resp::format_double`]): `ZADD z 1.1 m` then `ZSCORE z m` answers
//!   `1.1000000000000001`. In RESP3 they are doubles (`,`), and WITHSCORES pairs are nested arrays there,
//!   flat in RESP2.
//! - Two number parsers: scores to store (`ZADD`, `ZINCRBY`) must be a whole, finite-or-`inf` float with no
//!   leading space, while range bounds (`ZCOUNT`, `BYSCORE`) are read by a bare `strtod`, which takes leading
//!   spaces, an empty string (as 0) and out-of-range exponents (as infinity).
//! - Errors come in Redis's order: options, then the range, then the key's type.
//!
//! Every write propagates as it arrived, and only when it changed something (Redis counts it in `dirty`).

use bytes::Bytes;

use super::{int_arg, is, scan, syntax_error};
use crate::commands::lists::{positive, span};
use crate::node::State;
use crate::zset::ZSet;
use redsim_resp::{Protocol, Reply};

fn not_a_float() -> Reply {
    Reply::err("value is not a valid float")
}

fn bad_score_range() -> Reply {
    Reply::err("min or max is not a float")
}

fn bad_lex_range() -> Reply {
    Reply::err("min or max not valid string range item")
}

/// Whether C's `isspace` holds.
fn c_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

/// A number as `strtod` reads a whole string, and whether it over- or underflowed (C's `ERANGE`). Hexadecimal
/// floats, which `strtod` also takes, are refused: no client sends them (a deliberate difference).
fn strtod_whole(text: &[u8]) -> Option<(f64, bool)> {
    let s = std::str::from_utf8(text).ok()?;
    // Rust's parser takes a few spellings C does not ("infinity" is common to both; "inF" too).
    let v: f64 = s.parse().ok()?;
    let digits = s.trim_start_matches(['+', '-']);
    let literal_inf = digits.eq_ignore_ascii_case("inf") || digits.eq_ignore_ascii_case("infinity");
    let overflow = v.is_infinite() && !literal_inf;
    let mantissa = digits.split(['e', 'E']).next().unwrap_or("");
    let underflow = v == 0.0 && mantissa.bytes().any(|b| (b'1'..=b'9').contains(&b));
    Some((v, overflow || underflow))
}

/// A score to store (Redis's `string2d`): the whole argument, no leading space, not NaN, and no over- or
/// underflow to infinity or zero.
pub(crate) fn score_arg(arg: &[u8]) -> Result<f64, Reply> {
    if arg.is_empty() || c_space(arg[0]) {
        return Err(not_a_float());
    }
    match strtod_whole(arg) {
        Some((v, false)) if !v.is_nan() => Ok(v),
        _ => Err(not_a_float()),
    }
}

/// One end of a score range (Redis's `zslParseRange`): `(` makes it exclusive, then a bare `strtod`.
fn score_bound(arg: &[u8]) -> Option<(f64, bool)> {
    let (text, exclusive) = match arg.first() {
        Some(b'(') => (&arg[1..], true),
        _ => (arg, false),
    };
    if text.is_empty() {
        // strtod converts nothing, and stops at the terminating NUL: a valid 0.
        return Some((0.0, exclusive));
    }
    let start = text.iter().position(|b| !c_space(*b))?;
    let (v, _) = strtod_whole(&text[start..])?;
    (!v.is_nan()).then_some((v, exclusive))
}

/// A score interval.
#[derive(Debug, Clone, Copy)]
struct ScoreRange {
    min: f64,
    min_ex: bool,
    max: f64,
    max_ex: bool,
}

impl ScoreRange {
    fn parse(min: &[u8], max: &[u8]) -> Result<Self, Reply> {
        let (min, min_ex) = score_bound(min).ok_or_else(bad_score_range)?;
        let (max, max_ex) = score_bound(max).ok_or_else(bad_score_range)?;
        Ok(ScoreRange {
            min,
            min_ex,
            max,
            max_ex,
        })
    }
    fn above_min(&self, s: f64) -> bool {
        if self.min_ex { s > self.min } else { s >= self.min }
    }
    fn below_max(&self, s: f64) -> bool {
        if self.max_ex { s < self.max } else { s <= self.max }
    }
}

/// One end of a lexicographic range: `-` and `+` are the least and greatest strings, `[x` includes x, `(x`
/// excludes it.
#[derive(Debug, Clone)]
enum LexBound {
    Least,
    Greatest,
    Inclusive(Bytes),
    Exclusive(Bytes),
}

impl LexBound {
    fn parse(arg: &Bytes) -> Result<Self, Reply> {
        match arg.first() {
            Some(b'+') if arg.len() == 1 => Ok(LexBound::Greatest),
            Some(b'-') if arg.len() == 1 => Ok(LexBound::Least),
            Some(b'(') => Ok(LexBound::Exclusive(arg.slice(1..))),
            Some(b'[') => Ok(LexBound::Inclusive(arg.slice(1..))),
            _ => Err(bad_lex_range()),
        }
    }
    fn admits_above(&self, m: &[u8]) -> bool {
        match self {
            LexBound::Least => true,
            LexBound::Greatest => false,
            LexBound::Inclusive(b) => m >= &b[..],
            LexBound::Exclusive(b) => m > &b[..],
        }
    }
    fn admits_below(&self, m: &[u8]) -> bool {
        match self {
            LexBound::Least => false,
            LexBound::Greatest => true,
            LexBound::Inclusive(b) => m <= &b[..],
            LexBound::Exclusive(b) => m < &b[..],
        }
    }
}

/// What a range command selects.
#[derive(Debug, Clone)]
enum Range {
    Rank(i64, i64),
    Score(ScoreRange),
    Lex(LexBound, LexBound),
}

impl Range {
    fn above_min(&self, m: &[u8], s: f64) -> bool {
        match self {
            Range::Score(r) => r.above_min(s),
            Range::Lex(min, _) => min.admits_above(m),
            Range::Rank(..) => true,
        }
    }
    fn below_max(&self, m: &[u8], s: f64) -> bool {
        match self {
            Range::Score(r) => r.below_max(s),
            Range::Lex(_, max) => max.admits_below(m),
            Range::Rank(..) => true,
        }
    }
}

/// The members a range selects, in the order they are answered. For a score or lex range this walks as
/// Redis does: from the first member past the near bound (which must also be within the far one), skip
/// `offset` members, then take up to `limit` (all when negative) while they are within the far bound. A
/// negative offset selects nothing (Redis's skip loop runs off the end).
fn select(z: &ZSet, range: &Range, rev: bool, offset: i64, limit: i64) -> Vec<(Bytes, f64)> {
    let all: Box<dyn Iterator<Item = (&Bytes, f64)>> = if rev {
        Box::new(z.iter().rev())
    } else {
        Box::new(z.iter())
    };
    if let Range::Rank(start, stop) = range {
        let Some((from, to)) = span(*start, *stop, z.len()) else {
            return Vec::new();
        };
        return all.skip(from).take(to - from).map(|(m, s)| (m.clone(), s)).collect();
    }
    if offset < 0 {
        return Vec::new();
    }
    let near = |m: &[u8], s: f64| {
        if rev {
            range.below_max(m, s)
        } else {
            range.above_min(m, s)
        }
    };
    let far = |m: &[u8], s: f64| {
        if rev {
            range.above_min(m, s)
        } else {
            range.below_max(m, s)
        }
    };
    let mut it = all.skip_while(|(m, s)| !near(m, *s)).peekable();
    match it.peek() {
        Some((m, s)) if far(m, *s) => {}
        _ => return Vec::new(),
    }
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    it.skip(usize::try_from(offset).unwrap_or(usize::MAX))
        .take_while(|(m, s)| far(m, *s))
        .take(limit)
        .map(|(m, s)| (m.clone(), s))
        .collect()
}

/// Members, with their scores if asked: flat in RESP2, `[member, score]` pairs in RESP3.
fn scored(items: Vec<(Bytes, f64)>, withscores: bool, proto: Protocol) -> Reply {
    if !withscores {
        return Reply::Array(items.into_iter().map(|(m, _)| Reply::Bulk(m)).collect());
    }
    if proto == Protocol::Resp3 {
        return Reply::Array(
            items
                .into_iter()
                .map(|(m, s)| Reply::Array(vec![Reply::Bulk(m), Reply::Double(s)]))
                .collect(),
        );
    }
    Reply::Array(
        items
            .into_iter()
            .flat_map(|(m, s)| [Reply::Bulk(m), Reply::Double(s)])
            .collect(),
    )
}

/// `ZADD key [NX|XX] [GT|LT] [CH] [INCR] score member [score member ...]`, and `ZINCRBY key increment member`,
/// which Redis runs as ZADD with INCR (and so also reads options: `ZINCRBY key nx m` is a syntax error).
pub(crate) fn zadd(st: &mut State, cid: u64, args: &[Bytes], now: u64, incr_command: bool) -> Result<Reply, Reply> {
    let mut incr = incr_command;
    let (mut nx, mut xx, mut gt, mut lt, mut ch) = (false, false, false, false, false);
    let mut at = 2;
    while at < args.len() {
        let opt = &args[at];
        if is(opt, "nx") {
            nx = true;
        } else if is(opt, "xx") {
            xx = true;
        } else if is(opt, "ch") {
            ch = true;
        } else if is(opt, "incr") {
            incr = true;
        } else if is(opt, "gt") {
            gt = true;
        } else if is(opt, "lt") {
            lt = true;
        } else {
            break;
        }
        at += 1;
    }
    let rest = &args[at..];
    if rest.is_empty() || rest.len() % 2 == 1 {
        return Err(syntax_error());
    }
    if nx && xx {
        return Err(Reply::err("XX and NX options at the same time are not compatible"));
    }
    if (gt || lt) && (nx || (gt && lt)) {
        return Err(Reply::err(
            "GT, LT, and/or NX options at the same time are not compatible",
        ));
    }
    if incr && rest.len() > 2 {
        return Err(Reply::err("INCR option supports a single increment-element pair"));
    }
    let scores = rest
        .chunks(2)
        .map(|p| score_arg(&p[0]))
        .collect::<Result<Vec<f64>, Reply>>()?;
    let key = &args[1];
    st.expire_on_access(key, now);
    if st.ks.get_zset(key, now)?.is_none() && xx {
        return Ok(if incr { Reply::Nil } else { Reply::Int(0) });
    }
    let z = st.ks.zset_or_create(key, now)?;
    let (mut added, mut updated, mut processed) = (0, 0, 0);
    let mut last = 0.0;
    let mut failed = None;
    for (pair, &score) in rest.chunks(2).zip(&scores) {
        let member = &pair[1];
        match z.score(member) {
            Some(_) if nx => continue,
            Some(current) => {
                let new = if incr { score + current } else { score };
                if new.is_nan() {
                    failed = Some(Reply::err("resulting score is not a number (NaN)"));
                    break;
                }
                if (lt && new >= current) || (gt && new <= current) {
                    continue;
                }
                if new != current {
                    z.insert(member.clone(), new);
                    updated += 1;
                }
                processed += 1;
                last = new;
            }
            None if xx => continue,
            None => {
                z.insert(member.clone(), score);
                added += 1;
                processed += 1;
                last = score;
            }
        }
    }
    st.ks.remove_if_empty(key);
    if added + updated > 0 {
        st.propagate_args(cid, args);
    }
    if let Some(e) = failed {
        return Err(e);
    }
    Ok(match (incr, processed) {
        (true, 0) => Reply::Nil,
        (true, _) => Reply::Double(last),
        (false, _) if ch => Reply::Int(added + updated),
        (false, _) => Reply::Int(added),
    })
}

pub(crate) fn zrem(st: &mut State, cid: u64, args: &[Bytes], now: u64) -> Result<Reply, Reply> {
    st.expire_on_access(&args[1], now);
    let Some(z) = st.ks.zset_mut(&args[1], now)? else {
        return Ok(Reply::Int(0));
    };
    let removed = args[2..].iter().filter(|m| z.remove(m)).count();
    st.ks.remove_if_empty(&args[1]);
    if removed > 0 {
        st.propagate_args(cid, args);
    }
    Ok(Reply::Int(removed as i64))
}

pub(crate) fn zscore(st: &mut State, args: &[Bytes], now: u64) -> Result<Reply, Reply> {
    st.expire_on_access(&args[1], now);
    let score = st.ks.get_zset(&args[1], now)?.and_then(|z| z.score(&args[2]));
    Ok(score.map_or(Reply::Nil, Reply::Double))
}

/// `ZMSCORE key member...`: a missing key answers as an empty set would.
pub(crate) fn zmscore(st: &mut State, args: &[Bytes], now: u64) -> Result<Reply, Reply> {
    st.expire_on_access(&args[1], now);
    let z = st.ks.get_zset(&args[1], now)?;
    Ok(Reply::Array(
        args[2..]
            .iter()
            .map(|m| z.and_then(|z| z.score(m)).map_or(Reply::Nil, Reply::Double))
            .collect(),
    ))
}

pub(crate) fn zcard(st: &mut State, args: &[Bytes], now: u64) -> Result<Reply, Reply> {
    st.expire_on_access(&args[1], now);
    Ok(Reply::Int(st.ks.get_zset(&args[1], now)?.map_or(0, ZSet::len) as i64))
}

/// `ZCOUNT key min max`: the range is read before the key is looked at.
pub(crate) fn zcount(st: &mut State, args: &[Bytes], now: u64) -> Result<Reply, Reply> {
    let range = Range::Score(ScoreRange::parse(&args[2], &args[3])?);
    st.expire_on_access(&args[1], now);
    let n = st
        .ks
        .get_zset(&args[1], now)?
        .map_or(0, |z| select(z, &range, false, 0, -1).len());
    Ok(Reply::Int(n as i64))
}

pub(crate) fn zrank(st: &mut State, args: &[Bytes], now: u64, rev: bool) -> Result<Reply, Reply> {
    st.expire_on_access(&args[1], now);
    let rank = st.ks.get_zset(&args[1], now)?.and_then(|z| z.rank(&args[2], rev));
    Ok(rank.map_or(Reply::Nil, |r| Reply::Int(r as i64)))
}

/// How a range command reads its two bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum By {
    Rank,
    Score,
    Lex,
}

/// `ZRANGE key min max [BYSCORE|BYLEX] [REV] [LIMIT offset count] [WITHSCORES]`, and the older commands that
/// fix what ZRANGE takes as options: `by` and `rev` are `Some` for them (ZREVRANGEBYSCORE is
/// `(Some(Score), Some(true))`), and an option they fix is then a syntax error, as in Redis.
pub(crate) fn zrange(
    st: &mut State,
    cid: u64,
    args: &[Bytes],
    now: u64,
    by: Option<By>,
    rev: Option<bool>,
) -> Result<Reply, Reply> {
    let (mut by, mut rev) = (by, rev);
    let mut withscores = false;
    let (mut offset, mut limit) = (0i64, -1i64);
    let mut j = 4;
    while j < args.len() {
        let left = args.len() - j - 1;
        let opt = &args[j];
        if is(opt, "withscores") {
            withscores = true;
        } else if is(opt, "limit") && left >= 2 {
            offset = int_arg(&args[j + 1])?;
            limit = int_arg(&args[j + 2])?;
            j += 2;
        } else if rev.is_none() && is(opt, "rev") {
            rev = Some(true);
        } else if by.is_none() && is(opt, "bylex") {
            by = Some(By::Lex);
        } else if by.is_none() && is(opt, "byscore") {
            by = Some(By::Score);
        } else {
            return Err(syntax_error());
        }
        j += 1;
    }
    let by = by.unwrap_or(By::Rank);
    let rev = rev.unwrap_or(false);
    if limit != -1 && by == By::Rank {
        return Err(Reply::err(
            "syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX",
        ));
    }
    if withscores && by == By::Lex {
        return Err(Reply::err(
            "syntax error, WITHSCORES not supported in combination with BYLEX",
        ));
    }
    // A reversed score or lex range is written max first.
    let (lo, hi) = if rev && by != By::Rank {
        (&args[3], &args[2])
    } else {
        (&args[2], &args[3])
    };
    let range = match by {
        By::Rank => Range::Rank(int_arg(lo)?, int_arg(hi)?),
        By::Score => Range::Score(ScoreRange::parse(lo, hi)?),
        By::Lex => Range::Lex(LexBound::parse(lo)?, LexBound::parse(hi)?),
    };
    st.expire_on_access(&args[1], now);
    let proto = st.reply_proto(cid);
    let items = match st.ks.get_zset(&args[1], now)? {
        None => return Ok(Reply::Array(Vec::new())),
        Some(z) => select(z, &range, rev, offset, limit),
    };
    Ok(scored(items, withscores, proto))
}

/// `ZREMRANGEBYRANK`, `ZREMRANGEBYSCORE`, `ZREMRANGEBYLEX key min max`.
pub(crate) fn zremrange(st: &mut State, cid: u64, args: &[Bytes], now: u64, by: By) -> Result<Reply, Reply> {
    let range = match by {
        By::Rank => Range::Rank(int_arg(&args[2])?, int_arg(&args[3])?),
        By::Score => Range::Score(ScoreRange::parse(&args[2], &args[3])?),
        By::Lex => Range::Lex(LexBound::parse(&args[2])?, LexBound::parse(&args[3])?),
    };
    st.expire_on_access(&args[1], now);
    let Some(z) = st.ks.zset_mut(&args[1], now)? else {
        return Ok(Reply::Int(0));
    };
    let doomed = select(z, &range, false, 0, -1);
    for (m, _) in &doomed {
        z.remove(m);
    }
    st.ks.remove_if_empty(&args[1]);
    if !doomed.is_empty() {
        st.propagate_args(cid, args);
    }
    Ok(Reply::Int(doomed.len() as i64))
}

/// `ZPOPMIN` / `ZPOPMAX key [count]`: one member is a flat `[member, score]` in either protocol; with a count,
/// RESP3 nests the pairs.
pub(crate) fn zpop(st: &mut State, cid: u64, args: &[Bytes], now: u64, max: bool) -> Result<Reply, Reply> {
    if args.len() > 3 {
        return Err(syntax_error());
    }
    let count = match args.get(2) {
        Some(c) => Some(positive(c)?),
        None => None,
    };
    st.expire_on_access(&args[1], now);
    let proto = st.reply_proto(cid);
    let Some(z) = st.ks.zset_mut(&args[1], now)? else {
        return Ok(Reply::Array(Vec::new()));
    };
    let want = count.unwrap_or(1).min(z.len() as i64) as usize;
    let popped: Vec<(Bytes, f64)> = (0..want).filter_map(|_| z.pop(max)).collect();
    st.ks.remove_if_empty(&args[1]);
    if !popped.is_empty() {
        st.propagate_args(cid, args);
    }
    let nested = count.is_some() && proto == Protocol::Resp3;
    Ok(scored(
        popped,
        true,
        if nested { Protocol::Resp3 } else { Protocol::Resp2 },
    ))
}

/// `ZSCAN key cursor [MATCH pattern] [COUNT n]`: scores as the encoding holds them ([`ZSet::scan_text`]).
pub(crate) fn zscan(st: &mut State, args: &[Bytes], now: u64) -> Result<Reply, Reply> {
    let cursor = scan::cursor(&args[2])?;
    st.expire_on_access(&args[1], now);
    let Some(z) = st.ks.get_zset(&args[1], now)? else {
        return Ok(scan::reply(0, Vec::new()));
    };
    let o = scan::options(args, 3, false)?;
    let (next, visited) = if z.is_big() {
        scan::walk(z.iter(), cursor, o.count)
    } else {
        (0, z.iter().collect())
    };
    let items = visited
        .into_iter()
        .filter(|(m, _)| o.matches(m))
        .flat_map(|(m, s)| [Reply::Bulk(m.clone()), Reply::Bulk(z.scan_text(s).into())])
        .collect();
    Ok(scan::reply(next, items))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scores_to_store_are_whole_finite_floats() {
        for ok in [
            "1", "-1.5", "+2", ".5", "5.", "1e10", "inf", "-inf", "+inf", "Infinity", "1e-310",
        ] {
            assert!(score_arg(ok.as_bytes()).is_ok(), "{ok}");
        }
        for bad in ["", " 1", "1 ", "nan", "1e400", "-1e400", "1e-400", "abc", "1,5", "0x"] {
            assert!(score_arg(bad.as_bytes()).is_err(), "{bad}");
        }
        assert_eq!(score_arg(b"0e500").ok(), Some(0.0));
    }

    #[test]
    fn range_bounds_are_read_by_a_bare_strtod() {
        assert_eq!(score_bound(b""), Some((0.0, false)));
        assert_eq!(score_bound(b"("), Some((0.0, true)));
        assert_eq!(score_bound(b" 1"), Some((1.0, false)));
        assert_eq!(score_bound(b"(1e400"), Some((f64::INFINITY, true)));
        assert_eq!(score_bound(b"1e-400"), Some((0.0, false)));
        assert_eq!(score_bound(b" "), None);
        assert_eq!(score_bound(b"1 "), None);
        assert_eq!(score_bound(b"nan"), None);
    }

    fn zset(pairs: &[(&str, f64)]) -> ZSet {
        let mut z = ZSet::default();
        for (m, s) in pairs {
            z.insert(Bytes::copy_from_slice(m.as_bytes()), *s);
        }
        z
    }

    fn names(v: Vec<(Bytes, f64)>) -> Vec<String> {
        v.into_iter()
            .map(|(m, _)| String::from_utf8_lossy(&m).into_owned())
            .collect()
    }

    #[test]
    fn a_score_range_skips_then_limits_within_its_bounds() {
        let z = zset(&[("a", 1.0), ("b", 2.0), ("c", 3.0), ("d", 4.0)]);
        let r = Range::Score(ScoreRange::parse(b"(1", b"4").unwrap());
        assert_eq!(names(select(&z, &r, false, 0, -1)), ["b", "c", "d"]);
        assert_eq!(names(select(&z, &r, false, 1, 1)), ["c"]);
        assert_eq!(names(select(&z, &r, true, 0, 2)), ["d", "c"]);
        assert_eq!(names(select(&z, &r, false, -1, 5)), Vec::<String>::new());
        assert_eq!(names(select(&z, &r, false, 3, 5)), Vec::<String>::new());
    }

    #[test]
    fn a_lex_range_uses_brackets_and_the_infinite_strings() {
        let z = zset(&[("a", 0.0), ("b", 0.0), ("c", 0.0)]);
        let lex = |lo: &str, hi: &str| {
            Range::Lex(
                LexBound::parse(&Bytes::copy_from_slice(lo.as_bytes())).unwrap(),
                LexBound::parse(&Bytes::copy_from_slice(hi.as_bytes())).unwrap(),
            )
        };
        assert_eq!(names(select(&z, &lex("-", "+"), false, 0, -1)), ["a", "b", "c"]);
        assert_eq!(names(select(&z, &lex("(a", "[c"), false, 0, -1)), ["b", "c"]);
        assert_eq!(names(select(&z, &lex("+", "-"), false, 0, -1)), Vec::<String>::new());
        assert_eq!(names(select(&z, &lex("-", "(b"), true, 0, -1)), ["a"]);
        assert!(LexBound::parse(&Bytes::from_static(b"a")).is_err());
        assert!(LexBound::parse(&Bytes::from_static(b"")).is_err());
        assert!(LexBound::parse(&Bytes::from_static(b"+x")).is_err());
    }
}
