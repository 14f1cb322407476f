//! EVAL, EVALSHA, EVAL_RO, EVALSHA_RO and SCRIPT, as Redis 7.0 runs them: a script is compiled once into the
//! node's Lua interpreter ([`crate::script_cache`]) and cached by the SHA1 of its body, and each `redis.call`
//! inside it runs through the node's own command path ([`State::run`]), after the checks Redis makes for
//! commands called from scripts.
//!
//! What a script writes reaches the replicas as the commands it ran (Redis 7.0's effects replication: the EVAL
//! itself is never sent), wrapped in MULTI/EXEC when there are two or more of them, exactly as the node wraps
//! EXEC's writes ([`State::begin_effects`]). MONITOR shows the EVAL, then each command it ran as coming from
//! `lua`. INFO commandstats counts the inner commands. The execution log records each inner command under the
//! caller's client id, then the EVAL itself when it returns, the way EXEC's queued commands are logged before
//! the EXEC: the log is the ground truth of which commands ran where, and a GET inside a script is a read.
//!
//! Deviations, all documented at the place they are made: an endless script is stopped by an instruction
//! budget instead of making the node BUSY (see [`crate::script_cache`]); shebang flags (`#!lua flags=...`) are
//! refused; errors returned by `redis.pcall` are not counted in INFO errorstats (the EVAL's own error is); the
//! libraries Redis adds to its Lua (`cjson`, `cmsgpack`, `bit`, `struct`) are not there, so a script using them
//! fails on the undefined global.

use bytes::Bytes;
use redsim_resp::{Protocol, Reply};

use crate::command::{self, CommandSpec};
use crate::commands::{int_arg, is};
use crate::log::{ClientKind, Role};
use crate::node::{LinkState, Outcome, State};

/// Commands Redis 7.0 flags `noscript` (of those the fake has): refused inside a script with
/// "This Redis command is not allowed from script". CLIENT, CONFIG and SCRIPT are container commands whose
/// subcommands the fake implements are all `noscript` (SCRIPT HELP aside, which no script needs).
const NOSCRIPT: &[&str] = &[
    "auth",
    "client",
    "config",
    "discard",
    "eval",
    "eval_ro",
    "evalsha",
    "evalsha_ro",
    "exec",
    "hello",
    "monitor",
    "multi",
    "psubscribe",
    "psync",
    "punsubscribe",
    "quit",
    "replconf",
    "replicaof",
    "reset",
    "role",
    "script",
    "slaveof",
    "subscribe",
    "sync",
    "unsubscribe",
    "unwatch",
    "wait",
    "watch",
];

/// Commands that are not writes but replicate something (Redis's `may-replicate`), which read-only scripts
/// refuse as they refuse writes.
const MAY_REPLICATE: &[&str] = &["publish"];

/// `EVAL script numkeys key... arg...` and its three siblings (`name` tells which).
pub(crate) fn eval(st: &mut State, cid: u64, name: &str, args: &[Bytes], now: u64) -> Reply {
    // EVAL is hidden from the generic MONITOR feed so that it can show itself here, before its commands.
    st.feed_monitor_line(cid, None, args);
    let by_sha = name.starts_with("evalsha");
    let read_only = name.ends_with("_ro");
    let numkeys = match int_arg(&args[2]) {
        Ok(n) => n,
        Err(r) => return r,
    };
    if numkeys > args.len() as i64 - 3 {
        return Reply::err("Number of keys can't be greater than number of args");
    }
    if numkeys < 0 {
        return Reply::err("Number of keys can't be negative");
    }
    if by_sha && args[1].len() != 40 {
        return noscript();
    }
    let mut engine = match st.scripts.take() {
        Ok(e) => e,
        Err(e) => return Reply::Error(e),
    };
    let sha = if by_sha {
        let sha = String::from_utf8_lossy(&args[1]).to_ascii_lowercase();
        if !engine.has(&sha) {
            st.scripts.put(engine);
            return noscript();
        }
        sha
    } else {
        match engine.load(&args[1]) {
            Ok(sha) => sha,
            Err(r) => {
                st.scripts.put(engine);
                return r;
            }
        }
    };
    // A script without flags on a stale replica is refused whole (Redis's scriptPrepareForRun).
    if stale_replica(st) {
        st.scripts.put(engine);
        return Reply::Error("MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.".into());
    }
    let split = 3 + numkeys as usize;
    let (keys, argv) = (&args[3..split], &args[split..]);
    let began = st.begin_effects();
    let mut dirty = false;
    let reply = {
        let mut dispatch = |argv: Vec<Bytes>, resp: u8| {
            st.script_proto = Some(if resp == 3 { Protocol::Resp3 } else { Protocol::Resp2 });
            let reply = call_from_script(st, cid, read_only, &mut dirty, argv, now);
            st.script_proto = None;
            reply
        };
        engine.run(&sha, keys, argv, &mut dispatch)
    };
    st.end_effects(cid, began);
    st.scripts.put(engine);
    reply
}

/// One `redis.call` / `redis.pcall`: Redis's checks for a command called from a script (scriptCall), then the
/// node's own dispatch. A refusal is an error reply, which `redis.call` raises and `redis.pcall` returns.
fn call_from_script(st: &mut State, cid: u64, read_only: bool, dirty: &mut bool, argv: Vec<Bytes>, now: u64) -> Reply {
    let Some(spec) = command::lookup(&argv[0]) else {
        return Reply::err("Unknown Redis command called from script");
    };
    if !spec.arity_ok(argv.len()) {
        return Reply::err("Wrong number of args calling Redis command from script");
    }
    if NOSCRIPT.contains(&spec.name) {
        return Reply::err("This Redis command is not allowed from script");
    }
    if stale_replica(st) && !spec.has(command::STALE) {
        return Reply::err("Can not execute the command on a stale replica");
    }
    let writes = spec.has(command::WRITE);
    if read_only && (writes || MAY_REPLICATE.contains(&spec.name)) {
        return Reply::err("Write commands are not allowed from read-only scripts.");
    }
    let from_master = st.clients.get(&cid).is_some_and(|c| c.kind == ClientKind::Master);
    // Once a script has written, a later write is never refused: the script cannot be undone halfway.
    if writes && !*dirty && !from_master {
        if st.role() == Role::Replica && st.cfg.replica_read_only {
            return Reply::Error("READONLY You can't write against a read only replica.".into());
        }
        if st.role() == Role::Master && !st.enough_good_replicas(now) {
            return Reply::Error("NOREPLICAS Not enough good replicas to write.".into());
        }
    }
    if writes {
        *dirty = true;
    }
    if !spec.has(command::SKIP_MONITOR) {
        st.feed_monitor_line(cid, Some("lua"), &argv);
    }
    st.stats.commands_processed += 1;
    let reply = match st.run(cid, spec, &argv, now) {
        Outcome::Reply(r) | Outcome::Close(r) => r,
        Outcome::Many(mut rs) if rs.len() == 1 => rs.remove(0),
        Outcome::Many(rs) => Reply::Array(rs),
        Outcome::Wait { offset, .. } => Reply::Int(st.acked_replicas(offset) as i64),
        Outcome::Silent | Outcome::Raw(_) => Reply::Nil,
    };
    st.count_call(spec, &argv, matches!(reply, Reply::Error(_)));
    st.log_executed(cid, &argv, now, reply.summary());
    reply
}

fn stale_replica(st: &State) -> bool {
    st.role() == Role::Replica && st.repl.link != LinkState::Connected && !st.cfg.replica_serve_stale_data
}

fn noscript() -> Reply {
    Reply::Error("NOSCRIPT No matching script. Please use EVAL.".into())
}

/// `SCRIPT LOAD | EXISTS | FLUSH | KILL | HELP`.
pub(crate) fn script(st: &mut State, args: &[Bytes]) -> Reply {
    const SUBCOMMANDS: &[(&str, i32)] = &[
        ("load", 3),
        ("exists", -3),
        ("flush", -2),
        ("kill", 2),
        ("help", 2),
        ("debug", 3),
    ];
    let sub = String::from_utf8_lossy(&args[1]).to_ascii_lowercase();
    let Some(&(name, arity)) = SUBCOMMANDS.iter().find(|(n, _)| *n == sub) else {
        return Reply::err(format!(
            "unknown subcommand '{}'. Try SCRIPT HELP.",
            String::from_utf8_lossy(&args[1])
        ));
    };
    let spec = CommandSpec { name, arity, flags: 0 };
    if !spec.arity_ok(args.len()) {
        return Reply::err(format!("wrong number of arguments for 'script|{name}' command"));
    }
    match name {
        "load" => {
            let mut engine = match st.scripts.take() {
                Ok(e) => e,
                Err(e) => return Reply::Error(e),
            };
            let r = engine.load(&args[2]);
            st.scripts.put(engine);
            match r {
                Ok(sha) => Reply::Bulk(Bytes::from(sha)),
                Err(e) => e,
            }
        }
        "exists" => Reply::Array(
            args[2..]
                .iter()
                .map(|sha| Reply::Int(st.scripts.exists(sha) as i64))
                .collect(),
        ),
        "flush" => {
            let ok = args.len() == 2 || (args.len() == 3 && (is(&args[2], "sync") || is(&args[2], "async")));
            if !ok {
                return Reply::err("SCRIPT FLUSH only support SYNC|ASYNC option");
            }
            st.scripts.flush();
            Reply::ok()
        }
        // Scripts run to completion under the node's lock, so none is ever running when SCRIPT KILL arrives.
        "kill" => Reply::Error("NOTBUSY No scripts in execution right now.".into()),
        "debug" => Reply::err("SCRIPT DEBUG is not supported by the fake"),
        _ => Reply::Array(HELP.iter().map(|l| Reply::Simple((*l).to_string())).collect()),
    }
}

/// SCRIPT HELP's text, as Redis 7.0.15 prints it.
const HELP: &[&str] = &[
    "SCRIPT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "DEBUG (YES|SYNC|NO)",
    "    Set the debug mode for subsequent scripts executed.",
    "EXISTS <sha1> [<sha1> ...]",
    "    Return information about the existence of the scripts in the script cache.",
    "FLUSH [ASYNC|SYNC]",
    "    Flush the Lua scripts cache. Very dangerous on replicas.",
    "    When called without the optional mode argument, the behavior is determined by the",
    "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
    "    * ASYNC: Asynchronously flush the scripts cache.",
    "    * SYNC: Synchronously flush the scripts cache.",
    "KILL",
    "    Kill the currently executing Lua script.",
    "LOAD <script>",
    "    Load a script into the scripts cache without executing it.",
    "HELP",
    "    Prints this help.",
];
