//! Client throughput on real TCP against a real redis-server: redsim's client beside redis-rs's multiplexed
//! async connection, in the same run, SET and GET with 1, 16 and 256 concurrent callers on one current-thread
//! runtime. Prints operations per second (median of 5 one-second windows, the two clients' windows
//! interleaved) and the ratio.
//!
//! ```text
//! cargo bench -p redsim-conformance --bench client_throughput
//! ```
//! Needs redis-server and redis-sentinel on PATH (it says so and exits otherwise). redsim's client reaches the
//! master through the Sentinels with `ReadPolicy::Master`, so both clients talk to the same node.

use std::time::Duration;

use redsim_client::{Client, ReadPolicy};
use redsim_conformance::cluster::SENTINELS;
use redsim_conformance::{Cluster, ClusterConfig, Flavor, block_on, skip_unless_real_redis};
use tokio::time::Instant;

const WINDOW: Duration = Duration::from_secs(1);
const WINDOWS: usize = 5;
const CALLERS: [usize; 3] = [1, 16, 256];

#[derive(Clone)]
enum Target {
    Ours(Client),
    Theirs(redis::aio::MultiplexedConnection),
}

impl Target {
    async fn op(&mut self, set: bool, key: &str) -> bool {
        match self {
            Target::Ours(c) => {
                let args: &[&str] = if set { &["SET", key, "v"] } else { &["GET", key] };
                c.command(args).await.is_ok()
            }
            Target::Theirs(c) => {
                let mut cmd = redis::cmd(if set { "SET" } else { "GET" });
                cmd.arg(key);
                if set {
                    cmd.arg("v");
                }
                cmd.query_async::<redis::Value>(c).await.is_ok()
            }
        }
    }
}

/// Operations completed by `callers` concurrent loops in one window.
async fn window(target: &Target, callers: usize, set: bool) -> u64 {
    let deadline = Instant::now() + WINDOW;
    let mut tasks = Vec::new();
    for i in 0..callers {
        let mut t = target.clone();
        let key = format!("bench:{i}");
        tasks.push(tokio::spawn(async move {
            let mut n = 0u64;
            while Instant::now() < deadline {
                if t.op(set, &key).await {
                    n += 1;
                }
            }
            n
        }));
    }
    let mut total = 0;
    for t in tasks {
        total += t.await.unwrap_or(0);
    }
    total
}

/// Median operations per second of each client, their windows interleaved (ours, theirs, ours, ...) so that a
/// slow spell of the shared machine costs both alike.
async fn medians(ours: &Target, theirs: &Target, callers: usize, set: bool) -> (f64, f64) {
    let (mut a, mut b) = (Vec::new(), Vec::new());
    for _ in 0..WINDOWS {
        a.push(window(ours, callers, set).await as f64 / WINDOW.as_secs_f64());
        b.push(window(theirs, callers, set).await as f64 / WINDOW.as_secs_f64());
    }
    let median = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    (median(a), median(b))
}

async fn run() -> Result<(), String> {
    let cluster = Cluster::start(Flavor::Real, ClusterConfig::default())
        .await
        .map_err(|e| e.to_string())?;
    let sentinels: Vec<String> = SENTINELS
        .iter()
        .map(|s| format!("127.0.0.1:{}", cluster.port(s)))
        .collect();
    let ours = Client::builder()
        .sentinels(sentinels.iter().map(String::as_str))
        .master_name("mymaster")
        .read_policy(ReadPolicy::Master)
        .build()
        .map_err(|e| e.to_string())?;
    ours.discover().await.map_err(|e| e.to_string())?;
    let theirs = redis::Client::open(format!("redis://127.0.0.1:{}/", cluster.port("redis-1")))
        .map_err(|e| e.to_string())?
        .get_multiplexed_async_connection()
        .await
        .map_err(|e| e.to_string())?;
    let (ours, theirs) = (Target::Ours(ours), Target::Theirs(theirs));
    println!("| command | callers | redsim ops/s | redis-rs ops/s | redsim / redis-rs |");
    println!("|---|---|---|---|---|");
    for set in [true, false] {
        for callers in CALLERS {
            let (a, b) = medians(&ours, &theirs, callers, set).await;
            println!(
                "| {} | {callers} | {a:.0} | {b:.0} | {:.2} |",
                if set { "SET" } else { "GET" },
                a / b
            );
        }
    }
    Ok(())
}

fn main() {
    if skip_unless_real_redis("client_throughput").is_none() {
        return;
    }
    if let Err(e) = block_on(run()) {
        eprintln!("client_throughput: {e}");
        std::process::exit(1);
    }
}
