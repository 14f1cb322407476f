//! The standalone `fake-sentinel` binary on real TCP, watching a fake Redis master, answering a client.

#[path = "../../fake-redis/tests/common/binary.rs"]
mod binary;

use binary::block_on;

use std::time::Duration;

use binary::{Answer, Binary};

use redsim_fake_redis::{Config, ExecLog, Node, Reply, RespConn};
use redsim_net::Net;

const FAKE_SENTINEL: &str = env!("CARGO_BIN_EXE_fake-sentinel");

#[test]
fn the_standalone_binary_monitors_a_master_and_answers_clients() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
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
        let port = master.port().to_string();
        let bin = Binary::start(
            FAKE_SENTINEL,
            &[
                "--port",
                "0",
                "--monitor",
                "mymaster",
                "127.0.0.1",
                &port,
                "1",
                "--down-after-ms",
                "1000",
            ],
            None,
        );
        let sport = bin.port;
        let mut c = RespConn::connect(Net::Tokio, "127.0.0.1", sport, Duration::from_secs(5))
            .await
            .unwrap();
        let addr = c
            .call(&["SENTINEL", "GET-MASTER-ADDR-BY-NAME", "mymaster"])
            .await
            .unwrap();
        assert_eq!(addr, Reply::Array(vec![Reply::text("127.0.0.1"), Reply::text(&port)]));
        // Within a couple of seconds the Sentinel has pinged the master and read its INFO.
        let mut runid = String::new();
        for _ in 0..40 {
            let m = c.call(&["SENTINEL", "MASTER", "mymaster"]).await.unwrap();
            let items = m.as_array().unwrap().to_vec();
            runid = items[7].as_text().unwrap();
            if !runid.is_empty() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        drop(bin);
        assert_eq!(runid, master.run_id());
    });
}

#[test]
fn the_binary_rejects_a_missing_monitor() {
    let out = binary::command(FAKE_SENTINEL, &["--port", "0"], None).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("nothing to monitor"));
}

/// The descriptor limit the tests below give the binary. Real redis-sentinel 7.0.15 under `ulimit -n 40` lowers
/// maxclients to 8 (40 minus the 32 descriptors Redis keeps for itself) and refuses the 9th client.
const NOFILE: u64 = 40;
const MAXCLIENTS_AT_NOFILE: usize = 8;

/// A Sentinel that watches nothing reachable: enough to serve clients.
const ARGS: &[&str] = &["--port", "0", "--monitor", "mymaster", "127.0.0.1", "1", "1"];

/// More connections than the process has descriptors (issue 16, C3): before the fix the accept loop returned
/// the `EMFILE` error and the Sentinel exited. Now it refuses the clients beyond maxclients with Redis's error,
/// as redis-sentinel does (it answered 8 PONGs and 42 errors to this), and stays up.
#[test]
fn clients_beyond_the_descriptor_limit_are_refused_and_the_sentinel_stays_up() {
    let mut bin = Binary::start(FAKE_SENTINEL, ARGS, Some(NOFILE));
    let answers = block_on(binary::ping_many(bin.port, 50));
    let (admitted, refused, other) = binary::tally(&answers);
    assert!(
        other.is_empty(),
        "unexpected answers {other:?}; stderr {:?}",
        bin.stderr()
    );
    assert_eq!((admitted, refused), (MAXCLIENTS_AT_NOFILE, 50 - MAXCLIENTS_AT_NOFILE));
    assert!(answers.contains(&Answer::MaxClients), "{answers:?}");
    assert!(
        block_on(binary::pong_on_a_new_connection(bin.port)),
        "{:?}",
        bin.stderr()
    );
    assert!(bin.is_running(), "{:?}", bin.stderr());
}

/// The Sentinel fits maxclients in the descriptor limit as redis-sentinel does: the same warnings, and INFO
/// reports the lowered value (a Sentinel has no CONFIG command).
#[test]
fn maxclients_is_lowered_to_fit_the_descriptor_limit_as_redis_sentinel_does() {
    let bin = Binary::start(FAKE_SENTINEL, ARGS, Some(NOFILE));
    let info = block_on(async {
        let mut c = RespConn::connect(Net::Tokio, "127.0.0.1", bin.port, Duration::from_secs(5))
            .await
            .unwrap();
        c.call(&["INFO", "clients"]).await.unwrap()
    });
    let info = info.as_text().unwrap_or_default();
    assert!(info.contains("\r\nmaxclients:8\r\n"), "{info}");
    let logged = bin.stderr();
    for w in [
        "You requested maxclients of 10000 requiring at least 10032 max file descriptors.",
        "Server can't set maximum open files to 10032 because of OS error: Operation not permitted.",
        "Current maximum open files is 40. maxclients has been reduced to 8 to compensate for low ulimit. If you \
         need higher maxclients increase 'ulimit -n'.",
    ] {
        assert!(logged.iter().any(|l| l.ends_with(w)), "missing {w:?} in {logged:?}");
    }
}

/// With no room for one client the Sentinel refuses to start, as redis-sentinel does.
#[test]
fn the_binary_refuses_to_start_when_the_limit_cannot_hold_a_client() {
    let (status, stderr) = binary::run_to_exit(FAKE_SENTINEL, ARGS, Some(32)).expect("fake-sentinel exits at once");
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("Your current 'ulimit -n' of 32 is not enough for the server to start."),
        "{stderr}"
    );
}
