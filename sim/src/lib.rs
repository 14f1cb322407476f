//! redsim's simulation harness: fake Redis nodes and Sentinels on turmoil's simulated network, faults, and
//! checkers that judge a run from the nodes' own logs.
//!
//! **Your code in the simulation.** [`Deployment`] installs the cluster into a `turmoil::Sim`; your service
//! runs beside it on its own simulated host, through `redsim-client` (directly, or through redis-rs's
//! `AsyncCommands` with its `redis-rs` feature); a [`Recorder`] keeps what it asked and was told; the
//! [`checkers`] say whether its reads ever ran on a master and whether it re-routed before Sentinel noticed
//! a failure; [`check_seeds`] runs it all for several seeds and names the one that fails:
//!
//! ```
//! use redsim::{Deployment, Fault, Recorder, Topology};
//!
//! redsim::check_seeds("doc_example", |seed| {
//!     let mut sim = redsim::sim(seed);
//!     let mut cluster = Deployment::new(Topology::default()).seed(seed).install(&mut sim);
//!     let rec = Recorder::new();
//!     rec.declare_reader("my-service", "replica-only");
//!     let (r, sentinels) = (rec.clone(), cluster.sentinel_addrs());
//!     cluster.client(&mut sim, "my-service", async move {
//!         redsim::warmed_up().await;
//!         let client = redsim_client::Client::builder()
//!             .sentinels(sentinels.iter().map(String::as_str))
//!             .master_name("mymaster")
//!             .client_name("my-service") // how the nodes' logs know who sent what
//!             .net(redsim_client::Net::Turmoil)
//!             .seed(seed)
//!             .build()?;
//!         for _ in 0..20 {
//!             let get = async { client.get("k").await.map(|v| v.map(|b| String::from_utf8_lossy(&b).into())) };
//!             let _ = r.read("my-service", "k", get).await;
//!             tokio::time::sleep(std::time::Duration::from_millis(100)).await;
//!         }
//!         Ok(())
//!     });
//!     cluster.at(500, Fault::Crash("redis-2".into()));
//!     cluster.run(&mut sim).map_err(|e| e.to_string())?;
//!     cluster.history("doc_example", &sim, &rec)
//! });
//! ```
//!
//! **redsim's own scenarios** are plain data ([`Scenario`]: a topology, clients, a fault schedule) that [`run`]
//! runs on exactly the same [`Deployment`], from one seed:
//!
//! ```
//! use redsim::{Scenario, checkers, run};
//!
//! let scenario: Scenario = "scenario demo\nduration_ms 3000\nstable_ms 1000\nat 1000 crash(redis-2)".parse().unwrap();
//! let history = run(&scenario, 7).unwrap();
//! let report = checkers::check_all(&history);
//! assert!(report.iter().all(|c| c.passed()), "{report:?}");
//! assert_eq!(history.render(), run(&scenario, 7).unwrap().render(), "same seed, same history");
//! ```

#![warn(missing_docs)]

pub mod checkers;
pub mod data_mix;
pub mod demo;
pub mod deployment;
pub mod fault;
pub mod history;
pub mod recorder;
pub mod report;
pub mod runner;
pub mod scenario;
pub mod scenarios;
pub mod seeds;
pub mod timeline;

pub use deployment::{Cluster, Deployment, FaultHandle, sim, sim_builder, warmed_up};
pub use fault::{Fault, Schedule, TimedFault};
pub use history::{History, Op, OpKind};
pub use recorder::{Pending, Recorder};
pub use runner::run;
pub use scenario::{ClientRole, ClientSpec, DataMix, Mutant, Network, Scenario, Topology};
pub use seeds::check_seeds;
