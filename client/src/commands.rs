//! Which commands only read. Everything not listed here goes to the master: writes, MULTI/EXEC, scripts,
//! administrative commands, and commands the table does not know (a new command is assumed to write).

/// Commands flagged `readonly` in Redis 7.0's command table that a replica can serve.
const READ_ONLY: &[&str] = &[
    "bitcount",
    "bitfield_ro",
    "bitpos",
    "dbsize",
    "dump",
    "eval_ro",
    "evalsha_ro",
    "exists",
    "expiretime",
    "geodist",
    "geohash",
    "geopos",
    "georadius_ro",
    "georadiusbymember_ro",
    "geosearch",
    "get",
    "getbit",
    "getrange",
    "hexists",
    "hget",
    "hgetall",
    "hkeys",
    "hlen",
    "hmget",
    "hrandfield",
    "hscan",
    "hstrlen",
    "hvals",
    "keys",
    "lcs",
    "lindex",
    "llen",
    "lpos",
    "lrange",
    "mget",
    "object",
    "pexpiretime",
    "pfcount",
    "pttl",
    "randomkey",
    "scan",
    "scard",
    "sdiff",
    "sinter",
    "sintercard",
    "sismember",
    "smembers",
    "smismember",
    "srandmember",
    "sscan",
    "strlen",
    "substr",
    "sunion",
    "ttl",
    "type",
    "xlen",
    "xpending",
    "xrange",
    "xread",
    "xrevrange",
    "zcard",
    "zcount",
    "zdiff",
    "zinter",
    "zintercard",
    "zlexcount",
    "zmscore",
    "zrandmember",
    "zrange",
    "zrangebylex",
    "zrangebyscore",
    "zrank",
    "zrevrange",
    "zrevrangebylex",
    "zrevrangebyscore",
    "zrevrank",
    "zscan",
    "zscore",
    "zunion",
];

/// Whether a command (by name, any case) only reads and may go to a replica.
pub fn is_read_only(name: &str) -> bool {
    is_read_only_bytes(name.as_bytes())
}

/// [`is_read_only`] on a name as it goes on the wire: commands built elsewhere (redis-rs's `Cmd`, a pipeline)
/// carry their name as bytes, and a name that is not UTF-8 is simply not in the table.
pub(crate) fn is_read_only_bytes(name: &[u8]) -> bool {
    // Compared as if lower-cased, without allocating: this runs on every call.
    READ_ONLY
        .binary_search_by(|entry| entry.bytes().cmp(name.iter().map(|b| b.to_ascii_lowercase())))
        .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_is_sorted_and_classifies() {
        assert!(
            READ_ONLY.windows(2).all(|w| w[0] < w[1]),
            "binary search needs a sorted table"
        );
        assert!(is_read_only("GET") && is_read_only("mget") && is_read_only("ZRANGE"));
        // A script is a write unless it is a _RO variant.
        assert!(is_read_only("EVAL_RO") && is_read_only("evalsha_ro") && !is_read_only("EVALSHA"));
        for write in [
            "SET", "DEL", "INCR", "EVAL", "MULTI", "EXEC", "PUBLISH", "WAIT", "FOO", "PING", "",
        ] {
            assert!(!is_read_only(write), "{write}");
        }
        assert!(is_read_only_bytes(b"gEt") && !is_read_only_bytes(b"GET\xff") && !is_read_only_bytes(b"\xffGET"));
    }
}
