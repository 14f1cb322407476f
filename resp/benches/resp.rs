//! The hot paths every command of the fakes goes through: parsing a request, encoding a reply, and decoding a
//! reply on the client side of a link (`cargo bench -p redsim-resp`).

use bytes::{Bytes, BytesMut};
use criterion::{Criterion, criterion_group, criterion_main};
use redsim_resp::{Protocol, Reply, RequestParser, decode_reply, encode_multibulk, take_reply};
use std::hint::black_box;

fn requests(c: &mut Criterion) {
    let mut set = BytesMut::new();
    encode_multibulk(&mut set, &["SET", "key:000042", "writer-1:1234:key:000042"]);
    let set = set.freeze();
    c.bench_function("parse multibulk SET", |b| {
        let mut parser = RequestParser::new();
        b.iter(|| {
            let mut buf = BytesMut::from(&set[..]);
            black_box(parser.parse(&mut buf, true).expect("valid").expect("complete"))
        })
    });
    // Sixteen pipelined GETs in one read, as a busy client sends them.
    let mut many = BytesMut::new();
    for i in 0..16 {
        encode_multibulk(&mut many, &[b"GET", format!("key:{i:06}").as_bytes()]);
    }
    let many = many.freeze();
    c.bench_function("parse 16 pipelined GETs", |b| {
        let mut parser = RequestParser::new();
        b.iter(|| {
            let mut buf = BytesMut::from(&many[..]);
            let mut n = 0;
            while let Ok(Some(r)) = parser.parse(&mut buf, true) {
                black_box(r);
                n += 1;
            }
            assert_eq!(n, 16);
        })
    });
    // What the client does for every call, and a master for every write it propagates to its replicas.
    c.bench_function("encode multibulk SET", |b| {
        b.iter(|| {
            let mut out = BytesMut::new();
            encode_multibulk(&mut out, black_box(&["SET", "key:000042", "writer-1:1234:key:000042"]));
            black_box(out)
        })
    });
    c.bench_function("parse inline PING", |b| {
        let mut parser = RequestParser::new();
        b.iter(|| {
            let mut buf = BytesMut::from(&b"PING\r\n"[..]);
            black_box(parser.parse(&mut buf, true).expect("valid").expect("complete"))
        })
    });
}

fn replies(c: &mut Criterion) {
    let bulk = Reply::Bulk(Bytes::from_static(b"writer-1:1234:key:000042"));
    c.bench_function("encode bulk RESP2", |b| {
        b.iter(|| black_box(bulk.to_bytes(Protocol::Resp2)))
    });
    c.bench_function("encode bulk RESP3", |b| {
        b.iter(|| black_box(bulk.to_bytes(Protocol::Resp3)))
    });
    // SENTINEL REPLICAS-like: an array of two flat maps of 24 fields.
    let replica = Reply::Array(
        (0..24)
            .flat_map(|i| [Reply::text(format!("field-{i}")), Reply::text(format!("value-{i}"))])
            .collect(),
    );
    let replicas = Reply::Array(vec![replica.clone(), replica]);
    c.bench_function("encode SENTINEL REPLICAS-sized array", |b| {
        b.iter(|| black_box(replicas.to_bytes(Protocol::Resp2)))
    });
    let wire = replicas.to_bytes(Protocol::Resp2);
    c.bench_function("decode SENTINEL REPLICAS-sized array", |b| {
        b.iter(|| black_box(decode_reply(Protocol::Resp2, &wire).expect("valid")))
    });
    let ok = Reply::ok().to_bytes(Protocol::Resp2);
    c.bench_function("decode +OK", |b| {
        b.iter(|| black_box(decode_reply(Protocol::Resp2, &ok).expect("valid")))
    });
    // The client's multiplexed connection: 32 replies taken off one read buffer, without copying payloads.
    let mut batch = BytesMut::new();
    for _ in 0..32 {
        batch.extend_from_slice(&bulk.to_bytes(Protocol::Resp2));
    }
    let batch = batch.freeze();
    c.bench_function("take 32 bulk replies from one read", |b| {
        b.iter(|| {
            let mut buf = BytesMut::from(&batch[..]);
            let mut n = 0;
            while let Some(r) = take_reply(Protocol::Resp2, &mut buf).expect("valid") {
                black_box(r);
                n += 1;
            }
            assert_eq!(n, 32);
        })
    });
}

criterion_group!(benches, requests, replies);
criterion_main!(benches);
