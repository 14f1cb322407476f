//! Output buffers of the standalone `fake-redis` binary over real TCP on loopback, against what redis-server
//! 7.0.15 does with the same input: full resyncs that share one snapshot (issue 16, M1),
//! `client-output-buffer-limit` disconnecting a replica that never reads, and the limit that closes an
//! unauthenticated connection flooding replies it never reads.

#[path = "common/binary.rs"]
mod binary;

use binary::block_on;

use std::time::Duration;

use binary::Binary;
use redsim_fake_redis::{Reply, RespConn};
use redsim_net::Net;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

const FAKE_REDIS: &str = env!("CARGO_BIN_EXE_fake-redis");
const TIMEOUT: Duration = Duration::from_secs(30);

async fn client(port: u16) -> RespConn {
    RespConn::connect(Net::Tokio, "127.0.0.1", port, TIMEOUT)
        .await
        .expect("connect to the binary")
}

/// A connection with a tiny receive buffer, so that what it never reads stays on the server's side.
async fn non_reader(port: u16) -> TcpStream {
    let socket = TcpSocket::new_v4().expect("a socket");
    socket.set_recv_buffer_size(4096).expect("SO_RCVBUF");
    socket
        .connect(([127, 0, 0, 1], port).into())
        .await
        .expect("connect to the binary")
}

/// The value of `field` in `INFO section`.
async fn info_field(c: &mut RespConn, section: &str, field: &str) -> String {
    let Reply::Bulk(text) = c.call(&["INFO", section]).await.expect("INFO") else {
        panic!("INFO answered with something other than a bulk string");
    };
    let text = String::from_utf8_lossy(&text).into_owned();
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .unwrap_or_else(|| panic!("no {field} in INFO {section}"))
        .trim()
        .to_string()
}

/// Polls `INFO section` until `field` reads `want`; false if it never does within the hang guard.
async fn wait_for_field(c: &mut RespConn, section: &str, field: &str, want: &str) -> bool {
    for _ in 0..300 {
        if info_field(c, section, field).await == want {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

const DATASET_MB: usize = 50;
const NON_READING_REPLICAS: usize = 10;

#[test]
fn full_resyncs_to_replicas_that_never_read_share_one_snapshot() {
    let bin = Binary::start(FAKE_REDIS, &["--port", "0"], None);
    block_on(async {
        let mut c = client(bin.port).await;
        let value = "x".repeat(1024 * 1024);
        for i in 0..DATASET_MB {
            assert_eq!(c.call(&["SET", &format!("k{i}"), &value]).await.unwrap(), Reply::ok());
        }
        drop(value);
        let before_kb = bin.rss_bytes().expect("procfs") / 1024;
        let mut replicas = Vec::new();
        for _ in 0..NON_READING_REPLICAS {
            let mut s = non_reader(bin.port).await;
            s.write_all(b"PSYNC ? -1\r\n").await.unwrap();
            replicas.push(s);
        }
        let n = NON_READING_REPLICAS.to_string();
        assert!(
            wait_for_field(&mut c, "stats", "sync_full", &n).await,
            "ten full resyncs started"
        );
        // Each transfer is underway (stuck on a peer that reads nothing); let the server settle its memory.
        tokio::time::sleep(Duration::from_secs(1)).await;
        let after_kb = bin.rss_bytes().expect("procfs") / 1024;
        let growth_kb = after_kb.saturating_sub(before_kb);
        let dataset_kb = (DATASET_MB * 1024) as u64;
        eprintln!(
            "RSS before {before_kb} kB, after {NON_READING_REPLICAS} stalled full resyncs {after_kb} kB: \
             +{growth_kb} kB for a {dataset_kb} kB dataset"
        );
        // One shared snapshot costs about one dataset; a copy per replica would cost ten or more.
        assert!(
            growth_kb < dataset_kb * 5 / 2,
            "RSS grew by {growth_kb} kB, more than 2.5x the {dataset_kb} kB dataset"
        );
        drop(replicas);
    });
}

#[test]
fn a_replica_that_never_reads_is_disconnected_at_its_output_buffer_limit() {
    let bin = Binary::start(FAKE_REDIS, &["--port", "0"], None);
    block_on(async {
        let mut c = client(bin.port).await;
        // Redis never applies a replica hard limit below repl-backlog-size, so lower both.
        let set = c
            .call(&[
                "CONFIG",
                "SET",
                "repl-backlog-size",
                "16kb",
                "client-output-buffer-limit",
                "replica 64kb 0 0",
            ])
            .await
            .unwrap();
        assert_eq!(set, Reply::ok());
        let got = c.call(&["CONFIG", "GET", "client-output-buffer-limit"]).await.unwrap();
        assert_eq!(
            got,
            Reply::Array(vec![
                Reply::text("client-output-buffer-limit"),
                Reply::text("normal 0 0 0 slave 65536 0 0 pubsub 33554432 8388608 60")
            ])
        );
        let mut replica = non_reader(bin.port).await;
        replica.write_all(b"PSYNC ? -1\r\n").await.unwrap();
        assert!(wait_for_field(&mut c, "replication", "connected_slaves", "1").await);
        // Far more than loopback's socket buffers hold: the rest queues on the server until the limit trips.
        let value = "v".repeat(100 * 1024);
        let mut writes = 0;
        while writes < 1000 && info_field(&mut c, "replication", "connected_slaves").await == "1" {
            for _ in 0..10 {
                c.call(&["SET", "k", &value]).await.unwrap();
                writes += 1;
            }
        }
        assert!(
            wait_for_field(&mut c, "replication", "connected_slaves", "0").await,
            "the replica is still attached after {writes} writes of 100 kB"
        );
        let said = bin.stderr();
        assert!(
            said.iter()
                .any(|l| l.contains("scheduled to be closed ASAP for overcoming of output buffer limits")),
            "no log line for the disconnection: {said:?}"
        );
        drop(replica);
    });
}

/// Sends `n` wrong AUTHs in one write, never reading meanwhile, then reads until the server closes or falls
/// silent: how many bytes came back and whether the server closed the connection.
async fn flood_wrong_auths(port: u16, n: usize) -> (usize, bool) {
    let mut s = non_reader(port).await;
    let one = b"*2\r\n$4\r\nAUTH\r\n$5\r\nwrong\r\n";
    let batch: Vec<u8> = one.iter().copied().cycle().take(one.len() * n).collect();
    // The server may close while we still write; what it sent before is what counts.
    let _ = s.write_all(&batch).await;
    let mut got = 0;
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match tokio::time::timeout(Duration::from_millis(500), s.read(&mut buf)).await {
            Err(_) => return (got, false),
            Ok(Ok(0)) | Ok(Err(_)) => return (got, true),
            Ok(Ok(k)) => got += k,
        }
    }
}

/// `-WRONGPASS invalid username-password pair or user is disabled.\r\n`
const WRONGPASS_BYTES: usize = 64;

#[test]
fn an_unauthenticated_flood_of_unread_replies_is_closed_as_redis_closes_it() {
    let bin = Binary::start(FAKE_REDIS, &["--port", "0", "--requirepass", "secret"], None);
    block_on(async {
        // redis-server 7.0.15 (Debian's, with the CVE-2025-21605 fix) answers 256 of these (16384 bytes, its
        // reply buffer) and closes the connection without a word at 257.
        assert_eq!(flood_wrong_auths(bin.port, 256).await, (256 * WRONGPASS_BYTES, false));
        assert_eq!(flood_wrong_auths(bin.port, 257).await, (0, true));
        assert_eq!(flood_wrong_auths(bin.port, 100_000).await, (0, true));
        let mut c = client(bin.port).await;
        assert_eq!(c.call(&["AUTH", "secret"]).await.unwrap(), Reply::ok());
        assert_eq!(c.call(&["PING"]).await.unwrap(), Reply::Simple("PONG".into()));
    });
}
