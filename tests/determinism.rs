//! One seed drives everything: the same seed gives a byte-identical execution log, in this process and in
//! another one.

#[test]
fn the_same_seed_gives_the_same_run() {
    let a = redsim::demo::run(42).expect("run");
    let b = redsim::demo::run(42).expect("run");
    assert_eq!(a, b);
    assert!(a.converged, "{a}");
    assert!(a.misplaced_writes.is_empty(), "{a}");
}

#[test]
fn different_seeds_give_different_runs() {
    let a = redsim::demo::run(1).expect("run");
    let b = redsim::demo::run(2).expect("run");
    assert_ne!(
        a.log_digest, b.log_digest,
        "the seed must reach the network's randomness"
    );
}

#[test]
fn a_separate_process_reproduces_the_run() {
    // The `redsim` binary prints the digest; a fresh process must print the same one as this process computes.
    let exe = env!("CARGO_BIN_EXE_redsim_tests_probe");
    let out = std::process::Command::new(exe).arg("5").output().expect("run probe");
    let digest = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert_eq!(
        digest,
        format!("{:016x}", redsim::demo::run(5).expect("run").log_digest)
    );
}
