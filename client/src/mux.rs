//! One multiplexed connection per node: every caller's request goes down the same verified connection, and a
//! single task writes them in batches and hands each reply to its caller in order.
//!
//! Redis answers a connection's requests in the order it received them, so a queue of waiting callers is enough
//! to match replies to requests, as long as the queue and the byte stream never disagree. Two rules keep them
//! in step:
//! - a request's bytes (a pipeline, or a whole MULTI ... EXEC) are written in one piece, so no other caller's
//!   command lands inside it;
//! - a request that times out discards the whole connection: its reply, if it ever comes, would be the next in
//!   the stream, and every request behind it is failed at once instead of waiting for the same fate.
//!
//! The task keeps the command timeout itself, with one timer per connection: requests are answered in order and
//! all wait the same time, so only the oldest one's deadline matters. A caller pays for no timer of its own.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use bytes::{Bytes, BytesMut};
use redsim_net::Stream;
use redsim_resp::{Reply, ReplyLimits, ReplyReader};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::{mpsc, oneshot};
use tokio::time::{Duration, Instant, Sleep};

use crate::conn::Conn;
use crate::error::Error;

/// Requests a connection buffers before callers wait for room (under their call deadline).
const QUEUE_CAPACITY: usize = 1024;
/// Requests written and not yet answered; beyond it, the task stops taking new ones until replies come back.
const MAX_IN_FLIGHT: usize = 4096;
/// Most bytes gathered from waiting requests into one write.
const BATCH_MAX_BYTES: usize = 64 * 1024;
/// Replies handed out before the woken callers get to send their next requests.
const DELIVER_CHUNK: usize = 32;
/// Room made in the read buffer before each read, so one read can take many replies.
const READ_CHUNK_BYTES: usize = 16 * 1024;

/// Commands encoded once and sent as they are on every attempt.
#[derive(Debug, Clone)]
pub(crate) struct Request {
    pub bytes: Bytes,
    /// Replies expected (one per command).
    pub count: usize,
}

impl Request {
    /// One command; its arguments are bytes (text or binary alike).
    pub(crate) fn one<A: AsRef<[u8]>>(args: &[A]) -> Request {
        let mut out = BytesMut::new();
        redsim_resp::encode_multibulk(&mut out, args);
        Request {
            bytes: out.freeze(),
            count: 1,
        }
    }

    /// Several commands, sent together.
    pub(crate) fn many<'a>(cmds: impl IntoIterator<Item = &'a Vec<Bytes>>) -> Request {
        let mut out = BytesMut::new();
        let mut count = 0;
        for c in cmds {
            redsim_resp::encode_multibulk(&mut out, c);
            count += 1;
        }
        Request {
            bytes: out.freeze(),
            count,
        }
    }
}

/// Why a request got no replies.
#[derive(Debug)]
pub(crate) struct Failure {
    pub error: Error,
    /// It was failed because an earlier request on the connection timed out: it did not time out itself.
    pub behind_timeout: bool,
}

type Answer = oneshot::Sender<std::result::Result<Vec<Reply>, Failure>>;

/// One caller's request: its encoded commands, how many replies they produce, and where the replies go.
struct Job {
    bytes: Bytes,
    replies: usize,
    answer: Answer,
}

/// A request written to the socket, waiting for its replies until `deadline`.
struct Waiting {
    replies: usize,
    got: Vec<Reply>,
    answer: Answer,
    deadline: Instant,
}

#[derive(Debug, Default)]
struct Shared {
    /// Set once the task has ended: the connection is not to be used again.
    closed: AtomicBool,
}

/// How the connection treats requests.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    /// How long a written request waits for its replies.
    pub command_timeout: Duration,
    /// Largest reply accepted ([`crate::ClientConfig::max_reply_bytes`]).
    pub max_reply_bytes: usize,
    /// [`crate::Mutant::KeepTimedOutConnection`]: a request that times out gives up its slot and the
    /// connection is kept, so later replies shift onto the wrong callers.
    #[cfg(feature = "mutants")]
    pub keep_timed_out: bool,
}

/// A handle on a node's multiplexed connection; clones share it.
#[derive(Debug, Clone)]
pub(crate) struct Mux {
    /// `host:port`, shared: handles are cloned on every call.
    pub addr: Arc<str>,
    jobs: mpsc::Sender<Job>,
    shared: Arc<Shared>,
}

impl Mux {
    /// Takes over a verified connection and starts the task that drives it.
    pub(crate) fn start(conn: Conn, limits: Limits) -> Mux {
        let (addr, inner) = conn.into_parts();
        let (stream, buf, protocol) = inner.into_parts();
        let (jobs, rx) = mpsc::channel(QUEUE_CAPACITY);
        let shared = Arc::new(Shared::default());
        let link = Link {
            addr: addr.clone(),
            stream,
            buf,
            reader: ReplyReader::new(protocol, ReplyLimits::with_max_bytes(limits.max_reply_bytes)),
            limits,
        };
        tokio::spawn(drive(link, rx, shared.clone()));
        Mux {
            addr: addr.into(),
            jobs,
            shared,
        }
    }

    /// Whether both handles drive the same connection.
    pub(crate) fn same(&self, other: &Mux) -> bool {
        Arc::ptr_eq(&self.shared, &other.shared)
    }

    /// Whether the connection has ended (broken, closed by the server, or timed out).
    pub(crate) fn is_closed(&self) -> bool {
        self.shared.closed.load(Ordering::Acquire)
    }

    /// Sends encoded commands producing `replies` replies and waits for them, at most the command timeout
    /// once written (waiting for room in a full queue is bounded by the caller's deadline).
    pub(crate) async fn call(&self, bytes: Bytes, replies: usize) -> std::result::Result<Vec<Reply>, Failure> {
        let (answer, rx) = oneshot::channel();
        let job = Job { bytes, replies, answer };
        let lost = || Failure {
            error: closed(&self.addr),
            behind_timeout: false,
        };
        if self.jobs.send(job).await.is_err() {
            return Err(lost());
        }
        rx.await.unwrap_or_else(|_| Err(lost()))
    }
}

/// The error of a request the connection ended under, when the request surely was not answered: the client
/// treats it like a broken pooled connection (a CLIENT KILL does this), not as the node's failure.
fn closed(addr: &str) -> Error {
    Error::Io(format!("{addr}: connection closed"))
}

/// Why the task stopped, for the requests still waiting.
enum End {
    /// The server closed the connection or the socket failed.
    Broken(String),
    /// The server sent bytes that are not RESP, or a reply nobody asked for.
    Protocol(String),
    /// The oldest request got no reply within the command timeout.
    TimedOut,
    /// Every handle is gone (the client let go of the node) and nothing is waiting.
    Released,
}

/// The connection the task drives.
struct Link {
    addr: String,
    stream: Stream,
    /// Bytes read and not yet decoded.
    buf: BytesMut,
    /// Takes replies off `buf`, refusing one too deep or too large before buffering all of it.
    reader: ReplyReader,
    limits: Limits,
}

async fn drive(link: Link, jobs: mpsc::Receiver<Job>, shared: Arc<Shared>) {
    let mut driver = Driver {
        link,
        jobs,
        waiting: VecDeque::new(),
        out: BytesMut::new(),
        handles_left: true,
    };
    // Armed lazily: set to some earlier deadline, it fires, and is moved to the oldest request's.
    let timer = tokio::time::sleep(Duration::ZERO);
    tokio::pin!(timer);
    let end = match driver.run(timer).await {
        Ok(never) => match never {},
        Err(end) => end,
    };
    shared.closed.store(true, Ordering::Release);
    driver.fail_all(end);
}

/// The task's state: the connection, the queue of callers, the waiting requests.
struct Driver {
    link: Link,
    jobs: mpsc::Receiver<Job>,
    waiting: VecDeque<Waiting>,
    /// The next write, gathered from queued requests.
    out: BytesMut,
    /// Whether any [`Mux`] handle is left to send requests.
    handles_left: bool,
}

impl Driver {
    async fn run(&mut self, mut timer: Pin<&mut Sleep>) -> std::result::Result<Infallible, End> {
        loop {
            // Replies already buffered (sent along with the verification, or in one read with others) go out a
            // chunk at a time. Between chunks the woken callers run and their next requests are written at once,
            // so the server works on them while this side hands out the rest: both ends busy at the same time
            // instead of taking turns over one big batch.
            while self.deliver(DELIVER_CHUNK)? {
                tokio::task::yield_now().await;
                self.take_queued();
                self.flush(timer.as_mut()).await?;
            }
            if !self.handles_left && self.waiting.is_empty() {
                return Err(End::Released);
            }
            let buf = &mut self.link.buf;
            if buf.capacity() - buf.len() < READ_CHUNK_BYTES / 4 {
                buf.reserve(READ_CHUNK_BYTES);
            }
            tokio::select! {
                biased;
                read = self.link.stream.read_buf(&mut self.link.buf) => match read {
                    Ok(0) => return Err(End::Broken("connection closed".into())),
                    Ok(_) => {}
                    Err(e) => return Err(End::Broken(e.to_string())),
                },
                _ = &mut timer, if !self.waiting.is_empty() => self.on_timer(timer.as_mut())?,
                job = self.jobs.recv(), if self.handles_left && self.waiting.len() < MAX_IN_FLIGHT => match job {
                    Some(job) => {
                        self.take(job);
                        self.take_queued();
                        self.flush(timer.as_mut()).await?;
                    }
                    // Every handle is gone: finish what was sent, then close.
                    None => self.handles_left = false,
                },
            }
        }
    }

    /// The timer fired: the oldest request is overdue (the connection ends), or the timer is moved to it.
    fn on_timer(&mut self, timer: Pin<&mut Sleep>) -> std::result::Result<(), End> {
        let now = Instant::now();
        let oldest = self.waiting.front().map_or(now, |w| w.deadline);
        if oldest > now {
            timer.reset(oldest);
            return Ok(());
        }
        #[cfg(feature = "mutants")]
        if self.link.limits.keep_timed_out {
            if let Some(w) = self.waiting.pop_front() {
                let _ = w.answer.send(Err(Failure {
                    error: Error::Io(format!("{}: read timed out", self.link.addr)),
                    behind_timeout: false,
                }));
            }
            return Ok(());
        }
        Err(End::TimedOut)
    }

    /// Appends a request to the next write and queues its slot, unless its caller has already given up.
    fn take(&mut self, job: Job) {
        if job.answer.is_closed() {
            return;
        }
        self.out.extend_from_slice(&job.bytes);
        self.waiting.push_back(Waiting {
            replies: job.replies,
            got: Vec::with_capacity(job.replies),
            answer: job.answer,
            deadline: Instant::now() + self.link.limits.command_timeout,
        });
    }

    /// Takes every request already queued, within the batch and in-flight limits.
    fn take_queued(&mut self) {
        while self.handles_left && self.out.len() < BATCH_MAX_BYTES && self.waiting.len() < MAX_IN_FLIGHT {
            match self.jobs.try_recv() {
                Ok(job) => self.take(job),
                Err(_) => break,
            }
        }
    }

    /// Writes what was gathered. A write blocked by a peer that stopped reading is a timeout too.
    async fn flush(&mut self, mut timer: Pin<&mut Sleep>) -> std::result::Result<(), End> {
        if self.out.is_empty() {
            return Ok(());
        }
        let write = self.link.stream.write_all(&self.out);
        tokio::pin!(write);
        let written = loop {
            tokio::select! {
                biased;
                w = &mut write => break w,
                _ = &mut timer => {
                    let now = Instant::now();
                    let oldest = self.waiting.front().map_or(now, |w| w.deadline);
                    if oldest <= now {
                        return Err(End::TimedOut);
                    }
                    timer.as_mut().reset(oldest);
                }
            }
        };
        self.out.clear();
        written.map_err(|e| End::Broken(e.to_string()))
    }

    /// Hands up to `limit` complete buffered replies to the oldest waiting requests. Returns whether it stopped
    /// at the limit.
    fn deliver(&mut self, limit: usize) -> std::result::Result<bool, End> {
        for _ in 0..limit {
            let reply = match self.link.reader.take(&mut self.link.buf) {
                Ok(Some(r)) => r,
                Ok(None) => return Ok(false),
                Err(e) => return Err(End::Protocol(e.to_string())),
            };
            let Some(front) = self.waiting.front_mut() else {
                return Err(End::Protocol(format!("unexpected reply {}", reply.summary())));
            };
            front.got.push(reply);
            if front.got.len() == front.replies
                && let Some(done) = self.waiting.pop_front()
            {
                // A caller that gave up is simply not there to receive it.
                let _ = done.answer.send(Ok(done.got));
            }
        }
        Ok(true)
    }

    /// Fails every request left when the connection ends.
    fn fail_all(mut self, end: End) {
        self.jobs.close();
        let addr = &self.link.addr;
        // Written requests may have run: the messages say "timed out" so the client treats them as ambiguous.
        let (first, rest, behind_timeout) = match end {
            End::Broken(e) | End::Protocol(e) => (format!("{addr}: {e}"), format!("{addr}: {e}"), false),
            End::TimedOut => (
                format!("{addr}: read timed out"),
                format!("{addr}: discarded after a request on this connection timed out"),
                true,
            ),
            End::Released => {
                let why = format!("{addr}: connection closed");
                (why.clone(), why, false)
            }
        };
        for (i, w) in self.waiting.drain(..).enumerate() {
            let error = Error::Io(if i == 0 { first.clone() } else { rest.clone() });
            let _ = w.answer.send(Err(Failure {
                error,
                behind_timeout: behind_timeout && i > 0,
            }));
        }
        // Requests queued but never written surely did not run.
        while let Ok(job) = self.jobs.try_recv() {
            let _ = job.answer.send(Err(Failure {
                error: closed(addr),
                behind_timeout: false,
            }));
        }
    }
}
