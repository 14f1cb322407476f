//! Parsing client requests off the wire, as Redis's `processInputBuffer` does.
//!
//! redis-protocol decodes replies well, but a server must do more with requests than decode RESP: accept inline
//! (telnet-style) commands, apply Redis's own limits *before* allocating (a `*2147483647` header or a 4 GiB bulk
//! length must not reserve memory), and fail with Redis's exact `Protocol error: ...` texts. So requests get
//! this small incremental parser. Replies are encoded by redis-protocol (see [`crate::reply`]) and read back by
//! [`crate::ReplyReader`].

use bytes::{Buf, Bytes, BytesMut};

/// Longest inline command or header line without a newline before Redis gives up (`PROTO_INLINE_MAX_SIZE`).
pub const INLINE_MAX_BYTES: usize = 64 * 1024;
/// Largest bulk argument (`proto-max-bulk-len`, 512 MB).
pub const BULK_MAX_BYTES: i64 = 512 * 1024 * 1024;
/// Largest argument count Redis accepts in a multibulk header (`INT_MAX`).
pub const MULTIBULK_MAX: i64 = i32::MAX as i64;
/// Before authentication Redis accepts far smaller requests.
pub const UNAUTH_MULTIBULK_MAX: i64 = 10;
/// Before authentication, the largest bulk argument.
pub const UNAUTH_BULK_MAX: i64 = 16384;
/// How many argument slots we reserve up front, whatever the header claims.
const PREALLOC_ARGS_MAX: usize = 1024;

/// A protocol error: the text after `-ERR ` in Redis's reply. The connection closes after sending it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProtocolError(pub String);

/// One parsed request: its arguments, and how many bytes of input it took (replicas need the exact byte count
/// to advance their replication offset).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// The command and its arguments. Empty for an empty inline line or `*0`, which Redis skips silently.
    pub args: Vec<Bytes>,
    /// Bytes of input consumed.
    pub wire_len: usize,
}

/// An incremental request parser. Feed it a buffer that grows as bytes arrive; it keeps its place inside a
/// multibulk request so a large request is not re-scanned from the start on every read.
#[derive(Debug, Default)]
pub struct RequestParser {
    multibulk: Option<Multibulk>,
}

#[derive(Debug)]
struct Multibulk {
    remaining: usize,
    args: Vec<Bytes>,
    bulk_len: Option<usize>,
    wire_len: usize,
}

impl RequestParser {
    /// A parser at the start of a request.
    pub fn new() -> Self {
        Self::default()
    }

    /// Parses the next request from `buf`, consuming its bytes. `Ok(None)`: need more input.
    /// `authenticated` applies Redis's tighter limits to clients that have not passed AUTH yet.
    pub fn parse(&mut self, buf: &mut BytesMut, authenticated: bool) -> Result<Option<Request>, ProtocolError> {
        if self.multibulk.is_none() {
            if buf.is_empty() {
                return Ok(None);
            }
            if buf[0] != b'*' {
                return parse_inline(buf);
            }
            let Some(line_end) = find_crlf(buf) else {
                if buf.len() > INLINE_MAX_BYTES {
                    return Err(ProtocolError("Protocol error: too big mbulk count string".into()));
                }
                return Ok(None);
            };
            let count = parse_int(&buf[1..line_end]);
            let count = match count {
                Some(n) if n <= MULTIBULK_MAX => n,
                _ => return Err(ProtocolError("Protocol error: invalid multibulk length".into())),
            };
            if !authenticated && count > UNAUTH_MULTIBULK_MAX {
                return Err(ProtocolError("Protocol error: unauthenticated multibulk length".into()));
            }
            buf.advance(line_end + 2);
            if count <= 0 {
                return Ok(Some(Request {
                    args: Vec::new(),
                    wire_len: line_end + 2,
                }));
            }
            let count = count as usize;
            self.multibulk = Some(Multibulk {
                remaining: count,
                args: Vec::with_capacity(count.min(PREALLOC_ARGS_MAX)),
                bulk_len: None,
                wire_len: line_end + 2,
            });
        }
        let mb = self.multibulk.as_mut().expect("set above");
        while mb.remaining > 0 {
            let len = match mb.bulk_len {
                Some(len) => len,
                None => {
                    if buf.is_empty() {
                        return Ok(None);
                    }
                    let Some(line_end) = find_crlf(buf) else {
                        if buf.len() > INLINE_MAX_BYTES {
                            return Err(ProtocolError("Protocol error: too big bulk count string".into()));
                        }
                        return Ok(None);
                    };
                    if buf[0] != b'$' {
                        return Err(ProtocolError(format!(
                            "Protocol error: expected '$', got '{}'",
                            buf[0] as char
                        )));
                    }
                    let len = match parse_int(&buf[1..line_end]) {
                        Some(n) if (0..=BULK_MAX_BYTES).contains(&n) => n,
                        _ => return Err(ProtocolError("Protocol error: invalid bulk length".into())),
                    };
                    if !authenticated && len > UNAUTH_BULK_MAX {
                        return Err(ProtocolError("Protocol error: unauthenticated bulk length".into()));
                    }
                    buf.advance(line_end + 2);
                    mb.wire_len += line_end + 2;
                    mb.bulk_len = Some(len as usize);
                    len as usize
                }
            };
            if buf.len() < len + 2 {
                // Nothing is reserved for the announced length: memory grows only with bytes that arrive.
                return Ok(None);
            }
            let arg = buf.split_to(len).freeze();
            // Redis does not check the CRLF after a bulk's data; it just skips two bytes.
            buf.advance(2);
            mb.wire_len += len + 2;
            mb.args.push(arg);
            mb.bulk_len = None;
            mb.remaining -= 1;
        }
        let mb = self.multibulk.take().expect("set above");
        Ok(Some(Request {
            args: mb.args,
            wire_len: mb.wire_len,
        }))
    }
}

fn parse_inline(buf: &mut BytesMut) -> Result<Option<Request>, ProtocolError> {
    let Some(nl) = buf.iter().position(|&b| b == b'\n') else {
        if buf.len() > INLINE_MAX_BYTES {
            return Err(ProtocolError("Protocol error: too big inline request".into()));
        }
        return Ok(None);
    };
    let line = buf.split_to(nl + 1);
    let mut text = &line[..nl];
    if text.last() == Some(&b'\r') {
        text = &text[..text.len() - 1];
    }
    match split_args(text) {
        Some(args) => Ok(Some(Request { args, wire_len: nl + 1 })),
        None => Err(ProtocolError("Protocol error: unbalanced quotes in request".into())),
    }
}

/// Splits an inline command line the way Redis's `sdssplitargs` does: spaces separate arguments, double quotes
/// allow `\n`, `\xHH` and other escapes, single quotes allow only `\'`. `None` for unbalanced quotes.
pub fn split_args(line: &[u8]) -> Option<Vec<Bytes>> {
    // Redis splits a C string: a NUL byte ends the line.
    let line = &line[..line.iter().position(|&b| b == 0).unwrap_or(line.len())];
    let mut args = Vec::new();
    let mut i = 0;
    loop {
        while i < line.len() && is_space(line[i]) {
            i += 1;
        }
        if i >= line.len() {
            return Some(args);
        }
        let mut cur = Vec::new();
        let mut in_dq = false;
        let mut in_sq = false;
        loop {
            if in_dq {
                if i >= line.len() {
                    return None;
                }
                if line[i] == b'\\' && i + 3 < line.len() && line[i + 1] == b'x' {
                    let hex = |c: u8| (c as char).to_digit(16);
                    if let (Some(h), Some(l)) = (hex(line[i + 2]), hex(line[i + 3])) {
                        cur.push((h * 16 + l) as u8);
                        i += 4;
                        continue;
                    }
                }
                if line[i] == b'\\' && i + 1 < line.len() {
                    i += 1;
                    cur.push(match line[i] {
                        b'n' => b'\n',
                        b'r' => b'\r',
                        b't' => b'\t',
                        b'b' => 8,
                        b'a' => 7,
                        c => c,
                    });
                } else if line[i] == b'"' {
                    // A closing quote must be followed by a space or the end.
                    if i + 1 < line.len() && !is_space(line[i + 1]) {
                        return None;
                    }
                    i += 1;
                    break;
                } else {
                    cur.push(line[i]);
                }
            } else if in_sq {
                if i >= line.len() {
                    return None;
                }
                if line[i] == b'\\' && i + 1 < line.len() && line[i + 1] == b'\'' {
                    i += 1;
                    cur.push(b'\'');
                } else if line[i] == b'\'' {
                    if i + 1 < line.len() && !is_space(line[i + 1]) {
                        return None;
                    }
                    i += 1;
                    break;
                } else {
                    cur.push(line[i]);
                }
            } else {
                if i >= line.len() {
                    break;
                }
                match line[i] {
                    c if is_space(c) => break,
                    b'"' => in_dq = true,
                    b'\'' => in_sq = true,
                    c => cur.push(c),
                }
            }
            i += 1;
        }
        args.push(Bytes::from(cur));
    }
}

/// C's `isspace`, which Redis uses to split inline commands (Rust's ASCII whitespace lacks `\x0b`).
fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
}

fn find_crlf(buf: &[u8]) -> Option<usize> {
    let nl = buf.iter().position(|&b| b == b'\r')?;
    // Redis looks for '\r' and then requires the '\n' to have arrived too.
    if nl + 1 < buf.len() { Some(nl) } else { None }
}

/// Parses a strict decimal integer the way Redis's `string2ll` does (no spaces, no '+', no leading zeros).
pub fn parse_int(s: &[u8]) -> Option<i64> {
    if s.is_empty() || s.len() > 20 {
        return None;
    }
    if s == b"0" {
        return Some(0);
    }
    let (neg, digits) = if s[0] == b'-' { (true, &s[1..]) } else { (false, s) };
    if digits.is_empty() || digits[0] == b'0' || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let text = std::str::from_utf8(s).ok()?;
    let v: i64 = text.parse().ok()?;
    if neg && v == 0 {
        return None;
    }
    Some(v)
}

/// Encodes arguments as a RESP multibulk of bulk strings: the form of requests and of the replication stream.
pub fn encode_multibulk<A: AsRef<[u8]>>(out: &mut BytesMut, args: &[A]) {
    // Every command a client sends and every write a master propagates passes here: one reservation, and
    // lengths written without formatting machinery.
    out.reserve(16 + args.iter().map(|a| a.as_ref().len() + 16).sum::<usize>());
    put_header(out, b'*', args.len());
    for a in args {
        let a = a.as_ref();
        put_header(out, b'$', a.len());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
}

/// Writes `<prefix><n>\r\n`.
pub(crate) fn put_header(out: &mut BytesMut, prefix: u8, n: usize) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    let mut rest = n;
    loop {
        i -= 1;
        digits[i] = b'0' + (rest % 10) as u8;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    out.extend_from_slice(&[prefix]);
    out.extend_from_slice(&digits[i..]);
    out.extend_from_slice(b"\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_all(input: &[u8]) -> Result<Vec<Vec<String>>, ProtocolError> {
        let mut p = RequestParser::new();
        let mut buf = BytesMut::from(input);
        let mut out = Vec::new();
        while let Some(r) = p.parse(&mut buf, true)? {
            out.push(r.args.iter().map(|a| String::from_utf8_lossy(a).into_owned()).collect());
        }
        Ok(out)
    }

    #[test]
    fn multibulk_and_inline() {
        assert_eq!(
            parse_all(b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\nPING\r\n").unwrap(),
            vec![vec!["GET", "k"], vec!["PING"]]
        );
        assert_eq!(parse_all(b"set a \"b c\"\r\n").unwrap(), vec![vec!["set", "a", "b c"]]);
        assert_eq!(parse_all(b"\r\n").unwrap(), vec![Vec::<String>::new()]);
    }

    #[test]
    fn encoding_writes_exact_headers_and_parses_back() {
        let mut out = BytesMut::new();
        encode_multibulk(&mut out, &["SET", "k", ""]);
        assert_eq!(&out[..], b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$0\r\n\r\n");
        let long = vec![b'x'; 1_234_567];
        let args: Vec<&[u8]> = std::iter::repeat_n(&b"a"[..], 10).chain([&long[..]]).collect();
        let mut out = BytesMut::new();
        encode_multibulk(&mut out, &args);
        assert!(out.starts_with(b"*11\r\n$1\r\na\r\n"));
        let mut p = RequestParser::new();
        let parsed = p.parse(&mut out, true).unwrap().unwrap();
        assert_eq!(parsed.args.len(), 11);
        assert_eq!(parsed.args[10].len(), 1_234_567);
        assert!(out.is_empty());
    }

    #[test]
    fn byte_at_a_time_gives_the_same_result() {
        let input = b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nhello\r\n";
        let mut p = RequestParser::new();
        let mut buf = BytesMut::new();
        let mut got = None;
        for &b in input.iter() {
            buf.extend_from_slice(&[b]);
            if let Some(r) = p.parse(&mut buf, true).unwrap() {
                got = Some(r);
            }
        }
        let r = got.unwrap();
        assert_eq!(r.args.len(), 3);
        assert_eq!(r.wire_len, input.len());
    }

    #[test]
    fn protocol_errors_use_redis_texts() {
        let e = |i: &[u8]| parse_all(i).unwrap_err().0;
        assert_eq!(e(b"*abc\r\n"), "Protocol error: invalid multibulk length");
        assert_eq!(e(b"*2147483648\r\n"), "Protocol error: invalid multibulk length");
        assert_eq!(e(b"*1\r\n:1\r\n"), "Protocol error: expected '$', got ':'");
        assert_eq!(e(b"*1\r\n$-5\r\n"), "Protocol error: invalid bulk length");
        assert_eq!(e(b"*1\r\n$4294967296\r\n"), "Protocol error: invalid bulk length");
        assert_eq!(e(b"set a \"b\r\n"), "Protocol error: unbalanced quotes in request");
    }

    #[test]
    fn huge_headers_do_not_allocate() {
        let mut p = RequestParser::new();
        let mut buf = BytesMut::from(&b"*2147483647\r\n"[..]);
        assert_eq!(p.parse(&mut buf, true).unwrap(), None);
        assert!(p.multibulk.as_ref().unwrap().args.capacity() <= PREALLOC_ARGS_MAX);
    }

    #[test]
    fn unauthenticated_limits() {
        let mut p = RequestParser::new();
        let mut buf = BytesMut::from(&b"*11\r\n"[..]);
        assert_eq!(
            p.parse(&mut buf, false).unwrap_err().0,
            "Protocol error: unauthenticated multibulk length"
        );
    }

    #[test]
    fn inline_lines_end_at_nul_and_split_on_any_whitespace() {
        assert_eq!(split_args(b"PI\0NG x").unwrap(), vec![Bytes::from("PI")]);
        assert_eq!(split_args(b"a\x0bb\x0cc").unwrap().len(), 3);
        assert_eq!(split_args(b"\0").unwrap(), Vec::<Bytes>::new());
    }

    #[test]
    fn strict_integers() {
        assert_eq!(parse_int(b"10"), Some(10));
        assert_eq!(parse_int(b"-1"), Some(-1));
        assert_eq!(parse_int(b"010"), None);
        assert_eq!(parse_int(b"+1"), None);
        assert_eq!(parse_int(b" 1"), None);
        assert_eq!(parse_int(b"-0"), None);
        assert_eq!(parse_int(b"9223372036854775808"), None);
    }
}
