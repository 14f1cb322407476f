use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// A connected byte stream on either network. It implements tokio's `AsyncRead` and `AsyncWrite`, so codecs,
/// `BufReader` and `tokio::io::split` work on it unchanged.
#[derive(Debug)]
pub enum Stream {
    /// Real TCP.
    Tokio(tokio::net::TcpStream),
    /// turmoil's simulated TCP.
    #[cfg(feature = "turmoil")]
    Turmoil(turmoil::net::TcpStream),
}

impl Stream {
    /// The remote address.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        match self {
            Stream::Tokio(s) => s.peer_addr(),
            #[cfg(feature = "turmoil")]
            Stream::Turmoil(s) => s.peer_addr(),
        }
    }

    /// The local address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        match self {
            Stream::Tokio(s) => s.local_addr(),
            #[cfg(feature = "turmoil")]
            Stream::Turmoil(s) => s.local_addr(),
        }
    }
}

impl AsyncRead for Stream {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Tokio(s) => Pin::new(s).poll_read(cx, buf),
            #[cfg(feature = "turmoil")]
            Stream::Turmoil(s) => Pin::new(s).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Tokio(s) => Pin::new(s).poll_write(cx, buf),
            #[cfg(feature = "turmoil")]
            Stream::Turmoil(s) => Pin::new(s).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Tokio(s) => Pin::new(s).poll_flush(cx),
            #[cfg(feature = "turmoil")]
            Stream::Turmoil(s) => Pin::new(s).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Tokio(s) => Pin::new(s).poll_shutdown(cx),
            #[cfg(feature = "turmoil")]
            Stream::Turmoil(s) => Pin::new(s).poll_shutdown(cx),
        }
    }
}
