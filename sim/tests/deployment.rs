//! A user's workload, written against the public API only (`Deployment`, `Recorder`, the routing client),
//! judged by the same checkers as redsim's own scenarios: the checkers do not care who wrote the workload.

use std::time::Duration;

use redsim::checkers::{self, Check};
use redsim::seeds::check_these_seeds;
use redsim::{Deployment, Fault, History, OpKind, Recorder, Topology, scenarios};
use redsim_client::{Client, ReadPolicy};
use redsim_net::Net;

/// The scenario's clients, written by hand: a writer of unique values and two readers, an operation every
/// 100 ms for `duration_ms` after the warm-up. `reader_policy` is what the readers really use; they are
/// always *declared* replica-only, so a reader that reads the master is a bug the checkers must find.
fn user_run(seed: u64, schedule: &[(u64, Fault)], duration_ms: u64, reader_policy: ReadPolicy) -> History {
    let mut sim = redsim::sim(seed);
    let mut cluster = Deployment::new(Topology::default())
        .seed(seed)
        .stable_ms(8_000)
        .install(&mut sim);
    let rec = Recorder::new();
    let client = move |name: &str, policy: ReadPolicy, sentinels: &[String]| {
        Client::builder()
            .sentinels(sentinels.iter().map(String::as_str))
            .master_name("mymaster")
            .client_name(name)
            .read_policy(policy)
            .net(Net::Turmoil)
            .seed(seed)
            .build()
    };
    rec.declare_writer("svc-writer");
    let (r, sentinels) = (rec.clone(), cluster.sentinel_addrs());
    cluster.client(&mut sim, "svc-writer", async move {
        redsim::warmed_up().await;
        let c = client("svc-writer", ReadPolicy::ReplicaOnly, &sentinels)?;
        let mut n = 0;
        while redsim::deployment::now_ms() < redsim::deployment::WARMUP_MS + duration_ms {
            n += 1;
            let (key, value) = (format!("k{}", n % 8), format!("svc-writer:{n}"));
            let _ = r.write("svc-writer", &key, Some(&value), c.set(&key, &value)).await;
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Ok(())
    });
    for name in ["svc-reader-1", "svc-reader-2"] {
        rec.declare_reader(name, "replica-only");
        let (r, sentinels) = (rec.clone(), cluster.sentinel_addrs());
        cluster.client(&mut sim, name, async move {
            redsim::warmed_up().await;
            let c = client(name, reader_policy, &sentinels)?;
            let mut n = 0;
            while redsim::deployment::now_ms() < redsim::deployment::WARMUP_MS + duration_ms {
                n += 1;
                let key = format!("k{}", n % 8);
                let read = async {
                    c.get(&key)
                        .await
                        .map(|v| v.map(|b| String::from_utf8_lossy(&b).into_owned()))
                        .map_err(|e| e.kind())
                };
                let _ = r.read(name, &key, read).await;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Ok(())
        });
    }
    for (at, f) in schedule {
        cluster.at(*at, f.clone());
    }
    cluster.run(&mut sim).expect("the simulation runs");
    cluster.history("user-run", &sim, &rec).expect("a history")
}

fn verdicts(checks: &[Check]) -> Vec<(&'static str, bool)> {
    checks.iter().map(|c| (c.name, c.passed())).collect()
}

#[test]
fn a_user_workload_gets_the_verdicts_of_the_built_in_scenario() {
    let builtin = scenarios::all()
        .into_iter()
        .find(|s| s.name == "test3-crash")
        .expect("a named scenario");
    let schedule: Vec<(u64, Fault)> = builtin.schedule.iter().map(|f| (f.at_ms, f.fault.clone())).collect();
    let theirs = checkers::check_all(&redsim::run(&builtin, 3).expect("runs"));
    let h = user_run(3, &schedule, builtin.duration_ms, ReadPolicy::ReplicaOnly);
    let ours = checkers::check_all(&h);
    assert_eq!(verdicts(&ours), verdicts(&theirs), "{ours:#?}");
    // Not vacuous: the readers read, their replica failed, and the failover checker measured a re-route.
    let reads = h
        .ops
        .iter()
        .filter(|o| o.kind == OpKind::Read && o.outcome.is_ok())
        .count();
    assert!(reads > 400, "{reads} reads");
    let fbs = ours
        .iter()
        .find(|c| c.name == "failover_before_sdown")
        .expect("checker");
    assert!(fbs.metric("re-route max ms").is_some(), "{fbs:?}");
    assert!(h.faults.iter().any(|(_, f)| *f == Fault::Crash("redis-2".into())));
}

#[test]
fn a_user_service_reading_the_master_is_caught() {
    let h = user_run(3, &[], 3_000, ReadPolicy::Master);
    let checks = checkers::check_all(&h);
    let c = checks
        .iter()
        .find(|c| c.name == "reads_never_on_master")
        .expect("checker");
    assert!(!c.passed(), "{c:?}");
    assert!(c.violations[0].what.contains("while it was master"), "{c:?}");
}

#[test]
fn a_failing_seed_says_how_to_reproduce_it() {
    let dir = std::env::temp_dir().join(format!("redsim-seeds-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    // SAFETY of the test: REDSIM_OUT is read by this test alone.
    unsafe { std::env::set_var("REDSIM_OUT", &dir) };
    let failure = check_these_seeds("reads_on_master", &[4], |seed| {
        Ok(user_run(
            seed,
            &[(1_000, Fault::Crash("redis-3".into()))],
            2_000,
            ReadPolicy::Master,
        ))
    })
    .expect_err("reads on the master fail");
    assert_eq!(failure.seed, 4);
    for needle in [
        "reads_on_master failed at seed 4",
        "reads_never_on_master: at ",
        "at 1000 crash(redis-3)",
        "reproduce: REDSIM_SEED=4 cargo test reads_on_master",
        "timeline: ",
    ] {
        assert!(
            failure.report.contains(needle),
            "{needle:?} missing from:\n{}",
            failure.report
        );
    }
    let svg = dir.join("redsim-reads_on_master-4.svg");
    assert!(std::fs::read_to_string(&svg).unwrap().starts_with("<svg"), "{svg:?}");
    // A passing workload passes every seed.
    check_these_seeds("reads_on_replicas", &[1, 2], |seed| {
        Ok(user_run(seed, &[], 2_000, ReadPolicy::ReplicaOnly))
    })
    .unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn an_operation_of_an_undeclared_client_is_refused() {
    let mut sim = redsim::sim(1);
    let mut cluster = Deployment::new(Topology::default()).seed(1).install(&mut sim);
    let rec = Recorder::new();
    let r = rec.clone();
    cluster.client(&mut sim, "stranger", async move {
        r.begin("stranger", OpKind::Read, "k").ok(None);
        Ok(())
    });
    cluster.run(&mut sim).unwrap();
    let err = cluster.history("t", &sim, &rec).unwrap_err();
    assert!(err.contains("client 'stranger', which was never declared"), "{err}");
}

#[test]
fn the_same_seed_gives_the_same_user_history() {
    let schedule = [
        (500, Fault::Pause("redis-2".into())),
        (1_500, Fault::Resume("redis-2".into())),
    ];
    let a = user_run(9, &schedule, 2_000, ReadPolicy::ReplicaOnly);
    let b = user_run(9, &schedule, 2_000, ReadPolicy::ReplicaOnly);
    assert_eq!(a.render(), b.render());
}

#[test]
fn a_failover_in_a_user_sim_promotes_a_replica_and_the_run_still_ends() {
    let mut sim = redsim::sim(5);
    let mut cluster = Deployment::new(Topology::default()).seed(5).install(&mut sim);
    cluster.client(&mut sim, "app", async {
        redsim::warmed_up().await;
        tokio::time::sleep(Duration::from_secs(8)).await;
        Ok(())
    });
    cluster.at(1_000, Fault::Failover);
    cluster
        .run(&mut sim)
        .expect("the run ends when the app returns: the control host does not hold it up");
    let switched = cluster.event_log().events().iter().any(|e| e.event == "+switch-master");
    assert!(switched, "{:?}", cluster.event_log().events());
    assert!(cluster.hosts().iter().any(|h| h == "ctl"), "{:?}", cluster.hosts());
}

#[test]
fn a_fault_requested_from_inside_a_host_applies_before_the_next_step() {
    let mut sim = redsim::sim(6);
    let mut cluster = Deployment::new(Topology::default()).seed(6).install(&mut sim);
    let faults = cluster.fault_handle();
    cluster.client(&mut sim, "app", async move {
        redsim::warmed_up().await;
        faults.request(Fault::Kill("redis-2".into()));
        tokio::time::sleep(Duration::from_secs(2)).await;
        Ok(())
    });
    cluster.run(&mut sim).unwrap();
    let (at, fault) = &cluster.applied()[0];
    assert_eq!(fault, &Fault::Kill("redis-2".into()));
    assert!(
        (redsim::deployment::WARMUP_MS..redsim::deployment::WARMUP_MS + 5).contains(at),
        "{at}"
    );
    // The killed node runs nothing after it.
    let later = cluster
        .exec_log()
        .entries()
        .into_iter()
        .filter(|e| e.node == "redis-2" && e.time_ms > redsim::history::EPOCH_MS + at)
        .count();
    assert_eq!(later, 0);
}

#[test]
fn a_deployment_without_sentinels_runs_and_ignores_a_failover() {
    let topology = Topology {
        sentinels: 0,
        ..Topology::default()
    };
    let mut sim = redsim::sim(2);
    let mut cluster = Deployment::new(topology).seed(2).install(&mut sim);
    assert!(cluster.sentinel_addrs().is_empty());
    cluster.client(&mut sim, "app", async {
        tokio::time::sleep(Duration::from_secs(3)).await;
        Ok(())
    });
    cluster.control_until(5_000);
    cluster.at(0, Fault::Failover);
    cluster.run(&mut sim).expect("no control host, no panic");
    assert!(cluster.event_log().events().is_empty());
    assert!(!cluster.exec_log().is_empty(), "the data nodes ran");
}

/// 64 replicas used to install, then panic inside turmoil at the first step ("server socket buffer full": the
/// master's queue of connections to accept holds 64). Now the builder refuses it up front and says why.
#[test]
#[should_panic(expected = "topology replicas 64 is above the limit of 16")]
fn a_topology_too_large_for_turmoil_is_refused_by_install() {
    let topology = Topology {
        replicas: 64,
        ..Topology::default()
    };
    let mut sim = redsim::sim(1);
    let mut cluster = Deployment::new(topology).seed(1).install(&mut sim);
    cluster.client(&mut sim, "app", async {
        tokio::time::sleep(Duration::from_millis(100)).await;
        Ok(())
    });
    let _ = cluster.run(&mut sim);
}

#[test]
fn try_install_returns_what_is_wrong_and_installs_nothing() {
    let mut sim = redsim::sim(1);
    let too_many = Topology {
        sentinels: 9,
        quorum: 5,
        ..Topology::default()
    };
    let e = Deployment::new(too_many).try_install(&mut sim).unwrap_err();
    assert_eq!(e, "topology sentinels 9 is above the limit of 7");
    let bad_quorum = Topology {
        quorum: 4,
        ..Topology::default()
    };
    let e = Deployment::new(bad_quorum).try_install(&mut sim).unwrap_err();
    assert!(e.contains("quorum 4 must be between 1 and the 3 Sentinels"), "{e}");
    // Nothing was installed: the default topology still goes in, under the same host names.
    let cluster = Deployment::new(Topology::default()).try_install(&mut sim).unwrap();
    assert_eq!(cluster.redis_hosts(), ["redis-1", "redis-2", "redis-3"]);
}
