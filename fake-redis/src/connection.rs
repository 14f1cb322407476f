//! How the shared RESP connection loop (`redsim_resp::serve_connection`) talks to a data node.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use redsim_resp::{Handler, NewConnection, Outcome as Wire, Protocol, Reply, fmt_addr};
use tokio::time::{Instant, sleep_until};

use crate::log::ClientKind;
use crate::node::{Outcome, Shared, lock};

/// A data node as a connection handler.
pub(crate) struct NodeHandler(pub Shared);

impl Handler for NodeHandler {
    fn open(&self, conn: NewConnection) -> Result<u64, Reply> {
        let mut st = lock(&self.0);
        if st.clients.len() >= st.cfg.maxclients {
            st.stats.rejected_connections += 1;
            return Err(Reply::err("max number of clients reached"));
        }
        let (peer, local) = (fmt_addr(&conn.peer), fmt_addr(&conn.local));
        Ok(st.add_client(peer, local, ClientKind::Normal, Some(conn.push), conn.cancel))
    }

    fn authenticated(&self, id: u64) -> bool {
        lock(&self.0).clients.get(&id).is_some_and(|c| c.authenticated)
    }

    fn execute(&self, id: u64, args: Vec<Bytes>) -> (Wire, Protocol) {
        let mut st = lock(&self.0);
        let outcome = st.execute(id, args);
        let proto = st.clients.get(&id).map(|c| c.proto).unwrap_or_default();
        let wire = match outcome {
            Outcome::Reply(r) => Wire::Reply(r),
            Outcome::Many(rs) => Wire::Many(rs),
            Outcome::Silent => Wire::Silent,
            Outcome::Raw(b) => Wire::Raw(b),
            Outcome::Close(r) => Wire::Close(r),
            Outcome::Wait {
                replicas,
                offset,
                timeout_ms,
            } => Wire::Later(Box::pin(wait_for_acks(
                Arc::clone(&self.0),
                replicas,
                offset,
                timeout_ms,
            ))),
        };
        (wire, proto)
    }

    fn close(&self, id: u64) {
        lock(&self.0).remove_client(id);
    }

    fn traffic(&self, input_bytes: usize, output_bytes: usize) {
        let mut st = lock(&self.0);
        st.stats.net_input_bytes += input_bytes as u64;
        st.stats.net_output_bytes += output_bytes as u64;
    }
}

/// Resolves a blocked WAIT once enough replicas acknowledged `offset`, or at the timeout (0: never). The
/// connection drops this future when its client goes away, which ends the block.
async fn wait_for_acks(shared: Shared, replicas: u64, offset: u64, timeout_ms: u64) -> Reply {
    let _blocked = Blocked::new(&shared, timeout_ms > 0);
    let deadline = (timeout_ms > 0).then(|| Instant::now() + Duration::from_millis(timeout_ms));
    loop {
        let notify = lock(&shared).acks.clone();
        let notified = notify.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        let acked = lock(&shared).acked_replicas(offset);
        if acked as u64 >= replicas {
            return Reply::Int(acked as i64);
        }
        let expired = async {
            match deadline {
                Some(d) => sleep_until(d).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            biased;
            _ = &mut notified => {}
            _ = expired => return Reply::Int(lock(&shared).acked_replicas(offset) as i64),
        }
    }
}

/// A client counted as blocked (INFO's `blocked_clients`) for as long as this lives: however the block ends,
/// by a reply, a timeout or the client leaving, the count goes back down.
struct Blocked {
    shared: Shared,
    with_timeout: bool,
}

impl Blocked {
    fn new(shared: &Shared, with_timeout: bool) -> Blocked {
        let mut st = lock(shared);
        st.blocked_clients += 1;
        st.blocked_with_timeout += usize::from(with_timeout);
        Blocked {
            shared: Arc::clone(shared),
            with_timeout,
        }
    }
}

impl Drop for Blocked {
    fn drop(&mut self) {
        let mut st = lock(&self.shared);
        st.blocked_clients -= 1;
        st.blocked_with_timeout -= usize::from(self.with_timeout);
    }
}
