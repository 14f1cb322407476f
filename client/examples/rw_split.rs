//! Watch read/write routing and failover on your own Sentinel deployment.
//!
//! ```text
//! cargo run --release -p redsim-client --example rw_split -- \
//!     --sentinel 10.0.0.1:26379 [--sentinel ...] --master mymaster --interval-ms 200 --duration-ms 60000 \
//!     [--policy replica-only|replica-preferred|master|nearest] \
//!     [--selection sticky|round-robin|random|lowest-latency] [--write-interval-ms M] \
//!     [--password P] [--sentinel-password P]
//! ```
//! It writes a key once (and again every `--write-interval-ms`, to watch writes follow a failover), then reads it
//! in a loop, printing one line per operation:
//! `<elapsed_ms> read ok <ip:port that served it>` or `<elapsed_ms> read err <error kind>` (and `write` likewise).
//! Kill or pause a replica meanwhile and watch reads move before Sentinel marks it down.
//!
//! Exits 0 when at least one operation succeeded, 1 when none did (it then says why on stderr), 2 on bad
//! arguments or configuration.

use std::process::ExitCode;
use std::time::Duration;

use redsim_client::{Client, ReadPolicy, ReplicaSelection};

struct Args {
    sentinels: Vec<String>,
    master: String,
    interval_ms: u64,
    duration_ms: u64,
    policy: ReadPolicy,
    selection: ReplicaSelection,
    write_interval_ms: u64,
    password: Option<String>,
    sentinel_password: Option<String>,
}

const USAGE: &str = "usage: rw_split --sentinel HOST:PORT [--sentinel HOST:PORT ...] --master NAME \
                     --interval-ms M --duration-ms D [--policy replica-only|replica-preferred|master|nearest] \
                     [--selection sticky|round-robin|random|lowest-latency] [--write-interval-ms M] \
                     [--password P] [--sentinel-password P]";

fn parse(args: &[String]) -> Result<Args, String> {
    let mut a = Args {
        sentinels: vec![],
        master: String::new(),
        interval_ms: 200,
        duration_ms: 10_000,
        policy: ReadPolicy::ReplicaOnly,
        selection: ReplicaSelection::Sticky,
        write_interval_ms: 0,
        password: None,
        sentinel_password: None,
    };
    let mut i = 0;
    while i < args.len() {
        let v = args.get(i + 1).ok_or_else(|| format!("{} needs a value", args[i]))?;
        let number = |v: &str| {
            v.parse::<u64>()
                .map_err(|_| format!("{}: '{v}' is not a number", args[i]))
        };
        match args[i].as_str() {
            "--sentinel" => a.sentinels.push(v.clone()),
            "--master" => a.master = v.clone(),
            "--interval-ms" => a.interval_ms = number(v)?,
            "--duration-ms" => a.duration_ms = number(v)?,
            "--write-interval-ms" => a.write_interval_ms = number(v)?,
            "--selection" => {
                a.selection = match v.as_str() {
                    "sticky" => ReplicaSelection::Sticky,
                    "round-robin" => ReplicaSelection::RoundRobin,
                    "random" => ReplicaSelection::Random,
                    "lowest-latency" => ReplicaSelection::LowestLatency,
                    other => return Err(format!("--selection: unknown selection '{other}'")),
                }
            }
            "--password" => a.password = Some(v.clone()),
            "--sentinel-password" => a.sentinel_password = Some(v.clone()),
            "--policy" => {
                a.policy = match v.as_str() {
                    "replica-only" => ReadPolicy::ReplicaOnly,
                    "replica-preferred" => ReadPolicy::ReplicaPreferred,
                    "master" => ReadPolicy::Master,
                    "nearest" => ReadPolicy::Nearest,
                    other => return Err(format!("--policy: unknown policy '{other}'")),
                }
            }
            other => return Err(format!("unknown option '{other}'")),
        }
        i += 2;
    }
    if a.sentinels.is_empty() || a.master.is_empty() {
        return Err("give at least one --sentinel and --master".into());
    }
    Ok(a)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    if argv.iter().any(|a| a == "-h" || a == "--help") {
        println!("{USAGE}");
        return ExitCode::SUCCESS;
    }
    let args = match parse(&argv) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("rw_split: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let mut builder = Client::builder()
        .sentinels(args.sentinels.iter().map(String::as_str))
        .master_name(&args.master)
        .read_policy(args.policy)
        .replica_selection(args.selection)
        .client_name("rw_split")
        .seed(u64::from(std::process::id()));
    if let Some(p) = &args.password {
        builder = builder.password(None, p);
    }
    if let Some(p) = &args.sentinel_password {
        builder = builder.sentinel_password(p);
    }
    let client = match builder.build() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("rw_split: {e}");
            return ExitCode::from(2);
        }
    };
    let start = tokio::time::Instant::now();
    let elapsed = || start.elapsed().as_millis();
    let key = "rw_split:key";
    // A run in which nothing ever succeeded (a wrong address, a wrong password) must not look like a healthy one
    // to a script or CI job: it exits 1. One success is enough, since failures during a failover are the point.
    let mut tally = Tally::default();
    match client.command_routed(&["SET", key, "rw_split"]).await {
        Ok((_, node)) => tally.ok(elapsed(), "write", &node),
        Err(e) => tally.err(elapsed(), "write", &e),
    }
    let end = start + Duration::from_millis(args.duration_ms);
    let mut next_write = start + Duration::from_millis(args.write_interval_ms);
    while tokio::time::Instant::now() < end {
        if args.write_interval_ms > 0 && tokio::time::Instant::now() >= next_write {
            next_write += Duration::from_millis(args.write_interval_ms);
            match client.command_routed(&["SET", key, &elapsed().to_string()]).await {
                Ok((_, node)) => tally.ok(elapsed(), "write", &node),
                Err(e) => tally.err(elapsed(), "write", &e),
            }
        }
        match client.command_routed(&["GET", key]).await {
            Ok((_, node)) => tally.ok(elapsed(), "read", &node),
            Err(e) => tally.err(elapsed(), "read", &e),
        }
        tokio::time::sleep(Duration::from_millis(args.interval_ms)).await;
    }
    if tally.succeeded == 0 {
        eprintln!(
            "rw_split: no operation succeeded in {} ms ({} failed; first error: {})",
            elapsed(),
            tally.failed,
            tally.first_error.as_deref().unwrap_or("none")
        );
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}

/// What the run did, for its exit status: one line per operation on stdout, counted here.
#[derive(Default)]
struct Tally {
    succeeded: u64,
    failed: u64,
    /// The first failure in full (stdout only shows its kind), so a run that never worked says why.
    first_error: Option<String>,
}

impl Tally {
    fn ok(&mut self, at_ms: u128, op: &str, node: &str) {
        self.succeeded += 1;
        println!("{at_ms} {op} ok {node}");
    }

    fn err(&mut self, at_ms: u128, op: &str, e: &redsim_client::Error) {
        self.failed += 1;
        self.first_error.get_or_insert_with(|| e.to_string());
        println!("{at_ms} {op} err {}", e.kind());
    }
}
