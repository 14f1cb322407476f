//! Faults and schedules: plain data that prints and parses.
//!
//! ```text
//! at 5000 crash(redis-2)
//! at 9000 partition(redis-1 | redis-2, sentinel-1)
//! at 20000 heal
//! ```
//!
//! How each fault maps onto turmoil (whose TCP differs from real TCP, see DESIGN.md):
//! - `crash(n)`: the machine goes silent (`Sim::crash`): peers' connections end, new connects hang.
//! - `kill(n)`: the process dies, the machine stays up: the node closes everything and stops listening, so
//!   connects are refused at once.
//! - `restart(n)`: the host's software starts again (`Sim::bounce`), with empty data (no persistence).
//! - `pause(n)` / `resume(n)`: every message to and from `n` is held, then released: connections stay open and
//!   nothing answers, as under SIGSTOP. A Sentinel's timer stops too (so it enters TILT on resume after more
//!   than 2 s, as Redis's does); a data node's timers keep running, a documented approximation.
//! - `partition(A | B)`, `isolate(n)`, `heal`: messages across the cut are held and delivered at the heal, and
//!   connects across it hang meanwhile: real TCP retransmits what a partition swallowed. (turmoil's own
//!   partition drops them and leaves established connections wedged after repair, turmoil #185, so a 100 ms
//!   cut would look like a dead node to a Sentinel link younger than 15 s.)
//! - `partition_oneway(A -> B)`: turmoil's one-way partition (it cannot hold one direction): messages from A to
//!   B are dropped, and connections that lost one stay wedged after `heal`; only redialled ones recover, which
//!   is one reason every component redials on silence.
//! - `hold(A | B)` / `release(A | B)`: messages between the groups are held, then delivered in order (delayed,
//!   not lost): a slow link rather than a cut one. `redsim explore --interleavings` uses it to reorder the
//!   client/Sentinel handshakes.
//! - `latency(a, b, ms)`: the one-way latency of the link (applied once the link exists).
//! - `failover`: `SENTINEL FAILOVER <master>` sent to the first Sentinel.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// One fault.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Fault {
    /// Process killed, machine up.
    Kill(String),
    /// Machine down.
    Crash(String),
    /// Software started again after a kill or crash.
    Restart(String),
    /// Process frozen.
    Pause(String),
    /// Process thawed.
    Resume(String),
    /// Two groups cannot reach each other.
    Partition(Vec<String>, Vec<String>),
    /// Messages from the first group to the second are dropped.
    PartitionOneway(Vec<String>, Vec<String>),
    /// A host cut from every other.
    Isolate(String),
    /// Messages between two groups are held (delayed, not lost).
    Hold(Vec<String>, Vec<String>),
    /// Held messages between two groups are delivered.
    Release(Vec<String>, Vec<String>),
    /// Every partition repaired, every pause and hold released.
    Heal,
    /// A link's one-way latency.
    Latency(String, String, u64),
    /// A manual failover through Sentinel.
    Failover,
}

impl Fault {
    /// Whether `later` ends this fault: a restart after a crash or kill, a resume after a pause, a release of the
    /// same groups after a hold, a latency reset of the same link after a spike, and `heal` for every cut or hold.
    pub fn is_repaired_by(&self, later: &Fault) -> bool {
        match (self, later) {
            (Fault::Crash(n) | Fault::Kill(n), Fault::Restart(m)) | (Fault::Pause(n), Fault::Resume(m)) => n == m,
            (Fault::Hold(a, b), Fault::Release(c, d)) => a == c && b == d,
            (Fault::Latency(x, y, _), Fault::Latency(p, q, _)) => (x == p && y == q) || (x == q && y == p),
            (
                Fault::Pause(_)
                | Fault::Hold(..)
                | Fault::Partition(..)
                | Fault::PartitionOneway(..)
                | Fault::Isolate(_),
                Fault::Heal,
            ) => true,
            _ => false,
        }
    }

    /// Whether this fault only ends another one (and draws no band of its own on a timeline).
    pub fn is_repair(&self) -> bool {
        matches!(
            self,
            Fault::Restart(_) | Fault::Resume(_) | Fault::Release(..) | Fault::Heal
        )
    }

    /// A host this fault puts on both sides of a link: `partition(a | a, b)`, `hold(a | a)`, `latency(a, a, 5)`.
    /// A host has no network link to itself, so such a fault would do nothing while it reads as if it did.
    pub fn self_link(&self) -> Option<&str> {
        match self {
            Fault::Partition(a, b) | Fault::PartitionOneway(a, b) | Fault::Hold(a, b) | Fault::Release(a, b) => {
                a.iter().find(|h| b.contains(h)).map(String::as_str)
            }
            Fault::Latency(a, b, _) => (a == b).then_some(a.as_str()),
            _ => None,
        }
    }
}

/// A fault at a time (milliseconds of simulated time from the start).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimedFault {
    /// When, in ms.
    pub at_ms: u64,
    /// What.
    pub fault: Fault,
}

/// A fault schedule: timed faults in time order.
pub type Schedule = Vec<TimedFault>;

fn group(g: &[String]) -> String {
    g.join(", ")
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Fault::Kill(n) => write!(f, "kill({n})"),
            Fault::Crash(n) => write!(f, "crash({n})"),
            Fault::Restart(n) => write!(f, "restart({n})"),
            Fault::Pause(n) => write!(f, "pause({n})"),
            Fault::Resume(n) => write!(f, "resume({n})"),
            Fault::Partition(a, b) => write!(f, "partition({} | {})", group(a), group(b)),
            Fault::PartitionOneway(a, b) => write!(f, "partition_oneway({} -> {})", group(a), group(b)),
            Fault::Isolate(n) => write!(f, "isolate({n})"),
            Fault::Hold(a, b) => write!(f, "hold({} | {})", group(a), group(b)),
            Fault::Release(a, b) => write!(f, "release({} | {})", group(a), group(b)),
            Fault::Heal => write!(f, "heal"),
            Fault::Latency(a, b, ms) => write!(f, "latency({a}, {b}, {ms})"),
            Fault::Failover => write!(f, "failover"),
        }
    }
}

impl fmt::Display for TimedFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "at {} {}", self.at_ms, self.fault)
    }
}

fn names(s: &str) -> Result<Vec<String>, String> {
    let v: Vec<String> = s
        .split(',')
        .map(|x| x.trim().to_string())
        .filter(|x| !x.is_empty())
        .collect();
    if v.is_empty() || v.iter().any(|n| !valid_host(n)) {
        return Err(format!("'{s}' is not a list of host names"));
    }
    Ok(v)
}

fn valid_host(n: &str) -> bool {
    !n.is_empty() && n.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

fn one(s: &str) -> Result<String, String> {
    let n = s.trim().to_string();
    if valid_host(&n) {
        Ok(n)
    } else {
        Err(format!("'{s}' is not a host name"))
    }
}

impl FromStr for Fault {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        match s {
            "heal" => return Ok(Fault::Heal),
            "failover" => return Ok(Fault::Failover),
            _ => {}
        }
        let (name, rest) = s
            .split_once('(')
            .ok_or_else(|| format!("'{s}' is not a fault (expected name(args))"))?;
        let args = rest
            .strip_suffix(')')
            .ok_or_else(|| format!("'{s}' lacks its closing parenthesis"))?;
        Ok(match name.trim() {
            "kill" => Fault::Kill(one(args)?),
            "crash" => Fault::Crash(one(args)?),
            "restart" => Fault::Restart(one(args)?),
            "pause" => Fault::Pause(one(args)?),
            "resume" => Fault::Resume(one(args)?),
            "isolate" => Fault::Isolate(one(args)?),
            kind @ ("partition" | "hold" | "release") => {
                let (a, b) = args
                    .split_once('|')
                    .ok_or_else(|| format!("'{s}': expected {kind}(A | B)"))?;
                let (a, b) = (names(a)?, names(b)?);
                match kind {
                    "partition" => Fault::Partition(a, b),
                    "hold" => Fault::Hold(a, b),
                    _ => Fault::Release(a, b),
                }
            }
            "partition_oneway" => {
                let (a, b) = args
                    .split_once("->")
                    .ok_or_else(|| format!("'{s}': expected partition_oneway(A -> B)"))?;
                Fault::PartitionOneway(names(a)?, names(b)?)
            }
            "latency" => {
                let parts: Vec<&str> = args.split(',').map(str::trim).collect();
                let [a, b, ms] = parts[..] else {
                    return Err(format!("'{s}': expected latency(a, b, ms)"));
                };
                let ms = ms.parse().map_err(|_| format!("'{s}': '{ms}' is not a number of ms"))?;
                Fault::Latency(one(a)?, one(b)?, ms)
            }
            other => return Err(format!("unknown fault '{other}'")),
        })
    }
}

impl FromStr for TimedFault {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let rest = s
            .trim()
            .strip_prefix("at ")
            .ok_or_else(|| format!("'{s}': expected 'at <ms> <fault>'"))?;
        let (at, fault) = rest
            .trim()
            .split_once(' ')
            .ok_or_else(|| format!("'{s}': expected 'at <ms> <fault>'"))?;
        let at_ms = at.parse().map_err(|_| format!("'{s}': '{at}' is not a time in ms"))?;
        Ok(TimedFault {
            at_ms,
            fault: fault.parse()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_fault_prints_and_parses_back() {
        let all = [
            Fault::Kill("redis-2".into()),
            Fault::Crash("redis-1".into()),
            Fault::Restart("redis-1".into()),
            Fault::Pause("sentinel-2".into()),
            Fault::Resume("sentinel-2".into()),
            Fault::Partition(vec!["redis-1".into()], vec!["redis-2".into(), "sentinel-1".into()]),
            Fault::PartitionOneway(vec!["a".into()], vec!["b".into()]),
            Fault::Isolate("redis-3".into()),
            Fault::Hold(vec!["reader-1".into()], vec!["sentinel-1".into(), "sentinel-2".into()]),
            Fault::Release(vec!["reader-1".into()], vec!["sentinel-1".into(), "sentinel-2".into()]),
            Fault::Heal,
            Fault::Latency("a".into(), "b".into(), 40),
            Fault::Failover,
        ];
        for f in all {
            let t = TimedFault { at_ms: 1234, fault: f };
            assert_eq!(t.to_string().parse::<TimedFault>().unwrap(), t);
        }
    }

    #[test]
    fn bad_text_gets_a_clear_error() {
        assert!(
            "at x crash(a)"
                .parse::<TimedFault>()
                .unwrap_err()
                .contains("not a time")
        );
        assert!(
            "at 1 explode(a)"
                .parse::<TimedFault>()
                .unwrap_err()
                .contains("unknown fault")
        );
        assert!(
            "at 1 partition(a, b)"
                .parse::<TimedFault>()
                .unwrap_err()
                .contains("A | B")
        );
        assert!(
            "at 1 crash(a b)"
                .parse::<TimedFault>()
                .unwrap_err()
                .contains("not a host name")
        );
        assert!(
            "at 1 latency(a, b)"
                .parse::<TimedFault>()
                .unwrap_err()
                .contains("latency(a, b, ms)")
        );
        assert!("crash(a)".parse::<TimedFault>().unwrap_err().contains("at <ms>"));
    }

    #[test]
    fn a_host_on_both_sides_of_a_link_is_found() {
        let f = |s: &str| s.parse::<Fault>().unwrap();
        assert_eq!(f("partition(a, b | c, b)").self_link(), Some("b"));
        assert_eq!(f("partition_oneway(a -> a)").self_link(), Some("a"));
        assert_eq!(f("hold(a | a)").self_link(), Some("a"));
        assert_eq!(f("release(a | a)").self_link(), Some("a"));
        assert_eq!(f("latency(a, a, 5)").self_link(), Some("a"));
        assert_eq!(f("partition(a | b, c)").self_link(), None);
        assert_eq!(f("latency(a, b, 5)").self_link(), None);
        assert_eq!(f("isolate(a)").self_link(), None);
    }
}
