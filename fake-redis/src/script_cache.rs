//! The Lua side of scripting: one Lua 5.1 interpreter per node (the version Redis embeds), the scripts it has
//! compiled keyed by SHA1, the sandbox scripts run in, and the conversions between Redis replies and Lua
//! values. The commands themselves (EVAL, SCRIPT ...) and the path `redis.call` takes into the node are in
//! [`crate::commands::scripting`].
//!
//! # The sandbox
//!
//! Redis runs scripts against a global table it has made read-only with a patch to its Lua (reading an
//! undefined global or assigning any global is an error). The stock Lua 5.1 we build has no such patch, so the
//! fake reaches the same refusals another way: scripts get a *proxy* as their environment, an empty table
//! whose metatable reads through to the real globals, raises Redis's "nonexistent global variable" error for
//! a missing name, and raises "Attempt to modify a readonly table" for every assignment. Each library table
//! (`string`, `math`, `redis` ...) is proxied the same way, without the read error. `rawset`, `loadstring`,
//! `load` and `getfenv` are wrapped so that they cannot reach past the proxies, and `os`, `io`, `loadfile`,
//! `dofile`, `print` and `require` are absent, as in Redis. What differs from Redis: `pairs` over a library
//! table sees nothing (it is an empty proxy), and `cjson`, `cmsgpack`, `struct` and `bit` are not provided.
//!
//! # Bounds Redis does not have
//!
//! A node holds one mutex for the whole of a command, so a script that never ends would freeze the node
//! forever (Redis instead answers BUSY to others and offers SCRIPT KILL, which a simulation has no use for).
//! The fake counts VM instructions with a hook and fails the script after [`INSTRUCTION_BUDGET`], with
//! [`BUDGET_ERROR`]; once the budget is spent, the error also escapes `pcall`, as Redis makes SCRIPT KILL's
//! error escape it. Lua's heap is capped at [`MEMORY_LIMIT`]. Writes a script made before it was stopped stay
//! made (and replicated), as in Redis.
//!
//! # Determinism
//!
//! There is no clock in here. `math.random` is Redis's: the 48-bit linear congruential generator of
//! `lrand48`, whose state lives for the whole process and starts at lrand48's standard seed. Redis 7.0 does
//! *not* re-seed it before each script (6.x did, for verbatim script replication), so two EVALs of the same
//! script get successive numbers, and the same numbers on every run of a simulation; `math.randomseed` seeds
//! it. The state survives SCRIPT FLUSH, as Redis's static state does.

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use bytes::Bytes;
use mlua::{ChunkMode, Function, HookTriggers, Lua, LuaOptions, MultiValue, StdLib, Table, Value, VmState};
use redsim_resp::{Protocol, Reply};

/// VM instructions one script may execute before it is stopped (a few hundred milliseconds of real time).
pub(crate) const INSTRUCTION_BUDGET: u64 = 100_000_000;
/// How often the instruction hook runs (Redis's own hook runs every 100 000 instructions too).
const HOOK_EVERY: u32 = 100_000;
/// Most bytes Lua's heap may hold; an allocation past it fails with Lua's "not enough memory".
pub(crate) const MEMORY_LIMIT: usize = 64 << 20;
/// The error a script past its budget ends with (Redis would be BUSY instead; see the module comment).
pub(crate) const BUDGET_ERROR: &str =
    "ERR Script exceeded the fake's instruction budget and was stopped (Redis would answer BUSY)";
/// Deepest table nesting a script's reply may have; a table that contains itself would otherwise never end.
const REPLY_MAX_DEPTH: usize = 1000;
/// The chunk name of the fake's own Lua, which the error handler skips when it looks for the user's line.
const INTERNAL_CHUNK: &str = "=redsim";

/// The interpreter and the scripts compiled into it. Created at the first script, dropped by SCRIPT FLUSH.
pub(crate) struct ScriptCache {
    engine: Option<Engine>,
    /// lrand48's 48-bit state, shared with `math.random` (it outlives the interpreter).
    rand: Arc<AtomicU64>,
}

impl Default for ScriptCache {
    fn default() -> Self {
        ScriptCache {
            engine: None,
            rand: Arc::new(AtomicU64::new(LRAND48_SEED)),
        }
    }
}

impl ScriptCache {
    /// Takes the interpreter out (creating it if needed) so that a script can run while the node's state is
    /// borrowed by `redis.call`; give it back with [`ScriptCache::put`].
    pub(crate) fn take(&mut self) -> Result<Engine, String> {
        match self.engine.take() {
            Some(e) => Ok(e),
            None => Engine::new(self.rand.clone()).map_err(|e| format!("ERR cannot start Lua: {e}")),
        }
    }

    pub(crate) fn put(&mut self, engine: Engine) {
        self.engine = Some(engine);
    }

    /// Whether a script with this SHA1 (lower-case hex, as Redis compares) is cached.
    pub(crate) fn exists(&self, sha: &[u8]) -> bool {
        let sha = String::from_utf8_lossy(sha).to_ascii_lowercase();
        self.engine.as_ref().is_some_and(|e| e.scripts.contains_key(&sha))
    }

    /// SCRIPT FLUSH: forgets every script and the interpreter with them (a fresh one is made when needed).
    pub(crate) fn flush(&mut self) {
        self.engine = None;
    }
}

/// lrand48's standard initial state (`0x1234ABCD330E`), which Redis's generator starts from.
const LRAND48_SEED: u64 = 0x1234_ABCD_330E;

/// One step of lrand48: the new state and the 31-bit output.
fn lrand48(state: &AtomicU64) -> i64 {
    let x = state.load(Ordering::Relaxed);
    let next = x.wrapping_mul(0x5_DEEC_E66D).wrapping_add(0xB) & ((1 << 48) - 1);
    state.store(next, Ordering::Relaxed);
    (next >> 17) as i64
}

/// The instruction count of the running script and whether it was stopped.
#[derive(Default)]
struct Budget {
    used: AtomicU64,
    killed: AtomicBool,
}

/// A Lua interpreter set up as Redis sets up its scripting one.
pub(crate) struct Engine {
    lua: Lua,
    /// sha -> (body, compiled function).
    scripts: BTreeMap<String, (Bytes, Function)>,
    /// The real global table (only the fake writes to it).
    globals: Table,
    /// What scripts see as their globals (see the module comment).
    env: Table,
    /// The fake's own slots: `run`, `pending` (the error a Rust function is raising) ...
    internal: Table,
    budget: Arc<Budget>,
}

/// What a script can ask of the node while it runs: run one command (already converted to arguments) with its
/// reply shaped for the protocol the script has chosen (`redis.setresp`, 2 or 3).
pub(crate) type Dispatch<'a> = dyn FnMut(Vec<Bytes>, u8) -> Reply + 'a;

impl Engine {
    fn new(rand: Arc<AtomicU64>) -> mlua::Result<Engine> {
        // Base (which holds `coroutine` in 5.1), table, string and math, as Redis loads them; no os, io, package.
        let lua = Lua::new_with(StdLib::TABLE | StdLib::STRING | StdLib::MATH, LuaOptions::default())?;
        lua.set_memory_limit(MEMORY_LIMIT)?;
        let globals = lua.globals();
        let internal = lua.create_table()?;
        let budget = Arc::new(Budget::default());

        let killed_flag = budget.clone();
        internal.raw_set(
            "killed",
            lua.create_function(move |_, ()| Ok(killed_flag.killed.load(Ordering::Relaxed)))?,
        )?;
        lua.set_named_registry_value("redsim_internal", internal.clone())?;
        let r = rand.clone();
        internal.raw_set(
            "random",
            lua.create_function(move |lua, args: MultiValue| {
                // Lua 5.1's math.random over lrand48, as Redis replaces it.
                let r = (lrand48(&r) % 2_147_483_647) as f64 / 2_147_483_647.0;
                match args.len() {
                    0 => Ok(r),
                    1 => {
                        let u = check_int(lua, &args, 0, "random")?;
                        if u < 1 {
                            return Err(lua_error(lua, "bad argument #1 to 'random' (interval is empty)"));
                        }
                        Ok((r * u as f64).floor() + 1.0)
                    }
                    2 => {
                        let l = check_int(lua, &args, 0, "random")?;
                        let u = check_int(lua, &args, 1, "random")?;
                        if l > u {
                            return Err(lua_error(lua, "bad argument #2 to 'random' (interval is empty)"));
                        }
                        Ok((r * (u as f64 - l as f64 + 1.0)).floor() + l as f64)
                    }
                    _ => Err(lua_error(lua, "wrong number of arguments")),
                }
            })?,
        )?;
        internal.raw_set(
            "randomseed",
            lua.create_function(move |lua, args: MultiValue| {
                // lrand48's srand48: the seed's low 32 bits above the fixed 0x330E.
                let seed = check_int(lua, &args, 0, "randomseed")? as u32 as u64;
                rand.store((seed << 16) | 0x330E, Ordering::Relaxed);
                Ok(())
            })?,
        )?;
        internal.raw_set(
            "where",
            lua.create_function(|lua, ()| {
                // The innermost frame of the user's own code (level 0 is this function, 1 the handler).
                for level in 2..200 {
                    let Some(d) = lua.inspect_stack(level) else { break };
                    let src = d.source();
                    let source = src.source.as_deref().unwrap_or("");
                    if src.what == "C" || src.what == "tail" || source == INTERNAL_CHUNK {
                        continue;
                    }
                    return Ok((Some(source.to_string()), Some(d.curr_line() as i64)));
                }
                Ok((None, None))
            })?,
        )?;
        internal.raw_set(
            "rawset",
            lua.create_function(|lua, (t, k, v): (Table, Value, Value)| {
                // A Rust function, so that `return rawset(...)` keeps the user's frame for the error's line.
                let readonly = t
                    .metatable()
                    .is_some_and(|mt| mt.raw_get::<bool>("__redsim_readonly").unwrap_or(false));
                if readonly {
                    return Err(raise(lua, "Attempt to modify a readonly table"));
                }
                t.raw_set(k, v)?;
                Ok(t)
            })?,
        )?;
        let sha1hex = lua.create_function(|lua, args: MultiValue| {
            if args.len() != 1 {
                let t = error_table(lua, "wrong number of arguments")?;
                return Err(raise(lua, t));
            }
            let bytes = match &args[0] {
                Value::String(s) => s.as_bytes().to_vec(),
                Value::Number(n) => fmt_g14(*n).into_bytes(),
                Value::Integer(i) => i.to_string().into_bytes(),
                _ => Vec::new(),
            };
            Ok(sha1_hex(&bytes))
        })?;
        let error_reply = lua.create_function(|lua, args: MultiValue| match (args.len(), args.front()) {
            (1, Some(Value::String(s))) => {
                let text = s.as_bytes().to_vec();
                let text = String::from_utf8_lossy(&text).into_owned();
                let with_dash = if text.starts_with('-') {
                    text
                } else {
                    format!("-{text}")
                };
                error_table(lua, &with_dash)
            }
            _ => error_table(lua, "wrong number or type of arguments"),
        })?;
        let status_reply = lua.create_function(|lua, args: MultiValue| match (args.len(), args.front()) {
            (1, Some(v @ Value::String(_))) => {
                let t = lua.create_table()?;
                t.raw_set("ok", v.clone())?;
                Ok(t)
            }
            _ => error_table(lua, "wrong number or type of arguments"),
        })?;
        let log = lua.create_function(|lua, args: MultiValue| {
            // Redis writes to its log file; the fake checks the arguments the same way and writes nowhere.
            let fail = |msg: &str| -> mlua::Result<()> { Err(raise(lua, error_table(lua, msg)?)) };
            if args.len() < 2 {
                return fail("redis.log() requires two arguments or more.");
            }
            let level = match &args[0] {
                Value::Number(n) => *n,
                Value::Integer(i) => *i as f64,
                Value::String(s) => match s.to_str().ok().and_then(|s| s.trim().parse::<f64>().ok()) {
                    Some(n) => n,
                    None => return fail("First argument must be a number (log level)."),
                },
                _ => return fail("First argument must be a number (log level)."),
            };
            if !(0.0..4.0).contains(&level.trunc()) {
                return fail("Invalid debug level.");
            }
            Ok(())
        })?;

        let setup = lua
            .load(BOOTSTRAP)
            .set_name(INTERNAL_CHUNK)
            .set_mode(ChunkMode::Text)
            .into_function()?;
        let env: Table = setup.call((
            internal.clone(),
            globals.clone(),
            sha1hex,
            error_reply,
            status_reply,
            log,
        ))?;

        let hook_budget = budget.clone();
        lua.set_hook(HookTriggers::new().every_nth_instruction(HOOK_EVERY), move |_, _| {
            let used = hook_budget.used.fetch_add(HOOK_EVERY as u64, Ordering::Relaxed) + HOOK_EVERY as u64;
            if used > INSTRUCTION_BUDGET {
                hook_budget.killed.store(true, Ordering::Relaxed);
                return Err(mlua::Error::runtime("script stopped: instruction budget spent"));
            }
            Ok(VmState::Continue)
        });
        Ok(Engine {
            lua,
            scripts: BTreeMap::new(),
            globals,
            env,
            internal,
            budget,
        })
    }

    /// Compiles a script into the cache (SCRIPT LOAD, or EVAL of a new body) and returns its SHA1, or the
    /// error reply Redis gives for a script that does not compile.
    pub(crate) fn load(&mut self, body: &Bytes) -> Result<String, Reply> {
        let sha = sha1_hex(body);
        if self.scripts.contains_key(&sha) {
            return Ok(sha);
        }
        if body.starts_with(b"#!") {
            // Redis 7's shebang flags are not modelled; refuse them rather than run with other semantics.
            return Err(Reply::err("Script shebang flags are not supported by the fake"));
        }
        // Text only: Lua 5.1 would also load precompiled bytecode, which can crash the VM.
        let compiled = self
            .lua
            .load(&body[..])
            .set_name("@user_script")
            .set_mode(ChunkMode::Text)
            .set_environment(self.env.clone())
            .into_function();
        match compiled {
            Ok(f) => {
                self.scripts.insert(sha.clone(), (body.clone(), f));
                Ok(sha)
            }
            Err(mlua::Error::SyntaxError { message, .. }) => Err(Reply::err(format!(
                "Error compiling script (new function): {}",
                one_line(&message)
            ))),
            Err(e) => Err(Reply::err(format!(
                "Error compiling script (new function): {}",
                one_line(&e.to_string())
            ))),
        }
    }

    /// Whether `sha` is cached (lower-case hex).
    pub(crate) fn has(&self, sha: &str) -> bool {
        self.scripts.contains_key(sha)
    }

    /// Runs a cached script with its KEYS and ARGV, `dispatch` running each `redis.call`, and returns the
    /// reply for the caller in Redis's conversion of the script's return value (or of its error).
    pub(crate) fn run(&mut self, sha: &str, keys: &[Bytes], argv: &[Bytes], dispatch: &mut Dispatch<'_>) -> Reply {
        let Some((_, f)) = self.scripts.get(sha) else {
            return Reply::Error("NOSCRIPT No matching script. Please use EVAL.".into());
        };
        let f = f.clone();
        self.budget.used.store(0, Ordering::Relaxed);
        self.budget.killed.store(false, Ordering::Relaxed);
        let result = self.run_inner(&f, sha, keys, argv, dispatch);
        // Whatever happened, nothing of this run may leak into the next.
        let _ = self.internal.raw_set("pending", Value::Nil);
        let _ = self.globals.raw_set("KEYS", Value::Nil);
        let _ = self.globals.raw_set("ARGV", Value::Nil);
        if self.budget.killed.load(Ordering::Relaxed) {
            return Reply::Error(BUDGET_ERROR.into());
        }
        match result {
            Ok(r) => r,
            Err(e) => Reply::err(format!("Error running script {sha}, {}", one_line(&e.to_string()))),
        }
    }

    fn run_inner(
        &self,
        f: &Function,
        sha: &str,
        keys: &[Bytes],
        argv: &[Bytes],
        dispatch: &mut Dispatch<'_>,
    ) -> mlua::Result<Reply> {
        let lua = &self.lua;
        self.globals.raw_set("KEYS", string_array(lua, keys)?)?;
        self.globals.raw_set("ARGV", string_array(lua, argv)?)?;
        let redis: Table = self.globals.raw_get("__redsim_redis")?;
        let resp = Cell::new(2u8);
        let dispatch = RefCell::new(dispatch);
        lua.scope(|scope| {
            let call = |lua: &Lua, args: MultiValue, raise_error: bool| -> mlua::Result<Value> {
                let argv = match lua_args(&args) {
                    Ok(argv) => argv,
                    Err(msg) => {
                        let t = Value::Table(error_table(lua, msg)?);
                        return if raise_error { Err(raise(lua, t)) } else { Ok(t) };
                    }
                };
                let reply = {
                    let mut d = dispatch
                        .try_borrow_mut()
                        .map_err(|_| mlua::Error::RecursiveMutCallback)?;
                    (*d)(argv, resp.get())
                };
                let failed = matches!(reply, Reply::Error(_));
                let v = reply_to_lua(lua, &reply, resp.get() == 3, 0)?;
                if failed && raise_error {
                    Err(raise(lua, v))
                } else {
                    Ok(v)
                }
            };
            redis.raw_set("call", scope.create_function(move |lua, a| call(lua, a, true))?)?;
            redis.raw_set("pcall", scope.create_function(move |lua, a| call(lua, a, false))?)?;
            redis.raw_set(
                "setresp",
                scope.create_function(|lua, args: MultiValue| {
                    if args.len() != 1 {
                        return Err(raise(lua, error_table(lua, "redis.setresp() requires one argument.")?));
                    }
                    let n = match &args[0] {
                        Value::Number(n) => c_double_to_i64(*n),
                        Value::Integer(i) => *i,
                        _ => 0,
                    };
                    if n != 2 && n != 3 {
                        return Err(raise(lua, error_table(lua, "RESP version must be 2 or 3.")?));
                    }
                    resp.set(n as u8);
                    Ok(())
                })?,
            )?;
            let runner: Function = self.internal.raw_get("run")?;
            let (ok, value): (bool, Value) = runner.call(f.clone())?;
            let reply = if ok {
                lua_to_reply(&value, 0)
            } else {
                script_error(&value, sha)
            };
            Ok(reply)
        })
    }
}

/// The reply for a script that raised `err` (after the error handler made it `{err=, source=, line=}`).
fn script_error(err: &Value, sha: &str) -> Reply {
    match err {
        Value::Table(t) => {
            let msg = match t.raw_get::<Value>("err") {
                Ok(Value::String(s)) => String::from_utf8_lossy(&s.as_bytes()).into_owned(),
                Ok(Value::Number(n)) => fmt_g14(n),
                Ok(Value::Integer(i)) => i.to_string(),
                _ => "ERR unknown error".into(),
            };
            let source = t.raw_get::<Option<String>>("source").ok().flatten();
            let line = t.raw_get::<Option<i64>>("line").ok().flatten();
            let text = match (source, line) {
                (Some(s), Some(l)) => format!("{msg} script: {sha}, on {s}:{l}."),
                _ => msg,
            };
            Reply::Error(one_line(&text))
        }
        Value::String(s) => Reply::err(format!(
            "Error running script {sha}, {} ",
            one_line(&String::from_utf8_lossy(&s.as_bytes()))
        )),
        _ => Reply::err(format!("Error running script {sha}, execution failure ")),
    }
}

/// Hands `value` to the fake's error plumbing and returns the error that raises it: a Rust function cannot
/// raise an arbitrary Lua value through mlua (it raises a wrapped Rust error), so the value waits in
/// `internal.pending`, where the error handler and the `pcall` wrappers pick it up in place of the wrapper.
fn raise(lua: &Lua, value: impl mlua::IntoLua) -> mlua::Error {
    let stored = lua
        .named_registry_value::<Table>("redsim_internal")
        .and_then(|internal| internal.raw_set("pending", value));
    match stored {
        Ok(()) => mlua::Error::runtime("redsim: pending script error"),
        Err(e) => e,
    }
}

/// Raises a plain Lua error (a string), located as `luaL_error` locates it: at the line of the Lua code that
/// called the Rust function.
fn lua_error(lua: &Lua, msg: &str) -> mlua::Error {
    let located = lua.inspect_stack(1).and_then(|d| {
        let line = d.curr_line();
        let src = d.source();
        (src.what != "C" && src.what != "tail" && line > 0)
            .then(|| format!("{}:{line}: {msg}", src.short_src.unwrap_or_default()))
    });
    raise(lua, located.unwrap_or_else(|| msg.to_string()))
}

/// `luaL_checkint` for argument `i` (0-based) of function `name`.
fn check_int(lua: &Lua, args: &MultiValue, i: usize, name: &str) -> mlua::Result<i32> {
    let n = match args.get(i) {
        Some(Value::Number(n)) => Some(*n),
        Some(Value::Integer(n)) => Some(*n as f64),
        Some(Value::String(s)) => s.to_str().ok().and_then(|s| s.trim().parse::<f64>().ok()),
        _ => None,
    };
    match n {
        Some(n) => Ok(c_double_to_i64(n) as i32),
        None => {
            let got = match args.get(i) {
                None | Some(Value::Nil) => "no value",
                Some(v) => v.type_name(),
            };
            Err(lua_error(
                lua,
                &format!("bad argument #{} to '{name}' (number expected, got {got})", i + 1),
            ))
        }
    }
}

/// `{err = "CODE message"}`, as Redis's `luaPushError` builds it: a leading `-` names the code (the first
/// word), otherwise the code is `ERR`; trailing CR/LF are dropped.
fn error_table(lua: &Lua, text: &str) -> mlua::Result<Table> {
    let normalized = match text.strip_prefix('-') {
        Some(rest) => match rest.split_once(' ') {
            Some((code, msg)) => format!("{code} {}", msg.trim_matches(['\r', '\n'])),
            None => format!("ERR {}", rest.trim_matches(['\r', '\n'])),
        },
        None => format!("ERR {}", text.trim_matches(['\r', '\n'])),
    };
    let t = lua.create_table()?;
    t.raw_set("err", normalized)?;
    Ok(t)
}

fn string_array(lua: &Lua, items: &[Bytes]) -> mlua::Result<Table> {
    let t = lua.create_table_with_capacity(items.len(), 0)?;
    for (i, item) in items.iter().enumerate() {
        t.raw_set(i + 1, lua.create_string(&item[..])?)?;
    }
    Ok(t)
}

/// `redis.call`'s arguments as a command: strings as they are, numbers as C's `%.17g` writes them.
fn lua_args(args: &MultiValue) -> Result<Vec<Bytes>, &'static str> {
    if args.is_empty() {
        return Err("Please specify at least one argument for this redis lib call");
    }
    args.iter()
        .map(|v| match v {
            Value::String(s) => Ok(Bytes::copy_from_slice(&s.as_bytes())),
            Value::Number(n) => Ok(Bytes::from(fmt_g17(*n))),
            // mlua hands over an integral Lua 5.1 number as an integer; it is still a double to Redis.
            Value::Integer(i) => Ok(Bytes::from(fmt_g17(*i as f64))),
            _ => Err("Lua redis lib command arguments must be strings or integers"),
        })
        .collect()
}

/// A command's reply as Lua sees it (Redis's `redisProtocolToLuaType`): status -> `{ok=}`, error ->
/// `{err=}`, integer -> number, bulk -> string, null -> false (RESP2) or nil (RESP3), aggregates -> tables.
fn reply_to_lua(lua: &Lua, r: &Reply, resp3: bool, depth: usize) -> mlua::Result<Value> {
    if depth > REPLY_MAX_DEPTH {
        return Ok(Value::Boolean(false));
    }
    let single = |field: &str, v: Value| -> mlua::Result<Value> {
        let t = lua.create_table()?;
        t.raw_set(field, v)?;
        Ok(Value::Table(t))
    };
    let array = |items: &[Reply]| -> mlua::Result<Table> {
        let t = lua.create_table_with_capacity(items.len(), 0)?;
        for (i, item) in items.iter().enumerate() {
            t.raw_set(i + 1, reply_to_lua(lua, item, resp3, depth + 1)?)?;
        }
        Ok(t)
    };
    Ok(match r {
        Reply::Simple(s) => single("ok", Value::String(lua.create_string(s)?))?,
        Reply::Error(e) => Value::Table(error_table(lua, &format!("-{e}"))?),
        Reply::Int(i) => Value::Number(*i as f64),
        Reply::Bulk(b) | Reply::Verbatim(_, b) => Value::String(lua.create_string(&b[..])?),
        Reply::Nil | Reply::NilArray if resp3 => Value::Nil,
        Reply::Nil | Reply::NilArray => Value::Boolean(false),
        Reply::Array(items) | Reply::Push(items) => Value::Table(array(items)?),
        Reply::Set(items) if resp3 => {
            let set = lua.create_table()?;
            for item in items {
                set.raw_set(reply_to_lua(lua, item, resp3, depth + 1)?, true)?;
            }
            single("set", Value::Table(set))?
        }
        Reply::Set(items) => Value::Table(array(items)?),
        Reply::Map(pairs) if resp3 => {
            let map = lua.create_table()?;
            for (k, v) in pairs {
                map.raw_set(
                    reply_to_lua(lua, k, resp3, depth + 1)?,
                    reply_to_lua(lua, v, resp3, depth + 1)?,
                )?;
            }
            single("map", Value::Table(map))?
        }
        Reply::Map(pairs) => {
            let flat: Vec<Reply> = pairs.iter().flat_map(|(k, v)| [k.clone(), v.clone()]).collect();
            Value::Table(array(&flat)?)
        }
        Reply::Double(d) if resp3 => single("double", Value::Number(*d))?,
        Reply::Double(_) => {
            // RESP2 sends a double as a bulk string: the same text, through the same formatter.
            let wire = r.to_bytes(Protocol::Resp2);
            let text = wire
                .iter()
                .position(|&b| b == b'\n')
                .map(|i| &wire[i + 1..wire.len().saturating_sub(2)])
                .unwrap_or(&[]);
            Value::String(lua.create_string(text)?)
        }
    })
}

/// A script's return value as a reply (Redis's `luaReplyToRedisReply`): string -> bulk, number -> integer
/// (truncated), true -> 1, false/nil -> null, `{err=}` -> error, `{ok=}` -> status, a table -> an array of
/// its elements 1, 2, ... up to the first nil.
fn lua_to_reply(v: &Value, depth: usize) -> Reply {
    match v {
        Value::String(s) => Reply::Bulk(Bytes::copy_from_slice(&s.as_bytes())),
        Value::Boolean(true) => Reply::Int(1),
        Value::Boolean(false) | Value::Nil => Reply::Nil,
        Value::Integer(i) => Reply::Int(*i),
        Value::Number(n) => Reply::Int(c_double_to_i64(*n)),
        Value::Table(_) if depth >= REPLY_MAX_DEPTH => Reply::err("reached lua stack limit"),
        Value::Table(t) => {
            if let Ok(Value::String(e)) = t.raw_get::<Value>("err") {
                return Reply::Error(one_line(&String::from_utf8_lossy(&e.as_bytes())));
            }
            if let Ok(Value::String(ok)) = t.raw_get::<Value>("ok") {
                return Reply::Simple(one_line(&String::from_utf8_lossy(&ok.as_bytes())));
            }
            // mlua hands an integral Lua number over as an Integer: `{double=2}` is a double all the same.
            match t.raw_get::<Value>("double") {
                Ok(Value::Number(d)) => return Reply::Double(d),
                Ok(Value::Integer(i)) => return Reply::Double(i as f64),
                _ => {}
            }
            if let Ok(Value::Table(m)) = t.raw_get::<Value>("map") {
                let pairs = m
                    .pairs::<Value, Value>()
                    .filter_map(Result::ok)
                    .map(|(k, v)| (lua_to_reply(&k, depth + 1), lua_to_reply(&v, depth + 1)))
                    .collect();
                return Reply::Map(pairs);
            }
            if let Ok(Value::Table(s)) = t.raw_get::<Value>("set") {
                let items = s
                    .pairs::<Value, Value>()
                    .filter_map(Result::ok)
                    .map(|(k, _)| lua_to_reply(&k, depth + 1))
                    .collect();
                return Reply::Set(items);
            }
            let mut items = Vec::new();
            for i in 1.. {
                match t.raw_get::<Value>(i) {
                    Ok(Value::Nil) | Err(_) => break,
                    Ok(item) => items.push(lua_to_reply(&item, depth + 1)),
                }
            }
            Reply::Array(items)
        }
        _ => Reply::Nil,
    }
}

/// C's `(long long)` of a double as x86-64 computes it: truncation, and the minimum for NaN or a value out of
/// range (what `return 1e30` gives in Redis).
pub(crate) fn c_double_to_i64(n: f64) -> i64 {
    if n.is_nan() || !(-9_223_372_036_854_775_808.0..9_223_372_036_854_775_808.0).contains(&n) {
        i64::MIN
    } else {
        n as i64
    }
}

/// Replaces CR and LF by spaces, as Redis does before sending an error or status line.
fn one_line(s: &str) -> String {
    s.replace(['\r', '\n'], " ")
}

pub(crate) fn sha1_hex(data: &[u8]) -> String {
    sha1_smol::Sha1::from(data).digest().to_string()
}

/// C's `%.17g`: Redis turns a Lua number argument of `redis.call` into a string this way.
fn fmt_g17(n: f64) -> String {
    fmt_g(n, 17)
}

/// Lua 5.1's own number to string (`%.14g`).
fn fmt_g14(n: f64) -> String {
    fmt_g(n, 14)
}

fn fmt_g(n: f64, precision: usize) -> String {
    if n.is_nan() {
        return if n.is_sign_negative() {
            "-nan".into()
        } else {
            "nan".into()
        };
    }
    if n.is_infinite() {
        return if n < 0.0 { "-inf".into() } else { "inf".into() };
    }
    if n == 0.0 {
        return if n.is_sign_negative() { "-0".into() } else { "0".into() };
    }
    let sci = format!("{:.*e}", precision - 1, n);
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let strip = |s: &str| -> String {
        if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            s.to_string()
        }
    };
    if exp < -4 || exp >= precision as i32 {
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{}e{sign}{:02}", strip(mantissa), exp.abs())
    } else {
        let decimals = (precision as i32 - 1 - exp).max(0) as usize;
        strip(&format!("{n:.decimals$}"))
    }
}

/// The fake's Lua set-up, run once per interpreter with the real globals as its environment. It builds the
/// `redis` table, Redis's `math.random`, the error handler, the `pcall` wrappers and the read-only proxies,
/// and returns the proxy scripts get as their globals.
const BOOTSTRAP: &str = r#"
local internal, G, sha1hex, error_reply, status_reply, log = ...
local error, type, tostring, rawget, rawset, setmetatable, select = error, type, tostring, rawget, rawset, setmetatable, select
local where = internal.where
local base_pcall, base_xpcall, base_loadstring, base_getfenv = pcall, xpcall, loadstring, getfenv
local resume = coroutine.resume

-- A Rust function raises a wrapper; the value it meant to raise waits in internal.pending.
local function unwrap(e)
  if type(e) == 'userdata' and rawget(internal, 'pending') ~= nil then
    e = rawget(internal, 'pending')
    rawset(internal, 'pending', nil)
  end
  return e
end

-- Makes an error a table {err=..} located on the innermost line of the user's script.
local function handler(e)
  e = unwrap(e)
  if type(e) ~= 'table' then e = {err = 'ERR ' .. tostring(e)} end
  local source, line = where()
  if source then e.source, e.line = source, line end
  return e
end
internal.run = function(f) return base_xpcall(f, handler) end

-- Once the instruction budget is spent, no protected call may swallow the error.
local function settle(ok, ...)
  if ok then return true, ... end
  local e = unwrap((...))
  if internal.killed() then error(e, 0) end
  if type(e) == 'table' and (type(e.err) == 'string' or type(e.err) == 'number') then e = e.err end
  return false, e
end
G.pcall = function(f, ...) return settle(base_pcall(f, ...)) end
G.xpcall = function(f, h) return settle(base_xpcall(f, function(e) return h(unwrap(e)) end)) end
local co = {}
for k, v in pairs(coroutine) do co[k] = v end
co.resume = function(...) return settle(resume(...)) end

local redis = {
  sha1hex = sha1hex, error_reply = error_reply, status_reply = status_reply, log = log,
  LOG_DEBUG = 0, LOG_VERBOSE = 1, LOG_NOTICE = 2, LOG_WARNING = 3,
  REDIS_VERSION = '7.0.15', REDIS_VERSION_NUM = 458767,
  REPL_NONE = 0, REPL_AOF = 1, REPL_SLAVE = 2, REPL_REPLICA = 2, REPL_ALL = 3,
  set_repl = function() end, replicate_commands = function() return true end,
}
G.__redsim_redis = redis

local m = {}
for k, v in pairs(math) do m[k] = v end
m.random, m.randomseed = internal.random, internal.randomseed

-- Read-only proxies. A proxy is an empty table reading through to the real one.
local function readonly() error('Attempt to modify a readonly table', 2) end
local function proxy(t, strict)
  local index = t
  if strict then
    index = function(_, k)
      local v = t[k]
      if v == nil then
        error("Script attempted to access nonexistent global variable '" .. tostring(k) .. "'", 2)
      end
      return v
    end
  end
  -- getmetatable shows an empty table (as Redis's globals show one) and setmetatable is refused.
  local mt = {__index = index, __newindex = readonly, __metatable = {}}
  rawset(mt, '__redsim_readonly', true)
  return setmetatable({}, mt)
end

local env
G.rawset = internal.rawset
G.loadstring = function(s, name)
  if type(s) == 'string' and s:byte(1) == 27 then return nil, 'binary chunks are not allowed' end
  local f, e = base_loadstring(s, name)
  if f then setfenv(f, env) end
  return f, e
end
G.load = function(reader, name)
  if type(reader) ~= 'function' then return G.loadstring(reader, name) end
  local parts = {}
  while true do
    local piece = reader()
    if piece == nil or piece == '' then break end
    parts[#parts + 1] = piece
  end
  return G.loadstring(table.concat(parts), name)
end
G.getfenv = function(f)
  if type(f) == 'number' and f > 0 then f = f + 1 end
  local e = base_getfenv(f or 2)
  if e == G then return env end
  return e
end

G.print, G.dofile, G.loadfile, G.require, G.module, G.package, G.os, G.io = nil
G.redis = proxy(redis)
G.math = proxy(m)
G.string = proxy(string)
G.table = proxy(table)
G.coroutine = proxy(co)
env = proxy(G, true)
G._G = env
return env
"#;
