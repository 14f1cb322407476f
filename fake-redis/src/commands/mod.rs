//! Command implementations, one file per family. Each takes the node state and the arguments (already checked
//! for arity, auth, role and MULTI by [`crate::node::State::execute`]) and returns the reply.

pub(crate) mod client;
pub(crate) mod connection;
pub(crate) mod hashes;
pub(crate) mod keys;
pub(crate) mod lists;
pub(crate) mod pubsub;
pub(crate) mod replication;
pub(crate) mod scan;
pub(crate) mod scripting;
pub(crate) mod server;
pub(crate) mod sets;
pub(crate) mod sorted_sets;
pub(crate) mod strings;
pub(crate) mod transaction;

use redsim_resp::Reply;

pub(crate) fn syntax_error() -> Reply {
    Reply::err("syntax error")
}

pub(crate) fn not_an_integer() -> Reply {
    Reply::err("value is not an integer or out of range")
}

/// Parses an integer argument the way Redis's `getLongLongFromObject` does.
pub(crate) fn int_arg(b: &[u8]) -> Result<i64, Reply> {
    redsim_resp::parse_int(b).ok_or_else(not_an_integer)
}

/// Whether an argument equals an option name, case-insensitively.
pub(crate) fn is(arg: &[u8], name: &str) -> bool {
    arg.eq_ignore_ascii_case(name.as_bytes())
}
