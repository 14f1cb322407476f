//! What the real data nodes executed, from `MONITOR`: the ground truth for a client on a real cluster.
//!
//! MONITOR streams every command a node executes, in execution order, including Sentinel's `SLAVEOF NO ONE`
//! inside its reconfiguration transaction. Replaying a node's stream with its role tracked tells exactly
//! which reads ran while it was master, without comparing clocks across processes.

use std::collections::BTreeMap;
use std::io;

use redsim_resp::split_args;
use tokio::sync::mpsc;

use crate::cluster::{Cluster, DATA_NODES, Tasks};

/// Every data node's MONITOR stream; dropping it ends the streams.
pub struct Monitors {
    rx: mpsc::UnboundedReceiver<(String, String)>,
    _tasks: Tasks,
}

impl Monitors {
    /// Starts `MONITOR` on every data node; returns once all three stream.
    pub async fn start(cluster: &Cluster) -> io::Result<Monitors> {
        let (tx, rx) = mpsc::unbounded_channel();
        let mut tasks = Tasks::default();
        for id in DATA_NODES {
            let mut conn = cluster.connect(id).await?;
            conn.call(&["MONITOR"]).await?;
            conn.set_timeout(std::time::Duration::from_secs(3600));
            let tx = tx.clone();
            tasks.0.push(tokio::spawn(async move {
                while let Ok(line) = conn.read().await {
                    if let Some(text) = line.as_text()
                        && tx.send((id.to_string(), text)).is_err()
                    {
                        return;
                    }
                }
            }));
        }
        Ok(Monitors { rx, _tasks: tasks })
    }

    /// Every command seen so far, per node, in execution order, as arguments.
    pub fn drain(&mut self) -> BTreeMap<String, Vec<Vec<String>>> {
        let mut out: BTreeMap<String, Vec<Vec<String>>> = BTreeMap::new();
        while let Ok((node, line)) = self.rx.try_recv() {
            if let Some(args) = parse_monitor_line(&line) {
                out.entry(node).or_default().push(args);
            }
        }
        out
    }
}

/// `1700000000.123456 [0 127.0.0.1:5000] "GET" "k"` → `["GET", "k"]`.
pub fn parse_monitor_line(line: &str) -> Option<Vec<String>> {
    let (_, rest) = line.split_once("] ")?;
    let args = split_args(rest.as_bytes())?;
    Some(args.iter().map(|a| String::from_utf8_lossy(a).into_owned()).collect())
}

/// How many `GET key` each node executed while it was master, replaying its stream from the role it started
/// with (`redis-1` master, the others replicas) through every `SLAVEOF`/`REPLICAOF` in it.
pub fn reads_on_master(streams: &BTreeMap<String, Vec<Vec<String>>>, key: &str) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    for (node, commands) in streams {
        let mut master = node == DATA_NODES[0];
        let mut n = 0;
        for args in commands {
            let cmd = args[0].to_ascii_uppercase();
            if cmd == "SLAVEOF" || cmd == "REPLICAOF" {
                master = args.get(1).is_some_and(|a| a.eq_ignore_ascii_case("no"));
            } else if cmd == "GET" && master && args.get(1).map(String::as_str) == Some(key) {
                n += 1;
            }
        }
        out.insert(node.clone(), n);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_count_only_while_master() {
        let line = |s: &str| parse_monitor_line(&format!("1.0 [0 127.0.0.1:1] {s}")).unwrap();
        let mut streams = BTreeMap::new();
        streams.insert(
            "redis-2".to_string(),
            vec![
                line("\"GET\" \"k\""),
                line("\"MULTI\""),
                line("\"SLAVEOF\" \"NO\" \"ONE\""),
                line("\"EXEC\""),
                line("\"GET\" \"k\""),
                line("\"GET\" \"other\""),
            ],
        );
        streams.insert(
            "redis-1".to_string(),
            vec![line("\"get\" \"k\""), line("\"SLAVEOF\" \"h\" \"1\"")],
        );
        let n = reads_on_master(&streams, "k");
        assert_eq!(n["redis-2"], 1, "one read after the promotion");
        assert_eq!(n["redis-1"], 1, "one read before the demotion");
    }
}
