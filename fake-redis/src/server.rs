//! The listening side of a node and its background cron.

use std::io;
use std::time::Duration;

use redsim_net::Net;

use crate::log::Role;
use crate::node::{Shared, lock};

/// Cron period: active expiry runs this often (Redis's `hz 10`).
const CRON_PERIOD: Duration = Duration::from_millis(100);
/// Most expired keys one cron tick deletes.
const EXPIRE_PER_TICK: usize = 20;

/// Binds the node's configured address; port 0 picks a free port, which becomes the node's `port`. First, as
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
    let maxclients = fit_maxclients(net, &name, maxclients)?;
    lock(shared).cfg.maxclients = maxclients;
    let listener = net.bind(&bind, port).await?;
    if port == 0 {
        lock(shared).cfg.port = listener.local_addr()?.port();
    }
    Ok(listener)
}

/// How many of `requested` clients the descriptor limit holds ([`Net::fit_maxclients`]), logging what Redis
/// logs when it had to raise the limit or lower maxclients.
pub(crate) fn fit_maxclients(net: Net, name: &str, requested: usize) -> io::Result<usize> {
    let fitted = net.fit_maxclients(requested)?;
    for line in &fitted.log {
        eprintln!("fake-redis {name}: {line}");
    }
    Ok(fitted.maxclients)
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
        eprintln!("fake-redis {name}: Accepting client connection: {e}{run}");
    }
}

/// Starts the node's cron and replication link, and accepts connections on `listener` forever.
pub(crate) async fn serve_on(shared: Shared, listener: redsim_net::Listener) -> io::Result<()> {
    {
        let mut st = lock(&shared);
        // Under turmoil the clock is only readable from inside a running host, so times start here.
        let now = st.now_ms();
        st.start_ms = now;
        st.repl.last_io_ms = now;
        st.repl.last_replica_ping_ms = now;
        if st.repl.master.is_some() {
            crate::replica_link::restart(&mut st);
        }
    }
    tokio::spawn(cron(std::sync::Arc::downgrade(&shared)));
    let shutdown = lock(&shared).shutdown.clone();
    let handler = std::sync::Arc::new(crate::connection::NodeHandler(shared.clone()));
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
    // Killed: every connection closes and replication stops; the listener goes with this function.
    let mut st = lock(&shared);
    crate::replica_link::stop(&mut st);
    for c in st.clients.values() {
        c.cancel.cancel();
    }
    Ok(())
}

async fn cron(weak: std::sync::Weak<std::sync::Mutex<crate::node::State>>) {
    let mut tick = tokio::time::interval(CRON_PERIOD);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let Some(shared) = weak.upgrade() else { return };
        let mut st = lock(&shared);
        if st.shutdown.is_cancelled() {
            return;
        }
        let now = st.now_ms();
        crate::full_sync::release_idle(&mut st);
        st.enforce_output_limits(now);
        if st.role() == Role::Master {
            for key in st.ks.expired_keys(now, EXPIRE_PER_TICK) {
                st.ks.remove(&key, now);
                st.stats.expired_keys += 1;
                st.propagate(0, &[b"DEL", &key]);
            }
            replication_cron(&mut st, now);
        }
    }
}

/// The master's replication duties: ping replicas every `repl-ping-replica-period`, and drop replicas that
/// have not acknowledged within `repl-timeout` (a partitioned replica never errors under turmoil).
fn replication_cron(st: &mut crate::node::State, now: u64) {
    let has_replicas = st.clients.values().any(|c| c.replica.is_some());
    let period_ms = st.cfg.repl_ping_replica_period_s as u64 * 1000;
    if has_replicas && now.saturating_sub(st.repl.last_replica_ping_ms) >= period_ms {
        st.repl.last_replica_ping_ms = now;
        st.feed_replicas_args(&[b"PING"]);
    }
    let timeout_ms = st.cfg.repl_timeout_s as u64 * 1000;
    let silent: Vec<u64> = st
        .clients
        .values()
        .filter(|c| {
            c.replica
                .as_ref()
                .is_some_and(|r| now.saturating_sub(r.ack_time_ms) > timeout_ms)
        })
        .map(|c| c.id)
        .collect();
    for id in silent {
        st.kill_client(id);
    }
}
