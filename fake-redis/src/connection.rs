//! One client connection: read requests, run them, write replies, and forward pushes (Pub/Sub messages,
//! MONITOR lines, the replication stream) queued for it by other connections.

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::time::Duration;

use bytes::BytesMut;
use tokio::io::{AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::time::{Instant, sleep_until};
use tokio_util::sync::CancellationToken;

use crate::log::ClientKind;
use crate::node::{Outcome, PushSender, Shared, lock};
use crate::reply::Reply;
use crate::request::RequestParser;

/// `client-query-buffer-limit`: a client whose unparsed input grows past this is disconnected.
pub const QUERY_BUFFER_LIMIT_BYTES: usize = 1 << 30;

enum Next {
    Continue,
    Close,
}

/// Formats an address the way Redis prints it in CLIENT LIST and MONITOR (`ip:port`).
pub(crate) fn fmt_addr(a: &SocketAddr) -> String {
    format!("{}:{}", a.ip(), a.port())
}

/// Serves one accepted connection until the peer leaves, the client is killed, or an error occurs.
pub(crate) async fn serve_connection(shared: Shared, stream: redsim_net::Stream, peer: SocketAddr, local: SocketAddr) {
    let full = {
        let mut st = lock(&shared);
        let full = st.clients.len() >= st.cfg.maxclients;
        st.stats.rejected_connections += u64::from(full);
        full
    };
    if full {
        let mut stream = stream;
        let _ = tokio::time::timeout(Duration::from_secs(1), async {
            let _ = stream.write_all(b"-ERR max number of clients reached\r\n").await;
            let _ = stream.shutdown().await;
        })
        .await;
        return;
    }
    let (push, mut rx, queued) = PushSender::new();
    let cancel = CancellationToken::new();
    let id = lock(&shared).add_client(
        fmt_addr(&peer),
        fmt_addr(&local),
        ClientKind::Normal,
        Some(push),
        cancel.clone(),
    );
    let (mut rd, mut wr) = tokio::io::split(stream);
    let mut buf = BytesMut::with_capacity(4096);
    let mut parser = RequestParser::new();
    loop {
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
                    Ok(n) => lock(&shared).stats.net_input_bytes += n as u64,
                }
                if buf.len() > QUERY_BUFFER_LIMIT_BYTES {
                    break;
                }
                match process(&shared, id, &mut parser, &mut buf, &mut wr, &cancel).await {
                    Ok(Next::Continue) => {}
                    Ok(Next::Close) | Err(()) => break,
                }
            }
        }
    }
    let _ = wr.shutdown().await;
    lock(&shared).remove_client(id);
}

async fn write_all<W: AsyncWrite + Unpin>(wr: &mut W, bytes: &[u8], cancel: &CancellationToken) -> Result<(), ()> {
    tokio::select! {
        biased;
        _ = cancel.cancelled() => Err(()),
        r = wr.write_all(bytes) => r.map_err(|_| ()),
    }
}

/// Runs every complete request in `buf`, writing the replies in order.
async fn process<W: AsyncWrite + Unpin>(
    shared: &Shared,
    id: u64,
    parser: &mut RequestParser,
    buf: &mut BytesMut,
    wr: &mut W,
    cancel: &CancellationToken,
) -> Result<Next, ()> {
    let mut out = BytesMut::new();
    let mut next = Next::Continue;
    loop {
        let authenticated = lock(shared).clients.get(&id).is_some_and(|c| c.authenticated);
        let req = match parser.parse(buf, authenticated) {
            Ok(Some(req)) => req,
            Ok(None) => break,
            Err(e) => {
                Reply::err(e.0).encode(crate::reply::Protocol::Resp2, &mut out);
                next = Next::Close;
                break;
            }
        };
        if req.args.is_empty() {
            continue;
        }
        let (outcome, proto) = {
            let mut st = lock(shared);
            let outcome = st.execute(id, req.args);
            (outcome, st.clients.get(&id).map(|c| c.proto).unwrap_or_default())
        };
        match outcome {
            Outcome::Reply(r) => r.encode(proto, &mut out),
            Outcome::Many(rs) => rs.iter().for_each(|r| r.encode(proto, &mut out)),
            Outcome::Silent => {}
            Outcome::Raw(b) => out.extend_from_slice(&b),
            Outcome::Close(r) => {
                r.encode(proto, &mut out);
                next = Next::Close;
                break;
            }
            Outcome::Wait {
                replicas,
                offset,
                timeout_ms,
            } => {
                write_all(wr, &out, cancel).await?;
                out.clear();
                let n = wait_for_acks(shared, replicas, offset, timeout_ms, cancel).await;
                Reply::Int(n as i64).encode(proto, &mut out);
            }
        }
    }
    if !out.is_empty() {
        lock(shared).stats.net_output_bytes += out.len() as u64;
        write_all(wr, &out, cancel).await?;
    }
    Ok(next)
}

/// Blocks a WAIT until enough replicas acknowledged `offset` or the timeout passes (0: no timeout).
async fn wait_for_acks(
    shared: &Shared,
    replicas: u64,
    offset: u64,
    timeout_ms: u64,
    cancel: &CancellationToken,
) -> usize {
    let deadline = (timeout_ms > 0).then(|| Instant::now() + Duration::from_millis(timeout_ms));
    loop {
        let notify = lock(shared).acks.clone();
        let notified = notify.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        let acked = lock(shared).acked_replicas(offset);
        if acked as u64 >= replicas {
            return acked;
        }
        let expired = async {
            match deadline {
                Some(d) => sleep_until(d).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            biased;
            _ = cancel.cancelled() => return acked,
            _ = &mut notified => {}
            _ = expired => return lock(shared).acked_replicas(offset),
        }
    }
}
