//! Figure (c) of the performance issue: `redsim bench`'s default scenario on real processes, timed beside the
//! same scenario in the simulation, in the same run.
//!
//! The real side starts redis-server and redis-sentinel (1 master, 2 replicas, 3 Sentinels, down-after
//! 5000 ms, as the scenario says), runs the scenario's writer and two readers (redsim's client on real TCP,
//! same interval and timeout) for its 60 s, and applies its schedule: the replica `redis-3` and then the master
//! fail and come back. On real processes a crash is a SIGKILL (the machine cannot go silent on localhost) and a
//! restart starts the process again with its first configuration. The simulated side runs the scenario itself.
//!
//! ```text
//! cargo bench -p redsim-conformance --bench real_default
//! ```
//! Needs redis-server and redis-sentinel on PATH (it says so and exits otherwise).

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::rc::Rc;
use std::time::Duration;

use redsim::bench::default_workload;
use redsim::fault::Fault;
use redsim::runner::WARMUP_MS;
use redsim::scenario::{ClientRole, ClientSpec, Scenario};
use redsim_client::{Client, Net, ReadPolicy, ReplicaSelection};
use redsim_conformance::cluster::SENTINELS;
use redsim_conformance::{Cluster, ClusterConfig, Flavor, block_on, skip_unless_real_redis};
use tokio::time::Instant;

/// Operations and failures one client saw.
#[derive(Default)]
struct Tally {
    ok: Cell<u64>,
    failed: Cell<u64>,
    /// Failures by kind, with the second of the run of the first one.
    kinds: RefCell<BTreeMap<String, (u64, u64)>>,
}

async fn client_loop(spec: ClientSpec, sentinels: Vec<String>, keys: u32, until: Instant, tally: Rc<Tally>) {
    let built = Client::builder()
        .sentinels(sentinels.iter().map(String::as_str))
        .master_name("mymaster")
        .client_name(&spec.name)
        .net(Net::Tokio)
        .command_timeout(Duration::from_millis(spec.timeout_ms))
        .read_policy(ReadPolicy::ReplicaOnly)
        .replica_selection(ReplicaSelection::Sticky)
        .build();
    let Ok(client) = built else {
        tally.failed.set(tally.failed.get() + 1);
        return;
    };
    let mut n = 0u64;
    while Instant::now() < until {
        n += 1;
        let key = format!("k{}", n % u64::from(keys));
        let result = match spec.role {
            ClientRole::Writer => client.set(&key, &format!("{}:{n}:{key}", spec.name)).await,
            ClientRole::Reader => client.get(&key).await.map(|_| ()),
        };
        match result {
            Ok(()) => tally.ok.set(tally.ok.get() + 1),
            Err(e) => {
                tally.failed.set(tally.failed.get() + 1);
                let second = (until - Instant::now()).as_secs();
                let mut kinds = tally.kinds.borrow_mut();
                let k = kinds.entry(e.kind().to_string()).or_insert((0, second));
                k.0 += 1;
            }
        }
        tokio::time::sleep(Duration::from_millis(spec.interval_ms)).await;
    }
}

/// Runs the scenario on a real cluster: wall seconds from the first process started to the last operation, and
/// each client's tally.
async fn real(s: &Scenario) -> Result<(f64, Vec<(String, Rc<Tally>)>), String> {
    let wall = std::time::Instant::now();
    let config = ClusterConfig {
        quorum: s.topology.quorum,
        down_after_ms: s.topology.down_after_ms,
        failover_timeout_ms: s.topology.failover_timeout_ms,
        ..ClusterConfig::default()
    };
    let mut cluster = Cluster::start(Flavor::Real, config).await.map_err(|e| e.to_string())?;
    let sentinels: Vec<String> = SENTINELS
        .iter()
        .map(|id| format!("127.0.0.1:{}", cluster.port(id)))
        .collect();
    let start = Instant::now();
    let until = start + Duration::from_millis(s.duration_ms);
    let local = tokio::task::LocalSet::new();
    let mut tallies = Vec::new();
    for spec in &s.clients {
        let tally = Rc::new(Tally::default());
        tallies.push((spec.name.clone(), tally.clone()));
        local.spawn_local(client_loop(spec.clone(), sentinels.clone(), s.keys, until, tally));
    }
    let schedule = s.schedule.clone();
    local
        .run_until(async {
            for f in &schedule {
                tokio::time::sleep_until(start + Duration::from_millis(f.at_ms)).await;
                let done = match &f.fault {
                    Fault::Crash(h) | Fault::Kill(h) => {
                        cluster.kill(h);
                        Ok(())
                    }
                    Fault::Restart(h) => cluster.restart(h),
                    other => return Err(format!("the real run cannot apply {other}")),
                };
                done.map_err(|e| e.to_string())?;
            }
            tokio::time::sleep_until(until).await;
            // Let the last operations finish (each is bounded by the client's call deadline).
            tokio::time::sleep(Duration::from_secs(1)).await;
            Ok(())
        })
        .await?;
    Ok((wall.elapsed().as_secs_f64(), tallies))
}

fn main() {
    if skip_unless_real_redis("real_default").is_none() {
        return;
    }
    let s = default_workload();
    let (real_s, tallies) = match block_on(real(&s)) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("real_default: {e}");
            std::process::exit(1);
        }
    };
    let sim = std::time::Instant::now();
    let outcome = match redsim::report::run_checked(&s, 1) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("real_default: the simulation failed: {e}");
            std::process::exit(1);
        }
    };
    let sim_s = sim.elapsed().as_secs_f64();
    let simulated_s = (WARMUP_MS + s.duration_ms) as f64 / 1000.0;
    println!("| run | wall s | operations ok / failed per client |");
    println!("|---|---|---|");
    let real_ops: Vec<String> = tallies
        .iter()
        .map(|(n, t)| {
            let kinds: Vec<String> = t
                .kinds
                .borrow()
                .iter()
                .map(|(k, (count, left_s))| format!("{count} {k} from {} s", s.duration_ms / 1000 - left_s))
                .collect();
            format!("{n} {}/{} ({})", t.ok.get(), t.failed.get(), kinds.join(", "))
        })
        .collect();
    println!(
        "| real processes (start-up, then {} s) | {real_s:.1} | {} |",
        s.duration_ms / 1000,
        real_ops.join(", ")
    );
    let sim_ops: Vec<String> = s
        .clients
        .iter()
        .map(|c| {
            let mine = outcome.history.ops.iter().filter(|o| o.client == c.name);
            let ok = mine.clone().filter(|o| o.outcome.is_ok()).count();
            format!("{} {ok}/{}", c.name, mine.count() - ok)
        })
        .collect();
    println!(
        "| simulation ({simulated_s:.0} s simulated, checks {}) | {sim_s:.2} | {} |",
        if outcome.passed() { "passed" } else { "FAILED" },
        sim_ops.join(", ")
    );
    println!("(c) real / simulated wall time: {:.0}x", real_s / sim_s);
}
