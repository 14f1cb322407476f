//! A Sentinel-aware Redis client that sends writes to the master and reads to replicas, and keeps doing so
//! through failures.
//!
//! - **Discovery** follows Redis's Sentinel client guidelines: Sentinels are tried in order, the one that
//!   answers moves to the front; the master comes from `SENTINEL get-master-addr-by-name`, replicas from
//!   `SENTINEL replicas` (skipping `s_down`, `o_down`, `disconnected`; but for one second after a master switch,
//!   when Sentinel flags every replica `disconnected` while it relinks, replicas already in use stay), more
//!   Sentinels from `SENTINEL sentinels`.
//!   Every data connection checks `ROLE` before use: a node that is not what Sentinel said is never used.
//!   The client subscribes to `+switch-master` and replica events on several Sentinels, and also reconciles
//!   periodically and after every resubscription, so a missed event cannot strand it.
//! - **Routing**: reads (by Redis's command flags) follow the [`ReadPolicy`] (default `ReplicaOnly`: never the
//!   master); everything else, transactions and unknown commands go to the master.
//! - **Failures**: a failing replica is ejected with backoff and probed before it is trusted again; the read is
//!   retried on another replica within the call's deadline, so while any replica is healthy the caller sees no
//!   error, and it does not wait for Sentinel's down-after to notice. With every replica ejected, a replica-only
//!   read tries the one whose backoff ends first (at most one such try per 500 ms) before it gives up. Writes retry only when they surely did not
//!   execute (refused, READONLY) or the caller marked them idempotent.
//! - **Connections**: one per node, shared by every caller. Requests are pipelined on it and replies matched in
//!   order; a request that times out discards the connection (failing the requests behind it at once), so a
//!   late reply can never answer another request. Like any multiplexed connection, it is not for blocking
//!   commands (`BLPOP`) or connection state (`SELECT`, `WATCH` outside a transaction).
//! - **Determinism**: the network goes through `redsim_net::Net` (tokio TCP, or turmoil in simulations), time
//!   only through `tokio::time`, randomness only from a seeded ChaCha generator, and routing decisions come out
//!   as [`RoutingEvent`]s (a broadcast stream) and `tracing` events.
//!
//! ```no_run
//! use redsim_client::{Client, ReadPolicy};
//!
//! # async fn demo() -> redsim_client::Result<()> {
//! let client = Client::builder()
//!     .sentinels(["10.0.0.1:26379", "10.0.0.2:26379", "10.0.0.3:26379"])
//!     .master_name("mymaster")
//!     .read_policy(ReadPolicy::ReplicaOnly)
//!     .build()?;
//! client.set("greeting", "hello").await?;
//! let value = client.get("greeting").await?; // served by a replica (it may lag the write)
//! # let _ = value;
//! # Ok(()) }
//! ```
//!
//! # redis-rs code on the client
//!
//! With the `redis-rs` feature, [`Client`] is a `redis::aio::ConnectionLike`, so code written for redis-rs
//! (`AsyncCommands`, `redis::pipe()`, `redis::cmd()`) runs through the client's routing unchanged: reads go to
//! replicas per the read policy, writes and `pipe().atomic()` transactions to the master, failures are retried
//! elsewhere. Error replies get redis-rs's own error kinds (`READONLY` is `ErrorKind::Server(ReadOnly)`); the
//! client's own failures keep their text (`NoReplicaAvailable` becomes redis-rs's
//! `NoValidReplicasFoundBySentinel`, connection failures and timeouts `Io`).
//!
//! ```no_run
//! # #[cfg(feature = "redis-rs")]
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use redis::AsyncCommands;
//!
//! let client = redsim_client::Client::builder()
//!     .sentinels(["10.0.0.1:26379", "10.0.0.2:26379"])
//!     .master_name("mymaster")
//!     .build()?;
//! // A `&mut Client`: on a `Client` value the client's own typed `get`/`set` are found before `AsyncCommands`'.
//! let con = &mut client.clone();
//! con.set::<_, _, ()>("greeting", "hello").await?; // the master
//! let value: Option<String> = con.get("greeting").await?; // a replica
//! let (n,): (i64,) = redis::pipe().atomic().incr("hits", 1).query_async(con).await?; // MULTI/EXEC, the master
//! # let _ = (value, n);
//! # Ok(()) }
//! ```
//!
//! # Features
//!
//! - `turmoil`: the client can run on turmoil's simulated network (`Net::Turmoil`), as redsim's simulations do.
//! - `redis-rs`: implements `redis::aio::ConnectionLike` (redis 1.x) for [`Client`], as above. The connection is
//!   shared by every caller, so `get_db` is 0 and connection state (`SELECT`, `WATCH`, Pub/Sub) does not belong
//!   on it.

#![warn(missing_docs)]

mod client;
mod commands;
mod config;
mod conn;
mod discovery;
mod error;
mod events;
#[cfg(feature = "mutants")]
mod mutant;
mod mux;
mod pipeline;
#[cfg(feature = "redis-rs")]
mod redis_rs;
pub mod routing;
mod typed;
mod watcher;

pub use client::Client;
pub use commands::is_read_only;
pub use config::{ClientBuilder, ClientConfig, ReadPolicy, ReplicaSelection, parse_addr};
pub use conn::NodeRole;
pub use error::{Error, Result};
pub use events::{EventKind, RoutingEvent};
#[cfg(feature = "mutants")]
#[doc(hidden)]
pub use mutant::Mutant;
pub use pipeline::Pipeline;
pub use redsim_net::Net;
/// A reply from the server.
pub use redsim_resp::Reply as Value;
