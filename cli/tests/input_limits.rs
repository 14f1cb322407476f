//! The command's own input (issue 16, Build 8): `explore --k` has an upper bound, long explorations and
//! shrinking say how far they are on stderr (never on stdout), and an output path into a directory that does not
//! exist is refused before anything runs, instead of being created or failing after the run.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Runs `redsim args...`; a run still going after `guard` is killed and fails the test (a hang guard only: every
/// run here takes seconds).
fn redsim(args: &[&str], guard: Duration) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_redsim"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > guard {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!(
                "redsim {} still running after {guard:?}; stderr:\n{}",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn scratch(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("redsim-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

const SHORT: Duration = Duration::from_secs(60);
const LONG: Duration = Duration::from_secs(900);

#[test]
fn explore_refuses_k_above_the_bound_at_once() {
    // Unbounded, --k 4 ran 12,826 schedules (hours); a huge K spun building schedules before running any.
    for k in ["4", "18446744073709551615"] {
        let out = redsim(&["explore", "--k", k], SHORT);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "--k {k}: {stderr}");
        assert!(
            stderr.starts_with(&format!("redsim: --k {k} would run ")) && stderr.contains("the most is --k 3"),
            "{stderr}"
        );
        assert!(out.stdout.is_empty(), "{}", text(&out.stdout));
    }
}

#[test]
fn explore_reports_progress_on_stderr_only() {
    let out = redsim(&["explore", "--k", "0", "--threads", "1"], LONG);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(out.status.success(), "{stdout}{stderr}");
    assert!(stderr.contains("explore: 1/1 runs, 0 violating, "), "{stderr}");
    assert!(
        stdout.starts_with("explored 1 schedules of up to 0 faults in "),
        "{stdout}"
    );
    assert!(!stdout.contains("runs,"), "progress stays off stdout: {stdout}");
}

#[test]
fn fuzz_reports_each_shrink_step_on_stderr() {
    let dir = scratch("shrink-progress");
    let dir_arg = dir.display().to_string();
    // Case 0 fails with this mutant, and shrinks from 4 faults (README: "fuzz --mutant ... --stop-at-first").
    let out = redsim(
        &[
            "fuzz",
            "--cases",
            "1",
            "--mutant",
            "fall-back-to-master",
            "--stop-at-first",
            "--tick-ms",
            "10",
            "--threads",
            "1",
            "--out",
            &dir_arg,
        ],
        LONG,
    );
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
    let shrunk = stdout
        .lines()
        .find_map(|l| l.strip_prefix("case 0 failed"))
        .expect("case 0 is shrunk");
    assert!(
        stderr.contains("  shrinking case 0 (4 faults, ") && stderr.contains(", at most 80 runs"),
        "{stderr}"
    );
    let steps: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("  shrinking case 0: step "))
        .collect();
    // One line per simulation spent shrinking, as many as the report counts.
    assert!(
        shrunk.contains(&format!("shrunk in {} runs", steps.len())),
        "{shrunk}\n{stderr}"
    );
    assert!(steps[0].starts_with("  shrinking case 0: step 1/80 ("), "{stderr}");
    assert!(
        steps
            .iter()
            .all(|l| l.contains("), smallest failing: ") && l.ends_with(" Sentinels")),
        "{stderr}"
    );
    assert!(!stdout.contains("shrinking"), "progress stays off stdout");
    let _ = std::fs::remove_dir_all(&dir);
}

fn refused(args: &[&str], missing: &Path) {
    let out = redsim(args, SHORT);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{}: {stderr}", args.join(" "));
    assert!(stderr.contains("does not create it"), "{stderr}");
    assert!(!missing.exists(), "{} was created", missing.display());
    assert!(out.stdout.is_empty(), "nothing ran: {}", text(&out.stdout));
}

#[test]
fn an_output_path_into_a_missing_directory_is_an_error_before_the_run() {
    let dir = scratch("missing-dir");
    let missing = dir.join("no-such-dir");
    let svg = missing.join("t.svg").display().to_string();
    refused(&["scenario", "test1-sticky", "--timeline", &svg], &missing);
    refused(&["run", "--random", "0", "--timeline", &svg], &missing);
    let out_dir = missing.display().to_string();
    refused(&["fuzz", "--cases", "1", "--out", &out_dir], &missing);
    let out = redsim(&["scenario", "test1-sticky", "--timeline", &svg], SHORT);
    assert_eq!(
        text(&out.stderr),
        format!(
            "redsim: --timeline {svg}: the directory {} does not exist (redsim does not create it)\n",
            missing.display()
        )
    );
    let _ = std::fs::remove_dir_all(&dir);
}
