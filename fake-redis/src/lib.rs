//! Simulated Redis data nodes.
//!
//! A [`Node`] is an in-process Redis 7.0 server: it speaks RESP2 and RESP3 over any [`redsim_net::Net`] (real
//! TCP or turmoil's simulated network), keeps a keyspace with expiry on the network's clock, plays master or
//! replica with asynchronous replication streamed over the network (offsets, backlog, partial and full
//! resynchronisation, acknowledgements, WAIT, `min-replicas-to-write`), and answers with Redis's own replies and
//! error strings. Every command it executes lands in an [`ExecLog`] with the node's role at that instant: the
//! ground truth the simulation's checkers read.
//!
//! The keyspace holds strings, hashes, lists, sets and sorted sets with the encodings Redis reports and
//! `WRONGTYPE` where Redis gives it, and Lua scripts run on a real Lua 5.1 with Redis 7.0's effects replication
//! (`commands/` has a file per family, and each file's docs say what it deviates in).
//!
//! What it simplifies, on purpose: one database (0), no persistence (a full resync
//! sends a snapshot in a format of our own instead of RDB, and loads instantly), no ACL users besides
//! `default`, no blocking commands besides WAIT.
//!
//! ```
//! use redsim_fake_redis::{Config, ExecLog, Node};
//! use redsim_net::Net;
//! use tokio::io::{AsyncReadExt, AsyncWriteExt};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> std::io::Result<()> {
//! let config = Config { name: "redis-1".into(), port: 0, bind: "127.0.0.1".into(), ..Config::default() };
//! let node = Node::new(Net::Tokio, config, ExecLog::new());
//! let listener = node.bind().await?;
//! tokio::spawn({
//!     let node = node.clone();
//!     async move { node.serve_on(listener).await }
//! });
//!
//! let mut conn = Net::Tokio.connect("127.0.0.1", node.port()).await?;
//! conn.write_all(b"SET greeting hello\r\n").await?;
//! let mut reply = [0u8; 5];
//! conn.read_exact(&mut reply).await?;
//! assert_eq!(&reply, b"+OK\r\n");
//! assert_eq!(node.log().entries()[0].command, ["SET", "greeting", "hello"]);
//! # Ok(()) }
//! ```

#![warn(missing_docs)]

mod backlog;
mod command;
mod commands;
mod config;
mod connection;
mod full_sync;
mod hash;
mod keyspace;
mod log;
mod node;
mod object;
mod output_limit;
mod replica_link;
mod script_cache;
mod server;
mod snapshot;
mod zset;

pub use command::{COMMANDS, CommandSpec, lookup as lookup_command};
pub use config::{Config, ConfigError, ConfigFile, LOG_MAX_BYTES};
pub use log::{ClientKind, ExecLog, LogEntry, Role};
pub use node::LinkState;
pub use object::Value;
pub use output_limit::{OutputClass, OutputLimit, OutputLimits};
pub use redsim_resp::{Protocol, ProtocolError, Reply, Request, RequestParser, RespConn, decode_reply, glob_match};

use std::io;

use bytes::Bytes;
use redsim_net::{Listener, Net};

use crate::node::{Shared, State, lock};

/// A data node. Cloning gives another handle to the same node, so a test or the harness can keep one to
/// inspect the node while it serves.
#[derive(Clone)]
pub struct Node {
    shared: Shared,
}

impl std::fmt::Debug for Node {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Node")
            .field("name", &self.name())
            .field("role", &self.role())
            .finish()
    }
}

impl Node {
    /// A node that is not serving yet. Its commands will be recorded in `log`.
    pub fn new(net: Net, config: Config, log: ExecLog) -> Node {
        Node {
            shared: State::new(net, config, log),
        }
    }

    /// Gives the node a config file that `CONFIG REWRITE` writes (the current settings and replication
    /// master). Without one, `CONFIG REWRITE` succeeds and writes nothing, as if the file were discarded.
    pub fn set_config_file(&self, file: ConfigFile) {
        node::lock(&self.shared).config_file = Some(file);
    }

    /// Binds and serves forever (until the task is dropped, or turmoil crashes the host).
    pub async fn serve(&self) -> io::Result<()> {
        let listener = self.bind().await?;
        self.serve_on(listener).await
    }

    /// Binds the configured address. With port 0 a free port is picked and becomes [`Node::port`].
    ///
    /// On real TCP it first fits `maxclients` in the process's descriptor limit as Redis does
    /// ([`Net::fit_maxclients`]: raising the soft limit, or lowering `maxclients` with a warning on stderr), and
    /// fails, as Redis refuses to start, when the limit cannot hold a single client.
    pub async fn bind(&self) -> io::Result<Listener> {
        server::bind(&self.shared).await
    }

    /// Serves on a listener obtained from [`Node::bind`]: starts replication (if configured as a replica), the
    /// cron, and accepts connections until [`Node::shutdown`]. A failed accept (out of descriptors, say) is
    /// logged on stderr and retried after a short pause; it never ends the node.
    pub async fn serve_on(&self, listener: Listener) -> io::Result<()> {
        server::serve_on(self.shared.clone(), listener).await
    }

    /// Stops the node as a killed process stops: it closes its listener and every connection, and its
    /// `serve` returns. Peers then see connections refused at once (the machine is still up).
    pub fn shutdown(&self) {
        lock(&self.shared).shutdown.cancel();
    }

    /// The node's configured name.
    pub fn name(&self) -> String {
        lock(&self.shared).cfg.name.clone()
    }

    /// The port it serves on.
    pub fn port(&self) -> u16 {
        lock(&self.shared).cfg.port
    }

    /// Its role right now.
    pub fn role(&self) -> Role {
        lock(&self.shared).role()
    }

    /// The state of its link to its master (`None` for a master).
    pub fn link_state(&self) -> LinkState {
        lock(&self.shared).repl.link
    }

    /// Why its link to its master last broke, if it ever did.
    pub fn last_link_error(&self) -> Option<String> {
        lock(&self.shared).repl.last_link_error.clone()
    }

    /// Its replication offset (`master_repl_offset`).
    pub fn repl_offset(&self) -> u64 {
        lock(&self.shared).repl.offset()
    }

    /// Its run id.
    pub fn run_id(&self) -> String {
        lock(&self.shared).run_id.clone()
    }

    /// The live keys and values right now, in key order.
    pub fn live_data(&self) -> Vec<(Bytes, Value)> {
        self.digest().into_iter().map(|(k, v, _)| (k, v)).collect()
    }

    /// Every live key with its value and deadline (Unix ms), in key order: what a replica must agree on with
    /// its master once replication has caught up. Unlike `DEBUG DIGEST` it is plain data, so a test that
    /// finds two nodes apart can show the key that differs.
    pub fn digest(&self) -> Vec<(Bytes, Value, Option<u64>)> {
        let st = lock(&self.shared);
        st.ks.live_values(st.now_ms())
    }

    /// The execution log it writes to.
    pub fn log(&self) -> ExecLog {
        lock(&self.shared).log.clone()
    }
}
