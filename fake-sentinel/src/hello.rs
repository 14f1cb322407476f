//! Hello messages: every 2 s each Sentinel publishes its address, run id, epoch and its view of the master on
//! `__sentinel__:hello` through every data node it watches (and straight to the other Sentinels). That is how
//! Sentinels find each other and how a newer master configuration spreads.

use crate::instance::{Instance, Kind, Tag};
use crate::state::{State, Target};

impl State {
    /// Publishes our Hello through the instance's command link.
    pub(crate) fn send_hello(&mut self, t: &Target) {
        let (port, myid, epoch) = (self.cfg.port, self.myid.clone(), self.current_epoch);
        let announce = self.cfg.announce_ip.clone();
        let Some(m) = self.masters.get(&t.master) else { return };
        let (mip, mport) = State::current_master_addr(m);
        let (name, config_epoch) = (m.inst.name.clone(), m.config_epoch);
        let Some(inst) = self.instance_mut(t) else { return };
        if inst.link.disconnected {
            return;
        }
        // Announce the address the peer sees us at, unless one is configured.
        let Some(ip) = announce.or_else(|| inst.link.cc_local_ip.clone()) else {
            return;
        };
        let payload = format!("{ip},{port},{myid},{epoch},{name},{mip},{mport},{config_epoch}");
        let Some(cc) = &inst.link.cc else { return };
        if cc.send(Tag::Hello, &[b"PUBLISH", b"__sentinel__:hello", payload.as_bytes()]) {
            inst.link.pending_commands += 1;
        }
    }

    /// Handles a Hello heard on a data node's Pub/Sub link or received with PUBLISH.
    pub(crate) fn process_hello(&mut self, payload: &str) {
        let now = self.now_ms();
        let tokens: Vec<&str> = payload.split(',').collect();
        let [
            ip,
            port,
            runid,
            epoch,
            master_name,
            master_ip,
            master_port,
            config_epoch,
        ] = tokens[..]
        else {
            return;
        };
        let (Ok(port), Ok(epoch), Ok(master_port), Ok(config_epoch)) = (
            port.parse::<u16>(),
            epoch.parse::<u64>(),
            master_port.parse::<u16>(),
            config_epoch.parse::<u64>(),
        ) else {
            return;
        };
        if runid == self.myid || !self.masters.contains_key(master_name) {
            return;
        }
        let m = self.masters.get_mut(master_name).expect("checked above");
        let known = m.sentinels.get(runid).is_some_and(|s| s.ip == ip && s.port == port);
        if !known {
            // A known run id at a new address: forget the old entry, as Redis does, and say so.
            let moved = m.sentinels.remove(runid).is_some();
            if moved {
                let extra = format!(" ip {ip} port {port} for {runid}");
                self.event_on(master_name, Kind::Master, "", "+sentinel-address-switch", &extra);
            } else if let Some(stale) = m
                .sentinels
                .values()
                .find(|s| s.ip == ip && s.port == port)
                .map(|s| s.name.clone())
            {
                self.event_on(master_name, Kind::Sentinel, &stale, "+sentinel-invalid-addr", "");
                for other in self.masters.values_mut() {
                    other.sentinels.remove(&stale);
                }
            }
            let m = self.masters.get_mut(master_name).expect("checked above");
            let mut s = Instance::new(
                Kind::Sentinel,
                runid.to_string(),
                ip.to_string(),
                port,
                m.inst.down_after_ms,
                now,
            );
            s.runid = Some(runid.to_string());
            m.sentinels.insert(runid.to_string(), s);
            if !moved {
                self.event_on(master_name, Kind::Sentinel, runid, "+sentinel", "");
            }
        }
        if epoch > self.current_epoch {
            self.current_epoch = epoch;
            self.flush_config();
            self.event_raw("+new-epoch", epoch.to_string());
        }
        let m = self.masters.get_mut(master_name).expect("checked above");
        if m.config_epoch < config_epoch {
            m.config_epoch = config_epoch;
            let (port_now, ip_now) = (m.inst.port, m.inst.ip.clone());
            let moved_master = master_port != port_now || !self.same_host(Some(master_ip), &ip_now);
            if moved_master {
                let m = &self.masters[master_name];
                let (old_ip, old_port) = (m.inst.ip.clone(), m.inst.port);
                self.event_on(master_name, Kind::Sentinel, runid, "+config-update-from", "");
                self.event_raw(
                    "+switch-master",
                    format!("{master_name} {old_ip} {old_port} {master_ip} {master_port}"),
                );
                self.reset_master_and_change_address(master_name, master_ip.to_string(), master_port);
            }
            self.flush_config();
        }
        if let Some(s) = self
            .masters
            .get_mut(master_name)
            .and_then(|m| m.sentinels.get_mut(runid))
        {
            s.last_hello_time = now;
        }
    }
}
