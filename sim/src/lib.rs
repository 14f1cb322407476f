//! redsim's simulation harness. For now it holds the replication demo that `redsim` runs; the harness issue
//! turns it into topologies, fault schedules, workloads, checkers and replay.
