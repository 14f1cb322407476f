//! A standalone binary (`fake-redis`, `fake-sentinel`) as a child process, for the real-TCP tests of both
//! packages: started under an optional descriptor limit, its port read from its `listening on` line, its
//! stderr kept for assertions, and killed when dropped so a failing test leaves no process behind.
//!
//! fake-sentinel's tests include this file by path; it needs nothing but the standard library and tokio.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

/// How long a binary may take to start listening, or to exit when it is expected to.
const START_TIMEOUT: Duration = Duration::from_secs(10);

/// `exe args`, through `sh` with `ulimit -n nofile` first when a limit is given (as an operator would start it;
/// `ulimit -n` sets both the soft and the hard limit, so the process cannot raise it back).
pub fn command(exe: &str, args: &[&str], nofile: Option<u64>) -> Command {
    match nofile {
        None => {
            let mut c = Command::new(exe);
            c.args(args);
            c
        }
        Some(n) => {
            let mut c = Command::new("sh");
            c.arg("-c")
                .arg(format!("ulimit -n {n} && exec \"$0\" \"$@\""))
                .arg(exe)
                .args(args);
            c
        }
    }
}

/// A running binary.
pub struct Binary {
    child: Child,
    /// The port it listens on.
    pub port: u16,
    stderr: Arc<Mutex<Vec<String>>>,
}

impl Binary {
    /// Starts `exe args` (under `ulimit -n nofile` when given) and waits for its `... listening on HOST:PORT`
    /// line. Panics, with what the binary printed, if it exits or stays silent instead.
    pub fn start(exe: &str, args: &[&str], nofile: Option<u64>) -> Binary {
        let mut child = command(exe, args, nofile)
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("start {exe}: {e}"));
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let (port_tx, port_rx) = mpsc::channel();
        let reader = BufReader::new(child.stderr.take().expect("piped stderr"));
        let lines = Arc::clone(&stderr);
        // Drained for the whole life of the child, so that it never blocks on a full pipe.
        std::thread::spawn(move || {
            for line in reader.lines() {
                let Ok(line) = line else { break };
                if line.contains(" listening on ") {
                    let port = line.trim().rsplit(':').next().and_then(|p| p.parse::<u16>().ok());
                    let _ = port_tx.send(port);
                }
                lines.lock().unwrap_or_else(|p| p.into_inner()).push(line);
            }
        });
        let mut bin = Binary { child, port: 0, stderr };
        match port_rx.recv_timeout(START_TIMEOUT) {
            Ok(Some(port)) => bin.port = port,
            _ => panic!("{exe} did not start listening; it printed {:?}", bin.stderr()),
        }
        bin
    }

    /// Every line it wrote to stderr so far.
    pub fn stderr(&self) -> Vec<String> {
        self.stderr.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Its resident memory (`VmRSS` of `/proc/PID/status`), in bytes; `None` where there is no procfs.
    pub fn rss_bytes(&self) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).ok()?;
        let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
        let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
        Some(kb * 1024)
    }

    /// The CPU time it has used so far (user + system, from `/proc/PID/stat`), in clock ticks (1/100 s on
    /// Linux); `None` where there is no procfs. A count of work done, unlike a wall-clock reading, which
    /// other processes on a shared machine disturb.
    pub fn cpu_ticks(&self) -> Option<u64> {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.child.id())).ok()?;
        // The command name, in parentheses, may hold spaces: count fields after its closing parenthesis.
        let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
        let utime: u64 = fields.get(11)?.parse().ok()?;
        let stime: u64 = fields.get(12)?.parse().ok()?;
        Some(utime + stime)
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for Binary {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `exe args` (under `ulimit -n nofile` when given) expecting it to exit by itself: its exit status and
/// stderr, or `None` (after killing it) if it was still running after the start timeout.
pub fn run_to_exit(exe: &str, args: &[&str], nofile: Option<u64>) -> Option<(ExitStatus, String)> {
    let mut child = command(exe, args, nofile)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("start {exe}: {e}"));
    let mut reader = child.stderr.take().expect("piped stderr");
    let output = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = std::io::Read::read_to_string(&mut reader, &mut s);
        s
    });
    let deadline = Instant::now() + START_TIMEOUT;
    let status = loop {
        if let Ok(Some(status)) = child.try_wait() {
            break Some(status);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let stderr = output.join().unwrap_or_default();
    status.map(|s| (s, stderr))
}

/// How a connection answered its first PING.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// `+PONG`: it was admitted.
    Pong,
    /// `-ERR max number of clients reached`: refused, as Redis refuses clients beyond maxclients.
    MaxClients,
    /// Closed (or reset) without an answer: refused without a word.
    Closed,
    /// Anything else, or no answer in time: the server misbehaved.
    Other(String),
}

/// How long one connection may take to connect or to answer.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(10);

/// Opens `n` connections to `127.0.0.1:port` and holds them all, then sends PING on each and reads its first
/// line. All are open before any is read, so that the server faces all of them at once.
pub async fn ping_many(port: u16, n: usize) -> Vec<Answer> {
    use tokio::io::AsyncWriteExt;
    let mut conns = Vec::new();
    for _ in 0..n {
        let connect = tokio::net::TcpStream::connect(("127.0.0.1", port));
        conns.push(match tokio::time::timeout(ANSWER_TIMEOUT, connect).await {
            Ok(Ok(s)) => Ok(s),
            Ok(Err(e)) => Err(format!("could not connect: {e}")),
            Err(_) => Err("could not connect in time".to_string()),
        });
    }
    let mut answers = Vec::new();
    for conn in &mut conns {
        match conn {
            Ok(s) => {
                // A refused connection may already be closed, so a failed write is no answer: read what came.
                let _ = s.write_all(b"PING\r\n").await;
                answers.push(first_line(s).await);
            }
            Err(e) => answers.push(Answer::Other(e.clone())),
        }
    }
    answers
}

/// The first line the server sent on `s`, as an [`Answer`].
async fn first_line(s: &mut tokio::net::TcpStream) -> Answer {
    use tokio::io::AsyncReadExt;
    let mut got = Vec::new();
    let mut buf = [0u8; 256];
    loop {
        if got.ends_with(b"\r\n") {
            break;
        }
        match tokio::time::timeout(ANSWER_TIMEOUT, s.read(&mut buf)).await {
            Err(_) => return Answer::Other(format!("no answer, got {:?}", String::from_utf8_lossy(&got))),
            Ok(Ok(0)) | Ok(Err(_)) if got.is_empty() => return Answer::Closed,
            Ok(Ok(0)) | Ok(Err(_)) => break,
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
        }
    }
    match &got[..] {
        b"+PONG\r\n" => Answer::Pong,
        b"-ERR max number of clients reached\r\n" => Answer::MaxClients,
        other => Answer::Other(String::from_utf8_lossy(other).into_owned()),
    }
}

/// Whether a new connection gets `+PONG`, retrying for a while: the server learns of closed connections
/// asynchronously, so right after many closed a new one may still be refused.
pub async fn pong_on_a_new_connection(port: u16) -> bool {
    for _ in 0..100 {
        if ping_many(port, 1).await == [Answer::Pong] {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

/// How many answers of each kind: `(admitted, refused, other)`, refused counting both the error and a close.
pub fn tally(answers: &[Answer]) -> (usize, usize, Vec<Answer>) {
    let admitted = answers.iter().filter(|a| **a == Answer::Pong).count();
    let refused = answers
        .iter()
        .filter(|a| matches!(a, Answer::MaxClients | Answer::Closed))
        .count();
    let other = answers
        .iter()
        .filter(|a| matches!(a, Answer::Other(_)))
        .cloned()
        .collect();
    (admitted, refused, other)
}

/// Runs a test body on a single-threaded runtime with real timers and sockets.
pub fn block_on<F: std::future::Future>(body: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime")
        .block_on(body)
}
