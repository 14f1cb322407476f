//! What can go wrong, as distinct errors a caller can act on.

use std::fmt;

/// An error returned by the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// No configured or learned Sentinel answered within the Sentinel timeout.
    NoSentinelReachable,
    /// Sentinels answered, but none knows a master by this name.
    MasterUnknown(String),
    /// No replica is usable for a read, and the read policy forbids the master.
    NoReplicaAvailable,
    /// The master could not be reached (down, or failing over).
    MasterUnavailable(String),
    /// A node's role did not match what Sentinel said (a stale Sentinel, a failover in progress).
    RoleMismatch {
        /// The node.
        addr: String,
        /// The role Sentinel implied.
        expected: &'static str,
        /// The role the node reported.
        actual: String,
    },
    /// The per-call deadline passed before any attempt succeeded.
    DeadlineExceeded,
    /// The server answered with an error (`-ERR ...`, `-WRONGTYPE ...`).
    Server(String),
    /// A connection failed (refused, reset, closed) or timed out.
    Io(String),
    /// A peer sent something that is not valid RESP, or an unexpected reply shape.
    Protocol(String),
    /// The client was configured wrongly.
    Config(String),
}

/// Short, stable names of the error kinds (for logs, metrics and the `rw_split` example).
impl Error {
    /// A one-word kind.
    pub fn kind(&self) -> &'static str {
        match self {
            Error::NoSentinelReachable => "no_sentinel_reachable",
            Error::MasterUnknown(_) => "master_unknown",
            Error::NoReplicaAvailable => "no_replica_available",
            Error::MasterUnavailable(_) => "master_unavailable",
            Error::RoleMismatch { .. } => "role_mismatch",
            Error::DeadlineExceeded => "deadline_exceeded",
            Error::Server(_) => "server",
            Error::Io(_) => "io",
            Error::Protocol(_) => "protocol",
            Error::Config(_) => "config",
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::NoSentinelReachable => write!(f, "no Sentinel reachable"),
            Error::MasterUnknown(name) => write!(f, "master '{name}' is unknown to the Sentinels"),
            Error::NoReplicaAvailable => write!(f, "no replica available"),
            Error::MasterUnavailable(why) => write!(f, "master unavailable: {why}"),
            Error::RoleMismatch { addr, expected, actual } => {
                write!(f, "{addr} should be a {expected} but reports role '{actual}'")
            }
            Error::DeadlineExceeded => write!(f, "deadline exceeded"),
            Error::Server(e) => write!(f, "server error: {e}"),
            Error::Io(e) => write!(f, "connection error: {e}"),
            Error::Protocol(e) => write!(f, "protocol error: {e}"),
            Error::Config(e) => write!(f, "configuration error: {e}"),
        }
    }
}

impl std::error::Error for Error {}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        match e.kind() {
            std::io::ErrorKind::InvalidData => Error::Protocol(e.to_string()),
            _ => Error::Io(e.to_string()),
        }
    }
}

/// The client's result type.
pub type Result<T> = std::result::Result<T, Error>;

#[cfg(test)]
mod tests {
    use super::*;

    /// Every kind with the text a user reads: each says what went wrong once, with its detail after one prefix.
    #[test]
    fn every_error_reads_once() {
        let cases = [
            (Error::NoSentinelReachable, "no Sentinel reachable"),
            (
                Error::MasterUnknown("m".into()),
                "master 'm' is unknown to the Sentinels",
            ),
            (Error::NoReplicaAvailable, "no replica available"),
            (
                Error::MasterUnavailable("h:1: closed".into()),
                "master unavailable: h:1: closed",
            ),
            (
                Error::RoleMismatch {
                    addr: "h:1".into(),
                    expected: "replica",
                    actual: "master".into(),
                },
                "h:1 should be a replica but reports role 'master'",
            ),
            (Error::DeadlineExceeded, "deadline exceeded"),
            (Error::Server("ERR x".into()), "server error: ERR x"),
            (Error::Io("h:1: reset".into()), "connection error: h:1: reset"),
            (Error::Protocol("bad".into()), "protocol error: bad"),
            (
                Error::Config("'x' is not host:port".into()),
                "configuration error: 'x' is not host:port",
            ),
        ];
        for (e, text) in cases {
            assert_eq!(e.to_string(), text, "{e:?}");
        }
    }

    /// What the builder returns for a bad address: the parse error itself, not its text wrapped again.
    #[test]
    fn a_builder_error_reads_once() {
        let e = crate::Client::builder()
            .sentinel("nohost")
            .master_name("m")
            .build()
            .unwrap_err();
        assert_eq!(e, Error::Config("'nohost' is not host:port".into()));
        assert_eq!(e.to_string(), "configuration error: 'nohost' is not host:port");
    }
}
