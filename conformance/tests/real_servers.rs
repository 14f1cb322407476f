//! The fakes against real Redis, live. Every test here needs `redis-server` and `redis-sentinel` on `PATH`, and
//! skips itself with one line on stderr when they are missing; CI installs them.

use std::io::Write;
use std::path::Path;

use redsim_conformance::differential::{compare, parse_allow_list};
use redsim_conformance::script::{Script, run};
use redsim_conformance::{Cluster, ClusterConfig, Flavor, skip_unless_real_redis};

fn dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Every script in `conformance/scripts/` against both clusters; every difference must be allow-listed.
#[tokio::test(flavor = "current_thread")]
async fn real_differential_suite() {
    if skip_unless_real_redis("real_differential_suite").is_none() {
        return;
    }
    let scripts = Script::load_dir(&dir().join("scripts")).expect("scripts parse");
    let allow_text = std::fs::read_to_string(dir().join("allow-list.txt")).expect("allow-list.txt");
    let allow = parse_allow_list(&allow_text).expect("allow-list parses");
    let real = Cluster::start(Flavor::Real, ClusterConfig::default())
        .await
        .expect("real cluster");
    let fake = Cluster::start(Flavor::Fake, ClusterConfig::default())
        .await
        .expect("fake cluster");
    let (mut real_out, mut fake_out) = (Vec::new(), Vec::new());
    for script in &scripts {
        real_out.extend(run(&real, script).await.expect("script runs on the real cluster"));
        fake_out.extend(run(&fake, script).await.expect("script runs on the fake cluster"));
    }
    let report = compare(&real_out, &fake_out, &allow);
    // Every compared step of every script ran on both sides: an empty or cut-short run is no pass.
    let expected: usize = scripts.iter().map(Script::compared_steps).sum();
    assert!(
        expected >= 250,
        "only {expected} compared steps in conformance/scripts/"
    );
    assert_eq!((real_out.len(), fake_out.len()), (expected, expected), "{report}");
    // Past the harness's capture: the match rate is a figure worth seeing on every run.
    let _ = writeln!(
        std::io::stderr(),
        "differential suite, {} scripts: {report}",
        scripts.len()
    );
    assert!(report.is_clean(), "{report}");
}

/// The suite's mutant: a fake configured unlike the real servers must be caught, not normalised away.
#[tokio::test(flavor = "current_thread")]
async fn real_differential_suite_catches_a_fake_that_answers_differently() {
    if skip_unless_real_redis("real_differential_suite_catches_a_fake_that_answers_differently").is_none() {
        return;
    }
    let script = Script::parse(
        "mutant.redis",
        "CONFIG GET replica-priority\n@use sentinel\n@sorted SENTINEL REPLICAS mymaster\n",
    )
    .expect("parses");
    let real = Cluster::start(Flavor::Real, ClusterConfig::default())
        .await
        .expect("real cluster");
    let mutant = ClusterConfig {
        data_node_args: vec!["--replica-priority".into(), "42".into()],
        ..ClusterConfig::default()
    };
    let fake = Cluster::start(Flavor::Fake, mutant).await.expect("fake cluster");
    let report = compare(
        &run(&real, &script).await.expect("real"),
        &run(&fake, &script).await.expect("fake"),
        &[],
    );
    assert!(!report.is_clean(), "{report}");
    assert_eq!(
        report.unexpected().count(),
        2,
        "both replies carry the priority: {report}"
    );
}
