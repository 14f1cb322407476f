//! A minimal request/reply connection to a RESP server, with a timeout on every step: enough for tests, tools
//! and demos to talk to nodes without a full client library.

use std::io;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use redis_protocol::resp2::types::BytesFrame as Frame2;
use redis_protocol::resp3::types::BytesFrame as Frame3;
use redsim_net::{Net, Stream};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::timeout;

use crate::reply::{Protocol, Reply};
use crate::request::encode_multibulk;

/// Largest reply a `RespConn` buffers before giving up.
const REPLY_MAX_BYTES: usize = 64 * 1024 * 1024;

/// A connection that sends commands and reads replies one at a time.
#[derive(Debug)]
pub struct RespConn {
    stream: Stream,
    buf: BytesMut,
    protocol: Protocol,
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
            protocol: Protocol::Resp2,
            timeout: timeout_after,
        })
    }

    /// Changes the timeout of later sends and reads.
    pub fn set_timeout(&mut self, timeout: Duration) {
        self.timeout = timeout;
    }

    /// Which protocol replies are decoded with (set it to RESP3 after a successful `HELLO 3`).
    pub fn set_protocol(&mut self, protocol: Protocol) {
        self.protocol = protocol;
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

    /// Reads the exact bytes of the next complete reply.
    pub async fn read_raw(&mut self) -> io::Result<Bytes> {
        loop {
            if let Some(len) = frame_len(self.protocol, &self.buf)? {
                return Ok(self.buf.split_to(len).freeze());
            }
            self.fill().await?;
        }
    }

    /// Reads more bytes into the buffer, within the timeout: an error at the end of the stream or when an
    /// incomplete reply has grown past [`REPLY_MAX_BYTES`].
    async fn fill(&mut self) -> io::Result<()> {
        if self.buf.len() > REPLY_MAX_BYTES {
            return Err(io::Error::new(io::ErrorKind::InvalidData, "reply too large"));
        }
        let n = timeout(self.timeout, self.stream.read_buf(&mut self.buf))
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
        (self.stream, self.buf, self.protocol)
    }

    /// Reads and decodes the next reply.
    pub async fn read(&mut self) -> io::Result<Reply> {
        loop {
            if let Some(reply) = take_reply(self.protocol, &mut self.buf)? {
                return Ok(reply);
            }
            self.fill().await?;
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
/// bytes are not RESP.
pub fn frame_len(protocol: Protocol, buf: &[u8]) -> io::Result<Option<usize>> {
    let bad = |e: redis_protocol::error::RedisProtocolError| io::Error::new(io::ErrorKind::InvalidData, e.to_string());
    Ok(match protocol {
        Protocol::Resp2 => redis_protocol::resp2::decode::decode(buf).map_err(bad)?.map(|(_, n)| n),
        Protocol::Resp3 => redis_protocol::resp3::decode::complete::decode(buf)
            .map_err(bad)?
            .map(|(_, n)| n),
    })
}

/// Removes the first complete reply from `buf` and decodes it without copying its payload: `None` while it is
/// incomplete (nothing is removed), `InvalidData` when the bytes are not RESP.
pub fn take_reply(protocol: Protocol, buf: &mut BytesMut) -> io::Result<Option<Reply>> {
    let bad = |e: redis_protocol::error::RedisProtocolError| io::Error::new(io::ErrorKind::InvalidData, e.to_string());
    Ok(match protocol {
        Protocol::Resp2 => redis_protocol::resp2::decode::decode_bytes_mut(buf)
            .map_err(bad)?
            .map(|(f, _, _)| from_resp2(f)),
        Protocol::Resp3 => redis_protocol::resp3::decode::complete::decode_bytes_mut(buf)
            .map_err(bad)?
            .map(|(f, _, _)| from_resp3(f)),
    })
}

/// Decodes one complete reply (as produced by a RESP server) into a [`Reply`].
pub fn decode_reply(protocol: Protocol, raw: &[u8]) -> io::Result<Reply> {
    let invalid = |what: String| io::Error::new(io::ErrorKind::InvalidData, what);
    let bytes = Bytes::copy_from_slice(raw);
    match protocol {
        Protocol::Resp2 => match redis_protocol::resp2::decode::decode_bytes(&bytes) {
            Ok(Some((frame, _))) => Ok(from_resp2(frame)),
            Ok(None) => Err(invalid("incomplete reply".into())),
            Err(e) => Err(invalid(e.to_string())),
        },
        Protocol::Resp3 => match redis_protocol::resp3::decode::complete::decode_bytes(&bytes) {
            Ok(Some((frame, _))) => Ok(from_resp3(frame)),
            Ok(None) => Err(invalid("incomplete reply".into())),
            Err(e) => Err(invalid(e.to_string())),
        },
    }
}

fn from_resp2(f: Frame2) -> Reply {
    match f {
        Frame2::SimpleString(s) => Reply::Simple(String::from_utf8_lossy(&s).into_owned()),
        Frame2::Error(e) => Reply::Error(e.to_string()),
        Frame2::Integer(i) => Reply::Int(i),
        Frame2::BulkString(b) => Reply::Bulk(b),
        Frame2::Array(items) => Reply::Array(items.into_iter().map(from_resp2).collect()),
        Frame2::Null => Reply::Nil,
    }
}

fn from_resp3(f: Frame3) -> Reply {
    match f {
        Frame3::BlobString { data, .. } => Reply::Bulk(data),
        Frame3::BlobError { data, .. } => Reply::Error(String::from_utf8_lossy(&data).into_owned()),
        Frame3::SimpleString { data, .. } => Reply::Simple(String::from_utf8_lossy(&data).into_owned()),
        Frame3::SimpleError { data, .. } => Reply::Error(data.to_string()),
        Frame3::Boolean { data, .. } => Reply::Int(data as i64),
        Frame3::Null => Reply::Nil,
        Frame3::Number { data, .. } => Reply::Int(data),
        Frame3::Double { data, .. } => Reply::Double(data),
        Frame3::BigNumber { data, .. } => Reply::Bulk(data),
        Frame3::VerbatimString { data, .. } => Reply::Verbatim("txt", data),
        Frame3::Array { data, .. } => Reply::Array(data.into_iter().map(from_resp3).collect()),
        Frame3::Set { data, .. } => Reply::Set(data.into_iter().map(from_resp3).collect()),
        Frame3::Push { data, .. } => Reply::Push(data.into_iter().map(from_resp3).collect()),
        Frame3::Map { data, .. } => Reply::Map(data.into_iter().map(|(k, v)| (from_resp3(k), from_resp3(v))).collect()),
        Frame3::ChunkedString(b) => Reply::Bulk(b),
        Frame3::Hello { .. } => Reply::Simple("HELLO".into()),
    }
}
