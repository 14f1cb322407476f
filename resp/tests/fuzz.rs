//! Fuzzing the RESP readers inside `cargo test`: the request parser every fake server runs, and the reply reader
//! the client, the Sentinel's links and the tools run. Inputs are random bytes, valid frames cut short, valid
//! frames with a byte changed, nesting far past any stack, and headers announcing gigabytes. Every property asserts
//! no panic, memory bounded by the input's size (a counting allocator measures each call), and the result Redis
//! or the reference decoder gives where the input is one they answer.
//!
//! Deterministic: `PROPTEST_RNG_SEED` (default 16) seeds every property, `PROPTEST_CASES` (default 256) sets how
//! many inputs each tries. A large run: `PROPTEST_CASES=200000 cargo test --release -p redsim-resp --test fuzz`.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use bytes::{Bytes, BytesMut};
use proptest::prelude::*;
use proptest::test_runner::RngSeed;
use redis_protocol::resp2::types::BytesFrame as Frame2;
use redis_protocol::resp3::types::BytesFrame as Frame3;
use redsim_resp::{Protocol, Reply, ReplyError, ReplyLimits, ReplyReader, RequestParser};

// ---- memory: a counting allocator, per thread (the test harness runs properties on several threads) ----

struct Counting;

thread_local! {
    static LIVE: Cell<usize> = const { Cell::new(0) };
    static PEAK: Cell<usize> = const { Cell::new(0) };
}

fn grow(n: usize) {
    let _ = LIVE.try_with(|l| {
        let now = l.get() + n;
        l.set(now);
        let _ = PEAK.try_with(|p| p.set(p.get().max(now)));
    });
}

fn shrink(n: usize) {
    let _ = LIVE.try_with(|l| l.set(l.get().saturating_sub(n)));
}

// SAFETY: every call is forwarded to the system allocator unchanged; the counters only observe sizes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            grow(layout.size());
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        shrink(layout.size());
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            shrink(layout.size());
            grow(new_size);
        }
        p
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Runs `f` and returns its result with the most memory it held at once beyond what was live before.
fn peak_bytes<T>(f: impl FnOnce() -> T) -> (T, usize) {
    let base = LIVE.with(Cell::get);
    PEAK.with(|p| p.set(base));
    let out = f();
    (out, PEAK.with(Cell::get) - base)
}

// ---- configuration ----

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: env_u64("PROPTEST_CASES", 256) as u32,
        rng_seed: RngSeed::Fixed(env_u64("PROPTEST_RNG_SEED", 16)),
        failure_persistence: None,
        max_shrink_iters: 2000,
        // Replies redis-protocol cannot read faithfully are filtered out of the differential properties: about
        // one in two, so the rejects grow with the cases.
        max_local_rejects: u32::MAX,
        ..ProptestConfig::default()
    }
}

// ---- inputs ----

/// Replies a Redis server may send in `protocol`.
fn reply(protocol: Protocol) -> impl Strategy<Value = Reply> {
    let text = "[a-zA-Z0-9 :._-]{0,12}";
    let leaf = prop_oneof![
        text.prop_map(Reply::Simple),
        text.prop_map(|t| Reply::Error(format!("ERR {t}"))),
        any::<i64>().prop_map(Reply::Int),
        prop::collection::vec(any::<u8>(), 0..40).prop_map(|b| Reply::Bulk(b.into())),
        Just(Reply::Nil),
        // Doubles with few binary digits, which print alike in Redis's `%.17g` and the reference's shortest form;
        // the digits of every other double are checked against C's printf in tests/doubles.rs.
        (-1_000_000_000i64..1_000_000_000, 0..6u32).prop_map(|(m, e)| Reply::Double(m as f64 / f64::from(1u32 << e))),
        "[a-z]{0,10}".prop_map(|t| Reply::Verbatim("txt", t.into())),
    ];
    let resp3 = protocol == Protocol::Resp3;
    leaf.prop_recursive(6, 64, 6, move |inner| {
        let items = prop::collection::vec(inner.clone(), 0..6);
        let pairs = prop::collection::vec((inner.clone(), inner), 0..4);
        if resp3 {
            prop_oneof![
                items.clone().prop_map(Reply::Array),
                items.clone().prop_map(Reply::Set),
                items.prop_map(Reply::Push),
                pairs.prop_map(Reply::Map),
            ]
            .boxed()
        } else {
            prop_oneof![items.prop_map(Reply::Array), pairs.prop_map(Reply::Map)].boxed()
        }
    })
}

/// The wire bytes of a few replies in a row, each one the reference decoder reads faithfully.
fn replies_wire(protocol: Protocol) -> impl Strategy<Value = Vec<u8>> {
    let faithful = reply(protocol).prop_filter("redis-protocol reads it faithfully", encodable);
    prop::collection::vec(faithful, 1..4).prop_map(move |rs| {
        let mut out = BytesMut::new();
        for r in &rs {
            r.encode(protocol, &mut out);
        }
        out.to_vec()
    })
}

/// Bytes a hostile or broken peer sends: valid bytes cut short or with a byte changed, random bytes, nesting
/// deeper than the limit, and headers announcing more than any limit.
fn hostile(protocol: Protocol) -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        (replies_wire(protocol), any::<prop::sample::Index>()).prop_map(|(w, i)| w[..i.index(w.len() + 1)].to_vec()),
        (replies_wire(protocol), any::<prop::sample::Index>(), any::<u8>()).prop_map(|(mut w, i, b)| {
            let at = i.index(w.len());
            w[at] = b;
            w
        }),
        prop::collection::vec(any::<u8>(), 0..200),
        prop::collection::vec(
            prop::sample::select(b"*%~>|$:+-_#,(=!\r\n0123456789?t".to_vec()),
            0..200
        ),
        (
            1usize..200_000,
            prop::sample::select(vec!["*1", "%1", "~1", ">1", "*2", "|1"])
        )
            .prop_map(|(n, h)| {
                let mut w = format!("{h}\r\n").repeat(n).into_bytes();
                w.extend_from_slice(b":1\r\n");
                w
            }),
        (prop::sample::select(vec!["$", "*", "%", "~", "!", "="]), any::<u64>())
            .prop_map(|(h, n)| format!("{h}{n}\r\n:1\r\n").into_bytes()),
    ]
}

// ---- the reference: redis-protocol's decoder, as redsim used it before it had its own ----

fn from_resp2(f: Frame2) -> Reply {
    match f {
        Frame2::SimpleString(s) => Reply::Simple(String::from_utf8_lossy(&s).into_owned()),
        Frame2::Error(e) => Reply::Error(e.to_string()),
        Frame2::Integer(i) => Reply::Int(i),
        Frame2::BulkString(b) => Reply::Bulk(b),
        Frame2::Array(items) => Reply::Array(items.into_iter().map(from_resp2).collect()),
        Frame2::Null => Reply::Nil,
    }
}

fn from_resp3(f: Frame3) -> Reply {
    match f {
        Frame3::BlobString { data, .. } | Frame3::BigNumber { data, .. } | Frame3::ChunkedString(data) => {
            Reply::Bulk(data)
        }
        Frame3::BlobError { data, .. } => Reply::Error(String::from_utf8_lossy(&data).into_owned()),
        Frame3::SimpleString { data, .. } => Reply::Simple(String::from_utf8_lossy(&data).into_owned()),
        Frame3::SimpleError { data, .. } => Reply::Error(data.to_string()),
        Frame3::Boolean { data, .. } => Reply::Int(data as i64),
        Frame3::Null => Reply::Nil,
        Frame3::Number { data, .. } => Reply::Int(data),
        Frame3::Double { data, .. } => Reply::Double(data),
        Frame3::VerbatimString { data, .. } => Reply::Verbatim("txt", data),
        Frame3::Array { data, .. } => Reply::Array(data.into_iter().map(from_resp3).collect()),
        Frame3::Set { data, .. } => Reply::Set(data.into_iter().map(from_resp3).collect()),
        Frame3::Push { data, .. } => Reply::Push(data.into_iter().map(from_resp3).collect()),
        Frame3::Map { data, .. } => Reply::Map(data.into_iter().map(|(k, v)| (from_resp3(k), from_resp3(v))).collect()),
        Frame3::Hello { .. } => Reply::Simple("HELLO".into()),
    }
}

/// The reply with every map's entries in a fixed order: redis-protocol's decoder returns maps in hash order, where
/// the reader keeps the order on the wire (the order Redis sent).
fn sorted_maps(r: &Reply) -> Reply {
    match r {
        Reply::Array(v) => Reply::Array(v.iter().map(sorted_maps).collect()),
        Reply::Set(v) => Reply::Set(v.iter().map(sorted_maps).collect()),
        Reply::Push(v) => Reply::Push(v.iter().map(sorted_maps).collect()),
        Reply::Map(kv) => {
            let mut kv: Vec<(Reply, Reply)> = kv.iter().map(|(k, v)| (sorted_maps(k), sorted_maps(v))).collect();
            kv.sort_by_key(|(k, _)| format!("{k:?}"));
            Reply::Map(kv)
        }
        other => other.clone(),
    }
}

fn hashable(r: &Reply) -> bool {
    !matches!(r, Reply::Array(_) | Reply::Set(_) | Reply::Push(_) | Reply::Map(_))
}

/// Whether redis-protocol can encode and decode the reply faithfully: it hashes map keys and set members,
/// panics on an aggregate among them, and merges duplicates.
fn encodable(r: &Reply) -> bool {
    match r {
        Reply::Array(v) | Reply::Push(v) => v.iter().all(encodable),
        Reply::Set(v) => {
            v.iter().all(|m| hashable(m) && encodable(m)) && v.iter().enumerate().all(|(i, m)| !v[..i].contains(m))
        }
        Reply::Map(kv) => {
            kv.iter().all(|(k, v)| hashable(k) && encodable(v))
                && kv
                    .iter()
                    .enumerate()
                    .all(|(i, (k, _))| !kv[..i].iter().any(|(k2, _)| k2 == k))
        }
        _ => true,
    }
}

/// The reference encoding: `None` where redis-protocol cannot encode the reply (it hashes map keys and set
/// members, and panics on an aggregate among them, or merges duplicates).
fn reference_bytes(r: &Reply, protocol: Protocol) -> Option<Vec<u8>> {
    fn to_resp2(r: &Reply) -> Frame2 {
        match r {
            Reply::Simple(s) => Frame2::SimpleString(Bytes::copy_from_slice(s.as_bytes())),
            Reply::Error(e) => Frame2::Error(e.as_str().into()),
            Reply::Int(i) => Frame2::Integer(*i),
            Reply::Bulk(b) | Reply::Verbatim(_, b) => Frame2::BulkString(b.clone()),
            Reply::Nil | Reply::NilArray => Frame2::Null,
            Reply::Double(d) => Frame2::BulkString(Bytes::from(d.to_string())),
            Reply::Array(v) | Reply::Set(v) | Reply::Push(v) => Frame2::Array(v.iter().map(to_resp2).collect()),
            Reply::Map(kv) => Frame2::Array(kv.iter().flat_map(|(k, v)| [to_resp2(k), to_resp2(v)]).collect()),
        }
    }
    fn to_resp3(r: &Reply) -> Frame3 {
        use redis_protocol::resp3::types::VerbatimStringFormat;
        let attributes = None;
        match r {
            Reply::Simple(s) => Frame3::SimpleString {
                data: Bytes::copy_from_slice(s.as_bytes()),
                attributes,
            },
            Reply::Error(e) => Frame3::SimpleError {
                data: e.as_str().into(),
                attributes,
            },
            Reply::Int(i) => Frame3::Number { data: *i, attributes },
            Reply::Bulk(b) => Frame3::BlobString {
                data: b.clone(),
                attributes,
            },
            Reply::Verbatim(_, b) => Frame3::VerbatimString {
                data: b.clone(),
                format: VerbatimStringFormat::Text,
                attributes,
            },
            Reply::Nil | Reply::NilArray => Frame3::Null,
            Reply::Double(d) => Frame3::Double { data: *d, attributes },
            Reply::Array(v) => Frame3::Array {
                data: v.iter().map(to_resp3).collect(),
                attributes,
            },
            Reply::Set(v) => Frame3::Set {
                data: v.iter().map(to_resp3).collect(),
                attributes,
            },
            Reply::Push(v) => Frame3::Push {
                data: v.iter().map(to_resp3).collect(),
                attributes,
            },
            Reply::Map(kv) => Frame3::Map {
                data: kv.iter().map(|(k, v)| (to_resp3(k), to_resp3(v))).collect(),
                attributes,
            },
        }
    }
    if !encodable(r) {
        return None;
    }
    let mut out = BytesMut::new();
    match protocol {
        Protocol::Resp2 => redis_protocol::resp2::encode::extend_encode(&mut out, &to_resp2(r), false).ok()?,
        Protocol::Resp3 => {
            redis_protocol::resp3::encode::complete::extend_encode(&mut out, &to_resp3(r), false).ok()?
        }
    };
    Some(out.to_vec())
}

/// The reference decoding of the first reply in `wire`: `None` while incomplete, `Err` when invalid.
fn reference(protocol: Protocol, wire: &[u8]) -> Result<Option<(Reply, usize)>, String> {
    let bytes = Bytes::copy_from_slice(wire);
    match protocol {
        Protocol::Resp2 => redis_protocol::resp2::decode::decode_bytes(&bytes)
            .map(|o| o.map(|(f, n)| (from_resp2(f), n)))
            .map_err(|e| e.to_string()),
        Protocol::Resp3 => redis_protocol::resp3::decode::complete::decode_bytes(&bytes)
            .map(|o| o.map(|(f, n)| (from_resp3(f), n)))
            .map_err(|e| e.to_string()),
    }
}

/// Every reply a fresh reader takes off `wire` fed in pieces cut at `cuts`, and how it ended.
fn read_all(
    protocol: Protocol,
    limits: ReplyLimits,
    wire: &[u8],
    cuts: &[usize],
) -> (Vec<Reply>, Result<usize, ReplyError>) {
    let mut reader = ReplyReader::new(protocol, limits);
    let mut buf = BytesMut::new();
    let mut got = Vec::new();
    let mut fed = 0;
    let mut points: Vec<usize> = cuts.iter().map(|c| c % (wire.len() + 1)).collect();
    points.push(wire.len());
    points.sort_unstable();
    for p in points {
        buf.extend_from_slice(&wire[fed..p.max(fed)]);
        fed = p.max(fed);
        loop {
            match reader.take(&mut buf) {
                Ok(Some(r)) => got.push(r),
                Ok(None) => break,
                Err(e) => return (got, Err(e)),
            }
        }
    }
    (got, Ok(buf.len()))
}

/// How deeply a reply nests aggregates (a leaf is 0).
fn depth(r: &Reply) -> usize {
    let children: Vec<&Reply> = match r {
        Reply::Array(v) | Reply::Set(v) | Reply::Push(v) => v.iter().collect(),
        Reply::Map(kv) => kv.iter().flat_map(|(k, v)| [k, v]).collect(),
        _ => return 0,
    };
    1 + children.into_iter().map(depth).max().unwrap_or(0)
}

fn either_protocol() -> impl Strategy<Value = Protocol> {
    prop_oneof![Just(Protocol::Resp2), Just(Protocol::Resp3)]
}

/// At most this much memory per input byte, beyond a fixed allowance: a decoded element is a few dozen bytes and
/// takes at least three on the wire.
const BYTES_PER_INPUT_BYTE: usize = 40;
const FIXED_ALLOWANCE: usize = 64 * 1024;

proptest! {
    #![proptest_config(config())]

    /// Any reply encodes without a panic, to the bytes redis-protocol writes wherever redis-protocol can encode it,
    /// and reads back as the reference decoder reads those bytes.
    #[test]
    fn replies_encode_as_the_reference_does(
        (protocol, r) in either_protocol().prop_flat_map(|p| (Just(p), reply(p))),
    ) {
        let bytes = r.to_bytes(protocol);
        if let Some(want) = reference_bytes(&r, protocol) {
            prop_assert_eq!(String::from_utf8_lossy(&bytes), String::from_utf8_lossy(&want));
        }
        let (read, end) = read_all(protocol, ReplyLimits::default(), &bytes, &[]);
        prop_assert_eq!(end, Ok(0));
        prop_assert_eq!(read.len(), 1);
        if let Some(Ok(Some((want, n)))) = encodable(&r).then(|| reference(protocol, &bytes)) {
            prop_assert_eq!(n, bytes.len());
            prop_assert_eq!(sorted_maps(&read[0]), sorted_maps(&want));
        }
    }

    /// Valid replies decode exactly as the reference decoder decodes them, however the bytes are split.
    #[test]
    fn valid_replies_decode_as_the_reference_does(
        (protocol, wire) in either_protocol().prop_flat_map(|p| (Just(p), replies_wire(p))),
        cuts in prop::collection::vec(any::<usize>(), 0..6),
    ) {
        let mut want = Vec::new();
        let mut rest = &wire[..];
        let mut reference_failed = false;
        while !rest.is_empty() {
            match reference(protocol, rest) {
                Ok(Some((r, n))) => {
                    want.push(r);
                    rest = &rest[n..];
                }
                _ => {
                    reference_failed = true;
                    break;
                }
            }
        }
        prop_assert!(!reference_failed, "the reference refused {:?}", String::from_utf8_lossy(&wire));
        let (got, end) = read_all(protocol, ReplyLimits::default(), &wire, &cuts);
        prop_assert_eq!(end, Ok(0));
        prop_assert_eq!(got.iter().map(sorted_maps).collect::<Vec<_>>(), want.iter().map(sorted_maps).collect::<Vec<_>>());
    }

    /// Anything at all: no panic, memory bounded by the input, consumption within the input, and a complete
    /// reply is one the reference decoder also reads the same way.
    #[test]
    fn hostile_bytes_are_refused_or_read_within_bounds(
        protocol in either_protocol(),
        wire in either_protocol().prop_flat_map(hostile),
        cuts in prop::collection::vec(any::<usize>(), 0..4),
        small in any::<bool>(),
    ) {
        let limits = if small { ReplyLimits { max_depth: 16, max_bytes: 4096 } } else { ReplyLimits::default() };
        let ((got, end), peak) = peak_bytes(|| read_all(protocol, limits, &wire, &cuts));
        prop_assert!(
            peak <= FIXED_ALLOWANCE + BYTES_PER_INPUT_BYTE * wire.len(),
            "{peak} bytes for {} input bytes", wire.len()
        );
        if let Err(ReplyError::TooDeep { limit }) = &end {
            prop_assert_eq!(*limit, limits.max_depth);
        }
        // Where the reader took a reply of modest depth, the reference reads it the same way. (Deeper, the
        // reference's own recursion may overflow a test thread's stack: the very defect the reader is for.)
        if let Some(first) = got.first().filter(|r| depth(r) <= 16)
            && let Ok(Some((want, _))) = reference(protocol, &wire)
        {
            prop_assert_eq!(sorted_maps(first), sorted_maps(&want));
        }
    }

    /// The request parser on anything: no panic, bounded memory, the same requests whether the bytes come at
    /// once or in pieces, and only Redis's own protocol error texts.
    #[test]
    fn the_request_parser_survives_anything_with_redis_errors(
        wire in prop_oneof![
            prop::collection::vec(any::<u8>(), 0..300),
            prop::collection::vec(prop::sample::select(b"*$\r\n0123456789-\" 'abcSETGET\\x".to_vec()), 0..300),
            (prop::sample::select(vec!["*", "$", "*2\r\n$"]), any::<i64>()).prop_map(|(h, n)| format!("{h}{n}\r\n").into_bytes()),
        ],
        cuts in prop::collection::vec(any::<usize>(), 0..4),
        authenticated in any::<bool>(),
    ) {
        let parse_all = |cuts: &[usize]| {
            let mut parser = RequestParser::new();
            let mut buf = BytesMut::new();
            let mut out = Vec::new();
            let mut fed = 0;
            let mut points: Vec<usize> = cuts.iter().map(|c| c % (wire.len() + 1)).collect();
            points.push(wire.len());
            points.sort_unstable();
            for p in points {
                buf.extend_from_slice(&wire[fed..p.max(fed)]);
                fed = p.max(fed);
                loop {
                    match parser.parse(&mut buf, authenticated) {
                        Ok(Some(r)) => out.push(Ok(r.args)),
                        Ok(None) => break,
                        Err(e) => {
                            out.push(Err(e.0));
                            return out;
                        }
                    }
                }
            }
            out
        };
        let (pieces, peak) = peak_bytes(|| parse_all(&cuts));
        prop_assert!(peak <= FIXED_ALLOWANCE + BYTES_PER_INPUT_BYTE * wire.len(), "{peak} bytes for {} input bytes", wire.len());
        prop_assert_eq!(&pieces, &parse_all(&[]));
        if let Some(Err(e)) = pieces.last() {
            const REDIS_ERRORS: [&str; 9] = [
                "Protocol error: invalid multibulk length",
                "Protocol error: unauthenticated multibulk length",
                "Protocol error: expected '$', got '",
                "Protocol error: invalid bulk length",
                "Protocol error: unauthenticated bulk length",
                "Protocol error: too big mbulk count string",
                "Protocol error: too big bulk count string",
                "Protocol error: too big inline request",
                "Protocol error: unbalanced quotes in request",
            ];
            prop_assert!(REDIS_ERRORS.iter().any(|r| e.starts_with(r)), "not a Redis protocol error: {e}");
        }
    }
}

// ---- summaries: the execution log's one-line rendering of every reply ----

/// The summary as it was first defined: render the whole reply, then cut it to 120 bytes and `...`. The real
/// one stops rendering at the cut; it must give the same text.
fn reference_summary(r: &Reply) -> String {
    fn render(r: &Reply, out: &mut String) {
        match r {
            Reply::Simple(s) => out.push_str(s),
            Reply::Error(e) => {
                out.push('-');
                out.push_str(e);
            }
            Reply::Int(i) => out.push_str(&format!("(integer) {i}")),
            Reply::Bulk(b) | Reply::Verbatim(_, b) => out.push_str(&format!("{:?}", String::from_utf8_lossy(b))),
            Reply::Nil | Reply::NilArray => out.push_str("(nil)"),
            Reply::Double(d) => out.push_str(&d.to_string()),
            Reply::Array(items) | Reply::Set(items) | Reply::Push(items) => {
                let parts: Vec<String> = items.iter().map(reference_summary_full).collect();
                out.push_str(&format!("[{}]", parts.join(", ")));
            }
            Reply::Map(pairs) => {
                let parts: Vec<String> = pairs
                    .iter()
                    .map(|(k, v)| format!("{}: {}", reference_summary_full(k), reference_summary_full(v)))
                    .collect();
                out.push_str(&format!("{{{}}}", parts.join(", ")));
            }
        }
    }
    fn reference_summary_full(r: &Reply) -> String {
        let mut s = String::new();
        render(r, &mut s);
        s
    }
    let mut s = reference_summary_full(r);
    if s.len() > redsim_resp::SUMMARY_MAX_BYTES {
        let mut cut = redsim_resp::SUMMARY_MAX_BYTES;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
        s.push_str("...");
    }
    s
}

/// A long text of printable, escaped and multi-byte characters, so cuts fall inside escapes and characters.
fn long_text() -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(
        prop_oneof![Just(b'a'), Just(b'"'), Just(b'\n'), Just(0xff), Just(0xc3)],
        0..300,
    )
}

proptest! {
    #![proptest_config(config())]

    /// A summary is the whole rendering cut at 120 bytes, whatever the reply.
    #[test]
    fn summaries_are_the_full_rendering_cut_short(
        r in prop_oneof![
            either_protocol().prop_flat_map(reply),
            long_text().prop_map(|b| Reply::Bulk(b.into())),
            proptest::collection::vec(long_text().prop_map(|b| Reply::Bulk(b.into())), 0..6).prop_map(Reply::Array),
        ],
    ) {
        prop_assert_eq!(r.summary(), reference_summary(&r));
    }
}

/// Row H2 of issue 16: the log summarised a 100 MB GET reply by rendering all of it (10 s of CPU before the first
/// byte went out). Now a summary costs the same small amount whatever the reply's size.
#[test]
fn a_huge_reply_is_summarised_in_constant_memory() {
    let bulk = Reply::Bulk(vec![b'x'; 100 << 20].into());
    let array = Reply::Array((0..1_000_000).map(Reply::Int).collect());
    let map = Reply::Map((0..100_000).map(|i| (Reply::Int(i), bulk.clone())).collect());
    for r in [&bulk, &array, &map] {
        let (s, peak) = peak_bytes(|| r.summary());
        assert!(
            s.ends_with("...") && s.len() <= redsim_resp::SUMMARY_MAX_BYTES + 3,
            "{s}"
        );
        assert!(peak < 4096, "summarising held {peak} bytes");
    }
}
