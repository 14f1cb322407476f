//! The standalone `fake-sentinel` binary on real TCP, talking to instances that answer with hostile replies: it
//! drops their links and stays up, as redis-sentinel does.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use redsim_fake_redis::{Config, ExecLog, Node, Reply, RespConn};
use redsim_net::Net;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const TIMEOUT: Duration = Duration::from_secs(5);

/// A reply nested 100,000 arrays deep (400 KB): enough to overflow the stack of a recursive decoder (the
/// Sentinel before the depth limit died of it on the main thread's 8 MB stack).
fn nested_reply() -> Vec<u8> {
    let mut r = "*1\r\n".repeat(100_000).into_bytes();
    r.extend_from_slice(b":1\r\n");
    r
}

/// Listens on loopback and answers every read with `reply`; counts the replies sent.
async fn hostile_instance(reply: Vec<u8>) -> (u16, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let sent = Arc::new(AtomicUsize::new(0));
    let counter = sent.clone();
    let reply = Arc::new(reply);
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let (reply, counter) = (reply.clone(), counter.clone());
            tokio::spawn(async move {
                let mut buf = vec![0u8; 4096];
                while matches!(stream.read(&mut buf).await, Ok(n) if n > 0) {
                    if stream.write_all(&reply).await.is_err() {
                        return;
                    }
                    counter.fetch_add(1, Ordering::Relaxed);
                }
            });
        }
    });
    (port, sent)
}

/// Starts the binary with `args` and returns it with the port it printed.
fn start_sentinel(args: &[&str]) -> (Child, u16) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_fake-sentinel"))
        .args(["--port", "0"])
        .args(args)
        .stderr(Stdio::piped())
        .spawn()
        .expect("start fake-sentinel");
    let mut line = String::new();
    BufReader::new(child.stderr.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let port = line
        .trim()
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .expect(&line);
    (child, port)
}

/// Waits until every counter has seen a reply sent, for up to `TIMEOUT` twice over.
async fn until_each_sent(counters: &[&Arc<AtomicUsize>]) {
    for _ in 0..100 {
        if counters.iter().all(|c| c.load(Ordering::Relaxed) > 0) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the Sentinel never talked to every hostile instance");
}

#[test]
fn deeply_nested_replies_from_a_master_a_monitored_node_or_a_replica_do_not_bring_the_sentinel_down() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        // Three ways a hostile node reaches the Sentinel: as the master it was started with, as a master added
        // with SENTINEL MONITOR, and as a replica a real master announces (REPLCONF listening-port + PSYNC).
        let (started_port, started) = hostile_instance(nested_reply()).await;
        let (added_port, added) = hostile_instance(nested_reply()).await;
        let (replica_port, replica) = hostile_instance(nested_reply()).await;

        let master = Node::new(
            Net::Tokio,
            Config {
                port: 0,
                bind: "127.0.0.1".into(),
                ..Config::default()
            },
            ExecLog::new(),
        );
        let listener = master.bind().await.unwrap();
        let m = master.clone();
        tokio::spawn(async move { m.serve_on(listener).await });
        let mut fake_replica = RespConn::connect(Net::Tokio, "127.0.0.1", master.port(), TIMEOUT)
            .await
            .unwrap();
        let rport = replica_port.to_string();
        fake_replica
            .call(&["REPLCONF", "listening-port", &rport])
            .await
            .unwrap();
        fake_replica.send(&[b"PSYNC", b"?", b"-1"]).await.unwrap();

        let sport = started_port.to_string();
        let (mut child, port) = start_sentinel(&["--monitor", "bad", "127.0.0.1", &sport, "1"]);
        let mut c = RespConn::connect(Net::Tokio, "127.0.0.1", port, TIMEOUT).await.unwrap();
        let aport = added_port.to_string();
        assert_eq!(
            c.call(&["SENTINEL", "MONITOR", "added", "127.0.0.1", &aport, "1"])
                .await
                .unwrap(),
            Reply::ok()
        );
        let mport = master.port().to_string();
        assert_eq!(
            c.call(&["SENTINEL", "MONITOR", "real", "127.0.0.1", &mport, "1"])
                .await
                .unwrap(),
            Reply::ok()
        );

        until_each_sent(&[&started, &added, &replica]).await;
        // Each hostile instance gets asked again (the Sentinel reconnects); the process survives every time.
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let alive = child.try_wait().unwrap().is_none();
        let pong = c.call(&["PING"]).await;
        let masters = c.call(&["SENTINEL", "MASTERS"]).await;
        let _ = child.kill();
        let _ = child.wait();
        assert!(alive, "the Sentinel process died");
        assert_eq!(pong.unwrap(), Reply::Simple("PONG".into()));
        assert_eq!(masters.unwrap().as_array().map(|m| m.len()), Some(3));
    });
}
