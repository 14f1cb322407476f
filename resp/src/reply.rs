//! Replies, and their encoding as RESP2 or RESP3.
//!
//! Commands build a [`Reply`], a plain tree that knows nothing about the wire. The connection encodes it in the
//! protocol version the client chose with `HELLO` (RESP2 unless it asked for 3), straight into the output
//! buffer. (Through redis-protocol's frames it took a copy of every string, and a RESP3 map or set with an
//! aggregate among its keys panicked inside the encoder, which hashes them; the fuzz suite checks the bytes are
//! still the ones redis-protocol writes wherever it does not panic.)

use bytes::{Bytes, BytesMut};

use crate::request::put_header;

/// The protocol version a connection speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Protocol {
    /// RESP2, every connection's starting point.
    #[default]
    Resp2,
    /// RESP3, after `HELLO 3`.
    Resp3,
}

/// A reply to one command, before encoding.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    /// `+OK`-style status.
    Simple(String),
    /// An error; the text includes its code (`ERR ...`, `READONLY ...`).
    Error(String),
    /// An integer.
    Int(i64),
    /// A bulk string.
    Bulk(Bytes),
    /// The null bulk string (`$-1` in RESP2, `_` in RESP3).
    Nil,
    /// The null array (`*-1` in RESP2, `_` in RESP3).
    NilArray,
    /// An array.
    Array(Vec<Reply>),
    /// A map: a flat array under RESP2.
    Map(Vec<(Reply, Reply)>),
    /// A set: an array under RESP2.
    Set(Vec<Reply>),
    /// A double: a bulk string under RESP2.
    Double(f64),
    /// A verbatim string (`=` in RESP3, bulk in RESP2), with its three-letter format such as `txt`.
    Verbatim(&'static str, Bytes),
    /// An out-of-band push (Pub/Sub messages): an array under RESP2.
    Push(Vec<Reply>),
}

/// Longest [`Reply::summary`], in bytes, before its `...`.
pub const SUMMARY_MAX_BYTES: usize = 120;

/// A string that stops growing past [`SUMMARY_MAX_BYTES`] (and says it stopped), so that summarising a huge
/// reply costs no more than summarising a small one.
struct Capped {
    text: String,
    full: bool,
}

impl Capped {
    fn push_str(&mut self, s: &str) {
        // Once full, nothing more: a later short piece would otherwise fill the room a cut character left.
        if self.full {
            return;
        }
        let room = (SUMMARY_MAX_BYTES + 1).saturating_sub(self.text.len());
        if s.len() > room {
            let mut cut = room;
            while !s.is_char_boundary(cut) {
                cut -= 1;
            }
            self.text.push_str(&s[..cut]);
            self.full = true;
        } else {
            self.text.push_str(s);
            if self.text.len() > SUMMARY_MAX_BYTES {
                self.full = true;
            }
        }
    }
}

impl std::fmt::Write for Capped {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        self.push_str(s);
        Ok(())
    }
}

impl Reply {
    /// `+OK`.
    pub fn ok() -> Reply {
        Reply::Simple("OK".into())
    }

    /// An error with the generic `ERR` code.
    pub fn err(msg: impl AsRef<str>) -> Reply {
        Reply::Error(format!("ERR {}", msg.as_ref()))
    }

    /// A bulk string from anything byte-like.
    pub fn bulk(b: impl Into<Bytes>) -> Reply {
        Reply::Bulk(b.into())
    }

    /// A bulk string from text.
    pub fn text(s: impl AsRef<str>) -> Reply {
        Reply::Bulk(Bytes::copy_from_slice(s.as_ref().as_bytes()))
    }

    /// The text of a bulk, simple or verbatim string (lossy UTF-8), or of an error.
    pub fn as_text(&self) -> Option<String> {
        match self {
            Reply::Bulk(b) | Reply::Verbatim(_, b) => Some(String::from_utf8_lossy(b).into_owned()),
            Reply::Simple(s) | Reply::Error(s) => Some(s.clone()),
            _ => None,
        }
    }

    /// The value of an integer reply.
    pub fn as_int(&self) -> Option<i64> {
        match self {
            Reply::Int(i) => Some(*i),
            _ => None,
        }
    }

    /// The elements of an array, set or push reply.
    pub fn as_array(&self) -> Option<&[Reply]> {
        match self {
            Reply::Array(a) | Reply::Set(a) | Reply::Push(a) => Some(a),
            _ => None,
        }
    }

    /// Whether this reply is an error.
    pub fn is_error(&self) -> bool {
        matches!(self, Reply::Error(_))
    }

    /// A short, single-line human summary (for the execution log and test failures): at most
    /// [`SUMMARY_MAX_BYTES`] bytes, then `...`.
    ///
    /// Its cost is bounded by that length, not by the reply's size: a 100 MB bulk string or an array of a
    /// million elements is looked at only as far as the summary reaches (the execution log summarises every
    /// reply a node sends, so an O(size) summary would stall the node on every large GET).
    pub fn summary(&self) -> String {
        let mut out = Capped {
            text: String::new(),
            full: false,
        };
        self.summarize(&mut out);
        if out.full {
            let mut cut = SUMMARY_MAX_BYTES;
            while !out.text.is_char_boundary(cut) {
                cut -= 1;
            }
            out.text.truncate(cut);
            out.text.push_str("...");
        }
        out.text
    }

    fn summarize(&self, out: &mut Capped) {
        use std::fmt::Write;
        if out.full {
            return;
        }
        match self {
            Reply::Simple(s) => out.push_str(s),
            Reply::Error(e) => {
                out.push_str("-");
                out.push_str(e)
            }
            Reply::Int(i) => {
                let _ = write!(out, "(integer) {i}");
            }
            Reply::Bulk(b) | Reply::Verbatim(_, b) => {
                // Only a prefix can reach the summary: every byte escapes to at least one character after the
                // opening quote. The few bytes past the cut keep a character split by it from showing as U+FFFD.
                let prefix = &b[..b.len().min(SUMMARY_MAX_BYTES + 4)];
                let _ = write!(out, "{:?}", String::from_utf8_lossy(prefix));
                if prefix.len() < b.len() {
                    out.full = true;
                }
            }
            Reply::Nil | Reply::NilArray => out.push_str("(nil)"),
            Reply::Double(d) => {
                let _ = write!(out, "{d}");
            }
            Reply::Array(items) | Reply::Set(items) | Reply::Push(items) => {
                out.push_str("[");
                for (i, item) in items.iter().enumerate() {
                    if out.full {
                        return;
                    }
                    if i > 0 {
                        out.push_str(", ");
                    }
                    item.summarize(out);
                }
                out.push_str("]");
            }
            Reply::Map(pairs) => {
                out.push_str("{");
                for (i, (k, v)) in pairs.iter().enumerate() {
                    if out.full {
                        return;
                    }
                    if i > 0 {
                        out.push_str(", ");
                    }
                    k.summarize(out);
                    out.push_str(": ");
                    v.summarize(out);
                }
                out.push_str("}");
            }
        }
    }

    /// Appends the encoding of this reply to `buf`.
    pub fn encode(&self, proto: Protocol, buf: &mut BytesMut) {
        let resp3 = proto == Protocol::Resp3;
        match self {
            Reply::Simple(s) => put_line(buf, b'+', s.as_bytes()),
            Reply::Error(e) => put_line(buf, b'-', error_line(e).as_bytes()),
            Reply::Int(i) => put_int(buf, b':', *i),
            Reply::Bulk(b) => put_bulk(buf, b'$', b),
            Reply::Verbatim(format, b) if resp3 => {
                // The format is three letters, then a colon, inside the counted bytes.
                let format: &[u8] = if *format == "mkd" { b"mkd" } else { b"txt" };
                put_header(buf, b'=', b.len() + 4);
                buf.extend_from_slice(format);
                buf.extend_from_slice(b":");
                buf.extend_from_slice(b);
                buf.extend_from_slice(b"\r\n");
            }
            Reply::Verbatim(_, b) => put_bulk(buf, b'$', b),
            Reply::Nil | Reply::NilArray if resp3 => buf.extend_from_slice(b"_\r\n"),
            Reply::Nil => buf.extend_from_slice(b"$-1\r\n"),
            Reply::NilArray => buf.extend_from_slice(b"*-1\r\n"),
            Reply::Double(d) if resp3 => put_line(buf, b',', format_double(*d).as_bytes()),
            Reply::Double(d) => put_bulk(buf, b'$', format_double(*d).as_bytes()),
            Reply::Array(items) => put_items(buf, proto, b'*', items),
            Reply::Set(items) => put_items(buf, proto, if resp3 { b'~' } else { b'*' }, items),
            Reply::Push(items) => put_items(buf, proto, if resp3 { b'>' } else { b'*' }, items),
            Reply::Map(pairs) => {
                if resp3 {
                    put_header(buf, b'%', pairs.len());
                } else {
                    put_header(buf, b'*', pairs.len() * 2);
                }
                for (k, v) in pairs {
                    k.encode(proto, buf);
                    v.encode(proto, buf);
                }
            }
        }
    }

    /// This reply encoded on its own.
    pub fn to_bytes(&self, proto: Protocol) -> Bytes {
        let mut buf = BytesMut::new();
        self.encode(proto, &mut buf);
        buf.freeze()
    }
}

fn put_line(buf: &mut BytesMut, kind: u8, text: &[u8]) {
    buf.reserve(text.len() + 3);
    buf.extend_from_slice(&[kind]);
    buf.extend_from_slice(text);
    buf.extend_from_slice(b"\r\n");
}

fn put_bulk(buf: &mut BytesMut, kind: u8, data: &[u8]) {
    buf.reserve(data.len() + 16);
    put_header(buf, kind, data.len());
    buf.extend_from_slice(data);
    buf.extend_from_slice(b"\r\n");
}

fn put_int(buf: &mut BytesMut, kind: u8, i: i64) {
    if i < 0 {
        buf.extend_from_slice(&[kind, b'-']);
        // The magnitude of i64::MIN fits in a u64, and in a usize on 64-bit targets; format through u64 anyway.
        let mut digits = [0u8; 20];
        let mut at = digits.len();
        let mut rest = i.unsigned_abs();
        loop {
            at -= 1;
            digits[at] = b'0' + (rest % 10) as u8;
            rest /= 10;
            if rest == 0 {
                break;
            }
        }
        buf.extend_from_slice(&digits[at..]);
        buf.extend_from_slice(b"\r\n");
    } else {
        put_header(buf, kind, i as usize);
    }
}

fn put_items(buf: &mut BytesMut, proto: Protocol, kind: u8, items: &[Reply]) {
    put_header(buf, kind, items.len());
    for item in items {
        item.encode(proto, buf);
    }
}

/// Redis's error for an unknown command: the name as sent and the first arguments, each quoted.
pub fn unknown_command(args: &[Bytes]) -> Reply {
    let mut s = format!(
        "unknown command '{}', with args beginning with: ",
        truncate_128(&args[0])
    );
    for a in &args[1..] {
        if s.len() >= 128 + 60 {
            break;
        }
        s.push_str(&format!("'{}' ", truncate_128(a)));
    }
    Reply::err(s)
}

fn truncate_128(b: &[u8]) -> String {
    let s = String::from_utf8_lossy(&b[..b.len().min(128)]).into_owned();
    s.replace(['\r', '\n'], " ")
}

/// Formats a double as Redis 7.0's `addReplyDouble` prints one: C's `%.17g`, with `inf` and `-inf` spelled out.
///
/// Seventeen significant digits are what it takes for every double to read back as itself, which is why Redis
/// uses them; the price is that a score sent as `1.1` comes back as `1.1000000000000001`, and clients (and
/// differential tests) see exactly that text. Rust's `{}` prints the shortest round-tripping form instead
/// (`1.1`), so the digits come from `{:.16e}` (correctly rounded, like glibc's printf) and are laid out by
/// `%g`'s rules here.
pub fn format_double(d: f64) -> String {
    if d.is_nan() {
        return "nan".into();
    }
    if d.is_infinite() {
        return if d > 0.0 { "inf".into() } else { "-inf".into() };
    }
    if d == 0.0 {
        return if d.is_sign_negative() { "-0".into() } else { "0".into() };
    }
    // The common score, an integer (a timestamp, a count): below 1e17 it has at most 17 digits, which `%g`
    // prints in full, so the integer's own text is the answer without the digit-by-digit layout below.
    if d.fract() == 0.0 && d.abs() < 1e17 {
        return (d as i64).to_string();
    }
    const PRECISION: i32 = 17;
    // `-d.dddddddddddddddde-X`: the sign, 17 digits and the exponent of the first one, after rounding (a
    // rounding that carries, 9.99..95 to 10.0, moves the exponent, and `%g` decides its layout on the rounded
    // exponent).
    let sci = format!("{:.*e}", (PRECISION - 1) as usize, d.abs());
    let Some((mantissa, exp)) = sci.split_once('e') else {
        return sci;
    };
    let exp: i32 = exp.parse().unwrap_or(0);
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let mut out = String::with_capacity(24);
    if d < 0.0 {
        out.push('-');
    }
    if (-4..PRECISION).contains(&exp) {
        // Fixed notation with PRECISION significant digits, trailing zeros (and a bare point) dropped.
        let (int_part, frac) = if exp >= 0 {
            let split = (exp + 1) as usize;
            (digits[..split].to_string(), digits[split..].to_string())
        } else {
            ("0".to_string(), "0".repeat((-exp - 1) as usize) + &digits)
        };
        out.push_str(&int_part);
        let frac = frac.trim_end_matches('0');
        if !frac.is_empty() {
            out.push('.');
            out.push_str(frac);
        }
    } else {
        // Exponent notation: one digit, the rest after a point if any survive trimming, and an exponent of at
        // least two digits with its sign, as C prints it.
        out.push_str(&digits[..1]);
        let frac = digits[1..].trim_end_matches('0');
        if !frac.is_empty() {
            out.push('.');
            out.push_str(frac);
        }
        out.push('e');
        out.push(if exp < 0 { '-' } else { '+' });
        out.push_str(&format!("{:02}", exp.unsigned_abs()));
    }
    out
}

/// An error message as one protocol line. Errors often echo a client's argument (`Unsupported option x`), and
/// an argument may hold CR or LF: sent as they are, they would end the error line early and the rest would read
/// as a second reply, desynchronising the client. Redis trims CR and LF from both ends of the message and turns
/// the ones inside it into spaces; so does this.
fn error_line(e: &str) -> std::borrow::Cow<'_, str> {
    if !e.contains(['\r', '\n']) {
        return std::borrow::Cow::Borrowed(e);
    }
    std::borrow::Cow::Owned(e.trim_matches(['\r', '\n']).replace(['\r', '\n'], " "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enc(r: Reply, p: Protocol) -> Vec<u8> {
        r.to_bytes(p).to_vec()
    }

    #[test]
    fn an_error_echoing_cr_or_lf_stays_one_line_as_redis_sends_it() {
        // What redis-server 7.0.15 answers to `EXPIRE k 10 "x\r\n+INJECTED"` and to `EXPIRE k 10 "\r\nx\n"`.
        for p in [Protocol::Resp2, Protocol::Resp3] {
            assert_eq!(
                enc(Reply::Error("ERR Unsupported option x\r\n+INJECTED".into()), p),
                b"-ERR Unsupported option x  +INJECTED\r\n"
            );
            assert_eq!(
                enc(Reply::Error("ERR Unsupported option \r\nx\n".into()), p),
                b"-ERR Unsupported option   x\r\n"
            );
        }
        assert_eq!(enc(Reply::err("plain"), Protocol::Resp2), b"-ERR plain\r\n");
    }

    #[test]
    fn resp2_encodings_match_redis() {
        assert_eq!(enc(Reply::ok(), Protocol::Resp2), b"+OK\r\n");
        assert_eq!(enc(Reply::err("x"), Protocol::Resp2), b"-ERR x\r\n");
        assert_eq!(enc(Reply::Nil, Protocol::Resp2), b"$-1\r\n");
        assert_eq!(enc(Reply::NilArray, Protocol::Resp2), b"*-1\r\n");
        assert_eq!(enc(Reply::Int(-3), Protocol::Resp2), b":-3\r\n");
        let map = Reply::Map(vec![(Reply::text("a"), Reply::Int(1))]);
        assert_eq!(enc(map, Protocol::Resp2), b"*2\r\n$1\r\na\r\n:1\r\n");
    }

    #[test]
    fn resp3_encodings_match_redis() {
        assert_eq!(enc(Reply::Nil, Protocol::Resp3), b"_\r\n");
        assert_eq!(enc(Reply::NilArray, Protocol::Resp3), b"_\r\n");
        let map = Reply::Map(vec![(Reply::text("a"), Reply::Int(1))]);
        assert_eq!(enc(map, Protocol::Resp3), b"%1\r\n$1\r\na\r\n:1\r\n");
        let push = Reply::Push(vec![Reply::text("message")]);
        assert_eq!(enc(push, Protocol::Resp3), b">1\r\n$7\r\nmessage\r\n");
    }

    #[test]
    fn summary_is_short_and_single_line() {
        let long = Reply::Bulk(Bytes::from(vec![b'x'; 1000]));
        let s = long.summary();
        assert!(s.len() <= 123 && !s.contains('\n'));
    }

    #[test]
    fn doubles_print_as_c_printf_percent_17g() {
        // Each expected text is python3's `'%.17g' % x` (C's printf), and where a score can carry the value,
        // what redis-server 7.0.15 answers to ZSCORE.
        let cases: &[(f64, &str)] = &[
            (1.1, "1.1000000000000001"),
            (3.0, "3"),
            (2.5, "2.5"),
            (-2.5, "-2.5"),
            (0.1, "0.10000000000000001"),
            (1e300, "1.0000000000000001e+300"),
            (1.2345678901234568e17, "1.2345678901234568e+17"),
            (1e16, "10000000000000000"),
            (1e17, "1e+17"),
            (0.0001, "0.0001"),
            (0.00001, "1.0000000000000001e-05"),
            (1.5e-7, "1.4999999999999999e-07"),
            (1e-310, "9.9999999999999694e-311"),
            (123456789.0, "123456789"),
            (-0.0, "-0"),
            (0.0, "0"),
            (f64::MAX, "1.7976931348623157e+308"),
            (f64::MIN_POSITIVE, "2.2250738585072014e-308"),
            (5e-324, "4.9406564584124654e-324"),
            (99999999999999999.0, "1e+17"),
            (f64::INFINITY, "inf"),
            (f64::NEG_INFINITY, "-inf"),
        ];
        for (d, text) in cases {
            assert_eq!(format_double(*d), *text, "{d:e}");
        }
        assert_eq!(
            enc(Reply::Double(1.1), Protocol::Resp2),
            b"$18\r\n1.1000000000000001\r\n"
        );
        assert_eq!(enc(Reply::Double(3.0), Protocol::Resp3), b",3\r\n");
        assert_eq!(enc(Reply::Double(f64::NEG_INFINITY), Protocol::Resp3), b",-inf\r\n");
    }
}
