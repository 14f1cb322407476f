//! The transport seam of redsim.
//!
//! Servers (the fake Redis and Sentinel nodes) and clients (the routing client, replication links) are written
//! once against [`Net`], and run unchanged either on tokio's real TCP ([`Net::Tokio`]) or on turmoil's simulated
//! network (`Net::Turmoil`, behind the `turmoil` feature). Only the transport and the clock differ; every
//! decision above them is the same code.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use redsim_net::Net;
//! use tokio::io::AsyncWriteExt;
//!
//! let net = Net::Tokio;
//! let listener = net.bind("127.0.0.1", 0).await?;
//! let port = listener.local_addr()?.port();
//! let mut stream = net.connect("127.0.0.1", port).await?;
//! stream.write_all(b"PING\r\n").await?;
//! # Ok(()) }
//! ```

#![warn(missing_docs)]

mod client_limit;
mod listener;
mod stream;

pub use client_limit::{ClientLimit, RESERVED_FDS};
pub use listener::{ACCEPT_RETRY_FIRST_MS, ACCEPT_RETRY_MAX_MS, Listener};
pub use stream::Stream;

use std::io;
use std::time::Duration;

/// Which network (and clock) a piece of code runs on.
///
/// It is a plain `Copy` value: pass it to every server and client you build.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Net {
    /// tokio's real TCP and real clock: production, standalone servers, conformance tests.
    Tokio,
    /// turmoil's simulated network and simulated clock: must be used inside a turmoil host or client.
    #[cfg(feature = "turmoil")]
    Turmoil,
}

impl Net {
    /// Listens on `host:port` (port 0 picks a free port on real TCP).
    pub async fn bind(&self, host: &str, port: u16) -> io::Result<Listener> {
        match self {
            Net::Tokio => Ok(Listener::Tokio(tokio::net::TcpListener::bind((host, port)).await?)),
            #[cfg(feature = "turmoil")]
            Net::Turmoil => Ok(Listener::Turmoil(turmoil::net::TcpListener::bind((host, port)).await?)),
        }
    }

    /// Dials `host:port`. There is no timeout here: callers wrap it in one (turmoil lets a connect to a crashed
    /// host hang until the caller gives up, like a silent machine).
    pub async fn connect(&self, host: &str, port: u16) -> io::Result<Stream> {
        match self {
            Net::Tokio => {
                let s = tokio::net::TcpStream::connect((host, port)).await?;
                // Small request/reply traffic: Nagle would only add latency.
                let _ = s.set_nodelay(true);
                Ok(Stream::Tokio(s))
            }
            #[cfg(feature = "turmoil")]
            Net::Turmoil => Ok(Stream::Turmoil(turmoil::net::TcpStream::connect((host, port)).await?)),
        }
    }

    /// Resolves a host name to an address (an IP literal resolves to itself). Sentinel resolves the addresses
    /// it is given, so that it can compare them with the IPs replicas report. Real mode uses the system
    /// resolver (blocking: call it at configuration time, not on a hot path).
    pub fn resolve(&self, host: &str) -> Option<std::net::IpAddr> {
        if let Ok(ip) = host.parse() {
            return Some(ip);
        }
        match self {
            Net::Tokio => {
                use std::net::ToSocketAddrs;
                let mut addrs = (host, 0).to_socket_addrs().ok()?.collect::<Vec<_>>();
                addrs.sort_by_key(|a| !a.is_ipv4());
                addrs.first().map(|a| a.ip())
            }
            #[cfg(feature = "turmoil")]
            Net::Turmoil => turmoil::in_simulation().then(|| turmoil::lookup(host)),
        }
    }

    /// Milliseconds since the Unix epoch on this network's clock.
    ///
    /// In the simulation it is turmoil's logical clock (deterministic when the simulation's epoch is fixed with
    /// `turmoil::Builder::epoch`); on real TCP it is the system clock. Use it only for timestamps that are shown
    /// or compared with other nodes (MONITOR lines, expiry deadlines replicated as absolute times, logs); measure
    /// intervals with `tokio::time`, which turmoil also simulates.
    pub fn unix_ms(&self) -> u64 {
        self.since_epoch().as_millis() as u64
    }

    /// Microseconds since the Unix epoch on this network's clock (see [`Net::unix_ms`]).
    pub fn unix_us(&self) -> u64 {
        self.since_epoch().as_micros() as u64
    }

    fn since_epoch(&self) -> Duration {
        match self {
            // Real mode only: outside the simulation the wall clock is the right clock.
            Net::Tokio => std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default(),
            #[cfg(feature = "turmoil")]
            Net::Turmoil => turmoil::since_epoch().unwrap_or_default(),
        }
    }
}
