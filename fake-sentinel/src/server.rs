//! The listening side of a Sentinel and its timer task.

use std::io;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use redsim_resp::{Handler, NewConnection, Outcome, Protocol, Reply, fmt_addr};

use crate::state::{Client, Shared, State, lock};

/// Binds the configured address; port 0 picks a free port, which becomes the Sentinel's `port`. First, as
/// Redis does before it listens, fits `maxclients` in the process's descriptor limit (real TCP only).
pub(crate) async fn bind(shared: &Shared) -> io::Result<redsim_net::Listener> {
    let (net, bind, port, name, maxclients) = {
        let st = lock(shared);
        (
            st.net,
            st.cfg.bind.clone(),
            st.cfg.port,
            st.cfg.name.clone(),
            st.cfg.maxclients,
        )
    };
    let fitted = net.fit_maxclients(maxclients)?;
    for line in &fitted.log {
        eprintln!("fake-sentinel {name}: {line}");
    }
    lock(shared).cfg.maxclients = fitted.maxclients;
    let listener = net.bind(&bind, port).await?;
    if port == 0 {
        lock(shared).cfg.port = listener.local_addr()?.port();
    }
    Ok(listener)
}

/// Logs a failed accept as Redis does; a long run of failures (out of descriptors) only at the 1st, 2nd, 4th,
/// 8th ... so the log stays small.
fn log_accept_error(name: &str, e: &io::Error, failures: u64) {
    if failures.is_power_of_two() {
        let run = if failures > 1 {
            format!(" ({failures} failures in a row)")
        } else {
            String::new()
        };
        eprintln!("fake-sentinel {name}: Accepting client connection: {e}{run}");
    }
}

/// Starts the timer and accepts client connections forever.
pub(crate) async fn serve_on(shared: Shared, listener: redsim_net::Listener) -> io::Result<()> {
    lock(&shared).start();
    tokio::spawn(timer(Arc::downgrade(&shared)));
    let shutdown = lock(&shared).shutdown.clone();
    let handler = Arc::new(SentinelHandler(shared.clone()));
    let name = lock(&shared).cfg.name.clone();
    // Only shutdown ends this loop: a failed accept is logged and retried, never fatal.
    loop {
        let (stream, peer) = tokio::select! {
            biased;
            _ = shutdown.cancelled() => break,
            accepted = listener.accept_retrying(|e, n| log_accept_error(&name, e, n)) => accepted,
        };
        let local = stream.local_addr().unwrap_or(peer);
        tokio::spawn(redsim_resp::serve_connection(handler.clone(), stream, peer, local));
    }
    // Killed: drop every link (their tasks stop) and every client connection.
    let mut st = lock(&shared);
    for m in st.masters.values_mut() {
        m.inst.close_links();
        m.replicas.values_mut().for_each(crate::instance::Instance::close_links);
        m.sentinels
            .values_mut()
            .for_each(crate::instance::Instance::close_links);
    }
    for c in st.bus.clients.values() {
        c.cancel.cancel();
    }
    Ok(())
}

/// Redis runs the Sentinel timer at a random 10-19 Hz, re-drawn every tick, so Sentinels drift apart instead
/// of acting in lockstep; the draw comes from the Sentinel's seeded generator.
async fn timer(weak: std::sync::Weak<std::sync::Mutex<State>>) {
    loop {
        let period_ms = {
            let Some(shared) = weak.upgrade() else { return };
            let mut st = lock(&shared);
            if st.shutdown.is_cancelled() {
                return;
            }
            if !st.frozen {
                st.tick();
            }
            1000 / (10 + st.rand_below(10))
        };
        tokio::time::sleep(Duration::from_millis(period_ms)).await;
    }
}

struct SentinelHandler(Shared);

impl Handler for SentinelHandler {
    fn open(&self, conn: NewConnection) -> Result<u64, Reply> {
        let mut st = lock(&self.0);
        if st.bus.clients.len() >= st.cfg.maxclients {
            return Err(Reply::err("max number of clients reached"));
        }
        let id = st.next_client_id;
        st.next_client_id += 1;
        let now = st.now_ms();
        let client = Client {
            id,
            addr: fmt_addr(&conn.peer),
            laddr: fmt_addr(&conn.local),
            name: None,
            proto: Protocol::Resp2,
            created_ms: now,
            last_ms: now,
            last_cmd: "NULL".into(),
            channels: Default::default(),
            patterns: Default::default(),
            push: conn.push,
            cancel: conn.cancel,
        };
        st.bus.clients.insert(id, client);
        Ok(id)
    }

    fn authenticated(&self, _id: u64) -> bool {
        // The fake Sentinel has no requirepass: every client is authenticated.
        true
    }

    fn execute(&self, id: u64, args: Vec<Bytes>) -> (Outcome, Protocol) {
        let mut st = lock(&self.0);
        let outcome = st.execute(id, args);
        let proto = st.bus.clients.get(&id).map(|c| c.proto).unwrap_or_default();
        (outcome, proto)
    }

    fn close(&self, id: u64) {
        lock(&self.0).bus.clients.remove(&id);
    }
}
