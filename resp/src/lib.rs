//! The RESP toolkit redsim's fake servers share.
//!
//! Requests are parsed the way Redis parses them ([`RequestParser`]: multibulk and inline, Redis's protocol
//! errors and limits); replies are built as [`Reply`] trees and encoded as RESP2 or RESP3 through
//! redis-protocol; [`serve_connection`] runs one client connection against any [`Handler`]; [`RespConn`] is a
//! tiny request/reply client for tests, tools and the Sentinel's links. Nothing here knows about keys,
//! replication or Sentinel: that is the servers' business.
//!
//! ```
//! use redsim_resp::{Protocol, Reply, RequestParser};
//! use bytes::BytesMut;
//!
//! let mut buf = BytesMut::from(&b"*2\r\n$4\r\nECHO\r\n$2\r\nhi\r\n"[..]);
//! let req = RequestParser::new().parse(&mut buf, true).unwrap().unwrap();
//! assert_eq!(req.args, ["ECHO", "hi"]);
//! assert_eq!(&Reply::Bulk(req.args[1].clone()).to_bytes(Protocol::Resp2)[..], b"$2\r\nhi\r\n");
//! ```

#![warn(missing_docs)]

mod glob;
pub mod info;
mod reply;
mod reply_reader;
mod request;
mod resp_conn;
mod server;

pub use glob::glob_match;
pub use reply::{Protocol, Reply, SUMMARY_MAX_BYTES, format_double, unknown_command};
pub use reply_reader::{REPLY_MAX_BYTES, REPLY_MAX_DEPTH, ReplyError, ReplyLimits, ReplyReader, decode_one};
pub use request::{BULK_MAX_BYTES, ProtocolError, Request, RequestParser, encode_multibulk, parse_int, split_args};
pub use resp_conn::{RespConn, decode_reply, frame_len, take_reply};
pub use server::{
    Handler, NewConnection, Outcome, Pending, PushSender, QUERY_BUFFER_LIMIT_BYTES, fmt_addr, serve_connection,
};
