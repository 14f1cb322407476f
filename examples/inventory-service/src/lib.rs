//! A small stock-count service: restocking and selling write to Redis, looking stock up reads it. It is
//! written against `redis::aio::ConnectionLike` only, the way a service holding redis-rs code is: give it a
//! redis-rs connection, or `redsim_client::Client` (feature `redis-rs`) to get Sentinel routing, with reads on
//! replicas and writes on the master, through failovers.
//!
//! Its tests (`tests/failures.rs`) run it inside redsim's simulation, under a replica crash, a replica pause
//! and a master failover, and prove from the Redis nodes' own logs that its reads never ran on a master.

use redis::AsyncCommands;
use redis::aio::ConnectionLike;

/// The stock counts of a shop, one key per item (`stock:<item>`).
#[derive(Clone)]
pub struct Inventory<C> {
    conn: C,
}

/// The key an item's count is kept under.
pub fn stock_key(item: &str) -> String {
    format!("stock:{item}")
}

impl<C: ConnectionLike + Clone + Send + Sync> Inventory<C> {
    /// A service on a connection.
    pub fn new(conn: C) -> Inventory<C> {
        Inventory { conn }
    }

    /// Sets an item's count (a delivery counted in full): a write.
    pub async fn restock(&self, item: &str, count: u32) -> redis::RedisResult<()> {
        self.conn.clone().set(stock_key(item), count).await
    }

    /// Sells one: a write, returning the count left (below zero means oversold: the caller decides).
    pub async fn sell(&self, item: &str) -> redis::RedisResult<i64> {
        self.conn.clone().decr(stock_key(item), 1).await
    }

    /// How many are left, if the item is known: a read, which may lag the last write by the replication delay.
    pub async fn stock(&self, item: &str) -> redis::RedisResult<Option<i64>> {
        self.conn.clone().get(stock_key(item)).await
    }
}
