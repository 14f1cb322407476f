//! What a run produced: client operations, the data nodes' execution logs, the Sentinels' events, the
//! clients' routing events and the faults applied, all stamped with simulated time (ms from the start).

use std::collections::BTreeMap;
use std::fmt::Write;

use redsim_client::EventKind;
use redsim_fake_redis::{ClientKind, LogEntry};
use redsim_fake_sentinel::SentinelEvent;

use crate::deployment::Cluster;
use crate::fault::Fault;
use crate::scenario::Scenario;

/// The simulation's epoch: absolute times in logs are this plus simulated time.
pub const EPOCH_MS: u64 = 1_700_000_000_000;

/// Whether an operation read or wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpKind {
    /// `GET key`.
    Read,
    /// `SET key value`.
    Write,
}

/// One client operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Op {
    /// The client.
    pub client: String,
    /// Read or write.
    pub kind: OpKind,
    /// The key.
    pub key: String,
    /// For writes, the unique value written.
    pub written: Option<String>,
    /// When it was invoked, ms.
    pub invoke_ms: u64,
    /// When it completed, ms.
    pub complete_ms: u64,
    /// `Ok(value read or None)`, or the error kind.
    pub outcome: Result<Option<String>, String>,
    /// The node (host name) that executed it, when it succeeded: found in the data nodes' execution log by the
    /// client's connection name and the operation's time ([`History::from_cluster`] fills it in), never taken
    /// from the client's word.
    pub served_by: Option<String>,
}

/// Everything a run recorded.
#[derive(Debug, Clone)]
pub struct History {
    /// The scenario.
    pub scenario: Scenario,
    /// The seed.
    pub seed: u64,
    /// Client operations in completion order.
    pub ops: Vec<Op>,
    /// Every command every data node executed (times are absolute: subtract [`EPOCH_MS`]).
    pub exec: Vec<LogEntry>,
    /// Every event every Sentinel published (absolute times).
    pub sentinel_events: Vec<SentinelEvent>,
    /// Routing events: (simulated ms, client, event).
    pub client_events: Vec<(u64, String, EventKind)>,
    /// Faults as applied, with the simulated time they took effect.
    pub faults: Vec<(u64, Fault)>,
    /// IP address of every host, to map `ip:port` back to names.
    pub hosts: BTreeMap<String, String>,
    /// Simulated time at the end.
    pub end_ms: u64,
}

impl History {
    /// Assembles the history of a finished run of `cluster` in `sim`: the operations `ops` (from a
    /// [`crate::Recorder`]), the logs, the faults as applied, and the host addresses. Each successful
    /// operation's `served_by` is found in the execution log ([`attribute`]). An error when the log filled up,
    /// since the checkers could not judge such a run.
    pub fn from_cluster(
        scenario: Scenario,
        seed: u64,
        mut ops: Vec<Op>,
        cluster: &Cluster,
        sim: &turmoil::Sim<'_>,
    ) -> Result<History, String> {
        cluster.check_log()?;
        let hosts = cluster
            .hosts()
            .iter()
            .map(|h| (h.clone(), sim.lookup(h.as_str()).to_string()))
            .collect();
        ops.sort_by_key(|o| (o.complete_ms, o.invoke_ms));
        let exec = cluster.exec_log().take();
        attribute(&mut ops, &exec);
        Ok(History {
            scenario,
            seed,
            ops,
            exec,
            sentinel_events: cluster.event_log().events(),
            client_events: Vec::new(),
            faults: cluster.applied().to_vec(),
            hosts,
            end_ms: sim.elapsed().as_millis() as u64,
        })
    }

    /// The host name behind an address (`ip` or `ip:port`).
    pub fn host_of(&self, addr: &str) -> String {
        let ip = addr.rsplit_once(':').map(|(ip, _)| ip).unwrap_or(addr);
        self.hosts
            .iter()
            .find(|(_, v)| v.as_str() == ip)
            .map(|(k, _)| k.clone())
            .unwrap_or_else(|| addr.to_string())
    }

    /// The whole history as text, one line per record, in a fixed order: two runs are the same run exactly
    /// when their renderings are equal.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "# seed {}", self.seed);
        for line in self.scenario.to_string().lines() {
            let _ = writeln!(out, "# {line}");
        }
        for (t, f) in &self.faults {
            let _ = writeln!(out, "{t:>7} fault {f}");
        }
        for e in &self.sentinel_events {
            let _ = writeln!(
                out,
                "{:>7} {} {} {}",
                e.time_ms.saturating_sub(EPOCH_MS),
                e.sentinel,
                e.event,
                e.payload
            );
        }
        for op in &self.ops {
            let kind = if op.kind == OpKind::Read { "read" } else { "write" };
            let outcome = match &op.outcome {
                Ok(v) => format!("ok {}", v.as_deref().unwrap_or("nil")),
                Err(e) => format!("err {e}"),
            };
            let _ = writeln!(
                out,
                "{:>7} op {} {kind} {} {outcome} via {} ({}..{})",
                op.complete_ms,
                op.client,
                op.key,
                op.served_by.as_deref().unwrap_or("-"),
                op.invoke_ms,
                op.complete_ms
            );
        }
        for e in &self.exec {
            let _ = writeln!(
                out,
                "{:>7} exec {} {:?} {} {} -> {}",
                e.time_ms.saturating_sub(EPOCH_MS),
                e.node,
                e.role,
                e.client_name.as_deref().unwrap_or("-"),
                e.command.join(" "),
                e.reply
            );
        }
        for (t, c, e) in &self.client_events {
            let _ = writeln!(out, "{t:>7} client {c} {e:?}");
        }
        let _ = writeln!(out, "# end {} ms", self.end_ms);
        out
    }
}

/// Each client's commands from the execution log (ordinary connections only), in log and so time order: the
/// index [`attribute`] and the checkers look operations up in.
pub(crate) fn commands_by_client(exec: &[LogEntry]) -> BTreeMap<&str, Vec<&LogEntry>> {
    let mut by_client: BTreeMap<&str, Vec<&LogEntry>> = BTreeMap::new();
    for e in exec {
        if e.client_kind != ClientKind::Normal {
            continue;
        }
        if let Some(name) = e.client_name.as_deref() {
            by_client.entry(name).or_default().push(e);
        }
    }
    by_client
}

/// The command that served `op`, among its client's commands (see [`attribute`]).
pub(crate) fn serving_entry<'a>(op: &Op, entries: &[&'a LogEntry]) -> Option<&'a LogEntry> {
    if op.outcome.is_err() {
        return None;
    }
    let (from, to) = (op.invoke_ms + EPOCH_MS, op.complete_ms + EPOCH_MS);
    let start = entries.partition_point(|e| e.time_ms < from);
    let mut best: Option<(&'a LogEntry, bool)> = None;
    for &e in entries[start..].iter().take_while(|e| e.time_ms <= to) {
        let read = redsim_client::is_read_only(&e.name());
        if read != (op.kind == OpKind::Read) || e.key() != Some(op.key.as_str()) || e.reply.starts_with('-') {
            continue;
        }
        let matches = match (&op.kind, &op.outcome, &op.written) {
            (OpKind::Read, Ok(Some(v)), _) => e.reply == format!("{v:?}"),
            (OpKind::Read, Ok(None), _) => e.reply == "(nil)",
            (OpKind::Write, _, Some(v)) => e.command.iter().skip(2).any(|a| a == v),
            _ => true,
        };
        if matches || !best.is_some_and(|(_, m)| m) {
            best = Some((e, matches));
        }
    }
    best.map(|(e, _)| e)
}

/// Fills in each successful operation's `served_by` from the execution log: the node that ran a command of
/// the operation's kind (a read-only command for a read, any other for a write) on its key, over a connection
/// named after its client, between its invoke and complete times. Among several such commands (a read retried
/// on another replica, a late reply to an attempt that timed out) the one whose reply matches the operation's
/// outcome wins, and among those the last, which is the attempt that answered. No such command: `None`,
/// whatever the client believed.
pub fn attribute(ops: &mut [Op], exec: &[LogEntry]) {
    let by_client = commands_by_client(exec);
    for op in ops.iter_mut() {
        op.served_by = by_client
            .get(op.client.as_str())
            .and_then(|entries| serving_entry(op, entries))
            .map(|e| e.node.clone());
    }
}

#[cfg(test)]
mod tests {
    use redsim_fake_redis::Role;

    use super::*;

    fn entry(time_ms: u64, node: &str, client: &str, command: &[&str], reply: &str) -> LogEntry {
        LogEntry {
            seq: 0,
            time_ms: EPOCH_MS + time_ms,
            node: node.into(),
            role: Role::Replica,
            client_id: 1,
            client_name: Some(client.into()),
            client_kind: ClientKind::Normal,
            command: command.iter().map(|s| s.to_string()).collect(),
            reply: reply.into(),
        }
    }

    fn read(client: &str, key: &str, invoke_ms: u64, complete_ms: u64, value: Option<&str>) -> Op {
        Op {
            client: client.into(),
            kind: OpKind::Read,
            key: key.into(),
            written: None,
            invoke_ms,
            complete_ms,
            outcome: Ok(value.map(str::to_string)),
            // What a client would claim: the attribution must not keep it.
            served_by: Some("redis-9".into()),
        }
    }

    #[test]
    fn served_by_comes_from_the_log_not_from_the_client() {
        let exec = vec![
            // An attempt on redis-2 that answered too late (the client retried), then the one that served.
            entry(10, "redis-2", "r", &["GET", "k"], "\"old\""),
            entry(12, "redis-3", "r", &["GET", "k"], "\"v\""),
            // Another client's read, and this client's read of another key, at the same time.
            entry(12, "redis-2", "other", &["GET", "k"], "\"v\""),
            entry(13, "redis-2", "r", &["GET", "j"], "\"v\""),
            // A refusal serves nothing.
            entry(
                31,
                "redis-1",
                "r",
                &["GET", "k"],
                "-LOADING Redis is loading the dataset in memory",
            ),
        ];
        let mut ops = vec![
            read("r", "k", 9, 14, Some("v")),
            read("r", "k", 30, 32, None),
            Op {
                outcome: Err("deadline_exceeded".into()),
                ..read("r", "k", 9, 14, None)
            },
        ];
        attribute(&mut ops, &exec);
        assert_eq!(ops[0].served_by.as_deref(), Some("redis-3"));
        assert_eq!(ops[1].served_by, None, "nothing in the log served it");
        assert_eq!(ops[2].served_by, None, "a failed operation was served by nobody");
    }
}
