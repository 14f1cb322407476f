//! `client-output-buffer-limit`: how much unsent output a client may accumulate before the server closes it,
//! per class of client, as Redis 7.0 enforces it (`checkClientOutputBufferLimits` in networking.c).
//!
//! Each class has a hard limit (closed as soon as its output reaches it) and a soft limit with a duration
//! (closed when its output has stayed at or over the soft limit for longer than that many seconds). A zero
//! limit is no limit. The classes are `normal` (unlimited by default), `replica` (spelled `slave` by CONFIG
//! GET; `256mb 64mb 60`) and `pubsub` (a client with a subscription; `32mb 8mb 60`). MONITOR clients are
//! `normal`, and so is the link to our own master.

/// One class's limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutputLimit {
    /// Close the client as soon as its unsent output reaches this many bytes (0: never).
    pub hard_bytes: u64,
    /// Close the client once its unsent output has stayed at or above this many bytes (0: never) ...
    pub soft_bytes: u64,
    /// ... for longer than this many seconds.
    pub soft_seconds: u64,
}

impl OutputLimit {
    const fn new(hard_bytes: u64, soft_bytes: u64, soft_seconds: u64) -> OutputLimit {
        OutputLimit {
            hard_bytes,
            soft_bytes,
            soft_seconds,
        }
    }

    /// Whether a client holding `used_bytes` of unsent output at `now_s` (Unix seconds, on the node's clock) is
    /// over the limit. `soft_since_s` is the client's own record of when it went over the soft limit: updated
    /// here, as Redis updates `obuf_soft_limit_reached_time`. `hard_floor_bytes` raises a set hard limit (Redis
    /// never applies a replica's below `repl-backlog-size`).
    pub fn exceeded(&self, used_bytes: u64, hard_floor_bytes: u64, soft_since_s: &mut Option<u64>, now_s: u64) -> bool {
        let hard = self.hard_bytes != 0 && used_bytes >= self.hard_bytes.max(hard_floor_bytes);
        let soft = if self.soft_bytes != 0 && used_bytes >= self.soft_bytes {
            match *soft_since_s {
                // The first time over: start counting.
                None => {
                    *soft_since_s = Some(now_s);
                    false
                }
                Some(since) => now_s.saturating_sub(since) > self.soft_seconds,
            }
        } else {
            *soft_since_s = None;
            false
        };
        hard || soft
    }
}

/// The class whose limit applies to a client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputClass {
    /// Any client that is neither of the others.
    Normal,
    /// A replica attached to us.
    Replica,
    /// A client subscribed to a channel or a pattern.
    PubSub,
}

/// The limits of every class, as `client-output-buffer-limit` holds them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutputLimits {
    /// `normal`.
    pub normal: OutputLimit,
    /// `replica` (or `slave`).
    pub replica: OutputLimit,
    /// `pubsub`.
    pub pubsub: OutputLimit,
}

impl Default for OutputLimits {
    /// Redis 7.0's defaults: `normal 0 0 0 slave 256mb 64mb 60 pubsub 32mb 8mb 60`.
    fn default() -> Self {
        const MB: u64 = 1024 * 1024;
        OutputLimits {
            normal: OutputLimit::new(0, 0, 0),
            replica: OutputLimit::new(256 * MB, 64 * MB, 60),
            pubsub: OutputLimit::new(32 * MB, 8 * MB, 60),
        }
    }
}

impl OutputLimits {
    /// The limit of one class.
    pub fn of(&self, class: OutputClass) -> &OutputLimit {
        match class {
            OutputClass::Normal => &self.normal,
            OutputClass::Replica => &self.replica,
            OutputClass::PubSub => &self.pubsub,
        }
    }

    /// `CONFIG GET client-output-buffer-limit`: every class, in bytes, in Redis's order and spelling.
    pub fn to_config_string(&self) -> String {
        let one = |name: &str, l: &OutputLimit| format!("{name} {} {} {}", l.hard_bytes, l.soft_bytes, l.soft_seconds);
        format!(
            "{} {} {}",
            one("normal", &self.normal),
            one("slave", &self.replica),
            one("pubsub", &self.pubsub)
        )
    }

    /// These limits with `CONFIG SET client-output-buffer-limit value` applied: groups of
    /// `<class> <hard> <soft> <soft_seconds>` (sizes with Redis's units: `64mb`, `1gb`, `10k`), any number of
    /// classes, the classes not named unchanged. Redis's error text on a bad value; nothing changes then.
    pub fn with_update(&self, value: &str) -> Result<OutputLimits, &'static str> {
        let words: Vec<&str> = value.split_ascii_whitespace().collect();
        if words.len() % 4 != 0 {
            return Err("Wrong number of arguments in buffer limit configuration.");
        }
        let mut out = *self;
        for group in words.chunks(4) {
            let slot = match group[0].to_ascii_lowercase().as_str() {
                "normal" => &mut out.normal,
                "replica" | "slave" => &mut out.replica,
                "pubsub" => &mut out.pubsub,
                _ => return Err("Invalid client class specified in buffer limit configuration."),
            };
            let bad = "Error in hard, soft or soft_seconds setting in buffer limit configuration.";
            let hard_bytes = parse_size(group[1]).ok_or(bad)?;
            let soft_bytes = parse_size(group[2]).ok_or(bad)?;
            let soft_seconds = parse_seconds(group[3]).ok_or(bad)?;
            *slot = OutputLimit::new(hard_bytes, soft_bytes, soft_seconds);
        }
        Ok(out)
    }
}

/// A size as Redis's `memtoull` reads it: digits then an optional unit (`b`, `k` = 1000, `kb` = 1024, `m`, `mb`,
/// `g`, `gb`, any case); no sign, no fraction. Bare digits-less units count as 0, as in Redis.
fn parse_size(v: &str) -> Option<u64> {
    let split = v.find(|c: char| !c.is_ascii_digit()).unwrap_or(v.len());
    let (digits, unit) = v.split_at(split);
    let mul: u64 = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" => 1000,
        "kb" => 1024,
        "m" => 1000 * 1000,
        "mb" => 1024 * 1024,
        "g" => 1000 * 1000 * 1000,
        "gb" => 1024 * 1024 * 1024,
        _ => return None,
    };
    let n: u64 = if digits.is_empty() { 0 } else { digits.parse().ok()? };
    n.checked_mul(mul)
}

/// Seconds as Redis reads them (`strtoll`, then refusing a negative or trailing characters).
fn parse_seconds(v: &str) -> Option<u64> {
    let digits = v.strip_prefix('+').unwrap_or(v);
    if digits.is_empty() {
        return Some(0);
    }
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_strings_parse_and_print_as_redis_does() {
        // Each expectation is what redis-server 7.0.15 answered to the same CONFIG SET / CONFIG GET.
        let d = OutputLimits::default();
        assert_eq!(
            d.to_config_string(),
            "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60"
        );
        let l = d.with_update("slave 1mb 2kb 5 pubsub 1gb 0 0").unwrap();
        assert_eq!(
            l.to_config_string(),
            "normal 0 0 0 slave 1048576 2048 5 pubsub 1073741824 0 0"
        );
        let l = l.with_update("normal 1K 2MB 3").unwrap();
        assert_eq!(l.normal, OutputLimit::new(1000, 2 * 1024 * 1024, 3));
        assert_eq!(
            l.with_update("replica 1b 0 0").unwrap().replica,
            OutputLimit::new(1, 0, 0)
        );
        assert_eq!(l.with_update("").unwrap(), l);
        let class = "Invalid client class specified in buffer limit configuration.";
        let count = "Wrong number of arguments in buffer limit configuration.";
        let value = "Error in hard, soft or soft_seconds setting in buffer limit configuration.";
        assert_eq!(d.with_update("master 1 1 1"), Err(class));
        assert_eq!(d.with_update("normal 1 1"), Err(count));
        for bad in [
            "normal 1x 1 1",
            "normal 1 1 -1",
            "normal 1.5mb 0 0",
            "normal 1 0 5x",
            "normal -1 0 0",
        ] {
            assert_eq!(d.with_update(bad), Err(value), "{bad}");
        }
        // All or nothing: a bad group refuses the groups before it too.
        assert_eq!(d.with_update("pubsub 1 1 1 normal x 0 0"), Err(value));
    }

    #[test]
    fn hard_limits_trip_at_once_and_soft_limits_after_their_seconds() {
        let l = OutputLimit::new(100, 50, 2);
        let mut since = None;
        assert!(!l.exceeded(99, 0, &mut None, 0));
        assert!(
            l.exceeded(100, 0, &mut None, 0),
            "the hard limit is reached at equality"
        );
        assert!(!l.exceeded(100, 200, &mut None, 0), "a floor raises the hard limit");
        assert!(!l.exceeded(60, 0, &mut since, 10), "first time over the soft limit");
        assert_eq!(since, Some(10));
        assert!(!l.exceeded(60, 0, &mut since, 12), "still within its 2 seconds");
        assert!(
            l.exceeded(60, 0, &mut since, 13),
            "over the soft limit for more than 2 seconds"
        );
        assert!(!l.exceeded(10, 0, &mut since, 14));
        assert_eq!(since, None, "dropping below the soft limit restarts the count");
        assert!(
            !OutputLimit::new(0, 0, 0).exceeded(u64::MAX, 0, &mut since, 100),
            "0 0 0 is no limit"
        );
    }
}
