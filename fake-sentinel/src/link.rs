//! Connections from a Sentinel to the instances it watches: a command link (PING, INFO, Hello, votes, the
//! reconfiguration transaction) to every instance, and a Pub/Sub link (`__sentinel__:hello`) to masters and
//! replicas. Each connection is a task that writes queued commands, matches replies to them in order, and
//! reports back under the state lock. Nothing here decides anything: a silent or garbled peer simply stops
//! producing valid replies, and the timing rules in `monitor` judge it.

use std::collections::VecDeque;
use std::sync::Weak;
use std::time::Duration;

use bytes::BytesMut;
use redsim_net::Net;
use redsim_resp::{Protocol, Reply, ReplyLimits, ReplyReader, encode_multibulk};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::instance::{Kind, LinkHandle, Outgoing, Tag};
use crate::state::{State, Target, lock};

/// Longest a connection attempt may hang (a crashed host never answers under turmoil). Sentinel itself relies
/// on the stale-link rule, which usually closes a hung link sooner.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(60);
/// Largest reply buffered from an instance before the link is considered broken.
const REPLY_MAX_BYTES: usize = 64 * 1024 * 1024;

/// Which of an instance's two connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LinkKind {
    Cmd,
    PubSub,
}

/// Starts a connection task and returns its handle; commands may be queued at once (they are written when the
/// connection is up, as hiredis does).
pub(crate) fn spawn(
    net: Net,
    weak: Weak<std::sync::Mutex<State>>,
    next_id: &mut u64,
    target: Target,
    kind: LinkKind,
    host: String,
    port: u16,
) -> LinkHandle {
    let id = *next_id;
    *next_id += 1;
    let (tx, rx) = mpsc::unbounded_channel();
    let cancel = CancellationToken::new();
    let c = cancel.clone();
    tokio::spawn(async move {
        tokio::select! {
            biased;
            _ = c.cancelled() => {}
            _ = session(net, &weak, &target, kind, id, &host, port, rx) => {}
        }
        if let Some(shared) = weak.upgrade() {
            lock(&shared).link_closed(&target, kind, id);
        }
    });
    LinkHandle { id, tx, cancel }
}

#[allow(clippy::too_many_arguments)]
async fn session(
    net: Net,
    weak: &Weak<std::sync::Mutex<State>>,
    target: &Target,
    kind: LinkKind,
    id: u64,
    host: &str,
    port: u16,
    mut rx: mpsc::UnboundedReceiver<Outgoing>,
) {
    let Ok(Ok(mut stream)) = tokio::time::timeout(CONNECT_TIMEOUT, net.connect(host, port)).await else {
        return;
    };
    if kind == LinkKind::Cmd
        && let (Ok(local), Some(shared)) = (stream.local_addr(), weak.upgrade())
    {
        lock(&shared).link_connected(target, id, local.ip().to_string());
    }
    let mut pending: VecDeque<Tag> = VecDeque::new();
    let mut buf = BytesMut::with_capacity(4096);
    // Whatever a monitored instance sends, however deep or large, costs a bounded scan, never a crash.
    let mut reader = ReplyReader::new(Protocol::Resp2, ReplyLimits::with_max_bytes(REPLY_MAX_BYTES));
    loop {
        tokio::select! {
            biased;
            msg = rx.recv() => {
                let Some(msg) = msg else { return };
                let mut out = BytesMut::new();
                let args: Vec<&[u8]> = msg.args.iter().map(|a| a.as_ref()).collect();
                encode_multibulk(&mut out, &args);
                if stream.write_all(&out).await.is_err() {
                    return;
                }
                pending.push_back(msg.tag);
            }
            r = stream.read_buf(&mut buf) => {
                match r {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {}
                }
                loop {
                    let reply = match reader.take(&mut buf) {
                        Ok(Some(r)) => r,
                        Ok(None) => break,
                        // Garbage from the peer: drop the connection, never guess.
                        Err(_) => return,
                    };
                    let Some(shared) = weak.upgrade() else { return };
                    let mut st = lock(&shared);
                    match kind {
                        LinkKind::PubSub => st.on_pubsub_message(target, id, reply),
                        LinkKind::Cmd => {
                            let tag = pending.pop_front().unwrap_or(Tag::Ignore);
                            st.on_reply(target, id, tag, reply);
                        }
                    }
                }
            }
        }
    }
}

impl State {
    fn link_connected(&mut self, t: &Target, id: u64, local_ip: String) {
        if let Some(inst) = self.instance_mut(t)
            && inst.link.cc.as_ref().is_some_and(|h| h.id == id)
        {
            inst.link.cc_local_ip = Some(local_ip);
        }
    }

    pub(crate) fn link_closed(&mut self, t: &Target, kind: LinkKind, id: u64) {
        let Some(inst) = self.instance_mut(t) else { return };
        let link = &mut inst.link;
        match kind {
            LinkKind::Cmd if link.cc.as_ref().is_some_and(|h| h.id == id) => {
                link.cc = None;
                link.pending_commands = 0;
                link.disconnected = true;
            }
            LinkKind::PubSub if link.pc.as_ref().is_some_and(|h| h.id == id) => {
                link.pc = None;
                link.disconnected = true;
            }
            _ => {}
        }
    }

    fn on_pubsub_message(&mut self, t: &Target, id: u64, reply: Reply) {
        let now = self.now_ms();
        let Some(inst) = self.instance_mut(t) else { return };
        if inst.link.pc.as_ref().is_none_or(|h| h.id != id) {
            return;
        }
        inst.link.pc_last_activity = now;
        let Some(items) = reply.as_array() else { return };
        if items.len() != 3 || items[0].as_text().as_deref() != Some("message") {
            return;
        }
        let Some(payload) = items[2].as_text() else { return };
        if payload.contains(&self.myid) {
            return;
        }
        self.process_hello(&payload);
    }

    fn on_reply(&mut self, t: &Target, id: u64, tag: Tag, reply: Reply) {
        let now = self.now_ms();
        let Some(inst) = self.instance_mut(t) else { return };
        if inst.link.cc.as_ref().is_none_or(|h| h.id != id) {
            return;
        }
        inst.link.pending_commands = inst.link.pending_commands.saturating_sub(1);
        match tag {
            Tag::Ping => {
                let text = match &reply {
                    Reply::Simple(s) | Reply::Error(s) => s.as_str(),
                    _ => "",
                };
                if ["PONG", "LOADING", "MASTERDOWN"].iter().any(|p| text.starts_with(p)) {
                    inst.link.last_avail_time = now;
                    inst.link.act_ping_time = 0;
                }
                inst.link.last_pong_time = now;
            }
            Tag::Hello => {
                if !reply.is_error() {
                    inst.last_pub_time = now;
                }
            }
            Tag::Info => {
                if let Reply::Bulk(b) | Reply::Verbatim(_, b) = &reply {
                    let text = String::from_utf8_lossy(b).into_owned();
                    self.refresh_from_info(t, &text);
                }
            }
            Tag::AskMasterDown => {
                let Some(items) = reply.as_array() else { return };
                if let [Reply::Int(down), Reply::Bulk(leader), Reply::Int(epoch)] = items {
                    inst.last_master_down_reply_time = now;
                    inst.flags.master_down = *down == 1;
                    let leader = String::from_utf8_lossy(leader).into_owned();
                    if leader != "*" {
                        inst.leader = Some(leader);
                        inst.leader_epoch = (*epoch).max(0) as u64;
                    }
                }
            }
            Tag::Ignore => {}
        }
    }

    /// Opens whatever connections an instance is missing, at most once a second, and queues the greeting
    /// commands (AUTH, CLIENT SETNAME, PING or SUBSCRIBE).
    pub(crate) fn reconnect(&mut self, t: &Target) {
        let now = self.now_ms();
        let id8: String = self.myid.chars().take(8).collect();
        let auth = self.masters.get(&t.master).and_then(|m| m.auth_pass.clone());
        let (net, weak) = (self.net, self.self_ref.clone());
        let next_id = &mut self.next_link_id;
        let m = match self.masters.get_mut(&t.master) {
            Some(m) => m,
            None => return,
        };
        let inst = match t.kind {
            Kind::Master => &mut m.inst,
            Kind::Replica => match m.replicas.get_mut(&t.key) {
                Some(i) => i,
                None => return,
            },
            Kind::Sentinel => match m.sentinels.get_mut(&t.key) {
                Some(i) => i,
                None => return,
            },
        };
        if !inst.link.disconnected || inst.port == 0 || now.saturating_sub(inst.link.last_reconn_time) < 1000 {
            return;
        }
        inst.link.last_reconn_time = now;
        // Sentinels authenticate to each other only with sentinel-pass, which the fake does not model.
        let auth = if t.kind == Kind::Sentinel { None } else { auth };
        if inst.link.cc.is_none() {
            let h = spawn(
                net,
                weak.clone(),
                next_id,
                t.clone(),
                LinkKind::Cmd,
                inst.ip.clone(),
                inst.port,
            );
            if let Some(pw) = &auth {
                h.send(Tag::Ignore, &[b"AUTH", pw.as_bytes()]);
            }
            h.send(
                Tag::Ignore,
                &[b"CLIENT", b"SETNAME", format!("sentinel-{id8}-cmd").as_bytes()],
            );
            inst.link.cc = Some(h);
            inst.link.pending_commands = 0;
            inst.link.cc_conn_time = now;
            inst.link.cc_local_ip = None;
            send_ping(inst, now);
        }
        if t.kind != Kind::Sentinel && inst.link.pc.is_none() {
            let h = spawn(
                net,
                weak,
                next_id,
                t.clone(),
                LinkKind::PubSub,
                inst.ip.clone(),
                inst.port,
            );
            if let Some(pw) = &auth {
                h.send(Tag::Ignore, &[b"AUTH", pw.as_bytes()]);
            }
            h.send(
                Tag::Ignore,
                &[b"CLIENT", b"SETNAME", format!("sentinel-{id8}-pubsub").as_bytes()],
            );
            h.send(Tag::Ignore, &[b"SUBSCRIBE", b"__sentinel__:hello"]);
            inst.link.pc = Some(h);
            inst.link.pc_conn_time = now;
        }
        inst.link.disconnected = !(inst.link.cc.is_some() && (t.kind == Kind::Sentinel || inst.link.pc.is_some()));
    }
}

/// Queues a PING, remembering when the oldest unanswered one was sent.
pub(crate) fn send_ping(inst: &mut crate::instance::Instance, now: u64) -> bool {
    let Some(cc) = &inst.link.cc else { return false };
    if !cc.send(Tag::Ping, &[b"PING"]) {
        return false;
    }
    inst.link.pending_commands += 1;
    inst.link.last_ping_time = now;
    if inst.link.act_ping_time == 0 {
        inst.link.act_ping_time = now;
    }
    true
}
