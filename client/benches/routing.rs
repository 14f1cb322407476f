//! The routing decision every call makes before any network work (`cargo bench -p redsim-client --bench
//! routing`): classifying the command, deciding master or replica, and picking the replica, from a topology
//! kept as the client keeps it (replicas by address, with latencies and ejections).

use std::collections::BTreeMap;
use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use redsim_client::routing::{Candidate, Router};
use redsim_client::{ReadPolicy, ReplicaSelection, is_read_only};

/// `n` replicas by address with distinct latencies; every fourth is ejected, as after failures.
fn topology(n: usize) -> BTreeMap<String, (u64, bool)> {
    (0..n)
        .map(|i| (format!("10.0.1.{i}:6379"), (200 + 37 * i as u64 % 101, i % 4 == 3)))
        .collect()
}

/// The usable replicas as the client lists them: not ejected, by address.
fn candidates(replicas: &BTreeMap<String, (u64, bool)>) -> Vec<Candidate<'_>> {
    replicas
        .iter()
        .filter(|(_, (_, ejected))| !ejected)
        .map(|(k, (latency_us, _))| Candidate::new(k, *latency_us))
        .collect()
}

/// What the client does for one call with the arguments `args`: `None` means the master.
fn decide<'a>(
    router: &mut Router,
    policy: ReadPolicy,
    replicas: &'a BTreeMap<String, (u64, bool)>,
    args: &[&str],
) -> Option<&'a str> {
    let read = is_read_only(args[0]);
    // As in the client, only `Nearest` lists the replicas before deciding.
    let compared = if read && policy == ReadPolicy::Nearest {
        candidates(replicas)
    } else {
        Vec::new()
    };
    if router.goes_to_master(read, 150, &compared) {
        return None;
    }
    router.pick(&candidates(replicas))
}

fn classify(c: &mut Criterion) {
    let mut group = c.benchmark_group("classify");
    for name in ["GET", "zrangebyscore", "SET", "NOSUCHCOMMAND"] {
        group.bench_with_input(BenchmarkId::from_parameter(name), name, |b, name| {
            b.iter(|| is_read_only(black_box(name)))
        });
    }
    group.finish();
}

fn route(c: &mut Criterion) {
    let mut group = c.benchmark_group("route GET");
    let selections = [
        ("sticky", ReadPolicy::ReplicaOnly, ReplicaSelection::Sticky),
        ("round-robin", ReadPolicy::ReplicaOnly, ReplicaSelection::RoundRobin),
        ("random", ReadPolicy::ReplicaOnly, ReplicaSelection::Random),
        ("nearest", ReadPolicy::Nearest, ReplicaSelection::Sticky),
    ];
    for n in [2, 16] {
        let replicas = topology(n);
        for (label, policy, selection) in selections {
            group.bench_function(BenchmarkId::new(label, n), |b| {
                let mut router = Router::new(policy, selection, 1);
                b.iter(|| {
                    black_box(decide(
                        &mut router,
                        policy,
                        &replicas,
                        black_box(&["GET", "key:000042"]),
                    ))
                })
            });
        }
    }
    group.finish();
    c.bench_function("route SET", |b| {
        let replicas = topology(2);
        let mut router = Router::new(ReadPolicy::ReplicaOnly, ReplicaSelection::Sticky, 1);
        b.iter(|| {
            black_box(decide(
                &mut router,
                ReadPolicy::ReplicaOnly,
                &replicas,
                black_box(&["SET", "key:000042", "v"]),
            ))
        })
    });
}

criterion_group!(benches, classify, route);
criterion_main!(benches);
