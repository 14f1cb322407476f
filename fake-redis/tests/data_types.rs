//! Hashes, lists, sets and sorted sets inside the simulation: what the differential scripts cannot show against a single
//! real server (replication of every type, through a full resync; SCAN cursors over a converted hash; the
//! seeded choices of SPOP; expiry of an aggregate on master and replica).

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use common::*;
use redsim_fake_redis::{Reply, RespConn, Value};
use tokio::time::sleep;

async fn call(c: &mut RespConn, args: &[&str]) -> Reply {
    c.call(args).await.expect("reply")
}

fn texts(r: &Reply) -> Vec<String> {
    match r {
        Reply::Array(items) | Reply::Set(items) => items.iter().filter_map(Reply::as_text).collect(),
        Reply::Map(pairs) => pairs
            .iter()
            .flat_map(|(k, v)| [k.as_text(), v.as_text()])
            .flatten()
            .collect(),
        other => panic!("not a list of strings: {other:?}"),
    }
}

#[test]
fn every_type_reaches_replicas_in_order_through_stream_and_full_resync() -> turmoil::Result {
    let mut sim = redsim::sim_builder(31, &network(1))
        .simulation_duration(Duration::from_secs(60))
        .build();
    let mut cluster = deployment(31, 1, 1).install(&mut sim);
    let nodes: Vec<_> = cluster
        .redis_hosts()
        .iter()
        .map(|h| cluster.node(h).expect("up"))
        .collect();
    cluster.client(&mut sim, "app", async move {
        links_up(1).await;
        let mut m = connect("redis-1").await;
        for args in [
            &["HSET", "h", "z", "1", "a", "2", "m", "3"][..],
            &["HDEL", "h", "a"],
            &["HSET", "h", "a", "4"],
            &["RPUSH", "l", "x", "y", "z"],
            &["LMOVE", "l", "l2", "LEFT", "RIGHT"],
            &["SADD", "s", "3", "1", "2"],
            &["SADD", "words", "b", "a"],
            &["SPOP", "words"],
            &["PEXPIRE", "h", "100000"],
        ] {
            call(&mut m, args).await;
        }
        sleep(Duration::from_millis(200)).await;
        let mut r = connect("redis-2").await;
        let want = texts(&call(&mut m, &["HGETALL", "h"]).await);
        assert_eq!(
            want,
            ["z", "1", "m", "3", "a", "4"],
            "listpack order: first insertion, a deleted field last"
        );
        assert_eq!(texts(&call(&mut r, &["HGETALL", "h"]).await), want, "streamed");
        // A new replication id makes the replica resynchronise in full, from the snapshot.
        call(&mut r, &["REPLICAOF", "NO", "ONE"]).await;
        call(&mut r, &["REPLICAOF", "redis-1", &PORT.to_string()]).await;
        links_up(1).await;
        let mut r = connect("redis-2").await;
        assert_eq!(
            texts(&call(&mut r, &["HGETALL", "h"]).await),
            want,
            "after a full resync"
        );
        assert_eq!(
            texts(&call(&mut r, &["SMEMBERS", "s"]).await),
            ["1", "2", "3"],
            "an intset, in numeric order"
        );
        assert_eq!(texts(&call(&mut r, &["LRANGE", "l2", "0", "-1"]).await), ["x"]);
        assert_eq!(call(&mut r, &["OBJECT", "ENCODING", "s"]).await, Reply::text("intset"));
        assert!(matches!(call(&mut r, &["PTTL", "h"]).await, Reply::Int(ms) if ms > 90_000));
        Ok(())
    });
    cluster.run(&mut sim)?;
    let (master, replica) = (nodes[0].digest(), nodes[1].digest());
    assert_eq!(master, replica);
    let kinds: Vec<&str> = master
        .iter()
        .map(|(_, v, _)| match v {
            Value::Hash(_) => "hash",
            Value::List(_) => "list",
            Value::Set(_) => "set",
            Value::String(_) => "string",
            _ => "other",
        })
        .collect();
    assert_eq!(kinds, ["hash", "list", "list", "set", "set"]);
    Ok(())
}

#[test]
fn hscan_over_a_converted_hash_returns_each_field_once_while_it_changes() -> turmoil::Result {
    let mut sim = redsim::sim_builder(32, &network(1))
        .simulation_duration(Duration::from_secs(60))
        .build();
    let mut cluster = deployment(32, 0, 1).install(&mut sim);
    cluster.client(&mut sim, "app", async move {
        let mut m = connect("redis-1").await;
        let mut args = vec!["HSET".to_string(), "big".into()];
        for i in 0..300 {
            args.extend([format!("f{i}"), i.to_string()]);
        }
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        assert_eq!(call(&mut m, &refs).await, Reply::Int(300));
        assert_eq!(
            call(&mut m, &["OBJECT", "ENCODING", "big"]).await,
            Reply::text("hashtable")
        );
        let (mut cursor, mut seen, mut calls) = ("0".to_string(), Vec::new(), 0);
        loop {
            let r = call(&mut m, &["HSCAN", "big", &cursor, "COUNT", "7"]).await;
            let Reply::Array(parts) = r else { panic!("{r:?}") };
            cursor = parts[0].as_text().expect("cursor");
            seen.extend(texts(&parts[1]).into_iter().step_by(2));
            calls += 1;
            // Fields added during the walk may or may not be returned; the 300 that stay must be, once each.
            call(&mut m, &["HSET", "big", &format!("new{calls}"), "x"]).await;
            if cursor == "0" {
                break;
            }
        }
        let old: Vec<&String> = seen.iter().filter(|f| f.starts_with('f')).collect();
        let distinct: BTreeSet<&String> = old.iter().copied().collect();
        assert_eq!((old.len(), distinct.len()), (300, 300), "each field exactly once");
        assert!(calls > 300 / 7, "COUNT bounds each call: {calls} calls");
        // A small hash answers in one call, whatever COUNT says, as a listpack does.
        call(&mut m, &["HSET", "small", "a", "1", "b", "2", "c", "3"]).await;
        let r = call(&mut m, &["HSCAN", "small", "0", "COUNT", "1"]).await;
        let Reply::Array(parts) = r else { panic!("{r:?}") };
        assert_eq!(parts[0], Reply::text("0"));
        assert_eq!(texts(&parts[1]), ["a", "1", "b", "2", "c", "3"]);
        Ok(())
    });
    cluster.run(&mut sim)
}

/// What SPOP and SRANDMEMBER chose, on a fresh node from `seed`.
fn random_picks(seed: u64) -> Vec<String> {
    let mut sim = redsim::sim_builder(seed, &network(1))
        .simulation_duration(Duration::from_secs(60))
        .build();
    let mut cluster = deployment(seed, 0, 1)
        .node_config(move |c| {
            node_defaults(c);
            c.seed = seed;
        })
        .install(&mut sim);
    let picks = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
    let out = picks.clone();
    cluster.client(&mut sim, "app", async move {
        let mut m = connect("redis-1").await;
        let members: Vec<String> = (0..50).map(|i| format!("m{i}")).collect();
        let mut sadd = vec!["SADD", "s"];
        sadd.extend(members.iter().map(String::as_str));
        call(&mut m, &sadd).await;
        let mut got = texts(&call(&mut m, &["SRANDMEMBER", "s", "5"]).await);
        got.extend(texts(&call(&mut m, &["SRANDMEMBER", "s", "-5"]).await));
        got.extend(texts(&call(&mut m, &["SPOP", "s", "5"]).await));
        got.push(call(&mut m, &["SPOP", "s"]).await.as_text().expect("a member"));
        assert_eq!(call(&mut m, &["SCARD", "s"]).await, Reply::Int(44));
        out.borrow_mut().extend(got);
        Ok(())
    });
    cluster.run(&mut sim).expect("run");
    picks.borrow().clone()
}

#[test]
fn random_picks_repeat_with_the_seed_and_change_with_it() {
    let a = random_picks(5);
    assert_eq!(a.len(), 16);
    assert_eq!(a, random_picks(5), "same seed, same picks");
    assert_ne!(a, random_picks(6), "another seed, other picks");
}

#[test]
fn an_expired_aggregate_is_gone_on_master_and_replica() -> turmoil::Result {
    let mut sim = redsim::sim_builder(33, &network(1))
        .simulation_duration(Duration::from_secs(60))
        .build();
    let mut cluster = deployment(33, 1, 1).install(&mut sim);
    cluster.client(&mut sim, "app", async move {
        links_up(1).await;
        let mut m = connect("redis-1").await;
        call(&mut m, &["RPUSH", "q", "job"]).await;
        call(&mut m, &["SADD", "tags", "a"]).await;
        assert_eq!(call(&mut m, &["PEXPIRE", "q", "300"]).await, Reply::Int(1));
        assert_eq!(call(&mut m, &["EXPIRE", "tags", "1", "NX"]).await, Reply::Int(1));
        sleep(Duration::from_millis(1500)).await;
        let mut r = connect("redis-2").await;
        for c in [&mut m, &mut r] {
            assert_eq!(call(c, &["EXISTS", "q", "tags"]).await, Reply::Int(0));
            assert_eq!(call(c, &["TYPE", "q"]).await, Reply::Simple("none".into()));
        }
        Ok(())
    });
    cluster.run(&mut sim)
}

/// A sorted set's writes reach a replica by the stream, and its scores (with their 17-digit texts) and its
/// encoding survive a full resync: a skiplist keeps `-0`, a listpack turns it into `0`.
#[test]
fn sorted_sets_reach_replicas_with_their_scores_through_stream_and_full_resync() -> turmoil::Result {
    let mut sim = redsim::sim_builder(32, &network(1))
        .simulation_duration(Duration::from_secs(60))
        .build();
    let mut cluster = deployment(32, 1, 1).install(&mut sim);
    let nodes: Vec<_> = cluster
        .redis_hosts()
        .iter()
        .map(|h| cluster.node(h).expect("up"))
        .collect();
    cluster.client(&mut sim, "app", async move {
        links_up(1).await;
        let mut m = connect("redis-1").await;
        let members: Vec<String> = (0..140).map(|i| format!("m{i:03}")).collect();
        let mut big = vec!["ZADD".to_string(), "big".into()];
        for (i, mem) in members.iter().enumerate() {
            big.extend([i.to_string(), mem.clone()]);
        }
        let big: Vec<&str> = big.iter().map(String::as_str).collect();
        for args in [
            &["ZADD", "z", "0.1", "a", "2", "b", "3", "c", "-0", "zero", "5", "d"][..],
            &["ZINCRBY", "z", "0.2", "a"],
            &["ZADD", "z", "GT", "1", "b"],
            &["ZPOPMAX", "z"],
            &["ZREMRANGEBYSCORE", "z", "(2.5", "3"],
            &big,
            &["ZADD", "big", "-0", "negzero"],
            &["ZPOPMAX", "big", "2"],
            &["ZREM", "big", "m100"],
        ] {
            call(&mut m, args).await;
        }
        sleep(Duration::from_millis(200)).await;
        let want = texts(&call(&mut m, &["ZRANGE", "z", "0", "-1", "WITHSCORES"]).await);
        assert_eq!(
            want,
            ["zero", "0", "a", "0.30000000000000004", "b", "2"],
            "0.1 + 0.2, in %.17g; -0 stored as 0 in a listpack"
        );
        let mut r = connect("redis-2").await;
        assert_eq!(
            texts(&call(&mut r, &["ZRANGE", "z", "0", "-1", "WITHSCORES"]).await),
            want,
            "streamed"
        );
        call(&mut r, &["REPLICAOF", "NO", "ONE"]).await;
        call(&mut r, &["REPLICAOF", "redis-1", &PORT.to_string()]).await;
        links_up(1).await;
        let mut r = connect("redis-2").await;
        assert_eq!(
            texts(&call(&mut r, &["ZRANGE", "z", "0", "-1", "WITHSCORES"]).await),
            want,
            "after a full resync"
        );
        assert_eq!(call(&mut r, &["ZCARD", "big"]).await, Reply::Int(138));
        assert_eq!(
            call(&mut r, &["OBJECT", "ENCODING", "big"]).await,
            Reply::text("skiplist")
        );
        assert_eq!(
            call(&mut r, &["ZSCORE", "big", "negzero"]).await,
            Reply::Bulk("-0".into())
        );
        assert_eq!(
            call(&mut r, &["ZSCORE", "big", "m139"]).await,
            Reply::Nil,
            "popped on the master"
        );
        Ok(())
    });
    cluster.run(&mut sim)?;
    assert_eq!(nodes[0].digest(), nodes[1].digest());
    Ok(())
}
