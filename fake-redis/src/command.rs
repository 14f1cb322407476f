//! The command table: every command the fake knows, its arity and the flags that decide where it may run.
//!
//! Flags mirror Redis's command flags where they change behaviour: `WRITE` commands are refused on read-only
//! replicas and propagated to replicas; `STALE` commands still run on a replica whose master link is down with
//! `replica-serve-stale-data no`; `LOADING` commands run while a dataset loads; `NOAUTH` commands run before
//! AUTH; `PUBSUB_OK` commands are allowed in a RESP2 subscribed context; `NO_QUEUE` commands act at once
//! inside MULTI instead of being queued; `SKIP_MONITOR` commands are not shown to MONITOR.

/// Modifies the keyspace: refused on read-only replicas, propagated to replicas.
pub const WRITE: u32 = 1 << 0;
/// Only reads the keyspace.
pub const READONLY: u32 = 1 << 1;
/// Allowed on a replica with a broken master link and `replica-serve-stale-data no`.
pub const STALE: u32 = 1 << 2;
/// Allowed while the dataset is loading.
pub const LOADING: u32 = 1 << 3;
/// Allowed before authentication.
pub const NOAUTH: u32 = 1 << 4;
/// Allowed in a RESP2 Pub/Sub context.
pub const PUBSUB_OK: u32 = 1 << 5;
/// Runs immediately inside MULTI rather than being queued.
pub const NO_QUEUE: u32 = 1 << 6;
/// Not fed to MONITOR clients.
pub const SKIP_MONITOR: u32 = 1 << 7;
/// Cannot run inside MULTI/EXEC.
pub const NO_MULTI: u32 = 1 << 8;

/// One command's static description.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CommandSpec {
    /// Lower-case name, as error messages print it.
    pub name: &'static str,
    /// Redis arity: `n > 0` exactly n arguments (command included), `n < 0` at least `-n`.
    pub arity: i32,
    /// Bit set of the flags above.
    pub flags: u32,
}

impl CommandSpec {
    /// Whether a flag is set.
    pub fn has(&self, flag: u32) -> bool {
        self.flags & flag != 0
    }

    /// Whether `argc` arguments (command included) fit the arity.
    pub fn arity_ok(&self, argc: usize) -> bool {
        let argc = argc as i64;
        let arity = self.arity as i64;
        if arity > 0 { argc == arity } else { argc >= -arity }
    }
}

const fn spec(name: &'static str, arity: i32, flags: u32) -> CommandSpec {
    CommandSpec { name, arity, flags }
}

/// Every supported command.
pub const COMMANDS: &[CommandSpec] = &[
    // Connection.
    spec("ping", -1, PUBSUB_OK),
    spec("echo", 2, STALE),
    spec("hello", -1, NOAUTH | STALE | LOADING),
    spec("auth", -2, NOAUTH | STALE | LOADING | NO_QUEUE),
    spec("select", 2, LOADING | STALE),
    spec("quit", -1, NOAUTH | STALE | LOADING | PUBSUB_OK | NO_QUEUE),
    spec("reset", 1, NOAUTH | STALE | LOADING | PUBSUB_OK | NO_QUEUE),
    spec("client", -2, STALE | LOADING),
    // Strings.
    spec("get", 2, READONLY),
    spec("set", -3, WRITE),
    spec("getdel", 2, WRITE),
    spec("incr", 2, WRITE),
    spec("incrby", 3, WRITE),
    spec("decr", 2, WRITE),
    spec("decrby", 3, WRITE),
    spec("append", 3, WRITE),
    spec("strlen", 2, READONLY),
    spec("mget", -2, READONLY),
    spec("mset", -3, WRITE),
    // Lists.
    spec("lpush", -3, WRITE),
    spec("rpush", -3, WRITE),
    spec("lpushx", -3, WRITE),
    spec("rpushx", -3, WRITE),
    spec("lpop", -2, WRITE),
    spec("rpop", -2, WRITE),
    spec("lrange", 4, READONLY),
    spec("llen", 2, READONLY),
    spec("lindex", 3, READONLY),
    spec("lset", 4, WRITE),
    spec("lrem", 4, WRITE),
    spec("ltrim", 4, WRITE),
    spec("lmove", 5, WRITE),
    spec("rpoplpush", 3, WRITE),
    // Sets.
    spec("sadd", -3, WRITE),
    spec("srem", -3, WRITE),
    spec("smembers", 2, READONLY),
    spec("sismember", 3, READONLY),
    spec("smismember", -3, READONLY),
    spec("scard", 2, READONLY),
    spec("sinter", -2, READONLY),
    spec("sunion", -2, READONLY),
    spec("sdiff", -2, READONLY),
    spec("srandmember", -2, READONLY),
    spec("spop", -2, WRITE),
    spec("sscan", -3, READONLY),
    // Hashes.
    spec("hset", -4, WRITE),
    spec("hmset", -4, WRITE),
    spec("hsetnx", 4, WRITE),
    spec("hget", 3, READONLY),
    spec("hmget", -3, READONLY),
    spec("hgetall", 2, READONLY),
    spec("hkeys", 2, READONLY),
    spec("hvals", 2, READONLY),
    spec("hdel", -3, WRITE),
    spec("hexists", 3, READONLY),
    spec("hlen", 2, READONLY),
    spec("hstrlen", 3, READONLY),
    spec("hincrby", 4, WRITE),
    spec("hscan", -3, READONLY),
    // Sorted sets.
    spec("zadd", -4, WRITE),
    spec("zincrby", 4, WRITE),
    spec("zrem", -3, WRITE),
    spec("zscore", 3, READONLY),
    spec("zmscore", -3, READONLY),
    spec("zcard", 2, READONLY),
    spec("zcount", 4, READONLY),
    spec("zrank", 3, READONLY),
    spec("zrevrank", 3, READONLY),
    spec("zrange", -4, READONLY),
    spec("zrevrange", -4, READONLY),
    spec("zrangebyscore", -4, READONLY),
    spec("zrevrangebyscore", -4, READONLY),
    spec("zrangebylex", -4, READONLY),
    spec("zrevrangebylex", -4, READONLY),
    spec("zremrangebyrank", 4, WRITE),
    spec("zremrangebyscore", 4, WRITE),
    spec("zremrangebylex", 4, WRITE),
    spec("zpopmin", -2, WRITE),
    spec("zpopmax", -2, WRITE),
    spec("zscan", -3, READONLY),
    // Keys.
    spec("del", -2, WRITE),
    spec("unlink", -2, WRITE),
    spec("rename", 3, WRITE),
    spec("renamenx", 3, WRITE),
    spec("copy", -3, WRITE),
    spec("exists", -2, READONLY),
    spec("expire", -3, WRITE),
    spec("pexpire", -3, WRITE),
    spec("expireat", -3, WRITE),
    spec("pexpireat", -3, WRITE),
    spec("ttl", 2, READONLY),
    spec("pttl", 2, READONLY),
    spec("expiretime", 2, READONLY),
    spec("pexpiretime", 2, READONLY),
    spec("persist", 2, WRITE),
    spec("dbsize", 1, READONLY),
    spec("keys", 2, READONLY),
    spec("scan", -2, READONLY),
    spec("flushall", -1, WRITE),
    spec("flushdb", -1, WRITE),
    spec("type", 2, READONLY),
    spec("object", -2, READONLY),
    // Server.
    spec("info", -1, STALE | LOADING),
    spec("role", 1, STALE | LOADING),
    spec("config", -2, STALE | LOADING | SKIP_MONITOR),
    spec("monitor", 1, STALE | LOADING | SKIP_MONITOR),
    // Replication.
    spec("replicaof", 3, STALE | SKIP_MONITOR),
    spec("slaveof", 3, STALE | SKIP_MONITOR),
    spec("replconf", -1, STALE | LOADING | SKIP_MONITOR | NO_MULTI),
    spec("psync", -3, STALE | NO_MULTI | SKIP_MONITOR),
    spec("sync", 1, STALE | NO_MULTI | SKIP_MONITOR),
    spec("wait", 3, 0),
    // Transactions.
    spec("multi", 1, STALE | LOADING | NO_QUEUE),
    spec("exec", 1, STALE | LOADING | NO_QUEUE | SKIP_MONITOR),
    spec("discard", 1, STALE | LOADING | NO_QUEUE),
    spec("watch", -2, STALE | LOADING | NO_QUEUE),
    spec("unwatch", 1, STALE | LOADING),
    // Pub/Sub.
    spec("subscribe", -2, STALE | LOADING | PUBSUB_OK),
    spec("psubscribe", -2, STALE | LOADING | PUBSUB_OK),
    spec("unsubscribe", -1, STALE | LOADING | PUBSUB_OK),
    spec("punsubscribe", -1, STALE | LOADING | PUBSUB_OK),
    spec("publish", 3, STALE | LOADING),
    spec("pubsub", -2, STALE | LOADING | PUBSUB_OK),
    // Scripting. EVAL is not a write in Redis 7.0: it runs on a read-only replica, and only the writes it
    // tries fail. It is hidden from MONITOR here because it shows itself, before the commands it runs.
    spec("eval", -3, STALE | SKIP_MONITOR),
    spec("evalsha", -3, STALE | SKIP_MONITOR),
    spec("eval_ro", -3, STALE | SKIP_MONITOR | READONLY),
    spec("evalsha_ro", -3, STALE | SKIP_MONITOR | READONLY),
    spec("script", -2, 0),
    // Cluster mode's, refused as by a Redis without cluster support.
    spec("readonly", 1, STALE | LOADING),
    spec("readwrite", 1, STALE | LOADING),
];

/// Looks a command up by name, case-insensitively.
pub fn lookup(name: &[u8]) -> Option<&'static CommandSpec> {
    COMMANDS.iter().find(|c| c.name.as_bytes().eq_ignore_ascii_case(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_ignores_case_and_checks_arity() {
        let get = lookup(b"GeT").unwrap();
        assert!(get.arity_ok(2) && !get.arity_ok(3));
        let set = lookup(b"set").unwrap();
        assert!(set.arity_ok(5) && !set.arity_ok(2));
        assert!(lookup(b"nope").is_none());
    }

    #[test]
    fn names_are_unique_and_lower_case() {
        for (i, a) in COMMANDS.iter().enumerate() {
            assert_eq!(a.name, a.name.to_ascii_lowercase());
            assert!(COMMANDS[i + 1..].iter().all(|b| b.name != a.name), "{} twice", a.name);
        }
    }
}
