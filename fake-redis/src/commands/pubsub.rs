//! SUBSCRIBE, PSUBSCRIBE, UNSUBSCRIBE, PUNSUBSCRIBE, PUBLISH.
//!
//! Subscribers are kept in `BTreeSet`s of client ids, so a message reaches its subscribers in a fixed order.

use bytes::Bytes;

use crate::node::{Outcome, State};
use redsim_resp::{Protocol, Reply};

/// A Pub/Sub frame: a push under RESP3, an array under RESP2.
fn frame(proto: Protocol, items: Vec<Reply>) -> Reply {
    match proto {
        Protocol::Resp3 => Reply::Push(items),
        Protocol::Resp2 => Reply::Array(items),
    }
}

pub(crate) fn subscribe(st: &mut State, cid: u64, pattern: bool, args: &[Bytes]) -> Outcome {
    let kind = if pattern { "psubscribe" } else { "subscribe" };
    let mut replies = Vec::new();
    for ch in &args[1..] {
        let Some(c) = st.clients.get_mut(&cid) else { break };
        let set = if pattern { &mut c.patterns } else { &mut c.channels };
        if set.insert(ch.clone()) {
            let registry = if pattern { &mut st.patterns } else { &mut st.channels };
            registry.entry(ch.clone()).or_default().insert(cid);
        }
        let c = &st.clients[&cid];
        let count = c.subscriptions() as i64;
        replies.push(frame(
            c.proto,
            vec![Reply::text(kind), Reply::Bulk(ch.clone()), Reply::Int(count)],
        ));
    }
    Outcome::Many(replies)
}

pub(crate) fn unsubscribe(st: &mut State, cid: u64, pattern: bool, args: &[Bytes]) -> Outcome {
    let kind = if pattern { "punsubscribe" } else { "unsubscribe" };
    let Some(c) = st.clients.get(&cid) else {
        return Outcome::Silent;
    };
    let proto = c.proto;
    let targets: Vec<Bytes> = if args.len() > 1 {
        args[1..].to_vec()
    } else if pattern {
        c.patterns.iter().cloned().collect()
    } else {
        c.channels.iter().cloned().collect()
    };
    if targets.is_empty() {
        let count = c.subscriptions() as i64;
        return Outcome::Many(vec![frame(
            proto,
            vec![Reply::text(kind), Reply::Nil, Reply::Int(count)],
        )]);
    }
    let mut replies = Vec::new();
    for ch in targets {
        remove_subscription(st, cid, pattern, &ch);
        let count = st.clients.get(&cid).map(|c| c.subscriptions()).unwrap_or(0) as i64;
        replies.push(frame(
            proto,
            vec![Reply::text(kind), Reply::Bulk(ch), Reply::Int(count)],
        ));
    }
    Outcome::Many(replies)
}

fn remove_subscription(st: &mut State, cid: u64, pattern: bool, ch: &Bytes) {
    if let Some(c) = st.clients.get_mut(&cid) {
        let set = if pattern { &mut c.patterns } else { &mut c.channels };
        set.remove(ch);
    }
    let registry = if pattern { &mut st.patterns } else { &mut st.channels };
    if let Some(ids) = registry.get_mut(ch) {
        ids.remove(&cid);
        if ids.is_empty() {
            registry.remove(ch);
        }
    }
}

/// Drops every subscription of a client (RESET).
pub(crate) fn unsubscribe_all(st: &mut State, cid: u64) {
    let Some(c) = st.clients.get(&cid) else { return };
    let channels: Vec<Bytes> = c.channels.iter().cloned().collect();
    let patterns: Vec<Bytes> = c.patterns.iter().cloned().collect();
    for ch in channels {
        remove_subscription(st, cid, false, &ch);
    }
    for p in patterns {
        remove_subscription(st, cid, true, &p);
    }
}

/// Delivers a message and returns how many clients received it. Redis propagates PUBLISH to replicas, whose own
/// subscribers then receive it too.
pub(crate) fn publish(st: &mut State, args: &[Bytes]) -> Reply {
    let channel = &args[1];
    let message = &args[2];
    let mut deliveries: Vec<(u64, Vec<Reply>)> = Vec::new();
    if let Some(ids) = st.channels.get(channel) {
        for &id in ids {
            deliveries.push((
                id,
                vec![
                    Reply::text("message"),
                    Reply::Bulk(channel.clone()),
                    Reply::Bulk(message.clone()),
                ],
            ));
        }
    }
    for (pat, ids) in &st.patterns {
        if redsim_resp::glob_match(pat, channel) {
            for &id in ids {
                deliveries.push((
                    id,
                    vec![
                        Reply::text("pmessage"),
                        Reply::Bulk(pat.clone()),
                        Reply::Bulk(channel.clone()),
                        Reply::Bulk(message.clone()),
                    ],
                ));
            }
        }
    }
    let n = deliveries.len() as i64;
    for (id, items) in deliveries {
        let Some(proto) = st.clients.get(&id).map(|c| c.proto) else {
            continue;
        };
        let bytes = frame(proto, items).to_bytes(proto);
        st.push_to(id, bytes);
    }
    st.propagate(0, &[b"PUBLISH", channel, message]);
    Reply::Int(n)
}

/// `PUBSUB CHANNELS [pattern] | NUMSUB [channel...] | NUMPAT`.
pub(crate) fn pubsub(st: &mut State, args: &[Bytes]) -> Reply {
    let sub = String::from_utf8_lossy(&args[1]).to_ascii_lowercase();
    let arity_ok = match sub.as_str() {
        "channels" => args.len() <= 3,
        "numsub" => true,
        "numpat" => args.len() == 2,
        _ => {
            return Reply::err(format!(
                "unknown subcommand '{}'. Try PUBSUB HELP.",
                String::from_utf8_lossy(&args[1])
            ));
        }
    };
    if !arity_ok {
        return Reply::err(format!("wrong number of arguments for 'pubsub|{sub}' command"));
    }
    match sub.as_str() {
        "channels" => Reply::Array(
            st.channels
                .iter()
                .filter(|(ch, ids)| !ids.is_empty() && args.get(2).is_none_or(|p| redsim_resp::glob_match(p, ch)))
                .map(|(ch, _)| Reply::Bulk(ch.clone()))
                .collect(),
        ),
        "numsub" => Reply::Array(
            args[2..]
                .iter()
                .flat_map(|ch| {
                    let n = st.channels.get(ch).map_or(0, |ids| ids.len());
                    [Reply::Bulk(ch.clone()), Reply::Int(n as i64)]
                })
                .collect(),
        ),
        _ => Reply::Int(st.patterns.values().filter(|ids| !ids.is_empty()).count() as i64),
    }
}
