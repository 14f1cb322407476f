//! The server side of a RESP connection, shared by the fake data nodes and the fake Sentinels: read requests,
//! hand each to a [`Handler`], write its replies, and forward pushes (Pub/Sub messages, MONITOR lines, a
//! replication stream) queued for the connection by others.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::reply::{Protocol, Reply};
use crate::request::RequestParser;

/// `client-query-buffer-limit`: a client whose unparsed input grows past this is disconnected.
pub const QUERY_BUFFER_LIMIT_BYTES: usize = 1 << 30;

/// A read buffer that grew past this for one large request is given back once it is empty, as Redis shrinks an
/// idle client's query buffer: a command of a million arguments must not cost its connection megabytes for
/// good.
const QUERY_BUFFER_SHRINK_BYTES: usize = 64 * 1024;
/// Redis reads a connection's input this much at a time (`PROTO_IOBUF_LEN`), so a batch of pipelined requests
/// is at most about this much, which the unauthenticated output limit below depends on.
const READ_CHUNK_BYTES: usize = 16 * 1024;

/// Most reply bytes an unauthenticated connection may have pending. Redis 7.0.15 (with the CVE-2025-21605 fix)
/// closes such a connection, sending nothing more, as soon as its replies overflow its 16 KB reply buffer: a
/// client that has not authenticated and does not read cannot make the server hold its output. 256 wrong AUTHs
/// in one write get their 256 errors (16,384 bytes); 257 get a closed connection.
pub const UNAUTHENTICATED_OUTPUT_LIMIT_BYTES: usize = 16 * 1024;

/// A reply that arrives later (WAIT): the connection sends nothing else until it resolves.
pub type Pending = Pin<Box<dyn Future<Output = Reply> + Send>>;

/// What a command asks its connection to do.
pub enum Outcome {
    /// Send this reply.
    Reply(Reply),
    /// Send these replies (SUBSCRIBE to several channels).
    Many(Vec<Reply>),
    /// Send nothing (REPLCONF ACK).
    Silent,
    /// Send these bytes as they are (PSYNC's `+FULLRESYNC` and payload).
    Raw(Bytes),
    /// Send the reply, then close (QUIT, killing oneself).
    Close(Reply),
    /// Wait for the reply, then send it.
    Later(Pending),
}

impl std::fmt::Debug for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Outcome::Reply(r) => f.debug_tuple("Reply").field(r).finish(),
            Outcome::Many(r) => f.debug_tuple("Many").field(r).finish(),
            Outcome::Silent => f.write_str("Silent"),
            Outcome::Raw(b) => f.debug_tuple("Raw").field(&b.len()).finish(),
            Outcome::Close(r) => f.debug_tuple("Close").field(r).finish(),
            Outcome::Later(_) => f.write_str("Later"),
        }
    }
}

/// Bytes pushed to a connection outside request/reply, with a byte count shared with the connection so a
/// sender can enforce an output limit (Redis's `client-output-buffer-limit`).
#[derive(Debug, Clone)]
pub struct PushSender {
    tx: mpsc::UnboundedSender<Bytes>,
    queued: Arc<AtomicUsize>,
}

impl PushSender {
    fn new() -> (PushSender, mpsc::UnboundedReceiver<Bytes>, Arc<AtomicUsize>) {
        let (tx, rx) = mpsc::unbounded_channel();
        let queued = Arc::new(AtomicUsize::new(0));
        (
            PushSender {
                tx,
                queued: queued.clone(),
            },
            rx,
            queued,
        )
    }

    /// Bytes queued and not yet taken by the connection for writing: the part of the client's pending output
    /// that pushes make up, which `client-output-buffer-limit` bounds.
    pub fn queued_bytes(&self) -> usize {
        self.queued.load(Ordering::Relaxed)
    }

    /// Queues bytes; `false` when the connection already holds more than `limit` unsent bytes (the caller
    /// should disconnect it) or is gone.
    pub fn send(&self, bytes: Bytes, limit: usize) -> bool {
        let now = self.queued.fetch_add(bytes.len(), Ordering::Relaxed) + bytes.len();
        now <= limit && self.tx.send(bytes).is_ok()
    }
}

/// A new connection as the handler sees it.
#[derive(Debug, Clone)]
pub struct NewConnection {
    /// The client's address.
    pub peer: SocketAddr,
    /// Our address on this connection.
    pub local: SocketAddr,
    /// Where to queue pushes for this connection.
    pub push: PushSender,
    /// Cancelling it closes the connection (CLIENT KILL).
    pub cancel: CancellationToken,
}

/// A server's behaviour: the connection loop calls it, holding no lock across an `.await`.
pub trait Handler: Send + Sync + 'static {
    /// Registers a connection and returns its id, or an error reply to send before closing it (maxclients).
    fn open(&self, conn: NewConnection) -> Result<u64, Reply>;
    /// Whether the connection has authenticated (Redis applies tighter protocol limits before that).
    fn authenticated(&self, id: u64) -> bool;
    /// Runs one command; returns what to do and the protocol to encode replies in.
    fn execute(&self, id: u64, args: Vec<Bytes>) -> (Outcome, Protocol);
    /// Forgets a connection after it closed.
    fn close(&self, id: u64);
    /// Counts network traffic for INFO stats.
    fn traffic(&self, _input_bytes: usize, _output_bytes: usize) {}
}

/// Formats an address the way Redis prints it in CLIENT LIST and MONITOR (`ip:port`).
pub fn fmt_addr(a: &SocketAddr) -> String {
    format!("{}:{}", a.ip(), a.port())
}

enum Next {
    Continue,
    Close,
}

/// Serves one accepted connection until the peer leaves, the handler kills it, or an error occurs.
pub async fn serve_connection<H: Handler>(
    handler: Arc<H>,
    mut stream: redsim_net::Stream,
    peer: SocketAddr,
    local: SocketAddr,
) {
    let (push, mut rx, queued) = PushSender::new();
    let cancel = CancellationToken::new();
    let id = match handler.open(NewConnection {
        peer,
        local,
        push,
        cancel: cancel.clone(),
    }) {
        Ok(id) => id,
        Err(reply) => {
            let _ = tokio::time::timeout(Duration::from_secs(1), async {
                let _ = stream.write_all(&reply.to_bytes(Protocol::Resp2)).await;
                let _ = stream.shutdown().await;
            })
            .await;
            return;
        }
    };
    let (mut rd, mut wr) = tokio::io::split(stream);
    let mut buf = BytesMut::with_capacity(READ_CHUNK_BYTES);
    let mut parser = RequestParser::new();
    loop {
        buf.reserve(READ_CHUNK_BYTES);
        tokio::select! {
            biased;
            _ = cancel.cancelled() => break,
            Some(bytes) = rx.recv() => {
                queued.fetch_sub(bytes.len(), Ordering::Relaxed);
                if write_all(&mut wr, &bytes, &cancel).await.is_err() {
                    break;
                }
            }
            r = rd.read_buf(&mut buf) => {
                match r {
                    Ok(0) | Err(_) => break,
                    Ok(n) => handler.traffic(n, 0),
                }
                if buf.len() > QUERY_BUFFER_LIMIT_BYTES {
                    break;
                }
                let mut conn = Conn { rd: &mut rd, wr: &mut wr, buf: &mut buf, cancel: &cancel };
                match process(&*handler, id, &mut parser, &mut conn).await {
                    Ok(Next::Continue) => {}
                    Ok(Next::Close) | Err(()) => break,
                }
                if buf.is_empty() && buf.capacity() > QUERY_BUFFER_SHRINK_BYTES {
                    buf = BytesMut::with_capacity(READ_CHUNK_BYTES);
                }
            }
        }
    }
    let _ = wr.shutdown().await;
    handler.close(id);
}

async fn write_all<W: AsyncWrite + Unpin>(wr: &mut W, bytes: &[u8], cancel: &CancellationToken) -> Result<(), ()> {
    tokio::select! {
        biased;
        _ = cancel.cancelled() => Err(()),
        r = wr.write_all(bytes) => r.map_err(|_| ()),
    }
}

/// One connection's halves and read buffer, as [`process`] uses them.
struct Conn<'a, R, W> {
    rd: &'a mut R,
    wr: &'a mut W,
    buf: &'a mut BytesMut,
    cancel: &'a CancellationToken,
}

/// Runs every complete request in the read buffer, writing the replies in order.
async fn process<H: Handler, R: AsyncRead + Unpin, W: AsyncWrite + Unpin>(
    handler: &H,
    id: u64,
    parser: &mut RequestParser,
    conn: &mut Conn<'_, R, W>,
) -> Result<Next, ()> {
    let mut out = BytesMut::new();
    let mut next = Next::Continue;
    // Asked only once the batch's output is large, and not again once it said yes.
    let mut authenticated = false;
    loop {
        let req = match parser.parse(conn.buf, handler.authenticated(id)) {
            Ok(Some(req)) => req,
            Ok(None) => break,
            Err(e) => {
                Reply::err(e.0).encode(Protocol::Resp2, &mut out);
                next = Next::Close;
                break;
            }
        };
        if req.args.is_empty() {
            continue;
        }
        let (outcome, proto) = handler.execute(id, req.args);
        match outcome {
            Outcome::Reply(r) => r.encode(proto, &mut out),
            Outcome::Many(rs) => rs.iter().for_each(|r| r.encode(proto, &mut out)),
            Outcome::Silent => {}
            Outcome::Raw(b) => {
                // A full resync's payload is as large as the dataset and shared by every replica syncing from
                // it: write it from where it lies, never into this batch's buffer.
                if !out.is_empty() {
                    handler.traffic(0, out.len());
                    write_all(conn.wr, &out, conn.cancel).await?;
                    out.clear();
                }
                handler.traffic(0, b.len());
                write_all(conn.wr, &b, conn.cancel).await?;
            }
            Outcome::Close(r) => {
                r.encode(proto, &mut out);
                next = Next::Close;
                break;
            }
            Outcome::Later(pending) => {
                write_all(conn.wr, &out, conn.cancel).await?;
                out.clear();
                let reply = blocked(handler, pending, conn).await?;
                reply.encode(proto, &mut out);
            }
        }
        if out.len() > UNAUTHENTICATED_OUTPUT_LIMIT_BYTES && !authenticated {
            authenticated = handler.authenticated(id);
            if !authenticated {
                return Ok(Next::Close);
            }
        }
    }
    if !out.is_empty() {
        handler.traffic(0, out.len());
        write_all(conn.wr, &out, conn.cancel).await?;
    }
    Ok(next)
}

/// Waits for a blocked command's reply while still reading the connection, as Redis does for a blocked client:
/// a client that goes away is noticed at once (and freed) rather than when the reply comes, which for
/// `WAIT 1 0` may be never. What it sends meanwhile is kept, in order, for after the reply.
async fn blocked<H: Handler, R: AsyncRead + Unpin, W: AsyncWrite + Unpin>(
    handler: &H,
    mut pending: Pending,
    conn: &mut Conn<'_, R, W>,
) -> Result<Reply, ()> {
    loop {
        tokio::select! {
            biased;
            _ = conn.cancel.cancelled() => return Err(()),
            r = &mut pending => return Ok(r),
            r = conn.rd.read_buf(conn.buf) => match r {
                Ok(0) | Err(_) => return Err(()),
                Ok(n) => {
                    handler.traffic(n, 0);
                    if conn.buf.len() > QUERY_BUFFER_LIMIT_BYTES {
                        return Err(());
                    }
                }
            },
        }
    }
}
