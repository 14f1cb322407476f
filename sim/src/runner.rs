//! Runs a scenario on turmoil from one seed and returns its [`History`].

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::Duration;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use redsim_client::{Client, ReadPolicy, ReplicaSelection};
use redsim_net::Net;

use crate::data_mix;
use crate::deployment::{Deployment, derive, now_ms, sim_builder};
use crate::fault::Fault;
use crate::history::{History, OpKind};
use crate::recorder::Recorder;
use crate::scenario::{ClientRole, ClientSpec, Mutant, Scenario};

pub use crate::deployment::{EXEC_LOG_LIMIT, EXEC_LOG_MAX_BYTES, MASTER_NAME, WARMUP_MS};

/// Extra simulated time allowed beyond the scenario's duration before turmoil gives up.
const SLACK_MS: u64 = 30_000;

/// Parses a read policy name.
pub fn read_policy(s: &str) -> Result<ReadPolicy, String> {
    Ok(match s {
        "replica-only" => ReadPolicy::ReplicaOnly,
        "replica-preferred" => ReadPolicy::ReplicaPreferred,
        "master" => ReadPolicy::Master,
        "nearest" => ReadPolicy::Nearest,
        other => return Err(format!("unknown read policy '{other}'")),
    })
}

/// Parses a replica selection name.
pub fn replica_selection(s: &str) -> Result<ReplicaSelection, String> {
    Ok(match s {
        "sticky" => ReplicaSelection::Sticky,
        "round-robin" => ReplicaSelection::RoundRobin,
        "random" => ReplicaSelection::Random,
        "lowest-latency" => ReplicaSelection::LowestLatency,
        other => return Err(format!("unknown replica selection '{other}'")),
    })
}

/// Hosts a fault names.
pub fn hosts_named(f: &Fault) -> Vec<String> {
    match f {
        Fault::Kill(n)
        | Fault::Crash(n)
        | Fault::Restart(n)
        | Fault::Pause(n)
        | Fault::Resume(n)
        | Fault::Isolate(n) => {
            vec![n.clone()]
        }
        Fault::Partition(a, b) | Fault::PartitionOneway(a, b) | Fault::Hold(a, b) | Fault::Release(a, b) => {
            a.iter().chain(b).cloned().collect()
        }
        Fault::Latency(a, b, _) => vec![a.clone(), b.clone()],
        Fault::Heal | Fault::Failover => vec![],
    }
}

/// Runs a scenario from a seed.
pub fn run(scenario: &Scenario, seed: u64) -> Result<History, String> {
    run_with_log_limits(scenario, seed, EXEC_LOG_LIMIT, EXEC_LOG_MAX_BYTES)
}

fn run_with_log_limits(
    scenario: &Scenario,
    seed: u64,
    log_limit: usize,
    log_max_bytes: usize,
) -> Result<History, String> {
    scenario.validate()?;
    let mut sim = sim_builder(seed, &scenario.network)
        .simulation_duration(Duration::from_millis(WARMUP_MS + scenario.duration_ms + SLACK_MS))
        .build();
    let mut cluster = Deployment::new(scenario.topology.clone())
        .seed(seed)
        .log_limit(log_limit)
        .log_max_bytes(log_max_bytes)
        .network(scenario.network.clone())
        .stable_ms(scenario.stable_ms)
        .mutant(scenario.mutant)
        .try_install(&mut sim)?;
    let recorder = Recorder::new();
    let client_events: Rc<RefCell<Vec<(u64, String, redsim_client::EventKind)>>> = Rc::default();
    let sentinel_addrs = cluster.sentinel_addrs();
    for spec in &scenario.clients {
        let (rec, evs, spec, addrs) = (
            recorder.clone(),
            client_events.clone(),
            spec.clone(),
            sentinel_addrs.clone(),
        );
        let (keys, duration, mutant) = (scenario.keys, scenario.duration_ms, scenario.mutant);
        let client_seed = derive(seed, &spec.name);
        cluster.client(&mut sim, &spec.name.clone(), async move {
            workload(spec, addrs, keys, duration, mutant, client_seed, rec, evs).await;
            Ok(())
        });
    }
    let end_ms = WARMUP_MS + scenario.duration_ms;
    // One control host polls for manual failovers for the whole run, as it always has: the named scenarios'
    // histories stay what they were.
    cluster.control_until(end_ms + 500);
    cluster.schedule(&scenario.schedule);
    if let Err(e) = cluster.run(&mut sim) {
        return Err(format!("simulation failed at {} ms: {e}", sim.elapsed().as_millis()));
    }
    let mut hist = History::from_cluster(scenario.clone(), seed, recorder.take_ops(), &cluster, &sim)?;
    hist.client_events = std::mem::take(&mut *client_events.borrow_mut());
    Ok(hist)
}

#[allow(clippy::too_many_arguments)]
async fn workload(
    spec: ClientSpec,
    sentinels: Vec<String>,
    keys: u32,
    duration_ms: u64,
    mutant: Option<Mutant>,
    seed: u64,
    ops: Recorder,
    events: Rc<RefCell<Vec<(u64, String, redsim_client::EventKind)>>>,
) {
    tokio::time::sleep(Duration::from_millis(WARMUP_MS)).await;
    let mut builder = Client::builder()
        .sentinels(sentinels.iter().map(String::as_str))
        .master_name(MASTER_NAME)
        .client_name(&spec.name)
        .net(Net::Turmoil)
        .seed(seed)
        .command_timeout(Duration::from_millis(spec.timeout_ms))
        .read_policy(read_policy(&spec.policy).unwrap_or_default())
        .replica_selection(replica_selection(&spec.selection).unwrap_or_default());
    if let Some(m) = mutant {
        builder = builder.mutant(m);
    }
    let Ok(client) = builder.build() else { return };
    // Routing events are stamped with simulated time as they arrive (the event's own clock reading is a tokio
    // instant whose sub-millisecond part is not reproducible across runs in one process).
    let mut rx = client.events();
    let (evs, name) = (events.clone(), spec.name.clone());
    // turmoil runs every host on a LocalSet, so a task may hold the history's Rc.
    tokio::task::spawn_local(async move {
        while let Ok(e) = rx.recv().await {
            evs.borrow_mut().push((now_ms(), name.clone(), e.kind));
        }
    });
    // Loop 0 is the whole workload of a client with concurrency 1; the others share its client (and so its
    // connections) and its sequence numbers, which keep written values unique.
    let seq = Rc::new(Cell::new(0u64));
    let spec = Rc::new(spec);
    for i in 1..spec.concurrency {
        let rng = ChaCha8Rng::seed_from_u64(seed.wrapping_add(u64::from(i).wrapping_mul(0x9E37_79B9_7F4A_7C15)));
        let run = operations(
            spec.clone(),
            client.clone(),
            rng,
            keys,
            duration_ms,
            seq.clone(),
            ops.clone(),
        );
        tokio::task::spawn_local(run);
    }
    operations(
        spec,
        client,
        ChaCha8Rng::seed_from_u64(seed),
        keys,
        duration_ms,
        seq,
        ops,
    )
    .await;
}

/// One loop of operations: a random key, a write or a read, its record, a pause.
async fn operations(
    spec: Rc<ClientSpec>,
    client: Client,
    mut rng: ChaCha8Rng,
    keys: u32,
    duration_ms: u64,
    next_seq: Rc<Cell<u64>>,
    ops: Recorder,
) {
    let end = WARMUP_MS + duration_ms;
    while now_ms() < end {
        let seq = next_seq.get() + 1;
        next_seq.set(seq);
        let key = rng.random_range(0..keys);
        let kind = match spec.role {
            ClientRole::Writer => OpKind::Write,
            ClientRole::Reader => OpKind::Read,
        };
        let value = format!("{}:{seq}:k{key}", spec.name);
        let operation = data_mix::operation(spec.data, kind, key, seq, &value, &mut rng);
        let mut op = ops.begin(&spec.name, kind, &operation.key);
        let args: Vec<&str> = operation.args.iter().map(String::as_str).collect();
        let result = match &operation.written {
            Some(value) => {
                op = op.writing(value);
                client.command(&args).await.map(|_| None)
            }
            // A string read records the value it got; an aggregate's reply is no one value.
            None if kind == OpKind::Read && args[0] == "GET" => client.command(&args).await.map(|v| v.as_text()),
            None => client.command(&args).await.map(|_| None),
        };
        // Which node served it is the execution log's to say (`History::from_cluster`), not the client's.
        match result {
            Ok(v) => op.ok(v),
            Err(e) => op.err(e.kind()),
        }
        tokio::time::sleep(Duration::from_millis(spec.interval_ms)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_that_outgrows_the_command_log_has_no_verdict() {
        let s = Scenario {
            duration_ms: 2_000,
            stable_ms: 1_000,
            ..Scenario::default()
        };
        // The run logs about 340 commands.
        match run_with_log_limits(&s, 1, 100, EXEC_LOG_MAX_BYTES) {
            Err(e) => assert!(e.contains("command log filled up at 100 commands"), "{e}"),
            Ok(h) => panic!("a full log gave a history of {} commands", h.exec.len()),
        }
        assert!(run_with_log_limits(&s, 1, EXEC_LOG_LIMIT, EXEC_LOG_MAX_BYTES).is_ok());
    }

    #[test]
    fn a_run_that_outgrows_the_command_log_in_bytes_has_no_verdict() {
        let s = Scenario {
            duration_ms: 2_000,
            stable_ms: 1_000,
            ..Scenario::default()
        };
        // The same run's ~340 commands take some tens of kilobytes; 10 KB holds a few dozen.
        match run_with_log_limits(&s, 1, EXEC_LOG_LIMIT, 10_000) {
            Err(e) => assert!(e.contains("command log filled up at") && e.contains("bytes"), "{e}"),
            Ok(h) => panic!("a log full in bytes gave a history of {} commands", h.exec.len()),
        }
    }
}
