//! Node settings: what `redis.conf` and `CONFIG GET/SET` cover, for the settings the fake supports.

use std::sync::{Arc, Mutex};

use redsim_resp::glob_match;

use crate::output_limit::OutputLimits;

/// A node's `redis.conf` as `CONFIG REWRITE` leaves it: it outlives the node, so a restarted node starts from
/// what was last rewritten. Sentinel rewrites the config of every node it reconfigures, which is why a promoted
/// master restarts as a master and a demoted one as a replica of the new master.
#[derive(Debug, Clone, Default)]
pub struct ConfigFile(Arc<Mutex<Option<Config>>>);

impl ConfigFile {
    /// What the last `CONFIG REWRITE` wrote, if any.
    pub fn load(&self) -> Option<Config> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Writes `config`, replacing what was there.
    pub fn save(&self, config: Config) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = Some(config);
    }
}

/// A data node's configuration. Field names follow Redis's settings, units last.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Name of the node in logs and timelines (e.g. `redis-1`). Not a Redis setting.
    pub name: String,
    /// TCP port to listen on.
    pub port: u16,
    /// Address to bind (`0.0.0.0` by default in the simulation; `127.0.0.1` for the standalone binary).
    pub bind: String,
    /// `requirepass`: when set, clients must AUTH first.
    pub requirepass: Option<String>,
    /// `masterauth`: password this node uses towards its master.
    pub masterauth: Option<String>,
    /// `replicaof host port`: start as a replica of this master.
    pub replicaof: Option<(String, u16)>,
    /// `replica-priority`: Sentinel promotes lower values first; 0 never.
    pub replica_priority: u32,
    /// `replica-read-only`.
    pub replica_read_only: bool,
    /// `replica-serve-stale-data`: when false, a replica whose link is down answers `-MASTERDOWN`.
    pub replica_serve_stale_data: bool,
    /// `replica-announced`: whether Sentinel lists this replica.
    pub replica_announced: bool,
    /// `maxclients`: connections beyond this are refused with `-ERR max number of clients reached`. On real TCP
    /// it is lowered at bind when the process's descriptor limit cannot hold it, as Redis lowers it.
    pub maxclients: usize,
    /// `min-replicas-to-write`.
    pub min_replicas_to_write: u32,
    /// `min-replicas-max-lag`, in seconds.
    pub min_replicas_max_lag_s: u32,
    /// `repl-backlog-size`, in bytes.
    pub repl_backlog_size: usize,
    /// `repl-timeout`, in seconds: a silent master link (or replica) is dropped after this.
    pub repl_timeout_s: u32,
    /// `repl-ping-replica-period`, in seconds.
    pub repl_ping_replica_period_s: u32,
    /// How long loading a full-resync snapshot takes, in milliseconds; meanwhile the replica answers `-LOADING`
    /// (Redis loads an RDB at some hundreds of MB/s; set this to model large datasets). Not a Redis setting.
    pub loading_ms: u64,
    /// Seed for this node's random choices (run id, replication ids). Derive it from the simulation seed.
    pub seed: u64,
    /// Most entries the execution log keeps for this node before it counts drops instead.
    pub log_limit: usize,
    /// Most bytes the execution log keeps (as [`LogEntry::size_bytes`](crate::LogEntry::size_bytes) counts
    /// them) before it counts drops instead.
    pub log_max_bytes: usize,
    /// `client-output-buffer-limit`: the unsent output each class of client may hold before it is closed.
    pub client_output_buffer_limit: OutputLimits,
}

/// The execution log's default byte limit: 256 MiB, about a million entries of typical size.
pub const LOG_MAX_BYTES: usize = 256 << 20;

impl Default for Config {
    fn default() -> Self {
        Config {
            name: "redis".into(),
            port: 6379,
            bind: "0.0.0.0".into(),
            requirepass: None,
            masterauth: None,
            replicaof: None,
            replica_priority: 100,
            replica_read_only: true,
            replica_serve_stale_data: true,
            replica_announced: true,
            maxclients: 10000,
            min_replicas_to_write: 0,
            min_replicas_max_lag_s: 10,
            repl_backlog_size: 1024 * 1024,
            repl_timeout_s: 60,
            repl_ping_replica_period_s: 10,
            loading_ms: 0,
            seed: 0,
            log_limit: 1_000_000,
            log_max_bytes: LOG_MAX_BYTES,
            client_output_buffer_limit: OutputLimits::default(),
        }
    }
}

/// The settings `CONFIG GET` knows, canonical name first, then aliases, in Redis's order of aliases.
const PARAMS: &[(&str, &[&str])] = &[
    ("port", &[]),
    ("bind", &[]),
    ("requirepass", &[]),
    ("masterauth", &[]),
    ("replicaof", &["slaveof"]),
    ("replica-priority", &["slave-priority"]),
    ("replica-read-only", &["slave-read-only"]),
    ("replica-serve-stale-data", &["slave-serve-stale-data"]),
    ("replica-announced", &[]),
    ("maxclients", &[]),
    ("min-replicas-to-write", &["min-slaves-to-write"]),
    ("min-replicas-max-lag", &["min-slaves-max-lag"]),
    ("repl-backlog-size", &[]),
    ("repl-timeout", &[]),
    ("repl-ping-replica-period", &["repl-ping-slave-period"]),
    ("client-output-buffer-limit", &[]),
    // Read-only here: the fake never evicts, so it reports Redis's defaults and refuses to change them.
    ("maxmemory", &[]),
    ("maxmemory-policy", &[]),
];

/// Why a `CONFIG SET` was refused: the Redis error text without its `ERR ` prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError(pub String);

impl Config {
    /// The canonical name of a setting given any of its names, if known.
    pub fn canonical(name: &str) -> Option<&'static str> {
        let lower = name.to_ascii_lowercase();
        PARAMS
            .iter()
            .find(|(n, aliases)| *n == lower || aliases.contains(&lower.as_str()))
            .map(|(n, _)| *n)
    }

    /// Current value of a setting (canonical name), as `CONFIG GET` prints it.
    pub fn get(&self, name: &str) -> Option<String> {
        let yes = |b: bool| if b { "yes" } else { "no" }.to_string();
        Some(match name {
            "port" => self.port.to_string(),
            "bind" => self.bind.clone(),
            "requirepass" => self.requirepass.clone().unwrap_or_default(),
            "masterauth" => self.masterauth.clone().unwrap_or_default(),
            "replicaof" => self
                .replicaof
                .as_ref()
                .map(|(h, p)| format!("{h} {p}"))
                .unwrap_or_default(),
            "replica-priority" => self.replica_priority.to_string(),
            "replica-read-only" => yes(self.replica_read_only),
            "replica-serve-stale-data" => yes(self.replica_serve_stale_data),
            "replica-announced" => yes(self.replica_announced),
            "maxclients" => self.maxclients.to_string(),
            "min-replicas-to-write" => self.min_replicas_to_write.to_string(),
            "min-replicas-max-lag" => self.min_replicas_max_lag_s.to_string(),
            "repl-backlog-size" => self.repl_backlog_size.to_string(),
            "repl-timeout" => self.repl_timeout_s.to_string(),
            "repl-ping-replica-period" => self.repl_ping_replica_period_s.to_string(),
            "client-output-buffer-limit" => self.client_output_buffer_limit.to_config_string(),
            "maxmemory" => "0".into(),
            "maxmemory-policy" => "noeviction".into(),
            _ => return None,
        })
    }

    /// `(name, value)` pairs for every setting whose name (or alias) matches the glob, in Redis's reply form:
    /// an alias that matches is listed under the alias's own name.
    pub fn get_matching(&self, pattern: &str) -> Vec<(String, String)> {
        let pat = pattern.to_ascii_lowercase();
        let mut out = Vec::new();
        for (name, aliases) in PARAMS {
            let value = self.get(name).unwrap_or_default();
            if glob_match(pat.as_bytes(), name.as_bytes()) {
                out.push((name.to_string(), value.clone()));
            }
            for alias in aliases.iter() {
                if glob_match(pat.as_bytes(), alias.as_bytes()) {
                    out.push((alias.to_string(), value.clone()));
                }
            }
        }
        out
    }

    /// Applies `CONFIG SET name value`. Settings that change the process itself (`port`, `bind`, `replicaof`)
    /// are refused as immutable here; use `REPLICAOF` to change replication.
    pub fn set(&mut self, name: &str, value: &str) -> Result<(), ConfigError> {
        let Some(canon) = Config::canonical(name) else {
            return Err(ConfigError(format!(
                "Unknown option or number of arguments for CONFIG SET - '{name}'"
            )));
        };
        let invalid = |why: &str| {
            ConfigError(format!(
                "CONFIG SET failed (possibly related to argument '{name}') - {why}"
            ))
        };
        let yes_no = |v: &str| match v.to_ascii_lowercase().as_str() {
            "yes" => Ok(true),
            "no" => Ok(false),
            _ => Err(invalid("argument must be 'yes' or 'no'")),
        };
        let number = |v: &str, min: i64, max: i64| -> Result<i64, ConfigError> {
            let n: i64 = parse_memory(v).ok_or_else(|| invalid("argument couldn't be parsed into an integer"))?;
            if n < min || n > max {
                return Err(invalid(&format!("argument must be between {min} and {max} inclusive")));
            }
            Ok(n)
        };
        match canon {
            "port" | "bind" | "replicaof" => return Err(invalid("can't set immutable config")),
            "requirepass" => self.requirepass = (!value.is_empty()).then(|| value.to_string()),
            "masterauth" => self.masterauth = (!value.is_empty()).then(|| value.to_string()),
            "replica-priority" => self.replica_priority = number(value, 0, i32::MAX as i64)? as u32,
            "replica-read-only" => self.replica_read_only = yes_no(value)?,
            "replica-serve-stale-data" => self.replica_serve_stale_data = yes_no(value)?,
            "replica-announced" => self.replica_announced = yes_no(value)?,
            // Redis keeps maxclients in an unsigned int.
            "maxclients" => self.maxclients = number(value, 1, u32::MAX as i64)? as usize,
            "min-replicas-to-write" => self.min_replicas_to_write = number(value, 0, i32::MAX as i64)? as u32,
            "min-replicas-max-lag" => self.min_replicas_max_lag_s = number(value, 0, i32::MAX as i64)? as u32,
            "repl-backlog-size" => {
                // Memory settings reject unparsable and negative values with their own message.
                if parse_memory(value).is_none_or(|n| n < 0) {
                    return Err(invalid("argument must be a memory value"));
                }
                self.repl_backlog_size = number(value, 1, i64::MAX)? as usize;
            }
            "repl-timeout" => self.repl_timeout_s = number(value, 1, i32::MAX as i64)? as u32,
            "repl-ping-replica-period" => self.repl_ping_replica_period_s = number(value, 1, i32::MAX as i64)? as u32,
            "client-output-buffer-limit" => {
                self.client_output_buffer_limit = self.client_output_buffer_limit.with_update(value).map_err(invalid)?
            }
            _ => return Err(invalid("unsupported by the fake")),
        }
        Ok(())
    }
}

/// Parses an integer with Redis's memory units (`1mb`, `64k`, `1gb`), as `CONFIG SET` accepts them.
fn parse_memory(v: &str) -> Option<i64> {
    let lower = v.to_ascii_lowercase();
    let units: [(&str, i64); 8] = [
        ("kb", 1024),
        ("mb", 1024 * 1024),
        ("gb", 1024 * 1024 * 1024),
        ("k", 1000),
        ("m", 1000 * 1000),
        ("g", 1000 * 1000 * 1000),
        ("b", 1),
        ("", 1),
    ];
    for (suffix, mul) in units {
        if let Some(num) = lower.strip_suffix(suffix) {
            if num.is_empty() || (suffix.is_empty() && !num.bytes().all(|b| b.is_ascii_digit() || b == b'-')) {
                continue;
            }
            if let Ok(n) = num.parse::<i64>() {
                return n.checked_mul(mul);
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aliases_and_globs() {
        let c = Config::default();
        assert_eq!(Config::canonical("SLAVE-PRIORITY"), Some("replica-priority"));
        let got = c.get_matching("*priority*");
        assert_eq!(
            got,
            vec![
                ("replica-priority".into(), "100".into()),
                ("slave-priority".into(), "100".into())
            ]
        );
    }

    #[test]
    fn set_validates() {
        let mut c = Config::default();
        c.set("repl-backlog-size", "2mb").unwrap();
        assert_eq!(c.repl_backlog_size, 2 * 1024 * 1024);
        assert!(c.set("repl-backlog-size", "abc").is_err());
        assert!(c.set("replica-read-only", "maybe").is_err());
        assert!(c.set("nope", "1").unwrap_err().0.starts_with("Unknown option"));
        c.set("min-slaves-to-write", "1").unwrap();
        assert_eq!(c.min_replicas_to_write, 1);
    }
}
