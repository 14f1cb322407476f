//! Background work that keeps the topology right without waiting for a failure: subscriptions to Sentinel
//! events on several Sentinels (so one missed or dead subscription does not strand the client), periodic
//! reconciliation, and probing of ejected replicas. Every task holds only a weak reference and stops when the
//! client is dropped.

use std::sync::{Arc, Weak};
use std::time::Duration;

use redsim_resp::{Reply, ReplyLimits, RespConn};

use crate::client::Inner;
use crate::discovery::{event_master, parse_switch_master};
use crate::events::EventKind;
#[cfg(feature = "mutants")]
use crate::mutant::Mutant;

/// How often ejected replicas are checked for a due probe.
const PROBE_PERIOD: Duration = Duration::from_millis(100);
/// Pause before resubscribing after a lost subscription.
const RESUBSCRIBE_DELAY: Duration = Duration::from_secs(1);
/// Events that may change which nodes are usable.
const CHANNELS: &[&str] = &[
    "+switch-master",
    "+sdown",
    "-sdown",
    "+slave",
    "+convert-to-slave",
    "+role-change",
    "-role-change",
];

pub(crate) fn spawn(inner: &Arc<Inner>) {
    let cancel = inner.cancel.clone();
    let weak = Arc::downgrade(inner);
    tokio::spawn(with_cancel(cancel.clone(), reconcile(weak.clone())));
    tokio::spawn(with_cancel(cancel.clone(), probe(weak.clone())));
    for slot in 0..inner.cfg.subscriptions {
        tokio::spawn(with_cancel(cancel.clone(), subscribe(weak.clone(), slot)));
    }
}

async fn with_cancel(cancel: tokio_util::sync::CancellationToken, f: impl std::future::Future<Output = ()>) {
    tokio::select! {
        biased;
        _ = cancel.cancelled() => {}
        _ = f => {}
    }
}

async fn reconcile(weak: Weak<Inner>) {
    loop {
        let Some(period) = weak.upgrade().map(|i| i.cfg.refresh_interval) else {
            return;
        };
        tokio::time::sleep(period).await;
        let Some(inner) = weak.upgrade() else { return };
        let _ = inner.discover().await;
    }
}

async fn probe(weak: Weak<Inner>) {
    loop {
        tokio::time::sleep(PROBE_PERIOD).await;
        let Some(inner) = weak.upgrade() else { return };
        inner.probe_ejected().await;
    }
}

/// Subscription number `slot` follows the `slot`-th known Sentinel (the list is reordered by discovery, so it
/// moves to whichever Sentinels answer).
async fn subscribe(weak: Weak<Inner>, slot: usize) {
    loop {
        let target = {
            let Some(inner) = weak.upgrade() else { return };
            let st = inner.lock();
            st.sentinels.get(slot).map(|s| (s.host.clone(), s.port))
        };
        if let Some((host, port)) = target {
            listen(&weak, &host, port).await;
            // Whatever happened while we were not listening, reconcile now.
            if let Some(inner) = weak.upgrade() {
                let _ = inner.discover().await;
            }
        }
        tokio::time::sleep(RESUBSCRIBE_DELAY).await;
    }
}

/// Listens on one Sentinel until the connection breaks.
async fn listen(weak: &Weak<Inner>, host: &str, port: u16) {
    let Some((net, timeout, name, password, max_bytes)) = weak.upgrade().map(|i| {
        (
            i.cfg.net,
            i.cfg.sentinel_timeout,
            i.cfg.master_name.clone(),
            i.cfg.sentinel_password.clone(),
            i.cfg.max_sentinel_reply_bytes,
        )
    }) else {
        return;
    };
    let Ok(mut conn) = RespConn::connect(net, host, port, timeout).await else {
        return;
    };
    conn.set_limits(ReplyLimits::with_max_bytes(max_bytes));
    if let Some(pw) = password {
        if conn.send(&[b"AUTH", pw.as_bytes()]).await.is_err() || conn.read().await.is_err() {
            return;
        }
    }
    let mut args: Vec<&[u8]> = vec![b"SUBSCRIBE"];
    args.extend(CHANNELS.iter().map(|c| c.as_bytes()));
    if conn.send(&args).await.is_err() {
        return;
    }
    // Events are rare: wait for them for a long time, but not forever (a wedged link must be noticed).
    conn.set_timeout(Duration::from_secs(30));
    // A Sentinel publishes Hello on its own every 2 s but no event may come for hours: ping it to keep the
    // subscription honest. Under RESP2 a subscribed PING answers ["pong", ""].
    loop {
        let reply = match conn.read().await {
            Ok(r) => r,
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {
                if conn.send(&[b"PING"]).await.is_err() {
                    return;
                }
                continue;
            }
            Err(_) => return,
        };
        let Some(items) = reply.as_array() else { continue };
        if items.len() != 3 || items[0] != Reply::text("message") {
            continue;
        }
        let (Reply::Bulk(channel), Reply::Bulk(payload)) = (&items[1], &items[2]) else {
            continue;
        };
        let Some(inner) = weak.upgrade() else { return };
        let switch_master = &channel[..] == b"+switch-master";
        // Mutants StickyMaster and BlindMaster: the event only starts a discovery, which keeps the first master.
        #[cfg(feature = "mutants")]
        let switch_master = switch_master && !inner.cfg.mutant.is_some_and(Mutant::keeps_first_master);
        if switch_master {
            if let Some((ip, p)) = parse_switch_master(payload, &name) {
                let to = format!("{ip}:{p}");
                let from = {
                    let mut st = inner.lock();
                    let from = st.set_master((ip, p));
                    // Sentinel has just reset the master's replica entries: the grace for their `disconnected`
                    // flags starts now, even when a discovery saw the new master earlier (mid-failover).
                    st.master_switched_at = Some(tokio::time::Instant::now());
                    if let Some(f) = &from {
                        st.pools.remove(f);
                    }
                    st.pools.remove(&to);
                    from
                };
                if from.as_deref() != Some(to.as_str()) {
                    inner.emit(EventKind::MasterSwitched { from, to });
                }
                let _ = inner.discover().await;
            }
        } else if event_master(payload).as_deref() == Some(name.as_str()) {
            let _ = inner.discover().await;
        }
    }
}
