//! Conformance: redsim's fakes against the real `redis-server` and `redis-sentinel`.
//!
//! A simulation is only as good as its fakes. This crate starts the same topology twice on loopback, once from
//! real Redis processes and once from the `fake-redis` / `fake-sentinel` binaries (1 master, 2 replicas,
//! 3 Sentinels, no persistence), runs the same [`script`]s of commands against both, and compares the replies
//! after [`normalise`] has removed what legitimately differs (run ids, ports, timestamps, counters).
//! Differences that are known and accepted are listed, with their reasons, in `conformance/allow-list.txt`.
//! [`parity`] lines up the Sentinel events of the same fault on a real cluster and in the simulation, and
//! [`ground_truth`] reads real nodes' MONITOR streams to count the reads a client ran on a master.
//!
//! Tests that need real Redis skip themselves, with one line on stderr, when `redis-server` or `redis-sentinel`
//! is not on `PATH`; CI installs them (`apt-get install redis-server redis-sentinel`).
//!
//! ```no_run
//! use redsim_conformance::{Cluster, Flavor};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> std::io::Result<()> {
//! let real = Cluster::start(Flavor::Real, Default::default()).await?;
//! let mut master = real.connect(real.master()).await?;
//! assert_eq!(master.call(&["PING"]).await?.as_text().as_deref(), Some("PONG"));
//! # Ok(()) }
//! ```
//! Everything started is stopped, and its directory removed, when the [`Cluster`] is dropped, also when a test
//! panics.

#![warn(missing_docs)]

pub mod cluster;
pub mod differential;
pub mod ground_truth;
pub mod normalise;
pub mod parity;
pub mod process;
pub mod script;

pub use cluster::{Cluster, ClusterConfig, Flavor, NodeId};

/// Runs a future to completion on a fresh current-thread runtime: the real side of a test or benchmark, which
/// must not share a runtime with a simulation (turmoil builds its own).
pub fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime")
        .block_on(f)
}
pub use process::{Binaries, skip_unless_real_redis};
