//! The timeline picture of a run, as a self-contained SVG: one lane per data node with its role over time,
//! a lane of Sentinel events, one lane per client with each operation coloured by outcome (and placed by the
//! node that served it), faults shaded on the lanes they hit, `+switch-master` and violations drawn across
//! every lane. Hover a mark for its details.

use std::fmt::Write;

use crate::checkers::{Check, sim_ms};
use crate::history::{History, OpKind};
use crate::runner::hosts_named;

const LEFT: f64 = 150.0;
const WIDTH: f64 = 1300.0;
const LANE: f64 = 34.0;

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Draws the timeline of a history, with the checkers' violations marked.
pub fn svg(h: &History, checks: &[Check]) -> String {
    let end = h.end_ms.max(1) as f64;
    let x = |t: u64| LEFT + (t as f64 / end) * (WIDTH - LEFT - 10.0);
    let nodes = h.scenario.redis_hosts();
    let clients: Vec<String> = h.scenario.clients.iter().map(|c| c.name.clone()).collect();
    let lanes: Vec<String> = nodes
        .iter()
        .cloned()
        .chain(["sentinels".to_string()])
        .chain(clients.iter().cloned())
        .collect();
    let lane_y = |name: &str| lanes.iter().position(|l| l == name).map(|i| 40.0 + i as f64 * LANE);
    let height = 60.0 + lanes.len() as f64 * LANE;
    let mut s = String::new();
    let _ = write!(
        s,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{WIDTH}\" height=\"{height}\" font-family=\"monospace\" font-size=\"11\">\
         <rect width=\"100%\" height=\"100%\" fill=\"white\"/>\
         <text x=\"8\" y=\"18\" font-size=\"13\">{} seed {}: {} violations (red lines). Hover marks for details.</text>",
        esc(&h.scenario.name),
        h.seed,
        checks
            .iter()
            .filter(|c| !c.passed())
            .map(|c| c.violations.len())
            .sum::<usize>()
    );
    for (i, l) in lanes.iter().enumerate() {
        let y = 40.0 + i as f64 * LANE;
        let _ = write!(
            s,
            "<text x=\"8\" y=\"{}\">{}</text><line x1=\"{LEFT}\" x2=\"{}\" y1=\"{}\" y2=\"{}\" stroke=\"#ddd\"/>",
            y + 16.0,
            esc(l),
            WIDTH - 10.0,
            y + LANE - 2.0,
            y + LANE - 2.0
        );
    }
    // Time axis, every 5 s.
    let mut t = 0;
    while (t as f64) < end {
        let _ = write!(
            s,
            "<text x=\"{}\" y=\"{}\" fill=\"#888\">{}s</text>",
            x(t),
            height - 6.0,
            t / 1000
        );
        t += 5000;
    }
    // Faults: shaded from the fault to its repair on the hosts they name.
    for (i, (t0, f)) in h.faults.iter().enumerate() {
        // Repairs end a shaded band; they are not bands themselves.
        if f.is_repair() {
            continue;
        }
        let repaired = h.faults[i + 1..].iter().find(|(_, g)| f.is_repaired_by(g));
        let t1 = repaired.map(|(t, _)| *t).unwrap_or(h.end_ms);
        for host in hosts_named(f) {
            if let Some(y) = lane_y(&host) {
                let _ = write!(
                    s,
                    "<rect x=\"{}\" y=\"{y}\" width=\"{}\" height=\"{}\" fill=\"#f5a623\" opacity=\"0.35\"><title>{} at {t0} ms</title></rect>",
                    x(*t0),
                    (x(t1) - x(*t0)).max(2.0),
                    LANE - 4.0,
                    esc(&f.to_string())
                );
            }
        }
        if hosts_named(f).is_empty() {
            let _ = write!(
                s,
                "<line x1=\"{0}\" x2=\"{0}\" y1=\"30\" y2=\"{1}\" stroke=\"#f5a623\" stroke-dasharray=\"4\"><title>{2} at {t0} ms</title></line>",
                x(*t0),
                height - 20.0,
                esc(&f.to_string())
            );
        }
    }
    // Roles: contiguous runs of one role in each node's log.
    for node in &nodes {
        let Some(y) = lane_y(node) else { continue };
        let mut runs: Vec<(u64, u64, bool)> = Vec::new();
        for e in h.exec.iter().filter(|e| &e.node == node) {
            let t = sim_ms(e.time_ms);
            let master = e.role == redsim_fake_redis::Role::Master;
            match runs.last_mut() {
                Some(r) if r.2 == master && t.saturating_sub(r.1) < 1500 => r.1 = t,
                _ => runs.push((t, t, master)),
            }
        }
        for (a, b, master) in runs {
            let (color, role) = if master {
                ("#d0021b", "master")
            } else {
                ("#4a90e2", "replica")
            };
            let _ = write!(
                s,
                "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"10\" fill=\"{color}\"><title>{node} {role} {a}..{b} ms</title></rect>",
                x(a),
                y + 8.0,
                (x(b) - x(a)).max(1.5)
            );
        }
    }
    // Sentinel events.
    if let Some(y) = lane_y("sentinels") {
        for e in &h.sentinel_events {
            let color = match e.event.as_str() {
                "+sdown" => "#f5a623",
                "+odown" => "#d0021b",
                "+switch-master" => "#9013fe",
                "+try-failover" | "+elected-leader" | "+promoted-slave" => "#7ed321",
                _ => continue,
            };
            let t = sim_ms(e.time_ms);
            let _ = write!(
                s,
                "<circle cx=\"{}\" cy=\"{}\" r=\"3\" fill=\"{color}\"><title>{} {} {} at {t} ms</title></circle>",
                x(t),
                y + 14.0,
                esc(&e.sentinel),
                esc(&e.event),
                esc(&e.payload)
            );
            if e.event == "+switch-master" {
                let _ = write!(
                    s,
                    "<line x1=\"{0}\" x2=\"{0}\" y1=\"30\" y2=\"{1}\" stroke=\"#9013fe\" opacity=\"0.3\"/>",
                    x(t),
                    height - 20.0
                );
            }
        }
    }
    // Client operations: green ok, red error; the vertical position tells the serving node.
    for op in &h.ops {
        let Some(y) = lane_y(&op.client) else { continue };
        let served = op
            .served_by
            .as_ref()
            .and_then(|n| nodes.iter().position(|m| m == n))
            .unwrap_or(nodes.len());
        let dy = 4.0 + (served as f64) * ((LANE - 12.0) / nodes.len().max(1) as f64);
        let (color, outcome) = match &op.outcome {
            Ok(v) => ("#417505", format!("ok {}", v.as_deref().unwrap_or("nil"))),
            Err(e) => ("#d0021b", format!("error {e}")),
        };
        let kind = if op.kind == OpKind::Read { "read" } else { "write" };
        let shape = if op.kind == OpKind::Read { "circle" } else { "rect" };
        let title = format!(
            "{} {kind} {} {outcome} via {} at {} ms",
            op.client,
            op.key,
            op.served_by.as_deref().unwrap_or("-"),
            op.complete_ms
        );
        if shape == "circle" {
            let _ = write!(
                s,
                "<circle cx=\"{}\" cy=\"{}\" r=\"2\" fill=\"{color}\"><title>{}</title></circle>",
                x(op.complete_ms),
                y + dy,
                esc(&title)
            );
        } else {
            let _ = write!(
                s,
                "<rect x=\"{}\" y=\"{}\" width=\"3\" height=\"3\" fill=\"{color}\"><title>{}</title></rect>",
                x(op.complete_ms) - 1.5,
                y + dy - 1.5,
                esc(&title)
            );
        }
    }
    // Violations.
    for c in checks.iter().filter(|c| !c.passed()) {
        for v in &c.violations {
            let _ = write!(
                s,
                "<line x1=\"{0}\" x2=\"{0}\" y1=\"30\" y2=\"{1}\" stroke=\"red\" stroke-width=\"2\"><title>{2}: {3}</title></line>",
                x(v.at_ms),
                height - 20.0,
                c.name,
                esc(&v.to_string())
            );
        }
    }
    s.push_str("</svg>\n");
    s
}
