//! `redsim bench`: fixed workloads, timed over several runs, printed as a table of medians with min and max.
//!
//! Timings are wall-clock readings of whole simulations, so they live here and never in a test: these machines
//! are shared and noisy. Each simulation itself stays deterministic; only how long it takes varies.
//!
//! - `default`: the default topology (1 master, 2 replicas, 3 Sentinels), a writer and two readers at about
//!   100 operations a second each, a replica crash and a master failover, 60 simulated seconds after the
//!   harness's 12 s warm-up: wall time, and simulated time over wall time.
//! - `load`: the same under load, each reader offering 5,000 reads a second from concurrent loops sharing its
//!   client: simulated client operations per wall second.
//!   It is preceded by its ceiling: the same shape (two hosts of that many loops, nine hosts, 1 ms links) with
//!   bare turmoil round trips and nothing of redsim's behind them.
//! - `floor`: nine hosts that only wait, for as long as the default scenario: the ceiling turmoil's fixed
//!   ticks put on any simulation of that size.
//! - `fuzz`: random default-topology schedules of 30 simulated seconds (plus warm-up), one after another on
//!   one thread: schedules per second per core.
//! - Both timed workloads run at the default 1 ms tick and at 10 ms, the coarsest a scenario may ask for
//!   (`tests/ticks.rs` shows every checker's verdict is the same at both).
//! - `real` (figure (c), in [`crate::bench_real`]): the `default` workload on real redis-server and
//!   redis-sentinel processes when they are installed, against its simulation.
//! - `memory`: peak resident memory of one simulation, and of a fuzz campaign on 2 threads, each measured in a
//!   fresh process of this same binary (Linux's `VmHWM`).

use std::fmt::Write as _;
use std::time::Instant;

use redsim::report;
use redsim::runner::WARMUP_MS;
use redsim::scenario::Scenario;
use redsim::scenarios;

/// The `default` workload.
pub fn default_workload() -> Scenario {
    let text = "scenario bench-default\nduration_ms 60000\nstable_ms 15000\n\
                topology replicas=2 sentinels=3 quorum=2 down_after_ms=5000 failover_timeout_ms=60000 parallel_syncs=1\n\
                network latency_ms=1..1\n\
                client writer-1 writer policy=replica-only selection=sticky interval_ms=10 timeout_ms=500\n\
                client reader-1 reader policy=replica-only selection=sticky interval_ms=10 timeout_ms=500\n\
                client reader-2 reader policy=replica-only selection=sticky interval_ms=10 timeout_ms=500\n\
                at 5000 crash(redis-3)\nat 15000 restart(redis-3)\n\
                at 25000 crash(redis-1)\nat 40000 restart(redis-1)\n";
    text.parse().expect("the bench scenario is valid")
}

/// Median, min and max of some samples.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Spread {
    /// The median.
    pub median: f64,
    /// The smallest.
    pub min: f64,
    /// The largest.
    pub max: f64,
}

impl Spread {
    /// Of a non-empty list.
    pub fn of(mut v: Vec<f64>) -> Spread {
        v.sort_by(f64::total_cmp);
        let n = v.len();
        let median = if n % 2 == 1 {
            v[n / 2]
        } else {
            (v[n / 2 - 1] + v[n / 2]) / 2.0
        };
        Spread {
            median,
            min: v[0],
            max: v[n - 1],
        }
    }
}

/// One row of the report.
#[derive(Debug, Clone)]
pub struct Row {
    /// What was measured.
    pub what: String,
    /// How many runs.
    pub runs: usize,
    /// Wall seconds per run.
    pub wall_s: Spread,
    /// The figure the target is about, and its unit.
    pub figure: Spread,
    /// The figure's unit.
    pub unit: String,
}

/// Peak resident memory of this process so far, in KiB (`VmHWM`), where the platform tells it.
pub fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Runs the `default` workload `runs` times, with turmoil stepping `tick_ms` at a time.
pub fn bench_default(runs: usize, tick_ms: u64) -> Result<Row, String> {
    let mut scenario = default_workload();
    scenario.network.tick_ms = tick_ms;
    let simulated_s = (WARMUP_MS + scenario.duration_ms) as f64 / 1000.0;
    let mut walls = Vec::new();
    for i in 0..runs.max(1) {
        let start = Instant::now();
        let outcome = report::run_checked(&scenario, 1 + i as u64)?;
        walls.push(start.elapsed().as_secs_f64());
        if !outcome.passed() {
            return Err(format!("the bench scenario failed its checks with seed {}", 1 + i));
        }
    }
    let ratios: Vec<f64> = walls.iter().map(|w| simulated_s / w).collect();
    Ok(Row {
        what: format!("(a) default scenario, {simulated_s:.0} s simulated, {tick_ms} ms tick"),
        runs: walls.len(),
        wall_s: Spread::of(walls),
        figure: Spread::of(ratios),
        unit: "x real time".into(),
    })
}

/// Reads per second each reader of the `load` workload offers.
pub const LOAD_READS_PER_S: u64 = 5_000;

/// The `load` workload: the default scenario with each reader running enough concurrent operation loops (1 ms
/// apart, sharing one client) to offer [`LOAD_READS_PER_S`] reads a second at this tick. A loop's operation
/// takes about a round trip, two network latencies plus up to a tick each way.
pub fn load_workload(tick_ms: u64) -> Scenario {
    let mut s = default_workload();
    s.name = "bench-load".into();
    s.network.tick_ms = tick_ms;
    let per_op_ms = 1 + 2 * (s.network.max_latency_ms + tick_ms);
    let loops = (LOAD_READS_PER_S * per_op_ms).div_ceil(1000);
    for c in s
        .clients
        .iter_mut()
        .filter(|c| c.role == redsim::scenario::ClientRole::Reader)
    {
        c.interval_ms = 1;
        c.concurrency = (loops as u32).min(redsim::scenario::CONCURRENCY_MAX);
    }
    s
}

/// Runs the `load` workload: simulated client operations per wall second.
pub fn bench_load(runs: usize, tick_ms: u64) -> Result<Row, String> {
    let scenario = load_workload(tick_ms);
    let simulated_s = (WARMUP_MS + scenario.duration_ms) as f64 / 1000.0;
    let (mut walls, mut rates, mut reads_per_s) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..runs.max(1) {
        let start = Instant::now();
        let outcome = report::run_checked(&scenario, 1 + i as u64)?;
        let wall = start.elapsed().as_secs_f64();
        if !outcome.passed() {
            return Err(format!("the load scenario failed its checks with seed {}", 1 + i));
        }
        let ops = outcome.history.ops.len() as f64;
        let reads = outcome.history.ops.iter().filter(|o| o.client == "reader-1").count() as f64;
        walls.push(wall);
        rates.push(ops / wall);
        reads_per_s.push(reads / (scenario.duration_ms as f64 / 1000.0));
    }
    let loops = scenario.clients.iter().map(|c| c.concurrency).max().unwrap_or(1);
    Ok(Row {
        what: format!(
            "(a2) default scenario under load, {simulated_s:.0} s simulated, {tick_ms} ms tick: 2 readers x {loops} \
             loops, {:.0} reads/s each",
            Spread::of(reads_per_s).median
        ),
        runs: walls.len(),
        wall_s: Spread::of(walls),
        figure: Spread::of(rates),
        unit: "simulated ops/wall s".into(),
    })
}

/// Hosts in the default scenario: 3 data nodes, 3 Sentinels, 3 clients.
pub const DEFAULT_HOSTS: usize = 9;

/// The ceiling turmoil's fixed ticks put on any scenario: `hosts` hosts doing nothing but wait, and a client
/// that sleeps `simulated_s`. turmoil still steps every host every tick, so no scenario with that many hosts
/// can run faster than this.
pub fn bench_floor(runs: usize, tick_ms: u64, hosts: usize, simulated_s: u64) -> Result<Row, String> {
    let mut walls = Vec::new();
    for _ in 0..runs.max(1) {
        let mut sim = turmoil::Builder::new()
            .tick_duration(std::time::Duration::from_millis(tick_ms))
            .simulation_duration(std::time::Duration::from_secs(simulated_s + 10))
            .build();
        for h in 0..hosts {
            sim.host(format!("idle-{h}"), || async {
                std::future::pending::<()>().await;
                Ok(())
            });
        }
        sim.client("sleeper", async move {
            tokio::time::sleep(std::time::Duration::from_secs(simulated_s)).await;
            Ok(())
        });
        let start = Instant::now();
        sim.run().map_err(|e| e.to_string())?;
        walls.push(start.elapsed().as_secs_f64());
    }
    let ratios: Vec<f64> = walls.iter().map(|w| simulated_s as f64 / w).collect();
    Ok(Row {
        what: format!("(a0) ceiling: {hosts} idle hosts, {simulated_s} s simulated, {tick_ms} ms tick"),
        runs: walls.len(),
        wall_s: Spread::of(walls),
        figure: Spread::of(ratios),
        unit: "x real time".into(),
    })
}

/// One run of the (a2) ceiling (see [`bench_echo_floor`]): the round trips its loops completed.
pub fn echo_round_trips(tick_ms: u64, readers: usize, loops: usize, idle_s: u64, busy_s: u64) -> Result<u64, String> {
    use std::cell::Cell;
    use std::rc::Rc;
    use std::time::Duration;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    const PORT: u16 = 7000;
    let mut sim = turmoil::Builder::new()
        .tick_duration(Duration::from_millis(tick_ms))
        .min_message_latency(Duration::from_millis(1))
        .max_message_latency(Duration::from_millis(1))
        .simulation_duration(Duration::from_secs(idle_s + busy_s + 10))
        .build();
    sim.host("echo", || async {
        let listener = turmoil::net::TcpListener::bind(("0.0.0.0", PORT)).await?;
        loop {
            let (mut s, _) = listener.accept().await?;
            tokio::task::spawn_local(async move {
                let mut buf = [0u8; 32];
                while s.read_exact(&mut buf).await.is_ok() {
                    if s.write_all(&buf).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    for h in 0..DEFAULT_HOSTS.saturating_sub(readers + 1) {
        sim.host(format!("idle-{h}"), || async {
            std::future::pending::<()>().await;
            Ok(())
        });
    }
    let trips = Rc::new(Cell::new(0u64));
    for r in 0..readers {
        let trips = trips.clone();
        sim.client(format!("reader-{r}"), async move {
            tokio::time::sleep(Duration::from_secs(idle_s)).await;
            let end = tokio::time::Instant::now() + Duration::from_secs(busy_s);
            let mut tasks = Vec::new();
            for _ in 0..loops {
                let trips = trips.clone();
                // One connect at a time: turmoil panics when a listener's accept queue overflows.
                let mut s = turmoil::net::TcpStream::connect(("echo", PORT)).await?;
                tasks.push(tokio::task::spawn_local(async move {
                    let mut buf = [7u8; 32];
                    while tokio::time::Instant::now() < end {
                        s.write_all(&buf).await?;
                        s.read_exact(&mut buf).await?;
                        trips.set(trips.get() + 1);
                        tokio::time::sleep(Duration::from_millis(1)).await;
                    }
                    Ok::<(), std::io::Error>(())
                }));
            }
            for t in tasks {
                t.await??;
            }
            Ok(())
        });
    }
    sim.run().map_err(|e| e.to_string())?;
    Ok(trips.get())
}

/// The ceiling turmoil puts on (a2): the `load` workload's shape with no Redis, no client and no checker behind
/// it. `readers` hosts run `loops` loops each (one TCP connection a loop, 1 ms pause between round trips, as the
/// load workload's loops) for `busy_s` after `idle_s` of waiting (the workload's warm-up), against one host that
/// echoes 32-byte messages, with 1 ms links; the other hosts of [`DEFAULT_HOSTS`] only wait. Its figure is bare
/// turmoil round trips per wall second: what (a2) could reach if everything redsim adds cost nothing.
pub fn bench_echo_floor(
    runs: usize,
    tick_ms: u64,
    readers: usize,
    loops: usize,
    idle_s: u64,
    busy_s: u64,
) -> Result<Row, String> {
    let (mut walls, mut rates) = (Vec::new(), Vec::new());
    for _ in 0..runs.max(1) {
        let start = Instant::now();
        let trips = echo_round_trips(tick_ms, readers, loops, idle_s, busy_s)?;
        let wall = start.elapsed().as_secs_f64();
        walls.push(wall);
        rates.push(trips as f64 / wall);
    }
    Ok(Row {
        what: format!(
            "(a2 ceiling) bare turmoil: {readers} hosts x {loops} loops of 32-byte round trips, 1 ms links, \
             {DEFAULT_HOSTS} hosts, {} s simulated, {tick_ms} ms tick",
            idle_s + busy_s
        ),
        runs: walls.len(),
        wall_s: Spread::of(walls),
        figure: Spread::of(rates),
        unit: "round trips/wall s".into(),
    })
}

/// Runs `schedules` random default-topology schedules one after another, `runs` times.
pub fn bench_fuzz(runs: usize, schedules: u64, tick_ms: u64) -> Result<Row, String> {
    let mut walls = Vec::new();
    for r in 0..runs.max(1) {
        let start = Instant::now();
        for i in 0..schedules.max(1) {
            let seed = 1 + r as u64 * schedules + i;
            let mut s = scenarios::random(seed);
            s.network.tick_ms = tick_ms;
            report::run_checked(&s, seed)?;
        }
        walls.push(start.elapsed().as_secs_f64());
    }
    let rates: Vec<f64> = walls.iter().map(|w| schedules.max(1) as f64 / w).collect();
    Ok(Row {
        what: format!(
            "(b) {} random 30 s schedules on one core, {tick_ms} ms tick",
            schedules.max(1)
        ),
        runs: walls.len(),
        wall_s: Spread::of(walls),
        figure: Spread::of(rates),
        unit: "schedules/s/core".into(),
    })
}

/// Renders rows as a Markdown table.
pub fn table(rows: &[Row]) -> String {
    let mut out =
        String::from("| workload | runs | wall s: median (min-max) | figure: median (min-max) |\n|---|---|---|---|\n");
    for r in rows {
        let _ = writeln!(
            out,
            "| {} | {} | {:.2} ({:.2}-{:.2}) | {:.1} ({:.1}-{:.1}) {} |",
            r.what,
            r.runs,
            r.wall_s.median,
            r.wall_s.min,
            r.wall_s.max,
            r.figure.median,
            r.figure.min,
            r.figure.max,
            r.unit
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spreads_are_medians_with_their_extremes() {
        assert_eq!(
            Spread::of(vec![3.0, 1.0, 2.0]),
            Spread {
                median: 2.0,
                min: 1.0,
                max: 3.0
            }
        );
        assert_eq!(Spread::of(vec![4.0, 1.0, 2.0, 3.0]).median, 2.5);
    }

    #[test]
    fn the_load_workload_offers_its_rate_at_every_tick() {
        for tick_ms in [1, redsim::scenario::TICK_MAX_MS] {
            let s = load_workload(tick_ms);
            s.validate().unwrap();
            let readers: Vec<_> = s
                .clients
                .iter()
                .filter(|c| c.role == redsim::scenario::ClientRole::Reader)
                .collect();
            assert_eq!(readers.len(), 2);
            // Each loop completes an operation about every 1 + 2 * (latency + tick) ms.
            let per_op_ms = 1 + 2 * (s.network.max_latency_ms + tick_ms);
            let offered = u64::from(readers[0].concurrency) * 1000 / per_op_ms;
            assert!(offered >= LOAD_READS_PER_S, "{tick_ms} ms: {offered} reads/s");
        }
    }

    #[test]
    fn the_echo_ceiling_runs_its_loops_at_their_pace_and_repeats() {
        // A round trip is two 1 ms hops, then a 1 ms pause: about 333 a second per loop.
        let trips = echo_round_trips(1, 2, 3, 1, 2).unwrap();
        assert!((3_600..=4_400).contains(&trips), "{trips}");
        assert_eq!(echo_round_trips(1, 2, 3, 1, 2).unwrap(), trips, "a simulation repeats");
        assert!(
            echo_round_trips(10, 2, 3, 1, 2).unwrap() < trips / 3,
            "a 10 ms tick rounds every hop up"
        );
    }

    #[test]
    fn the_bench_workload_is_the_issue_s_default_scenario() {
        let s = default_workload();
        assert_eq!((s.topology.replicas, s.topology.sentinels, s.clients.len()), (2, 3, 3));
        assert_eq!(s.duration_ms, 60_000);
        assert_eq!(s.schedule.len(), 4, "a replica crash and a master crash, each repaired");
    }
}
