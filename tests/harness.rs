//! The harness end to end: every named scenario passes its checkers with the default client and runs the same
//! twice from one seed; each mutant is caught by the checker meant for it.

use redsim::report::{Outcome, failure_text, replay_command, run_checked};
use redsim::{ClientRole, ClientSpec, Mutant, Scenario, scenarios};

fn run(s: &Scenario, seed: u64) -> Outcome {
    run_checked(s, seed).unwrap_or_else(|e| panic!("{}: {e}", s.name))
}

fn passes_and_replays(name: &str, seed: u64) {
    let s = scenarios::by_name(name).unwrap();
    let o = run(&s, seed);
    assert!(o.passed(), "{}", failure_text(&o, &replay_command(&s, seed, None)));
    let again = redsim::run(&s, seed).unwrap();
    if o.history.render() != again.render() {
        let dir = std::env::temp_dir();
        let _ = std::fs::write(dir.join(format!("{name}-first.txt")), o.history.render());
        let _ = std::fs::write(dir.join(format!("{name}-second.txt")), again.render());
        panic!(
            "{name}: the same seed gave a different history (both written to {})",
            dir.display()
        );
    }
}

macro_rules! named {
    ($($test:ident => $name:literal),* $(,)?) => {
        $(#[test] fn $test() { passes_and_replays($name, 11); })*
    };
}

named! {
    test1_sticky => "test1-sticky",
    test2_spread => "test2-spread",
    test3_kill => "test3-kill",
    test3_crash => "test3-crash",
    test3_pause => "test3-pause",
    test3_partition => "test3-partition",
    master_crash => "master-crash",
    minority_partition => "minority-partition",
    oneway_partition => "oneway-partition",
    flapping_replica => "flapping-replica",
    all_replicas_down => "all-replicas-down",
    sentinel_crash_during_failover => "sentinel-crash-during-failover",
    old_master_restart => "old-master-restart",
    manual_failover => "manual-failover",
    test3_crash_data_types => "test3-crash-data-types",
}

#[test]
fn concurrent_operations_share_a_client_pass_the_checkers_and_replay() {
    // A replica fails under a reader with 16 operations in flight on one connection: the multiplexed
    // connection's failure handling is checked by the same checkers as a single request's.
    let mut s = scenarios::by_name("test3-crash").unwrap();
    s.duration_ms = 20_000;
    for c in s.clients.iter_mut().filter(|c| c.role == ClientRole::Reader) {
        c.concurrency = 16;
        c.interval_ms = 20;
    }
    let o = run(&s, 19);
    assert!(o.passed(), "{}", failure_text(&o, &replay_command(&s, 19, None)));
    let reads = o.history.ops.iter().filter(|op| op.client == "reader-1").count();
    // One loop would manage about 20 s / 22 ms; sixteen do many times that.
    assert!(reads > 8 * 20_000 / 22, "reader-1 ran {reads} reads");
    assert_eq!(o.history.render(), redsim::run(&s, 19).unwrap().render());
}

#[test]
fn callers_piling_up_behind_a_promoted_replica_dial_it_once_each_time_not_once_each() {
    // The master crashes and a replica is promoted while 64 reads per reader are in flight. Every read that
    // picked the promoted node queues for its connection; one dial finds it is a master now and the others
    // share that answer. (They used to dial one after another, and at equal deadlines all in one tick: 120
    // connection attempts at once overflowed the node's accept queue and turmoil panicked.)
    let mut s: Scenario = "scenario pile-up\nduration_ms 20000\nstable_ms 8000\nnetwork latency_ms=1..1 tick_ms=10\n\
                           at 5000 crash(redis-1)\nat 14000 restart(redis-1)"
        .parse()
        .unwrap();
    for c in s.clients.iter_mut().filter(|c| c.role == ClientRole::Reader) {
        c.concurrency = 64;
        c.interval_ms = 1;
    }
    let o = run(&s, 2);
    assert!(o.passed(), "{}", failure_text(&o, &replay_command(&s, 2, None)));
    for reader in ["reader-1", "reader-2"] {
        let mut dials: std::collections::BTreeMap<&str, usize> = Default::default();
        for e in o.history.exec.iter().filter(|e| {
            e.client_name.as_deref() == Some(reader)
                && e.command.first().is_some_and(|c| c.eq_ignore_ascii_case("client"))
        }) {
            *dials.entry(e.node.as_str()).or_default() += 1;
        }
        assert!(dials.values().all(|n| *n <= 16), "{reader} dialled {dials:?}");
    }
}

/// The scenario with a mutant, and its verdict for `checker`; the same scenario without it passes.
fn caught_by(mut s: Scenario, mutant: Mutant, checker: &str, seed: u64) {
    let clean = run(&s, seed);
    assert!(
        clean.check(checker).unwrap().passed(),
        "{checker} must pass without the mutant: {:?}",
        clean.check(checker)
    );
    s.mutant = Some(mutant);
    let broken = run(&s, seed);
    let c = broken.check(checker).unwrap();
    assert!(!c.passed(), "{checker} did not catch {}", mutant.name());
}

fn readers(selection: &str) -> Vec<ClientSpec> {
    let mut v = Scenario::default().clients;
    for c in v.iter_mut().filter(|c| c.role == ClientRole::Reader) {
        c.selection = selection.into();
    }
    v
}

#[test]
fn a_client_falling_back_to_the_master_is_caught_by_reads_never_on_master() {
    caught_by(
        scenarios::by_name("all-replicas-down").unwrap(),
        Mutant::FallBackToMaster,
        "reads_never_on_master",
        12,
    );
}

#[test]
fn typed_reads_falling_back_to_the_master_are_caught_by_reads_never_on_master() {
    // HGETALL, LRANGE, SMEMBERS, ZRANGE and EVAL_RO are reads like GET: a client sending them to the master
    // when no replica is left is caught the same way.
    let mut s = scenarios::by_name("all-replicas-down").unwrap();
    for c in &mut s.clients {
        c.data = redsim::DataMix::AllTypes;
    }
    caught_by(s, Mutant::FallBackToMaster, "reads_never_on_master", 12);
}

#[test]
fn typed_reads_without_ejection_memory_are_caught_by_failover_before_sdown() {
    caught_by(
        scenarios::by_name("test3-crash-data-types").unwrap(),
        Mutant::NoEjection,
        "failover_before_sdown",
        13,
    );
}

#[test]
fn a_client_without_ejection_memory_is_caught_by_failover_before_sdown() {
    caught_by(
        scenarios::by_name("test3-crash").unwrap(),
        Mutant::NoEjection,
        "failover_before_sdown",
        13,
    );
}

#[test]
fn a_client_keeping_timed_out_connections_is_caught_by_no_reply_mixup() {
    // A pause shorter than down-after: Sentinel never flags the replica, so a naive client keeps its
    // connection, and the replies held during the pause answer later requests.
    let s: Scenario = "scenario short-pause\nat 5000 pause(redis-2)\nat 7000 resume(redis-2)"
        .parse()
        .unwrap();
    caught_by(s, Mutant::KeepTimedOutConnection, "no_reply_mixup", 14);
}

#[test]
fn a_client_ignoring_failover_is_caught_by_writes_follow_failover_and_recovers_after_heal() {
    // The old master comes back; Sentinel converts it to a replica (after its 8 s wait), and a client still
    // writing there fails from then on, long after the cluster is stable.
    let s: Scenario = "scenario master-back-as-replica\nduration_ms 45000\nstable_ms 15000\n\
                       at 5000 crash(redis-1)\nat 15000 restart(redis-1)"
        .parse()
        .unwrap();
    caught_by(s.clone(), Mutant::StickyMaster, "writes_follow_failover", 16);
    caught_by(s, Mutant::StickyMaster, "recovers_after_heal", 16);
}

#[test]
fn a_client_writing_to_a_demoted_master_is_caught_by_writes_only_on_master() {
    // A manual failover keeps the old master up; once demoted (and, in this mutant, writable), it acknowledges
    // the writes a client that never checks ROLE keeps sending it.
    caught_by(
        scenarios::by_name("manual-failover").unwrap(),
        Mutant::BlindMaster,
        "writes_only_on_master",
        17,
    );
}

#[test]
fn a_sentinel_skipping_client_kill_is_caught_by_reads_never_on_master() {
    // Readers spread over both replicas, so one of them reads from the replica about to be promoted.
    let s = Scenario {
        clients: readers("round-robin"),
        ..scenarios::by_name("manual-failover").unwrap()
    };
    caught_by(s, Mutant::SkipClientKill, "reads_never_on_master", 15);
}

#[test]
fn the_minority_partition_reproduces_jepsens_lost_writes_as_a_report() {
    let s = scenarios::by_name("minority-partition").unwrap();
    let o = run(&s, 11);
    assert!(o.passed(), "reported checkers never fail a run");
    let lost = o
        .check("lost_writes")
        .unwrap()
        .metric("lost acknowledged writes")
        .unwrap();
    let deposed = o
        .check("isolated_master_writes")
        .unwrap()
        .metric("writes on a deposed master")
        .unwrap();
    assert!(
        lost > 0.0 && deposed > 0.0,
        "the isolated old master acknowledged writes the majority discarded"
    );
}
