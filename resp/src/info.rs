//! The `INFO` sections both fakes print the same way: `# Server` and `# Clients`, with every field Redis 7.0
//! prints, in its order, so a client or tool that reads a field finds it on either server.

/// What differs between the servers in `# Server`.
#[derive(Debug, Clone)]
pub struct ServerInfo<'a> {
    /// `standalone` or `sentinel`.
    pub mode: &'a str,
    /// Shown as `os`: which fake this is.
    pub os: &'a str,
    /// The 40-hex-digit run id.
    pub run_id: &'a str,
    /// The port it listens on.
    pub tcp_port: u16,
    /// The network clock, Unix microseconds.
    pub unix_us: u64,
    /// Seconds since the server started.
    pub uptime_s: u64,
}

/// The `# Server` section, lines ending in CRLF.
pub fn server_section(i: &ServerInfo) -> String {
    let fields: [(&str, String); 24] = [
        ("redis_version", "7.0.15".into()),
        ("redis_git_sha1", "00000000".into()),
        ("redis_git_dirty", "0".into()),
        ("redis_build_id", "redsim".into()),
        ("redis_mode", i.mode.into()),
        ("os", i.os.into()),
        ("arch_bits", "64".into()),
        ("monotonic_clock", "simulated".into()),
        ("multiplexing_api", "tokio".into()),
        ("atomicvar_api", "c11-builtin".into()),
        ("gcc_version", "0.0.0".into()),
        ("process_id", "1".into()),
        ("process_supervised", "no".into()),
        ("run_id", i.run_id.into()),
        ("tcp_port", i.tcp_port.to_string()),
        ("server_time_usec", i.unix_us.to_string()),
        ("uptime_in_seconds", i.uptime_s.to_string()),
        ("uptime_in_days", (i.uptime_s / 86400).to_string()),
        ("hz", "10".into()),
        ("configured_hz", "10".into()),
        ("lru_clock", ((i.unix_us / 1_000_000) & 0xFF_FFFF).to_string()),
        ("executable", String::new()),
        ("config_file", String::new()),
        ("io_threads_active", "0".into()),
    ];
    section("# Server", &fields)
}

/// The `# Clients` section for `connected` client connections, `blocked` of them in a blocking command
/// (`in_timeout_table` of those with a timeout).
pub fn clients_section(connected: usize, maxclients: usize, blocked: usize, in_timeout_table: usize) -> String {
    let fields: [(&str, String); 8] = [
        ("connected_clients", connected.to_string()),
        ("cluster_connections", "0".into()),
        ("maxclients", maxclients.to_string()),
        ("client_recent_max_input_buffer", "0".into()),
        ("client_recent_max_output_buffer", "0".into()),
        ("blocked_clients", blocked.to_string()),
        ("tracking_clients", "0".into()),
        ("clients_in_timeout_table", in_timeout_table.to_string()),
    ];
    section("# Clients", &fields)
}

fn section(title: &str, fields: &[(&str, String)]) -> String {
    let mut out = format!("{title}\r\n");
    for (k, v) in fields {
        out.push_str(&format!("{k}:{v}\r\n"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sections_are_crlf_lines_under_a_title() {
        let s = clients_section(3, 10000, 0, 0);
        assert!(s.starts_with("# Clients\r\nconnected_clients:3\r\n"));
        assert!(s.ends_with("clients_in_timeout_table:0\r\n"));
        let i = ServerInfo {
            mode: "sentinel",
            os: "x",
            run_id: "r",
            tcp_port: 1,
            unix_us: 5_000_000,
            uptime_s: 90_000,
        };
        let s = server_section(&i);
        assert!(s.contains("\r\nredis_mode:sentinel\r\n") && s.contains("\r\nuptime_in_days:1\r\n"));
    }
}
