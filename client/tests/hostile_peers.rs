//! The client on real TCP against a Sentinel and a data node that answer with hostile replies: nested deeper
//! than any decoder's stack, or announcing gigabytes. Each must become a clear error for the call, with bounded
//! memory, and never take the application down.

use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use redsim_client::{Client, Error, EventKind, Net};
use redsim_resp::{Protocol, Reply, RequestParser};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// A reply nested 100,000 arrays deep (400 KB), enough to overflow a recursive decoder's stack.
fn nested_reply() -> Vec<u8> {
    let mut r = "*1\r\n".repeat(100_000).into_bytes();
    r.extend_from_slice(b":1\r\n");
    r
}

/// How a scripted peer answers one command (its words, lowercased).
type Script = Arc<dyn Fn(&[String]) -> Answer + Send + Sync>;

enum Answer {
    /// These bytes.
    Bytes(Vec<u8>),
    /// An array announcing `count` elements, streamed as `:1` until the peer hangs up.
    Endless(u64),
}

fn reply(r: Reply) -> Answer {
    Answer::Bytes(r.to_bytes(Protocol::Resp2).to_vec())
}

/// Serves `script` on a loopback port.
async fn scripted_peer(script: Script) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(serve(stream, script.clone()));
        }
    });
    port
}

async fn serve(mut s: TcpStream, script: Script) {
    let mut buf = BytesMut::new();
    let mut parser = RequestParser::new();
    loop {
        match s.read_buf(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        while let Ok(Some(req)) = parser.parse(&mut buf, true) {
            let words: Vec<String> = req
                .args
                .iter()
                .map(|a| String::from_utf8_lossy(a).to_ascii_lowercase())
                .collect();
            match script(&words) {
                Answer::Bytes(b) => {
                    if s.write_all(&b).await.is_err() {
                        return;
                    }
                }
                Answer::Endless(count) => {
                    if s.write_all(format!("*{count}\r\n").as_bytes()).await.is_err() {
                        return;
                    }
                    let chunk = ":1\r\n".repeat(16 * 1024).into_bytes();
                    while s.write_all(&chunk).await.is_ok() {}
                    return;
                }
            }
        }
    }
}

/// A Sentinel that names `master` and `replica` (loopback ports) for any master name.
fn honest_sentinel(master: u16, replica: u16) -> Script {
    Arc::new(move |w: &[String]| {
        let text = |s: &str| Reply::text(s);
        match w.get(1).map(String::as_str) {
            Some("get-master-addr-by-name") => reply(Reply::Array(vec![text("127.0.0.1"), text(&master.to_string())])),
            Some("replicas") => reply(Reply::Array(vec![Reply::Array(vec![
                text("ip"),
                text("127.0.0.1"),
                text("port"),
                text(&replica.to_string()),
                text("flags"),
                text("slave"),
            ])])),
            Some("sentinels") => reply(Reply::Array(vec![])),
            _ if w[0] == "subscribe" => reply(Reply::Array(vec![text("subscribe"), text("x"), Reply::Int(1)])),
            _ => reply(Reply::ok()),
        }
    })
}

/// A data node that sets up connections like Redis (`CLIENT SETNAME`, `ROLE` as `role`), then answers every
/// command with `hostile`.
fn hostile_node(role: &'static str, hostile: Vec<u8>) -> Script {
    Arc::new(move |w: &[String]| match w[0].as_str() {
        "client" => reply(Reply::ok()),
        "role" => reply(Reply::Array(vec![Reply::text(role)])),
        _ => Answer::Bytes(hostile.clone()),
    })
}

fn client(sentinel: u16) -> Client {
    Client::builder()
        .sentinel(&format!("127.0.0.1:{sentinel}"))
        .master_name("mymaster")
        .net(Net::Tokio)
        .call_deadline(Duration::from_secs(3))
        .build()
        .unwrap()
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// This process's resident memory in bytes (Linux), or 0 where it cannot be read.
fn rss_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm.split(' ').nth(1).and_then(|p| p.parse().ok()).unwrap_or(0);
    pages * 4096
}

/// Why the client last found a Sentinel unreachable, from its events.
fn sentinel_complaint(events: &mut tokio::sync::broadcast::Receiver<redsim_client::RoutingEvent>) -> Option<String> {
    std::iter::from_fn(|| events.try_recv().ok())
        .filter_map(|e| match e.kind {
            EventKind::SentinelUnreachable { reason, .. } => Some(reason),
            _ => None,
        })
        .last()
}

#[test]
fn a_sentinel_nesting_its_reply_is_skipped_not_a_crash() {
    runtime().block_on(async {
        let nested = nested_reply();
        let sentinel = scripted_peer(Arc::new(move |_: &[String]| Answer::Bytes(nested.clone()))).await;
        let c = client(sentinel);
        let mut events = c.events();
        let got = c.command(&["GET", "k"]).await;
        assert!(matches!(got, Err(Error::NoSentinelReachable)), "{got:?}");
        assert_eq!(
            sentinel_complaint(&mut events).as_deref(),
            Some("reply nested deeper than 128 levels")
        );
    });
}

#[test]
fn a_data_node_nesting_its_reply_fails_the_call_with_a_clear_error() {
    runtime().block_on(async {
        let master = scripted_peer(hostile_node("master", nested_reply())).await;
        let replica = scripted_peer(hostile_node("slave", nested_reply())).await;
        let sentinel = scripted_peer(honest_sentinel(master, replica)).await;
        let c = client(sentinel);
        let mut events = c.events();
        // The replica is ejected like any failing replica, and the replica-only read has nowhere else to go.
        let got = c.command(&["GET", "k"]).await;
        assert!(matches!(got, Err(Error::NoReplicaAvailable)), "{got:?}");
        let ejected = std::iter::from_fn(|| events.try_recv().ok()).any(
            |e| matches!(e.kind, EventKind::ReplicaEjected { ref addr, .. } if *addr == format!("127.0.0.1:{replica}")),
        );
        assert!(ejected, "the nesting replica was not ejected");
        // The master's error says what was wrong.
        let got = c.command(&["SET", "k", "v"]).await;
        assert!(
            matches!(&got, Err(Error::MasterUnavailable(why)) if why.ends_with("reply nested deeper than 128 levels")),
            "{got:?}"
        );
    });
}

#[test]
fn a_sentinel_streaming_a_huge_array_is_cut_off_at_the_limit_with_bounded_memory() {
    runtime().block_on(async {
        // 16M elements of `:1` is 64 MB on the wire, over a gigabyte once decoded.
        let sentinel = scripted_peer(Arc::new(|_: &[String]| Answer::Endless(1 << 24))).await;
        let before = rss_bytes();
        let c = client(sentinel);
        let mut events = c.events();
        let got = c.command(&["GET", "k"]).await;
        let grown = rss_bytes().saturating_sub(before);
        assert!(matches!(got, Err(Error::NoSentinelReachable)), "{got:?}");
        assert_eq!(
            sentinel_complaint(&mut events).as_deref(),
            Some("reply larger than 1048576 bytes")
        );
        assert!(grown < 64 << 20, "memory grew by {} MB", grown >> 20);
    });
}
