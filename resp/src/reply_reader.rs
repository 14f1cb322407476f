//! Reading replies from a peer that may send anything: within a nesting depth and a size, in time linear in the
//! bytes received, and never by recursing on the peer's say-so.
//!
//! A RESP reply is a tree, and a general decoder walks it recursively; redis-protocol does, with no depth limit,
//! so a peer sending 21,000 nested `*1` headers (84 KB) overflows the reader's stack and aborts the process. A
//! reply can also announce or stream gigabytes that a reader would buffer and turn into a tree dozens of times
//! bigger than its wire form. Redis's own readers refuse such input; so does this one, in two steps:
//!
//! 1. A [`ReplyReader`] *scans* the buffer with an explicit stack: it only counts the elements each open
//!    aggregate still expects, checks every header, and refuses a reply nested deeper than
//!    [`ReplyLimits::max_depth`] or larger than [`ReplyLimits::max_bytes`] as soon as the header that breaks the
//!    limit arrives (not after the bytes it announces). A scan that runs out of bytes remembers where it
//!    stopped, so a big reply arriving in many reads costs one pass, not one pass per read.
//! 2. Only a complete reply that passed the scan is decoded into a [`Reply`]: by recursion, which the scan has
//!    bounded, and without copying bulk payloads.
//!
//! Encoding stays with redis-protocol ([`Reply::encode`]), which does it well; decoding is here because it must
//! be bounded.

use std::fmt;
use std::io;

use bytes::{Buf, Bytes, BytesMut};

use crate::reply::{Protocol, Reply};
use crate::request::parse_int;

/// The deepest nesting a reader accepts by default. Redis's deepest replies (`COMMAND DOCS`, `XINFO STREAM FULL`)
/// nest fewer than ten levels; 128 leaves room for any script's reply and keeps the decoder's recursion small.
pub const REPLY_MAX_DEPTH: usize = 128;

/// The largest reply a reader buffers by default: 64 MiB.
pub const REPLY_MAX_BYTES: usize = 64 * 1024 * 1024;

/// How much of a peer's reply a reader accepts.
///
/// Both limits are checked while the reply is still arriving, so a reply that breaks one is refused after at
/// most `max_bytes` buffered bytes. Every element takes at least three bytes on the wire (`_\r\n`), so a decoded
/// reply holds at most `max_bytes / 3` elements.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReplyLimits {
    /// Aggregates (arrays, maps, sets, pushes) may nest this deep; the top level counts as one.
    pub max_depth: usize,
    /// The whole encoded reply, headers included, may take this many bytes.
    pub max_bytes: usize,
}

impl Default for ReplyLimits {
    fn default() -> Self {
        ReplyLimits {
            max_depth: REPLY_MAX_DEPTH,
            max_bytes: REPLY_MAX_BYTES,
        }
    }
}

impl ReplyLimits {
    /// The default depth with another size limit.
    pub fn with_max_bytes(max_bytes: usize) -> Self {
        ReplyLimits {
            max_bytes,
            ..ReplyLimits::default()
        }
    }
}

/// Why a reply was refused. After any of these the connection is out of step with its peer and must be closed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ReplyError {
    /// The reply nests aggregates deeper than the limit.
    TooDeep {
        /// The depth limit that was exceeded.
        limit: usize,
    },
    /// The reply is, or announces that it will be, larger than the limit.
    TooLarge {
        /// The size limit that was exceeded, in bytes.
        limit: usize,
    },
    /// The bytes are not a RESP reply.
    Invalid(String),
}

impl fmt::Display for ReplyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReplyError::TooDeep { limit } => write!(f, "reply nested deeper than {limit} levels"),
            ReplyError::TooLarge { limit } => write!(f, "reply larger than {limit} bytes"),
            ReplyError::Invalid(why) => write!(f, "protocol error: {why}"),
        }
    }
}

impl std::error::Error for ReplyError {}

impl From<ReplyError> for io::Error {
    fn from(e: ReplyError) -> io::Error {
        io::Error::new(io::ErrorKind::InvalidData, e)
    }
}

fn invalid(why: impl Into<String>) -> ReplyError {
    ReplyError::Invalid(why.into())
}

/// Takes complete replies off the front of a connection's read buffer, within [`ReplyLimits`].
///
/// One reader belongs to one buffer: between calls the caller only appends bytes at the end of the buffer, and
/// only the reader removes them from the front. That lets a scan that ran out of bytes resume where it stopped.
///
/// ```
/// use bytes::BytesMut;
/// use redsim_resp::{Protocol, Reply, ReplyLimits, ReplyReader};
///
/// let mut reader = ReplyReader::new(Protocol::Resp2, ReplyLimits::default());
/// let mut buf = BytesMut::from(&b"*2\r\n$2\r\nhi\r\n"[..]);
/// assert_eq!(reader.take(&mut buf).unwrap(), None); // one element still to come
/// buf.extend_from_slice(b":7\r\n+OK\r\n");
/// assert_eq!(reader.take(&mut buf).unwrap(), Some(Reply::Array(vec![Reply::bulk("hi"), Reply::Int(7)])));
/// assert_eq!(reader.take(&mut buf).unwrap(), Some(Reply::ok()));
///
/// let mut deep = BytesMut::from("*1\r\n".repeat(1000).as_str());
/// assert!(reader.take(&mut deep).unwrap_err().to_string().contains("nested deeper than 128 levels"));
/// ```
#[derive(Debug, Clone)]
pub struct ReplyReader {
    protocol: Protocol,
    limits: ReplyLimits,
    scan: Scan,
}

impl ReplyReader {
    /// A reader for replies in `protocol`, refusing those beyond `limits`.
    pub fn new(protocol: Protocol, limits: ReplyLimits) -> ReplyReader {
        ReplyReader {
            protocol,
            limits,
            scan: Scan::default(),
        }
    }

    /// The protocol replies are read in.
    pub fn protocol(&self) -> Protocol {
        self.protocol
    }

    /// Reads later replies in `protocol` (after a successful `HELLO 3`). Call it between replies.
    pub fn set_protocol(&mut self, protocol: Protocol) {
        self.protocol = protocol;
        self.scan = Scan::default();
    }

    /// The limits replies are held to.
    pub fn limits(&self) -> ReplyLimits {
        self.limits
    }

    /// Changes the limits of later replies. Call it between replies.
    pub fn set_limits(&mut self, limits: ReplyLimits) {
        self.limits = limits;
        self.scan = Scan::default();
    }

    /// The length of the first complete reply in `buf`, or `None` while it is incomplete.
    pub fn complete_len(&mut self, buf: &[u8]) -> Result<Option<usize>, ReplyError> {
        self.scan.run(self.protocol, self.limits, buf)
    }

    /// Removes the exact bytes of the first complete reply from `buf`, or `None` (removing nothing) while it is
    /// incomplete.
    pub fn take_raw(&mut self, buf: &mut BytesMut) -> Result<Option<Bytes>, ReplyError> {
        Ok(self.complete_len(buf)?.map(|n| buf.split_to(n).freeze()))
    }

    /// Removes the first complete reply from `buf` and decodes it without copying its payloads, or `None`
    /// (removing nothing) while it is incomplete.
    pub fn take(&mut self, buf: &mut BytesMut) -> Result<Option<Reply>, ReplyError> {
        match self.take_raw(buf)? {
            Some(raw) => decode_checked(raw).map(Some),
            None => Ok(None),
        }
    }
}

/// Decodes one complete reply, held to the default [`ReplyLimits`]: an error if `raw` is incomplete, is not
/// RESP, breaks a limit, or holds bytes after the reply.
pub fn decode_one(protocol: Protocol, raw: Bytes) -> Result<Reply, ReplyError> {
    let mut scan = Scan::default();
    match scan.run(protocol, ReplyLimits::default(), &raw)? {
        Some(n) if n == raw.len() => decode_checked(raw),
        Some(n) => Err(invalid(format!("{} bytes after the reply", raw.len() - n))),
        None => Err(invalid("incomplete reply")),
    }
}

/// Where a scan of an incomplete reply stopped.
#[derive(Debug, Clone, Default)]
struct Scan {
    /// The start of the next element, from the start of the reply.
    pos: usize,
    /// How far past `pos` the search for the end of the element's header line has already looked.
    searched: usize,
    /// For each open aggregate, outermost first, how many elements it still expects.
    open: Vec<u64>,
}

/// One header line, split into its type byte and the text after it.
struct Header<'a> {
    kind: u8,
    text: &'a [u8],
    /// Where the bytes after the line start.
    next: usize,
}

impl Scan {
    /// Scans on from where the last call stopped; resets itself once a reply is complete or refused.
    fn run(&mut self, protocol: Protocol, limits: ReplyLimits, buf: &[u8]) -> Result<Option<usize>, ReplyError> {
        let result = self.walk(protocol, limits, buf);
        if !matches!(result, Ok(None)) {
            *self = Scan::default();
        }
        result
    }

    fn walk(&mut self, protocol: Protocol, limits: ReplyLimits, buf: &[u8]) -> Result<Option<usize>, ReplyError> {
        let resp3 = protocol == Protocol::Resp3;
        loop {
            let Some(h) = self.header(buf, limits)? else {
                return Ok(None);
            };
            // Elements this header opens (an aggregate), or `None` for a complete leaf.
            let mut children: Option<u64> = None;
            let mut end = h.next;
            match h.kind {
                b'+' | b'-' => {}
                b':' => {
                    parse_int(h.text).ok_or_else(|| invalid(format!("bad integer {}", show(h.text))))?;
                }
                b'$' | b'!' | b'=' if h.text == b"?" => return Err(invalid("streamed strings are not supported")),
                b'$' | b'!' | b'=' if h.kind == b'$' || resp3 => match length(h.text)? {
                    None => {}
                    Some(len) => {
                        let len = usize::try_from(len).map_err(|_| ReplyError::TooLarge {
                            limit: limits.max_bytes,
                        })?;
                        end = h
                            .next
                            .checked_add(len)
                            .and_then(|e| e.checked_add(2))
                            .filter(|&e| e <= limits.max_bytes)
                            .ok_or(ReplyError::TooLarge {
                                limit: limits.max_bytes,
                            })?;
                        if buf.len() < end {
                            return Ok(None);
                        }
                        if &buf[end - 2..end] != b"\r\n" {
                            return Err(invalid("bulk string not followed by CRLF"));
                        }
                        if h.kind == b'=' && (len < 4 || buf[h.next + 3] != b':') {
                            return Err(invalid("verbatim string without a format"));
                        }
                    }
                },
                b'*' | b'%' | b'~' | b'>' | b'|' if h.text == b"?" => {
                    return Err(invalid("streamed aggregates are not supported"));
                }
                b'*' | b'%' | b'~' | b'>' | b'|' if h.kind == b'*' || resp3 => {
                    if let Some(n) = length(h.text)? {
                        // Each element needs three bytes at least: refuse a count no reply within the limit has.
                        if n > (limits.max_bytes / 3) as u64 {
                            return Err(ReplyError::TooLarge {
                                limit: limits.max_bytes,
                            });
                        }
                        // A map's and an attribute's elements come in pairs; an attribute is followed by the
                        // element it describes, counted here as one more of its own.
                        children = Some(match h.kind {
                            b'%' => n * 2,
                            b'|' => n * 2 + 1,
                            _ => n,
                        })
                        .filter(|&c| c > 0);
                    }
                }
                b'_' if resp3 => {
                    if !h.text.is_empty() {
                        return Err(invalid("null with a payload"));
                    }
                }
                b'#' if resp3 => {
                    if h.text != b"t" && h.text != b"f" {
                        return Err(invalid(format!("bad boolean {}", show(h.text))));
                    }
                }
                b',' if resp3 => {
                    parse_double(h.text).ok_or_else(|| invalid(format!("bad double {}", show(h.text))))?;
                }
                b'(' if resp3 => {
                    let digits = h.text.strip_prefix(b"-").unwrap_or(h.text);
                    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
                        return Err(invalid(format!("bad big number {}", show(h.text))));
                    }
                }
                other => return Err(invalid(format!("unexpected type byte {}", show(&[other])))),
            }
            self.pos = end;
            self.searched = 0;
            if let Some(n) = children {
                if self.open.len() >= limits.max_depth {
                    return Err(ReplyError::TooDeep {
                        limit: limits.max_depth,
                    });
                }
                self.open.push(n);
                continue;
            }
            // A leaf completes its aggregate, which may complete the one around it, and so on.
            loop {
                match self.open.last_mut() {
                    None => return Ok(Some(self.pos)),
                    Some(left) if *left > 1 => {
                        *left -= 1;
                        break;
                    }
                    Some(_) => {
                        self.open.pop();
                    }
                }
            }
        }
    }

    /// The header line starting at `pos`, or `None` while its end has not arrived.
    fn header<'a>(&mut self, buf: &'a [u8], limits: ReplyLimits) -> Result<Option<Header<'a>>, ReplyError> {
        let start = self.pos;
        let from = start + 1 + self.searched;
        let found = buf.get(from..).and_then(|rest| rest.iter().position(|&b| b == b'\r'));
        let Some(cr) = found.map(|i| from + i) else {
            if buf.len() > limits.max_bytes {
                return Err(ReplyError::TooLarge {
                    limit: limits.max_bytes,
                });
            }
            self.searched = buf.len().saturating_sub(start + 1);
            return Ok(None);
        };
        match buf.get(cr + 1) {
            None => {
                // The CR may be the end of the line: look at it again when the next byte arrives.
                self.searched = cr - start - 1;
                Ok(None)
            }
            Some(b'\n') if cr + 2 <= limits.max_bytes => Ok(Some(Header {
                kind: buf[start],
                text: &buf[start + 1..cr],
                next: cr + 2,
            })),
            Some(b'\n') => Err(ReplyError::TooLarge {
                limit: limits.max_bytes,
            }),
            Some(_) => Err(invalid("CR not followed by LF")),
        }
    }
}

/// A length header's value: `None` for `-1` (null), an error for anything else that is not a count.
fn length(text: &[u8]) -> Result<Option<u64>, ReplyError> {
    match parse_int(text) {
        Some(-1) => Ok(None),
        Some(n) if n >= 0 => Ok(Some(n as u64)),
        _ => Err(invalid(format!("bad length {}", show(text)))),
    }
}

fn parse_double(text: &[u8]) -> Option<f64> {
    std::str::from_utf8(text).ok()?.parse().ok()
}

/// A short, printable rendering of bytes from the peer for an error message.
fn show(bytes: &[u8]) -> String {
    const SHOWN: usize = 32;
    let mut s = format!("{:?}", String::from_utf8_lossy(&bytes[..bytes.len().min(SHOWN)]));
    if bytes.len() > SHOWN {
        s.push_str("...");
    }
    s
}

/// Decodes a reply the scan accepted. It still checks every step, so a disagreement with the scan is an error,
/// never a panic.
fn decode_checked(mut raw: Bytes) -> Result<Reply, ReplyError> {
    let reply = decode_element(&mut raw)?;
    if raw.has_remaining() {
        return Err(invalid("bytes after the reply"));
    }
    Ok(reply)
}

/// Takes one header line off the front of `raw`: its type byte and text.
fn take_line(raw: &mut Bytes) -> Result<(u8, Bytes), ReplyError> {
    let cr = raw
        .iter()
        .position(|&b| b == b'\r')
        .filter(|&cr| raw.get(cr + 1) == Some(&b'\n') && cr > 0)
        .ok_or_else(|| invalid("incomplete reply"))?;
    let mut line = raw.split_to(cr + 2);
    line.truncate(cr);
    let kind = line[0];
    line.advance(1);
    Ok((kind, line))
}

fn decode_element(raw: &mut Bytes) -> Result<Reply, ReplyError> {
    let (kind, text) = take_line(raw)?;
    let lossy = |t: &[u8]| String::from_utf8_lossy(t).into_owned();
    let count = |t: &[u8]| -> Result<Option<usize>, ReplyError> {
        length(t)?
            .map(|n| usize::try_from(n).map_err(|_| invalid("count too large")))
            .transpose()
    };
    Ok(match kind {
        b'+' => Reply::Simple(lossy(&text)),
        b'-' => Reply::Error(lossy(&text)),
        b':' => Reply::Int(parse_int(&text).ok_or_else(|| invalid("bad integer"))?),
        b'$' | b'!' | b'=' => match count(&text)? {
            None => Reply::Nil,
            Some(len) => {
                if len.checked_add(2).is_none_or(|n| raw.len() < n) {
                    return Err(invalid("incomplete reply"));
                }
                let mut data = raw.split_to(len + 2);
                data.truncate(len);
                match kind {
                    b'$' => Reply::Bulk(data),
                    b'!' => Reply::Error(lossy(&data)),
                    _ => {
                        if data.len() < 4 {
                            return Err(invalid("verbatim string without a format"));
                        }
                        data.advance(4);
                        Reply::Verbatim("txt", data)
                    }
                }
            }
        },
        b'*' | b'~' | b'>' => match count(&text)? {
            None => Reply::Nil,
            Some(n) => {
                let mut items = Vec::with_capacity(n.min(raw.len() / 3));
                for _ in 0..n {
                    items.push(decode_element(raw)?);
                }
                match kind {
                    b'*' => Reply::Array(items),
                    b'~' => Reply::Set(items),
                    _ => Reply::Push(items),
                }
            }
        },
        b'%' => {
            let Some(n) = count(&text)? else {
                return Ok(Reply::Nil);
            };
            let mut pairs = Vec::with_capacity(n.min(raw.len() / 6));
            for _ in 0..n {
                let k = decode_element(raw)?;
                let v = decode_element(raw)?;
                pairs.push((k, v));
            }
            Reply::Map(pairs)
        }
        b'|' => {
            // Attributes describe the element after them; nothing in redsim reads them.
            for _ in 0..count(&text)?.unwrap_or(0) * 2 {
                decode_element(raw)?;
            }
            decode_element(raw)?
        }
        b'_' => Reply::Nil,
        b'#' => Reply::Int((&text[..] == b"t") as i64),
        b',' => Reply::Double(parse_double(&text).ok_or_else(|| invalid("bad double"))?),
        b'(' => Reply::Bulk(text),
        _ => return Err(invalid("unexpected type byte")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn take_all(protocol: Protocol, limits: ReplyLimits, wire: &[u8]) -> Result<Vec<Reply>, ReplyError> {
        let mut reader = ReplyReader::new(protocol, limits);
        let mut buf = BytesMut::from(wire);
        let mut out = Vec::new();
        while let Some(r) = reader.take(&mut buf)? {
            out.push(r);
        }
        if !buf.is_empty() {
            return Err(invalid("incomplete"));
        }
        Ok(out)
    }

    #[test]
    fn nesting_at_the_limit_is_read_and_one_more_is_refused() {
        let limits = ReplyLimits {
            max_depth: 4,
            max_bytes: 1024,
        };
        let ok = format!("{}:1\r\n", "*1\r\n".repeat(4));
        let mut want = Reply::Int(1);
        for _ in 0..4 {
            want = Reply::Array(vec![want]);
        }
        assert_eq!(take_all(Protocol::Resp2, limits, ok.as_bytes()), Ok(vec![want]));
        let deep = format!("{}:1\r\n", "*1\r\n".repeat(5));
        assert_eq!(
            take_all(Protocol::Resp2, limits, deep.as_bytes()),
            Err(ReplyError::TooDeep { limit: 4 })
        );
        // Refused as soon as the fifth header arrives, before the rest of the reply.
        let mut reader = ReplyReader::new(Protocol::Resp2, limits);
        let mut buf = BytesMut::from("*1\r\n".repeat(5).as_str());
        assert_eq!(reader.take(&mut buf), Err(ReplyError::TooDeep { limit: 4 }));
    }

    #[test]
    fn a_huge_announced_size_is_refused_before_its_bytes_arrive() {
        let limits = ReplyLimits::with_max_bytes(1000);
        for wire in ["$100000\r\n", "*100000\r\n", "*2\r\n$998\r\n"] {
            let mut reader = ReplyReader::new(Protocol::Resp2, limits);
            let mut buf = BytesMut::from(wire);
            assert_eq!(
                reader.take(&mut buf),
                Err(ReplyError::TooLarge { limit: 1000 }),
                "{wire:?}"
            );
        }
        // A header line that never ends is refused once it passes the limit.
        let mut reader = ReplyReader::new(Protocol::Resp2, limits);
        let mut buf = BytesMut::from(&b"+"[..]);
        buf.extend_from_slice(&[b'x'; 1000]);
        assert_eq!(reader.take(&mut buf), Err(ReplyError::TooLarge { limit: 1000 }));
    }

    #[test]
    fn a_scan_resumes_where_it_stopped_across_byte_by_byte_reads() {
        let wire = b"*3\r\n$5\r\nhello\r\n*2\r\n:1\r\n+ok\r\n-ERR no\r\n:9\r\n";
        let mut reader = ReplyReader::new(Protocol::Resp2, ReplyLimits::default());
        let mut buf = BytesMut::new();
        let mut got = Vec::new();
        for &b in wire.iter() {
            buf.extend_from_slice(&[b]);
            while let Some(r) = reader.take(&mut buf).unwrap() {
                got.push(r);
            }
        }
        assert_eq!(
            got,
            vec![
                Reply::Array(vec![
                    Reply::bulk("hello"),
                    Reply::Array(vec![Reply::Int(1), Reply::Simple("ok".into())]),
                    Reply::Error("ERR no".into()),
                ]),
                Reply::Int(9),
            ]
        );
    }

    #[test]
    fn resp3_types_decode_as_the_client_expects() {
        let wire = b"%2\r\n+a\r\n#t\r\n$1\r\nb\r\n,1.5\r\n~1\r\n_\r\n>2\r\n(123\r\n=8\r\ntxt:abcd\r\n!5\r\nERR x\r\n|1\r\n+k\r\n+v\r\n:5\r\n";
        let got = take_all(Protocol::Resp3, ReplyLimits::default(), wire).unwrap();
        assert_eq!(
            got,
            vec![
                Reply::Map(vec![
                    (Reply::Simple("a".into()), Reply::Int(1)),
                    (Reply::bulk("b"), Reply::Double(1.5)),
                ]),
                Reply::Set(vec![Reply::Nil]),
                Reply::Push(vec![
                    Reply::bulk("123"),
                    Reply::Verbatim("txt", Bytes::from_static(b"abcd"))
                ]),
                Reply::Error("ERR x".into()),
                Reply::Int(5),
            ]
        );
        // RESP3-only types are garbage on a RESP2 connection.
        assert!(matches!(
            take_all(Protocol::Resp2, ReplyLimits::default(), b"_\r\n"),
            Err(ReplyError::Invalid(_))
        ));
    }

    #[test]
    fn malformed_headers_are_protocol_errors() {
        for wire in [
            &b"$3\r\nabcde\r\n"[..],
            b":12a\r\n",
            b"*-2\r\n",
            b"$-5\r\n",
            b"?\r\n",
            b"+ok\rx",
            b"*?\r\n",
            b"$01\r\nx\r\n",
        ] {
            let r = take_all(Protocol::Resp2, ReplyLimits::default(), wire);
            assert!(matches!(r, Err(ReplyError::Invalid(_))), "{wire:?}: {r:?}");
        }
    }

    #[test]
    fn decode_one_wants_exactly_one_reply() {
        assert_eq!(
            decode_one(Protocol::Resp2, Bytes::from_static(b":1\r\n")),
            Ok(Reply::Int(1))
        );
        assert!(decode_one(Protocol::Resp2, Bytes::from_static(b":1\r\n:2\r\n")).is_err());
        assert!(decode_one(Protocol::Resp2, Bytes::from_static(b"*2\r\n:1\r\n")).is_err());
    }
}
