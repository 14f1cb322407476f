//! Scripts of commands, run the same way against a real and a fake cluster.
//!
//! A script is a text file, one command per line in `redis-cli` quoting, with a few directives:
//! ```text
//! # a comment
//! @use replica            later commands go to redis-2 (master = redis-1, sentinel = sentinel-1), connection "main"
//! @use master sub         ... or to a second, named connection (for Pub/Sub, CLIENT KILL, MULTI)
//! @skip FLUSHALL          run it, do not compare its reply (set-up)
//! @shape INFO server      compare only field names and value kinds
//! @sorted SENTINEL REPLICAS mymaster   compare with the top-level array sorted (the servers' order is a hash's)
//! @pairs CONFIG GET min-*   compare with the name/value pairs sorted (likewise)
//! @read                   read one more reply on the current connection (a Pub/Sub message)
//! @sleep 300              wait, in milliseconds (replication, Sentinel's next tick)
//! GET k                   run and compare
//! ```
//! A reply that does not come within a second renders as `<timeout>`, a closed connection as `<closed>`; either
//! way the connection is dropped and the next command on it opens a new one.

use std::collections::BTreeMap;
use std::io;
use std::time::Duration;

use bytes::Bytes;
use redsim_resp::{Protocol, Reply, RespConn, split_args};

use crate::cluster::Cluster;
use crate::normalise::{Mode, Normaliser};

/// How long a scripted command may take to answer.
const REPLY_TIMEOUT: Duration = Duration::from_millis(1000);
/// The longest `@sleep`.
const SLEEP_MAX_MS: u64 = 30_000;

/// What a step asks of the servers.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Switch to a node (`master`, `replica`, `sentinel`) and a named connection to it.
    Use {
        /// The node's role in the script.
        target: String,
        /// The connection's name.
        conn: String,
    },
    /// Send a command; compare its reply unless `compare` is `None`.
    Command {
        /// The arguments.
        args: Vec<Bytes>,
        /// How its reply is compared, `None` for set-up commands.
        compare: Option<Compare>,
    },
    /// Read one more reply on the current connection.
    Read,
    /// Wait.
    Sleep(u64),
}

/// How a reply is compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compare {
    /// Rendered as [`Mode`] says.
    Render(Mode),
    /// Exactly, with the elements of the top-level array sorted.
    Sorted,
    /// Exactly, with the name/value pairs of a flat array sorted (`CONFIG GET` with a glob).
    Pairs,
}

/// One line of a script.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    /// 1-based line number in the file.
    pub line: usize,
    /// The line as written.
    pub text: String,
    /// What it does.
    pub action: Action,
}

/// A parsed script.
#[derive(Debug, Clone)]
pub struct Script {
    /// Its file name (`strings.redis`).
    pub name: String,
    /// Its steps, in order.
    pub steps: Vec<Step>,
}

impl Script {
    /// Parses a script, or says which line is wrong and why.
    pub fn parse(name: &str, text: &str) -> Result<Script, String> {
        let mut steps = Vec::new();
        for (i, raw) in text.lines().enumerate() {
            let line = i + 1;
            let text = raw.trim();
            if text.is_empty() || text.starts_with('#') {
                continue;
            }
            let bad = |why: &str| format!("{name}:{line}: {why}: {text}");
            let (directive, rest) = match text.strip_prefix('@') {
                Some(d) => d.split_once(' ').map_or((d, ""), |(d, r)| (d, r.trim())),
                None => ("", text),
            };
            let command = |compare| -> Result<Action, String> {
                let args = split_args(rest.as_bytes()).ok_or_else(|| bad("unbalanced quotes"))?;
                if args.is_empty() {
                    return Err(bad("no command"));
                }
                Ok(Action::Command { args, compare })
            };
            let action = match directive {
                "" => command(Some(Compare::Render(Mode::Exact)))?,
                "skip" => command(None)?,
                "shape" => command(Some(Compare::Render(Mode::Shape)))?,
                "sorted" => command(Some(Compare::Sorted))?,
                "pairs" => command(Some(Compare::Pairs))?,
                "read" => Action::Read,
                "sleep" => {
                    let ms: u64 = rest.parse().map_err(|_| bad("@sleep needs milliseconds"))?;
                    if ms > SLEEP_MAX_MS {
                        return Err(bad(&format!("@sleep is limited to {SLEEP_MAX_MS} ms")));
                    }
                    Action::Sleep(ms)
                }
                "use" => {
                    let mut words = rest.split_whitespace();
                    let target = words.next().ok_or_else(|| bad("@use needs a node"))?;
                    if !["master", "replica", "sentinel"].contains(&target) {
                        return Err(bad("@use takes master, replica or sentinel"));
                    }
                    let conn = words.next().unwrap_or("main").to_string();
                    Action::Use {
                        target: target.to_string(),
                        conn,
                    }
                }
                other => return Err(bad(&format!("unknown directive @{other}"))),
            };
            steps.push(Step {
                line,
                text: text.to_string(),
                action,
            });
        }
        Ok(Script {
            name: name.to_string(),
            steps,
        })
    }

    /// How many of its steps produce a compared reply (commands not marked `@skip`, and `@read`s).
    pub fn compared_steps(&self) -> usize {
        self.steps
            .iter()
            .filter(|s| matches!(s.action, Action::Read | Action::Command { compare: Some(_), .. }))
            .count()
    }

    /// Every script in a directory (`*.redis`), sorted by name.
    pub fn load_dir(dir: &std::path::Path) -> Result<Vec<Script>, String> {
        let mut files: Vec<_> = std::fs::read_dir(dir)
            .map_err(|e| format!("{}: {e}", dir.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "redis"))
            .collect();
        files.sort();
        files
            .iter()
            .map(|p| {
                let text = std::fs::read_to_string(p).map_err(|e| format!("{}: {e}", p.display()))?;
                let name = p
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                Script::parse(&name, &text)
            })
            .collect()
    }
}

/// One compared reply.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// The script's name.
    pub script: String,
    /// The step's line.
    pub line: usize,
    /// The step as written.
    pub text: String,
    /// The normalised reply.
    pub rendered: String,
}

fn node_of(target: &str) -> &'static str {
    match target {
        "replica" => "redis-2",
        "sentinel" => "sentinel-1",
        _ => "redis-1",
    }
}

/// Runs a script against a cluster and returns the normalised reply of every compared step.
pub async fn run(cluster: &Cluster, script: &Script) -> io::Result<Vec<Outcome>> {
    let normaliser = Normaliser::new(&cluster.ports());
    let mut conns: BTreeMap<(String, String), RespConn> = BTreeMap::new();
    let mut current = ("master".to_string(), "main".to_string());
    let mut out = Vec::new();
    for step in &script.steps {
        let (reply, compare) = match &step.action {
            Action::Use { target, conn } => {
                current = (target.clone(), conn.clone());
                continue;
            }
            Action::Sleep(ms) => {
                tokio::time::sleep(Duration::from_millis(*ms)).await;
                continue;
            }
            Action::Read => {
                let conn = open(cluster, &mut conns, &current).await?;
                (conn.read().await, Compare::Render(Mode::Exact))
            }
            Action::Command { args, compare } => {
                let conn = open(cluster, &mut conns, &current).await?;
                let refs: Vec<&[u8]> = args.iter().map(|a| a.as_ref()).collect();
                let reply = match conn.send(&refs).await {
                    Ok(()) => conn.read().await,
                    Err(e) => Err(e),
                };
                if let Ok(r) = &reply
                    && !r.is_error()
                    && args[0].eq_ignore_ascii_case(b"HELLO")
                {
                    let v3 = args.get(1).is_some_and(|v| v.as_ref() == b"3");
                    let v2 = args.get(1).is_some_and(|v| v.as_ref() == b"2");
                    if v3 {
                        conn.set_protocol(Protocol::Resp3);
                    } else if v2 {
                        conn.set_protocol(Protocol::Resp2);
                    }
                }
                match compare {
                    Some(c) => (reply, *c),
                    None => {
                        if reply.is_err() {
                            conns.remove(&current);
                        }
                        continue;
                    }
                }
            }
        };
        let rendered = match reply {
            Ok(r) => match compare {
                Compare::Render(mode) => normaliser.render(&r, mode),
                Compare::Sorted => render_sorted(&normaliser, &r, 1),
                Compare::Pairs => render_sorted(&normaliser, &r, 2),
            },
            Err(e) => {
                conns.remove(&current);
                match e.kind() {
                    io::ErrorKind::TimedOut => "<timeout>".to_string(),
                    io::ErrorKind::UnexpectedEof | io::ErrorKind::ConnectionReset => "<closed>".to_string(),
                    _ => format!("<io error: {e}>"),
                }
            }
        };
        out.push(Outcome {
            script: script.name.clone(),
            line: step.line,
            text: step.text.clone(),
            rendered,
        });
    }
    Ok(out)
}

async fn open<'a>(
    cluster: &Cluster,
    conns: &'a mut BTreeMap<(String, String), RespConn>,
    key: &(String, String),
) -> io::Result<&'a mut RespConn> {
    if !conns.contains_key(key) {
        let mut conn = cluster.connect(node_of(&key.0)).await?;
        conn.set_timeout(REPLY_TIMEOUT);
        conns.insert(key.clone(), conn);
    }
    Ok(conns.get_mut(key).expect("inserted above"))
}

/// The top-level array in groups of `group` elements, sorted.
fn render_sorted(n: &Normaliser, r: &Reply, group: usize) -> String {
    match r.as_array() {
        Some(items) => {
            let mut parts: Vec<String> = items
                .chunks(group)
                .map(|g| {
                    g.iter()
                        .map(|i| n.render(i, Mode::Exact))
                        .collect::<Vec<_>>()
                        .join(": ")
                })
                .collect();
            parts.sort();
            format!("sorted[{}]", parts.join(", "))
        }
        None => n.render(r, Mode::Exact),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_directives_and_commands() {
        let s = Script::parse(
            "t.redis",
            "# c\n@use replica\n@skip FLUSHALL\nSET k \"a b\"\n@shape INFO server\n@read\n@sleep 5\n",
        )
        .unwrap();
        assert_eq!(s.steps.len(), 6);
        assert_eq!(s.steps[0].line, 2);
        match &s.steps[2].action {
            Action::Command { args, compare } => {
                assert_eq!(args[2].as_ref(), b"a b");
                assert_eq!(*compare, Some(Compare::Render(Mode::Exact)));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn bad_lines_are_named() {
        assert!(
            Script::parse("t.redis", "SET \"k")
                .unwrap_err()
                .contains("t.redis:1: unbalanced quotes")
        );
        assert!(
            Script::parse("t.redis", "@bogus x")
                .unwrap_err()
                .contains("unknown directive")
        );
        assert!(
            Script::parse("t.redis", "@use moon")
                .unwrap_err()
                .contains("master, replica or sentinel")
        );
        assert!(
            Script::parse("t.redis", "@sleep 99999999")
                .unwrap_err()
                .contains("limited")
        );
    }
}
