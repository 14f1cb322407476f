//! Properties of the fake over generated inputs, each case a fresh turmoil simulation:
//! - replication converges: after any sequence of writes over every type on the master (with replication links
//!   killed along the way, and replicas forced through full resyncs), every replica's digest (type, value and
//!   deadline of each key) and offset equal the master's once the cluster is quiet;
//! - no input breaks a node: random and mutated bytes get valid RESP back (or a closed connection), and the node
//!   still answers afterwards.
//!
//! `PROPTEST_CASES` raises the number of cases (default 24 each).

mod common;

use std::time::Duration;

use bytes::BytesMut;
use common::*;
use proptest::prelude::*;
use redsim_fake_redis::{Reply, RespConn};
use redsim_net::Net;
use tokio::time::sleep;

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(24)
}

/// One step of a generated workload.
#[derive(Debug, Clone)]
enum Op {
    /// A write (or read) command on the master.
    Cmd(Vec<String>),
    /// A MULTI ... EXEC block on the master.
    Tx(Vec<Vec<String>>),
    /// `CLIENT KILL TYPE master` on a replica: its link drops and it resynchronises (partially).
    KillLink(usize),
    /// `REPLICAOF NO ONE` then back on a replica: it gets a new replication id, so it needs a full resync.
    FullResync(usize),
    /// Let simulated time pass.
    Pause(u64),
}

fn key() -> impl Strategy<Value = String> {
    prop::sample::select(vec!["a", "b", "c", "d", "counter", "h", "l", "s", "z"]).prop_map(String::from)
}

/// Mostly the string keys, sometimes any key.
fn skey() -> impl Strategy<Value = String> {
    let strings = prop::sample::select(vec!["a", "b", "c", "d", "counter"]).prop_map(String::from);
    prop_oneof![6 => strings, 1 => key()]
}

/// Mostly the key a type's commands share (so aggregates grow and shrink), sometimes any key.
fn key_of(own: &'static str) -> impl Strategy<Value = String> {
    prop_oneof![5 => Just(own.to_string()), 1 => key()]
}

fn field() -> impl Strategy<Value = String> {
    prop::sample::select(vec!["f", "g", "1", "2", "10"]).prop_map(String::from)
}

fn cmd(parts: &[&str], rest: Vec<String>) -> Vec<String> {
    parts.iter().map(|p| p.to_string()).chain(rest).collect()
}

/// A score as clients send them: small integers, decimals whose 17-digit text differs from what was sent,
/// zero of either sign, and the infinities.
fn score() -> impl Strategy<Value = String> {
    prop::sample::select(vec!["0", "-0", "1", "2", "-3", "1.1", "0.3", "2.5", "inf", "-inf"]).prop_map(String::from)
}

/// Writes on hashes, lists, sets and sorted sets. Keys are shared with the string writes, so some meet a key of another type
/// and answer WRONGTYPE, which must change nothing anywhere.
fn aggregate_cmd() -> impl Strategy<Value = Vec<String>> {
    let value = "[a-z0-9]{0,3}";
    let side = prop::sample::select(vec!["LEFT", "RIGHT"]);
    prop_oneof![
        3 => (key_of("h"), field(), value).prop_map(|(k, f, v)| cmd(&["HSET"], vec![k, f, v])),
        1 => (key_of("h"), field(), field()).prop_map(|(k, f, g)| cmd(&["HDEL"], vec![k, f, g])),
        1 => (key_of("h"), field(), -3i64..3).prop_map(|(k, f, n)| cmd(&["HINCRBY"], vec![k, f, n.to_string()])),
        1 => (key_of("h"), field(), value).prop_map(|(k, f, v)| cmd(&["HSETNX"], vec![k, f, v])),
        3 => (key_of("l"), prop::collection::vec(value, 1..4), any::<bool>()).prop_map(|(k, vs, left)| {
            cmd(&[if left { "LPUSH" } else { "RPUSH" }, &k], vs)
        }),
        1 => (key_of("l"), 0u8..3).prop_map(|(k, n)| cmd(&["LPOP", &k], vec![n.to_string()])),
        1 => key_of("l").prop_map(|k| cmd(&["RPOP", &k], vec![])),
        1 => (key_of("l"), -2i64..3, value).prop_map(|(k, n, v)| cmd(&["LREM", &k], vec![n.to_string(), v])),
        1 => (key_of("l"), -3i64..3, -3i64..3).prop_map(|(k, a, b)| cmd(&["LTRIM", &k], vec![a.to_string(), b.to_string()])),
        1 => (key_of("l"), -2i64..2, value).prop_map(|(k, i, v)| cmd(&["LSET", &k], vec![i.to_string(), v])),
        1 => (key_of("l"), key(), side.clone(), side).prop_map(|(a, b, f, t)| cmd(&["LMOVE", &a, &b, f, t], vec![])),
        3 => (key_of("s"), prop::collection::vec(field(), 1..4)).prop_map(|(k, ms)| cmd(&["SADD", &k], ms)),
        1 => (key_of("s"), field()).prop_map(|(k, m)| cmd(&["SREM", &k], vec![m])),
        1 => key_of("s").prop_map(|k| cmd(&["SPOP", &k], vec![])),
        1 => (key_of("s"), 0u8..4).prop_map(|(k, n)| cmd(&["SPOP", &k], vec![n.to_string()])),
        3 => (key_of("z"), prop::collection::vec((score(), field()), 1..4)).prop_map(|(k, pairs)| {
            cmd(&["ZADD", &k], pairs.into_iter().flat_map(|(s, m)| [s, m]).collect())
        }),
        1 => (key_of("z"), prop::sample::select(vec!["NX", "XX", "GT", "LT", "CH"]), score(), field())
            .prop_map(|(k, o, s, m)| cmd(&["ZADD", &k, o], vec![s, m])),
        1 => (key_of("z"), score(), field()).prop_map(|(k, s, m)| cmd(&["ZINCRBY", &k], vec![s, m])),
        1 => (key_of("z"), field()).prop_map(|(k, m)| cmd(&["ZREM", &k], vec![m])),
        1 => (key_of("z"), any::<bool>(), 0u8..3).prop_map(|(k, max, n)| {
            cmd(&[if max { "ZPOPMAX" } else { "ZPOPMIN" }, &k], vec![n.to_string()])
        }),
        1 => (key_of("z"), score(), score()).prop_map(|(k, a, b)| cmd(&["ZREMRANGEBYSCORE", &k], vec![a, b])),
        1 => (key_of("z"), -2i64..2, -2i64..2).prop_map(|(k, a, b)| {
            cmd(&["ZREMRANGEBYRANK", &k], vec![a.to_string(), b.to_string()])
        }),
        // A script's writes reach replicas as the commands it ran (in MULTI/EXEC when two or more); a
        // WRONGTYPE halfway leaves its first write done, on every node alike.
        2 => (skey(), key_of("l"), value).prop_map(|(k, l, v)| {
            let body = "redis.call('SET', KEYS[1], ARGV[1]) redis.call('RPUSH', KEYS[2], ARGV[1]) \
                        return redis.call('INCR', 'counter')";
            cmd(&["EVAL", body, "2", &k, &l], vec![v.to_string()])
        }),
    ]
}

fn write_cmd() -> impl Strategy<Value = Vec<String>> {
    let value = "[a-z0-9]{0,8}";
    prop_oneof![
        4 => (skey(), value).prop_map(|(k, v)| vec!["SET".into(), k, v]),
        2 => (skey(), value, 1u64..3000).prop_map(|(k, v, ms)| vec!["SET".into(), k, v, "PX".into(), ms.to_string()]),
        1 => (skey(), value).prop_map(|(k, v)| vec!["SET".into(), k, v, "NX".into()]),
        1 => (skey(), value).prop_map(|(k, v)| vec!["SET".into(), k, v, "KEEPTTL".into()]),
        2 => skey().prop_map(|k| vec!["DEL".into(), k]),
        2 => Just(vec!["INCR".into(), "counter".into()]),
        1 => (skey(), -5i64..5).prop_map(|(k, n)| vec!["INCRBY".into(), k, n.to_string()]),
        2 => (skey(), value).prop_map(|(k, v)| vec!["APPEND".into(), k, v]),
        1 => (skey(), 1u64..3000).prop_map(|(k, ms)| vec!["PEXPIRE".into(), k, ms.to_string()]),
        1 => skey().prop_map(|k| vec!["PERSIST".into(), k]),
        1 => skey().prop_map(|k| vec!["GETDEL".into(), k]),
        1 => skey().prop_map(|k| vec!["UNLINK".into(), k]),
        1 => (skey(), skey()).prop_map(|(a, b)| vec!["RENAME".into(), a, b]),
        1 => (skey(), skey()).prop_map(|(a, b)| vec!["RENAMENX".into(), a, b]),
        1 => (skey(), skey()).prop_map(|(a, b)| vec!["COPY".into(), a, b]),
        1 => (skey(), skey()).prop_map(|(a, b)| vec!["COPY".into(), a, b, "REPLACE".into()]),
        1 => (skey(), value, skey(), value).prop_map(|(k1, v1, k2, v2)| vec!["MSET".into(), k1, v1, k2, v2]),
        1 => skey().prop_map(|k| vec!["GET".into(), k]),
        1 => (skey(), "[a-z]{1,4}").prop_map(|(c, m)| vec!["PUBLISH".into(), c, m]),
        24 => aggregate_cmd(),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        12 => write_cmd().prop_map(Op::Cmd),
        2 => prop::collection::vec(write_cmd(), 1..4).prop_map(Op::Tx),
        1 => (0usize..2).prop_map(Op::KillLink),
        1 => (0usize..2).prop_map(Op::FullResync),
        2 => (1u64..1500).prop_map(Op::Pause),
        1 => Just(Op::Cmd(vec!["FLUSHALL".into()])),
    ]
}

fn run_workload(seed: u64, ops: Vec<Op>) -> Result<(), String> {
    let mut sim = redsim::sim_builder(seed, &network(2))
        .simulation_duration(Duration::from_secs(120))
        .build();
    let mut cluster = deployment(seed, 2, 2).install(&mut sim);
    // No node is restarted here: the nodes that started at install are the ones the workload ends on.
    let s: Vec<_> = cluster
        .redis_hosts()
        .iter()
        .map(|h| cluster.node(h).expect("started at install"))
        .collect();
    let failure = std::rc::Rc::new(std::cell::RefCell::new(None::<String>));
    let f = failure.clone();
    cluster.client(&mut sim, "app", async move {
        links_up(2).await;
        let mut m = connect("redis-1").await;
        for op in ops {
            match op {
                Op::Cmd(args) => {
                    let a: Vec<&str> = args.iter().map(String::as_str).collect();
                    m.call(&a).await?;
                }
                Op::Tx(cmds) => {
                    m.call(&["MULTI"]).await?;
                    for args in &cmds {
                        let a: Vec<&str> = args.iter().map(String::as_str).collect();
                        m.call(&a).await?;
                    }
                    m.call(&["EXEC"]).await?;
                }
                Op::KillLink(i) => {
                    let mut r = connect(&format!("redis-{}", i + 2)).await;
                    r.call(&["CLIENT", "KILL", "TYPE", "master"]).await?;
                }
                Op::FullResync(i) => {
                    let mut r = connect(&format!("redis-{}", i + 2)).await;
                    r.call(&["REPLICAOF", "NO", "ONE"]).await?;
                    r.call(&["REPLICAOF", "redis-1", &PORT.to_string()]).await?;
                }
                Op::Pause(ms) => sleep(Duration::from_millis(ms)).await,
            }
        }
        // Quiescence: links re-established, the last writes streamed and acknowledged, expiries propagated.
        sleep(Duration::from_secs(4)).await;
        let master = &s[0];
        for r in &s[1..] {
            if r.digest() != master.digest() || r.repl_offset() != master.repl_offset() {
                *f.borrow_mut() = Some(format!(
                    "{} diverged: offset {} vs master {}\n replica {:?}\n master  {:?}",
                    r.name(),
                    r.repl_offset(),
                    master.repl_offset(),
                    r.digest(),
                    master.digest()
                ));
            }
        }
        Ok(())
    });
    cluster.run(&mut sim).map_err(|e| e.to_string())?;
    match failure.borrow_mut().take() {
        Some(msg) => Err(msg),
        None => Ok(()),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases()))]

    #[test]
    fn replicas_converge_to_the_master(seed in any::<u64>(), ops in prop::collection::vec(op(), 1..40)) {
        if let Err(e) = run_workload(seed, ops) {
            return Err(TestCaseError::fail(e));
        }
    }
}

/// Valid requests that mutations start from.
const SEEDS: &[&[u8]] = &[
    b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n",
    b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n",
    b"*4\r\n$4\r\nHSET\r\n$1\r\nh\r\n$1\r\nf\r\n$1\r\nv\r\n",
    b"*4\r\n$6\r\nLRANGE\r\n$1\r\nl\r\n$1\r\n0\r\n$2\r\n-1\r\n",
    b"*3\r\n$4\r\nSPOP\r\n$1\r\ns\r\n$1\r\n3\r\n",
    b"*5\r\n$5\r\nHSCAN\r\n$1\r\nh\r\n$1\r\n0\r\n$5\r\nCOUNT\r\n$1\r\n1\r\n",
    b"*1\r\n$4\r\nPING\r\n",
    b"PING\r\n",
    b"set a \"b c\"\r\n",
    b"*2\r\n$4\r\nINCR\r\n$1\r\nn\r\n",
    b"*3\r\n$6\r\nCLIENT\r\n$7\r\nSETNAME\r\n$1\r\nx\r\n",
    b"*1\r\n$5\r\nMULTI\r\n*1\r\n$4\r\nEXEC\r\n",
    b"*4\r\n$6\r\nCONFIG\r\n$3\r\nSET\r\n$17\r\nrepl-backlog-size\r\n$3\r\n1mb\r\n",
];

fn input() -> impl Strategy<Value = Vec<u8>> {
    let mutated = (
        prop::sample::select(SEEDS),
        prop::collection::vec((any::<usize>(), any::<u8>(), 0u8..4), 0..6),
    )
        .prop_map(|(seed, edits)| {
            let mut b = seed.to_vec();
            for (pos, byte, kind) in edits {
                let i = if b.is_empty() { 0 } else { pos % b.len() };
                match kind {
                    0 if !b.is_empty() => b[i] = byte,
                    1 => b.insert(i.min(b.len()), byte),
                    2 if !b.is_empty() => {
                        b.remove(i);
                    }
                    _ => b.truncate(i),
                }
            }
            b
        });
    prop_oneof![
        1 => prop::collection::vec(any::<u8>(), 0..200),
        1 => prop::collection::vec(prop::sample::select(b"*$:+-\r\n0123456789 abcPINGSET\"'\\".to_vec()), 0..120),
        3 => prop::collection::vec(mutated, 1..4).prop_map(|v| v.concat()),
    ]
}

/// Whether `bytes` is a sequence of complete, valid RESP replies (RESP2, or RESP3 after a HELLO 3 slipped in).
fn valid_resp_stream(mut bytes: &[u8]) -> Result<(), String> {
    while !bytes.is_empty() {
        let n = match redis_protocol::resp2::decode::decode(bytes) {
            Ok(Some((_, n))) => n,
            _ => match redis_protocol::resp3::decode::complete::decode(bytes) {
                Ok(Some((_, n))) => n,
                other => {
                    return Err(format!(
                        "invalid or incomplete reply {:?}: {other:?}",
                        String::from_utf8_lossy(bytes)
                    ));
                }
            },
        };
        bytes = &bytes[n..];
    }
    Ok(())
}

fn run_fuzz(seed: u64, input: Vec<u8>) -> Result<(), String> {
    let mut sim = redsim::sim_builder(seed, &network(1))
        .simulation_duration(Duration::from_secs(30))
        .build();
    let mut cluster = deployment(seed, 0, 1).install(&mut sim);
    let failure = std::rc::Rc::new(std::cell::RefCell::new(None::<String>));
    let f = failure.clone();
    cluster.client(&mut sim, "fuzzer", async move {
        let mut stream = Net::Turmoil.connect("redis-1", PORT).await?;
        let mut received = BytesMut::new();
        {
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            stream.write_all(&input).await?;
            // Read until the node closes the connection or stays quiet for a second.
            while let Ok(Ok(n)) = tokio::time::timeout(Duration::from_secs(1), stream.read_buf(&mut received)).await {
                if n == 0 || received.len() > 1 << 20 {
                    break;
                }
            }
        }
        // A node blocked on WAIT or waiting for more input holds only this connection: trim a trailing partial
        // reply only if the node is still reading (nothing after the last complete frame was cut by a close).
        if let Err(e) = valid_resp_stream(&received) {
            *f.borrow_mut() = Some(e);
        }
        let mut probe = RespConn::connect(Net::Turmoil, "redis-1", PORT, Duration::from_secs(2)).await?;
        match probe.call(&["PING"]).await {
            Ok(r) if r == Reply::Simple("PONG".into()) || r.is_error() => {}
            other => *f.borrow_mut() = Some(format!("node no longer answers: {other:?}")),
        }
        Ok(())
    });
    cluster
        .run(&mut sim)
        .map_err(|e| format!("simulation failed (a panic in the node?): {e}"))?;
    match failure.borrow_mut().take() {
        Some(msg) => Err(msg),
        None => Ok(()),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases() * 4))]

    #[test]
    fn no_input_breaks_a_node(seed in any::<u64>(), input in input()) {
        if let Err(e) = run_fuzz(seed, input) {
            return Err(TestCaseError::fail(e));
        }
    }
}

/// SPOP picks at random, so replicas must get the members it took, not the command: each form in turn, then a
/// comparison (a replica running SPOP itself would pick other members and diverge).
#[test]
fn spop_reaches_replicas_as_its_effect() {
    let c = |parts: &[&str]| Op::Cmd(parts.iter().map(|p| p.to_string()).collect());
    let ops = vec![
        c(&["SADD", "s", "a", "b", "c", "d", "e", "f"]),
        c(&["SPOP", "s"]),
        c(&["SPOP", "s", "2"]),
        c(&["SADD", "t", "1", "2"]),
        c(&["SPOP", "t", "5"]),
    ];
    if let Err(e) = run_workload(7, ops) {
        panic!("{e}");
    }
}
