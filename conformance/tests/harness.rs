//! The harness itself: a server that cannot start is reported with what it said, after the retries; a killed
//! node starts again as it was.

use redsim_conformance::{Cluster, ClusterConfig, Flavor};

#[tokio::test(flavor = "current_thread")]
async fn a_server_that_cannot_start_is_reported_with_its_own_words() {
    let config = ClusterConfig {
        data_node_args: vec!["--bogus".into()],
        ..ClusterConfig::default()
    };
    let err = Cluster::start(Flavor::Fake, config)
        .await
        .expect_err("fake-redis refuses --bogus");
    let text = err.to_string();
    assert!(text.contains("fake redis-1 exited during start-up"), "{text}");
    assert!(text.contains("unknown option '--bogus'"), "{text}");
}

#[tokio::test(flavor = "current_thread")]
async fn a_killed_node_restarts_on_its_port_and_rejoins_as_a_replica() {
    let mut cluster = Cluster::start(Flavor::Fake, ClusterConfig::default())
        .await
        .expect("a fake cluster starts");
    cluster.kill("redis-3");
    assert!(
        cluster.call("redis-3", &["PING"]).await.is_err(),
        "a killed node refuses connections"
    );
    cluster.restart("redis-3").expect("the node starts again");
    // It comes back with its first configuration: a replica of the master, on the same port.
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let link = cluster.info_field("redis-3", "replication", "master_link_status").await;
        if link.as_deref() == Ok("up") {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "redis-3 never linked again: {link:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}
