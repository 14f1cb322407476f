//! Replication scenarios inside turmoil: lag, READONLY, role changes, resynchronisation, crashes, WAIT.

mod common;

use std::time::Duration;

use common::*;
use redsim_fake_redis::{ClientKind, Reply, Role};
use tokio::time::sleep;

const SEC: Duration = Duration::from_secs(1);

#[test]
fn a_write_reaches_both_replicas_with_a_visible_lag() -> turmoil::Result {
    let mut sim = redsim::sim_builder(1, &network(2))
        .simulation_duration(Duration::from_secs(30))
        .build();
    let mut cluster = deployment(1, 2, 2).install(&mut sim);
    // The replication links are slower than the application's links: the lag becomes observable.
    sim.set_link_latency("redis-1", "redis-2", Duration::from_millis(100));
    sim.set_link_latency("redis-1", "redis-3", Duration::from_millis(200));
    cluster.client(&mut sim, "app", async move {
        links_up(2).await;
        let mut m = connect("redis-1").await;
        let mut r1 = connect("redis-2").await;
        let mut r2 = connect("redis-3").await;
        assert_eq!(m.call(&["SET", "k", "v1"]).await?, Reply::ok());
        assert_eq!(r1.call(&["GET", "k"]).await?, Reply::Nil, "redis-2 cannot have it yet");
        assert_eq!(r2.call(&["GET", "k"]).await?, Reply::Nil, "redis-3 cannot have it yet");
        sleep(Duration::from_millis(300)).await;
        assert_eq!(r1.call(&["GET", "k"]).await?, bulk("v1"));
        assert_eq!(r2.call(&["GET", "k"]).await?, bulk("v1"));
        Ok(())
    });
    cluster.run(&mut sim)?;
    // The execution log shows the lag: each replica applied the SET one link latency after the master ran it.
    let sets: Vec<_> = cluster
        .exec_log()
        .entries()
        .into_iter()
        .filter(|e| e.name() == "SET")
        .collect();
    let at = |node: &str| sets.iter().find(|e| e.node == node).map(|e| e.time_ms).unwrap();
    assert_eq!(at("redis-2") - at("redis-1"), 100);
    assert_eq!(at("redis-3") - at("redis-1"), 200);
    let applied = sets.iter().find(|e| e.node == "redis-2").unwrap();
    assert_eq!((applied.role, applied.client_kind), (Role::Replica, ClientKind::Master));
    Ok(())
}

#[test]
fn replicas_refuse_writes_and_serve_reads() -> turmoil::Result {
    let mut sim = redsim::sim_builder(2, &network(1))
        .simulation_duration(Duration::from_secs(30))
        .build();
    let mut cluster = deployment(2, 1, 1).install(&mut sim);
    cluster.client(&mut sim, "app", async move {
        links_up(1).await;
        let mut m = connect("redis-1").await;
        let mut r = connect("redis-2").await;
        m.call(&["SET", "k", "v"]).await?;
        sleep(Duration::from_millis(50)).await;
        let readonly = b"-READONLY You can't write against a read only replica.\r\n";
        assert_eq!(
            &r.call_raw(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nx\r\n").await?[..],
            readonly
        );
        assert_eq!(&r.call_raw(b"*2\r\n$4\r\nINCR\r\n$1\r\nn\r\n").await?[..], readonly);
        assert_eq!(&r.call_raw(b"*1\r\n$8\r\nFLUSHALL\r\n").await?[..], readonly);
        assert_eq!(r.call(&["GET", "k"]).await?, bulk("v"));
        // A transaction with a write is refused whole at EXEC.
        assert_eq!(r.call(&["MULTI"]).await?, Reply::ok());
        assert_eq!(
            r.call(&["SET", "k", "y"]).await?,
            Reply::Error(String::from_utf8_lossy(&readonly[1..readonly.len() - 2]).into())
        );
        assert!(r.call(&["EXEC"]).await?.as_text().unwrap().starts_with("EXECABORT"));
        Ok(())
    });
    cluster.run(&mut sim)
}

#[test]
fn role_and_info_follow_replicaof_no_one_and_repointing() -> turmoil::Result {
    let mut sim = redsim::sim_builder(3, &network(1))
        .simulation_duration(Duration::from_secs(60))
        .build();
    let mut cluster = deployment(3, 2, 1).install(&mut sim);
    cluster.client(&mut sim, "app", async move {
        links_up(2).await;
        let mut m = connect("redis-1").await;
        let mut r1 = connect("redis-2").await;
        let mut r2 = connect("redis-3").await;
        m.call(&["SET", "a", "1"]).await?;
        sleep(Duration::from_millis(1100)).await;

        let role = m.call(&["ROLE"]).await?;
        let role = role.as_array().unwrap();
        assert_eq!(role[0], bulk("master"));
        let offset = role[1].as_int().unwrap();
        let replicas = role[2].as_array().unwrap();
        assert_eq!(replicas.len(), 2);
        assert_eq!(replicas[0].as_array().unwrap()[1], bulk("6379"));
        assert_eq!(
            replicas[0].as_array().unwrap()[2],
            bulk(&offset.to_string()),
            "acked the whole stream"
        );
        let r1_role = r1.call(&["ROLE"]).await?;
        assert_eq!(
            r1_role,
            Reply::Array(vec![
                bulk("slave"),
                bulk("redis-1"),
                Reply::Int(6379),
                bulk("connected"),
                Reply::Int(offset)
            ])
        );
        let old_id = info_field(&m.call(&["INFO", "replication"]).await?, "master_replid").unwrap();

        // Promote redis-2.
        assert_eq!(r1.call(&["REPLICAOF", "NO", "ONE"]).await?, Reply::ok());
        let info = r1.call(&["INFO", "replication"]).await?;
        assert_eq!(info_field(&info, "role").as_deref(), Some("master"));
        assert_eq!(info_field(&info, "master_replid2"), Some(old_id));
        assert_eq!(info_field(&info, "second_repl_offset"), Some((offset + 1).to_string()));
        assert_ne!(info_field(&info, "master_replid"), info_field(&info, "master_replid2"));
        assert_eq!(
            r1.call(&["SET", "b", "2"]).await?,
            Reply::ok(),
            "a promoted replica accepts writes"
        );
        assert_eq!(r1.call(&["REPLICAOF", "no", "one"]).await?, Reply::ok());

        // Re-point redis-3 at the new master: it continues partially from the old history.
        assert_eq!(r2.call(&["REPLICAOF", "redis-2", "6379"]).await?, Reply::ok());
        assert_eq!(
            r2.call(&["REPLICAOF", "redis-2", "6379"]).await?,
            Reply::Simple("OK Already connected to specified master".into())
        );
        assert!(wait_for("redis-3", "master_link_status", "up", 10 * SEC).await);
        sleep(Duration::from_millis(100)).await;
        assert_eq!(r2.call(&["GET", "b"]).await?, bulk("2"));
        let stats = r1.call(&["INFO", "stats"]).await?;
        assert_eq!(info_field(&stats, "sync_partial_ok").as_deref(), Some("1"));
        assert_eq!(info_field(&stats, "sync_full").as_deref(), Some("0"));
        let r2_role = r2.call(&["ROLE"]).await?;
        assert_eq!(r2_role.as_array().unwrap()[1], bulk("redis-2"));
        // The old master lost both replicas and no longer reaches redis-3.
        sleep(SEC).await;
        let role = m.call(&["ROLE"]).await?;
        assert_eq!(role.as_array().unwrap()[2], Reply::Array(vec![]));
        m.call(&["SET", "c", "3"]).await?;
        sleep(Duration::from_millis(100)).await;
        assert_eq!(r2.call(&["GET", "c"]).await?, Reply::Nil);
        Ok(())
    });
    cluster.run(&mut sim)
}

#[test]
fn client_kill_type_normal_inside_multi_exec_drops_exactly_the_normal_clients() -> turmoil::Result {
    let mut sim = redsim::sim_builder(4, &network(1))
        .simulation_duration(Duration::from_secs(30))
        .build();
    let mut cluster = deployment(4, 2, 1).install(&mut sim);
    cluster.client(&mut sim, "app", async move {
        links_up(2).await;
        let mut admin = connect("redis-1").await;
        let mut a = connect("redis-1").await;
        let mut b = connect("redis-1").await;
        let mut sub = connect("redis-1").await;
        a.call(&["PING"]).await?;
        b.call(&["PING"]).await?;
        sub.call(&["SUBSCRIBE", "events"]).await?;
        assert_eq!(admin.call(&["MULTI"]).await?, Reply::ok());
        assert_eq!(
            admin.call(&["CLIENT", "KILL", "TYPE", "normal"]).await?,
            Reply::Simple("QUEUED".into())
        );
        assert_eq!(admin.call(&["EXEC"]).await?, Reply::Array(vec![Reply::Int(2)]));
        assert!(a.call(&["PING"]).await.is_err(), "a was a normal client");
        assert!(b.call(&["PING"]).await.is_err(), "b was a normal client");
        assert_eq!(
            admin.call(&["PING"]).await?,
            Reply::Simple("PONG".into()),
            "SKIPME yes by default"
        );
        // The subscriber and both replicas are untouched.
        assert_eq!(admin.call(&["PUBLISH", "events", "still-here"]).await?, Reply::Int(1));
        assert_eq!(sub.read().await?.as_array().unwrap()[2], bulk("still-here"));
        let info = admin.call(&["INFO", "replication"]).await?;
        assert_eq!(info_field(&info, "connected_slaves").as_deref(), Some("2"));
        Ok(())
    });
    cluster.run(&mut sim)
}

#[test]
fn sentinel_style_reconfiguration_disconnects_clients_and_changes_role() -> turmoil::Result {
    let mut sim = redsim::sim_builder(5, &network(1))
        .simulation_duration(Duration::from_secs(30))
        .build();
    let mut cluster = deployment(5, 1, 1).install(&mut sim);
    cluster.client(&mut sim, "app", async move {
        links_up(1).await;
        let mut sentinel = connect("redis-2").await;
        let mut reader = connect("redis-2").await;
        let mut sub = connect("redis-2").await;
        reader.call(&["GET", "x"]).await?;
        sub.call(&["SUBSCRIBE", "__sentinel__:hello"]).await?;
        for cmd in [
            &["MULTI"][..],
            &["SLAVEOF", "NO", "ONE"],
            &["CONFIG", "REWRITE"],
            &["CLIENT", "KILL", "TYPE", "normal"],
            &["CLIENT", "KILL", "TYPE", "pubsub"],
        ] {
            sentinel.call(cmd).await?;
        }
        let exec = sentinel.call(&["EXEC"]).await?;
        assert_eq!(
            exec,
            Reply::Array(vec![Reply::ok(), Reply::ok(), Reply::Int(1), Reply::Int(1)])
        );
        assert!(reader.call(&["GET", "x"]).await.is_err());
        assert!(sub.read().await.is_err());
        let role = sentinel.call(&["ROLE"]).await?;
        assert_eq!(role.as_array().unwrap()[0], bulk("master"));
        Ok(())
    });
    cluster.run(&mut sim)
}

#[test]
fn short_partition_continues_from_the_backlog() -> turmoil::Result {
    let mut sim = redsim::sim_builder(6, &network(1))
        .simulation_duration(Duration::from_secs(60))
        .build();
    let mut cluster = deployment(6, 1, 1)
        .node_config(|cfg| {
            node_defaults(cfg);
            cfg.repl_ping_replica_period_s = 1;
        })
        .install(&mut sim);
    // The replica is never restarted here: the node that started at install is the one the run ends with.
    let probe = cluster.node("redis-2").expect("started at install");
    cluster.client(&mut sim, "app", async move {
        links_up(1).await;
        let mut m = connect("redis-1").await;
        for i in 0..10 {
            m.call(&["SET", &format!("k{i}"), "before"]).await?;
        }
        // turmoil's own partition, not `Fault::Partition`: that one holds segments (as TCP would retransmit
        // them), and this test is about the drop that wedges the link until repl-timeout.
        turmoil::partition("redis-1", "redis-2");
        for i in 10..20 {
            m.call(&["SET", &format!("k{i}"), "during"]).await?;
        }
        sleep(2 * SEC).await;
        turmoil::repair("redis-1", "redis-2");
        // turmoil leaves the old connection wedged: the replica notices the silence after repl-timeout (5 s),
        // redials, and continues from the backlog.
        assert!(wait_for("redis-2", "master_link_status", "down", 10 * SEC).await);
        assert!(wait_for("redis-2", "master_link_status", "up", 10 * SEC).await);
        let why = probe.last_link_error().unwrap_or_default();
        assert!(why.contains("no data from master"), "{why}");
        let stats = m.call(&["INFO", "stats"]).await?;
        assert_eq!(info_field(&stats, "sync_partial_ok").as_deref(), Some("1"));
        assert_eq!(
            info_field(&stats, "sync_full").as_deref(),
            Some("1"),
            "only the initial sync"
        );
        let mut r = connect("redis-2").await;
        assert_eq!(r.call(&["GET", "k19"]).await?, bulk("during"));
        assert_eq!(r.call(&["DBSIZE"]).await?, Reply::Int(20));
        Ok(())
    });
    cluster.run(&mut sim)?;
    assert_eq!(cluster.node("redis-2").unwrap().role(), Role::Replica);
    Ok(())
}

#[test]
fn long_partition_needs_a_full_resync() -> turmoil::Result {
    let mut sim = redsim::sim_builder(7, &network(1))
        .simulation_duration(Duration::from_secs(60))
        .build();
    let mut cluster = deployment(7, 1, 1)
        .node_config(|cfg| {
            node_defaults(cfg);
            cfg.repl_ping_replica_period_s = 1;
            if cfg.name == "redis-1" {
                cfg.repl_backlog_size = 1024;
            }
        })
        .install(&mut sim);
    cluster.client(&mut sim, "app", async move {
        links_up(1).await;
        let mut m = connect("redis-1").await;
        turmoil::partition("redis-1", "redis-2");
        // More than the 1 KiB backlog is written while the replica is away.
        let value = "x".repeat(100);
        for i in 0..50 {
            m.call(&["SET", &format!("k{i}"), &value]).await?;
        }
        sleep(2 * SEC).await;
        turmoil::repair("redis-1", "redis-2");
        assert!(wait_for("redis-2", "master_link_status", "down", 10 * SEC).await);
        assert!(wait_for("redis-2", "master_link_status", "up", 10 * SEC).await);
        let stats = m.call(&["INFO", "stats"]).await?;
        assert_eq!(info_field(&stats, "sync_full").as_deref(), Some("2"));
        assert_eq!(info_field(&stats, "sync_partial_err").as_deref(), Some("1"));
        Ok(())
    });
    cluster.run(&mut sim)?;
    let (master, replica) = (cluster.node("redis-1").unwrap(), cluster.node("redis-2").unwrap());
    assert_eq!(replica.live_data(), master.live_data());
    assert_eq!(replica.repl_offset(), master.repl_offset());
    Ok(())
}

#[test]
fn a_crashed_master_shows_link_down_on_replicas() -> turmoil::Result {
    let mut sim = redsim::sim_builder(8, &network(1))
        .simulation_duration(Duration::from_secs(30))
        .build();
    let mut cluster = deployment(8, 2, 1).install(&mut sim);
    cluster.client(&mut sim, "app", async move {
        links_up(2).await;
        // The master crashes at 3 s (below); both replicas see their link drop within a latency.
        let now = turmoil::sim_elapsed().unwrap_or_default();
        sleep(Duration::from_millis(3100).saturating_sub(now)).await;
        for host in ["redis-2", "redis-3"] {
            let mut r = connect(host).await;
            let info = r.call(&["INFO", "replication"]).await?;
            assert_eq!(
                info_field(&info, "master_link_status").as_deref(),
                Some("down"),
                "{host}"
            );
            let since: i64 = info_field(&info, "master_link_down_since_seconds")
                .unwrap()
                .parse()
                .unwrap();
            assert!((0..=1).contains(&since), "{host}: {since}");
            let role = r.call(&["ROLE"]).await?;
            let state = role.as_array().unwrap()[3].as_text().unwrap();
            assert!(state == "connect" || state == "connecting", "{host}: {state}");
            assert_eq!(
                r.call(&["GET", "anything"]).await?,
                Reply::Nil,
                "stale reads are still served"
            );
        }
        Ok(())
    });
    // The crash is applied between steps, as soon as 3 s have passed (a timed fault would count from the
    // Sentinels' warm-up, which this deployment has no use for).
    let mut crashed = false;
    while !cluster.step(&mut sim)? {
        if !crashed && sim.elapsed() >= Duration::from_secs(3) {
            cluster.inject(&mut sim, Fault::Crash("redis-1".into()));
            crashed = true;
        }
    }
    Ok(())
}

#[test]
fn masterdown_when_stale_data_is_not_served() -> turmoil::Result {
    let mut sim = redsim::sim_builder(9, &network(1))
        .simulation_duration(Duration::from_secs(30))
        .build();
    let mut cluster = deployment(9, 1, 1).install(&mut sim);
    cluster.client(&mut sim, "app", async move {
        links_up(1).await;
        let mut r = connect("redis-2").await;
        r.call(&["CONFIG", "SET", "replica-serve-stale-data", "no"]).await?;
        assert_eq!(r.call(&["GET", "k"]).await?, Reply::Nil, "link up: reads served");
        r.call(&["CLIENT", "KILL", "TYPE", "master"]).await?;
        let e = r.call(&["GET", "k"]).await?;
        assert_eq!(
            e.as_text().unwrap(),
            "MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'."
        );
        assert!(
            r.call(&["INFO", "replication"]).await?.as_text().is_some(),
            "INFO is allowed"
        );
        assert!(
            wait_for("redis-2", "master_link_status", "up", 10 * SEC).await,
            "the link comes back"
        );
        assert_eq!(r.call(&["GET", "k"]).await?, Reply::Nil);
        Ok(())
    });
    cluster.run(&mut sim)
}

#[test]
fn wait_and_min_replicas_use_acknowledgements() -> turmoil::Result {
    let mut sim = redsim::sim_builder(10, &network(1))
        .simulation_duration(Duration::from_secs(60))
        .build();
    let mut cluster = deployment(10, 2, 1).install(&mut sim);
    cluster.client(&mut sim, "app", async move {
        links_up(2).await;
        let mut m = connect("redis-1").await;
        m.call(&["SET", "k", "v"]).await?;
        let started = tokio::time::Instant::now();
        assert_eq!(m.call(&["WAIT", "2", "1000"]).await?, Reply::Int(2));
        assert!(started.elapsed() < Duration::from_millis(100), "GETACK makes WAIT fast");
        turmoil::partition("redis-1", "redis-3");
        m.call(&["SET", "k", "w"]).await?;
        let started = tokio::time::Instant::now();
        assert_eq!(
            m.call(&["WAIT", "2", "500"]).await?,
            Reply::Int(1),
            "redis-3 cannot acknowledge"
        );
        assert!(started.elapsed() >= Duration::from_millis(500));
        m.call(&[
            "CONFIG",
            "SET",
            "min-replicas-to-write",
            "2",
            "min-replicas-max-lag",
            "2",
        ])
        .await?;
        sleep(3 * SEC).await;
        assert_eq!(
            m.call(&["SET", "k", "x"]).await?,
            Reply::Error("NOREPLICAS Not enough good replicas to write.".into())
        );
        assert_eq!(m.call(&["GET", "k"]).await?, bulk("w"), "reads are unaffected");
        let mut r = connect("redis-2").await;
        assert!(
            r.call(&["WAIT", "1", "0"])
                .await?
                .as_text()
                .unwrap()
                .starts_with("ERR WAIT cannot be used with replica")
        );
        Ok(())
    });
    cluster.run(&mut sim)
}

#[test]
fn replication_with_requirepass_and_masterauth() -> turmoil::Result {
    let mut sim = redsim::sim_builder(11, &network(1))
        .simulation_duration(Duration::from_secs(30))
        .build();
    let mut cluster = deployment(11, 1, 1)
        .node_config(|cfg| {
            node_defaults(cfg);
            match cfg.name.as_str() {
                "redis-1" => cfg.requirepass = Some("s3cret".into()),
                _ => cfg.masterauth = Some("s3cret".into()),
            }
        })
        .install(&mut sim);
    cluster.client(&mut sim, "app", async move {
        links_up(1).await;
        let mut m = connect("redis-1").await;
        assert_eq!(
            m.call(&["SET", "k", "v"]).await?,
            Reply::Error("NOAUTH Authentication required.".into())
        );
        assert_eq!(
            m.call(&["AUTH", "wrong"]).await?,
            Reply::Error("WRONGPASS invalid username-password pair or user is disabled.".into())
        );
        assert_eq!(m.call(&["AUTH", "s3cret"]).await?, Reply::ok());
        m.call(&["SET", "k", "v"]).await?;
        sleep(Duration::from_millis(50)).await;
        let mut r = connect("redis-2").await;
        assert_eq!(r.call(&["GET", "k"]).await?, bulk("v"));
        Ok(())
    });
    cluster.run(&mut sim)
}

#[test]
fn a_replica_answers_loading_while_it_loads_a_full_resync() -> turmoil::Result {
    let mut sim = redsim::sim_builder(12, &network(1))
        .simulation_duration(Duration::from_secs(30))
        .build();
    let mut cluster = deployment(12, 1, 1)
        .node_config(|cfg| {
            node_defaults(cfg);
            if cfg.name == "redis-2" {
                cfg.loading_ms = 500;
            }
        })
        .install(&mut sim);
    cluster.client(&mut sim, "app", async move {
        let mut r = connect("redis-2").await;
        let mut saw_loading = false;
        let mut saw_info_loading = false;
        while turmoil::sim_elapsed().unwrap_or_default() < Duration::from_millis(400) {
            if let Reply::Error(e) = r.call(&["GET", "k"]).await? {
                assert_eq!(e, "LOADING Redis is loading the dataset in memory");
                saw_loading = true;
                let info = r.call(&["INFO", "persistence"]).await?;
                saw_info_loading |= info_field(&info, "loading").as_deref() == Some("1");
            }
            sleep(Duration::from_millis(20)).await;
        }
        assert!(saw_loading && saw_info_loading);
        sleep(Duration::from_millis(400)).await;
        assert_eq!(r.call(&["GET", "k"]).await?, Reply::Nil, "loaded");
        let role = r.call(&["ROLE"]).await?;
        assert_eq!(role.as_array().unwrap()[3], bulk("connected"));
        Ok(())
    });
    cluster.run(&mut sim)
}
