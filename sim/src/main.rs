//! `redsim`: run redsim's default simulation and print its report.
//!
//! ```text
//! redsim [--seed N]
//! ```

use std::process::ExitCode;

const USAGE: &str = "usage: redsim [--seed N]\n\nRuns the simulated replication demo and prints what happened. \
                     The same seed always gives the same run.";

fn parse_seed(args: &[String]) -> Result<Option<u64>, String> {
    match args {
        [] => Ok(None),
        [flag, value] if flag == "--seed" => value
            .parse()
            .map(Some)
            .map_err(|_| format!("--seed: '{value}' is not a whole number")),
        [flag] if flag == "--seed" => Err("--seed needs a value".into()),
        [other, ..] => Err(format!("unknown argument '{other}'")),
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "-h" || a == "--help") {
        println!("{USAGE}");
        return ExitCode::SUCCESS;
    }
    let seed = match parse_seed(&args) {
        Ok(seed) => seed.unwrap_or(1),
        Err(e) => {
            eprintln!("redsim: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match redsim::demo::run(seed) {
        Ok(report) => {
            println!("{report}");
            if report.converged && report.misplaced_writes.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(e) => {
            eprintln!("redsim: the simulation failed: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn seed_parsing() {
        assert_eq!(parse_seed(&args("")), Ok(None));
        assert_eq!(parse_seed(&args("--seed 42")), Ok(Some(42)));
        assert!(
            parse_seed(&args("--seed x"))
                .unwrap_err()
                .contains("not a whole number")
        );
        assert!(parse_seed(&args("--seed")).is_err());
        assert!(parse_seed(&args("--bogus")).unwrap_err().contains("unknown argument"));
    }
}
