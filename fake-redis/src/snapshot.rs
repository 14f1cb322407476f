//! The full-resynchronisation payload. Real Redis sends an RDB file; the fake sends its own simple format, since
//! nothing outside the fakes reads it: a magic line, then one RESP multibulk per key `[key, value, deadline]`
//! (deadline in Unix ms, empty when none). It travels as `$<len>\r\n<payload>` like an RDB, without a trailing
//! CRLF.

use bytes::{Bytes, BytesMut};

use crate::keyspace::Keyspace;
use redsim_resp::{RequestParser, encode_multibulk, parse_int};

const MAGIC: &[u8] = b"REDSIM-SNAPSHOT-1\r\n";

/// Serialises a keyspace (the node builds its payload in place with [`encode_into`]; tests use this).
#[cfg(test)]
pub fn encode(ks: &Keyspace) -> Bytes {
    let mut out = BytesMut::with_capacity(encoded_len(ks));
    encode_into(ks, &mut out);
    out.freeze()
}

/// Appends a keyspace's payload to `out`. Reserve [`encoded_len`] first: a payload as large as the dataset
/// then takes one allocation of its exact size instead of a doubling buffer up to twice that.
pub fn encode_into(ks: &Keyspace, out: &mut BytesMut) {
    out.extend_from_slice(MAGIC);
    for (k, e) in ks.iter() {
        let deadline = e.expire_at_ms.map(|t| t.to_string()).unwrap_or_default();
        encode_multibulk(out, &[k.as_ref(), e.value.as_ref(), deadline.as_bytes()]);
    }
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
    // `$<len>\r\n<bytes>\r\n`
    let bulk = |len: usize| 1 + digits(len) + 2 + len + 2;
    MAGIC.len()
        + ks.iter()
            .map(|(k, e)| {
                let deadline = e.expire_at_ms.map_or(0, |t| digits(t as usize));
                "*3\r\n".len() + bulk(k.len()) + bulk(e.value.len()) + bulk(deadline)
            })
            .sum::<usize>()
}

/// Parses a payload made by [`encode_into`]; `None` if it is not one.
pub fn decode(payload: &[u8]) -> Option<Keyspace> {
    let body = payload.strip_prefix(MAGIC)?;
    let mut buf = BytesMut::from(body);
    let mut parser = RequestParser::new();
    let mut ks = Keyspace::new();
    while !buf.is_empty() {
        let req = parser.parse(&mut buf, true).ok()??;
        let [k, v, d] = <[Bytes; 3]>::try_from(req.args).ok()?;
        let deadline = if d.is_empty() {
            None
        } else {
            Some(parse_int(&d)? as u64)
        };
        ks.set(k, v, deadline);
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
        assert_eq!(encoded_len(&ks), encode(&ks).len());
        assert_eq!(decode(&encode(&ks)), Some(ks));
        assert_eq!(decode(b"garbage"), None);
        assert_eq!(encoded_len(&Keyspace::new()), encode(&Keyspace::new()).len());
    }
}
