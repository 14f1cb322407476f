//! Asking Sentinels where things are, following Redis's Sentinel client guidelines: Sentinels are tried in
//! order with a short timeout; the first that answers gives the master (`get-master-addr-by-name`), the
//! usable replicas (`replicas`, skipping flagged ones) and the other Sentinels (`sentinels`).

use redsim_resp::{Reply, ReplyLimits, RespConn};

use crate::config::ClientConfig;
use crate::error::{Error, Result};

/// A replica as Sentinel describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ReplicaView {
    pub host: String,
    pub port: u16,
    /// Flagged `disconnected` (and not down): Sentinel has no link to it right now. Skipped, except right
    /// after a failover for a replica the client already uses (see `Inner::discover_now`).
    pub disconnected: bool,
}

/// What one Sentinel said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct View {
    pub master: (String, u16),
    pub replicas: Vec<ReplicaView>,
    pub sentinels: Vec<(String, u16)>,
}

/// Why a Sentinel could not give a view.
#[derive(Debug)]
pub(crate) enum AskError {
    /// Not reachable, timed out, or answered garbage: try the next one.
    Unreachable(String),
    /// Reachable, but does not know the master.
    UnknownMaster,
}

fn field(map: &Reply, name: &str) -> Option<String> {
    let items = map.as_array()?;
    if items.len() % 2 != 0 {
        return None;
    }
    items
        .chunks(2)
        .find(|kv| kv[0].as_text().as_deref() == Some(name))
        .and_then(|kv| kv[1].as_text())
}

async fn call(conn: &mut RespConn, args: &[&str]) -> std::result::Result<Reply, AskError> {
    let bytes: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
    conn.send(&bytes)
        .await
        .map_err(|e| AskError::Unreachable(e.to_string()))?;
    conn.read().await.map_err(|e| AskError::Unreachable(e.to_string()))
}

/// Asks one Sentinel for the whole view.
pub(crate) async fn ask(cfg: &ClientConfig, host: &str, port: u16) -> std::result::Result<View, AskError> {
    let mut conn = RespConn::connect(cfg.net, host, port, cfg.sentinel_timeout)
        .await
        .map_err(|e| AskError::Unreachable(e.to_string()))?;
    conn.set_limits(ReplyLimits::with_max_bytes(cfg.max_sentinel_reply_bytes));
    if let Some(pw) = &cfg.sentinel_password
        && let Reply::Error(e) = call(&mut conn, &["AUTH", pw]).await?
    {
        return Err(AskError::Unreachable(format!("AUTH refused: {e}")));
    }
    let name = cfg.master_name.as_str();
    let addr = call(&mut conn, &["SENTINEL", "get-master-addr-by-name", name]).await?;
    let master = match &addr {
        Reply::Nil | Reply::NilArray => return Err(AskError::UnknownMaster),
        Reply::Array(items) if items.len() == 2 => {
            let host = items[0].as_text();
            let port = items[1].as_text().and_then(|p| p.parse::<u16>().ok());
            match (host, port) {
                (Some(h), Some(p)) if !h.is_empty() => (h, p),
                _ => return Err(AskError::Unreachable(format!("bad master address {}", addr.summary()))),
            }
        }
        other => return Err(AskError::Unreachable(format!("bad master address {}", other.summary()))),
    };
    let replicas = match call(&mut conn, &["SENTINEL", "replicas", name]).await? {
        Reply::Array(items) => items
            .iter()
            .filter_map(|r| {
                let flags = field(r, "flags")?;
                let down = flags.split(',').any(|f| matches!(f, "s_down" | "o_down"));
                if cfg.skip_flagged_replicas && down {
                    return None;
                }
                let disconnected = cfg.skip_flagged_replicas && flags.split(',').any(|f| f == "disconnected");
                if field(r, "master-link-status").as_deref() == Some("err")
                    && cfg.max_replica_link_down.is_some_and(|max| {
                        let down = field(r, "master-link-down-time")
                            .and_then(|d| d.parse::<u64>().ok())
                            .unwrap_or(0);
                        down > max.as_millis() as u64
                    })
                {
                    return None;
                }
                let host = field(r, "ip")?;
                let port = field(r, "port")?.parse().ok()?;
                Some(ReplicaView {
                    host,
                    port,
                    disconnected,
                })
            })
            .collect(),
        Reply::Error(e) if e.contains("No such master") => return Err(AskError::UnknownMaster),
        other => return Err(AskError::Unreachable(format!("bad replicas reply {}", other.summary()))),
    };
    let sentinels = match call(&mut conn, &["SENTINEL", "sentinels", name]).await? {
        Reply::Array(items) => items
            .iter()
            .filter_map(|s| Some((field(s, "ip")?, field(s, "port")?.parse().ok()?)))
            .collect(),
        _ => Vec::new(),
    };
    Ok(View {
        master,
        replicas,
        sentinels,
    })
}

/// Tries the Sentinels in order; returns the index of the one that answered and its view.
pub(crate) async fn discover(
    cfg: &ClientConfig,
    sentinels: &[(String, u16)],
) -> (Result<(usize, View)>, Vec<(usize, String)>) {
    let mut unreachable = Vec::new();
    let mut unknown = false;
    for (i, (host, port)) in sentinels.iter().enumerate() {
        match ask(cfg, host, *port).await {
            Ok(view) => return (Ok((i, view)), unreachable),
            Err(AskError::UnknownMaster) => unknown = true,
            Err(AskError::Unreachable(why)) => unreachable.push((i, why)),
        }
    }
    let err = if unknown {
        Error::MasterUnknown(cfg.master_name.clone())
    } else {
        Error::NoSentinelReachable
    };
    (Err(err), unreachable)
}

/// The `+switch-master` payload's new address, if it is about our master.
pub(crate) fn parse_switch_master(payload: &[u8], master_name: &str) -> Option<(String, u16)> {
    let text = String::from_utf8_lossy(payload);
    let parts: Vec<&str> = text.split(' ').collect();
    match parts[..] {
        [name, _, _, ip, port] if name == master_name => Some((ip.to_string(), port.parse().ok()?)),
        _ => None,
    }
}

/// The master name an event payload (`<type> <name> <ip> <port> @ <master> ...`) is about.
pub(crate) fn event_master(payload: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(payload);
    let parts: Vec<&str> = text.split(' ').collect();
    if parts.first() == Some(&"master") {
        return parts.get(1).map(|s| s.to_string());
    }
    let at = parts.iter().position(|p| *p == "@")?;
    parts.get(at + 1).map(|s| s.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_payloads() {
        assert_eq!(
            parse_switch_master(b"mymaster 10.0.0.1 6379 10.0.0.2 6380", "mymaster"),
            Some(("10.0.0.2".into(), 6380))
        );
        assert_eq!(
            parse_switch_master(b"other 10.0.0.1 6379 10.0.0.2 6380", "mymaster"),
            None
        );
        assert_eq!(parse_switch_master(b"garbage", "mymaster"), None);
        assert_eq!(parse_switch_master(b"mymaster a b c notaport", "mymaster"), None);
        assert_eq!(
            event_master(b"slave 10.0.0.2:6379 10.0.0.2 6379 @ mymaster 10.0.0.1 6379").as_deref(),
            Some("mymaster")
        );
        assert_eq!(
            event_master(b"master mymaster 10.0.0.1 6379").as_deref(),
            Some("mymaster")
        );
        assert_eq!(event_master(b"").as_deref(), None);
    }
}
