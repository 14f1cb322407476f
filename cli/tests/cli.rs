//! The `redsim` command line: a failing (mutant) run prints its replay command and writes the timeline, the
//! replay prints the same history byte for byte, scenario files run, and bad input gets clear errors.

use std::process::Command;

use redsim::{Fault, Scenario, TimedFault};

fn redsim() -> Command {
    Command::new(env!("CARGO_BIN_EXE_redsim"))
}

fn scratch(tag: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("redsim-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn a_mutant_run_prints_the_replay_command_and_the_replay_is_identical() {
    let dir = scratch("cli");
    let svg = dir.join("t.svg");
    let out = redsim()
        .args([
            "scenario",
            "all-replicas-down",
            "--seed",
            "12",
            "--mutant",
            "fall-back-to-master",
            "--timeline",
        ])
        .arg(&svg)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("VIOLATION in all-replicas-down (seed 12)"), "{stdout}");
    let replay = stdout
        .lines()
        .find_map(|l| l.strip_prefix("replay: "))
        .expect("a replay line")
        .to_string();
    assert_eq!(
        replay,
        "redsim replay all-replicas-down --seed 12 --mutant fall-back-to-master"
    );
    let picture = std::fs::read_to_string(&svg).unwrap();
    assert!(
        picture.starts_with("<svg") && picture.contains("stroke=\"red\""),
        "the timeline marks the violation"
    );
    let args: Vec<&str> = replay.split(' ').skip(1).collect();
    let first = redsim().args(&args).output().unwrap();
    let second = redsim().args(&args).output().unwrap();
    assert!(first.status.success());
    assert!(
        !first.stdout.is_empty() && first.stdout == second.stdout,
        "replay prints the same history byte for byte"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_scenario_file_runs_and_bad_input_gets_clear_errors() {
    let dir = scratch("file");
    let file = dir.join("mine.scn");
    let s = Scenario {
        name: "mine".into(),
        duration_ms: 6000,
        stable_ms: 3000,
        schedule: vec![TimedFault {
            at_ms: 1000,
            fault: Fault::Kill("redis-3".into()),
        }],
        ..Scenario::default()
    };
    std::fs::write(&file, s.to_string()).unwrap();
    let out = redsim().arg("scenario").arg(&file).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));
    std::fs::write(&file, "topology quorum=7\n").unwrap();
    let out = redsim().arg("scenario").arg(&file).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("quorum 7 must be between 1 and the 3 Sentinels"));
    let out = redsim().args(["scenario", "no-such-thing"]).output().unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("neither a named scenario"));
    let out = redsim()
        .args(["scenario", "test1-sticky", "--mutant", "bogus"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown mutant 'bogus'"));
    let out = redsim().arg("list").output().unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("test3-pause"));
    let out = redsim().args(["bench", "--only", "everything"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("'everything' is not default, load, floor, fuzz, real or memory")
    );
    let out = redsim()
        .args(["fuzz", "--cases", "1", "--tick-ms", "0"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--tick-ms 0 must be between 1 and 10"));
    let _ = std::fs::remove_dir_all(&dir);
}
