//! What the `redsim` command runs beyond the library: generated schedules and their shrinking ([`generate`],
//! [`fuzz`]), exhaustive exploration of small fault schedules and of message orderings ([`explore`],
//! [`interleavings`], with [`progress`] lines on stderr), and the timed workloads of `redsim bench` ([`bench`], and [`bench_real`] on real
//! Redis processes). It is its own package so that the `redsim` library a user's tests link needs no command
//! line parser, proptest or real-process harness.

#![warn(missing_docs)]

pub mod bench;
pub mod bench_real;
pub mod explore;
pub mod fuzz;
pub mod generate;
pub mod interleavings;
pub mod progress;
