//! Turning a reply into text two servers can be compared on.
//!
//! Real and fake servers legitimately differ in run ids, ports (each cluster picks its own), offsets, timestamps
//! and counters. [`Normaliser::render`] writes a reply as one line of text with those replaced by placeholders:
//! - every port of the cluster becomes the node's name (`<redis-2>`), so the same topology reads the same;
//! - every 40-hex-digit id becomes `<id>`;
//! - in `INFO` text and in Sentinel's name/value arrays, the values of fields that are clocks, offsets or
//!   counters become `<v>`, while their names, order and every other value are kept.
//!
//! [`Mode::Shape`] goes further and keeps only the structure: map keys, `INFO` field names, and the kind of each
//! value. Scripts use it for replies whose values depend on the server build (`INFO server`).

use redsim_resp::Reply;

/// How much of a reply is compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Values too, after placeholders.
    Exact,
    /// Only field names and the kinds of values.
    Shape,
}

/// `INFO` fields whose values are clocks, offsets, ids or counters.
const VOLATILE_INFO: [&str; 9] = [
    "offset",
    "replid",
    "histlen",
    "seconds_ago",
    "lag",
    "repl_backlog_size",
    "master_link_down_since_seconds",
    "total_net_repl",
    "_sync_last_io",
];

/// Sentinel name/value fields (and `HELLO`'s `id`) whose values are clocks, ids or counters.
const VOLATILE_SENTINEL: [&str; 14] = [
    "runid",
    "last-ping-sent",
    "last-ok-ping-reply",
    "last-ping-reply",
    "info-refresh",
    "role-reported-time",
    "link-pending-commands",
    "link-refcount",
    "master-link-down-time",
    "slave-repl-offset",
    "last-hello-message",
    "s-down-time",
    "o-down-time",
    "replica-announced",
];

/// Renders replies of one cluster.
#[derive(Debug, Clone)]
pub struct Normaliser {
    ports: Vec<(String, String)>,
}

impl Normaliser {
    /// A normaliser for a cluster whose nodes listen on `ports`.
    pub fn new(ports: &[(&str, u16)]) -> Normaliser {
        Normaliser {
            ports: ports
                .iter()
                .map(|(id, port)| (port.to_string(), format!("<{id}>")))
                .collect(),
        }
    }

    /// One line of text for `reply`.
    pub fn render(&self, reply: &Reply, mode: Mode) -> String {
        let mut out = String::new();
        self.write(reply, mode, &mut out);
        out
    }

    fn write(&self, reply: &Reply, mode: Mode, out: &mut String) {
        match reply {
            Reply::Simple(s) => out.push_str(&format!("+{}", self.text(s, mode))),
            Reply::Error(e) => out.push_str(&format!("-{}", self.text(e, Mode::Exact))),
            Reply::Int(i) if mode == Mode::Shape => {
                let _ = i;
                out.push_str(":<int>");
            }
            Reply::Int(i) => out.push_str(&format!(":{i}")),
            Reply::Double(d) if mode == Mode::Exact => out.push_str(&format!(",{d}")),
            Reply::Double(_) => out.push_str(",<double>"),
            Reply::Bulk(b) | Reply::Verbatim(_, b) => {
                let s = String::from_utf8_lossy(b);
                if s.starts_with("# ") {
                    out.push_str(&self.info(&s, mode));
                } else {
                    out.push_str(&format!("{:?}", self.text(&s, mode)));
                }
            }
            Reply::Nil => out.push_str("nil"),
            Reply::NilArray => out.push_str("nil-array"),
            Reply::Array(items) if mode == Mode::Exact && is_role(items) => out.push_str(&self.role(items)),
            Reply::Array(items) | Reply::Set(items) | Reply::Push(items) => {
                out.push('[');
                let flat_map = is_flat_map(items);
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    let is_key = flat_map && i % 2 == 0;
                    let volatile = flat_map
                        && i % 2 == 1
                        && items[i - 1]
                            .as_text()
                            .is_some_and(|k| VOLATILE_SENTINEL.contains(&k.as_str()) || k == "id");
                    if volatile {
                        out.push_str("<v>");
                    } else if is_key {
                        self.write(item, Mode::Exact, out);
                    } else {
                        self.write(item, mode, out);
                    }
                }
                out.push(']');
            }
            Reply::Map(pairs) => {
                out.push('{');
                for (i, (k, v)) in pairs.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    self.write(k, Mode::Exact, out);
                    out.push_str(": ");
                    self.write(v, mode, out);
                }
                out.push('}');
            }
        }
    }

    fn text(&self, s: &str, mode: Mode) -> String {
        if mode == Mode::Shape {
            return "<text>".into();
        }
        let mut out = String::with_capacity(s.len());
        for token in split_keep(s) {
            if token.len() == 40 && token.bytes().all(|b| b.is_ascii_hexdigit()) {
                out.push_str("<id>");
            } else if let Some((_, name)) = self.ports.iter().find(|(p, _)| p == token) {
                out.push_str(name);
            } else {
                out.push_str(token);
            }
        }
        out
    }

    /// `ROLE`: offsets masked, ports named, a master's replicas sorted (their order is the order they connected).
    fn role(&self, items: &[Reply]) -> String {
        let port = |r: &Reply| match r {
            Reply::Int(p) => self.text(&p.to_string(), Mode::Exact),
            other => self.render(other, Mode::Exact),
        };
        let rest: Vec<String> = match items[0].as_text().as_deref() {
            Some("master") => {
                let mut replicas: Vec<String> = items
                    .get(2)
                    .and_then(Reply::as_array)
                    .unwrap_or_default()
                    .iter()
                    .map(|r| match r.as_array() {
                        Some([ip, p, _offset]) => format!("[{}, {}, <v>]", self.render(ip, Mode::Exact), port(p)),
                        _ => self.render(r, Mode::Exact),
                    })
                    .collect();
                replicas.sort();
                vec!["<v>".into(), format!("sorted[{}]", replicas.join(", "))]
            }
            _ => items[1..]
                .iter()
                .enumerate()
                .map(|(i, r)| match i {
                    1 => port(r),
                    3 => "<v>".into(),
                    _ => self.render(r, Mode::Exact),
                })
                .collect(),
        };
        format!("ROLE[{}, {}]", self.render(&items[0], Mode::Exact), rest.join(", "))
    }

    /// `INFO` text: one `name:value` per line, `# Section` headers kept, values masked as the mode says.
    fn info(&self, s: &str, mode: Mode) -> String {
        let mut fields = Vec::new();
        for line in s.lines().map(str::trim_end).filter(|l| !l.is_empty()) {
            let Some((name, value)) = line.split_once(':') else {
                fields.push(line.to_string());
                continue;
            };
            let value = if mode == Mode::Shape || VOLATILE_INFO.iter().any(|v| name.contains(v)) {
                "<v>".to_string()
            } else if value.contains('=') {
                // `slave0:ip=...,port=...,state=online,offset=...,lag=...`
                value
                    .split(',')
                    .map(|kv| match kv.split_once('=') {
                        Some((k, _)) if VOLATILE_INFO.iter().any(|v| k.contains(v)) => format!("{k}=<v>"),
                        _ => self.text(kv, Mode::Exact),
                    })
                    .collect::<Vec<_>>()
                    .join(",")
            } else {
                self.text(value, Mode::Exact)
            };
            // `slaveN` lines come in the order the replicas connected: compare them as a set.
            let name = if name.starts_with("slave") && name[5..].bytes().all(|b| b.is_ascii_digit()) {
                "slave*"
            } else {
                name
            };
            fields.push(format!("{name}:{value}"));
        }
        sort_runs(&mut fields, |f| f.starts_with("slave*:"));
        format!("INFO{{{}}}", fields.join(" "))
    }
}

/// Sorts each run of consecutive elements that `pick` selects, leaving the others in place.
fn sort_runs(v: &mut [String], pick: impl Fn(&str) -> bool) {
    let mut i = 0;
    while i < v.len() {
        let start = i;
        while i < v.len() && pick(&v[i]) {
            i += 1;
        }
        v[start..i].sort();
        i = i.max(start + 1);
    }
}

/// Whether an array is a `ROLE` reply of a master (`master`, offset, replicas) or replica (`slave`, ip, port,
/// state, offset).
fn is_role(items: &[Reply]) -> bool {
    match items.first().and_then(Reply::as_text).as_deref() {
        Some("master") => items.len() == 3 && matches!(items[1], Reply::Int(_)),
        Some("slave") => items.len() == 5 && matches!(items[4], Reply::Int(_)),
        _ => false,
    }
}

/// Whether an array reads as Sentinel's flat name/value pairs: even length, text at every even index, and the
/// first name one of Sentinel's (`name`).
fn is_flat_map(items: &[Reply]) -> bool {
    items.len() >= 2
        && items.len() % 2 == 0
        && matches!(items[0].as_text().as_deref(), Some("name" | "server"))
        && items.iter().step_by(2).all(|k| matches!(k, Reply::Bulk(_)))
}

/// Splits text into runs of alphanumerics and single other characters, so ports and ids are whole tokens.
fn split_keep(s: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    for (i, c) in s.char_indices() {
        if !c.is_ascii_alphanumeric() {
            if start < i {
                out.push(&s[start..i]);
            }
            out.push(&s[i..i + c.len_utf8()]);
            start = i + c.len_utf8();
        }
    }
    if start < s.len() {
        out.push(&s[start..]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n() -> Normaliser {
        Normaliser::new(&[("redis-1", 7001), ("redis-2", 7002)])
    }

    #[test]
    fn ports_become_names_and_ids_placeholders() {
        let id = "a".repeat(40);
        let r = Reply::text(format!("127.0.0.1:7001 {id} 70010"));
        assert_eq!(n().render(&r, Mode::Exact), "\"127.0.0.1:<redis-1> <id> 70010\"");
    }

    #[test]
    fn info_masks_offsets_but_keeps_roles_and_ports() {
        let r = Reply::text(
            "# Replication\r\nrole:master\r\nconnected_slaves:1\r\n\
             slave0:ip=127.0.0.1,port=7002,state=online,offset=42,lag=0\r\nmaster_repl_offset:42\r\n",
        );
        assert_eq!(
            n().render(&r, Mode::Exact),
            "INFO{# Replication role:master connected_slaves:1 \
             slave*:ip=127.0.0.1,port=<redis-2>,state=online,offset=<v>,lag=<v> master_repl_offset:<v>}"
        );
        assert!(n().render(&r, Mode::Shape).contains("role:<v>"));
    }

    #[test]
    fn sentinel_clock_fields_are_masked_and_others_kept() {
        let r = Reply::Array(
            [
                "name",
                "mymaster",
                "port",
                "7001",
                "last-ping-sent",
                "0",
                "flags",
                "master",
            ]
            .map(Reply::text)
            .to_vec(),
        );
        assert_eq!(
            n().render(&r, Mode::Exact),
            "[\"name\", \"mymaster\", \"port\", \"<redis-1>\", \"last-ping-sent\", <v>, \"flags\", \"master\"]"
        );
    }

    #[test]
    fn role_masks_offsets_and_sorts_replicas() {
        let replica =
            |p: &str, o: &str| Reply::Array([Reply::text("127.0.0.1"), Reply::text(p), Reply::text(o)].to_vec());
        let a = Reply::Array(vec![
            Reply::text("master"),
            Reply::Int(9),
            Reply::Array(vec![replica("7002", "9"), replica("7001", "8")]),
        ]);
        let b = Reply::Array(vec![
            Reply::text("master"),
            Reply::Int(5),
            Reply::Array(vec![replica("7001", "5"), replica("7002", "5")]),
        ]);
        assert_eq!(n().render(&a, Mode::Exact), n().render(&b, Mode::Exact));
        let r = Reply::Array(vec![
            Reply::text("slave"),
            Reply::text("127.0.0.1"),
            Reply::Int(7001),
            Reply::text("connected"),
            Reply::Int(77),
        ]);
        assert_eq!(
            n().render(&r, Mode::Exact),
            "ROLE[\"slave\", \"127.0.0.1\", <redis-1>, \"connected\", <v>]"
        );
    }

    #[test]
    fn a_different_value_renders_differently() {
        let a = n().render(&Reply::Error("ERR wrong number of arguments".into()), Mode::Exact);
        let b = n().render(&Reply::Error("ERR syntax error".into()), Mode::Exact);
        assert_ne!(a, b);
    }
}
