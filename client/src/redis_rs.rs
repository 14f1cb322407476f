//! redis-rs code through the routing client (feature `redis-rs`).
//!
//! Most Rust services already talk to Redis through redis-rs: `AsyncCommands`, `redis::pipe()`, `redis::cmd()`.
//! All of that is written against one trait, [`redis::aio::ConnectionLike`], which asks a connection for two
//! things: run one command, run a pipeline. [`Client`] implements it, so the same code gets the client's
//! Sentinel discovery, read/write split, ejection and retries without being rewritten, in production on tokio
//! TCP and in redsim's simulations on turmoil (the client's `Net` seam decides; nothing here knows).
//!
//! What the adapter has to get right, and why:
//! - **Bytes stay bytes.** redis-rs arguments are binary (`Cmd::args_iter()` yields `&[u8]`), so they go to the
//!   client's byte path as they are: a value holding `\r\n` or `0x00` must reach the server unchanged.
//! - **Routing reads the command name only.** The adapter never looks inside arguments; a command is a read
//!   exactly when [`crate::is_read_only`] says so, as for the client's own API. A pipeline is read-only when
//!   every command is, and a transaction always goes to the master.
//! - **Transactions are packed by redis-rs and unpacked here.** `pipe().atomic().query_async()` does not send
//!   MULTI and EXEC itself: it calls `req_packed_commands(pipeline, n + 1, 1)` and expects the connection to
//!   send `MULTI`, the `n` commands and `EXEC`, skip `n + 1` replies (`+OK` and the `+QUEUED`s) and hand back
//!   one: EXEC's array. The client's transaction path sends exactly those commands in one piece (so nothing
//!   lands inside them on the shared connection), and the offset and count are applied to the replies it gets.
//! - **Errors are classified by redis-rs, not by us.** redis-rs decides an error's [`redis::ErrorKind`] from
//!   the code in the error line (`READONLY` is `ReadOnly`, `LOADING` is `BusyLoading`, an unknown code such as
//!   `WRONGTYPE` is an `Extension` error keeping its code), and its `ServerError` has no public constructor. So
//!   the line is handed to redis-rs's own parser, and application code that matches on kinds behaves as it does
//!   on a plain redis-rs connection.
//! - **The client's own failures keep their words.** A redsim error (no replica, master unreachable, deadline)
//!   becomes the nearest redis-rs kind (`Io` for connections and timeouts, so `is_timeout()` and `retry_method()`
//!   answer sensibly; redis-rs's Sentinel kinds for a missing master or replica) with the redsim text in its
//!   message: the reason a read failed must survive the translation.

use std::io;

use bytes::{Bytes, BytesMut};
use redis::{Arg, Cmd, ErrorKind, Pipeline, PushKind, RedisError, RedisFuture, RedisResult, ServerError, Value};
use redsim_resp::{Reply, RequestParser};

use crate::client::Client;
use crate::config::parse_addr;
use crate::error::Error;

/// Runs redis-rs commands and pipelines through the routing client: reads follow the read policy, everything
/// else goes to the master, and failures are retried elsewhere as for the client's own API.
///
/// ```no_run
/// use redis::AsyncCommands;
///
/// # async fn demo(client: redsim_client::Client) -> redis::RedisResult<()> {
/// // A clone shares the client's connections and state. Hold it as `&mut Client`: on a `Client` value, the
/// // client's own typed `get`/`set`/`del`... are inherent methods and win over `AsyncCommands`'.
/// let con = &mut client.clone();
/// con.set::<_, _, ()>("k", b"\x00\r\n".as_slice()).await?; // a write: the master
/// let v: Vec<u8> = con.get("k").await?; // a read: a replica (it may lag the write)
/// let (a, b): (i64, i64) = redis::pipe().atomic().incr("n", 1).incr("n", 1).query_async(con).await?;
/// # let _ = (v, a, b);
/// # Ok(()) }
/// ```
///
/// Code generic over `impl redis::aio::ConnectionLike` or `impl AsyncCommands` takes a `&mut Client` as it is.
///
/// The connection is shared by every caller, so connection state does not belong on it: `get_db` is always 0
/// (`SELECT` would move every caller), and `WATCH` or Pub/Sub need a connection of their own. Commands that
/// expect no reply (redis-rs's RESP3 Pub/Sub) are refused with a `Client` error for the same reason.
impl redis::aio::ConnectionLike for Client {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        Box::pin(async move {
            if cmd.is_no_response() {
                return Err(RedisError::from((
                    ErrorKind::Client,
                    "commands without a reply (Pub/Sub) need a connection of their own",
                )));
            }
            let args = args_of(cmd)?;
            match self.command_bytes(args).await {
                // A top-level error reply is the call's error, as `Cmd::query_async` would make it.
                Ok(Reply::Error(line)) => Err(server_error(&line)),
                Ok(reply) => to_value(reply),
                Err(e) => Err(to_redis_error(e)),
            }
        })
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        Box::pin(async move {
            let cmds = pipeline.cmd_iter().map(args_of).collect::<RedisResult<Vec<_>>>()?;
            let transaction = pipeline.is_transaction();
            let sent = cmds.len() + if transaction { 2 } else { 0 };
            // Checked before anything is sent: a wrong window would otherwise read replies that never come.
            if offset.checked_add(count).is_none_or(|end| end > sent) {
                return Err(RedisError::from((
                    ErrorKind::Client,
                    "pipeline asked for more replies than its commands produce",
                    format!("offset {offset} + count {count} > {sent} replies"),
                )));
            }
            if sent == 0 {
                return Ok(Vec::new());
            }
            let replies = self
                .run_pipeline_raw(&cmds, transaction)
                .await
                .map_err(to_redis_error)?;
            select_replies(replies, sent, transaction, offset, count)
        })
    }

    fn get_db(&self) -> i64 {
        0
    }
}

/// A command's arguments as bytes, without re-encoding them.
fn args_of(cmd: &Cmd) -> RedisResult<Vec<Bytes>> {
    let mut args = Vec::with_capacity(cmd.args_iter().len());
    for arg in cmd.args_iter() {
        match arg {
            Arg::Simple(bytes) => args.push(Bytes::copy_from_slice(bytes)),
            // A cursor (`SCAN` through `AsyncIter`) keeps its value private to `Cmd`; only the packed command
            // carries it, so the arguments are read back from that.
            _ => return args_from_packed(cmd),
        }
    }
    if args.is_empty() {
        // `*0` gets no reply from Redis: sent, it would leave the shared connection waiting for one.
        return Err(RedisError::from((ErrorKind::Client, "empty command")));
    }
    Ok(args)
}

/// The arguments of a command as redis-rs encodes it for the wire, parsed back with the fakes' request parser.
fn args_from_packed(cmd: &Cmd) -> RedisResult<Vec<Bytes>> {
    let mut packed = BytesMut::from(cmd.get_packed_command().as_slice());
    match RequestParser::new().parse(&mut packed, true) {
        Ok(Some(req)) if packed.is_empty() && !req.args.is_empty() => Ok(req.args),
        _ => Err(RedisError::from((
            ErrorKind::Client,
            "cannot read back the arguments of a packed command",
        ))),
    }
}

/// Applies redis-rs's `offset` and `count` to the replies of a pipeline's `sent` commands (its own, plus MULTI
/// and EXEC for a transaction).
///
/// A transaction whose commands were refused while queueing fails as a whole with an `ExecAbort` error, as on
/// redis-rs's multiplexed connection; the per-command errors, which redis-rs lists in a form only it can build,
/// are appended to the message instead. An error as EXEC's own reply (EXECABORT) is the call's error too:
/// it is the only thing a caller can act on.
fn select_replies(
    mut replies: Vec<Reply>,
    sent: usize,
    transaction: bool,
    offset: usize,
    count: usize,
) -> RedisResult<Vec<Value>> {
    if replies.len() != sent {
        return Err(RedisError::from((
            ErrorKind::Parse,
            "a pipeline got a different number of replies than it sent commands",
            format!("{} replies to {sent} commands", replies.len()),
        )));
    }
    if transaction {
        let refused: Vec<String> = replies[..offset]
            .iter()
            .enumerate()
            .filter_map(|(i, r)| match r {
                Reply::Error(e) if i == 0 => Some(format!("MULTI: {e}")),
                Reply::Error(e) => Some(format!("command {}: {e}", i - 1)),
                _ => None,
            })
            .collect();
        if !refused.is_empty() {
            let exec = match replies.last() {
                Some(Reply::Error(e)) if e.starts_with("EXECABORT") => e.as_str(),
                _ => "EXECABORT Transaction discarded because of previous errors.",
            };
            return Err(server_error(&format!("{exec} ({})", refused.join("; "))));
        }
    }
    let window = replies.drain(offset..offset + count);
    if transaction {
        let mut values = Vec::with_capacity(count);
        for r in window {
            match r {
                Reply::Error(line) => return Err(server_error(&line)),
                other => values.push(to_value(other)?),
            }
        }
        return Ok(values);
    }
    // Errors inside a plain pipeline stay values: redis-rs reports them per command (or hands them out, with
    // `ignore_errors`).
    window.map(to_value).collect()
}

/// A reply as redis-rs's own parser would have produced it from the same bytes.
fn to_value(reply: Reply) -> RedisResult<Value> {
    Ok(match reply {
        Reply::Simple(s) if s == "OK" => Value::Okay,
        Reply::Simple(s) => Value::SimpleString(s),
        Reply::Error(line) => Value::ServerError(parse_server_error(&line)?),
        Reply::Int(i) => Value::Int(i),
        Reply::Bulk(b) => Value::BulkString(Vec::from(b)),
        Reply::Nil | Reply::NilArray => Value::Nil,
        Reply::Array(items) => Value::Array(values(items)?),
        Reply::Set(items) => Value::Set(values(items)?),
        Reply::Map(pairs) => Value::Map(
            pairs
                .into_iter()
                .map(|(k, v)| Ok((to_value(k)?, to_value(v)?)))
                .collect::<RedisResult<_>>()?,
        ),
        Reply::Double(d) => Value::Double(d),
        Reply::Verbatim(format, text) => Value::VerbatimString {
            format: match format {
                "txt" => redis::VerbatimFormat::Text,
                "mkd" => redis::VerbatimFormat::Markdown,
                other => redis::VerbatimFormat::Unknown(other.to_string()),
            },
            // redis-rs reads verbatim text lossily too.
            text: String::from_utf8_lossy(&text).into_owned(),
        },
        Reply::Push(items) => {
            let mut items = items.into_iter();
            let kind = items.next().and_then(|k| k.as_text()).unwrap_or_default();
            Value::Push {
                kind: push_kind(&kind),
                data: values(items.collect())?,
            }
        }
    })
}

fn values(items: Vec<Reply>) -> RedisResult<Vec<Value>> {
    items.into_iter().map(to_value).collect()
}

/// redis-rs's name for a push (`message`, `invalidate`, ...), from its own parser: the table is redis-rs's.
fn push_kind(name: &str) -> PushKind {
    let mut wire = format!(">1\r\n${}\r\n", name.len()).into_bytes();
    wire.extend_from_slice(name.as_bytes());
    wire.extend_from_slice(b"\r\n");
    match redis::parse_redis_value(&wire) {
        Ok(Value::Push { kind, .. }) => kind,
        _ => PushKind::Other(name.to_string()),
    }
}

/// An error line (`READONLY You can't write ...`) as redis-rs's parser reads it: the code decides the kind.
fn parse_server_error(line: &str) -> RedisResult<ServerError> {
    // An error line ends at the first CR LF; one inside the text would cut it short.
    let one_line: String = line
        .chars()
        .map(|c| if c == '\r' || c == '\n' { ' ' } else { c })
        .collect();
    if let Ok(Value::ServerError(e)) = redis::parse_redis_value(format!("-{one_line}\r\n").as_bytes()) {
        return Ok(e);
    }
    // Not reached for valid UTF-8 on one line; kept so that no text can turn an error into a success.
    let (code, detail) = match one_line.split_once(' ') {
        Some((c, d)) => (c.to_string(), Some(d.to_string())),
        None => (one_line, None),
    };
    ServerError::try_from(redis::make_extension_error(code, detail))
}

/// A server's error line as the call's error.
fn server_error(line: &str) -> RedisError {
    match parse_server_error(line) {
        Ok(e) => RedisError::from(e),
        Err(e) => e,
    }
}

/// The client's error as the redis-rs error a caller would get in the same situation from redis-rs.
pub(crate) fn to_redis_error(e: Error) -> RedisError {
    match e {
        Error::Server(text) => server_text(&text),
        Error::Io(ref msg) | Error::MasterUnavailable(ref msg) => {
            let kind = io_kind(msg);
            RedisError::from(io::Error::new(kind, e))
        }
        Error::DeadlineExceeded => RedisError::from(io::Error::new(io::ErrorKind::TimedOut, e)),
        // redis-rs's Sentinel client reports the last connection's error when no Sentinel answers.
        Error::NoSentinelReachable => RedisError::from(io::Error::new(io::ErrorKind::NotConnected, e)),
        Error::NoReplicaAvailable => general(
            ErrorKind::NoValidReplicasFoundBySentinel,
            "redsim_client::Error::NoReplicaAvailable",
            e,
        ),
        Error::MasterUnknown(_) => general(
            ErrorKind::MasterNameNotFoundBySentinel,
            "redsim_client::Error::MasterUnknown",
            e,
        ),
        // A node that is not what Sentinel said: redis-rs's Sentinel client skips it, and with nothing left
        // reports the master (or replica) as not found, a kind it retries after waiting.
        Error::RoleMismatch { expected: "master", .. } => general(
            ErrorKind::MasterNameNotFoundBySentinel,
            "redsim_client::Error::RoleMismatch",
            e,
        ),
        Error::RoleMismatch { .. } => general(
            ErrorKind::NoValidReplicasFoundBySentinel,
            "redsim_client::Error::RoleMismatch",
            e,
        ),
        Error::Protocol(_) => general(ErrorKind::Parse, "redsim_client::Error::Protocol", e),
        Error::Config(_) => general(ErrorKind::InvalidClientConfig, "redsim_client::Error::Config", e),
    }
}

/// A redis-rs error of `kind` whose message is `origin - Kind: <the redsim error's text>`.
fn general(kind: ErrorKind, origin: &'static str, e: Error) -> RedisError {
    RedisError::from((kind, origin, e.to_string()))
}

/// The client's connection messages say what happened in words (the client itself tells an ambiguous timeout
/// from a refusal by them); redis-rs's `is_timeout()` and `is_connection_refusal()` read the io kind.
fn io_kind(msg: &str) -> io::ErrorKind {
    if msg.contains("timed out") {
        io::ErrorKind::TimedOut
    } else if msg.contains("refused") {
        io::ErrorKind::ConnectionRefused
    } else {
        // What redis-rs itself reports for a connection that closed without a reason.
        io::ErrorKind::BrokenPipe
    }
}

/// `Error::Server` holds either a reply's error line (`ERR ...`, a refusal's bare code such as `READONLY`) or,
/// when opening a connection failed, the node's address and the reply (`10.0.0.5:6379: WRONGPASS ...`).
fn server_text(text: &str) -> RedisError {
    let handshake = text
        .split_once(": ")
        .filter(|(addr, _)| !addr.contains(char::is_whitespace) && parse_addr(addr).is_ok());
    let Some((addr, line)) = handshake else {
        return server_error(text);
    };
    let code = line.split(' ').next().unwrap_or_default();
    if matches!(code, "NOAUTH" | "WRONGPASS") {
        // redis-rs fails a connection whose AUTH is refused with `AuthenticationFailed`, whatever the code.
        return RedisError::from((
            ErrorKind::AuthenticationFailed,
            "Password authentication failed",
            text.into(),
        ));
    }
    server_error(&format!("{line} (from {addr}, while connecting)"))
}

#[cfg(test)]
mod tests {
    use redis::ServerErrorKind as S;

    use super::*;

    fn kind_of(line: &str) -> ErrorKind {
        server_error(line).kind()
    }

    #[test]
    fn server_error_codes_get_redis_rs_kinds() {
        let cases = [
            (
                "ERR value is not an integer or out of range",
                ErrorKind::Server(S::ResponseError),
            ),
            (
                "EXECABORT Transaction discarded because of previous errors.",
                ErrorKind::Server(S::ExecAbort),
            ),
            (
                "LOADING Redis is loading the dataset in memory",
                ErrorKind::Server(S::BusyLoading),
            ),
            ("NOSCRIPT No matching script.", ErrorKind::Server(S::NoScript)),
            ("MOVED 3999 127.0.0.1:6381", ErrorKind::Server(S::Moved)),
            ("ASK 3999 127.0.0.1:6381", ErrorKind::Server(S::Ask)),
            (
                "TRYAGAIN Multiple keys request during rehashing of slot",
                ErrorKind::Server(S::TryAgain),
            ),
            ("CLUSTERDOWN The cluster is down", ErrorKind::Server(S::ClusterDown)),
            (
                "CROSSSLOT Keys in request don't hash to the same slot",
                ErrorKind::Server(S::CrossSlot),
            ),
            (
                "MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.",
                ErrorKind::Server(S::MasterDown),
            ),
            (
                "READONLY You can't write against a read only replica.",
                ErrorKind::Server(S::ReadOnly),
            ),
            (
                "NOTBUSY No scripts in execution right now.",
                ErrorKind::Server(S::NotBusy),
            ),
            ("NOSUB no subscription", ErrorKind::Server(S::NoSub)),
            ("NOPERM this user has no permissions", ErrorKind::Server(S::NoPerm)),
            // Codes redis-rs has no kind for stay extension errors, with their code.
            (
                "WRONGTYPE Operation against a key holding the wrong kind of value",
                ErrorKind::Extension,
            ),
            ("NOAUTH Authentication required.", ErrorKind::Extension),
            (
                "WRONGPASS invalid username-password pair or user is disabled.",
                ErrorKind::Extension,
            ),
            ("NOREPLICAS Not enough good replicas to write.", ErrorKind::Extension),
        ];
        for (line, kind) in cases {
            assert_eq!(kind_of(line), kind, "{line}");
            let e = server_error(line);
            assert_eq!(e.code(), line.split(' ').next(), "{line}");
            let detail = line.split_once(' ').map(|(_, d)| d);
            assert_eq!(e.detail(), detail, "{line}");
        }
        assert_eq!(
            server_error("MOVED 3999 127.0.0.1:6381").redirect_node(),
            Some(("127.0.0.1:6381", 3999))
        );
        assert_eq!(
            kind_of("READONLY"),
            ErrorKind::Server(S::ReadOnly),
            "a refusal's bare code"
        );
    }

    #[test]
    fn error_text_with_line_breaks_keeps_its_code() {
        let e = server_error("ERR bad\r\nthing\n");
        assert_eq!(e.kind(), ErrorKind::Server(S::ResponseError));
        assert!(e.to_string().contains("bad  thing"), "{e}");
        assert_eq!(server_error("").kind(), ErrorKind::Extension);
    }

    #[test]
    fn connection_handshake_errors_keep_the_address_and_auth_fails_as_redis_rs_does() {
        let e = to_redis_error(Error::Server("10.0.0.5:6379: WRONGPASS invalid password".into()));
        assert_eq!(e.kind(), ErrorKind::AuthenticationFailed);
        assert!(
            e.to_string().contains("10.0.0.5:6379: WRONGPASS invalid password"),
            "{e}"
        );
        let e = to_redis_error(Error::Server("redis-2:6379: NOAUTH Authentication required.".into()));
        assert_eq!(e.kind(), ErrorKind::AuthenticationFailed);
        let e = to_redis_error(Error::Server("redis-2:6379: LOADING Redis is loading".into()));
        assert_eq!(e.kind(), ErrorKind::Server(S::BusyLoading));
        assert!(e.to_string().contains("redis-2:6379"), "{e}");
        // A script error names a line with a colon; it is a reply, not a handshake.
        let e = to_redis_error(Error::Server(
            "ERR user_script:1: Script attempted to access nonexistent global variable 'x'".into(),
        ));
        assert_eq!(e.kind(), ErrorKind::Server(S::ResponseError));
        assert_eq!(
            to_redis_error(Error::Server("READONLY".into())).kind(),
            ErrorKind::Server(S::ReadOnly)
        );
    }

    #[test]
    fn client_errors_get_sensible_kinds_and_keep_their_text() {
        let cases = [
            (Error::Io("redis-2:6379: read timed out".into()), ErrorKind::Io),
            (Error::Io("redis-2:6379: connection refused".into()), ErrorKind::Io),
            (Error::Io("redis-2:6379: connection closed".into()), ErrorKind::Io),
            (
                Error::MasterUnavailable("redis-1:6379: connect timed out".into()),
                ErrorKind::Io,
            ),
            (Error::DeadlineExceeded, ErrorKind::Io),
            (Error::NoSentinelReachable, ErrorKind::Io),
            (Error::NoReplicaAvailable, ErrorKind::NoValidReplicasFoundBySentinel),
            (
                Error::MasterUnknown("mymaster".into()),
                ErrorKind::MasterNameNotFoundBySentinel,
            ),
            (
                Error::RoleMismatch {
                    addr: "redis-2:6379".into(),
                    expected: "master",
                    actual: "slave".into(),
                },
                ErrorKind::MasterNameNotFoundBySentinel,
            ),
            (
                Error::RoleMismatch {
                    addr: "redis-1:6379".into(),
                    expected: "replica",
                    actual: "master".into(),
                },
                ErrorKind::NoValidReplicasFoundBySentinel,
            ),
            (Error::Protocol("unexpected EXEC reply".into()), ErrorKind::Parse),
            (
                Error::Config("no Sentinel given".into()),
                ErrorKind::InvalidClientConfig,
            ),
        ];
        for (e, kind) in cases {
            let text = e.to_string();
            let r = to_redis_error(e);
            assert_eq!(r.kind(), kind, "{text}");
            assert!(r.to_string().contains(&text), "{r} lacks {text}");
        }
        let no_replica = to_redis_error(Error::NoReplicaAvailable).to_string();
        assert!(no_replica.contains("NoReplicaAvailable"), "{no_replica}");
        assert!(to_redis_error(Error::Io("x: read timed out".into())).is_timeout());
        assert!(to_redis_error(Error::DeadlineExceeded).is_timeout());
        assert!(to_redis_error(Error::Io("x: connection refused".into())).is_connection_refusal());
        assert!(to_redis_error(Error::Io("x: connection closed".into())).is_connection_dropped());
    }

    #[test]
    fn replies_become_the_values_redis_rs_would_parse() {
        let cases = [
            (Reply::ok(), Value::Okay),
            (Reply::Simple("QUEUED".into()), Value::SimpleString("QUEUED".into())),
            (Reply::Int(-7), Value::Int(-7)),
            (
                Reply::Bulk(Bytes::from_static(b"\x00\r\n\xff")),
                Value::BulkString(b"\x00\r\n\xff".to_vec()),
            ),
            (Reply::Nil, Value::Nil),
            (Reply::NilArray, Value::Nil),
            (Reply::Double(1.5), Value::Double(1.5)),
            (
                Reply::Array(vec![Reply::Int(1), Reply::Nil]),
                Value::Array(vec![Value::Int(1), Value::Nil]),
            ),
            (
                Reply::Set(vec![Reply::text("a")]),
                Value::Set(vec![Value::BulkString(b"a".to_vec())]),
            ),
            (
                Reply::Map(vec![(Reply::text("a"), Reply::Int(1))]),
                Value::Map(vec![(Value::BulkString(b"a".to_vec()), Value::Int(1))]),
            ),
            (
                Reply::Verbatim("txt", Bytes::from_static(b"hi")),
                Value::VerbatimString {
                    format: redis::VerbatimFormat::Text,
                    text: "hi".into(),
                },
            ),
            (
                Reply::Push(vec![Reply::text("message"), Reply::text("ch"), Reply::text("hello")]),
                Value::Push {
                    kind: PushKind::Message,
                    data: vec![Value::BulkString(b"ch".to_vec()), Value::BulkString(b"hello".to_vec())],
                },
            ),
            (
                Reply::Push(vec![Reply::text("custom")]),
                Value::Push {
                    kind: PushKind::Other("custom".into()),
                    data: vec![],
                },
            ),
        ];
        for (reply, value) in cases {
            let summary = reply.summary();
            assert_eq!(to_value(reply).unwrap(), value, "{summary}");
        }
        // The same bytes through redis-rs's parser give the same values.
        assert_eq!(redis::parse_redis_value(b"+OK\r\n").unwrap(), Value::Okay);
        let Value::ServerError(e) = to_value(Reply::Error("READONLY no".into())).unwrap() else {
            panic!("an error reply inside a reply is a ServerError value");
        };
        assert_eq!(e.kind(), Some(S::ReadOnly));
    }

    #[test]
    fn commands_keep_binary_arguments_and_cursors() {
        let mut c = redis::cmd("SET");
        c.arg(b"k\x00".as_slice()).arg(b"\r\n\xff".as_slice());
        assert_eq!(
            args_of(&c).unwrap(),
            vec![
                Bytes::from_static(b"SET"),
                Bytes::from_static(b"k\x00"),
                Bytes::from_static(b"\r\n\xff")
            ]
        );
        let mut scan = redis::cmd("SCAN");
        scan.cursor_arg(17).arg("MATCH").arg("k*");
        assert_eq!(
            args_of(&scan).unwrap(),
            ["SCAN", "17", "MATCH", "k*"].map(|a| Bytes::copy_from_slice(a.as_bytes()))
        );
        assert_eq!(args_of(&Cmd::new()).unwrap_err().kind(), ErrorKind::Client);
    }

    fn queued(n: usize) -> Vec<Reply> {
        std::iter::repeat_n(Reply::Simple("QUEUED".into()), n).collect()
    }

    #[test]
    fn an_atomic_pipeline_skips_multi_and_the_queued_replies() {
        // redis-rs asks for replies [n + 1, n + 2): EXEC's.
        let mut replies = vec![Reply::ok()];
        replies.extend(queued(2));
        replies.push(Reply::Array(vec![
            Reply::Int(1),
            Reply::Error("ERR not an integer".into()),
        ]));
        let got = select_replies(replies, 4, true, 3, 1).unwrap();
        let [Value::Array(items)] = got.as_slice() else {
            panic!("{got:?}")
        };
        assert_eq!(items[0], Value::Int(1));
        assert!(matches!(&items[1], Value::ServerError(e) if e.kind() == Some(S::ResponseError)));
        // A WATCH abort: EXEC's nil, which redis-rs turns into its own `Nil` result.
        let mut replies = vec![Reply::ok()];
        replies.extend(queued(1));
        replies.push(Reply::NilArray);
        assert_eq!(select_replies(replies, 3, true, 2, 1).unwrap(), vec![Value::Nil]);
    }

    #[test]
    fn a_command_refused_while_queueing_aborts_the_transaction() {
        let replies = vec![
            Reply::ok(),
            Reply::Simple("QUEUED".into()),
            Reply::Error("ERR wrong number of arguments for 'get' command".into()),
            Reply::Error("EXECABORT Transaction discarded because of previous errors.".into()),
        ];
        let e = select_replies(replies, 4, true, 3, 1).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Server(S::ExecAbort));
        let text = e.to_string();
        assert!(
            text.contains("command 1: ERR wrong number of arguments for 'get' command"),
            "{text}"
        );
        // EXEC's own error is the call's error.
        let replies = vec![
            Reply::ok(),
            Reply::Error("EXECABORT Transaction discarded because of: READONLY x".into()),
        ];
        assert_eq!(
            select_replies(replies, 2, true, 1, 1).unwrap_err().kind(),
            ErrorKind::Server(S::ExecAbort)
        );
    }

    #[test]
    fn a_plain_pipeline_keeps_errors_as_values_and_honours_the_window() {
        let replies = vec![Reply::ok(), Reply::Error("WRONGTYPE x".into()), Reply::Int(3)];
        let got = select_replies(replies.clone(), 3, false, 0, 3).unwrap();
        assert_eq!(got[0], Value::Okay);
        assert!(matches!(&got[1], Value::ServerError(e) if e.code() == "WRONGTYPE"));
        assert_eq!(
            select_replies(replies.clone(), 3, false, 2, 1).unwrap(),
            vec![Value::Int(3)]
        );
        assert_eq!(
            select_replies(replies, 4, false, 0, 4).unwrap_err().kind(),
            ErrorKind::Parse
        );
    }
}
