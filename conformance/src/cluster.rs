//! One Sentinel deployment on loopback: 1 master, 2 replicas and 3 Sentinels, real or fake.
//!
//! Nodes are named as in the simulation: `redis-1` starts as master, `redis-2` and `redis-3` replicate it,
//! `sentinel-1..3` monitor it as `mymaster`. Both flavours get the same ports layout and settings, so a test can
//! run the same steps against each and compare.

use std::io;
use std::time::Duration;

use redsim_net::Net;
use redsim_resp::{Reply, RespConn};

use crate::process::{Binaries, Process, ScratchDir, free_port};

/// Which servers a [`Cluster`] runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    /// `redis-server` and `redis-sentinel` from `PATH`.
    Real,
    /// The workspace's `fake-redis` and `fake-sentinel` binaries.
    Fake,
}

impl Flavor {
    /// `real` or `fake`.
    pub fn name(self) -> &'static str {
        match self {
            Flavor::Real => "real",
            Flavor::Fake => "fake",
        }
    }
}

/// A node's name in the topology (`redis-1`, `sentinel-2`, ...).
pub type NodeId = &'static str;

/// The data nodes, master first.
pub const DATA_NODES: [NodeId; 3] = ["redis-1", "redis-2", "redis-3"];
/// The Sentinels.
pub const SENTINELS: [NodeId; 3] = ["sentinel-1", "sentinel-2", "sentinel-3"];
/// The master's name as the Sentinels monitor it.
pub const MASTER_NAME: &str = "mymaster";

/// Sentinel settings shared by both flavours.
#[derive(Debug, Clone)]
pub struct ClusterConfig {
    /// Sentinels needed to agree the master is down.
    pub quorum: u32,
    /// `down-after-milliseconds`.
    pub down_after_ms: u64,
    /// `failover-timeout`.
    pub failover_timeout_ms: u64,
    /// How long [`Cluster::start`] waits for replication and Sentinel discovery before giving up.
    pub ready_timeout_ms: u64,
    /// More command-line options for every data node (both flavours take `--replica-priority N`, say).
    pub data_node_args: Vec<String>,
}

impl Default for ClusterConfig {
    fn default() -> Self {
        ClusterConfig {
            quorum: 2,
            down_after_ms: 2000,
            failover_timeout_ms: 10_000,
            ready_timeout_ms: 30_000,
            data_node_args: Vec::new(),
        }
    }
}

/// How many times [`Cluster::start`] tries before it reports a process that would not start.
pub const START_ATTEMPTS: u32 = 3;

/// How long one command to a node may take in these tests.
const CALL_TIMEOUT: Duration = Duration::from_secs(5);

struct Node {
    id: NodeId,
    port: u16,
    process: Process,
    /// How it was started, for [`Cluster::restart`].
    program: std::path::PathBuf,
    args: Vec<String>,
}

/// A running deployment; dropping it kills every process and removes its directory.
pub struct Cluster {
    flavor: Flavor,
    config: ClusterConfig,
    nodes: Vec<Node>,
    // Declared last: dropped after the processes that write into it.
    scratch: ScratchDir,
}

impl std::fmt::Debug for Cluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ports: Vec<String> = self.nodes.iter().map(|n| format!("{}:{}", n.id, n.port)).collect();
        write!(f, "Cluster({}, {})", self.flavor.name(), ports.join(" "))
    }
}

impl Cluster {
    /// Starts the six processes and waits until the replicas are in sync and every Sentinel knows both
    /// replicas (with working links to them) and both other Sentinels.
    ///
    /// A port picked free can be taken by another process before the server binds it (tests start clusters in
    /// parallel): a start whose process exits during start-up is retried with new ports, up to
    /// [`START_ATTEMPTS`] times.
    pub async fn start(flavor: Flavor, config: ClusterConfig) -> io::Result<Cluster> {
        let bins = match flavor {
            Flavor::Real => Binaries::real().map_err(io::Error::other)?,
            Flavor::Fake => Binaries::fake()?,
        };
        let mut attempt = 1;
        loop {
            match Cluster::start_once(flavor, config.clone(), &bins).await {
                Err(e) if attempt < START_ATTEMPTS && e.to_string().contains("exited during start-up") => {
                    attempt += 1;
                }
                other => return other,
            }
        }
    }

    async fn start_once(flavor: Flavor, config: ClusterConfig, bins: &Binaries) -> io::Result<Cluster> {
        let scratch = ScratchDir::new()?;
        let mut cluster = Cluster {
            flavor,
            config,
            nodes: Vec::new(),
            scratch,
        };
        let master_port = free_port()?;
        for (i, id) in DATA_NODES.iter().enumerate() {
            let port = if i == 0 { master_port } else { free_port()? };
            let args = cluster.data_node_args(id, port, (i > 0).then_some(master_port))?;
            cluster.spawn(id, port, &bins.data_node, &args)?;
        }
        for id in SENTINELS {
            let port = free_port()?;
            let args = cluster.sentinel_args(id, port, master_port)?;
            cluster.spawn(id, port, &bins.sentinel, &args)?;
        }
        cluster.wait_ready().await?;
        Ok(cluster)
    }

    fn data_node_args(&self, id: NodeId, port: u16, master: Option<u16>) -> io::Result<Vec<String>> {
        let mut args: Vec<String> = ["--port", &port.to_string(), "--bind", "127.0.0.1"]
            .map(String::from)
            .to_vec();
        match self.flavor {
            Flavor::Real => {
                let dir = self.scratch.path().join(id);
                std::fs::create_dir_all(&dir)?;
                let dir = dir.display().to_string();
                args.extend(["--save", "", "--appendonly", "no", "--dir", &dir].map(String::from));
            }
            Flavor::Fake => args.extend(["--name".to_string(), id.to_string()]),
        }
        if let Some(m) = master {
            args.extend(["--replicaof".to_string(), "127.0.0.1".to_string(), m.to_string()]);
        }
        args.extend(self.config.data_node_args.iter().cloned());
        Ok(args)
    }

    fn sentinel_args(&self, id: NodeId, port: u16, master_port: u16) -> io::Result<Vec<String>> {
        let c = &self.config;
        Ok(match self.flavor {
            Flavor::Real => {
                // A real Sentinel must own a writable config file: it rewrites it with what it learns.
                let file = self.scratch.path().join(format!("{id}.conf"));
                let text = format!(
                    "port {port}\nbind 127.0.0.1\ndir {dir}\n\
                     sentinel monitor {MASTER_NAME} 127.0.0.1 {master_port} {q}\n\
                     sentinel down-after-milliseconds {MASTER_NAME} {d}\n\
                     sentinel failover-timeout {MASTER_NAME} {f}\n",
                    dir = self.scratch.path().display(),
                    q = c.quorum,
                    d = c.down_after_ms,
                    f = c.failover_timeout_ms,
                );
                std::fs::write(&file, text)?;
                vec![file.display().to_string()]
            }
            Flavor::Fake => [
                "--port",
                &port.to_string(),
                "--name",
                id,
                "--monitor",
                MASTER_NAME,
                "127.0.0.1",
                &master_port.to_string(),
                &c.quorum.to_string(),
                "--down-after-ms",
                &c.down_after_ms.to_string(),
                "--failover-timeout-ms",
                &c.failover_timeout_ms.to_string(),
            ]
            .map(String::from)
            .to_vec(),
        })
    }

    fn spawn(&mut self, id: NodeId, port: u16, program: &std::path::Path, args: &[String]) -> io::Result<()> {
        let log = self.scratch.path().join(format!("{id}.log"));
        let process = Process::spawn(id, program, args, &log)?;
        self.nodes.push(Node {
            id,
            port,
            process,
            program: program.to_path_buf(),
            args: args.to_vec(),
        });
        Ok(())
    }

    async fn wait_ready(&mut self) -> io::Result<()> {
        let deadline = tokio::time::Instant::now() + Duration::from_millis(self.config.ready_timeout_ms);
        let mut last = String::new();
        while tokio::time::Instant::now() < deadline {
            match self.readiness().await {
                Ok(()) => return Ok(()),
                Err(why) => last = why,
            }
            let exited = self
                .nodes
                .iter_mut()
                .find_map(|n| (!n.process.is_running()).then_some(n.id));
            if let Some(id) = exited {
                return Err(io::Error::other(format!(
                    "{} {id} exited during start-up: {}",
                    self.flavor.name(),
                    self.log_tail(id)
                )));
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        Err(io::Error::other(format!(
            "{} cluster not ready after {} ms: {last}",
            self.flavor.name(),
            self.config.ready_timeout_ms
        )))
    }

    async fn readiness(&self) -> Result<(), String> {
        for id in &DATA_NODES[1..] {
            let info = self.info_field(id, "replication", "master_link_status").await?;
            if info != "up" {
                return Err(format!("{id}: master_link_status {info}"));
            }
        }
        for id in SENTINELS {
            let reply = self
                .call(id, &["SENTINEL", "MASTER", MASTER_NAME])
                .await
                .map_err(|e| e.to_string())?;
            for (field, want) in [("num-slaves", "2"), ("num-other-sentinels", "2"), ("flags", "master")] {
                let got = map_field(&reply, field).unwrap_or_default();
                if got != want {
                    return Err(format!("{id}: {field} is {got}, want {want}"));
                }
            }
            // A replica Sentinel has just learnt of is `disconnected` until its own links are up, and clients
            // leave it out: wait until every Sentinel has a working link to both.
            let replicas = self
                .call(id, &["SENTINEL", "REPLICAS", MASTER_NAME])
                .await
                .map_err(|e| e.to_string())?;
            for r in replicas.as_array().unwrap_or_default() {
                let flags = map_field(r, "flags").unwrap_or_default();
                let link = map_field(r, "master-link-status").unwrap_or_default();
                if flags != "slave" || link != "ok" {
                    return Err(format!("{id}: a replica has flags {flags}, master-link-status {link}"));
                }
            }
        }
        Ok(())
    }

    /// One field of an `INFO section` reply.
    pub async fn info_field(&self, id: NodeId, section: &str, field: &str) -> Result<String, String> {
        let info = self
            .call(id, &["INFO", section])
            .await
            .map_err(|e| format!("{id}: {e}"))?;
        let text = info
            .as_text()
            .ok_or_else(|| format!("{id}: INFO answered {}", info.summary()))?;
        Ok(text
            .lines()
            .find_map(|l| l.strip_prefix(field)?.strip_prefix(':').map(str::to_string))
            .unwrap_or_default())
    }

    /// The flavour.
    pub fn flavor(&self) -> Flavor {
        self.flavor
    }

    /// The settings it was started with.
    pub fn config(&self) -> &ClusterConfig {
        &self.config
    }

    /// The data node that started as master.
    pub fn master(&self) -> NodeId {
        DATA_NODES[0]
    }

    /// Every node with its port, data nodes first.
    pub fn ports(&self) -> Vec<(NodeId, u16)> {
        self.nodes.iter().map(|n| (n.id, n.port)).collect()
    }

    /// The port of a node.
    pub fn port(&self, id: &str) -> u16 {
        self.node(id).port
    }

    fn node(&self, id: &str) -> &Node {
        self.nodes
            .iter()
            .find(|n| n.id == id)
            .unwrap_or_else(|| panic!("no node named {id} in this cluster"))
    }

    fn node_mut(&mut self, id: &str) -> &mut Node {
        self.nodes
            .iter_mut()
            .find(|n| n.id == id)
            .unwrap_or_else(|| panic!("no node named {id} in this cluster"))
    }

    /// A fresh connection to a node.
    pub async fn connect(&self, id: &str) -> io::Result<RespConn> {
        RespConn::connect(Net::Tokio, "127.0.0.1", self.port(id), CALL_TIMEOUT).await
    }

    /// One command on a fresh connection.
    pub async fn call(&self, id: &str, args: &[&str]) -> io::Result<Reply> {
        self.connect(id).await?.call(args).await
    }

    /// SIGKILL a node: gone, its port refuses connections.
    pub fn kill(&mut self, id: &str) {
        self.node_mut(id).process.kill();
    }

    /// Starts a node again as it was first started (same port, same configuration; a real Sentinel keeps what
    /// it wrote to its file), killing it first if it still runs. Its log goes on in the same file.
    pub fn restart(&mut self, id: &str) -> io::Result<()> {
        let log = self.scratch.path().join(format!("{id}.log"));
        let node = self.node_mut(id);
        node.process.kill();
        node.process = Process::spawn(node.id, &node.program, &node.args, &log)?;
        Ok(())
    }

    /// SIGSTOP a node.
    pub fn pause(&self, id: &str) -> io::Result<()> {
        self.node(id).process.pause()
    }

    /// SIGCONT a paused node.
    pub fn resume(&self, id: &str) -> io::Result<()> {
        self.node(id).process.resume()
    }

    /// The scratch directory (logs of the processes).
    pub fn dir(&self) -> &std::path::Path {
        self.scratch.path()
    }

    /// The last lines a node wrote to its log, for error messages.
    pub fn log_tail(&self, id: &str) -> String {
        let text = std::fs::read_to_string(self.scratch.path().join(format!("{id}.log"))).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(5)..].join(" | ")
    }
}

/// Every event the Sentinels publish, as it arrives; dropping it ends the subscriptions.
pub struct EventStream {
    rx: tokio::sync::mpsc::UnboundedReceiver<(tokio::time::Instant, String, String, String)>,
    _tasks: Tasks,
}

/// Reader tasks that stop when this is dropped (a subscription or a MONITOR stream per node).
#[derive(Default)]
pub(crate) struct Tasks(pub(crate) Vec<tokio::task::JoinHandle<()>>);

impl Drop for Tasks {
    fn drop(&mut self) {
        for t in &self.0 {
            t.abort();
        }
    }
}

impl EventStream {
    /// Collects events, timed from `t0`, until `done` says so (checked after each event) or `timeout` passes.
    pub async fn collect(
        &mut self,
        t0: tokio::time::Instant,
        timeout: Duration,
        done: impl Fn(&[crate::parity::Event]) -> bool,
    ) -> Vec<crate::parity::Event> {
        let deadline = t0 + timeout;
        let mut out = Vec::new();
        while let Ok(Some((at, sentinel, event, payload))) = tokio::time::timeout_at(deadline, self.rx.recv()).await {
            out.push(crate::parity::Event {
                at_ms: if at >= t0 {
                    (at - t0).as_millis() as i64
                } else {
                    -((t0 - at).as_millis() as i64)
                },
                sentinel,
                key: crate::parity::event_key(&event, &payload),
            });
            if done(&out) {
                break;
            }
        }
        out
    }
}

impl Cluster {
    /// Subscribes to every channel of every Sentinel (`PSUBSCRIBE *`); returns once all three are subscribed.
    pub async fn watch_sentinel_events(&self) -> io::Result<EventStream> {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let mut tasks = Tasks::default();
        for id in SENTINELS {
            let mut conn = self.connect(id).await?;
            conn.call(&["PSUBSCRIBE", "*"]).await?;
            // A subscriber waits as long as the test does.
            conn.set_timeout(Duration::from_secs(3600));
            let tx = tx.clone();
            tasks.0.push(tokio::spawn(async move {
                while let Ok(msg) = conn.read().await {
                    let Some(items) = msg.as_array() else { continue };
                    if let [kind, _pattern, channel, payload] = items
                        && kind.as_text().as_deref() == Some("pmessage")
                    {
                        let (channel, payload) = (
                            channel.as_text().unwrap_or_default(),
                            payload.as_text().unwrap_or_default(),
                        );
                        // Hello messages are Sentinel-to-Sentinel chatter, not events.
                        if channel.starts_with("__sentinel__") {
                            continue;
                        }
                        if tx
                            .send((tokio::time::Instant::now(), id.to_string(), channel, payload))
                            .is_err()
                        {
                            return;
                        }
                    }
                }
            }));
        }
        Ok(EventStream { rx, _tasks: tasks })
    }
}

/// The value of `field` in a flat name/value array (`SENTINEL MASTER`, `SENTINEL REPLICAS` entries).
pub fn map_field(reply: &Reply, field: &str) -> Option<String> {
    let items = reply.as_array()?;
    items
        .chunks(2)
        .find(|kv| kv[0].as_text().as_deref() == Some(field))
        .and_then(|kv| kv.get(1)?.as_text())
}
