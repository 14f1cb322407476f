//! What the client's turmoil tests share: the fake-sentinel test helpers, and a client builder for the
//! default deployment's Sentinels.

#![allow(dead_code)]

#[path = "../../../fake-sentinel/tests/common/mod.rs"]
mod common;

pub use common::*;
use redsim_client::{Client, ClientBuilder, Net};

/// A client of the default deployment's three Sentinels, on turmoil, named `name` (as the nodes log it).
pub fn client(name: &str, seed: u64) -> ClientBuilder {
    Client::builder()
        .sentinels(["sentinel-1:26379", "sentinel-2:26379", "sentinel-3:26379"])
        .master_name("mymaster")
        .client_name(name)
        .net(Net::Turmoil)
        .seed(seed)
}
