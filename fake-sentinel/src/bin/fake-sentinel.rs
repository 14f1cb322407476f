//! `fake-sentinel`: a simulated Redis Sentinel on real TCP, for redis-cli and client libraries.
//!
//! ```text
//! fake-sentinel --port 26379 --monitor mymaster 127.0.0.1 6379 2 [--down-after-ms 5000]
//!               [--failover-timeout-ms 60000] [--parallel-syncs 1] [--auth-pass P] [--name N] [--bind ADDR]
//! ```
//! `--monitor` may be repeated; the per-master options apply to the `--monitor` before them.

use std::process::ExitCode;

use redsim_fake_sentinel::{EventLog, MasterConfig, Sentinel, SentinelConfig};
use redsim_net::Net;

const USAGE: &str = "usage: fake-sentinel [--port N] [--bind ADDR] [--name NAME] [--announce-ip IP] \
                     --monitor NAME HOST PORT QUORUM [--down-after-ms MS] [--failover-timeout-ms MS] \
                     [--parallel-syncs N] [--auth-pass P] ...";

fn number<T: std::str::FromStr>(flag: &str, v: Option<&String>) -> Result<T, String> {
    let v = v.ok_or_else(|| format!("{flag} needs a value"))?;
    v.parse().map_err(|_| format!("{flag}: '{v}' is not a valid number"))
}

fn parse_args(args: &[String]) -> Result<SentinelConfig, String> {
    let mut cfg = SentinelConfig {
        bind: "127.0.0.1".into(),
        ..SentinelConfig::default()
    };
    let mut i = 0;
    while i < args.len() {
        let flag = args[i].as_str();
        let value = args.get(i + 1);
        let last = |cfg: &mut SentinelConfig| -> Result<usize, String> {
            if cfg.masters.is_empty() {
                return Err(format!("{flag} must follow a --monitor"));
            }
            Ok(cfg.masters.len() - 1)
        };
        match flag {
            "--port" => cfg.port = number(flag, value)?,
            "--bind" => cfg.bind = value.cloned().ok_or("--bind needs a value")?,
            "--name" => cfg.name = value.cloned().ok_or("--name needs a value")?,
            "--announce-ip" => cfg.announce_ip = Some(value.cloned().ok_or("--announce-ip needs a value")?),
            "--monitor" => {
                let [name, host, port, quorum] =
                    args.get(i + 1..i + 5).ok_or("--monitor needs NAME HOST PORT QUORUM")?
                else {
                    unreachable!("a slice of four")
                };
                let quorum: u32 = number("--monitor QUORUM", Some(quorum))?;
                if quorum == 0 {
                    return Err("--monitor: the quorum must be 1 or greater".into());
                }
                cfg.masters.push(MasterConfig::new(
                    name.clone(),
                    host.clone(),
                    number("--monitor PORT", Some(port))?,
                    quorum,
                ));
                i += 5;
                continue;
            }
            "--down-after-ms" => {
                let m = last(&mut cfg)?;
                cfg.masters[m].down_after_ms = number(flag, value)?;
            }
            "--failover-timeout-ms" => {
                let m = last(&mut cfg)?;
                cfg.masters[m].failover_timeout_ms = number(flag, value)?;
            }
            "--parallel-syncs" => {
                let m = last(&mut cfg)?;
                cfg.masters[m].parallel_syncs = number(flag, value)?;
            }
            "--auth-pass" => {
                let m = last(&mut cfg)?;
                cfg.masters[m].auth_pass = Some(value.cloned().ok_or("--auth-pass needs a value")?);
            }
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown option '{other}'")),
        }
        i += 2;
    }
    if cfg.masters.is_empty() {
        return Err("nothing to monitor: give at least one --monitor NAME HOST PORT QUORUM".into());
    }
    if cfg.name == SentinelConfig::default().name {
        cfg.name = format!("sentinel-{}", cfg.port);
    }
    Ok(cfg)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut cfg = match parse_args(&args) {
        Ok(cfg) => cfg,
        Err(e) if e.is_empty() => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("fake-sentinel: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    // Outside the simulation the seed only needs to differ between processes (run ids); the clock is fine here.
    cfg.seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
        ^ u64::from(std::process::id());
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("fake-sentinel: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        let sentinel = Sentinel::new(Net::Tokio, cfg.clone(), EventLog::new());
        let listener = sentinel.bind().await?;
        eprintln!(
            "fake-sentinel {} listening on {}:{}",
            cfg.name,
            cfg.bind,
            sentinel.port()
        );
        sentinel.serve_on(listener).await
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("fake-sentinel: {e}");
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
    fn parses_monitors_and_their_options() {
        let cfg = parse_args(&args(
            "--port 26380 --monitor m 127.0.0.1 6379 2 --down-after-ms 5000 --parallel-syncs 2",
        ))
        .unwrap();
        assert_eq!(cfg.port, 26380);
        assert_eq!(cfg.masters[0].down_after_ms, 5000);
        assert_eq!(cfg.masters[0].parallel_syncs, 2);
        assert_eq!(cfg.masters[0].quorum, 2);
    }

    #[test]
    fn rejects_bad_arguments_clearly() {
        assert!(
            parse_args(&args("--port 1"))
                .unwrap_err()
                .contains("nothing to monitor")
        );
        assert!(
            parse_args(&args("--down-after-ms 5"))
                .unwrap_err()
                .contains("must follow a --monitor")
        );
        assert!(
            parse_args(&args("--monitor m h 1"))
                .unwrap_err()
                .contains("NAME HOST PORT QUORUM")
        );
        assert!(
            parse_args(&args("--monitor m h x 2"))
                .unwrap_err()
                .contains("not a valid number")
        );
        assert!(
            parse_args(&args("--monitor m h 1 0"))
                .unwrap_err()
                .contains("1 or greater")
        );
        assert!(parse_args(&args("--bogus")).unwrap_err().contains("unknown option"));
    }
}
