//! redsim's simulation harness.
//!
//! For now it holds the replication demo that the `redsim` command runs ([`demo::run`]); the harness issue turns
//! it into topologies, fault schedules, workloads, checkers and replay.
//!
//! ```
//! let report = redsim::demo::run(7).unwrap();
//! assert!(report.converged);
//! assert_eq!(report, redsim::demo::run(7).unwrap(), "same seed, same run");
//! ```

#![warn(missing_docs)]

pub mod demo;
