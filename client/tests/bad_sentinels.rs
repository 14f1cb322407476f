//! Sentinels that misbehave: garbage, lies about roles, silence. The client must answer with clear errors or
//! recover, never panic or hang, and never run a write on a replica or a replica-only read on a master.

#[path = "../../fake-sentinel/tests/common/mod.rs"]
mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::BytesMut;
use common::*;
use redsim::{Cluster, Deployment};
use redsim_client::{Client, Error};
use redsim_fake_redis::Role;
use redsim_net::Net;
use redsim_resp::{Protocol, Reply, RequestParser};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const SEC: Duration = Duration::from_secs(1);

/// How a fake bad Sentinel answers.
#[derive(Clone)]
enum Behaviour {
    Garbage,
    Silent,
    /// Names the script's nodes (resolved at request time) as master and replicas, with the script's flags; the
    /// test may change the script while the Sentinel runs.
    Lies(Arc<Mutex<Script>>),
}

/// What a lying Sentinel says: the master, and each replica with its flags.
struct Script {
    master: &'static str,
    replicas: Vec<(&'static str, &'static str)>,
}

fn lies(master: &'static str, replicas: &[(&'static str, &'static str)]) -> Arc<Mutex<Script>> {
    Arc::new(Mutex::new(Script {
        master,
        replicas: replicas.to_vec(),
    }))
}

fn replica_map(ip: &str, flags: &str) -> Reply {
    let kv = |k: &str, v: &str| [Reply::text(k), Reply::text(v)];
    Reply::Array(
        [
            kv("name", &format!("{ip}:6379")),
            kv("ip", ip),
            kv("port", "6379"),
            kv("flags", flags),
        ]
        .concat(),
    )
}

async fn bad_sentinel(behaviour: Behaviour) -> turmoil::Result {
    let listener = turmoil::net::TcpListener::bind(("0.0.0.0", SENTINEL_PORT)).await?;
    loop {
        let (mut s, _) = listener.accept().await?;
        let b = behaviour.clone();
        tokio::spawn(async move {
            let mut buf = BytesMut::new();
            let mut parser = RequestParser::new();
            loop {
                match s.read_buf(&mut buf).await {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {}
                }
                while let Ok(Some(req)) = parser.parse(&mut buf, true) {
                    let words: Vec<String> = req
                        .args
                        .iter()
                        .map(|a| String::from_utf8_lossy(a).to_ascii_lowercase())
                        .collect();
                    let reply = match &b {
                        Behaviour::Silent => continue,
                        Behaviour::Garbage => {
                            let _ = s.write_all(b"\xff\xfe$-9\r\n*x\r\ngarbage").await;
                            continue;
                        }
                        Behaviour::Lies(script) => {
                            let script = script.lock().unwrap();
                            match words.get(1).map(String::as_str) {
                                Some("get-master-addr-by-name") => Reply::Array(vec![
                                    Reply::text(turmoil::lookup(script.master).to_string()),
                                    Reply::text("6379"),
                                ]),
                                Some("replicas") => Reply::Array(
                                    script
                                        .replicas
                                        .iter()
                                        .map(|(r, flags)| replica_map(&turmoil::lookup(*r).to_string(), flags))
                                        .collect(),
                                ),
                                _ => Reply::Array(vec![]),
                            }
                        }
                    };
                    if s.write_all(&reply.to_bytes(Protocol::Resp2)).await.is_err() {
                        return;
                    }
                }
            }
        });
    }
}

/// A deployment whose Sentinel list starts with a bad one at `bad-sentinel:26379`.
fn with_bad_sentinel(seed: u64, behaviour: Behaviour) -> (turmoil::Sim<'static>, Cluster) {
    let mut sim = redsim::sim(seed);
    let cluster = Deployment::new(Topology::default()).seed(seed).install(&mut sim);
    sim.host("bad-sentinel", move || bad_sentinel(behaviour.clone()));
    (sim, cluster)
}

fn client(name: &str, sentinels: &[&str]) -> redsim_client::ClientBuilder {
    Client::builder()
        .sentinels(sentinels.iter().copied())
        .master_name("mymaster")
        .client_name(name)
        .net(Net::Turmoil)
}

#[test]
fn a_garbage_sentinel_is_skipped() {
    let (mut sim, mut cluster) = with_bad_sentinel(41, Behaviour::Garbage);
    cluster.client(&mut sim, "app", async move {
        assert!(wait_discovery(&Topology::default(), 30 * SEC).await);
        let c = client("app", &["bad-sentinel:26379", "sentinel-1:26379"]).build()?;
        c.set("k", "v").await?;
        c.get("k").await?;
        Ok(())
    });
    cluster.run(&mut sim).unwrap();
    assert_eq!(ran(cluster.exec_log(), "app", "SET")[0].node, "redis-1");
    assert_eq!(ran(cluster.exec_log(), "app", "GET")[0].role, Role::Replica);
}

#[test]
fn a_sentinel_naming_a_replica_as_master_gets_no_write_through() {
    let lies = Behaviour::Lies(lies("redis-2", &[("redis-1", "slave"), ("redis-3", "slave")]));
    let (mut sim, mut cluster) = with_bad_sentinel(42, lies);
    cluster.client(&mut sim, "app", async move {
        assert!(wait_discovery(&Topology::default(), 30 * SEC).await);
        let c = client("app", &["bad-sentinel:26379"]).call_deadline(2 * SEC).build()?;
        let err = c.set("k", "v").await.unwrap_err();
        assert!(
            matches!(
                err,
                Error::RoleMismatch { .. } | Error::MasterUnavailable(_) | Error::DeadlineExceeded
            ),
            "{err:?}"
        );
        // Reads: redis-1 is named a replica but is the master; ROLE catches it, redis-3 serves.
        for _ in 0..5 {
            c.get("k").await?;
        }
        Ok(())
    });
    cluster.run(&mut sim).unwrap();
    assert!(
        ran(cluster.exec_log(), "app", "SET").is_empty(),
        "no write ran anywhere"
    );
    let gets = ran(cluster.exec_log(), "app", "GET");
    assert_eq!(gets.len(), 5);
    assert!(
        gets.iter().all(|e| e.role == Role::Replica && e.node == "redis-3"),
        "{gets:?}"
    );
}

/// Real Sentinel, switching the master, re-creates its replica entries with their links down: for about 100 ms
/// `SENTINEL replicas` flags every replica `disconnected`. A replica-only reader must not lose the replica it
/// uses to that moment; a replica it never used still waits for Sentinel's link, and after the moment the flag
/// counts again.
#[test]
fn a_replica_in_use_survives_the_moment_after_a_switch_when_sentinel_flags_all_disconnected() {
    let script = lies("redis-1", &[("redis-2", "slave")]);
    let (mut sim, mut cluster) = with_bad_sentinel(44, Behaviour::Lies(script.clone()));
    cluster.client(&mut sim, "app", async move {
        assert!(wait_discovery(&Topology::default(), 30 * SEC).await);
        let c = client("app", &["bad-sentinel:26379"]).build()?;
        let addr = |n| format!("{}:6379", turmoil::lookup(n));
        c.get("k").await?;
        // The switch, as Sentinel reports it in that moment: a new master, every replica `disconnected`.
        *script.lock().unwrap() = Script {
            master: "redis-3",
            replicas: vec![("redis-2", "slave,disconnected"), ("redis-1", "slave,disconnected")],
        };
        c.discover().await?;
        assert_eq!(c.master_addr(), Some(addr("redis-3")));
        assert_eq!(
            c.usable_replicas(),
            [addr("redis-2")],
            "kept: in use; redis-1: never used"
        );
        c.get("k").await?;
        // Still flagged a second later: Sentinel really has no link, and the replica goes.
        tokio::time::sleep(SEC + SEC / 2).await;
        c.discover().await?;
        assert_eq!(c.usable_replicas(), Vec::<String>::new());
        assert_eq!(c.get("k").await, Err(Error::NoReplicaAvailable));
        Ok(())
    });
    cluster.run(&mut sim).unwrap();
    let gets = ran(cluster.exec_log(), "app", "GET");
    assert_eq!(gets.len(), 2, "{gets:?}");
    assert!(
        gets.iter().all(|e| e.node == "redis-2" && e.role == Role::Replica),
        "{gets:?}"
    );
}

#[test]
fn silent_sentinels_give_a_clear_error_in_bounded_time() {
    let (mut sim, mut cluster) = with_bad_sentinel(43, Behaviour::Silent);
    cluster.client(&mut sim, "app", async move {
        let c = client("app", &["bad-sentinel:26379", "nowhere:26379"])
            .sentinel_timeout(Duration::from_millis(200))
            .connect_timeout(Duration::from_millis(200))
            .build()?;
        let t0 = tokio::time::Instant::now();
        assert_eq!(c.get("k").await, Err(Error::NoSentinelReachable));
        assert!(t0.elapsed() <= Duration::from_millis(1000), "{:?}", t0.elapsed());
        let unknown = client("app", &["sentinel-1:26379"]).master_name("nosuch").build()?;
        tokio::time::sleep(3 * SEC).await;
        assert_eq!(unknown.get("k").await, Err(Error::MasterUnknown("nosuch".into())));
        Ok(())
    });
    cluster.run(&mut sim).unwrap();
}

#[test]
fn bad_configuration_is_refused_with_clear_errors() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let e = Client::builder().master_name("m").build().unwrap_err();
        assert_eq!(e, Error::Config("no Sentinel given".into()));
        let e = Client::builder().sentinel("h:1").build().unwrap_err();
        assert_eq!(e, Error::Config("no master name given".into()));
        let e = Client::builder()
            .sentinel("nonsense")
            .master_name("m")
            .build()
            .unwrap_err();
        assert!(e.to_string().contains("not host:port"), "{e}");
        let e = Client::builder()
            .sentinel("h:1")
            .master_name("m")
            .call_deadline(Duration::ZERO)
            .build()
            .unwrap_err();
        assert!(e.to_string().contains("call_deadline must be above zero"), "{e}");
    });
}
