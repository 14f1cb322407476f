use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use crate::Stream;

/// The pause after a first failed accept, in milliseconds (see [`Listener::accept_retrying`]).
pub const ACCEPT_RETRY_FIRST_MS: u64 = 5;
/// The longest pause between failed accepts, in milliseconds: short enough that a freed descriptor is used
/// soon, long enough that a persistent failure costs nothing.
pub const ACCEPT_RETRY_MAX_MS: u64 = 100;

/// A listening socket on either network. Obtained from [`crate::Net::bind`].
pub enum Listener {
    /// Real TCP.
    Tokio(tokio::net::TcpListener),
    /// turmoil's simulated TCP.
    #[cfg(feature = "turmoil")]
    Turmoil(turmoil::net::TcpListener),
}

impl Listener {
    /// Waits for the next connection.
    pub async fn accept(&self) -> io::Result<(Stream, SocketAddr)> {
        match self {
            Listener::Tokio(l) => {
                let (s, a) = l.accept().await?;
                let _ = s.set_nodelay(true);
                Ok((Stream::Tokio(s), a))
            }
            #[cfg(feature = "turmoil")]
            Listener::Turmoil(l) => {
                let (s, a) = l.accept().await?;
                Ok((Stream::Turmoil(s), a))
            }
        }
    }

    /// Waits for the next connection, riding out failed accepts: a server must not stop because one failed.
    ///
    /// Each failure is passed to `on_error` with how many failed in a row (log it; the count lets a caller log
    /// a long run of failures sparsely). Then it pauses before trying again, [`ACCEPT_RETRY_FIRST_MS`] doubling
    /// up to [`ACCEPT_RETRY_MAX_MS`]: a server out of descriptors (`EMFILE`) stays out of them until a
    /// connection closes, and the pending connection keeps the listener readable, so retrying at once would spin
    /// a core. The pause is on tokio's clock, which turmoil drives in a simulation, so it stays deterministic.
    /// Dropping the future (to shut down) is safe at any point.
    pub async fn accept_retrying(&self, mut on_error: impl FnMut(&io::Error, u64)) -> (Stream, SocketAddr) {
        let mut failures = 0u64;
        let mut pause_ms = ACCEPT_RETRY_FIRST_MS;
        loop {
            match self.accept().await {
                Ok(accepted) => return accepted,
                Err(e) => {
                    failures += 1;
                    on_error(&e, failures);
                    tokio::time::sleep(Duration::from_millis(pause_ms)).await;
                    pause_ms = (pause_ms * 2).min(ACCEPT_RETRY_MAX_MS);
                }
            }
        }
    }

    /// The address this listener is bound to.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        match self {
            Listener::Tokio(l) => l.local_addr(),
            #[cfg(feature = "turmoil")]
            Listener::Turmoil(l) => l.local_addr(),
        }
    }
}

impl std::fmt::Debug for Listener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Listener").field(&self.local_addr().ok()).finish()
    }
}
