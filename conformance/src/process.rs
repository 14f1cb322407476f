//! Child processes (real or fake servers), the binaries they run, scratch directories and free ports.
//!
//! Every process is a [`Process`] guard that SIGKILLs its child when dropped, so a failing test leaves nothing
//! running; every directory is a [`ScratchDir`] removed when dropped.

use std::io::{self, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};

/// Where the server binaries of one flavour live.
#[derive(Debug, Clone)]
pub struct Binaries {
    /// `redis-server` or `fake-redis`.
    pub data_node: PathBuf,
    /// `redis-sentinel` or `fake-sentinel`.
    pub sentinel: PathBuf,
}

fn on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

impl Binaries {
    /// Real Redis from `PATH`, or a sentence saying what is missing.
    pub fn real() -> Result<Binaries, String> {
        match (on_path("redis-server"), on_path("redis-sentinel")) {
            (Some(data_node), Some(sentinel)) => Ok(Binaries { data_node, sentinel }),
            (None, _) => Err("redis-server is not on PATH".into()),
            (_, None) => Err("redis-sentinel is not on PATH".into()),
        }
    }

    /// The workspace's `fake-redis` and `fake-sentinel`, built by `cargo test --workspace` next to the test
    /// binary; when they are missing (a test run of this package alone), they are built first.
    pub fn fake() -> io::Result<Binaries> {
        let dir = target_profile_dir()?;
        let bins = Binaries {
            data_node: dir.join("fake-redis"),
            sentinel: dir.join("fake-sentinel"),
        };
        if !bins.data_node.is_file() || !bins.sentinel.is_file() {
            cargo_build(&["--bin", "fake-redis", "--bin", "fake-sentinel"])?;
        }
        Ok(bins)
    }
}

/// `target/<profile>`, the directory above the running test binary's `deps/`.
pub fn target_profile_dir() -> io::Result<PathBuf> {
    let exe = std::env::current_exe()?;
    let deps = exe
        .parent()
        .ok_or_else(|| io::Error::other("the test binary has no directory"))?;
    let dir = if deps.ends_with("deps") {
        deps.parent().unwrap_or(deps)
    } else {
        deps
    };
    Ok(dir.to_path_buf())
}

/// The workspace's `rw_split` example (the binary users run against their deployment), built when missing.
pub fn rw_split() -> io::Result<PathBuf> {
    let path = target_profile_dir()?.join("examples").join("rw_split");
    if !path.is_file() {
        cargo_build(&["--example", "rw_split"])?;
    }
    Ok(path)
}

/// Runs `cargo build --workspace <args>` for a binary or example this package's tests need.
pub fn cargo_build(args: &[&str]) -> io::Result<()> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("../Cargo.toml");
    let status = Command::new(cargo)
        .arg("build")
        .arg("--manifest-path")
        .arg(manifest)
        .args(["--workspace", "--quiet"])
        .args(args)
        .status()?;
    if status.success() {
        Ok(())
    } else {
        Err(io::Error::other(format!(
            "cargo build {} failed: {status}",
            args.join(" ")
        )))
    }
}

/// Real Redis, or `None` after one line on stderr saying this test was skipped and why.
///
/// The line goes straight to the process's stderr, past the test harness's capture, so a plain `cargo test`
/// shows it.
pub fn skip_unless_real_redis(test: &str) -> Option<Binaries> {
    match Binaries::real() {
        Ok(b) => Some(b),
        Err(why) => {
            let _ = writeln!(
                io::stderr(),
                "SKIPPED {test}: {why} (apt-get install redis-server redis-sentinel; CI installs them)"
            );
            None
        }
    }
}

/// A port on 127.0.0.1 that nothing listens on right now.
///
/// The port is free when this returns; another process could take it before the server binds, which on a test
/// machine is rare enough that the server's start-up error (which names the port) is the right answer.
pub fn free_port() -> io::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// A running child process, SIGKILLed when dropped.
#[derive(Debug)]
pub struct Process {
    name: String,
    child: Option<Child>,
}

impl Process {
    /// Starts `program args...` with its output in `log` (a file in the scratch directory).
    pub fn spawn(name: &str, program: &Path, args: &[String], log: &Path) -> io::Result<Process> {
        // Appending: a restarted process goes on in its first log.
        let out = std::fs::OpenOptions::new().create(true).append(true).open(log)?;
        let err = out.try_clone()?;
        let child = Command::new(program)
            .args(args)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .map_err(|e| io::Error::new(e.kind(), format!("cannot start {}: {e}", program.display())))?;
        Ok(Process {
            name: name.to_string(),
            child: Some(child),
        })
    }

    /// Starts `program args...` with its standard output piped to the caller (stderr to `log`).
    pub fn spawn_piped(
        name: &str,
        program: &Path,
        args: &[String],
        log: &Path,
    ) -> io::Result<(Process, std::process::ChildStdout)> {
        let err = std::fs::File::create(log)?;
        let mut child = Command::new(program)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(err)
            .spawn()
            .map_err(|e| io::Error::new(e.kind(), format!("cannot start {}: {e}", program.display())))?;
        let out = child.stdout.take().ok_or_else(|| io::Error::other("no stdout pipe"))?;
        Ok((
            Process {
                name: name.to_string(),
                child: Some(child),
            },
            out,
        ))
    }

    /// The node's name in the topology.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether the process is still running (not killed, not exited).
    pub fn is_running(&mut self) -> bool {
        match &mut self.child {
            Some(child) => matches!(child.try_wait(), Ok(None)),
            None => false,
        }
    }

    /// SIGKILL, and reap it: the process is gone and its port refuses connections.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            // A child that already exited makes kill fail; either way it is gone.
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// SIGSTOP: frozen, its connections open, nothing answers.
    pub fn pause(&self) -> io::Result<()> {
        self.signal("-STOP")
    }

    /// SIGCONT after [`Process::pause`].
    pub fn resume(&self) -> io::Result<()> {
        self.signal("-CONT")
    }

    fn signal(&self, sig: &str) -> io::Result<()> {
        let child = self
            .child
            .as_ref()
            .ok_or_else(|| io::Error::other(format!("{} is not running", self.name)))?;
        let status = Command::new("kill").arg(sig).arg(child.id().to_string()).status()?;
        if status.success() {
            Ok(())
        } else {
            Err(io::Error::other(format!("kill {sig} {} failed", self.name)))
        }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        // A stopped process ignores nothing but SIGKILL, so no SIGCONT is needed first.
        self.kill();
    }
}

/// A fresh directory under the system's temporary directory, removed with everything in it when dropped.
#[derive(Debug)]
pub struct ScratchDir(PathBuf);

impl ScratchDir {
    /// Creates `redsim-conformance-<pid>-<n>`.
    pub fn new() -> io::Result<ScratchDir> {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("redsim-conformance-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir)?;
        Ok(ScratchDir(dir))
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
