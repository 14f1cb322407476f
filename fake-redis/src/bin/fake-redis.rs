//! `fake-redis`: a simulated Redis data node on real TCP, for redis-cli and other clients.
//!
//! ```text
//! fake-redis --port 6380 [--bind 127.0.0.1] [--replicaof HOST PORT] [--requirepass P] [--name N]
//! ```

use std::process::ExitCode;

use redsim_fake_redis::{Config, ExecLog, Node};
use redsim_net::Net;

const USAGE: &str = "usage: fake-redis [--port N] [--bind ADDR] [--replicaof HOST PORT] [--requirepass P] \
                     [--masterauth P] [--name NAME] [--replica-priority N]";

fn parse_args(args: &[String]) -> Result<Config, String> {
    let mut cfg = Config {
        bind: "127.0.0.1".into(),
        ..Config::default()
    };
    let mut i = 0;
    let value = |i: usize, what: &str| args.get(i + 1).cloned().ok_or_else(|| format!("{what} needs a value"));
    while i < args.len() {
        match args[i].as_str() {
            "--port" => {
                let v = value(i, "--port")?;
                cfg.port = v.parse().map_err(|_| format!("--port: '{v}' is not a port number"))?;
                i += 2;
            }
            "--bind" => {
                cfg.bind = value(i, "--bind")?;
                i += 2;
            }
            "--replicaof" => {
                let host = value(i, "--replicaof")?;
                let port = args.get(i + 2).ok_or("--replicaof needs HOST and PORT")?;
                let port = port
                    .parse()
                    .map_err(|_| format!("--replicaof: '{port}' is not a port number"))?;
                cfg.replicaof = Some((host, port));
                i += 3;
            }
            "--requirepass" => {
                cfg.requirepass = Some(value(i, "--requirepass")?);
                i += 2;
            }
            "--masterauth" => {
                cfg.masterauth = Some(value(i, "--masterauth")?);
                i += 2;
            }
            "--name" => {
                cfg.name = value(i, "--name")?;
                i += 2;
            }
            "--replica-priority" => {
                let v = value(i, "--replica-priority")?;
                cfg.replica_priority = v
                    .parse()
                    .map_err(|_| format!("--replica-priority: '{v}' is not a number"))?;
                i += 2;
            }
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown option '{other}'")),
        }
    }
    if cfg.name == Config::default().name {
        cfg.name = format!("redis-{}", cfg.port);
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
            eprintln!("fake-redis: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    // Outside the simulation the seed only makes run ids differ between processes; the wall clock is fine here.
    cfg.seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
        ^ u64::from(std::process::id());
    // Nothing can read a standalone process's execution log (it exists for the harness's checkers), so it keeps
    // none: memory stays flat however many commands the process runs, as redis-server's does.
    cfg.log_limit = 0;
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("fake-redis: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let node = Node::new(Net::Tokio, cfg.clone(), ExecLog::new());
    let result = runtime.block_on(async {
        let listener = node.bind().await?;
        eprintln!("fake-redis {} listening on {}:{}", cfg.name, cfg.bind, node.port());
        node.serve_on(listener).await
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("fake-redis: {e}");
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
    fn parses_flags_and_rejects_garbage() {
        let cfg = parse_args(&args("--port 7000 --replicaof 127.0.0.1 7001 --requirepass s")).unwrap();
        assert_eq!(cfg.port, 7000);
        assert_eq!(cfg.replicaof, Some(("127.0.0.1".into(), 7001)));
        assert_eq!(cfg.requirepass.as_deref(), Some("s"));
        assert!(parse_args(&args("--port nope")).unwrap_err().contains("not a port"));
        assert!(parse_args(&args("--replicaof h")).is_err());
        assert!(parse_args(&args("--bogus")).unwrap_err().contains("unknown option"));
    }
}
