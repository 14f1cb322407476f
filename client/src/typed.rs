//! Typed methods for the common string and key commands.

use redsim_resp::Reply;

use crate::client::Client;
use crate::error::{Error, Result};

fn bytes_or_nil(r: Reply) -> Result<Option<Vec<u8>>> {
    match r {
        Reply::Nil | Reply::NilArray => Ok(None),
        Reply::Bulk(b) => Ok(Some(b.to_vec())),
        other => Err(Error::Protocol(format!("expected a string, got {}", other.summary()))),
    }
}

fn int(r: Reply) -> Result<i64> {
    r.as_int()
        .ok_or_else(|| Error::Protocol(format!("expected an integer, got {}", r.summary())))
}

impl Client {
    /// `GET key`: `None` when the key does not exist. A read.
    pub async fn get(&self, key: &str) -> Result<Option<Vec<u8>>> {
        bytes_or_nil(self.command(&["GET", key]).await?)
    }

    /// `SET key value`.
    pub async fn set(&self, key: &str, value: &str) -> Result<()> {
        self.command(&["SET", key, value]).await.map(|_| ())
    }

    /// `SET key value PX ms`.
    pub async fn set_px(&self, key: &str, value: &str, ttl_ms: u64) -> Result<()> {
        self.command(&["SET", key, value, "PX", &ttl_ms.to_string()])
            .await
            .map(|_| ())
    }

    /// `DEL key...`: how many existed.
    pub async fn del(&self, keys: &[&str]) -> Result<i64> {
        let mut args = vec!["DEL"];
        args.extend_from_slice(keys);
        int(self.command(&args).await?)
    }

    /// `EXISTS key...`. A read.
    pub async fn exists(&self, keys: &[&str]) -> Result<i64> {
        let mut args = vec!["EXISTS"];
        args.extend_from_slice(keys);
        int(self.command(&args).await?)
    }

    /// `INCRBY key by`: the new value. Not idempotent: never retried after an ambiguous failure.
    pub async fn incr_by(&self, key: &str, by: i64) -> Result<i64> {
        int(self.command(&["INCRBY", key, &by.to_string()]).await?)
    }

    /// `PEXPIRE key ms`: whether the key exists.
    pub async fn pexpire(&self, key: &str, ms: u64) -> Result<bool> {
        Ok(int(self.command(&["PEXPIRE", key, &ms.to_string()]).await?)? == 1)
    }

    /// `PTTL key`: milliseconds left, -1 without expiry, -2 without key. A read.
    pub async fn pttl(&self, key: &str) -> Result<i64> {
        int(self.command(&["PTTL", key]).await?)
    }

    /// `MGET key...`. A read.
    pub async fn mget(&self, keys: &[&str]) -> Result<Vec<Option<Vec<u8>>>> {
        let mut args = vec!["MGET"];
        args.extend_from_slice(keys);
        match self.command(&args).await? {
            Reply::Array(items) => items.into_iter().map(bytes_or_nil).collect(),
            other => Err(Error::Protocol(format!("expected an array, got {}", other.summary()))),
        }
    }

    /// `MSET key value ...`.
    pub async fn mset(&self, pairs: &[(&str, &str)]) -> Result<()> {
        let mut args = vec!["MSET"];
        for (k, v) in pairs {
            args.push(k);
            args.push(v);
        }
        self.command(&args).await.map(|_| ())
    }

    /// `PUBLISH channel message`: how many received it.
    pub async fn publish(&self, channel: &str, message: &str) -> Result<i64> {
        int(self.command(&["PUBLISH", channel, message]).await?)
    }
}
