//! Every failing case a search ever found, kept in `sim/proptest-regressions/` as a scenario file named
//! `<name>-<seed>.scn` (what `redsim fuzz` writes as `redsim-shrunk-<seed>.scn`), replays on every `cargo test`
//! and must pass every checker. Each file says in its comments what it found and what fixed it.

use std::path::Path;

use redsim::Scenario;
use redsim::report::{failure_text, replay_command, run_checked};

#[test]
fn every_kept_failing_case_now_passes() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("proptest-regressions");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "scn"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no kept cases in {}", dir.display());
    for file in files {
        let name = file.file_stem().unwrap().to_string_lossy().to_string();
        let seed: u64 = name
            .rsplit('-')
            .next()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("{name}: the file name must end in -<seed>"));
        let text = std::fs::read_to_string(&file).unwrap();
        let s: Scenario = text.parse().unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        let o = run_checked(&s, seed).unwrap();
        let replay = replay_command(&s, seed, Some(&file.display().to_string()));
        assert!(o.passed(), "{}", failure_text(&o, &replay));
    }
}
