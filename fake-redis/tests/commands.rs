//! Byte-for-byte replies of the fake against what real Redis 7.0.15 answered for the same requests (recorded
//! from `redis-server` 7.0.15 on this machine), plus expiry, Pub/Sub, MONITOR and protocol errors.

mod common;

use std::time::Duration;

use common::*;
use redsim_fake_redis::{Protocol, Reply, RespConn};
use tokio::time::sleep;

/// A request written as space-separated arguments (sent as a multibulk), or raw bytes when it starts with '!'.
fn request(r: &str) -> Vec<u8> {
    if let Some(raw) = r.strip_prefix('!') {
        return raw.as_bytes().to_vec();
    }
    let args: Vec<&str> = r.split(' ').collect();
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        out.extend_from_slice(format!("${}\r\n{a}\r\n", a.len()).as_bytes());
    }
    out
}

/// Runs `(request, expected reply)` pairs in order on one fresh connection.
async fn script(host: &str, steps: &[(&str, &str)]) -> Result<(), Box<dyn std::error::Error>> {
    let mut c = connect(host).await;
    for (req, want) in steps {
        if req.starts_with("HELLO 3") {
            c.set_protocol(Protocol::Resp3);
        }
        let got = c.call_raw(&request(req)).await?;
        assert_eq!(String::from_utf8_lossy(&got), *want, "request {req:?}");
    }
    Ok(())
}

const ARITY_GET: &str = "-ERR wrong number of arguments for 'get' command\r\n";

#[test]
fn data_commands_match_redis() -> turmoil::Result {
    let mut sim = redsim::sim_builder(20, &network(1))
        .simulation_duration(Duration::from_secs(60))
        .build();
    let mut cluster = deployment(20, 0, 1).install(&mut sim);
    cluster.client(&mut sim, "app", async move {
        script(
            "redis-1",
            &[
                ("PING", "+PONG\r\n"),
                ("PING hello", "$5\r\nhello\r\n"),
                ("PING a b", "-ERR wrong number of arguments for 'ping' command\r\n"),
                ("ECHO", "-ERR wrong number of arguments for 'echo' command\r\n"),
                ("SELECT 0", "+OK\r\n"),
                ("SELECT abc", "-ERR value is not an integer or out of range\r\n"),
                ("SELECT 16", "-ERR DB index is out of range\r\n"),
                (
                    "FOO a b",
                    "-ERR unknown command 'FOO', with args beginning with: 'a' 'b' \r\n",
                ),
                ("foo", "-ERR unknown command 'foo', with args beginning with: \r\n"),
                ("GET", ARITY_GET),
                ("get a b", ARITY_GET),
                ("SET k", "-ERR wrong number of arguments for 'set' command\r\n"),
                (
                    "CONFIG GET",
                    "-ERR wrong number of arguments for 'config|get' command\r\n",
                ),
                (
                    "client kill",
                    "-ERR wrong number of arguments for 'client|kill' command\r\n",
                ),
                (
                    "!*1\r\n$0\r\n\r\n",
                    "-ERR unknown command '', with args beginning with: \r\n",
                ),
                ("FLUSHALL", "+OK\r\n"),
                ("SET k v", "+OK\r\n"),
                ("SET k v NX", "$-1\r\n"),
                ("SET k v XX", "+OK\r\n"),
                ("SET xx1 v XX", "$-1\r\n"),
                ("SET k v EX 10", "+OK\r\n"),
                ("TTL k", ":10\r\n"),
                ("SET k v EX 0", "-ERR invalid expire time in 'set' command\r\n"),
                ("SET k v EX -1", "-ERR invalid expire time in 'set' command\r\n"),
                ("SET k v EX abc", "-ERR value is not an integer or out of range\r\n"),
                ("SET k v EX", "-ERR syntax error\r\n"),
                (
                    "SET k v EX 9999999999999999",
                    "-ERR invalid expire time in 'set' command\r\n",
                ),
                ("SET k v NX XX", "-ERR syntax error\r\n"),
                ("SET k v EX 10 PX 10", "-ERR syntax error\r\n"),
                ("SET k v EX 10 KEEPTTL", "-ERR syntax error\r\n"),
                ("SET k v BADOPT", "-ERR syntax error\r\n"),
                ("SET k v1", "+OK\r\n"),
                ("SET k v2 GET", "$2\r\nv1\r\n"),
                ("SET newkey v GET", "$-1\r\n"),
                ("SET k v EX 100", "+OK\r\n"),
                ("SET k v KEEPTTL", "+OK\r\n"),
                ("TTL k", ":100\r\n"),
                ("set k v ex 10 nx", "$-1\r\n"),
                ("GETDEL k", "$1\r\nv\r\n"),
                ("GETDEL k", "$-1\r\n"),
                ("MSET a 1 b 2", "+OK\r\n"),
                ("DEL a b c", ":2\r\n"),
                ("SET a 1", "+OK\r\n"),
                ("EXISTS a a b", ":2\r\n"),
                ("SET s abc", "+OK\r\n"),
                ("INCR s", "-ERR value is not an integer or out of range\r\n"),
                ("SET n 9223372036854775807", "+OK\r\n"),
                ("INCR n", "-ERR increment or decrement would overflow\r\n"),
                ("INCRBY n abc", "-ERR value is not an integer or out of range\r\n"),
                ("SET n -9223372036854775808", "+OK\r\n"),
                ("DECR n", "-ERR increment or decrement would overflow\r\n"),
                ("SET n 10", "+OK\r\n"),
                ("INCR n", ":11\r\n"),
                ("INCRBY n -5", ":6\r\n"),
                ("DECR n", ":5\r\n"),
                ("DECRBY n 3", ":2\r\n"),
                ("DECR newctr", ":-1\r\n"),
                ("SET f 1.5", "+OK\r\n"),
                ("INCR f", "-ERR value is not an integer or out of range\r\n"),
                (
                    "INCRBY n 9223372036854775808",
                    "-ERR value is not an integer or out of range\r\n",
                ),
                ("APPEND ap hello", ":5\r\n"),
                ("!*3\r\n$6\r\nAPPEND\r\n$2\r\nap\r\n$6\r\n world\r\n", ":11\r\n"),
                ("STRLEN ap", ":11\r\n"),
                ("STRLEN missing", ":0\r\n"),
                ("MGET a missing ap", "*3\r\n$1\r\n1\r\n$-1\r\n$11\r\nhello world\r\n"),
                ("MSET a 1 b", "-ERR wrong number of arguments for 'mset' command\r\n"),
                ("SET k v", "+OK\r\n"),
                ("TTL k", ":-1\r\n"),
                ("PTTL missing", ":-2\r\n"),
                ("EXPIRE k 10", ":1\r\n"),
                ("EXPIRE k abc", "-ERR value is not an integer or out of range\r\n"),
                ("EXPIRE k 10 NX", ":0\r\n"),
                ("EXPIRE k 20 XX", ":1\r\n"),
                ("EXPIRE k 5 GT", ":0\r\n"),
                ("EXPIRE k 5 LT", ":1\r\n"),
                (
                    "EXPIRE k 10 NX XX",
                    "-ERR NX and XX, GT or LT options at the same time are not compatible\r\n",
                ),
                ("EXPIRE k 10 BAD", "-ERR Unsupported option BAD\r\n"),
                ("EXPIRE missing 10", ":0\r\n"),
                ("PERSIST k", ":1\r\n"),
                ("PERSIST k", ":0\r\n"),
                ("EXPIRE k 0", ":1\r\n"),
                ("EXISTS k", ":0\r\n"),
                ("SET k v", "+OK\r\n"),
                (
                    "EXPIRE k 9223372036854775807",
                    "-ERR invalid expire time in 'expire' command\r\n",
                ),
                (
                    "PEXPIRE k 9223372036854775807",
                    "-ERR invalid expire time in 'pexpire' command\r\n",
                ),
                ("FLUSHALL", "+OK\r\n"),
                ("DBSIZE", ":0\r\n"),
                ("KEYS *", "*0\r\n"),
                ("MSET hello 1 hallo 2 hxllo 3 world 4", "+OK\r\n"),
                ("KEYS h?llo", "*3\r\n$5\r\nhallo\r\n$5\r\nhello\r\n$5\r\nhxllo\r\n"),
                ("KEYS h[ae]llo", "*2\r\n$5\r\nhallo\r\n$5\r\nhello\r\n"),
                ("FLUSHALL BOGUS", "-ERR syntax error\r\n"),
                ("FLUSHDB x y", "-ERR syntax error\r\n"),
                ("FLUSHDB ASYNC", "+OK\r\n"),
                ("DBSIZE x", "-ERR wrong number of arguments for 'dbsize' command\r\n"),
            ],
        )
        .await
        .unwrap();
        Ok(())
    });
    cluster.run(&mut sim)
}

const HELLO2_HEAD: &str =
    "*14\r\n$6\r\nserver\r\n$5\r\nredis\r\n$7\r\nversion\r\n$6\r\n7.0.15\r\n$5\r\nproto\r\n:2\r\n$2\r\nid\r\n";
const HELLO_TAIL: &str = "$4\r\nmode\r\n$10\r\nstandalone\r\n$4\r\nrole\r\n$6\r\nmaster\r\n$7\r\nmodules\r\n*0\r\n";

#[test]
fn connection_transaction_and_config_commands_match_redis() -> turmoil::Result {
    let mut sim = redsim::sim_builder(21, &network(1))
        .simulation_duration(Duration::from_secs(60))
        .build();
    let mut cluster = deployment(21, 0, 1).install(&mut sim);
    cluster.client(&mut sim, "app", async move {
        let hello2 = format!("{HELLO2_HEAD}:1\r\n{HELLO_TAIL}");
        let hello3 = format!(
            "%7\r\n$6\r\nserver\r\n$5\r\nredis\r\n$7\r\nversion\r\n$6\r\n7.0.15\r\n$5\r\nproto\r\n:3\r\n$2\r\nid\r\n:1\r\n{HELLO_TAIL}"
        );
        script("redis-1", &[
            ("HELLO", &hello2),
            ("HELLO 4", "-NOPROTO unsupported protocol version\r\n"),
            ("HELLO abc", "-ERR Protocol version is not an integer or out of range\r\n"),
            ("HELLO 2 BOGUS", "-ERR Syntax error in HELLO option 'BOGUS'\r\n"),
            ("HELLO 2 AUTH default", "-ERR Syntax error in HELLO option 'AUTH'\r\n"),
            ("AUTH x", "-ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?\r\n"),
            ("AUTH default x", "+OK\r\n"),
            ("AUTH a b c", "-ERR syntax error\r\n"),
            ("AUTH nouser x", "-WRONGPASS invalid username-password pair or user is disabled.\r\n"),
            ("CLIENT ID", ":1\r\n"),
            ("CLIENT GETNAME", "$-1\r\n"),
            ("CLIENT SETNAME foo", "+OK\r\n"),
            ("CLIENT GETNAME", "$3\r\nfoo\r\n"),
            ("!*3\r\n$6\r\nCLIENT\r\n$7\r\nSETNAME\r\n$3\r\na b\r\n", "-ERR Client names cannot contain spaces, newlines or special characters.\r\n"),
            ("CLIENT SETNAME", "-ERR wrong number of arguments for 'client|setname' command\r\n"),
            ("CLIENT FOO", "-ERR unknown subcommand 'FOO'. Try CLIENT HELP.\r\n"),
            ("CLIENT LIST TYPE bogus", "-ERR Unknown client type 'bogus'\r\n"),
            ("CLIENT LIST ID abc", "-ERR Invalid client ID\r\n"),
            ("CLIENT LIST x", "-ERR syntax error\r\n"),
            ("CLIENT KILL ID abc", "-ERR client-id should be greater than 0\r\n"),
            ("CLIENT KILL ID 99999", ":0\r\n"),
            ("CLIENT KILL 1.2.3.4:5", "-ERR No such client\r\n"),
            ("CLIENT KILL ADDR 1.2.3.4:5", ":0\r\n"),
            ("CLIENT KILL TYPE bogus", "-ERR Unknown client type 'bogus'\r\n"),
            ("CLIENT KILL USER nouser", "-ERR No such user 'nouser'\r\n"),
            ("CLIENT KILL USER default SKIPME maybe", "-ERR syntax error\r\n"),
            ("CLIENT KILL FOO bar", "-ERR syntax error\r\n"),
            ("CLIENT KILL TYPE master", ":0\r\n"),
            ("CLIENT KILL ID 1", ":0\r\n"),
            ("MULTI", "+OK\r\n"),
            ("SET k v", "+QUEUED\r\n"),
            ("GET k", "+QUEUED\r\n"),
            ("INCR k", "+QUEUED\r\n"),
            ("PING", "+QUEUED\r\n"),
            ("EXEC", "*4\r\n+OK\r\n$1\r\nv\r\n-ERR value is not an integer or out of range\r\n+PONG\r\n"),
            ("MULTI", "+OK\r\n"),
            ("SET k v", "+QUEUED\r\n"),
            ("FOO bar", "-ERR unknown command 'FOO', with args beginning with: 'bar' \r\n"),
            ("EXEC", "-EXECABORT Transaction discarded because of previous errors.\r\n"),
            ("EXEC", "-ERR EXEC without MULTI\r\n"),
            ("MULTI", "+OK\r\n"),
            ("GET", ARITY_GET),
            ("EXEC", "-EXECABORT Transaction discarded because of previous errors.\r\n"),
            ("MULTI", "+OK\r\n"),
            ("MULTI", "-ERR MULTI calls can not be nested\r\n"),
            ("SET k v2", "+QUEUED\r\n"),
            ("EXEC", "*1\r\n+OK\r\n"),
            ("DISCARD", "-ERR DISCARD without MULTI\r\n"),
            ("MULTI", "+OK\r\n"),
            ("SET k v3", "+QUEUED\r\n"),
            ("DISCARD", "+OK\r\n"),
            ("GET k", "$2\r\nv2\r\n"),
            ("MULTI x", "-ERR wrong number of arguments for 'multi' command\r\n"),
            ("WAIT 0 0", ":0\r\n"),
            ("WAIT abc 0", "-ERR value is not an integer or out of range\r\n"),
            ("WAIT 1 abc", "-ERR timeout is not an integer or out of range\r\n"),
            ("WAIT 1 -1", "-ERR timeout is negative\r\n"),
            ("WAIT 1", "-ERR wrong number of arguments for 'wait' command\r\n"),
            ("CONFIG GET port", "*2\r\n$4\r\nport\r\n$4\r\n6379\r\n"),
            ("CONFIG GET PORT", "*2\r\n$4\r\nPORT\r\n$4\r\n6379\r\n"),
            ("CONFIG GET requirepass", "*2\r\n$11\r\nrequirepass\r\n$0\r\n\r\n"),
            ("CONFIG GET slaveof", "*2\r\n$7\r\nslaveof\r\n$0\r\n\r\n"),
            ("CONFIG GET slave-priority", "*2\r\n$14\r\nslave-priority\r\n$3\r\n100\r\n"),
            ("CONFIG GET replica-read-only", "*2\r\n$17\r\nreplica-read-only\r\n$3\r\nyes\r\n"),
            ("CONFIG GET min-replicas-max-lag", "*2\r\n$20\r\nmin-replicas-max-lag\r\n$2\r\n10\r\n"),
            ("CONFIG GET repl-backlog-size", "*2\r\n$17\r\nrepl-backlog-size\r\n$7\r\n1048576\r\n"),
            ("CONFIG GET unknown-param", "*0\r\n"),
            ("CONFIG GET port nosuch", "*2\r\n$4\r\nport\r\n$4\r\n6379\r\n"),
            ("CONFIG SET replicaof x", "-ERR CONFIG SET failed (possibly related to argument 'replicaof') - can't set immutable config\r\n"),
            ("CONFIG SET replica-priority 50", "+OK\r\n"),
            ("CONFIG GET replica-priority", "*2\r\n$16\r\nreplica-priority\r\n$2\r\n50\r\n"),
            ("CONFIG SET replica-priority abc", "-ERR CONFIG SET failed (possibly related to argument 'replica-priority') - argument couldn't be parsed into an integer\r\n"),
            ("CONFIG SET replica-priority -1", "-ERR CONFIG SET failed (possibly related to argument 'replica-priority') - argument must be between 0 and 2147483647 inclusive\r\n"),
            ("CONFIG SET replica-read-only maybe", "-ERR CONFIG SET failed (possibly related to argument 'replica-read-only') - argument must be 'yes' or 'no'\r\n"),
            ("CONFIG SET replica-read-only YES", "+OK\r\n"),
            ("CONFIG SET repl-backlog-size abc", "-ERR CONFIG SET failed (possibly related to argument 'repl-backlog-size') - argument must be a memory value\r\n"),
            ("CONFIG SET repl-backlog-size 0", "-ERR CONFIG SET failed (possibly related to argument 'repl-backlog-size') - argument must be between 1 and 9223372036854775807 inclusive\r\n"),
            ("CONFIG SET repl-backlog-size 2mb", "+OK\r\n"),
            ("ROLE", "*3\r\n$6\r\nmaster\r\n:0\r\n*0\r\n"),
            ("ROLE x", "-ERR wrong number of arguments for 'role' command\r\n"),
            ("REPLICAOF 127.0.0.1", "-ERR wrong number of arguments for 'replicaof' command\r\n"),
            ("REPLICAOF 127.0.0.1 abc", "-ERR Invalid master port\r\n"),
            ("REPLICAOF 127.0.0.1 99999", "-ERR Invalid master port\r\n"),
            ("REPLICAOF NO TWO", "-ERR Invalid master port\r\n"),
            ("REPLICAOF no one", "+OK\r\n"),
            ("REPLCONF foo bar", "-ERR Unrecognized REPLCONF option: foo\r\n"),
            ("REPLCONF listening-port", "-ERR syntax error\r\n"),
            ("REPLCONF listening-port abc", "-ERR value is not an integer or out of range\r\n"),
            ("REPLCONF", "+OK\r\n"),
            ("HELLO 3", &hello3),
            ("GET missing", "_\r\n"),
            ("CONFIG GET maxmemory-nope", "%0\r\n"),
            ("CONFIG GET port", "%1\r\n$4\r\nport\r\n$4\r\n6379\r\n"),
            ("CLIENT GETNAME", "$3\r\nfoo\r\n"),
            ("QUIT", "+OK\r\n"),
        ]).await.unwrap();
        Ok(())
    });
    cluster.run(&mut sim)
}

#[test]
fn protocol_errors_match_redis_and_close_the_connection() -> turmoil::Result {
    let mut sim = redsim::sim_builder(22, &network(1))
        .simulation_duration(Duration::from_secs(60))
        .build();
    let mut cluster = deployment(22, 0, 1).install(&mut sim);
    cluster.client(&mut sim, "app", async move {
        let closing = [
            ("*abc\r\n", "-ERR Protocol error: invalid multibulk length\r\n"),
            (
                "*2\r\n$3\r\nGET\r\n:1\r\n",
                "-ERR Protocol error: expected '$', got ':'\r\n",
            ),
            ("*1\r\n$-5\r\n", "-ERR Protocol error: invalid bulk length\r\n"),
            ("*1\r\n$abc\r\n", "-ERR Protocol error: invalid bulk length\r\n"),
            ("*1\r\n$4294967296\r\n", "-ERR Protocol error: invalid bulk length\r\n"),
            ("*1\r\n$536870913\r\n", "-ERR Protocol error: invalid bulk length\r\n"),
            ("*2147483648\r\n", "-ERR Protocol error: invalid multibulk length\r\n"),
            ("*\r\n", "-ERR Protocol error: invalid multibulk length\r\n"),
            ("*1\r\nPING\r\n", "-ERR Protocol error: expected '$', got 'P'\r\n"),
            (
                "*1 \r\n$4\r\nPING\r\n",
                "-ERR Protocol error: invalid multibulk length\r\n",
            ),
            (
                "*01\r\n$04\r\nPING\r\n",
                "-ERR Protocol error: invalid multibulk length\r\n",
            ),
            ("set a \"b\r\n", "-ERR Protocol error: unbalanced quotes in request\r\n"),
            ("echo 'a b\r\n", "-ERR Protocol error: unbalanced quotes in request\r\n"),
            (
                "echo \"a\"b\r\n",
                "-ERR Protocol error: unbalanced quotes in request\r\n",
            ),
        ];
        for (req, want) in closing {
            let mut c = connect("redis-1").await;
            assert_eq!(
                String::from_utf8_lossy(&c.call_raw(req.as_bytes()).await?),
                want,
                "{req:?}"
            );
            assert!(c.read_raw().await.is_err(), "{req:?} must close the connection");
        }
        let too_big = "a".repeat(70_000);
        let mut c = connect("redis-1").await;
        let got = c.call_raw(too_big.as_bytes()).await?;
        assert_eq!(&got[..], b"-ERR Protocol error: too big inline request\r\n");
        // Requests that Redis accepts or skips, each followed by a PING on the same connection.
        let fine = [
            ("PING\r\n", "+PONG\r\n"),
            ("PING\n", "+PONG\r\n"),
            ("  ping   \r\n", "+PONG\r\n"),
            ("\r\n", ""),
            ("*-1\r\n", ""),
            ("*0\r\n", ""),
            (
                "$5\r\nhello\r\n",
                "-ERR unknown command '$5', with args beginning with: \r\n",
            ),
            (
                "+PING\r\n",
                "-ERR unknown command '+PING', with args beginning with: \r\n",
            ),
            ("echo \"\\x41\\n\"\r\n", "$2\r\nA\n\r\n"),
            ("echo 'it\\'s'\r\n", "$4\r\nit's\r\n"),
            ("echo a\tb\r\n", "-ERR wrong number of arguments for 'echo' command\r\n"),
            ("*1\r\n$3\r\nGETX\r\n", ARITY_GET),
            ("*1\r\n$4\r\nPINGXX\r\n", "+PONG\r\n"),
        ];
        for (req, want) in fine {
            let mut c = connect("redis-1").await;
            c.send_raw(req.as_bytes()).await?;
            if !want.is_empty() {
                assert_eq!(String::from_utf8_lossy(&c.read_raw().await?), want, "{req:?}");
            }
            if req.starts_with('$') {
                c.read_raw().await?; // "hello" was run as HELLO
            }
            assert_eq!(&c.call_raw(b"PING\r\n").await?[..], b"+PONG\r\n", "after {req:?}");
        }
        // A huge multibulk header is accepted and waits (as Redis does) without reserving memory.
        let mut c = connect("redis-1").await;
        c.send_raw(b"*2147483647\r\n").await?;
        assert_eq!(
            &c.call_raw(b"*1\r\n$4\r\nPING\r\n").await?[..],
            b"-ERR Protocol error: expected '$', got '*'\r\n"
        );
        Ok(())
    });
    cluster.run(&mut sim)
}

#[test]
fn expiry_runs_on_simulated_time_and_replicates_as_absolute_deadlines() -> turmoil::Result {
    let mut sim = redsim::sim_builder(23, &network(1))
        .simulation_duration(Duration::from_secs(60))
        .build();
    let mut cluster = deployment(23, 1, 1).install(&mut sim);
    cluster.client(&mut sim, "app", async move {
        links_up(1).await;
        let mut m = connect("redis-1").await;
        let mut r = connect("redis-2").await;
        m.call(&["SET", "short", "v", "PX", "500"]).await?;
        m.call(&["SET", "long", "v", "EX", "100"]).await?;
        sleep(Duration::from_millis(50)).await;
        assert_eq!(r.call(&["GET", "short"]).await?, bulk("v"));
        let pttl = r.call(&["PTTL", "short"]).await?.as_int().unwrap();
        assert!(
            (440..=460).contains(&pttl),
            "replica sees the master's deadline: {pttl}"
        );
        sleep(Duration::from_millis(500)).await;
        assert_eq!(m.call(&["GET", "short"]).await?, redsim_fake_redis::Reply::Nil);
        assert_eq!(
            r.call(&["GET", "short"]).await?,
            redsim_fake_redis::Reply::Nil,
            "logically expired on the replica"
        );
        sleep(Duration::from_millis(300)).await;
        assert_eq!(
            r.call(&["DBSIZE"]).await?.as_int(),
            Some(1),
            "the master's DEL reached the replica"
        );
        assert_eq!(r.call(&["TTL", "long"]).await?.as_int(), Some(99));
        let info = m.call(&["INFO", "stats"]).await?;
        assert_eq!(info_field(&info, "expired_keys").as_deref(), Some("1"));
        Ok(())
    });
    cluster.run(&mut sim)?;
    // Replicas got absolute deadlines, not relative ones.
    let on_replica: Vec<_> = cluster
        .exec_log()
        .entries()
        .into_iter()
        .filter(|e| e.node == "redis-2" && e.name() == "SET")
        .collect();
    assert_eq!(on_replica[0].command[3], "PXAT");
    Ok(())
}

#[test]
fn pubsub_delivers_in_resp2_and_resp3_and_through_replication() -> turmoil::Result {
    let mut sim = redsim::sim_builder(24, &network(1))
        .simulation_duration(Duration::from_secs(60))
        .build();
    let mut cluster = deployment(24, 1, 1).install(&mut sim);
    cluster.client(&mut sim, "app", async move {
        links_up(1).await;
        let mut sub = connect("redis-1").await;
        let mut psub = connect("redis-1").await;
        let mut sub3 = connect("redis-1").await;
        let mut on_replica = connect("redis-2").await;
        let mut publisher = connect("redis-1").await;
        assert_eq!(
            &sub.call_raw(&request("SUBSCRIBE a b")).await?[..],
            b"*3\r\n$9\r\nsubscribe\r\n$1\r\na\r\n:1\r\n"
        );
        assert_eq!(&sub.read_raw().await?[..], b"*3\r\n$9\r\nsubscribe\r\n$1\r\nb\r\n:2\r\n");
        assert_eq!(&psub.call_raw(&request("PSUBSCRIBE h*")).await?[..], b"*3\r\n$10\r\npsubscribe\r\n$2\r\nh*\r\n:1\r\n");
        sub3.set_protocol(Protocol::Resp3);
        sub3.call(&["HELLO", "3"]).await?;
        assert_eq!(&sub3.call_raw(&request("SUBSCRIBE a")).await?[..], b">3\r\n$9\r\nsubscribe\r\n$1\r\na\r\n:1\r\n");
        on_replica.call(&["SUBSCRIBE", "a"]).await?;
        assert_eq!(&publisher.call_raw(&request("PUBLISH a hi")).await?[..], b":2\r\n");
        assert_eq!(&sub.read_raw().await?[..], b"*3\r\n$7\r\nmessage\r\n$1\r\na\r\n$2\r\nhi\r\n");
        assert_eq!(&sub3.read_raw().await?[..], b">3\r\n$7\r\nmessage\r\n$1\r\na\r\n$2\r\nhi\r\n");
        assert_eq!(&on_replica.read_raw().await?[..], b"*3\r\n$7\r\nmessage\r\n$1\r\na\r\n$2\r\nhi\r\n");
        publisher.call(&["PUBLISH", "hello", "world"]).await?;
        assert_eq!(&psub.read_raw().await?[..], b"*4\r\n$8\r\npmessage\r\n$2\r\nh*\r\n$5\r\nhello\r\n$5\r\nworld\r\n");
        let ctx = "-ERR Can't execute 'get': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context\r\n";
        assert_eq!(String::from_utf8_lossy(&sub.call_raw(&request("GET k")).await?), ctx);
        assert_eq!(&sub.call_raw(&request("PING")).await?[..], b"*2\r\n$4\r\npong\r\n$0\r\n\r\n");
        assert_eq!(&sub3.call_raw(&request("GET k")).await?[..], b"_\r\n", "RESP3 allows commands while subscribed");
        assert_eq!(&sub.call_raw(&request("UNSUBSCRIBE a")).await?[..], b"*3\r\n$11\r\nunsubscribe\r\n$1\r\na\r\n:1\r\n");
        assert_eq!(&sub.call_raw(&request("UNSUBSCRIBE")).await?[..], b"*3\r\n$11\r\nunsubscribe\r\n$1\r\nb\r\n:0\r\n");
        assert_eq!(&sub.call_raw(&request("UNSUBSCRIBE")).await?[..], b"*3\r\n$11\r\nunsubscribe\r\n$-1\r\n:0\r\n");
        assert_eq!(&sub.call_raw(&request("PING")).await?[..], b"+PONG\r\n");
        Ok(())
    });
    cluster.run(&mut sim)
}

#[test]
fn monitor_shows_commands_in_redis_format() -> turmoil::Result {
    let mut sim = redsim::sim_builder(25, &network(1))
        .simulation_duration(Duration::from_secs(60))
        .build();
    let mut cluster = deployment(25, 1, 1).install(&mut sim);
    cluster.client(&mut sim, "app", async move {
        links_up(1).await;
        let mut mon = connect("redis-1").await;
        let mut rmon = connect("redis-2").await;
        assert_eq!(&mon.call_raw(b"MONITOR\r\n").await?[..], b"+OK\r\n");
        assert_eq!(&rmon.call_raw(b"MONITOR\r\n").await?[..], b"+OK\r\n");
        let mut app = RespConn::connect(redsim_net::Net::Turmoil, "redis-1", PORT, TIMEOUT).await?;
        app.call(&["SET", "sp ace", "q\"uo\te\n\x01"]).await?;
        app.call(&["AUTH", "secret"]).await?;
        app.call(&["CONFIG", "GET", "port"]).await?;
        app.call(&["GET", "k"]).await?;
        let line = |b: bytes::Bytes| String::from_utf8_lossy(&b).into_owned();
        let first = line(mon.read_raw().await?);
        // +<unix seconds>.<microseconds> [0 <ip>:<port>] "SET" ... on the simulation's clock (epoch 1.7e9).
        assert!(first.starts_with("+1700000"), "{first}");
        assert!(
            first[1..]
                .split_once(' ')
                .is_some_and(|(ts, rest)| ts.len() == 17 && rest.starts_with("[0 ")),
            "{first}"
        );
        assert!(
            first.ends_with("] \"SET\" \"sp ace\" \"q\\\"uo\\te\\n\\x01\"\r\n"),
            "{first}"
        );
        assert!(line(mon.read_raw().await?).ends_with("\"AUTH\" \"(redacted)\"\r\n"));
        assert!(
            line(mon.read_raw().await?).ends_with("\"GET\" \"k\"\r\n"),
            "CONFIG is hidden, as in Redis"
        );
        // The replica's monitor shows the command arriving from the master, with the master's address.
        let applied = line(rmon.read_raw().await?);
        assert!(applied.contains(":6379] \"SET\" \"sp ace\""), "{applied}");
        assert_eq!(
            &mon.call_raw(b"GET k\r\n").await?[..],
            b"-ERR Replica can't interact with the keyspace\r\n"
        );
        Ok(())
    });
    cluster.run(&mut sim)
}

#[test]
fn connections_beyond_maxclients_are_refused() -> turmoil::Result {
    let mut sim = redsim::sim_builder(26, &network(1))
        .simulation_duration(Duration::from_secs(30))
        .build();
    let mut cluster = deployment(26, 0, 1)
        .node_config(|cfg| {
            node_defaults(cfg);
            cfg.maxclients = 2;
        })
        .install(&mut sim);
    cluster.client(&mut sim, "app", async move {
        let mut a = connect("redis-1").await;
        let mut b = connect("redis-1").await;
        a.call(&["PING"]).await?;
        b.call(&["PING"]).await?;
        let mut c = connect("redis-1").await;
        assert_eq!(&c.read_raw().await?[..], b"-ERR max number of clients reached\r\n");
        assert!(c.read_raw().await.is_err(), "closed after the error");
        drop(b);
        sleep(Duration::from_millis(10)).await;
        let mut d = connect("redis-1").await;
        assert_eq!(
            &d.call_raw(b"PING\r\n").await?[..],
            b"+PONG\r\n",
            "a freed slot is reusable"
        );
        let stats = a.call(&["INFO", "stats"]).await?;
        assert_eq!(info_field(&stats, "rejected_connections").as_deref(), Some("1"));
        Ok(())
    });
    cluster.run(&mut sim)
}

/// SCAN's guarantee, which clients rely on to walk a keyspace: every key present for the whole iteration comes
/// back exactly once, in small steps, while other keys come and go between the calls; and the cursor ends at 0.
#[test]
fn scan_returns_every_key_that_stays_exactly_once() -> turmoil::Result {
    let mut sim = redsim::sim_builder(21, &network(1))
        .simulation_duration(Duration::from_secs(60))
        .build();
    let mut cluster = deployment(21, 0, 1).install(&mut sim);
    cluster.client(&mut sim, "app", async move {
        let mut c = connect("redis-1").await;
        for i in 0..50 {
            c.call(&["SET", &format!("stay:{i}"), "v"]).await?;
        }
        let mut seen: Vec<String> = Vec::new();
        let mut cursor = "0".to_string();
        let mut calls = 0;
        loop {
            let reply = c.call(&["SCAN", &cursor, "COUNT", "3", "MATCH", "stay:*"]).await?;
            let (next, keys) = match reply.as_array() {
                Some([next, keys]) => (next.clone(), keys.clone()),
                _ => panic!("SCAN answered {reply:?}"),
            };
            seen.extend(keys.as_array().unwrap_or_default().iter().filter_map(Reply::as_text));
            // Keys that come and go during the iteration: they may or may not be returned.
            c.call(&["SET", &format!("come:{calls}"), "v"]).await?;
            c.call(&["DEL", &format!("come:{}", calls / 2)]).await?;
            calls += 1;
            cursor = next.as_text().expect("a cursor");
            if cursor == "0" {
                break;
            }
            assert!(calls < 100, "SCAN never ended");
        }
        seen.sort();
        let mut want: Vec<String> = (0..50).map(|i| format!("stay:{i}")).collect();
        want.sort();
        assert_eq!(seen, want);
        assert!(calls >= 50 / 3, "{calls} calls of COUNT 3 for 50 keys");
        Ok(())
    });
    cluster.run(&mut sim)
}
