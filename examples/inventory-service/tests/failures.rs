//! The inventory service under failures, inside redsim's deterministic simulation: one master, two replicas,
//! three Sentinels, and the service's till (writes) and shop front (reads), each on its own simulated host and
//! each on redsim's routing client through the service's redis-rs code.
//!
//! Every verdict comes from the Redis nodes' own logs: the checkers find which node ran each of the service's
//! commands by its connection name, never from what the service or its client believe. `REDSIM_SEEDS=20 cargo
//! test -p inventory-service` runs more seeds; a failure prints the line that re-runs exactly that seed.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use inventory_service::{Inventory, stock_key};
use redsim::deployment::{WARMUP_MS, now_ms};
use redsim::{Cluster, Deployment, Fault, History, OpKind, Recorder, Topology};
use redsim_client::{Client, Net};

const ITEMS: [&str; 4] = ["apple", "pear", "plum", "fig"];
/// How long the service runs after the warm-up, and the fault-free end every client must recover in.
const RUN_MS: u64 = 20_000;
const STABLE_MS: u64 = 8_000;

/// A stock look-up: the real service's, or a broken one.
type Lookup = fn(Client, String) -> Pin<Box<dyn Future<Output = redis::RedisResult<Option<i64>>>>>;

fn real_lookup(conn: Client, item: String) -> Pin<Box<dyn Future<Output = redis::RedisResult<Option<i64>>>>> {
    Box::pin(async move { Inventory::new(conn).stock(&item).await })
}

/// A mutant of the service, as a careless change would make it: the look-up reads the count inside a
/// transaction "to be safe", and a transaction goes to the master. The checkers must catch it.
fn master_lookup(mut conn: Client, item: String) -> Pin<Box<dyn Future<Output = redis::RedisResult<Option<i64>>>>> {
    Box::pin(async move {
        let (count,): (Option<i64>,) = redis::pipe()
            .atomic()
            .get(stock_key(&item))
            .query_async(&mut conn)
            .await?;
        Ok(count)
    })
}

/// A routing client for one of the service's hosts: Sentinel discovery, writes to the master, reads only on
/// replicas (the default `ReplicaOnly`), named so the nodes' logs say which host sent what.
/// Built inside the host that uses it: the client's background tasks run on that host's runtime.
fn client(sentinels: &[String], name: &str, seed: u64) -> redsim_client::Result<Client> {
    Client::builder()
        .sentinels(sentinels.iter().map(String::as_str))
        .master_name("mymaster")
        .client_name(name)
        .net(Net::Turmoil)
        .seed(seed)
        .build()
}

/// Runs the service for one seed with a fault plan, and hands back the history for the checkers. `fault`
/// picks the fault once the shop front has been reading for 2 s, from what the nodes logged (so it can hit
/// the very replica the shop front reads from).
fn run_shop(seed: u64, lookup: Lookup, fault: fn(&Cluster) -> Vec<(u64, Fault)>) -> Result<History, String> {
    let mut sim = redsim::sim(seed);
    let mut cluster = Deployment::new(Topology::default())
        .seed(seed)
        .stable_ms(STABLE_MS)
        .install(&mut sim);
    let rec = Recorder::new();

    // The till: counts every item in, then sells one item every 100 ms.
    rec.declare_writer("till");
    let (r, sentinels) = (rec.clone(), cluster.sentinel_addrs());
    cluster.client(&mut sim, "till", async move {
        redsim::warmed_up().await;
        let shop = Inventory::new(client(&sentinels, "till", seed)?);
        for item in ITEMS {
            let _ = r
                .write("till", &stock_key(item), Some("1000"), shop.restock(item, 1000))
                .await;
        }
        let mut n = 0;
        while now_ms() < WARMUP_MS + RUN_MS {
            let item = ITEMS[n % ITEMS.len()];
            n += 1;
            // A sale changes the count by one: no value the checkers could trace, so none is recorded.
            let _ = r.write("till", &stock_key(item), None, shop.sell(item)).await;
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Ok(())
    });

    // The shop front: looks stock up every 100 ms, on replicas only.
    rec.declare_reader("shop-front", "replica-only");
    let (r, sentinels) = (rec.clone(), cluster.sentinel_addrs());
    cluster.client(&mut sim, "shop-front", async move {
        redsim::warmed_up().await;
        let front = client(&sentinels, "shop-front", seed)?;
        let mut n = 0;
        while now_ms() < WARMUP_MS + RUN_MS {
            let item = ITEMS[n % ITEMS.len()];
            n += 1;
            let read = async {
                lookup(front.clone(), item.to_string())
                    .await
                    .map(|v| v.map(|c| c.to_string()))
            };
            let _ = r.read("shop-front", &stock_key(item), read).await;
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Ok(())
    });

    // Drive the simulation; 2 s into the service's run, plan the faults from what the logs say so far.
    let mut planned = false;
    loop {
        if !planned && sim.elapsed() >= Duration::from_millis(WARMUP_MS + 2_000) {
            planned = true;
            for (at, f) in fault(&cluster) {
                cluster.at(at, f);
            }
        }
        if cluster.step(&mut sim).map_err(|e| e.to_string())? {
            break;
        }
    }
    let history = cluster.history("inventory", &sim, &rec)?;
    Ok(history)
}

/// The replica the shop front read from last, as the nodes logged it.
fn shop_front_replica(cluster: &Cluster) -> String {
    cluster
        .exec_log()
        .entries()
        .iter()
        .rev()
        .find(|e| e.client_name.as_deref() == Some("shop-front") && e.is("GET"))
        .map(|e| e.node.clone())
        .unwrap_or_else(|| "redis-2".into())
}

fn crash_its_replica(cluster: &Cluster) -> Vec<(u64, Fault)> {
    let node = shop_front_replica(cluster);
    vec![(3_000, Fault::Crash(node.clone())), (9_000, Fault::Restart(node))]
}

fn pause_its_replica(cluster: &Cluster) -> Vec<(u64, Fault)> {
    let node = shop_front_replica(cluster);
    vec![(3_000, Fault::Pause(node.clone())), (9_000, Fault::Resume(node))]
}

fn crash_the_master(_: &Cluster) -> Vec<(u64, Fault)> {
    vec![(3_000, Fault::Crash("redis-1".into()))]
}

/// The shop front had no error while a replica was healthy: with two replicas and one failed at a time,
/// every look-up must have succeeded.
fn no_read_errors(h: History) -> Result<History, String> {
    let failed: Vec<_> = h
        .ops
        .iter()
        .filter(|o| o.kind == OpKind::Read && o.outcome.is_err())
        .collect();
    let reads = h.ops.iter().filter(|o| o.kind == OpKind::Read).count();
    if reads < 150 || !failed.is_empty() {
        return Err(format!(
            "{} of {reads} look-ups failed: {:?}",
            failed.len(),
            failed.first()
        ));
    }
    Ok(h)
}

/// The fault really hit the shop front's replica: `failover_before_sdown` judged it and measured the re-route.
fn rerouted(h: History) -> Result<History, String> {
    let checks = redsim::checkers::check_all(&h);
    let judged = checks
        .iter()
        .find(|c| c.name == "failover_before_sdown")
        .and_then(|c| c.metric("re-route max ms"));
    match judged {
        Some(_) => Ok(h),
        None => Err("the shop front's replica never failed under it: nothing was judged".into()),
    }
}

#[test]
fn stock_reads_survive_a_crash_of_their_replica() {
    redsim::check_seeds("stock_reads_survive_a_crash_of_their_replica", |seed| {
        rerouted(no_read_errors(run_shop(seed, real_lookup, crash_its_replica)?)?)
    });
}

#[test]
fn stock_reads_survive_a_pause_of_their_replica() {
    redsim::check_seeds("stock_reads_survive_a_pause_of_their_replica", |seed| {
        rerouted(no_read_errors(run_shop(seed, real_lookup, pause_its_replica)?)?)
    });
}

#[test]
fn stock_reads_stay_on_replicas_through_a_master_failover() {
    redsim::check_seeds("stock_reads_stay_on_replicas_through_a_master_failover", |seed| {
        let h = run_shop(seed, real_lookup, crash_the_master)?;
        // Not vacuous: Sentinel really promoted a replica.
        if !h.sentinel_events.iter().any(|e| e.event == "+switch-master") {
            return Err("no failover happened".into());
        }
        Ok(h)
    });
}

/// The service changed to read inside a transaction is caught in each of the three runs.
#[test]
fn a_service_that_reads_the_master_is_caught() {
    for (what, fault) in [
        ("replica crash", crash_its_replica as fn(&Cluster) -> Vec<(u64, Fault)>),
        ("replica pause", pause_its_replica),
        ("master failover", crash_the_master),
    ] {
        let failure = redsim::seeds::check_these_seeds("mutant", &[1], |seed| run_shop(seed, master_lookup, fault))
            .expect_err(what);
        assert!(
            failure.report.contains("reads_never_on_master: at "),
            "{what}: {}",
            failure.report
        );
    }
}
