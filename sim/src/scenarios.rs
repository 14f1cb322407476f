//! The named scenarios (`redsim list`), and random schedules for campaigns.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::fault::{Fault, TimedFault};
use crate::scenario::{ClientRole, ClientSpec, Scenario};

fn at(at_ms: u64, fault: Fault) -> TimedFault {
    TimedFault { at_ms, fault }
}

fn host(n: &str) -> String {
    n.to_string()
}

fn hosts(names: &[&str]) -> Vec<String> {
    names.iter().map(|n| n.to_string()).collect()
}

fn named(name: &str, schedule: Vec<TimedFault>) -> Scenario {
    Scenario {
        name: name.into(),
        schedule,
        ..Scenario::default()
    }
}

fn reader(name: &str, selection: &str, policy: &str) -> ClientSpec {
    ClientSpec {
        policy: policy.into(),
        selection: selection.into(),
        ..ClientSpec::new(name, ClientRole::Reader)
    }
}

/// Every named scenario, in `redsim list` order.
pub fn all() -> Vec<Scenario> {
    let mut v = vec![
        // The seed's Test1: one replica-only reader with Sticky selection (all its reads on one replica).
        Scenario {
            name: "test1-sticky".into(),
            clients: vec![reader("reader-1", "sticky", "replica-only")],
            duration_ms: 10_000,
            ..Scenario::default()
        },
        // The seed's Test2: several readers choosing at random (reads spread over the replicas).
        Scenario {
            name: "test2-spread".into(),
            clients: (1..=4)
                .map(|i| reader(&format!("reader-{i}"), "random", "replica-only"))
                .collect(),
            duration_ms: 10_000,
            ..Scenario::default()
        },
    ];
    // The seed's Test3, in each way a replica can fail.
    let down = [
        (
            "test3-kill",
            Fault::Kill(host("redis-2")),
            Fault::Restart(host("redis-2")),
        ),
        (
            "test3-crash",
            Fault::Crash(host("redis-2")),
            Fault::Restart(host("redis-2")),
        ),
        (
            "test3-pause",
            Fault::Pause(host("redis-2")),
            Fault::Resume(host("redis-2")),
        ),
        ("test3-partition", Fault::Isolate(host("redis-2")), Fault::Heal),
    ];
    for (name, fail, back) in down {
        v.push(named(name, vec![at(5000, fail), at(15_000, back)]));
    }
    v.push(named(
        "master-crash",
        vec![
            at(5000, Fault::Crash(host("redis-1"))),
            at(20_000, Fault::Restart(host("redis-1"))),
        ],
    ));
    v.push(Scenario {
        name: "minority-partition".into(),
        // Jepsen 2013: the old master keeps a writer and accepts writes the majority will discard.
        schedule: vec![
            at(
                5000,
                Fault::Partition(
                    hosts(&["redis-1", "writer-1"]),
                    hosts(&[
                        "redis-2",
                        "redis-3",
                        "sentinel-1",
                        "sentinel-2",
                        "sentinel-3",
                        "reader-1",
                        "reader-2",
                    ]),
                ),
            ),
            at(18_000, Fault::Heal),
        ],
        ..Scenario::default()
    });
    v.push(named(
        "oneway-partition",
        vec![
            at(
                5000,
                Fault::PartitionOneway(hosts(&["redis-2"]), hosts(&["reader-1", "reader-2"])),
            ),
            at(15_000, Fault::Heal),
        ],
    ));
    v.push(named(
        "flapping-replica",
        (0..4)
            .flat_map(|i| {
                let t = 4000 + i * 3000;
                [
                    at(t, Fault::Pause(host("redis-2"))),
                    at(t + 1500, Fault::Resume(host("redis-2"))),
                ]
            })
            .collect(),
    ));
    v.push(named(
        "all-replicas-down",
        vec![
            at(5000, Fault::Crash(host("redis-2"))),
            at(5000, Fault::Crash(host("redis-3"))),
            at(12_000, Fault::Restart(host("redis-2"))),
            at(12_000, Fault::Restart(host("redis-3"))),
        ],
    ));
    v.push(named(
        "sentinel-crash-during-failover",
        vec![
            at(5000, Fault::Crash(host("redis-1"))),
            at(10_700, Fault::Crash(host("sentinel-1"))),
            at(18_000, Fault::Restart(host("sentinel-1"))),
            at(19_000, Fault::Restart(host("redis-1"))),
        ],
    ));
    v.push(named(
        "old-master-restart",
        vec![
            at(5000, Fault::Kill(host("redis-1"))),
            at(14_000, Fault::Restart(host("redis-1"))),
        ],
    ));
    v.push(named("manual-failover", vec![at(5000, Fault::Failover)]));
    // Test3's crash with clients that use every data type: readers' HGETALL, LRANGE, SMEMBERS, ZRANGE and
    // EVAL_RO are judged like GET (never on a master, re-routed before +sdown).
    let mut typed = named(
        "test3-crash-data-types",
        vec![
            at(5000, Fault::Crash(host("redis-2"))),
            at(15_000, Fault::Restart(host("redis-2"))),
        ],
    );
    for c in &mut typed.clients {
        c.data = crate::scenario::DataMix::AllTypes;
    }
    v.push(typed);
    v
}

/// A named scenario.
pub fn by_name(name: &str) -> Option<Scenario> {
    all().into_iter().find(|s| s.name == name)
}

/// A random schedule on the default topology: one to three faults on data nodes, each repaired later, all
/// before the stable window.
pub fn random(seed: u64) -> Scenario {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x5EED);
    let base = Scenario::default();
    let last = base.duration_ms - base.stable_ms - 2000;
    let mut schedule = Vec::new();
    for _ in 0..rng.random_range(1..=3) {
        let node = format!("redis-{}", rng.random_range(1..=3));
        let t = rng.random_range(1000..last - 3000);
        let back = rng.random_range(t + 1000..last);
        let (fail, repair) = match rng.random_range(0..4) {
            0 => (Fault::Crash(node.clone()), Fault::Restart(node)),
            1 => (Fault::Kill(node.clone()), Fault::Restart(node)),
            2 => (Fault::Pause(node.clone()), Fault::Resume(node)),
            _ => (Fault::Isolate(node), Fault::Heal),
        };
        schedule.push(at(t, fail));
        schedule.push(at(back, repair));
    }
    schedule.sort_by_key(|f| f.at_ms);
    Scenario {
        name: format!("random-{seed}"),
        schedule,
        ..base
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn named_scenarios_are_valid_and_round_trip_as_text() {
        let all = all();
        assert!(all.len() >= 14);
        for s in all {
            s.validate().unwrap_or_else(|e| panic!("{}: {e}", s.name));
            assert_eq!(s.to_string().parse::<Scenario>().unwrap(), s, "{}", s.name);
        }
    }

    #[test]
    fn random_schedules_are_valid_and_seeded() {
        for seed in 0..50 {
            let s = random(seed);
            s.validate().unwrap();
            assert_eq!(s, random(seed));
        }
        assert_ne!(random(1), random(2));
    }
}
