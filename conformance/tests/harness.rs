//! The harness itself: a server that cannot start is reported with what it said, after the retries.

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
