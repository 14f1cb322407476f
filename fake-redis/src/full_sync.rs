//! The full-resynchronisation reply (`+FULLRESYNC <replid> <offset>` and the snapshot), shared among replicas.
//!
//! Redis serves every replica that asks for a full resync while one BGSAVE runs from that same BGSAVE, rather
//! than producing a snapshot per replica. The fake builds its snapshot in memory, so a copy per replica would
//! cost a whole dataset each (ten replicas that never read held ten datasets, issue 16 M1). Instead the reply is
//! one refcounted buffer, reused while the dataset and the replication position are the ones it describes, and
//! each connection writes it from where it lies.

use bytes::{Bytes, BytesMut};

use crate::node::State;

/// The last full-resync reply built, and the state it describes.
#[derive(Debug)]
pub(crate) struct SharedSnapshot {
    replid: String,
    offset: u64,
    changes: u64,
    reply: Bytes,
}

impl SharedSnapshot {
    fn describes(&self, st: &State) -> bool {
        self.replid == st.repl.replid && self.offset == st.repl.offset() && self.changes == st.ks.changes()
    }
}

/// The `+FULLRESYNC` reply with its payload for the current dataset: the shared one when it is still current,
/// else a new one that later replicas will share.
pub(crate) fn reply(st: &mut State) -> Bytes {
    if let Some(s) = &st.shared_snapshot
        && s.describes(st)
    {
        return s.reply.clone();
    }
    let offset = st.repl.offset();
    let header = format!("+FULLRESYNC {} {offset}\r\n", st.repl.replid);
    let len = crate::snapshot::encoded_len(&st.ks);
    let bulk = format!("${len}\r\n");
    let mut out = BytesMut::with_capacity(header.len() + bulk.len() + len);
    out.extend_from_slice(header.as_bytes());
    out.extend_from_slice(bulk.as_bytes());
    crate::snapshot::encode_into(&st.ks, &mut out);
    let reply = out.freeze();
    st.shared_snapshot = Some(SharedSnapshot {
        replid: st.repl.replid.clone(),
        offset,
        changes: st.ks.changes(),
        reply: reply.clone(),
    });
    reply
}

/// Drops the shared reply once no transfer holds it or the dataset moved on (the cron calls this), so that a
/// finished sync gives its memory back as Redis's finished BGSAVE does. Transfers still under way keep their
/// own reference.
pub(crate) fn release_idle(st: &mut State) {
    if st
        .shared_snapshot
        .as_ref()
        .is_some_and(|s| s.reply.is_unique() || !s.describes(st))
    {
        st.shared_snapshot = None;
    }
}
