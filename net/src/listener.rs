use std::io;
use std::net::SocketAddr;

use crate::Stream;

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
