//! The routing client against fake Redis nodes and fake Sentinels inside turmoil. Every verdict comes from the
//! data nodes' execution logs and the Sentinels' event logs, not from what the client says it did.

mod support;

use std::time::Duration;

use redsim::{Deployment, Fault};
use redsim_client::{Error, ReadPolicy, ReplicaSelection};
use redsim_fake_redis::{LogEntry, Role};
use redsim_fake_sentinel::SentinelEvent;
use support::*;

const SEC: Duration = Duration::from_secs(1);

#[test]
fn test1_sticky_reads_all_go_to_one_replica() {
    let topo = Topology::default();
    let mut sim = redsim::sim(31);
    let mut cluster = Deployment::new(topo.clone()).seed(31).install(&mut sim);
    cluster.client(&mut sim, "app", async move {
        assert!(wait_discovery(&topo, 30 * SEC).await);
        let c = client("reader", 1)
            .replica_selection(ReplicaSelection::Sticky)
            .build()?;
        for _ in 0..3 {
            assert_eq!(c.get("k").await?, None);
        }
        Ok(())
    });
    cluster.run(&mut sim).unwrap();
    let gets = ran(cluster.exec_log(), "reader", "GET");
    assert_eq!(gets.len(), 3);
    assert!(
        gets.iter().all(|e| e.node == gets[0].node && e.role == Role::Replica),
        "{gets:?}"
    );
}

#[test]
fn test2_a_new_client_per_read_spreads_reads_over_replicas() {
    let topo = Topology::default();
    let mut sim = redsim::sim(32);
    let mut cluster = Deployment::new(topo.clone()).seed(32).install(&mut sim);
    cluster.client(&mut sim, "app", async move {
        assert!(wait_discovery(&topo, 30 * SEC).await);
        for seed in 0..10 {
            let c = client("reader", seed).build()?;
            c.get("k").await?;
        }
        Ok(())
    });
    cluster.run(&mut sim).unwrap();
    let gets = ran(cluster.exec_log(), "reader", "GET");
    assert_eq!(gets.len(), 10);
    assert!(gets.iter().all(|e| e.role == Role::Replica));
    let on_2 = gets.iter().filter(|e| e.node == "redis-2").count();
    assert!(
        on_2 > 0 && on_2 < 10,
        "reads spread over both replicas: {on_2} of 10 on redis-2"
    );
}

/// How a replica fails in the Test3 variants.
#[derive(Clone, Copy, Debug)]
enum Failure {
    Crash,
    /// Frozen: connections stay open, nothing answers (redsim's `pause`: all of the replica's links held).
    Pause,
    /// Only the client is cut from the replica (redsim's `partition`: messages held until a heal).
    Partition,
}

/// Test3: a reader reads every 100 ms; its replica fails. Returns (errors seen by the caller, ms from the
/// failure to the first success elsewhere, ms from the failure to the first +sdown for that replica).
fn test3(failure: Failure, seed: u64) -> (usize, u64, u64) {
    let topo = Topology::default();
    let mut sim = redsim::sim(seed);
    let mut cluster = Deployment::new(topo.clone()).seed(seed).install(&mut sim);
    let (f, exec) = (cluster.fault_handle(), cluster.exec_log().clone());
    let result = std::rc::Rc::new(std::cell::RefCell::new((0usize, 0u64, String::new())));
    let r = result.clone();
    cluster.client(&mut sim, "app", async move {
        assert!(wait_discovery(&topo, 30 * SEC).await);
        let c = client("reader", 3)
            .command_timeout(Duration::from_millis(300))
            .build()?;
        c.get("k").await?;
        let victim = ran(&exec, "reader", "GET")[0].node.clone();
        let victim_ip = turmoil::lookup(victim.as_str()).to_string();
        let failed_at = now_ms();
        match failure {
            Failure::Crash => f.request(Fault::Crash(victim.clone())),
            Failure::Pause => f.request(Fault::Pause(victim.clone())),
            Failure::Partition => f.request(Fault::Partition(vec!["app".into()], vec![victim.clone()])),
        }
        let mut errors = 0;
        let mut first_success = None;
        for _ in 0..40 {
            tokio::time::sleep(Duration::from_millis(100)).await;
            match c.get("k").await {
                Ok(_) => {
                    first_success.get_or_insert(now_ms() - failed_at);
                }
                Err(_) => errors += 1,
            }
        }
        *r.borrow_mut() = (errors, first_success.unwrap_or(u64::MAX), victim_ip);
        Ok(())
    });
    cluster.run(&mut sim).unwrap();
    let (errors, first_success, victim_ip) = result.borrow().clone();
    // The failure happened at the first read's completion; find +sdown of that replica.
    let failed_at = ran(cluster.exec_log(), "reader", "GET")[0].time_ms - EPOCH_MS;
    let sdown = cluster
        .event_log()
        .events()
        .into_iter()
        .filter(|e: &SentinelEvent| e.event == "+sdown" && e.payload.starts_with(&format!("slave {victim_ip}:")))
        .map(|e| e.time_ms - EPOCH_MS)
        .min()
        .unwrap_or(u64::MAX);
    // Every successful read after the failure ran on a replica, never on the failed one.
    let after: Vec<_> = ran(cluster.exec_log(), "reader", "GET").into_iter().skip(1).collect();
    assert!(
        after
            .iter()
            .all(|e| e.role == Role::Replica && node_ip(&e.node) != victim_ip),
        "{after:?}"
    );
    (errors, first_success, sdown.saturating_sub(failed_at))
}

fn node_ip(node: &str) -> String {
    // Outside the simulation turmoil cannot look names up; the hosts were registered in order.
    let n: u8 = node.trim_start_matches("redis-").parse().unwrap();
    format!("192.168.0.{n}")
}

#[test]
fn test3_crashed_replica_reads_move_before_sentinel_notices() {
    let (errors, first_success_ms, sdown_ms) = test3(Failure::Crash, 33);
    assert_eq!(errors, 0, "the caller never sees an error while a replica is healthy");
    assert!(
        first_success_ms < sdown_ms,
        "success at +{first_success_ms} ms, +sdown at +{sdown_ms} ms"
    );
    assert!(
        first_success_ms <= 200,
        "the next read after the crash succeeds: +{first_success_ms} ms"
    );
}

#[test]
fn test3_paused_replica_reads_move_within_the_read_timeout() {
    let (errors, first_success_ms, sdown_ms) = test3(Failure::Pause, 34);
    assert_eq!(errors, 0);
    assert!(
        first_success_ms < sdown_ms,
        "success at +{first_success_ms} ms, +sdown at +{sdown_ms} ms"
    );
    // First read after the pause: 100 ms sleep + 300 ms read timeout + one round trip (and a connect).
    assert!(first_success_ms <= 100 + 300 + 50, "+{first_success_ms} ms");
}

#[test]
fn test3_partitioned_replica_reads_move_within_the_read_timeout() {
    let (errors, first_success_ms, _sdown) = test3(Failure::Partition, 35);
    assert_eq!(errors, 0);
    assert!(first_success_ms <= 100 + 300 + 50, "+{first_success_ms} ms");
}

#[test]
fn replica_only_never_reads_from_the_master_even_with_every_replica_down() {
    let topo = Topology::default();
    let mut sim = redsim::sim(36);
    let mut cluster = Deployment::new(topo.clone()).seed(36).install(&mut sim);
    let f = cluster.fault_handle();
    cluster.client(&mut sim, "app", async move {
        assert!(wait_discovery(&topo, 30 * SEC).await);
        let c = client("reader", 4).read_policy(ReadPolicy::ReplicaOnly).build()?;
        c.get("k").await?;
        f.request(Fault::Crash("redis-2".into()));
        f.request(Fault::Crash("redis-3".into()));
        tokio::time::sleep(Duration::from_millis(50)).await;
        for _ in 0..5 {
            assert_eq!(c.get("k").await, Err(Error::NoReplicaAvailable));
        }
        // Writes still work: they go to the master.
        c.set("k", "v").await?;
        Ok(())
    });
    cluster.run(&mut sim).unwrap();
    let on_master: Vec<_> = ran(cluster.exec_log(), "reader", "GET")
        .into_iter()
        .filter(|e| e.role == Role::Master)
        .collect();
    assert!(on_master.is_empty(), "{on_master:?}");
    assert_eq!(ran(cluster.exec_log(), "reader", "SET")[0].node, "redis-1");
}

/// When every replica is ejected, a replica-only read tries the one whose backoff ends first rather than
/// failing while it may be back already (the backoff was earned during a partition that has healed).
#[test]
fn with_every_replica_ejected_a_read_tries_one_before_giving_up() {
    let topo = Topology::default();
    let mut sim = redsim::sim(37);
    let mut cluster = Deployment::new(topo.clone()).seed(37).install(&mut sim);
    let f = cluster.fault_handle();
    let replicas = vec!["redis-2".to_string(), "redis-3".to_string()];
    cluster.client(&mut sim, "app", async move {
        assert!(wait_discovery(&topo, 30 * SEC).await);
        let c = client("reader", 5)
            .read_policy(ReadPolicy::ReplicaOnly)
            .command_timeout(Duration::from_millis(200))
            .build()?;
        let mut events = c.events();
        c.get("k").await?;
        f.request(Fault::Partition(vec!["app".into()], replicas.clone()));
        tokio::time::sleep(Duration::from_millis(50)).await;
        // Failed reads and probes double both backoffs to seconds.
        for _ in 0..6 {
            assert_eq!(c.get("k").await, Err(Error::NoReplicaAvailable));
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
        f.request(Fault::Heal);
        // Past the last-resort rate limit (one per 500 ms), well before either backoff ends.
        tokio::time::sleep(Duration::from_millis(600)).await;
        assert_eq!(c.get("k").await, Ok(None), "the first read after the heal is served");
        let mut last_resort = 0;
        while let Ok(e) = events.try_recv() {
            last_resort += usize::from(matches!(e.kind, redsim_client::EventKind::LastResort { .. }));
        }
        assert!(last_resort > 0, "served through a last-resort try");
        Ok(())
    });
    cluster.run(&mut sim).unwrap();
    assert!(
        ran(cluster.exec_log(), "reader", "GET")
            .iter()
            .all(|e| e.role == Role::Replica)
    );
}

#[test]
fn replica_preferred_falls_back_to_the_master_and_returns() {
    let topo = Topology {
        replicas: 1,
        ..Topology::default()
    };
    let mut sim = redsim::sim(37);
    let mut cluster = Deployment::new(topo.clone()).seed(37).install(&mut sim);
    let f = cluster.fault_handle();
    cluster.client(&mut sim, "app", async move {
        assert!(wait_discovery(&topo, 30 * SEC).await);
        let c = client("reader", 5).read_policy(ReadPolicy::ReplicaPreferred).build()?;
        c.get("before").await?;
        f.request(Fault::Crash("redis-2".into()));
        tokio::time::sleep(Duration::from_millis(50)).await;
        c.get("during").await?;
        f.request(Fault::Restart("redis-2".into()));
        // The replica restarts, resyncs; ejection ends, a probe succeeds, reads go back to it.
        tokio::time::sleep(5 * SEC).await;
        c.get("after").await?;
        Ok(())
    });
    cluster.run(&mut sim).unwrap();
    let gets = ran(cluster.exec_log(), "reader", "GET");
    let at = |key: &str| {
        gets.iter()
            .find(|e| e.command[1] == key)
            .map(|e| (e.node.clone(), e.role))
            .unwrap()
    };
    assert_eq!(at("before"), ("redis-2".into(), Role::Replica));
    assert_eq!(at("during"), ("redis-1".into(), Role::Master));
    assert_eq!(at("after"), ("redis-2".into(), Role::Replica));
}

#[test]
fn writes_follow_the_failover_and_reads_never_hit_a_promoted_replica() {
    let topo = Topology::default();
    let mut sim = redsim::sim(38);
    let mut cluster = Deployment::new(topo.clone()).seed(38).install(&mut sim);
    let f = cluster.fault_handle();
    let events = cluster.event_log().clone();
    cluster.client(&mut sim, "app", async move {
        assert!(wait_discovery(&topo, 30 * SEC).await);
        let writer = client("writer", 6).build()?;
        let reader = client("reader", 7)
            .replica_selection(ReplicaSelection::RoundRobin)
            .build()?;
        writer.set("k", "0").await?;
        f.request(Fault::Crash("redis-1".into()));
        // The reader in its own loop, so how long its reads take never delays a write.
        tokio::task::spawn_local(async move {
            loop {
                let _ = reader.get("k").await;
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        });
        let mut i = 0;
        loop {
            i += 1;
            let _ = writer.set("k", &i.to_string()).await;
            tokio::time::sleep(Duration::from_millis(10)).await;
            let switched = events.events().iter().any(|e| e.event == "+switch-master");
            if switched && now_ms() > 30_000 {
                break;
            }
            if now_ms() > 100_000 {
                panic!("no failover");
            }
        }
        Ok(())
    });
    cluster.run(&mut sim).unwrap();
    let switch: Vec<SentinelEvent> = cluster
        .event_log()
        .events()
        .into_iter()
        .filter(|e| e.event == "+switch-master")
        .collect();
    let first_switch = switch.iter().map(|e| e.time_ms).min().unwrap();
    let new_master = switch[0].payload.split(' ').nth(3).unwrap().to_string();
    let sets = ran(cluster.exec_log(), "writer", "SET");
    assert!(
        sets.iter().all(|e| e.role == Role::Master),
        "writes only ever ran on masters"
    );
    let first_on_new = sets
        .iter()
        .filter(|e| node_ip(&e.node) == new_master)
        .map(|e| e.time_ms)
        .min()
        .unwrap();
    // The write in flight at the switch (dialling the dead master) stops dialling and goes to the new master:
    // the event's delivery, a dial, ROLE and the SET, a few round trips. Waiting out its connect timeout would
    // take up to 500 ms.
    assert!(
        first_on_new <= first_switch + 30,
        "+switch-master at {first_switch}, first write there at {first_on_new}"
    );
    let reads_on_master: Vec<_> = ran(cluster.exec_log(), "reader", "GET")
        .into_iter()
        .filter(|e| e.role == Role::Master)
        .collect();
    assert!(reads_on_master.is_empty(), "{reads_on_master:?}");
}

/// When Sentinel switches the master it resets the master's replica entries, and for a moment `SENTINEL
/// replicas` flags every one `disconnected`. A replica-only reader reading every millisecond through the whole
/// failover must still get every read served by a replica: the replica that is not promoted stays in use.
#[test]
fn a_replica_only_reader_reads_through_a_master_failover_without_an_error() {
    let topo = Topology::default();
    let mut sim = redsim::sim(39);
    let mut cluster = Deployment::new(topo.clone()).seed(39).install(&mut sim);
    let f = cluster.fault_handle();
    let events = cluster.event_log().clone();
    cluster.client(&mut sim, "app", async move {
        assert!(wait_discovery(&topo, 30 * SEC).await);
        let reader = client("reader", 8).build()?;
        reader.get("k").await?;
        f.request(Fault::Crash("redis-1".into()));
        let mut errors = Vec::new();
        let mut switched_at = None;
        loop {
            if let Err(e) = reader.get("k").await {
                errors.push((now_ms(), e));
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
            if switched_at.is_none() && events.events().iter().any(|e| e.event == "+switch-master") {
                switched_at = Some(now_ms());
            }
            if switched_at.is_some_and(|t| now_ms() > t + 2_000) {
                break;
            }
            assert!(now_ms() < 100_000, "no failover");
        }
        assert_eq!(errors, [], "+switch-master at {switched_at:?}");
        Ok(())
    });
    cluster.run(&mut sim).unwrap();
    let gets = ran(cluster.exec_log(), "reader", "GET");
    assert!(gets.len() > 1_000, "{}", gets.len());
    assert!(gets.iter().all(|e| e.role == Role::Replica));
}

#[test]
fn pipelines_route_as_a_unit_and_transactions_go_to_the_master() {
    let topo = Topology::default();
    let mut sim = redsim::sim(39);
    let mut cluster = Deployment::new(topo.clone()).seed(39).install(&mut sim);
    cluster.client(&mut sim, "app", async move {
        assert!(wait_discovery(&topo, 30 * SEC).await);
        let c = client("app", 8).build()?;
        let replies = c
            .transaction()
            .cmd(&["SET", "a", "1"])
            .cmd(&["INCR", "a"])
            .query()
            .await?;
        assert_eq!(replies, vec![redsim_client::Value::ok(), redsim_client::Value::Int(2)]);
        tokio::time::sleep(Duration::from_millis(100)).await;
        let reads = c.pipeline().cmd(&["GET", "a"]).cmd(&["EXISTS", "a"]).query().await?;
        assert_eq!(
            reads,
            vec![redsim_client::Value::text("2"), redsim_client::Value::Int(1)]
        );
        let mixed = c.pipeline().cmd(&["GET", "a"]).cmd(&["SET", "b", "x"]).query().await?;
        assert_eq!(mixed.len(), 2);
        assert_eq!(c.command(&["NOSUCHCOMMAND"]).await.unwrap_err().kind(), "server");
        Ok(())
    });
    cluster.run(&mut sim).unwrap();
    let by_app: Vec<LogEntry> = cluster
        .exec_log()
        .entries()
        .into_iter()
        .filter(|e| e.client_name.as_deref() == Some("app"))
        .collect();
    let where_ = |name: &str| {
        by_app
            .iter()
            .filter(|e| e.name() == name)
            .map(|e| e.role)
            .collect::<Vec<_>>()
    };
    assert_eq!(where_("MULTI"), vec![Role::Master]);
    assert_eq!(
        where_("EXISTS"),
        vec![Role::Replica],
        "a pipeline of reads goes to a replica"
    );
    assert_eq!(
        where_("GET"),
        vec![Role::Replica, Role::Master],
        "a pipeline with a write goes to the master"
    );
    assert_eq!(
        where_("NOSUCHCOMMAND"),
        vec![Role::Master],
        "unknown commands go to the master"
    );
}

#[test]
fn routing_decisions_come_out_as_events() {
    let topo = Topology::default();
    let mut sim = redsim::sim(40);
    let mut cluster = Deployment::new(topo.clone()).seed(40).install(&mut sim);
    let f = cluster.fault_handle();
    cluster.client(&mut sim, "app", async move {
        assert!(wait_discovery(&topo, 30 * SEC).await);
        let c = client("app", 9).build()?;
        let mut events = c.events();
        c.get("k").await?;
        let chosen = c.usable_replicas();
        assert_eq!(chosen.len(), 2);
        let first = loop {
            if let redsim_client::EventKind::ReplicaChosen { addr } = events.recv().await.unwrap().kind {
                break addr;
            }
        };
        let host = if first.starts_with(&turmoil::lookup("redis-2").to_string()) {
            "redis-2"
        } else {
            "redis-3"
        };
        f.request(Fault::Crash(host.into()));
        tokio::time::sleep(Duration::from_millis(20)).await;
        c.get("k").await?;
        let mut kinds = Vec::new();
        while let Ok(e) = events.try_recv() {
            kinds.push(e.kind);
        }
        assert!(
            kinds
                .iter()
                .any(|k| matches!(k, redsim_client::EventKind::Retry { from, .. } if *from == first)),
            "{kinds:?}"
        );
        assert!(
            kinds
                .iter()
                .any(|k| matches!(k, redsim_client::EventKind::ReplicaChosen { addr } if *addr != first)),
            "{kinds:?}"
        );
        Ok(())
    });
    cluster.run(&mut sim).unwrap();
}

#[test]
fn lowest_latency_and_nearest_follow_measured_round_trips() {
    // (policy, selection, latency to redis-1, redis-2, redis-3 in ms, where reads must end up)
    for (policy, selection, lat, want_node) in [
        (
            ReadPolicy::ReplicaOnly,
            ReplicaSelection::LowestLatency,
            [10, 20, 2],
            "redis-3",
        ),
        (ReadPolicy::Nearest, ReplicaSelection::Sticky, [1, 20, 15], "redis-1"),
    ] {
        let topo = Topology::default();
        let mut sim = redsim::sim(41);
        let mut cluster = Deployment::new(topo.clone()).seed(41).install(&mut sim);
        let f = cluster.fault_handle();
        cluster.client(&mut sim, "app", async move {
            assert!(wait_discovery(&topo, 30 * SEC).await);
            let c = client("reader", 10)
                .read_policy(policy)
                .replica_selection(selection)
                .build()?;
            c.set("k", "v").await?;
            for _ in 0..4 {
                c.get("k").await?;
            }
            for (i, ms) in lat.iter().enumerate() {
                let node = format!("redis-{}", i + 1);
                f.request(Fault::Latency("app".into(), node, *ms));
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
            for _ in 0..40 {
                c.get("k").await?;
            }
            Ok(())
        });
        cluster.run(&mut sim).unwrap();
        let last: Vec<String> = ran(cluster.exec_log(), "reader", "GET")
            .iter()
            .rev()
            .take(10)
            .map(|e| e.node.clone())
            .collect();
        assert!(
            last.iter().all(|n| n == want_node),
            "{policy:?}/{selection:?}: {last:?}"
        );
    }
}

#[test]
fn replicas_whose_link_is_down_too_long_are_skipped() {
    let topo = Topology::default();
    let mut sim = redsim::sim(42);
    let mut cluster = Deployment::new(topo.clone()).seed(42).install(&mut sim);
    let f = cluster.fault_handle();
    cluster.client(&mut sim, "app", async move {
        assert!(wait_discovery(&topo, 30 * SEC).await);
        let mut r2 = connect("redis-2", REDIS_PORT).await;
        r2.call(&["CONFIG", "SET", "repl-timeout", "2"]).await.unwrap();
        let c = client("reader", 11)
            .max_replica_link_down(Duration::from_secs(1))
            .build()?;
        c.get("k").await?;
        f.request(Fault::Partition(vec!["redis-1".into()], vec!["redis-2".into()]));
        // redis-2 notices after 2 s, Sentinel reads its INFO, the client's next reconciliation drops it.
        tokio::time::sleep(20 * SEC).await;
        for _ in 0..10 {
            c.get("k").await?;
        }
        Ok(())
    });
    cluster.run(&mut sim).unwrap();
    let last: Vec<String> = ran(cluster.exec_log(), "reader", "GET")
        .iter()
        .rev()
        .take(10)
        .map(|e| e.node.clone())
        .collect();
    assert!(last.iter().all(|n| n == "redis-3"), "{last:?}");
}

#[test]
fn concurrent_callers_share_one_connection_and_each_gets_its_own_reply() {
    let topo = Topology::default();
    let mut sim = redsim::sim(41);
    let mut cluster = Deployment::new(topo.clone()).seed(41).install(&mut sim);
    cluster.client(&mut sim, "app", async move {
        assert!(wait_discovery(&topo, 30 * SEC).await);
        let c = client("mux", 8).read_policy(ReadPolicy::Master).build()?;
        let mut tasks = Vec::new();
        for i in 0..64 {
            let c = c.clone();
            tasks.push(tokio::spawn(async move {
                c.set(&format!("k{i}"), &format!("v{i}")).await?;
                c.get(&format!("k{i}")).await
            }));
        }
        for (i, t) in tasks.into_iter().enumerate() {
            let got = t.await.map_err(|e| e.to_string())??;
            assert_eq!(got.as_deref(), Some(format!("v{i}").as_bytes()), "caller {i}");
        }
        Ok(())
    });
    cluster.run(&mut sim).unwrap();
    let sets = ran(cluster.exec_log(), "mux", "SET");
    assert_eq!(sets.len(), 64);
    assert!(
        sets.iter().all(|e| e.client_id == sets[0].client_id),
        "every caller's request went down one connection"
    );
    // Pipelined: all 64 arrived in one batch, so the node ran them in the same millisecond.
    assert!(sets.iter().all(|e| e.time_ms == sets[0].time_ms), "{sets:?}");
}

#[test]
fn a_timeout_discards_the_shared_connection_and_fails_the_requests_behind_it_at_once() {
    let topo = Topology::default();
    let mut sim = redsim::sim(42);
    let mut cluster = Deployment::new(topo.clone()).seed(42).install(&mut sim);
    let f = cluster.fault_handle();
    let outcome = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
    let out = outcome.clone();
    cluster.client(&mut sim, "app", async move {
        assert!(wait_discovery(&topo, 30 * SEC).await);
        let c = client("mux", 9)
            .read_policy(ReadPolicy::Master)
            .command_timeout(Duration::from_millis(300))
            .max_retries(0)
            .build()?;
        c.set("k", "before").await?;
        let master = c.master_addr().unwrap_or_default();
        let master_host = ["redis-1", "redis-2", "redis-3"]
            .into_iter()
            .find(|h| master.starts_with(&turmoil::lookup(*h).to_string()))
            .unwrap_or("redis-1");
        // The master is frozen until released: eight reads go out on the shared connection and none is answered.
        f.request(Fault::Hold(vec!["app".into()], vec![master_host.into()]));
        let t0 = now_ms();
        let mut tasks = Vec::new();
        for i in 0..8 {
            let c = c.clone();
            tasks.push(tokio::spawn(async move { (i, c.get(&format!("k{i}")).await) }));
        }
        for t in tasks {
            let (i, r) = t.await.map_err(|e| e.to_string())?;
            out.borrow_mut().push((i, r.is_err(), now_ms() - t0));
        }
        f.request(Fault::Release(vec!["app".into()], vec![master_host.into()]));
        tokio::time::sleep(Duration::from_secs(2)).await;
        // A new connection, and its replies are its own: "before", not a late reply of the frozen requests.
        assert_eq!(c.get("k").await?.as_deref(), Some(&b"before"[..]));
        Ok(())
    });
    cluster.run(&mut sim).unwrap();
    let outcome = outcome.borrow();
    assert_eq!(outcome.len(), 8);
    assert!(outcome.iter().all(|(_, failed, _)| *failed), "{outcome:?}");
    // All fail together at the first timeout (then a rediscovery and the 100 ms pause before giving up on a
    // master), not one timeout after another.
    let (first, last) = (outcome.iter().map(|o| o.2).min(), outcome.iter().map(|o| o.2).max());
    assert!(
        last.unwrap() - first.unwrap() <= 2 && last.unwrap() < 600,
        "{outcome:?}"
    );
    // The connection that timed out is the one the first write used; the read after the release is not on it.
    let first_connection = ran(cluster.exec_log(), "mux", "SET")[0].client_id;
    let after: Vec<LogEntry> = ran(cluster.exec_log(), "mux", "GET")
        .into_iter()
        .filter(|e| e.command[1] == "k")
        .collect();
    assert_eq!(after.len(), 1, "{after:?}");
    assert_ne!(after[0].client_id, first_connection, "{after:?}");
}
