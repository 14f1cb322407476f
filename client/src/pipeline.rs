//! Pipelines and transactions.

use bytes::Bytes;
use redsim_resp::Reply;

use crate::client::Client;
use crate::error::Result;

/// Commands queued to be sent together. Built by [`Client::pipeline`] or [`Client::transaction`].
#[derive(Debug)]
pub struct Pipeline {
    client: Client,
    transaction: bool,
    cmds: Vec<Vec<Bytes>>,
}

impl Pipeline {
    pub(crate) fn new(client: Client, transaction: bool) -> Pipeline {
        Pipeline {
            client,
            transaction,
            cmds: Vec::new(),
        }
    }

    /// Queues a command.
    pub fn cmd(mut self, args: &[&str]) -> Self {
        self.cmds
            .push(args.iter().map(|a| Bytes::copy_from_slice(a.as_bytes())).collect());
        self
    }

    /// Sends everything and returns one reply per command (error replies included, as `Reply::Error`). A
    /// pipeline of reads only follows the read policy; anything else goes to the master. A transaction returns
    /// EXEC's replies.
    pub async fn query(self) -> Result<Vec<Reply>> {
        if self.cmds.is_empty() {
            return Ok(Vec::new());
        }
        self.client.run_pipeline(self.cmds, self.transaction).await
    }
}
