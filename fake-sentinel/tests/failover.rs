//! Sentinel scenarios in turmoil, after Redis's own tests/sentinel suite: 1 master, 2 replicas, 3 Sentinels,
//! quorum 2, down-after 5000 ms unless stated.

mod common;

use std::time::Duration;

use common::*;
use redsim::{Deployment, Fault};
use redsim_fake_redis::Reply;

const SEC: Duration = Duration::from_secs(1);

/// The basic failover, returning the event transcript for determinism checks.
fn basic_failover(seed: u64) -> Vec<String> {
    let topo = Topology::default();
    let mut sim = redsim::sim(seed);
    let mut cluster = Deployment::new(topo.clone()).seed(seed).install(&mut sim);
    let (f, events, t) = (cluster.fault_handle(), cluster.event_log().clone(), topo);
    cluster.client(&mut sim, "test", async move {
        assert!(
            wait_discovery(&t, 30 * SEC).await,
            "Sentinels discover replicas and each other"
        );
        let old_master = turmoil::lookup("redis-1").to_string();
        let crash_at = now_ms();
        f.request(Fault::Crash("redis-1".into()));
        let all_switched =
            |ev: &[redsim_fake_sentinel::SentinelEvent]| ev.iter().filter(|e| e.event == "+switch-master").count() == 3;
        assert!(
            wait_events(&events, 60 * SEC, all_switched).await,
            "every Sentinel publishes +switch-master"
        );
        // SDOWN between down-after and down-after + 1 s after the crash, on every Sentinel.
        let sdowns: Vec<_> = events_named(&events, "+sdown")
            .into_iter()
            .filter(|e| e.payload.starts_with("master mymaster"))
            .collect();
        assert_eq!(sdowns.len(), 3, "{sdowns:?}");
        for e in &sdowns {
            let after = (e.time_ms - EPOCH_MS).saturating_sub(crash_at);
            assert!(
                (5000..=6000).contains(&after),
                "{} saw +sdown {after} ms after the crash (crash at {crash_at}):\n{}",
                e.sentinel,
                transcript(&events).join("\n")
            );
        }
        // The new master is one of the replicas, the same for every Sentinel.
        let switch = events_named(&events, "+switch-master");
        let new_master: Vec<&str> = switch[0].payload.split(' ').collect();
        assert_eq!(new_master[1], old_master);
        let new_ip = new_master[3].to_string();
        let r2 = turmoil::lookup("redis-2").to_string();
        let r3 = turmoil::lookup("redis-3").to_string();
        assert!(new_ip == r2 || new_ip == r3, "{new_ip}");
        assert!(switch.iter().all(|e| e.payload == switch[0].payload));
        for i in 1..=3 {
            let mut s = connect(&format!("sentinel-{i}"), SENTINEL_PORT).await;
            let addr = s
                .call(&["SENTINEL", "GET-MASTER-ADDR-BY-NAME", "mymaster"])
                .await
                .unwrap();
            assert_eq!(addr, Reply::Array(vec![Reply::text(&new_ip), Reply::text("6379")]));
        }
        // The other replica follows the new master.
        let (promoted, other) = if new_ip == r2 {
            ("redis-2", "redis-3")
        } else {
            ("redis-3", "redis-2")
        };
        let following = async {
            for _ in 0..100 {
                let mut c = connect(other, REDIS_PORT).await;
                let role = c.call(&["ROLE"]).await.unwrap();
                let r = role.as_array().unwrap();
                if r[1] == Reply::text(&new_ip) && r[3] == Reply::text("connected") {
                    return true;
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            false
        };
        assert!(following.await, "{other} follows {promoted}");
        let mut p = connect(promoted, REDIS_PORT).await;
        assert_eq!(
            p.call(&["ROLE"]).await.unwrap().as_array().unwrap()[0],
            Reply::text("master")
        );
        // The old master restarts as a master; Sentinels turn it into a replica of the new one.
        f.request(Fault::Restart("redis-1".into()));
        let converted = |ev: &[redsim_fake_sentinel::SentinelEvent]| ev.iter().any(|e| e.event == "+convert-to-slave");
        assert!(wait_events(&events, 40 * SEC, converted).await, "+convert-to-slave");
        tokio::time::sleep(2 * SEC).await;
        let mut old = connect("redis-1", REDIS_PORT).await;
        let role = old.call(&["ROLE"]).await.unwrap();
        assert_eq!(role.as_array().unwrap()[0], Reply::text("slave"));
        assert_eq!(role.as_array().unwrap()[1], Reply::text(&new_ip));
        Ok(())
    });
    cluster.run(&mut sim).unwrap();
    transcript(cluster.event_log())
}

#[test]
fn basic_failover_when_the_master_crashes() {
    let transcript = basic_failover(1);
    // The leader's sequence of failover events, in Redis's order.
    let order = [
        "+sdown",
        "+odown",
        "+try-failover",
        "+vote-for-leader",
        "+elected-leader",
        "+failover-state-select-slave",
        "+selected-slave",
        "+failover-state-send-slaveof-noone",
        "+failover-state-wait-promotion",
        "+promoted-slave",
        "+failover-state-reconf-slaves",
        "+slave-reconf-sent",
        "+slave-reconf-inprog",
        "+slave-reconf-done",
        "+failover-end",
        "+switch-master",
    ];
    let leader_line = transcript
        .iter()
        .find(|l| l.contains(" +elected-leader "))
        .expect("a leader was elected");
    let leader = leader_line.split(' ').nth(1).unwrap().to_string();
    let mine: Vec<&str> = transcript
        .iter()
        .filter(|l| l.split(' ').nth(1) == Some(leader.as_str()))
        .map(|l| l.split(' ').nth(2).unwrap())
        .collect();
    let mut pos = 0;
    for want in order {
        match mine[pos..].iter().position(|e| *e == want) {
            Some(p) => pos += p + 1,
            None => panic!("{want} missing or out of order in {mine:?}"),
        }
    }
}

#[test]
fn the_same_seed_gives_the_same_sentinel_events() {
    assert_eq!(basic_failover(7), basic_failover(7));
}
