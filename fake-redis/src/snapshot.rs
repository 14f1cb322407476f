//! The full-resynchronisation payload. Real Redis sends an RDB file; the fake sends its own simple format, since
//! nothing outside the fakes reads it: a magic line, then one RESP multibulk per key
//! `[key, deadline, type, items...]` (deadline in Unix ms, empty when none; `type` as `TYPE` names it; the items
//! a string's value, a hash's fields and values, a list's elements, a set's members, a sorted set's members and
//! scores). It travels as `$<len>\r\n<payload>` like an RDB, without a trailing CRLF.
//!
//! Hash fields go in their listing order, so a resynchronised replica lists them as its master does. Encodings
//! are not sent: as Redis does when it loads an RDB file, the replica chooses them from the contents.

use std::collections::VecDeque;

use bytes::{Bytes, BytesMut};

use crate::hash::Hash;
use crate::keyspace::Keyspace;
use crate::object::{Object, Set};
use crate::zset::ZSet;
use redsim_resp::{RequestParser, encode_multibulk, parse_int};

const MAGIC: &[u8] = b"REDSIM-SNAPSHOT-2\r\n";

/// Serialises a keyspace (the node builds its payload in place with [`encode_into`]; tests use this).
#[cfg(test)]
pub fn encode(ks: &Keyspace) -> Bytes {
    let mut out = BytesMut::with_capacity(encoded_len(ks));
    encode_into(ks, &mut out);
    out.freeze()
}

/// Calls `f` with each key's record.
fn for_each_record(ks: &Keyspace, mut f: impl FnMut(&[&[u8]])) {
    for (k, e) in ks.iter() {
        let deadline = e.expire_at_ms.map(|t| t.to_string()).unwrap_or_default();
        // Scores as Rust writes them, the shortest text that parses back to the same bits (`inf`, `-0` included).
        let scores: Vec<String> = match &e.value {
            Object::ZSet(z) => z.iter().map(|(_, s)| s.to_string()).collect(),
            _ => Vec::new(),
        };
        let mut record: Vec<&[u8]> = Vec::with_capacity(4);
        record.extend([k.as_ref(), deadline.as_bytes(), e.value.type_name().as_bytes()]);
        match &e.value {
            Object::String(v) => record.push(v),
            Object::Hash(h) => record.extend(h.iter().flat_map(|(f, v)| [f.as_ref(), v.as_ref()])),
            Object::List(l) => record.extend(l.iter().map(|v| v.as_ref())),
            Object::Set(set) => record.extend(set.members.iter().map(|m| m.as_ref())),
            Object::ZSet(z) => record.extend(z.iter().zip(&scores).flat_map(|((m, _), s)| [m.as_ref(), s.as_bytes()])),
        }
        f(&record);
    }
}

/// Appends a keyspace's payload to `out`. Reserve [`encoded_len`] first: a payload as large as the dataset
/// then takes one allocation of its exact size instead of a doubling buffer up to twice that.
pub fn encode_into(ks: &Keyspace, out: &mut BytesMut) {
    out.extend_from_slice(MAGIC);
    for_each_record(ks, |record| encode_multibulk(out, record));
}

/// The length of [`encode_into`]'s payload, computed without building it.
pub fn encoded_len(ks: &Keyspace) -> usize {
    fn digits(mut n: usize) -> usize {
        let mut d = 1;
        while n >= 10 {
            n /= 10;
            d += 1;
        }
        d
    }
    // `*<n>\r\n` then `$<len>\r\n<bytes>\r\n` per item.
    let mut len = MAGIC.len();
    for_each_record(ks, |record| {
        len += 1 + digits(record.len()) + 2;
        len += record
            .iter()
            .map(|a| 1 + digits(a.len()) + 2 + a.len() + 2)
            .sum::<usize>();
    });
    len
}

/// Parses a payload made by [`encode_into`]; `None` if it is not one.
pub fn decode(payload: &[u8]) -> Option<Keyspace> {
    let body = payload.strip_prefix(MAGIC)?;
    let mut buf = BytesMut::from(body);
    let mut parser = RequestParser::new();
    let mut ks = Keyspace::new();
    while !buf.is_empty() {
        let req = parser.parse(&mut buf, true).ok()??;
        let mut args = req.args.into_iter();
        let (key, d, kind) = (args.next()?, args.next()?, args.next()?);
        let items: Vec<Bytes> = args.collect();
        let deadline = if d.is_empty() {
            None
        } else {
            Some(parse_int(&d)? as u64)
        };
        let value = match &kind[..] {
            b"string" => match <[Bytes; 1]>::try_from(items) {
                Ok([v]) => Object::String(v),
                Err(_) => return None,
            },
            b"hash" if items.len() % 2 == 0 => {
                let mut h = Hash::default();
                for pair in items.chunks(2) {
                    h.insert(pair[0].clone(), pair[1].clone());
                }
                Object::Hash(h)
            }
            b"list" => Object::List(VecDeque::from(items)),
            b"set" => Object::Set(Set::from_members(items)),
            b"zset" if items.len() % 2 == 0 => {
                let mut pairs = Vec::with_capacity(items.len() / 2);
                for pair in items.chunks(2) {
                    let score: f64 = std::str::from_utf8(&pair[1]).ok()?.parse().ok()?;
                    pairs.push((pair[0].clone(), score));
                }
                Object::ZSet(ZSet::from_pairs(pairs))
            }
            _ => return None,
        };
        ks.set_object(key, value, deadline);
    }
    Some(ks)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let mut ks = Keyspace::new();
        ks.set("a".into(), "1".into(), None);
        ks.set("b\r\n".into(), Bytes::from_static(b"\x00\xff"), Some(123));
        let mut h = Hash::default();
        h.insert("z".into(), "1".into());
        h.insert("a".into(), "".into());
        ks.set_object("h".into(), Object::Hash(h), None);
        ks.set_object(
            "l".into(),
            Object::List(["x".into(), "".into(), "x".into()].into()),
            Some(5),
        );
        ks.set_object(
            "s".into(),
            Object::Set(Set::from_members(["2".into(), "10".into()])),
            None,
        );
        let mut z = ZSet::default();
        for (m, score) in [("a", 1.5), ("b", f64::INFINITY), ("c", -0.0), ("d", 0.1 + 0.2)] {
            z.insert(m.into(), score);
        }
        ks.set_object("z".into(), Object::ZSet(z), None);
        assert_eq!(encoded_len(&ks), encode(&ks).len());
        assert_eq!(decode(&encode(&ks)).as_ref(), Some(&ks));
        assert_eq!(decode(b"garbage"), None);
        let order = |ks: &Keyspace| match ks.get(b"h", 0).map(|e| &e.value) {
            Some(Object::Hash(h)) => h.iter().map(|(f, _)| f.clone()).collect::<Vec<_>>(),
            _ => Vec::new(),
        };
        let back = decode(&encode(&ks)).unwrap_or_default();
        assert_eq!(
            order(&back),
            ["z", "a"],
            "hash fields keep their order through a resync"
        );
        assert_eq!(encoded_len(&Keyspace::new()), encode(&Keyspace::new()).len());
    }
}
