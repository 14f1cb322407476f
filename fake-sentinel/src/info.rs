//! Reading an instance's INFO reply (`sentinelRefreshInstanceInfo`): discover replicas from a master's
//! `slaveN:` lines, track run ids and reported roles, and act on what they reveal: a promotion completing, a
//! stray master to turn back into a replica, a replica pointing at the wrong master, reconfiguration progress.

use crate::instance::{FailoverState, Instance, Kind};
use crate::monitor::{INFO_PERIOD_MS, PUBLISH_PERIOD_MS};
use crate::state::{State, Target};

/// The fields Sentinel reads from INFO, in the order it reads them.
#[derive(Debug, Default)]
struct Parsed {
    run_id: Option<String>,
    replicas: Vec<(String, u16)>,
    master_link_down_time: u64,
    role: Option<Kind>,
    master_host: Option<String>,
    master_port: Option<u16>,
    link_up: Option<bool>,
    priority: Option<u32>,
    offset: Option<u64>,
    announced: Option<bool>,
}

fn parse(text: &str, is_master: bool) -> Parsed {
    let mut p = Parsed::default();
    for line in text.split("\r\n") {
        if line.len() >= 47
            && let Some(v) = line.strip_prefix("run_id:")
        {
            p.run_id = Some(v.chars().take(40).collect());
        }
        if is_master
            && line.len() >= 7
            && line.starts_with("slave")
            && line.as_bytes().get(5).is_some_and(u8::is_ascii_digit)
            && let Some((_, fields)) = line.split_once(':')
        {
            let addr = if fields.contains("ip=") {
                let get = |k: &str| fields.split(',').find_map(|f| f.strip_prefix(k)).map(str::to_string);
                get("ip=").zip(get("port="))
            } else {
                let mut parts = fields.split(',');
                parts.next().map(str::to_string).zip(parts.next().map(str::to_string))
            };
            if let Some((ip, port)) = addr
                && let Ok(port) = port.parse()
            {
                p.replicas.push((ip, port));
            }
        }
        if let Some(v) = line.strip_prefix("master_link_down_since_seconds:") {
            p.master_link_down_time = v.trim().parse::<i64>().unwrap_or(0).max(0) as u64 * 1000;
        }
        if line.starts_with("role:master") {
            p.role = Some(Kind::Master);
        } else if line.starts_with("role:slave") {
            p.role = Some(Kind::Replica);
        }
        if p.role == Some(Kind::Replica) {
            if let Some(v) = line.strip_prefix("master_host:") {
                p.master_host = Some(v.to_string());
            } else if let Some(v) = line.strip_prefix("master_port:") {
                p.master_port = v.parse().ok();
            } else if let Some(v) = line.strip_prefix("master_link_status:") {
                p.link_up = Some(v.eq_ignore_ascii_case("up"));
            } else if let Some(v) = line.strip_prefix("slave_priority:") {
                p.priority = v.parse().ok();
            } else if let Some(v) = line.strip_prefix("slave_repl_offset:") {
                p.offset = v.parse().ok();
            } else if let Some(v) = line.strip_prefix("replica_announced:") {
                p.announced = v.parse::<i64>().ok().map(|n| n != 0);
            }
        }
    }
    p
}

/// No SDOWN or ODOWN within the last `ms`.
fn no_down_for(i: &Instance, now: u64, ms: u64) -> bool {
    let recent = |t: u64| t != 0 && now.saturating_sub(t) < ms;
    !i.flags.s_down && !i.flags.o_down && !recent(i.s_down_since_time) && !recent(i.o_down_since_time)
}

impl State {
    pub(crate) fn refresh_from_info(&mut self, t: &Target, text: &str) {
        let now = self.now_ms();
        let p = parse(text, t.kind == Kind::Master);
        let Some(inst) = self.instance_mut(t) else { return };
        inst.info = Some(text.to_string());
        inst.master_link_down_time = p.master_link_down_time;
        let mut rebooted = false;
        if let Some(id) = &p.run_id {
            match &inst.runid {
                None => inst.runid = Some(id.clone()),
                Some(old) if old != id => {
                    rebooted = true;
                    inst.runid = Some(id.clone());
                }
                _ => {}
            }
        }
        if p.role == Some(Kind::Replica) {
            if let Some(h) = &p.master_host
                && !inst
                    .slave_master_host
                    .as_ref()
                    .is_some_and(|o| o.eq_ignore_ascii_case(h))
            {
                inst.slave_master_host = Some(h.clone());
                inst.slave_conf_change_time = now;
            }
            if let Some(port) = p.master_port
                && port != inst.slave_master_port
            {
                inst.slave_master_port = port;
                inst.slave_conf_change_time = now;
            }
            if let Some(up) = p.link_up {
                inst.slave_master_link_up = up;
            }
            if let Some(v) = p.priority {
                inst.slave_priority = v;
            }
            if let Some(v) = p.offset {
                inst.slave_repl_offset = v;
            }
            if let Some(v) = p.announced {
                inst.replica_announced = v;
            }
        }
        inst.info_refresh = now;
        let role_changed = p.role.filter(|r| *r != inst.role_reported);
        if let Some(role) = role_changed {
            inst.role_reported = role;
            inst.role_reported_time = now;
            if role == Kind::Replica {
                inst.slave_conf_change_time = now;
            }
        }
        if rebooted {
            self.event_on(&t.master, t.kind, &t.key, "+reboot", "");
        }
        if t.kind == Kind::Master {
            for (ip, port) in p.replicas {
                self.add_replica(&t.master, ip, port);
            }
        }
        if let Some(role) = role_changed {
            let sign = if role == t.kind { "+role-change" } else { "-role-change" };
            let word = if role == Kind::Master { "master" } else { "slave" };
            self.event_on(
                &t.master,
                t.kind,
                &t.key,
                sign,
                &format!(" new reported role is {word}"),
            );
        }
        if self.tilt || t.kind != Kind::Replica {
            return;
        }
        match p.role {
            Some(Kind::Master) => self.replica_reports_master(t, now),
            Some(Kind::Replica) => self.replica_reports_replica(t, now),
            _ => {}
        }
    }

    /// Creates a replica entry for `ip:port` if it is new, publishing `+slave`.
    pub(crate) fn add_replica(&mut self, master: &str, ip: String, port: u16) {
        let now = self.now_ms();
        let Some(m) = self.masters.get_mut(master) else { return };
        let key = format!("{ip}:{port}");
        if m.replicas.contains_key(&key) {
            return;
        }
        let inst = Instance::new(Kind::Replica, key.clone(), ip, port, m.inst.down_after_ms, now);
        m.replicas.insert(key.clone(), inst);
        self.event_on(master, Kind::Replica, &key, "+slave", "");
        self.flush_config();
    }

    fn replica_reports_master(&mut self, t: &Target, now: u64) {
        let Some(m) = self.masters.get_mut(&t.master) else {
            return;
        };
        let Some(r) = m.replicas.get(&t.key) else { return };
        if r.flags.promoted {
            if m.inst.flags.failover_in_progress && m.failover_state == FailoverState::WaitPromotion {
                m.config_epoch = m.failover_epoch;
                m.failover_state = FailoverState::ReconfSlaves;
                m.failover_state_change_time = now;
                self.flush_config();
                self.event_on(&t.master, Kind::Replica, &t.key, "+promoted-slave", "");
                self.event_on(&t.master, Kind::Master, "", "+failover-state-reconf-slaves", "");
                self.force_hello_update(&t.master);
            }
            return;
        }
        let stable = no_down_for(r, now, PUBLISH_PERIOD_MS * 4)
            && now.saturating_sub(r.role_reported_time) > PUBLISH_PERIOD_MS * 4;
        if master_looks_sane(&m.inst, now) && stable {
            let (ip, port) = (m.inst.ip.clone(), m.inst.port);
            if self.send_slave_of(t, Some((&ip, port))) {
                self.event_on(&t.master, Kind::Replica, &t.key, "+convert-to-slave", "");
            }
        }
    }

    fn replica_reports_replica(&mut self, t: &Target, now: u64) {
        let promoted_addr = self.masters.get(&t.master).and_then(|m| {
            m.promoted
                .as_ref()
                .and_then(|k| m.replicas.get(k))
                .map(|p| (p.ip.clone(), p.port))
        });
        let Some(m) = self.masters.get(&t.master) else { return };
        let Some(r) = m.replicas.get(&t.key) else { return };
        let points_elsewhere =
            r.slave_master_port != m.inst.port || !self.same_host(r.slave_master_host.as_deref(), &m.inst.ip);
        if points_elsewhere
            && master_looks_sane(&m.inst, now)
            && no_down_for(r, now, m.failover_timeout_ms)
            && now.saturating_sub(r.slave_conf_change_time) > m.failover_timeout_ms
        {
            let (ip, port) = (m.inst.ip.clone(), m.inst.port);
            if self.send_slave_of(t, Some((&ip, port))) {
                self.event_on(&t.master, Kind::Replica, &t.key, "+fix-slave-config", "");
            }
            return;
        }
        let (sent, inprog, host, port, up) = (
            r.flags.reconf_sent,
            r.flags.reconf_inprog,
            r.slave_master_host.clone(),
            r.slave_master_port,
            r.slave_master_link_up,
        );
        if !(sent || inprog) {
            return;
        }
        let points_at_promoted = promoted_addr
            .as_ref()
            .is_some_and(|(pip, pport)| *pport == port && self.same_host(host.as_deref(), pip));
        let mut inprog_now = inprog;
        if sent && points_at_promoted {
            if let Some(r) = self.masters.get_mut(&t.master).and_then(|m| m.replicas.get_mut(&t.key)) {
                r.flags.reconf_sent = false;
                r.flags.reconf_inprog = true;
            }
            inprog_now = true;
            self.event_on(&t.master, Kind::Replica, &t.key, "+slave-reconf-inprog", "");
        }
        if inprog_now && up {
            if let Some(r) = self.masters.get_mut(&t.master).and_then(|m| m.replicas.get_mut(&t.key)) {
                r.flags.reconf_inprog = false;
                r.flags.reconf_done = true;
            }
            self.event_on(&t.master, Kind::Replica, &t.key, "+slave-reconf-done", "");
        }
    }

    /// Whether a host reported in INFO is the given IP (resolving a name, as Redis does).
    pub(crate) fn same_host(&self, reported: Option<&str>, ip: &str) -> bool {
        let Some(reported) = reported else { return false };
        if reported.eq_ignore_ascii_case(ip) {
            return true;
        }
        match (self.net.resolve(reported), self.net.resolve(ip)) {
            (Some(a), Some(b)) => a == b,
            _ => false,
        }
    }

    /// Makes every instance of a master announce the new configuration at the next tick.
    pub(crate) fn force_hello_update(&mut self, master: &str) {
        let Some(m) = self.masters.get_mut(master) else { return };
        let back = |t: &mut u64| *t = t.saturating_sub(PUBLISH_PERIOD_MS + 1);
        back(&mut m.inst.last_pub_time);
        m.replicas.values_mut().for_each(|r| back(&mut r.last_pub_time));
        m.sentinels.values_mut().for_each(|s| back(&mut s.last_pub_time));
    }
}

/// A master we can trust: reports itself master, not down, and answered INFO recently.
pub(crate) fn master_looks_sane(m: &Instance, now: u64) -> bool {
    m.role_reported == Kind::Master
        && !m.flags.s_down
        && !m.flags.o_down
        && m.info_refresh != 0
        && now.saturating_sub(m.info_refresh) < 2 * INFO_PERIOD_MS
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_both_replica_line_formats_and_role_dependent_fields() {
        let text = "# Server\r\nrun_id:0123456789012345678901234567890123456789\r\n# Replication\r\nrole:master\r\n\
                    slave0:ip=10.0.0.2,port=6379,state=online,offset=10,lag=0\r\nslave1:10.0.0.3,6380,online\r\n\
                    master_host:ignored\r\n";
        let p = parse(text, true);
        assert_eq!(p.run_id.as_deref(), Some("0123456789012345678901234567890123456789"));
        assert_eq!(p.replicas, vec![("10.0.0.2".into(), 6379), ("10.0.0.3".into(), 6380)]);
        assert_eq!(p.role, Some(Kind::Master));
        assert_eq!(p.master_host, None, "only read after role:slave");
        let text = "role:slave\r\nmaster_host:10.0.0.1\r\nmaster_port:6379\r\nmaster_link_status:down\r\n\
                    master_link_down_since_seconds:3\r\nslave_priority:0\r\nslave_repl_offset:77\r\nreplica_announced:1\r\n";
        let p = parse(text, false);
        assert_eq!(
            (p.master_host.as_deref(), p.master_port, p.link_up),
            (Some("10.0.0.1"), Some(6379), Some(false))
        );
        assert_eq!(
            (p.priority, p.offset, p.master_link_down_time),
            (Some(0), Some(77), 3000)
        );
    }

    #[test]
    fn garbage_info_yields_nothing() {
        let p = parse("\u{0}\u{1}garbage\r\nslave:\r\nslave9\r\nrun_id:short\r\n", true);
        assert!(p.run_id.is_none() && p.replicas.is_empty() && p.role.is_none());
    }
}
