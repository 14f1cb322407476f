//! Lua scripts inside the simulation: what the differential scripts cannot show against one real server. A
//! script's writes reach replicas as the commands it ran (Redis 7.0's effects replication), so a replica holds
//! the master's value even where the script chose it at random; a replica refuses a script's write but runs a
//! read-only script; the execution log shows a script's reads as reads; the cache and the errors behave; and a
//! script that never ends is stopped without stopping the node.

mod common;

use std::time::Duration;

use common::*;
use redsim_fake_redis::{Reply, RespConn};
use tokio::time::sleep;

async fn call(c: &mut RespConn, args: &[&str]) -> Reply {
    c.call(args).await.expect("reply")
}

fn error_text(r: &Reply) -> String {
    match r {
        Reply::Error(e) => e.clone(),
        other => panic!("not an error: {other:?}"),
    }
}

#[test]
fn a_scripts_writes_reach_replicas_as_the_commands_it_ran() -> turmoil::Result {
    let mut sim = redsim::sim_builder(41, &network(1))
        .simulation_duration(Duration::from_secs(30))
        .build();
    let mut cluster = deployment(41, 1, 1).install(&mut sim);
    cluster.client(&mut sim, "app", async move {
        links_up(1).await;
        let mut m = connect("redis-1").await;
        // A value the script draws: the replica cannot draw the same, so it must be sent what was written.
        let script = "local v = tostring(math.random(1000000000)) \
                      redis.call('SET', KEYS[1], v) \
                      redis.call('HSET', KEYS[2], 'f', v) \
                      redis.call('RPUSH', KEYS[3], v) \
                      redis.call('ZADD', KEYS[4], 1.5, v) \
                      return v";
        let drawn = call(&mut m, &["EVAL", script, "4", "s", "h", "l", "z"]).await;
        let drawn = drawn.as_text().expect("the script returns its value");
        sleep(Duration::from_millis(200)).await;
        let mut r = connect("redis-2").await;
        assert_eq!(call(&mut r, &["GET", "s"]).await, bulk(&drawn));
        assert_eq!(call(&mut r, &["HGET", "h", "f"]).await, bulk(&drawn));
        assert_eq!(
            call(&mut r, &["LRANGE", "l", "0", "-1"]).await,
            Reply::Array(vec![bulk(&drawn)])
        );
        assert_eq!(call(&mut r, &["ZSCORE", "z", &drawn]).await, bulk("1.5"));
        Ok(())
    });
    cluster.run(&mut sim)?;
    let log = cluster.exec_log().entries();
    let on_replica: Vec<String> = log.iter().filter(|e| e.node == "redis-2").map(|e| e.name()).collect();
    for name in ["SET", "HSET", "RPUSH", "ZADD"] {
        assert!(
            on_replica.contains(&name.to_string()),
            "{name} applied on the replica: {on_replica:?}"
        );
    }
    assert!(
        !on_replica.iter().any(|n| n == "EVAL"),
        "the EVAL itself never reaches a replica: {on_replica:?}"
    );
    Ok(())
}

#[test]
fn a_replica_refuses_a_scripts_write_and_runs_a_read_only_script_logged_as_a_read() -> turmoil::Result {
    let mut sim = redsim::sim_builder(42, &network(1))
        .simulation_duration(Duration::from_secs(30))
        .build();
    let mut cluster = deployment(42, 1, 1).install(&mut sim);
    cluster.client(&mut sim, "app", async move {
        links_up(1).await;
        let mut m = connect("redis-1").await;
        call(&mut m, &["SET", "k", "v"]).await;
        sleep(Duration::from_millis(200)).await;
        let mut r = connect("redis-2").await;
        let write = call(&mut r, &["EVAL", "return redis.call('SET', KEYS[1], 'x')", "1", "k"]).await;
        assert!(error_text(&write).starts_with("READONLY"), "{write:?}");
        let read = call(&mut r, &["EVAL_RO", "return redis.call('GET', KEYS[1])", "1", "k"]).await;
        assert_eq!(read, bulk("v"));
        let ro_write = call(&mut m, &["EVAL_RO", "return redis.call('DEL', KEYS[1])", "1", "k"]).await;
        assert!(
            error_text(&ro_write).contains("Write commands are not allowed from read-only scripts"),
            "{ro_write:?}"
        );
        assert_eq!(
            call(&mut m, &["GET", "k"]).await,
            bulk("v"),
            "the refused DEL did not run"
        );
        // pcall hands the refusal to the script instead of raising it.
        let caught = call(
            &mut r,
            &[
                "EVAL",
                "local e = redis.pcall('SET', KEYS[1], 'x') return e['err']",
                "1",
                "k",
            ],
        )
        .await;
        assert!(
            caught.as_text().is_some_and(|t| t.starts_with("READONLY")),
            "{caught:?}"
        );
        Ok(())
    });
    cluster.run(&mut sim)?;
    let log = cluster.exec_log().entries();
    let gets: Vec<_> = log
        .iter()
        .filter(|e| e.node == "redis-2" && e.name() == "GET")
        .collect();
    assert_eq!(
        gets.len(),
        1,
        "the script's GET is logged on the replica, as a read: {gets:?}"
    );
    assert!(
        !log.iter()
            .any(|e| e.node == "redis-2" && e.name() == "SET" && e.command.get(2).is_some_and(|v| v == "x")),
        "no refused SET ran on the replica"
    );
    Ok(())
}

#[test]
fn the_script_cache_errors_and_an_endless_script() -> turmoil::Result {
    let mut sim = redsim::sim_builder(43, &network(1))
        .simulation_duration(Duration::from_secs(60))
        .build();
    let mut cluster = deployment(43, 0, 1).install(&mut sim);
    cluster.client(&mut sim, "app", async move {
        let mut m = connect("redis-1").await;
        let body = "return {KEYS[1], ARGV[1], 3, 2.9, false, {1, 'x'}}";
        let sha = call(&mut m, &["SCRIPT", "LOAD", body]).await.as_text().expect("a sha");
        assert_eq!(sha.len(), 40);
        let want = Reply::Array(vec![
            bulk("k"),
            bulk("a"),
            Reply::Int(3),
            Reply::Int(2),
            Reply::Nil,
            Reply::Array(vec![Reply::Int(1), bulk("x")]),
        ]);
        assert_eq!(call(&mut m, &["EVALSHA", &sha, "1", "k", "a"]).await, want);
        assert_eq!(
            call(&mut m, &["EVAL", body, "1", "k", "a"]).await,
            want,
            "EVAL of the same body"
        );
        assert_eq!(
            call(
                &mut m,
                &["SCRIPT", "EXISTS", &sha, "0000000000000000000000000000000000000000"]
            )
            .await,
            Reply::Array(vec![Reply::Int(1), Reply::Int(0)])
        );
        assert_eq!(call(&mut m, &["SCRIPT", "FLUSH"]).await, Reply::ok());
        let gone = call(&mut m, &["EVALSHA", &sha, "1", "k", "a"]).await;
        assert!(error_text(&gone).starts_with("NOSCRIPT"), "{gone:?}");
        let keys = call(&mut m, &["EVAL", "return 1", "2", "only-one"]).await;
        assert_eq!(
            error_text(&keys),
            "ERR Number of keys can't be greater than number of args"
        );
        let unknown = call(&mut m, &["EVAL", "return redis.call('NOSUCH')", "0"]).await;
        assert!(
            error_text(&unknown).contains("Unknown Redis command called from script"),
            "{unknown:?}"
        );
        let status = call(&mut m, &["EVAL", "return {ok='FINE'}", "0"]).await;
        assert_eq!(status, Reply::Simple("FINE".into()));
        let err = call(&mut m, &["EVAL", "return {err='MY failure'}", "0"]).await;
        assert_eq!(error_text(&err), "MY failure");
        // An endless loop is stopped and the node answers the next command.
        let endless = call(&mut m, &["EVAL", "while true do end", "0"]).await;
        assert!(matches!(endless, Reply::Error(_)), "{endless:?}");
        assert_eq!(call(&mut m, &["PING"]).await, Reply::Simple("PONG".into()));
        Ok(())
    });
    cluster.run(&mut sim)?;
    Ok(())
}

/// Three draws of `math.random` in three scripts on a fresh node.
fn draws(seed: u64) -> Vec<Reply> {
    let mut sim = redsim::sim_builder(seed, &network(1))
        .simulation_duration(Duration::from_secs(30))
        .build();
    let mut cluster = deployment(seed, 0, 1).install(&mut sim);
    let out = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
    let o = out.clone();
    cluster.client(&mut sim, "app", async move {
        let mut m = connect("redis-1").await;
        for _ in 0..3 {
            let r = call(&mut m, &["EVAL", "return math.random(1000000000)", "0"]).await;
            o.borrow_mut().push(r);
        }
        Ok(())
    });
    cluster.run(&mut sim).expect("runs");
    out.take()
}

#[test]
fn math_random_repeats_with_the_seed_and_goes_on_between_scripts() {
    let first = draws(44);
    assert_eq!(first, draws(44), "the same seed draws the same numbers");
    assert!(first.iter().all(|r| matches!(r, Reply::Int(_))), "{first:?}");
    // Redis 7.0 keeps one generator for the process: a second script does not start the sequence again.
    assert_ne!(first[0], first[1], "{first:?}");
    assert_ne!(first[1], first[2], "{first:?}");
}
