//! One connection to a data node, verified before use: authenticated, named, and its `ROLE` checked against
//! what Sentinel said. Once verified, it is handed to [`crate::mux::Mux`], which shares it among callers.

use redsim_resp::{Reply, ReplyLimits, RespConn};

use crate::config::ClientConfig;
use crate::error::{Error, Result};
#[cfg(feature = "mutants")]
use crate::mutant::Mutant;

/// The role a data node plays.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeRole {
    /// Accepts writes.
    Master,
    /// Replicates a master; serves reads.
    Replica,
}

impl NodeRole {
    fn name(self) -> &'static str {
        match self {
            NodeRole::Master => "master",
            NodeRole::Replica => "replica",
        }
    }
}

/// A verified connection.
#[derive(Debug)]
pub(crate) struct Conn {
    pub addr: String,
    inner: RespConn,
}

impl Conn {
    /// Connects, authenticates, names itself, and checks the node's role.
    pub(crate) async fn open(cfg: &ClientConfig, host: &str, port: u16, expected: NodeRole) -> Result<Conn> {
        let addr = format!("{host}:{port}");
        let mut inner = RespConn::connect(cfg.net, host, port, cfg.connect_timeout)
            .await
            .map_err(|e| Error::Io(format!("{addr}: {e}")))?;
        inner.set_timeout(cfg.command_timeout);
        inner.set_limits(ReplyLimits::with_max_bytes(cfg.max_reply_bytes));
        let mut conn = Conn { addr, inner };
        if let Some(pw) = &cfg.password {
            let mut args: Vec<&[u8]> = vec![b"AUTH"];
            if let Some(u) = &cfg.username {
                args.push(u.as_bytes());
            }
            args.push(pw.as_bytes());
            conn.expect_ok(&args).await?;
        }
        conn.expect_ok(&[b"CLIENT", b"SETNAME", cfg.client_name.as_bytes()])
            .await?;
        // Mutant BlindMaster: any node will do.
        #[cfg(feature = "mutants")]
        if cfg.mutant == Some(Mutant::BlindMaster) {
            return Ok(conn);
        }
        let role = conn.raw(&[b"ROLE"]).await?;
        let actual = role
            .as_array()
            .and_then(|items| items.first())
            .and_then(Reply::as_text)
            .ok_or_else(|| Error::Protocol(format!("{}: unexpected ROLE reply {}", conn.addr, role.summary())))?;
        let matches = match expected {
            NodeRole::Master => actual == "master",
            NodeRole::Replica => actual == "slave",
        };
        if !matches {
            return Err(Error::RoleMismatch {
                addr: conn.addr,
                expected: expected.name(),
                actual,
            });
        }
        Ok(conn)
    }

    async fn expect_ok(&mut self, args: &[&[u8]]) -> Result<()> {
        match self.raw(args).await? {
            Reply::Error(e) => Err(Error::Server(format!("{}: {e}", self.addr))),
            _ => Ok(()),
        }
    }

    async fn raw(&mut self, args: &[&[u8]]) -> Result<Reply> {
        self.inner
            .send(args)
            .await
            .map_err(|e| Error::Io(format!("{}: {e}", self.addr)))?;
        self.inner.read().await.map_err(|e| match e.kind() {
            std::io::ErrorKind::InvalidData => Error::Protocol(format!("{}: {e}", self.addr)),
            _ => Error::Io(format!("{}: {e}", self.addr)),
        })
    }

    /// The address and the raw connection, for [`crate::mux::Mux`] to drive.
    pub(crate) fn into_parts(self) -> (String, RespConn) {
        (self.addr, self.inner)
    }
}
