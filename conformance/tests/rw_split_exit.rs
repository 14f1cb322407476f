//! The `rw_split` example's exit status and error text, as a script or CI job sees them: 0 when an operation
//! succeeded, 1 when none ever did (with the reason on stderr), 2 on a bad configuration, whose message reads
//! once. Runs against the fake cluster on loopback, so it needs no real Redis.

use std::process::Output;
use std::sync::OnceLock;

use redsim_conformance::cluster::SENTINELS;
use redsim_conformance::process::{cargo_build, free_port, target_profile_dir};
use redsim_conformance::{Cluster, ClusterConfig, Flavor, block_on};

/// Runs the example as built from this checkout (built first, so a stale binary is never the one tested).
fn rw_split(args: &[String]) -> Output {
    // Once per test binary: the tests run in parallel and would queue on cargo's lock.
    static BUILT: OnceLock<Result<(), String>> = OnceLock::new();
    let built = BUILT.get_or_init(|| cargo_build(&["--example", "rw_split"]).map_err(|e| e.to_string()));
    built.as_ref().expect("the rw_split example builds");
    let bin = target_profile_dir().unwrap().join("examples").join("rw_split");
    std::process::Command::new(bin)
        .args(args)
        .output()
        .expect("rw_split runs")
}

fn args(sentinels: &[String], master: &str) -> Vec<String> {
    let mut a: Vec<String> = sentinels
        .iter()
        .flat_map(|s| ["--sentinel".to_string(), s.clone()])
        .collect();
    a.extend(["--master", master, "--interval-ms", "100", "--duration-ms", "1000"].map(String::from));
    a
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn a_run_where_nothing_succeeded_exits_1_and_says_why() {
    // Nothing listens on the port: every operation fails with no_sentinel_reachable.
    let port = free_port().unwrap();
    let out = rw_split(&args(&[format!("127.0.0.1:{port}")], "mymaster"));
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(1), "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(stdout.lines().count() >= 2, "one line per operation: {stdout}");
    assert!(stdout.lines().all(|l| l.contains(" err ")), "{stdout}");
    assert!(
        stderr.contains("rw_split: no operation succeeded in ")
            && stderr.contains("first error: no Sentinel reachable"),
        "{stderr}"
    );
}

#[test]
fn a_working_deployment_exits_0_and_an_unknown_master_exits_1() {
    // The servers are processes of their own: the runtime is only needed to see them ready.
    let cluster = block_on(Cluster::start(Flavor::Fake, ClusterConfig::default())).expect("a fake cluster starts");
    let sentinels: Vec<String> = SENTINELS
        .iter()
        .map(|s| format!("127.0.0.1:{}", cluster.port(s)))
        .collect();
    let ok = rw_split(&args(&sentinels, "mymaster"));
    assert_eq!(ok.status.code(), Some(0), "{}{}", text(&ok.stdout), text(&ok.stderr));
    assert!(text(&ok.stdout).contains(" read ok 127.0.0.1:"), "{}", text(&ok.stdout));
    // The Sentinels answer, but know no such master: still nothing succeeded.
    let unknown = rw_split(&args(&sentinels, "nosuchmaster"));
    let stderr = text(&unknown.stderr);
    assert_eq!(unknown.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("first error: master 'nosuchmaster' is unknown to the Sentinels"),
        "{stderr}"
    );
}

#[test]
fn a_bad_sentinel_address_is_a_configuration_error_said_once() {
    let out = rw_split(&args(&["nohost".to_string()], "mymaster"));
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        text(&out.stderr),
        "rw_split: configuration error: 'nohost' is not host:port\n"
    );
}
