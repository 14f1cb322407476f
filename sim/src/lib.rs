//! redsim's simulation harness: describe a cluster, a workload and a fault schedule ([`Scenario`]), run it
//! deterministically on turmoil from one seed ([`run`]), check the [`History`] against the invariants
//! ([`checkers`]), and when something fails, replay it and look at its [`timeline`].
//!
//! ```
//! use redsim::{Scenario, checkers, run};
//!
//! let scenario: Scenario = "scenario demo\nduration_ms 3000\nat 1000 crash(redis-2)".parse().unwrap();
//! let history = run(&scenario, 7).unwrap();
//! let report = checkers::check_all(&history);
//! assert!(report.iter().all(|c| c.passed()), "{report:?}");
//! assert_eq!(history.render(), run(&scenario, 7).unwrap().render(), "same seed, same history");
//! ```

#![warn(missing_docs)]

pub mod bench;
pub mod bench_real;
pub mod checkers;
pub mod demo;
pub mod deployment;
pub mod explore;
pub mod fault;
pub mod fuzz;
pub mod generate;
pub mod history;
pub mod interleavings;
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
pub use scenario::{ClientRole, ClientSpec, Mutant, Network, Scenario, Topology};
pub use seeds::check_seeds;
