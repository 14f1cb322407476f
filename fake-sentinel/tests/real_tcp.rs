//! The standalone `fake-sentinel` binary on real TCP, watching a fake Redis master, answering a client.

#[path = "../../fake-redis/tests/common/binary.rs"]
mod binary;

use std::time::Duration;

use binary::Binary;

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
