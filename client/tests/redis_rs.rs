//! redis-rs code (`AsyncCommands`, `redis::pipe()`, `redis::cmd()`) running through the routing client, against
//! fake Redis nodes and fake Sentinels inside turmoil. Where a command ran comes from the nodes' execution logs,
//! by client name, never from what the client says. Built only with the `redis-rs` feature (`required-features`
//! in Cargo.toml; `cargo test --workspace` enables it through the root package's dev-dependencies).

mod support;

use std::time::Duration;

use redis::{AsyncCommands, ErrorKind, ServerErrorKind, Value};
use redsim::{Deployment, Fault};
use redsim_client::{Client, ReadPolicy};
use redsim_fake_redis::{ExecLog, LogEntry, Role};
use support::*;

const SEC: Duration = Duration::from_secs(1);

/// Every command a client called `client` sent through redis-rs, in execution order: all it ran but the
/// handshake that verifies each new connection (`CLIENT SETNAME`, `ROLE`).
fn by(log: &ExecLog, client: &str) -> Vec<LogEntry> {
    log.entries()
        .into_iter()
        .filter(|e| e.client_name.as_deref() == Some(client) && !e.is("CLIENT") && !e.is("ROLE"))
        .collect()
}

/// Where each `name` command of `client` ran: (node, role).
fn ran_on(log: &ExecLog, client: &str, name: &str) -> Vec<(String, Role)> {
    by(log, client)
        .into_iter()
        .filter(|e| e.name() == name)
        .map(|e| (e.node, e.role))
        .collect()
}

/// Reads `key` through redis-rs until it holds `want` (a replica may lag the write by a round trip).
async fn read_until(con: &mut Client, key: &[u8], want: &[u8]) -> redis::RedisResult<Vec<u8>> {
    let mut got = Vec::new();
    for _ in 0..50 {
        got = con.get::<_, Option<Vec<u8>>>(key).await?.unwrap_or_default();
        if got == want {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    Ok(got)
}

#[test]
fn async_commands_round_trip_binary_bytes_writing_on_the_master_and_reading_on_a_replica() {
    let topo = Topology::default();
    let mut sim = redsim::sim(61);
    let mut cluster = Deployment::new(topo.clone()).seed(61).install(&mut sim);
    let value: Vec<u8> = (0..=255u8).collect();
    let key: &[u8] = b"bin\x00\r\nkey";
    let v = value.clone();
    cluster.client(&mut sim, "app", async move {
        assert!(wait_discovery(&topo, 30 * SEC).await);
        let c = client("rr-bin", 1).build()?;
        // Through `&mut Client`: on a `Client` value the inherent typed `get`/`set` would be found first.
        let con = &mut c.clone();
        con.set::<_, _, ()>(key, v.as_slice()).await?;
        let got = read_until(con, key, &v).await?;
        assert_eq!(got, v, "every byte, CR LF and NUL included, comes back as written");
        Ok(())
    });
    cluster.run(&mut sim).unwrap();
    let sets = ran_on(cluster.exec_log(), "rr-bin", "SET");
    assert_eq!(sets, vec![("redis-1".to_string(), Role::Master)]);
    let gets = ran_on(cluster.exec_log(), "rr-bin", "GET");
    assert!(
        !gets.is_empty() && gets.iter().all(|(_, role)| *role == Role::Replica),
        "{gets:?}"
    );
    // The node saw the key with its NUL and CR LF (the log shows arguments as lossy UTF-8).
    let set = by(cluster.exec_log(), "rr-bin")
        .into_iter()
        .find(|e| e.name() == "SET")
        .unwrap();
    assert_eq!(set.command[1], "bin\0\r\nkey");
    assert_eq!(value.len(), 256);
}

#[test]
fn redis_pipelines_route_as_a_unit_and_atomic_ones_run_multi_exec_on_the_master() {
    let topo = Topology::default();
    let mut sim = redsim::sim(62);
    let mut cluster = Deployment::new(topo.clone()).seed(62).install(&mut sim);
    cluster.client(&mut sim, "app", async move {
        assert!(wait_discovery(&topo, 30 * SEC).await);
        let setup = &mut client("rr-setup", 2).build()?;
        setup.mset::<_, _, ()>(&[("a", "1"), ("b", "x")]).await?;
        assert_eq!(read_until(setup, b"b", b"x").await?, b"x");

        let mut reader = client("rr-reads", 3).build()?;
        let (a, b): (String, String) = redis::pipe().get("a").get("b").query_async(&mut reader).await?;
        assert_eq!((a.as_str(), b.as_str()), ("1", "x"));

        let mut mixed = client("rr-mixed", 4).build()?;
        let (a,): (i64,) = redis::pipe()
            .set("c", 3)
            .ignore()
            .get("a")
            .query_async(&mut mixed)
            .await?;
        assert_eq!(a, 1);

        let mut atomic = client("rr-atomic", 5).build()?;
        let (n, b): (i64, String) = redis::pipe()
            .atomic()
            .incr("n", 1)
            .get("b")
            .query_async(&mut atomic)
            .await?;
        assert_eq!((n, b.as_str()), (1, "x"));
        // `ignore` inside a transaction drops EXEC's element, not a skipped reply.
        let (b,): (String,) = redis::pipe()
            .atomic()
            .incr("n", 1)
            .ignore()
            .get("b")
            .query_async(&mut atomic)
            .await?;
        assert_eq!(b, "x");
        Ok(())
    });
    cluster.run(&mut sim).unwrap();
    let reads = by(cluster.exec_log(), "rr-reads");
    assert_eq!(reads.len(), 2, "{reads:?}");
    assert!(
        reads
            .iter()
            .all(|e| e.name() == "GET" && e.role == Role::Replica && e.node == reads[0].node),
        "a pipeline of reads runs on one replica: {reads:?}"
    );
    let mixed: Vec<_> = by(cluster.exec_log(), "rr-mixed")
        .into_iter()
        .map(|e| (e.name(), e.role))
        .collect();
    assert_eq!(
        mixed,
        vec![("SET".to_string(), Role::Master), ("GET".to_string(), Role::Master)],
        "a pipeline with a write runs on the master, reads included"
    );
    let atomic = by(cluster.exec_log(), "rr-atomic");
    assert_eq!(
        atomic.iter().map(|e| e.name()).collect::<Vec<_>>(),
        // redis-rs's `incr` sends INCRBY.
        ["MULTI", "INCRBY", "GET", "EXEC", "MULTI", "INCRBY", "GET", "EXEC"],
        "each atomic pipeline is one MULTI ... EXEC"
    );
    assert!(
        atomic.iter().all(|e| e.node == "redis-1" && e.role == Role::Master),
        "transactions run on the master, their reads included: {atomic:?}"
    );
    assert_eq!(atomic[5].reply, "(integer) 2", "the second transaction ran");
}

#[test]
fn redis_cmd_query_async_routes_by_the_command_name() {
    let topo = Topology::default();
    let mut sim = redsim::sim(63);
    let mut cluster = Deployment::new(topo.clone()).seed(63).install(&mut sim);
    cluster.client(&mut sim, "app", async move {
        assert!(wait_discovery(&topo, 30 * SEC).await);
        let con = &mut client("rr-cmd", 6).build()?;
        let ok: String = redis::cmd("SET")
            .arg("k")
            .arg(b"v\x00".as_slice())
            .query_async(con)
            .await?;
        assert_eq!(ok, "OK");
        let pong: String = redis::cmd("PING").query_async(con).await?;
        assert_eq!(pong, "PONG");
        tokio::time::sleep(Duration::from_millis(100)).await;
        let v: Vec<u8> = redis::cmd("get").arg("k").query_async(con).await?;
        assert_eq!(v, b"v\x00");
        let n: i64 = redis::cmd("EXISTS").arg("k").arg("nope").query_async(con).await?;
        assert_eq!(n, 1);
        let missing: Option<String> = redis::cmd("GET").arg("nope").query_async(con).await?;
        assert_eq!(missing, None);
        Ok(())
    });
    cluster.run(&mut sim).unwrap();
    let log: Vec<_> = by(cluster.exec_log(), "rr-cmd")
        .into_iter()
        .map(|e| (e.name(), e.role))
        .collect();
    assert_eq!(
        log,
        vec![
            ("SET".to_string(), Role::Master),
            ("PING".to_string(), Role::Master),
            ("GET".to_string(), Role::Replica),
            ("EXISTS".to_string(), Role::Replica),
            ("GET".to_string(), Role::Replica),
        ],
        "reads (any case) on a replica, everything else on the master"
    );
}

#[test]
fn server_error_replies_get_redis_rs_error_kinds() {
    let topo = Topology::default();
    let mut sim = redsim::sim(64);
    let mut cluster = Deployment::new(topo.clone()).seed(64).install(&mut sim);
    cluster.client(&mut sim, "app", async move {
        assert!(wait_discovery(&topo, 30 * SEC).await);
        let con = &mut client("rr-errors", 7).build()?;
        con.set::<_, _, ()>("s", "not a number").await?;

        // A top-level error reply is the call's error, classified by redis-rs.
        let e = con.incr::<_, _, i64>("s", 1).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Server(ServerErrorKind::ResponseError), "{e}");
        assert_eq!(e.code(), Some("ERR"));
        assert!(e.to_string().contains("value is not an integer or out of range"), "{e}");
        let e = redis::cmd("NOSUCHCOMMAND").query_async::<Value>(con).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Server(ServerErrorKind::ResponseError), "{e}");

        // Inside a plain pipeline, the error stays with its command.
        let e = redis::pipe()
            .get("s")
            .incr("s", 1)
            .query_async::<Value>(con)
            .await
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Server(ServerErrorKind::ResponseError), "{e}");
        let failed = e.into_server_errors().expect("per-command errors");
        assert_eq!(failed.iter().map(|(i, _)| *i).collect::<Vec<_>>(), vec![1]);
        let each: Vec<redis::RedisResult<Value>> = redis::pipe()
            .get("s")
            .incr("s", 1)
            .ignore_errors()
            .query_async(con)
            .await?;
        assert_eq!(
            each[0].as_ref().ok(),
            Some(&Value::BulkString(b"not a number".to_vec()))
        );
        assert!(each[1].is_err());

        // A command refused while queueing aborts the whole transaction.
        let e = redis::pipe()
            .atomic()
            .set("t", 1)
            .cmd("GET")
            .query_async::<Value>(con)
            .await
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Server(ServerErrorKind::ExecAbort), "{e}");
        assert!(
            e.to_string()
                .contains("command 1: ERR wrong number of arguments for 'get' command"),
            "{e}"
        );
        Ok(())
    });
    cluster.run(&mut sim).unwrap();
    let sets: Vec<_> = by(cluster.exec_log(), "rr-errors")
        .into_iter()
        .filter(|e| e.name() == "SET")
        .collect();
    assert!(
        sets.iter().all(|e| e.command[1] != "t"),
        "nothing of an aborted transaction ran: {sets:?}"
    );
    let incrs = ran_on(cluster.exec_log(), "rr-errors", "INCRBY");
    assert!(
        !incrs.is_empty() && incrs.iter().all(|(_, r)| *r == Role::Master),
        "{incrs:?}"
    );
}

#[test]
fn no_replica_available_surfaces_as_a_redis_error_naming_it() {
    let topo = Topology {
        replicas: 1,
        ..Topology::default()
    };
    let mut sim = redsim::sim(65);
    let mut cluster = Deployment::new(topo.clone()).seed(65).install(&mut sim);
    let f = cluster.fault_handle();
    cluster.client(&mut sim, "app", async move {
        assert!(wait_discovery(&topo, 30 * SEC).await);
        let con = &mut client("rr-lonely", 8).read_policy(ReadPolicy::ReplicaOnly).build()?;
        let _: Option<String> = con.get("k").await?;
        f.request(Fault::Crash("redis-2".into()));
        tokio::time::sleep(Duration::from_millis(50)).await;
        let e = con.get::<_, Option<String>>("k").await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::NoValidReplicasFoundBySentinel, "{e}");
        let text = e.to_string();
        assert!(
            text.contains("NoReplicaAvailable") && text.contains("no replica available"),
            "{text}"
        );
        // Writes still go to the master.
        con.set::<_, _, ()>("k", "v").await?;
        Ok(())
    });
    cluster.run(&mut sim).unwrap();
    let gets = ran_on(cluster.exec_log(), "rr-lonely", "GET");
    assert!(
        gets.iter().all(|(_, r)| *r == Role::Replica),
        "never the master: {gets:?}"
    );
    assert_eq!(
        ran_on(cluster.exec_log(), "rr-lonely", "SET"),
        vec![("redis-1".to_string(), Role::Master)]
    );
}

#[test]
fn redis_rs_reads_survive_a_crashed_replica_without_an_error() {
    let topo = Topology::default();
    let mut sim = redsim::sim(66);
    let mut cluster = Deployment::new(topo.clone()).seed(66).install(&mut sim);
    let (f, exec) = (cluster.fault_handle(), cluster.exec_log().clone());
    let outcome = std::rc::Rc::new(std::cell::RefCell::new((0usize, 0usize, String::new())));
    let out = outcome.clone();
    cluster.client(&mut sim, "app", async move {
        assert!(wait_discovery(&topo, 30 * SEC).await);
        let con = &mut client("rr-survivor", 9)
            .command_timeout(Duration::from_millis(300))
            .build()?;
        con.set::<_, _, ()>("k", "v").await?;
        assert_eq!(read_until(con, b"k", b"v").await?, b"v");
        let victim = ran_on(&exec, "rr-survivor", "GET")
            .last()
            .map(|(node, _)| node.clone())
            .unwrap_or_default();
        f.request(Fault::Crash(victim.clone()));
        let (mut ok, mut errors) = (0, 0);
        for _ in 0..20 {
            tokio::time::sleep(Duration::from_millis(100)).await;
            match con.get::<_, String>("k").await {
                Ok(v) if v == "v" => ok += 1,
                _ => errors += 1,
            }
        }
        *out.borrow_mut() = (ok, errors, victim);
        Ok(())
    });
    cluster.run(&mut sim).unwrap();
    let (ok, errors, victim) = outcome.borrow().clone();
    assert_eq!((ok, errors), (20, 0), "no read fails while another replica is healthy");
    let gets = ran_on(cluster.exec_log(), "rr-survivor", "GET");
    let after: Vec<_> = gets.iter().rev().take(20).collect();
    assert!(
        after
            .iter()
            .all(|(node, role)| *role == Role::Replica && *node != victim),
        "reads after the crash ran on the other replica: {after:?}"
    );
}
