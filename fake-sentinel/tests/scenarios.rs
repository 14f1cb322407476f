//! Failure detection, quorum, election and manual failover scenarios, after Redis's tests/sentinel suite.

mod common;

use std::time::Duration;

use common::*;
use redsim::{Deployment, Fault, FaultHandle};
use redsim_fake_redis::Reply;
use redsim_fake_sentinel::SentinelEvent;

const SEC: Duration = Duration::from_secs(1);

fn count(events: &[SentinelEvent], name: &str) -> usize {
    events.iter().filter(|e| e.event == name).count()
}

/// Builds a deployment, runs `body` as the test client, applies the faults it asks for; then does it all
/// again with the same seed and requires the same Sentinel event log, byte for byte.
fn scenario<F, Fut>(seed: u64, topo: Topology, body: F)
where
    F: Fn(FaultHandle, redsim_fake_sentinel::EventLog, Topology) -> Fut,
    Fut: std::future::Future<Output = ()> + 'static,
{
    let once = || {
        let mut sim = redsim::sim(seed);
        let mut cluster = Deployment::new(topo.clone()).seed(seed).install(&mut sim);
        let fut = body(cluster.fault_handle(), cluster.event_log().clone(), topo.clone());
        cluster.client(&mut sim, "test", async move {
            fut.await;
            Ok(())
        });
        cluster.run(&mut sim).unwrap();
        transcript(cluster.event_log())
    };
    let first = once();
    assert!(!first.is_empty());
    assert_eq!(first, once(), "same seed, same Sentinel events");
}

#[test]
fn no_failover_while_only_a_minority_sees_the_master_down() {
    scenario(11, Topology::default(), |f, events, topo| async move {
        assert!(wait_discovery(&topo, 30 * SEC).await);
        f.request(Fault::Partition(hosts(&["sentinel-1"]), hosts(&["redis-1"])));
        tokio::time::sleep(30 * SEC).await;
        let ev = events.events();
        let sdown: Vec<_> = ev
            .iter()
            .filter(|e| e.event == "+sdown" && e.payload.starts_with("master"))
            .collect();
        assert_eq!(sdown.len(), 1, "only sentinel-1 sees the master down: {sdown:?}");
        assert_eq!(sdown[0].sentinel, "sentinel-1");
        assert_eq!(count(&ev, "+odown"), 0);
        assert_eq!(count(&ev, "+try-failover"), 0);
        assert_eq!(count(&ev, "+switch-master"), 0);
        let master_ip = turmoil::lookup("redis-1").to_string();
        for i in 1..=3 {
            let mut s = connect(&format!("sentinel-{i}"), SENTINEL_PORT).await;
            let addr = s
                .call(&["SENTINEL", "GET-MASTER-ADDR-BY-NAME", "mymaster"])
                .await
                .unwrap();
            assert_eq!(addr.as_array().unwrap()[0], Reply::text(&master_ip));
        }
    });
}

#[test]
fn no_failover_when_no_majority_can_elect_a_leader() {
    // Quorum 1: each Sentinel alone reaches ODOWN, but the Sentinels cannot reach each other to vote.
    let topo = Topology {
        quorum: 1,
        ..Topology::default()
    };
    scenario(12, topo, |f, events, topo| async move {
        assert!(wait_discovery(&topo, 30 * SEC).await);
        f.request(Fault::Partition(
            hosts(&["sentinel-1"]),
            hosts(&["sentinel-2", "sentinel-3"]),
        ));
        f.request(Fault::Partition(hosts(&["sentinel-2"]), hosts(&["sentinel-3"])));
        tokio::time::sleep(SEC).await;
        f.request(Fault::Crash("redis-1".into()));
        tokio::time::sleep(40 * SEC).await;
        let ev = events.events();
        assert!(count(&ev, "+odown") >= 1, "quorum 1: ODOWN alone");
        assert!(count(&ev, "+try-failover") >= 1);
        assert!(
            count(&ev, "-failover-abort-not-elected") >= 1,
            "no majority: the attempt is aborted"
        );
        assert_eq!(count(&ev, "+elected-leader"), 0);
        assert_eq!(count(&ev, "+switch-master"), 0);
    });
}

#[test]
fn odown_needs_the_quorum() {
    // Two of three Sentinels lose the master; the third still sees it.
    let partition = |f: &FaultHandle| {
        f.request(Fault::Partition(
            hosts(&["sentinel-1", "sentinel-2"]),
            hosts(&["redis-1"]),
        ))
    };
    let topo = Topology {
        quorum: 3,
        ..Topology::default()
    };
    scenario(13, topo, move |f, events, topo| async move {
        assert!(wait_discovery(&topo, 30 * SEC).await);
        partition(&f);
        tokio::time::sleep(20 * SEC).await;
        let ev = events.events();
        assert_eq!(
            ev.iter()
                .filter(|e| e.event == "+sdown" && e.payload.starts_with("master"))
                .count(),
            2
        );
        assert_eq!(count(&ev, "+odown"), 0, "2 of quorum 3");
    });
    let topo = Topology {
        quorum: 2,
        ..Topology::default()
    };
    scenario(13, topo, move |f, events, topo| async move {
        assert!(wait_discovery(&topo, 30 * SEC).await);
        partition(&f);
        tokio::time::sleep(20 * SEC).await;
        let odown: Vec<_> = events.events().into_iter().filter(|e| e.event == "+odown").collect();
        assert!(!odown.is_empty(), "2 of quorum 2");
        assert!(odown[0].payload.ends_with("#quorum 2/2"), "{}", odown[0].payload);
    });
}

#[test]
fn a_replica_with_priority_0_is_never_promoted() {
    let topo = Topology {
        priorities: vec![0, 100],
        ..Topology::default()
    };
    scenario(14, topo, |f, events, topo| async move {
        assert!(wait_discovery(&topo, 30 * SEC).await);
        f.request(Fault::Crash("redis-1".into()));
        let switched = |ev: &[SentinelEvent]| count(ev, "+switch-master") == 3;
        assert!(wait_events(&events, 60 * SEC, switched).await);
        let new_ip = events_named(&events, "+switch-master")[0]
            .payload
            .split(' ')
            .nth(3)
            .unwrap()
            .to_string();
        assert_eq!(new_ip, turmoil::lookup("redis-3").to_string(), "redis-2 has priority 0");
    });
    let topo = Topology {
        priorities: vec![0, 0],
        ..Topology::default()
    };
    scenario(15, topo, |f, events, topo| async move {
        assert!(wait_discovery(&topo, 30 * SEC).await);
        f.request(Fault::Crash("redis-1".into()));
        let aborted = |ev: &[SentinelEvent]| count(ev, "-failover-abort-no-good-slave") >= 1;
        assert!(
            wait_events(&events, 60 * SEC, aborted).await,
            "no replica may be promoted"
        );
        assert_eq!(count(&events.events(), "+switch-master"), 0);
    });
}

#[test]
fn manual_failover_switches_a_healthy_master() {
    scenario(16, Topology::default(), |_f, events, topo| async move {
        assert!(wait_discovery(&topo, 30 * SEC).await);
        let mut s1 = connect("sentinel-1", SENTINEL_PORT).await;
        let e = s1.call(&["SENTINEL", "FAILOVER", "nosuch"]).await.unwrap();
        assert_eq!(e, Reply::Error("ERR No such master with that name".into()));
        assert_eq!(
            s1.call(&["SENTINEL", "FAILOVER", "mymaster"]).await.unwrap(),
            Reply::ok()
        );
        assert_eq!(
            s1.call(&["SENTINEL", "FAILOVER", "mymaster"]).await.unwrap(),
            Reply::Error("INPROG Failover already in progress".into())
        );
        let switched = |ev: &[SentinelEvent]| count(ev, "+switch-master") == 3;
        assert!(wait_events(&events, 30 * SEC, switched).await);
        let ev = events.events();
        assert_eq!(count(&ev, "+sdown"), 0, "nobody saw anything down");
        assert_eq!(
            ev.iter().find(|e| e.event == "+elected-leader").unwrap().sentinel,
            "sentinel-1"
        );
        // The old master, healthy all along, is turned into a replica of the new one.
        let converted = |ev: &[SentinelEvent]| count(ev, "+convert-to-slave") >= 1;
        assert!(wait_events(&events, 40 * SEC, converted).await);
        tokio::time::sleep(2 * SEC).await;
        let mut old = connect("redis-1", REDIS_PORT).await;
        assert_eq!(
            old.call(&["ROLE"]).await.unwrap().as_array().unwrap()[0],
            Reply::text("slave")
        );
    });
}

#[test]
fn ckquorum_reports_usable_sentinels() {
    scenario(17, Topology::default(), |f, _events, topo| async move {
        assert!(wait_discovery(&topo, 30 * SEC).await);
        let mut s1 = connect("sentinel-1", SENTINEL_PORT).await;
        assert_eq!(
            s1.call(&["SENTINEL", "CKQUORUM", "mymaster"]).await.unwrap(),
            Reply::Simple("OK 3 usable Sentinels. Quorum and failover authorization can be reached".into())
        );
        assert_eq!(
            s1.call(&["SENTINEL", "CKQUORUM", "nosuch"]).await.unwrap(),
            Reply::Error("ERR No such master with that name".into())
        );
        f.request(Fault::Crash("sentinel-2".into()));
        tokio::time::sleep(7 * SEC).await;
        assert_eq!(
            s1.call(&["SENTINEL", "CKQUORUM", "mymaster"]).await.unwrap(),
            Reply::Simple("OK 2 usable Sentinels. Quorum and failover authorization can be reached".into())
        );
        f.request(Fault::Crash("sentinel-3".into()));
        tokio::time::sleep(7 * SEC).await;
        assert_eq!(
            s1.call(&["SENTINEL", "CKQUORUM", "mymaster"]).await.unwrap(),
            Reply::Error(
                "NOQUORUM 1 usable Sentinels. Not enough available Sentinels to reach the specified quorum for this \
                 master. Not enough available Sentinels to reach the majority and authorize a failover"
                    .into()
            )
        );
    });
}

#[test]
fn sentinels_discover_each_other_and_the_replicas() {
    scenario(18, Topology::default(), |_f, _events, topo| async move {
        assert!(wait_discovery(&topo, 30 * SEC).await);
        let mut s1 = connect("sentinel-1", SENTINEL_PORT).await;
        let replicas = s1.call(&["SENTINEL", "REPLICAS", "mymaster"]).await.unwrap();
        let replicas = replicas.as_array().unwrap();
        assert_eq!(replicas.len(), 2);
        let ips: Vec<String> = replicas.iter().map(|r| field(r, "ip").unwrap()).collect();
        assert!(ips.contains(&turmoil::lookup("redis-2").to_string()));
        assert!(ips.contains(&turmoil::lookup("redis-3").to_string()));
        for r in replicas {
            assert_eq!(field(r, "flags").as_deref(), Some("slave"));
            assert_eq!(field(r, "master-link-status").as_deref(), Some("ok"));
            assert_eq!(field(r, "name"), Some(format!("{}:6379", field(r, "ip").unwrap())));
        }
        let sentinels = s1.call(&["SENTINEL", "SENTINELS", "mymaster"]).await.unwrap();
        let sentinels = sentinels.as_array().unwrap();
        assert_eq!(sentinels.len(), 2);
        for s in sentinels {
            assert_eq!(field(s, "flags").as_deref(), Some("sentinel"));
            assert_eq!(field(s, "name").unwrap().len(), 40, "Sentinels are named by run id");
            assert_eq!(field(s, "port").as_deref(), Some("26379"));
        }
    });
}

#[test]
fn reconfigured_nodes_drop_their_normal_clients() {
    scenario(19, Topology::default(), |f, events, topo| async move {
        assert!(wait_discovery(&topo, 30 * SEC).await);
        let mut on_2 = connect("redis-2", REDIS_PORT).await;
        let mut on_3 = connect("redis-3", REDIS_PORT).await;
        on_2.call(&["PING"]).await.unwrap();
        on_3.call(&["PING"]).await.unwrap();
        f.request(Fault::Crash("redis-1".into()));
        let switched = |ev: &[SentinelEvent]| count(ev, "+switch-master") == 3;
        assert!(wait_events(&events, 60 * SEC, switched).await);
        assert!(
            on_2.call(&["PING"]).await.is_err(),
            "redis-2 was reconfigured: its clients were killed"
        );
        assert!(
            on_3.call(&["PING"]).await.is_err(),
            "redis-3 was reconfigured: its clients were killed"
        );
    });
}

/// The leader's `+slave-reconf-sent` / `+slave-reconf-done` events, in order.
fn reconf_events(events: &[SentinelEvent]) -> Vec<String> {
    let leader = events
        .iter()
        .find(|e| e.event == "+elected-leader")
        .map(|e| e.sentinel.clone())
        .unwrap_or_default();
    events
        .iter()
        .filter(|e| e.sentinel == leader && (e.event == "+slave-reconf-sent" || e.event == "+slave-reconf-done"))
        .map(|e| e.event.clone())
        .collect()
}

#[test]
fn reconfiguration_honours_parallel_syncs() {
    for (parallel_syncs, want) in [
        (
            1,
            [
                "+slave-reconf-sent",
                "+slave-reconf-done",
                "+slave-reconf-sent",
                "+slave-reconf-done",
            ],
        ),
        (
            2,
            [
                "+slave-reconf-sent",
                "+slave-reconf-sent",
                "+slave-reconf-done",
                "+slave-reconf-done",
            ],
        ),
    ] {
        let topo = Topology {
            replicas: 3,
            parallel_syncs,
            ..Topology::default()
        };
        scenario(20, topo, move |f, events, topo| async move {
            assert!(wait_discovery(&topo, 30 * SEC).await);
            f.request(Fault::Crash("redis-1".into()));
            let switched = |ev: &[SentinelEvent]| count(ev, "+switch-master") == 3;
            assert!(wait_events(&events, 60 * SEC, switched).await);
            assert_eq!(reconf_events(&events.events()), want, "parallel-syncs {parallel_syncs}");
        });
    }
}

#[test]
fn a_frozen_sentinel_enters_tilt_when_thawed_instead_of_timing_out_its_pings() {
    // SIGSTOP/SIGCONT: while frozen it sends nothing, so it cannot blame the instances for pings it never sent;
    // the 3 s time jump it sees when thawed puts it in TILT, where it judges nothing for 30 s.
    let topo = Topology::default();
    let mut sim = redsim::sim(21);
    let mut cluster = Deployment::new(topo.clone()).seed(21).install(&mut sim);
    let (f, events) = (cluster.fault_handle(), cluster.event_log().clone());
    cluster.client(&mut sim, "test", async move {
        assert!(wait_discovery(&topo, 30 * SEC).await);
        // A pause holds every message to and from sentinel-1 and stops its timer, as SIGSTOP would.
        f.request(Fault::Pause("sentinel-1".into()));
        tokio::time::sleep(3 * SEC).await;
        f.request(Fault::Resume("sentinel-1".into()));
        tokio::time::sleep(10 * SEC).await;
        let ev = events.events();
        let mine = |name: &str| {
            ev.iter()
                .filter(|e| e.sentinel == "sentinel-1" && e.event == name)
                .count()
        };
        assert_eq!(mine("+tilt"), 1, "{ev:?}");
        assert_eq!(mine("+sdown"), 0, "{ev:?}");
        Ok(())
    });
    cluster.run(&mut sim).unwrap();
}
