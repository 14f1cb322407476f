//! MULTI, EXEC, DISCARD, WATCH. The queued commands run back to back under the node's lock, so nothing else can run
//! between them.

use crate::command;
use crate::node::{Outcome, State};
use bytes::Bytes;
use redsim_resp::Reply;

pub(crate) fn multi(st: &mut State, cid: u64) -> Reply {
    let Some(c) = st.clients.get_mut(&cid) else {
        return Reply::ok();
    };
    if c.multi.is_some() {
        return Reply::err("MULTI calls can not be nested");
    }
    c.multi = Some(Vec::new());
    c.multi_error = false;
    Reply::ok()
}

pub(crate) fn discard(st: &mut State, cid: u64) -> Reply {
    let Some(c) = st.clients.get_mut(&cid) else {
        return Reply::ok();
    };
    if c.multi.take().is_none() {
        return Reply::err("DISCARD without MULTI");
    }
    c.multi_error = false;
    st.unwatch_all(cid);
    Reply::ok()
}

/// `WATCH key...`: EXEC will run the transaction only if none of these keys changed in between.
pub(crate) fn watch(st: &mut State, cid: u64, args: &[Bytes]) -> Reply {
    let Some(c) = st.clients.get(&cid) else {
        return Reply::ok();
    };
    if c.multi.is_some() {
        return Reply::err("WATCH inside MULTI is not allowed");
    }
    for key in &args[1..] {
        if st.clients[&cid].watching.iter().any(|(k, _)| k == key) {
            continue;
        }
        let version = st.ks.watch(key);
        if let Some(c) = st.clients.get_mut(&cid) {
            c.watching.push((key.clone(), version));
        }
    }
    Reply::ok()
}

pub(crate) fn exec(st: &mut State, cid: u64) -> Outcome {
    let Some(c) = st.clients.get_mut(&cid) else {
        return Outcome::Silent;
    };
    let Some(queue) = c.multi.take() else {
        return Outcome::Reply(Reply::err("EXEC without MULTI"));
    };
    let queue_error = std::mem::take(&mut c.multi_error);
    let touched = c.watching.iter().any(|(k, v)| st.ks.version(k) != *v);
    st.unwatch_all(cid);
    if queue_error {
        return Outcome::Reply(Reply::Error(
            "EXECABORT Transaction discarded because of previous errors.".into(),
        ));
    }
    if touched {
        return Outcome::Reply(Reply::NilArray);
    }
    st.exec_depth += 1;
    st.exec_multi_emitted = false;
    let mut replies = Vec::with_capacity(queue.len());
    let mut close = false;
    for args in queue {
        let Some(spec) = command::lookup(&args[0]) else {
            continue;
        };
        let now = st.now_ms();
        let outcome = st.run(cid, spec, &args, now);
        let reply = match outcome {
            Outcome::Reply(r) => r,
            Outcome::Many(mut rs) if rs.len() == 1 => rs.remove(0),
            Outcome::Many(rs) => Reply::Array(rs),
            Outcome::Close(r) => {
                close = true;
                r
            }
            Outcome::Wait { offset, .. } => Reply::Int(st.acked_replicas(offset) as i64),
            Outcome::Silent | Outcome::Raw(_) => Reply::Nil,
        };
        st.log_executed(cid, &args, now, reply.summary());
        replies.push(reply);
    }
    st.exec_depth -= 1;
    if std::mem::take(&mut st.exec_multi_emitted) {
        st.feed_replicas_args(&[b"EXEC"]);
    }
    let reply = Reply::Array(replies);
    if close {
        Outcome::Close(reply)
    } else {
        Outcome::Reply(reply)
    }
}
