//! A minimal request/reply connection to a RESP server, with a timeout on every step: enough for tests, tools
//! and demos to talk to nodes without a full client library.

use std::io;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use redsim_net::{Net, Stream};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::{Instant, timeout, timeout_at};

use crate::reply::{Protocol, Reply};
use crate::reply_reader::{ReplyLimits, ReplyReader, decode_one};
use crate::request::encode_multibulk;

/// A connection that sends commands and reads replies one at a time.
#[derive(Debug)]
pub struct RespConn {
    stream: Stream,
    buf: BytesMut,
    reader: ReplyReader,
    timeout: Duration,
}

fn timed_out(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::TimedOut, format!("{what} timed out"))
}

impl RespConn {
    /// Connects within `timeout`; every later send and read also gets `timeout`.
    pub async fn connect(net: Net, host: &str, port: u16, timeout_after: Duration) -> io::Result<RespConn> {
        let stream = timeout(timeout_after, net.connect(host, port))
            .await
            .map_err(|_| timed_out("connect"))??;
        Ok(RespConn {
            stream,
            buf: BytesMut::new(),
            reader: ReplyReader::new(Protocol::Resp2, ReplyLimits::default()),
            timeout: timeout_after,
        })
    }

    /// Changes the timeout of later sends and reads.
    pub fn set_timeout(&mut self, timeout: Duration) {
        self.timeout = timeout;
    }

    /// Which protocol replies are decoded with (set it to RESP3 after a successful `HELLO 3`).
    pub fn set_protocol(&mut self, protocol: Protocol) {
        self.reader.set_protocol(protocol);
    }

    /// How deep and how large a reply may be (default [`ReplyLimits::default`]); a reply beyond them is an
    /// `InvalidData` error, after which the connection should be dropped.
    pub fn set_limits(&mut self, limits: ReplyLimits) {
        self.reader.set_limits(limits);
    }

    /// Sends a command as a multibulk request.
    pub async fn send(&mut self, args: &[&[u8]]) -> io::Result<()> {
        let mut out = BytesMut::new();
        encode_multibulk(&mut out, args);
        self.send_raw(&out).await
    }

    /// Sends bytes as they are.
    pub async fn send_raw(&mut self, bytes: &[u8]) -> io::Result<()> {
        timeout(self.timeout, self.stream.write_all(bytes))
            .await
            .map_err(|_| timed_out("write"))?
    }

    /// Reads the exact bytes of the next complete reply, all of it within one timeout.
    pub async fn read_raw(&mut self) -> io::Result<Bytes> {
        let deadline = Instant::now() + self.timeout;
        loop {
            if let Some(raw) = self.reader.take_raw(&mut self.buf)? {
                return Ok(raw);
            }
            self.fill(deadline).await?;
        }
    }

    /// Reads more bytes into the buffer before `deadline`: an error at the end of the stream.
    async fn fill(&mut self, deadline: Instant) -> io::Result<()> {
        let n = timeout_at(deadline, self.stream.read_buf(&mut self.buf))
            .await
            .map_err(|_| timed_out("read"))??;
        if n == 0 {
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "connection closed"));
        }
        Ok(())
    }

    /// Gives up the request/reply discipline: the stream, the bytes already read past the last reply, and the
    /// protocol, for a caller that pipelines on its own (the client's multiplexed connection).
    pub fn into_parts(self) -> (Stream, BytesMut, Protocol) {
        (self.stream, self.buf, self.reader.protocol())
    }

    /// Reads and decodes the next reply. The timeout covers the whole reply, however many reads it takes; after
    /// a timeout the bytes read so far are kept, so a later `read` can still finish the reply.
    pub async fn read(&mut self) -> io::Result<Reply> {
        let deadline = Instant::now() + self.timeout;
        loop {
            if let Some(reply) = self.reader.take(&mut self.buf)? {
                return Ok(reply);
            }
            self.fill(deadline).await?;
        }
    }

    /// Sends a command and reads its reply.
    pub async fn call(&mut self, args: &[&str]) -> io::Result<Reply> {
        let bytes: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
        self.send(&bytes).await?;
        self.read().await
    }

    /// Sends raw bytes and returns the exact bytes of the reply.
    pub async fn call_raw(&mut self, request: &[u8]) -> io::Result<Bytes> {
        self.send_raw(request).await?;
        self.read_raw().await
    }
}

/// The length of the first complete reply in `buf`, `None` while it is incomplete, or `InvalidData` when the
/// bytes are not RESP or break the default [`ReplyLimits`]. Each call scans from the start of `buf`; a reader of
/// a stream keeps a [`ReplyReader`] instead, which resumes.
pub fn frame_len(protocol: Protocol, buf: &[u8]) -> io::Result<Option<usize>> {
    Ok(ReplyReader::new(protocol, ReplyLimits::default()).complete_len(buf)?)
}

/// Removes the first complete reply from `buf` and decodes it without copying its payload: `None` while it is
/// incomplete (nothing is removed), `InvalidData` when the bytes are not RESP or break the default
/// [`ReplyLimits`].
pub fn take_reply(protocol: Protocol, buf: &mut BytesMut) -> io::Result<Option<Reply>> {
    Ok(ReplyReader::new(protocol, ReplyLimits::default()).take(buf)?)
}

/// Decodes one complete reply (as produced by a RESP server) into a [`Reply`], held to the default
/// [`ReplyLimits`].
pub fn decode_reply(protocol: Protocol, raw: &[u8]) -> io::Result<Reply> {
    Ok(decode_one(protocol, Bytes::copy_from_slice(raw))?)
}
