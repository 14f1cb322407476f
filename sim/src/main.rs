//! `redsim`: deterministic simulation of Redis Sentinel read/write routing.

use std::path::PathBuf;
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
  redsim replay test3-crash --seed 3          the full history, byte for byte"
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
        /// Where to write the timeline of a failing run.
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
        /// skip-client-kill), to see a checker catch it.
        #[arg(long)]
        mutant: Option<String>,
        /// Write the timeline picture here (always; by default only a failing run writes one).
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

fn write_timeline(o: &Outcome, path: &PathBuf) {
    match std::fs::write(path, redsim::timeline::svg(&o.history, &o.checks)) {
        Ok(()) => eprintln!("timeline: {}", path.display()),
        Err(e) => eprintln!("redsim: cannot write {}: {e}", path.display()),
    }
}

fn campaign(random: u64, seed: u64, timeline: &PathBuf) -> Result<bool, String> {
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
        Command::Replay { scenario, seed, mutant } => (|| {
            let (s, _) = load(&scenario, mutant.as_deref())?;
            let h = redsim::run(&s, seed)?;
            print!("{}", h.render());
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
