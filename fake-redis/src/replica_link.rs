//! The replica's side of replication: dial the master, handshake (PING, AUTH, REPLCONF, PSYNC), load a full
//! snapshot or continue from the backlog, then apply the master's stream, acknowledging the offset every second.
//!
//! Every step has a deadline of `repl-timeout`: under turmoil a partitioned link goes silent forever rather than
//! failing, so a link is only ever trusted while bytes keep arriving (the master pings every
//! `repl-ping-replica-period`). A broken link is redialled after a second, as Redis's replication cron does.

use std::time::Duration;

use bytes::{Buf, Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::{Instant, sleep, sleep_until, timeout};
use tokio_util::sync::CancellationToken;

use crate::backlog::Backlog;
use crate::log::ClientKind;
use crate::node::{LinkState, Shared, State, lock};
use redsim_resp::encode_multibulk;
use redsim_resp::{RequestParser, parse_int};

/// Largest full-resync payload a replica accepts.
const SNAPSHOT_MAX_BYTES: usize = 1 << 30;
/// Longest status line expected from the master during the handshake.
const LINE_MAX_BYTES: usize = 64 * 1024;
/// Pause between two connection attempts.
const RETRY_DELAY: Duration = Duration::from_secs(1);

/// (Re)starts the link task for the configured master, cancelling any previous one.
pub(crate) fn restart(st: &mut State) {
    stop(st);
    let Some((host, port)) = st.repl.master.clone() else {
        return;
    };
    let Some(shared) = st.self_ref.upgrade() else { return };
    let token = CancellationToken::new();
    st.repl.link_cancel = Some(token.clone());
    tokio::spawn(run(shared, host, port, token));
}

/// Stops the link task and forgets the `master` client.
pub(crate) fn stop(st: &mut State) {
    st.loading = false;
    if let Some(t) = st.repl.link_cancel.take() {
        t.cancel();
    }
    if let Some(id) = st.repl.master_client.take() {
        st.remove_client(id);
    }
}

async fn run(shared: Shared, host: String, port: u16, link: CancellationToken) {
    loop {
        let session = link.child_token();
        let outcome = tokio::select! {
            biased;
            _ = link.cancelled() => return,
            r = session_run(&shared, &host, port, &session) => r,
        };
        session.cancel();
        {
            let mut st = lock(&shared);
            if link.is_cancelled() {
                return;
            }
            mark_down(&mut st);
            if let Err(e) = outcome {
                st.repl.last_link_error = Some(e.to_string());
            }
        }
        tokio::select! {
            biased;
            _ = link.cancelled() => return,
            _ = sleep(RETRY_DELAY) => {}
        }
    }
}

fn mark_down(st: &mut State) {
    st.loading = false;
    if st.repl.link == LinkState::Connected {
        st.repl.link_down_since_ms = Some(st.now_ms());
    }
    st.repl.link = LinkState::Connect;
    if let Some(id) = st.repl.master_client.take() {
        st.remove_client(id);
    }
}

/// Why a link session ended.
#[derive(Debug)]
enum LinkError {
    Io(String),
    Protocol(String),
}

struct LinkConn {
    stream: redsim_net::Stream,
    buf: BytesMut,
    timeout: Duration,
}

impl LinkConn {
    async fn send(&mut self, args: &[&[u8]]) -> Result<(), LinkError> {
        let mut out = BytesMut::new();
        encode_multibulk(&mut out, args);
        match timeout(self.timeout, self.stream.write_all(&out)).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(LinkError::Io(e.to_string())),
            Err(_) => Err(LinkError::Io("write timed out".into())),
        }
    }

    async fn fill(&mut self) -> Result<(), LinkError> {
        match timeout(self.timeout, self.stream.read_buf(&mut self.buf)).await {
            Ok(Ok(0)) => Err(LinkError::Io("connection closed by master".into())),
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(LinkError::Io(e.to_string())),
            Err(_) => Err(LinkError::Io("timeout reading from master".into())),
        }
    }

    /// Reads one CRLF-terminated line (without the CRLF), skipping the bare newlines a master sends as
    /// keep-alives while it prepares a snapshot.
    async fn read_line(&mut self) -> Result<String, LinkError> {
        loop {
            while self.buf.first() == Some(&b'\n') {
                self.buf.advance(1);
            }
            if let Some(pos) = self.buf.windows(2).position(|w| w == b"\r\n") {
                let line = self.buf.split_to(pos + 2);
                return Ok(String::from_utf8_lossy(&line[..pos]).into_owned());
            }
            if self.buf.len() > LINE_MAX_BYTES {
                return Err(LinkError::Protocol("line too long from master".into()));
            }
            self.fill().await?;
        }
    }

    async fn read_exact(&mut self, n: usize) -> Result<Bytes, LinkError> {
        while self.buf.len() < n {
            self.buf.reserve(n - self.buf.len());
            self.fill().await?;
        }
        Ok(self.buf.split_to(n).freeze())
    }
}

async fn session_run(shared: &Shared, host: &str, port: u16, session: &CancellationToken) -> Result<(), LinkError> {
    let (net, t, auth, my_port) = {
        let mut st = lock(shared);
        st.repl.link = LinkState::Connecting;
        (
            st.net,
            Duration::from_secs(st.cfg.repl_timeout_s as u64),
            st.cfg.masterauth.clone(),
            st.cfg.port,
        )
    };
    let stream = match timeout(t, net.connect(host, port)).await {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => return Err(LinkError::Io(e.to_string())),
        Err(_) => return Err(LinkError::Io("connect timed out".into())),
    };
    let local = stream
        .local_addr()
        .map(|a| redsim_resp::fmt_addr(&a))
        .unwrap_or_default();
    // MONITOR and CLIENT LIST show the master by address, as Redis does.
    let peer = stream
        .peer_addr()
        .map(|a| redsim_resp::fmt_addr(&a))
        .unwrap_or_else(|_| format!("{host}:{port}"));
    lock(shared).repl.link = LinkState::Handshake;
    let mut conn = LinkConn {
        stream,
        buf: BytesMut::new(),
        timeout: t,
    };

    conn.send(&[b"PING"]).await?;
    let pong = conn.read_line().await?;
    if pong.starts_with('-') && !pong.starts_with("-NOAUTH") {
        return Err(LinkError::Protocol(format!("error reply to PING from master: {pong}")));
    }
    if let Some(pw) = auth {
        conn.send(&[b"AUTH", pw.as_bytes()]).await?;
        let r = conn.read_line().await?;
        if r.starts_with('-') {
            return Err(LinkError::Protocol(format!("unable to AUTH to master: {r}")));
        }
    }
    conn.send(&[b"REPLCONF", b"listening-port", my_port.to_string().as_bytes()])
        .await?;
    conn.read_line().await?;
    conn.send(&[b"REPLCONF", b"capa", b"eof", b"capa", b"psync2"]).await?;
    conn.read_line().await?;
    let (psync_id, psync_offset) = {
        let st = lock(shared);
        if st.repl.has_history {
            (st.repl.replid.clone(), (st.repl.offset() + 1).to_string())
        } else {
            ("?".to_string(), "-1".to_string())
        }
    };
    conn.send(&[b"PSYNC", psync_id.as_bytes(), psync_offset.as_bytes()])
        .await?;
    let reply = conn.read_line().await?;
    let mut words = reply.split(' ');
    match words.next() {
        Some("+FULLRESYNC") => {
            let id = words.next().unwrap_or_default().to_string();
            let offset = words.next().and_then(|o| o.parse::<u64>().ok());
            let Some(offset) = offset.filter(|_| id.len() == 40) else {
                return Err(LinkError::Protocol(format!("bad FULLRESYNC reply: {reply}")));
            };
            lock(shared).repl.link = LinkState::Sync;
            let header = conn.read_line().await?;
            let len = header
                .strip_prefix('$')
                .and_then(|n| parse_int(n.as_bytes()))
                .filter(|&n| n >= 0 && n as usize <= SNAPSHOT_MAX_BYTES)
                .ok_or_else(|| LinkError::Protocol(format!("bad snapshot header: {header}")))?;
            let payload = conn.read_exact(len as usize).await?;
            let ks = crate::snapshot::decode(&payload)
                .ok_or_else(|| LinkError::Protocol("unreadable snapshot from master".into()))?;
            let loading_ms = {
                let mut st = lock(shared);
                st.ks = ks;
                // A new keyspace restarts its change count: a snapshot of the old one must not pass for it.
                st.shared_snapshot = None;
                st.repl.replid = id;
                st.repl.replid2 = "0".repeat(40);
                st.repl.second_offset = -1;
                st.repl.backlog = Some(Backlog::new(st.cfg.repl_backlog_size, offset));
                st.repl.offset = offset;
                disconnect_replicas(&mut st);
                st.loading = st.cfg.loading_ms > 0;
                st.cfg.loading_ms
            };
            if loading_ms > 0 {
                // The master's stream waits in the socket meanwhile, as it does while Redis loads an RDB.
                tokio::select! {
                    biased;
                    _ = session.cancelled() => return Err(LinkError::Io("link killed while loading".into())),
                    _ = sleep(Duration::from_millis(loading_ms)) => {}
                }
                lock(shared).loading = false;
            }
        }
        Some("+CONTINUE") => {
            let mut st = lock(shared);
            if let Some(id) = words.next().filter(|id| id.len() == 40)
                && id != st.repl.replid
            {
                let offset = st.repl.offset();
                st.repl.replid2 = std::mem::replace(&mut st.repl.replid, id.to_string());
                st.repl.second_offset = offset as i64 + 1;
                disconnect_replicas(&mut st);
            }
            if st.repl.backlog.is_none() {
                let offset = st.repl.offset();
                st.repl.backlog = Some(Backlog::new(st.cfg.repl_backlog_size, offset));
            }
        }
        _ => return Err(LinkError::Protocol(format!("unexpected reply to PSYNC: {reply}"))),
    }
    let master_cid = {
        let mut st = lock(shared);
        st.repl.link = LinkState::Connected;
        st.repl.link_down_since_ms = None;
        st.repl.has_history = true;
        st.repl.last_io_ms = st.now_ms();
        let id = st.add_client(peer, local, ClientKind::Master, None, session.clone());
        st.repl.master_client = Some(id);
        id
    };
    stream_loop(shared, &mut conn, master_cid, session).await
}

/// A replica whose history changed must make its own replicas resync, as Redis does.
fn disconnect_replicas(st: &mut State) {
    let ids: Vec<u64> = st
        .clients
        .values()
        .filter(|c| c.kind == ClientKind::Replica)
        .map(|c| c.id)
        .collect();
    for id in ids {
        st.kill_client(id);
    }
}

async fn send_ack(shared: &Shared, conn: &mut LinkConn) -> Result<(), LinkError> {
    let offset = lock(shared).repl.offset().to_string();
    conn.send(&[b"REPLCONF", b"ACK", offset.as_bytes()]).await
}

async fn stream_loop(
    shared: &Shared,
    conn: &mut LinkConn,
    master_cid: u64,
    session: &CancellationToken,
) -> Result<(), LinkError> {
    let mut parser = RequestParser::new();
    let mut ack = tokio::time::interval(Duration::from_secs(1));
    ack.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_data = Instant::now();
    loop {
        loop {
            let req = match parser.parse(&mut conn.buf, true) {
                Ok(Some(r)) => r,
                Ok(None) => break,
                Err(e) => return Err(LinkError::Protocol(e.0)),
            };
            if req.args.is_empty() {
                continue;
            }
            let getack = req.args.len() >= 2
                && req.args[0].eq_ignore_ascii_case(b"REPLCONF")
                && req.args[1].eq_ignore_ascii_case(b"GETACK");
            {
                let mut st = lock(shared);
                apply_from_master(&mut st, master_cid, req.args);
            }
            if getack {
                send_ack(shared, conn).await?;
            }
        }
        tokio::select! {
            biased;
            _ = session.cancelled() => return Err(LinkError::Io("link killed".into())),
            _ = ack.tick() => send_ack(shared, conn).await?,
            // repl-timeout is read live, as Redis does: CONFIG SET applies to the running link.
            _ = sleep_until(last_data + Duration::from_secs(lock(shared).cfg.repl_timeout_s as u64)) => {
                return Err(LinkError::Io("timeout: no data from master".into()));
            }
            r = conn.stream.read_buf(&mut conn.buf) => match r {
                Ok(0) => return Err(LinkError::Io("connection closed by master".into())),
                Ok(_) => {
                    last_data = Instant::now();
                    let mut st = lock(shared);
                    st.repl.last_io_ms = st.now_ms();
                }
                Err(e) => return Err(LinkError::Io(e.to_string())),
            },
        }
    }
}

/// Runs one command of the master's stream and advances the offset by its bytes, which also go into this
/// node's own backlog and to its own replicas (chained replication proxies the master's stream unchanged).
fn apply_from_master(st: &mut State, master_cid: u64, args: Vec<Bytes>) {
    // After REPLICAOF changed our master, bytes still buffered from the old one must not be applied.
    if st.repl.master_client != Some(master_cid) {
        return;
    }
    let mut raw = BytesMut::new();
    let refs: Vec<&[u8]> = args.iter().map(|a| a.as_ref()).collect();
    encode_multibulk(&mut raw, &refs);
    st.execute(master_cid, args);
    st.feed_replicas(raw.freeze());
}

impl std::fmt::Display for LinkError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LinkError::Io(e) => write!(f, "I/O: {e}"),
            LinkError::Protocol(e) => write!(f, "protocol: {e}"),
        }
    }
}
