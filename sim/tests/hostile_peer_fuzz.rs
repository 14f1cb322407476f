//! A peer that answers everything with random, truncated, deeply nested or oversized bytes, inside the simulation,
//! against every reader that talks to a peer: a fake-redis replica's link to its master, a fake Sentinel's links
//! to a monitored master, and the client's Sentinel connection. Each must drop the peer and carry on: no host
//! panics, the nodes still answer, and the client's call ends within its deadline.
//!
//! Deterministic: the inputs come from `PROPTEST_RNG_SEED` (default 16); `PROPTEST_CASES` (default 8) sets how
//! many simulations run.

use std::time::Duration;

use proptest::prelude::*;
use proptest::test_runner::RngSeed;
use redsim::{Deployment, Topology};
use redsim_client::{Client, Error, Net};
use redsim_fake_redis::{Reply, RespConn};
use redsim_fake_sentinel::MasterConfig;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// What the hostile peer sends after each read.
fn garbage() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 1..300),
        prop::collection::vec(prop::sample::select(b"*%~>$:+-_#,(\r\n0123456789".to_vec()), 1..300),
        (1usize..50_000).prop_map(|n| "*1\r\n".repeat(n).into_bytes()),
        any::<u64>().prop_map(|n| format!("*{n}\r\n$-7\r\n+x\r\n").into_bytes()),
        any::<u64>().prop_map(|n| format!("+FULLRESYNC {:040} 0\r\n${n}\r\nxx", 0).into_bytes()),
    ]
}

/// Serves `reply` on `port` to every connection, after every read.
async fn hostile(port: u16, reply: Vec<u8>) -> turmoil::Result {
    let listener = turmoil::net::TcpListener::bind(("0.0.0.0", port)).await?;
    loop {
        let (mut s, _) = listener.accept().await?;
        let reply = reply.clone();
        tokio::spawn(async move {
            let mut buf = vec![0u8; 4096];
            while matches!(s.read(&mut buf).await, Ok(n) if n > 0) {
                if s.write_all(&reply).await.is_err() {
                    return;
                }
            }
        });
    }
}

async fn pong(host: &str, port: u16) -> Result<(), String> {
    let mut c = RespConn::connect(redsim_net::Net::Turmoil, host, port, Duration::from_secs(2))
        .await
        .map_err(|e| format!("{host}: {e}"))?;
    match c.call(&["PING"]).await {
        Ok(Reply::Simple(s)) if s == "PONG" => Ok(()),
        other => Err(format!("{host}: PING answered {other:?}")),
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: env_u64("PROPTEST_CASES", 8) as u32,
        rng_seed: RngSeed::Fixed(env_u64("PROPTEST_RNG_SEED", 16)),
        failure_persistence: None,
        max_shrink_iters: 20,
        ..ProptestConfig::default()
    })]

    #[test]
    fn every_reader_survives_a_peer_sending_garbage(reply in garbage(), seed in any::<u64>()) {
        let topology = Topology { replicas: 1, sentinels: 1, quorum: 1, ..Topology::default() };
        let deployment = Deployment::new(topology)
            .seed(seed)
            // The replica follows the hostile peer as its master; the Sentinel monitors it too.
            .node_config(|c| {
                if c.replicaof.is_some() {
                    c.replicaof = Some(("evil".into(), 6379));
                }
            })
            .sentinel_config(|c| c.masters.push(MasterConfig::new("evil", "evil", 6379, 1)));
        let mut sim = deployment.sim();
        let mut cluster = deployment.install(&mut sim);
        let (r1, r2) = (reply.clone(), reply);
        sim.host("evil", move || {
            let (a, b) = (r1.clone(), r2.clone());
            async move {
                tokio::spawn(async move {
                    let _ = hostile(26379, b).await;
                });
                hostile(6379, a).await
            }
        });
        cluster.client(&mut sim, "app", async {
            // Time for the replica and the Sentinel to talk to the peer, and be answered, several times over.
            tokio::time::sleep(Duration::from_secs(3)).await;
            let client = Client::builder()
                .sentinel("evil:26379")
                .master_name("evil")
                .net(Net::Turmoil)
                .call_deadline(Duration::from_secs(2))
                .build()?;
            let got = client.command(&["GET", "k"]).await;
            if !matches!(got, Err(Error::NoSentinelReachable | Error::DeadlineExceeded | Error::MasterUnknown(_))) {
                return Err(format!("the client read {got:?} from garbage").into());
            }
            pong("redis-1", 6379).await?;
            pong("redis-2", 6379).await?;
            pong("sentinel-1", 26379).await?;
            Ok(())
        });
        let ran = cluster.run(&mut sim);
        prop_assert!(ran.is_ok(), "{ran:?}");
    }
}
