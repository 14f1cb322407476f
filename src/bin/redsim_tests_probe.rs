//! Test helper for `tests/determinism.rs`: prints the execution-log digest of the demo for the seed given as the
//! first argument, so a test can compare runs across processes.

fn main() {
    let seed = std::env::args().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    match redsim::demo::run(seed) {
        Ok(report) => println!("{:016x}", report.log_digest),
        Err(e) => {
            eprintln!("redsim_tests_probe: {e}");
            std::process::exit(1);
        }
    }
}
