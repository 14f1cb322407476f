//! A fake node's hot paths on loopback TCP (`cargo bench -p redsim-fake-redis`): command dispatch (a pipeline of
//! 256 SETs or GETs, HSETs or HGETALLs, ZADDs or ZRANGEs, so one round trip is spread over many commands) and the replication stream (256 SETs on a
//! master until its replica's offset has caught up). Each iteration's time divided by 256 is the cost of one
//! command: parsing, dispatch, the keyspace, the execution log and, for writes, propagation.

use std::hint::black_box;
use std::time::Duration;

use bytes::BytesMut;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use redsim_fake_redis::{Config, ExecLog, Node};
use redsim_net::Net;
use redsim_resp::{RespConn, encode_multibulk};
use tokio::runtime::Runtime;

const BATCH: usize = 256;

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime")
}

/// Starts a node on a free loopback port, replicating `master` if given.
fn start(rt: &Runtime, name: &str, master: Option<u16>) -> Node {
    let config = Config {
        name: name.into(),
        port: 0,
        replicaof: master.map(|p| ("127.0.0.1".to_string(), p)),
        // The bench sends millions of commands; the log keeps the first ones, as in a long simulation.
        log_limit: 100_000,
        ..Config::default()
    };
    let node = Node::new(Net::Tokio, config, ExecLog::new());
    let listener = rt.block_on(node.bind()).expect("bind");
    let serving = node.clone();
    rt.spawn(async move { serving.serve_on(listener).await });
    node
}

fn connect(rt: &Runtime, node: &Node) -> RespConn {
    rt.block_on(RespConn::connect(
        Net::Tokio,
        "127.0.0.1",
        node.port(),
        Duration::from_secs(5),
    ))
    .expect("connect")
}

/// 256 SETs of distinct keys, as a writer sends them.
fn sets() -> BytesMut {
    pipeline(|i| vec!["SET".into(), format!("key:{i:06}"), format!("writer-1:{i}:key:{i:06}")])
}

fn pipeline(args: impl Fn(usize) -> Vec<String>) -> BytesMut {
    let mut out = BytesMut::new();
    for i in 0..BATCH {
        encode_multibulk(&mut out, &args(i));
    }
    out
}

async fn round_trip(conn: &mut RespConn, request: &[u8]) {
    conn.send_raw(request).await.expect("send");
    for _ in 0..BATCH {
        black_box(conn.read().await.expect("reply"));
    }
}

fn dispatch(c: &mut Criterion) {
    let rt = runtime();
    let node = start(&rt, "bench-master", None);
    let mut conn = connect(&rt, &node);
    let sets = sets();
    let gets = pipeline(|i| vec!["GET".into(), format!("key:{i:06}")]);
    let mut group = c.benchmark_group("fake node");
    group.throughput(Throughput::Elements(BATCH as u64));
    group.bench_function("256 pipelined SETs", |b| {
        b.iter(|| rt.block_on(round_trip(&mut conn, &sets)))
    });
    group.bench_function("256 pipelined GETs", |b| {
        b.iter(|| rt.block_on(round_trip(&mut conn, &gets)))
    });
    // A service's session hashes (16 of 16 fields each) and a leaderboard (one sorted set of 256 members).
    let hsets = pipeline(|i| {
        let (session, field) = (i % 16, i / 16);
        vec![
            "HSET".into(),
            format!("session:{session:02}"),
            format!("f{field:02}"),
            format!("value-{i}"),
        ]
    });
    let hgetalls = pipeline(|i| vec!["HGETALL".into(), format!("session:{:02}", i % 16)]);
    let zadds = pipeline(|i| {
        vec![
            "ZADD".into(),
            "leaderboard".into(),
            (i * 7 % 1000).to_string(),
            format!("player:{i:03}"),
        ]
    });
    let zranges = pipeline(|i| {
        let start = i % 246;
        vec![
            "ZRANGE".into(),
            "leaderboard".into(),
            start.to_string(),
            (start + 9).to_string(),
            "WITHSCORES".into(),
        ]
    });
    group.bench_function("256 pipelined HSETs", |b| {
        b.iter(|| rt.block_on(round_trip(&mut conn, &hsets)))
    });
    group.bench_function("256 pipelined HGETALLs of 16 fields", |b| {
        b.iter(|| rt.block_on(round_trip(&mut conn, &hgetalls)))
    });
    group.bench_function("256 pipelined ZADDs", |b| {
        b.iter(|| rt.block_on(round_trip(&mut conn, &zadds)))
    });
    group.bench_function("256 pipelined ZRANGEs of 10 WITHSCORES", |b| {
        b.iter(|| rt.block_on(round_trip(&mut conn, &zranges)))
    });
    group.finish();
}

fn replication(c: &mut Criterion) {
    let rt = runtime();
    let master = start(&rt, "bench-master", None);
    let replica = start(&rt, "bench-replica", Some(master.port()));
    rt.block_on(async {
        while replica.repl_offset() == 0 || replica.repl_offset() < master.repl_offset() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    });
    let mut conn = connect(&rt, &master);
    let sets = sets();
    let mut group = c.benchmark_group("replication");
    group.throughput(Throughput::Elements(BATCH as u64));
    group.bench_function("256 SETs until the replica has them", |b| {
        b.iter(|| {
            rt.block_on(async {
                round_trip(&mut conn, &sets).await;
                let target = master.repl_offset();
                while replica.repl_offset() < target {
                    tokio::task::yield_now().await;
                }
            })
        })
    });
    group.finish();
}

criterion_group!(benches, dispatch, replication);
criterion_main!(benches);
