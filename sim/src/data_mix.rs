//! What the workload's clients send: strings only (`GET`/`SET`, every scenario before data types), or every
//! type a service keeps (hashes, lists, sets, sorted sets, and a read-only script).
//!
//! With [`DataMix::AllTypes`] a writer cycles through `SET`, `HSET`, `RPUSH`, `SADD` and `ZADD`, each on a key
//! named after its type (`h:k3`, `l:k3`, ...), and a reader picks one of `GET`, `HGETALL`, `LRANGE`,
//! `SMEMBERS`, `ZRANGE` and an `EVAL_RO` of [`READ_SCRIPT`], so every read-only command family is routed,
//! logged and judged by the checkers; the script's `LRANGE` runs inside the node and is logged as a read of
//! its own. Only `SET` records the value it wrote: the other writes are found in the execution log by client,
//! key and time, and their keys' reads are not judged by `no_reply_mixup` (see its docs).

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::history::OpKind;

/// The commands a client's operations use.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DataMix {
    /// `SET` and `GET`.
    #[default]
    Strings,
    /// Hashes, lists and sets beside strings.
    AllTypes,
}

impl DataMix {
    /// Whether it is the default (scenario texts leave the default out).
    pub fn is_strings(&self) -> bool {
        *self == DataMix::Strings
    }
}

/// The script readers run with `EVAL_RO`: a read of a list through `redis.call`.
pub const READ_SCRIPT: &str = "return redis.call('LRANGE', KEYS[1], 0, -1)";

/// One operation's command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Operation {
    /// The arguments.
    pub args: Vec<String>,
    /// The key it is recorded under (the one the execution log shows first).
    pub key: String,
    /// The value it writes, when the checkers can find it by that value (a `SET`'s).
    pub written: Option<String>,
}

/// The operation of a client of `kind` on key number `key` at sequence number `seq`: `value` is the unique
/// value a writer writes; `rng` chooses a reader's command.
pub fn operation(mix: DataMix, kind: OpKind, key: u32, seq: u64, value: &str, rng: &mut ChaCha8Rng) -> Operation {
    let plain = format!("k{key}");
    let op = |args: &[&str], key: String, written: Option<String>| Operation {
        args: args.iter().map(|a| a.to_string()).collect(),
        key,
        written,
    };
    match (mix, kind) {
        (DataMix::Strings, OpKind::Write) => op(&["SET", &plain, value], plain.clone(), Some(value.into())),
        (DataMix::Strings, OpKind::Read) => op(&["GET", &plain], plain.clone(), None),
        (DataMix::AllTypes, OpKind::Write) => match seq % 5 {
            0 => op(&["SET", &plain, value], plain.clone(), Some(value.into())),
            1 => {
                let k = format!("h:{plain}");
                op(&["HSET", &k, "last", value], k.clone(), None)
            }
            2 => {
                let k = format!("l:{plain}");
                op(&["RPUSH", &k, value], k.clone(), None)
            }
            3 => {
                let k = format!("s:{plain}");
                op(&["SADD", &k, value], k.clone(), None)
            }
            _ => {
                // The sequence number as the score: members come back in the order they were written.
                let k = format!("z:{plain}");
                op(&["ZADD", &k, &seq.to_string(), value], k.clone(), None)
            }
        },
        (DataMix::AllTypes, OpKind::Read) => match rng.random_range(0..6) {
            0 => op(&["GET", &plain], plain.clone(), None),
            1 => {
                let k = format!("h:{plain}");
                op(&["HGETALL", &k], k.clone(), None)
            }
            2 => {
                let k = format!("l:{plain}");
                op(&["LRANGE", &k, "0", "-1"], k.clone(), None)
            }
            3 => {
                let k = format!("s:{plain}");
                op(&["SMEMBERS", &k], k.clone(), None)
            }
            4 => {
                let k = format!("z:{plain}");
                op(&["ZRANGE", &k, "0", "-1", "WITHSCORES"], k.clone(), None)
            }
            _ => {
                let k = format!("l:{plain}");
                op(&["EVAL_RO", READ_SCRIPT, "1", &k], k.clone(), None)
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn every_read_is_read_only_and_every_write_is_not() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let mut names = std::collections::BTreeSet::new();
        for seq in 0..200 {
            let w = operation(DataMix::AllTypes, OpKind::Write, 3, seq, "v", &mut rng);
            assert!(!redsim_client::is_read_only(&w.args[0]), "{w:?}");
            let r = operation(DataMix::AllTypes, OpKind::Read, 3, seq, "v", &mut rng);
            assert!(redsim_client::is_read_only(&r.args[0]), "{r:?}");
            names.insert(w.args[0].clone());
            names.insert(r.args[0].clone());
        }
        assert_eq!(names.len(), 11, "every command comes up: {names:?}");
        let s = operation(DataMix::Strings, OpKind::Write, 3, 9, "v", &mut rng);
        assert_eq!(
            (s.args, s.written),
            (vec!["SET".into(), "k3".into(), "v".into()], Some("v".into()))
        );
    }
}
