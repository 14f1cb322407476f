//! The redsim routing client: a Sentinel-aware Redis client that sends writes to the master and reads to
//! replicas, and keeps doing so through failures.
//!
//! Not built yet: it arrives with the "routing client" issue. It will run over `redsim_net::Net`, so the same
//! code serves production (tokio TCP) and the deterministic simulation (turmoil).
