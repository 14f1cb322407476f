//! `redsim`: deterministic simulation of Redis Sentinel read/write routing.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use redsim::report::{self, Outcome};
use redsim::scenarios;
use redsim::{Mutant, Scenario};

/// Deterministic simulation of Redis Sentinel read/write routing: fake Redis nodes and Sentinels on a
/// simulated network, the routing client under faults, and checkers over what the nodes logged.
#[derive(Parser)]
#[command(
    name = "redsim",
    version,
    after_help = "Examples:
  redsim run                                  the default campaign, with its report
  redsim run --random 20 --seed 7             more random schedules
  redsim list                                 the named scenarios
  redsim scenario test3-crash --seed 3        one scenario, checked
  redsim scenario my.scn --timeline out.svg   a scenario from a file, with its timeline picture
  redsim scenario test3-crash --mutant fall-back-to-master   a deliberately broken client, caught
  redsim replay test3-crash --seed 3          the full history, byte for byte
  redsim fuzz --cases 1000 --shard 0/4        a quarter of a 1000-case campaign, on every core
  redsim bench                                timed workloads: medians, min and max"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// The default campaign: the seed's three experiments plus random schedules; exits 1 on a violation.
    Run {
        /// Random schedules on the default topology.
        #[arg(long, default_value_t = 5)]
        random: u64,
        /// First seed.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Where to write the timeline of a failing run (its directory must exist).
        #[arg(long, default_value = "redsim-failure.svg")]
        timeline: PathBuf,
    },
    /// Runs one scenario (a name from `redsim list`, or a file in the scenario text form).
    Scenario {
        /// Name or file.
        scenario: String,
        /// Seed.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// A deliberately broken behaviour (fall-back-to-master, no-ejection, keep-timed-out-connection,
        /// skip-client-kill, sticky-master, blind-master), to see a checker catch it.
        #[arg(long)]
        mutant: Option<String>,
        /// Write the timeline picture here (always; by default only a failing run writes one). Its directory
        /// must exist.
        #[arg(long)]
        timeline: Option<PathBuf>,
        /// Print the scenario as JSON and exit.
        #[arg(long)]
        json: bool,
    },
    /// Prints the full history of a run; the same seed prints the same bytes.
    Replay {
        /// Name or file.
        scenario: String,
        /// Seed.
        #[arg(long)]
        seed: u64,
        /// The mutant the run used, if any.
        #[arg(long)]
        mutant: Option<String>,
    },
    /// Random generated schedules on all cores; a violation is shrunk and handed over as a scenario file, a
    /// replay command and a timeline. Exits 1 when a violation is found.
    Fuzz {
        /// Cases in the campaign (before sharding).
        #[arg(long, default_value_t = 100)]
        cases: u64,
        /// The campaign's seed.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Stop starting cases after this many wall seconds.
        #[arg(long)]
        time_s: Option<u64>,
        /// This machine's share of the campaign, `i/n` (cases whose index is i modulo n).
        #[arg(long, default_value = "0/1")]
        shard: String,
        /// Worker threads (default: every core).
        #[arg(long)]
        threads: Option<usize>,
        /// Most faults per schedule.
        #[arg(long, default_value_t = 4)]
        max_faults: usize,
        /// A deliberately broken behaviour the campaign should catch.
        #[arg(long)]
        mutant: Option<String>,
        /// An existing directory where the shrunk scenario and its timeline are written.
        #[arg(long, default_value = ".")]
        out: PathBuf,
        /// How many failing cases are shrunk and written out (the first ones; all are listed).
        #[arg(long, default_value_t = 3)]
        max_shrunk: usize,
        /// Stop at the first failing case (cases before it still run, so the one shrunk does not depend on timing).
        #[arg(long)]
        stop_at_first: bool,
        /// turmoil's step for every case, 1 to 10 ms (default: 1).
        #[arg(long)]
        tick_ms: Option<u64>,
    },
    /// Bounded exhaustive exploration: every schedule of up to K faults (crash, pause, isolation of each data
    /// node) on a grid of start times, on the default topology. Exits 1 on a counterexample. Progress lines
    /// (runs done, violations so far) go to stderr every few seconds.
    Explore {
        /// Most faults per schedule, at most 3 (352 schedules at 2, 2,620 at 3).
        #[arg(long, default_value_t = 2)]
        k: usize,
        /// Explore message orderings instead: hold and release the clients/Sentinels/data-node channels around a
        /// failover, a master crash and a replica crash, with turmoil's random host order (`--k` is unused).
        #[arg(long)]
        interleavings: bool,
        /// Seed of every run.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Worker threads (default: every core).
        #[arg(long)]
        threads: Option<usize>,
        /// A deliberately broken behaviour to look for.
        #[arg(long)]
        mutant: Option<String>,
    },
    /// Times fixed workloads (the default scenario, under load, random schedules, on real processes when
    /// redis-server is installed, memory) and prints medians with min and max.
    Bench {
        /// Runs of each timed workload.
        #[arg(long, default_value_t = 5)]
        runs: usize,
        /// Random schedules per run of the fuzz workload.
        #[arg(long, default_value_t = 10)]
        schedules: u64,
        /// Only one workload: default, load, floor, fuzz, real or memory.
        #[arg(long)]
        only: Option<String>,
    },
    /// Lists the named scenarios.
    List,
    /// The replication demo of the first version (kept for comparison).
    Demo {
        /// Seed.
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
}

/// A scenario by name or from a file; the second value is the file, for the replay command.
fn load(spec: &str, mutant: Option<&str>) -> Result<(Scenario, Option<String>), String> {
    let (mut s, file) = match scenarios::by_name(spec) {
        Some(s) => (s, None),
        None => {
            let text = std::fs::read_to_string(spec).map_err(|e| {
                format!("'{spec}' is neither a named scenario (see `redsim list`) nor a readable file: {e}")
            })?;
            let s = if spec.ends_with(".json") {
                serde_json::from_str(&text).map_err(|e| format!("{spec}: {e}"))?
            } else {
                text.parse::<Scenario>().map_err(|e| format!("{spec}: {e}"))?
            };
            (s, Some(spec.to_string()))
        }
    };
    if let Some(m) = mutant {
        s.mutant = Some(m.parse::<Mutant>()?);
    }
    Ok((s, file))
}

/// Refuses an output file whose directory does not exist, before any simulation runs. Creating it would hide a
/// typo (the picture lands somewhere unexpected); failing only when writing would waste the whole run.
fn check_output_file(option: &str, path: &Path) -> Result<(), String> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    if dir.is_dir() {
        Ok(())
    } else {
        Err(format!(
            "{option} {}: the directory {} does not exist (redsim does not create it)",
            path.display(),
            dir.display()
        ))
    }
}

/// The same for an output directory.
fn check_output_dir(option: &str, dir: &Path) -> Result<(), String> {
    if dir.is_dir() {
        Ok(())
    } else {
        Err(format!(
            "{option} {}: no such directory (redsim does not create it)",
            dir.display()
        ))
    }
}

fn write_timeline(o: &Outcome, path: &PathBuf) {
    match std::fs::write(path, redsim::timeline::svg(&o.history, &o.checks)) {
        Ok(()) => eprintln!("timeline: {}", path.display()),
        Err(e) => eprintln!("redsim: cannot write {}: {e}", path.display()),
    }
}

fn campaign(random: u64, seed: u64, timeline: &PathBuf) -> Result<bool, String> {
    check_output_file("--timeline", timeline)?;
    let mut runs: Vec<Scenario> = ["test1-sticky", "test2-spread", "test3-crash"]
        .iter()
        .filter_map(|n| scenarios::by_name(n))
        .collect();
    runs.extend((0..random).map(|i| scenarios::random(seed + i)));
    println!("{}", report::header());
    let mut all_ok = true;
    let mut coverage = redsim::checkers::Coverage::default();
    let (mut sim_ms, mut wall_ms) = (0u64, 0u128);
    let mut failure: Option<String> = None;
    for (i, s) in runs.iter().enumerate() {
        let run_seed = seed + i as u64;
        let o = report::run_checked(s, run_seed)?;
        println!("{}", report::row(&o));
        coverage.add(&o.coverage);
        sim_ms += o.history.end_ms;
        wall_ms += o.wall_ms;
        if !o.passed() && failure.is_none() {
            all_ok = false;
            write_timeline(&o, timeline);
            let replay = report::replay_command(s, run_seed, None);
            let file_note = if s.name.starts_with("random-") {
                format!(
                    "{replay}  (random schedules are regenerated from their seed: `redsim scenario` with the schedule below saved to a file also works)"
                )
            } else {
                replay
            };
            failure = Some(report::failure_text(&o, &file_note));
        }
    }
    println!(
        "\n{} scenarios, {:.0} simulated s in {} wall ms ({:.0}x real time); coverage: {} failovers, {} +sdown, {} +odown, {} re-routes, {} full resyncs",
        runs.len(),
        sim_ms as f64 / 1000.0,
        wall_ms,
        sim_ms as f64 / wall_ms.max(1) as f64,
        coverage.failovers,
        coverage.sdowns,
        coverage.odowns,
        coverage.reroutes,
        coverage.full_resyncs
    );
    println!(
        "columns: rr = client re-route latency after a replica failure, sdown = Sentinel's +sdown latency (ms); fo = failovers; sdn = +sdown events; rrte = re-routes; lost = acknowledged writes lost (reported, Redis's own weakness)"
    );
    if let Some(f) = failure {
        println!("\n{f}");
    } else {
        println!("all checks passed");
    }
    Ok(all_ok)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command.unwrap_or(Command::Run {
        random: 5,
        seed: 1,
        timeline: "redsim-failure.svg".into(),
    }) {
        Command::Run { random, seed, timeline } => campaign(random, seed, &timeline),
        Command::List => {
            for s in scenarios::all() {
                let faults: Vec<String> = s.schedule.iter().map(|f| f.to_string()).collect();
                println!(
                    "{:<32} {}",
                    s.name,
                    if faults.is_empty() {
                        "no faults".into()
                    } else {
                        faults.join("; ")
                    }
                );
            }
            Ok(true)
        }
        Command::Scenario {
            scenario,
            seed,
            mutant,
            timeline,
            json,
        } => (|| {
            let (s, file) = load(&scenario, mutant.as_deref())?;
            if let Some(path) = &timeline {
                check_output_file("--timeline", path)?;
            }
            if json {
                println!("{}", serde_json::to_string_pretty(&s).map_err(|e| e.to_string())?);
                return Ok(true);
            }
            let o = report::run_checked(&s, seed)?;
            println!("{}\n{}", report::header(), report::row(&o));
            for c in &o.checks {
                let metrics: Vec<String> = c.metrics.iter().map(|(n, v)| format!("{n} {v:.0}")).collect();
                println!(
                    "  {:<24} {:<10} {}",
                    c.name,
                    if c.passed() { "ok" } else { "VIOLATED" },
                    metrics.join(", ")
                );
            }
            if let Some(path) = &timeline {
                write_timeline(&o, path);
            }
            if !o.passed() {
                if timeline.is_none() {
                    write_timeline(&o, &PathBuf::from("redsim-failure.svg"));
                }
                println!(
                    "\n{}",
                    report::failure_text(&o, &report::replay_command(&s, seed, file.as_deref()))
                );
            }
            Ok(o.passed())
        })(),
        Command::Fuzz {
            cases,
            seed,
            time_s,
            shard,
            threads,
            max_faults,
            mutant,
            out,
            max_shrunk,
            stop_at_first,
            tick_ms,
        } => (|| {
            let parsed = shard
                .split_once('/')
                .and_then(|(i, n)| Some((i.parse::<u64>().ok()?, n.parse::<u64>().ok()?)))
                .ok_or_else(|| format!("--shard: '{shard}' is not i/n"))?;
            // Checked before the campaign, so a bad --out fails in a second, not after an hour of cases.
            check_output_dir("--out", &out)?;
            let mut cfg = redsim_cli::fuzz::FuzzConfig {
                seed,
                cases,
                time_budget: time_s.map(std::time::Duration::from_secs),
                shard: parsed,
                max_faults,
                mutant: mutant.as_deref().map(str::parse::<Mutant>).transpose()?,
                progress: true,
                stop_at_first,
                max_shrunk,
                tick_ms,
                ..Default::default()
            };
            if let Some(t) = tick_ms
                && !(1..=redsim::scenario::TICK_MAX_MS).contains(&t)
            {
                return Err(format!(
                    "--tick-ms {t} must be between 1 and {}",
                    redsim::scenario::TICK_MAX_MS
                ));
            }
            if let Some(t) = threads {
                cfg.threads = t.max(1);
            }
            let s = redsim_cli::fuzz::fuzz(&cfg)?;
            println!(
                "{} cases (shard {shard}, {} threads), {:.2} simulated hours in {:.1} wall s: {:.2} cases/s; \
                 coverage: {} failovers, {} +sdown, {} +odown, {} re-routes, {} full resyncs; {} failing",
                s.cases,
                cfg.threads,
                s.simulated_ms as f64 / 3_600_000.0,
                s.wall_ms as f64 / 1000.0,
                s.cases as f64 / (s.wall_ms.max(1) as f64 / 1000.0),
                s.coverage.failovers,
                s.coverage.sdowns,
                s.coverage.odowns,
                s.coverage.reroutes,
                s.coverage.full_resyncs,
                s.failing.len()
            );
            for f in &s.failing {
                println!("  case {} (seed {}): {}", f.index, f.seed, f.first);
            }
            for f in &s.found {
                let scenario = &f.outcome.history.scenario;
                let file = out.join(format!("redsim-shrunk-{}.scn", f.shrunk.seed));
                std::fs::write(&file, scenario.to_string()).map_err(|e| format!("{}: {e}", file.display()))?;
                write_timeline(&f.outcome, &out.join(format!("redsim-shrunk-{}.svg", f.shrunk.seed)));
                // The case as generated, too: a shrunk case may fail in another way than the original did.
                let original = out.join(format!("redsim-case-{}.scn", f.original.seed));
                let text = redsim_cli::fuzz::scenario_of(&f.original, &cfg).to_string();
                std::fs::write(&original, text).map_err(|e| format!("{}: {e}", original.display()))?;
                println!(
                    "\ncase {} failed (as generated: {}); shrunk in {} runs from {} to {} faults:",
                    f.index,
                    original.display(),
                    f.shrink_steps,
                    f.original.faults.len(),
                    f.shrunk.faults.len()
                );
                let replay = format!("redsim replay {} --seed {}", file.display(), f.shrunk.seed);
                println!("{}", report::failure_text(&f.outcome, &replay));
                println!(
                    "once fixed, keep it (cargo test replays it): cp {} sim/proptest-regressions/<what-it-found>-{}.scn",
                    file.display(),
                    f.shrunk.seed
                );
            }
            if let Some(kib) = redsim_cli::bench::peak_rss_kib() {
                println!("peak RSS: {:.1} MiB", kib as f64 / 1024.0);
            }
            Ok(s.failing.is_empty())
        })(),
        Command::Explore {
            k,
            interleavings,
            seed,
            threads,
            mutant,
        } => (|| {
            let mutant = mutant.as_deref().map(str::parse::<Mutant>).transpose()?;
            let threads = threads.unwrap_or_else(|| std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1));
            if !interleavings {
                redsim_cli::explore::check_k(k)?;
            }
            let progress = redsim_cli::progress::Progress::stderr("explore");
            let (e, what) = if interleavings {
                let e = redsim_cli::interleavings::explore(seed, threads, mutant, &progress)?;
                (
                    e,
                    "message interleavings (3 handshakes, up to 2 held channels)".to_string(),
                )
            } else {
                (
                    redsim_cli::explore::explore(k, seed, threads, mutant, &progress)?,
                    format!("schedules of up to {k} faults"),
                )
            };
            println!(
                "explored {} {what} in {:.1} wall s on {threads} threads: {} violating",
                e.explored,
                e.wall_ms as f64 / 1000.0,
                e.violations
            );
            if let Some(o) = &e.counterexample {
                let file = PathBuf::from("redsim-counterexample.scn");
                std::fs::write(&file, o.history.scenario.to_string())
                    .map_err(|err| format!("{}: {err}", file.display()))?;
                write_timeline(o, &PathBuf::from("redsim-counterexample.svg"));
                let replay = format!("redsim replay {} --seed {seed}", file.display());
                println!("\ncounterexample:\n{}", report::failure_text(o, &replay));
            }
            Ok(e.counterexample.is_none())
        })(),
        Command::Replay { scenario, seed, mutant } => (|| {
            let (s, _) = load(&scenario, mutant.as_deref())?;
            let h = redsim::run(&s, seed)?;
            print!("{}", h.render());
            Ok(true)
        })(),
        Command::Bench { runs, schedules, only } => (|| {
            use redsim_cli::bench;
            let want = |w: &str| only.as_deref().is_none_or(|o| o == w);
            if let Some(o) = only.as_deref()
                && !["default", "load", "floor", "fuzz", "real", "memory"].contains(&o)
            {
                return Err(format!(
                    "--only: '{o}' is not default, load, floor, fuzz, real or memory"
                ));
            }
            let mut rows = Vec::new();
            for tick_ms in [1, redsim::scenario::TICK_MAX_MS] {
                if want("floor") {
                    let simulated_s = (redsim::runner::WARMUP_MS + bench::default_workload().duration_ms) / 1000;
                    rows.push(bench::bench_floor(runs, tick_ms, bench::DEFAULT_HOSTS, simulated_s)?);
                }
                if want("default") {
                    rows.push(bench::bench_default(runs, tick_ms)?);
                }
                if want("load") {
                    let load = bench::load_workload(tick_ms);
                    let loops = load.clients.iter().map(|c| c.concurrency as usize).max().unwrap_or(1);
                    let (idle_s, busy_s) = (redsim::runner::WARMUP_MS / 1000, load.duration_ms / 1000);
                    rows.push(bench::bench_echo_floor(runs, tick_ms, 2, loops, idle_s, busy_s)?);
                    rows.push(bench::bench_load(runs, tick_ms)?);
                }
                if want("fuzz") {
                    rows.push(bench::bench_fuzz(runs, schedules, tick_ms)?);
                }
            }
            // On real processes only once, at the default tick: it takes the scenario's real minute.
            let mut real_detail = String::new();
            if want("real") {
                match redsim_conformance::Binaries::real() {
                    Ok(_) => {
                        let (row, detail) = redsim_cli::bench_real::bench_real(&bench::default_workload(), runs)?;
                        rows.push(row);
                        real_detail = detail;
                    }
                    Err(why) => {
                        real_detail = format!("(c) skipped: {why} (apt-get install redis-server redis-sentinel)\n")
                    }
                }
            }
            print!("{}", bench::table(&rows));
            print!("{real_detail}");
            if want("memory") {
                // Each in a fresh process of this binary, so nothing else has raised the high-water mark.
                let exe = std::env::current_exe().map_err(|e| e.to_string())?;
                let peak = |args: &[&str]| -> Result<String, String> {
                    let out = std::process::Command::new(&exe)
                        .args(args)
                        .output()
                        .map_err(|e| e.to_string())?;
                    let text = String::from_utf8_lossy(&out.stdout).into_owned();
                    Ok(text
                        .lines()
                        .find_map(|l| l.strip_prefix("peak RSS: "))
                        .unwrap_or("unknown")
                        .to_string())
                };
                let out_dir = std::env::temp_dir().join(format!("redsim-bench-{}", std::process::id()));
                std::fs::create_dir_all(&out_dir).map_err(|e| format!("{}: {e}", out_dir.display()))?;
                let out_arg = out_dir.display().to_string();
                println!(
                    "(d) peak RSS of one simulation (the default scenario): {}",
                    peak(&["bench", "--only", "default", "--runs", "1"])?
                );
                println!(
                    "(d) peak RSS of a fuzz campaign on 2 threads (40 cases): {}",
                    peak(&[
                        "fuzz",
                        "--cases",
                        "40",
                        "--seed",
                        "1",
                        "--threads",
                        "2",
                        "--out",
                        &out_arg
                    ])?
                );
                let _ = std::fs::remove_dir_all(&out_dir);
            }
            if let Some(kib) = bench::peak_rss_kib() {
                println!("peak RSS: {:.1} MiB", kib as f64 / 1024.0);
            }
            Ok(true)
        })(),
        Command::Demo { seed } => match redsim::demo::run(seed) {
            Ok(r) => {
                println!("{r}");
                Ok(r.converged && r.misplaced_writes.is_empty())
            }
            Err(e) => Err(e),
        },
    };
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("redsim: {e}");
            ExitCode::from(2)
        }
    }
}
