//! Figure (c)'s real side, on a short scenario: the scenario's clients and schedule really run against
//! redis-server and redis-sentinel processes. Skipped, with a line on stderr, without them.

use redsim_cli::bench::default_workload;
use redsim_cli::bench_real::run_real;

#[test]
fn a_short_scenario_runs_its_clients_and_schedule_on_real_processes() {
    if redsim_conformance::skip_unless_real_redis("bench_real").is_none() {
        return;
    }
    let mut s = default_workload();
    s.duration_ms = 3_000;
    s.schedule = vec![
        "at 500 crash(redis-3)".parse().unwrap(),
        "at 1500 restart(redis-3)".parse().unwrap(),
    ];
    let run = run_real(&s).expect("the real run");
    let names: Vec<&str> = run.clients.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["writer-1", "reader-1", "reader-2"]);
    for t in &run.clients {
        // About 250 operations each at 10 ms; a client that never got going would show none.
        assert!(t.ok > 50, "{t:?}");
    }
    assert!(run.wall_s >= 3.0, "the run lasts at least the scenario: {}", run.wall_s);
}
