//! Third-party clients against the fakes on real TCP: `redis-cli` for data and Sentinel commands, and redis-rs's
//! Sentinel support (discover the master and the replicas, write to the master, read from a replica). Only the
//! fake binaries are needed (and `redis-cli` for its test, skipped with one line without it).

use std::io::Write;
use std::process::Command;
use std::time::Duration;

use redis::AsyncCommands;
use redis::sentinel::{SentinelClient, SentinelServerType};
use redsim_conformance::cluster::SENTINELS;
use redsim_conformance::{Cluster, ClusterConfig, Flavor};

/// A redis-rs connection to the master or a replica, found through the cluster's three Sentinels.
async fn through_sentinels(c: &Cluster, server_type: SentinelServerType) -> redis::aio::MultiplexedConnection {
    let urls: Vec<String> = SENTINELS
        .iter()
        .map(|s| format!("redis://127.0.0.1:{}/", c.port(s)))
        .collect();
    let mut client = SentinelClient::build(urls, "mymaster".to_string(), None, server_type).expect("a client");
    client
        .get_async_connection()
        .await
        .expect("a node, found through Sentinel")
}

/// The first element of a `ROLE` reply.
async fn role(conn: &mut redis::aio::MultiplexedConnection) -> Option<redis::Value> {
    let reply: Vec<redis::Value> = redis::cmd("ROLE").query_async(conn).await.expect("ROLE");
    reply.into_iter().next()
}

#[tokio::test(flavor = "current_thread")]
async fn redis_rs_sentinel_client_writes_to_the_fake_master_and_reads_from_a_fake_replica() {
    let fake = Cluster::start(Flavor::Fake, ClusterConfig::default())
        .await
        .expect("fake cluster");
    let mut master = through_sentinels(&fake, SentinelServerType::Master).await;
    assert_eq!(
        role(&mut master).await,
        Some(redis::Value::BulkString(b"master".to_vec()))
    );
    let () = master.set("third-party", "redis-rs").await.expect("SET on the master");

    let mut replica = through_sentinels(&fake, SentinelServerType::Replica).await;
    assert_eq!(
        role(&mut replica).await,
        Some(redis::Value::BulkString(b"slave".to_vec()))
    );
    // Replication is asynchronous: the value arrives within a few milliseconds on loopback.
    let mut value: Option<String> = None;
    for _ in 0..50 {
        value = replica.get("third-party").await.expect("GET on the replica");
        if value.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(value.as_deref(), Some("redis-rs"));
    let refused: redis::RedisResult<()> = replica.set("third-party", "x").await;
    // redis-rs recognises the fake's error as Redis's own READONLY.
    assert!(
        refused
            .as_ref()
            .is_err_and(|e| e.kind() == redis::ErrorKind::Server(redis::ServerErrorKind::ReadOnly)),
        "{refused:?}"
    );
}

fn redis_cli(port: u16, args: &[&str]) -> String {
    let out = Command::new("redis-cli")
        .arg("-p")
        .arg(port.to_string())
        .args(args)
        .output()
        .expect("redis-cli runs");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[tokio::test(flavor = "current_thread")]
async fn redis_cli_talks_to_the_fakes() {
    if Command::new("redis-cli").arg("--version").output().is_err() {
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED redis_cli_talks_to_the_fakes: redis-cli is not on PATH (apt-get install redis-tools)"
        );
        return;
    }
    let fake = Cluster::start(Flavor::Fake, ClusterConfig::default())
        .await
        .expect("fake cluster");
    let (m, r, s) = (fake.port("redis-1"), fake.port("redis-2"), fake.port("sentinel-1"));
    assert_eq!(redis_cli(m, &["SET", "k", "from redis-cli"]), "OK");
    assert_eq!(redis_cli(m, &["WAIT", "2", "1000"]), "2");
    assert_eq!(redis_cli(r, &["GET", "k"]), "from redis-cli");
    assert_eq!(
        redis_cli(r, &["SET", "k", "x"]),
        "READONLY You can't write against a read only replica."
    );
    assert!(redis_cli(r, &["INFO", "replication"]).contains("role:slave"));
    assert_eq!(
        redis_cli(s, &["SENTINEL", "get-master-addr-by-name", "mymaster"]),
        format!("127.0.0.1\n{m}")
    );
    let replicas = redis_cli(s, &["SENTINEL", "replicas", "mymaster"]);
    assert!(replicas.contains(&format!("127.0.0.1:{r}")), "{replicas}");
    assert!(redis_cli(s, &["INFO", "sentinel"]).contains("status=ok,address=127.0.0.1"));
}
