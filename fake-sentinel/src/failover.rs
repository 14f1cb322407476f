//! The failover state machine (`sentinelFailoverStateMachine` and friends): from an objectively down master to
//! an elected leader, a selected and promoted replica, the other replicas reconfigured `parallel-syncs` at a
//! time, and finally the switch of the master's address that every Sentinel and client follows.

use crate::election::MAX_DESYNC_MS;
use crate::instance::{FailoverState, Instance, Kind, Tag};
use crate::monitor::{INFO_PERIOD_MS, PING_PERIOD_MS};
use crate::state::{State, Target};

/// The longest a leader waits for a vote majority (`SENTINEL_ELECTION_TIMEOUT`, capped by failover-timeout).
const ELECTION_TIMEOUT_MS: u64 = 10_000;
/// A replica told to follow the new master that shows no progress for this long is taken as done.
const SLAVE_RECONF_TIMEOUT_MS: u64 = 10_000;

impl State {
    /// Starts a failover when the master is ODOWN, none runs, and the last attempt is old enough.
    pub(crate) fn start_failover_if_needed(&mut self, name: &str) -> bool {
        let now = self.now_ms();
        let Some(m) = self.masters.get(name) else { return false };
        if !m.inst.flags.o_down || m.inst.flags.failover_in_progress {
            return false;
        }
        if now.saturating_sub(m.failover_start_time) < 2 * m.failover_timeout_ms {
            return false;
        }
        self.start_failover(name);
        true
    }

    /// Enters `wait_start` with a new epoch.
    pub(crate) fn start_failover(&mut self, name: &str) {
        let now = self.now_ms();
        let jitter = self.rand_below(MAX_DESYNC_MS);
        self.current_epoch += 1;
        let epoch = self.current_epoch;
        self.flush_config();
        let Some(m) = self.masters.get_mut(name) else { return };
        m.failover_state = FailoverState::WaitStart;
        m.inst.flags.failover_in_progress = true;
        m.failover_epoch = epoch;
        m.failover_start_time = now + jitter;
        m.failover_state_change_time = now;
        self.event_raw("+new-epoch", epoch.to_string());
        self.event_on(name, Kind::Master, "", "+try-failover", "");
    }

    /// One step of the failover state machine.
    pub(crate) fn failover_state_machine(&mut self, name: &str) {
        let Some(m) = self.masters.get(name) else { return };
        if !m.inst.flags.failover_in_progress {
            return;
        }
        match m.failover_state {
            FailoverState::WaitStart => self.failover_wait_start(name),
            FailoverState::SelectSlave => self.failover_select_slave(name),
            FailoverState::SendSlaveofNoone => self.failover_send_slaveof_noone(name),
            FailoverState::WaitPromotion => self.failover_wait_promotion(name),
            FailoverState::ReconfSlaves => self.reconf_next_slave(name),
            FailoverState::None | FailoverState::UpdateConfig => {}
        }
    }

    fn set_state(&mut self, name: &str, state: FailoverState) {
        let now = self.now_ms();
        if let Some(m) = self.masters.get_mut(name) {
            m.failover_state = state;
            m.failover_state_change_time = now;
        }
    }

    fn failover_wait_start(&mut self, name: &str) {
        let now = self.now_ms();
        let epoch = self.masters[name].failover_epoch;
        let leader = self.get_leader(name, epoch);
        let is_leader = leader.as_ref().is_some_and(|l| l.eq_ignore_ascii_case(&self.myid));
        let m = &self.masters[name];
        if !is_leader && !m.inst.flags.force_failover {
            let timeout = ELECTION_TIMEOUT_MS.min(m.failover_timeout_ms);
            if now.saturating_sub(m.failover_start_time) > timeout {
                self.event_on(name, Kind::Master, "", "-failover-abort-not-elected", "");
                self.abort_failover(name);
            }
            return;
        }
        self.event_on(name, Kind::Master, "", "+elected-leader", "");
        self.set_state(name, FailoverState::SelectSlave);
        self.event_on(name, Kind::Master, "", "+failover-state-select-slave", "");
    }

    fn failover_select_slave(&mut self, name: &str) {
        let Some(key) = self.select_slave(name) else {
            self.event_on(name, Kind::Master, "", "-failover-abort-no-good-slave", "");
            self.abort_failover(name);
            return;
        };
        self.event_on(name, Kind::Replica, &key, "+selected-slave", "");
        if let Some(m) = self.masters.get_mut(name) {
            if let Some(r) = m.replicas.get_mut(&key) {
                r.flags.promoted = true;
            }
            m.promoted = Some(key.clone());
        }
        self.set_state(name, FailoverState::SendSlaveofNoone);
        self.event_on(name, Kind::Replica, &key, "+failover-state-send-slaveof-noone", "");
    }

    fn failover_send_slaveof_noone(&mut self, name: &str) {
        let now = self.now_ms();
        let m = &self.masters[name];
        let Some(key) = m.promoted.clone() else { return };
        let disconnected = m.replicas.get(&key).is_none_or(|r| r.link.disconnected);
        if disconnected {
            if now.saturating_sub(m.failover_state_change_time) > m.failover_timeout_ms {
                self.event_on(name, Kind::Master, "", "-failover-abort-slave-timeout", "");
                self.abort_failover(name);
            }
            return;
        }
        let t = Target {
            master: name.to_string(),
            kind: Kind::Replica,
            key: key.clone(),
        };
        if !self.send_slave_of(&t, None) {
            return;
        }
        self.event_on(name, Kind::Replica, &key, "+failover-state-wait-promotion", "");
        self.set_state(name, FailoverState::WaitPromotion);
    }

    fn failover_wait_promotion(&mut self, name: &str) {
        // Progress is noticed in the promoted replica's INFO (see `info`); here only the timeout.
        let now = self.now_ms();
        let m = &self.masters[name];
        if now.saturating_sub(m.failover_state_change_time) > m.failover_timeout_ms {
            self.event_on(name, Kind::Master, "", "-failover-abort-slave-timeout", "");
            self.abort_failover(name);
        }
    }

    fn abort_failover(&mut self, name: &str) {
        let now = self.now_ms();
        let Some(m) = self.masters.get_mut(name) else { return };
        m.inst.flags.failover_in_progress = false;
        m.inst.flags.force_failover = false;
        m.failover_state = FailoverState::None;
        m.failover_state_change_time = now;
        if let Some(k) = m.promoted.take()
            && let Some(r) = m.replicas.get_mut(&k)
        {
            r.flags.promoted = false;
        }
    }

    /// The replica to promote, in Redis's order: usable replicas only, then lowest priority, highest
    /// replication offset, smallest run id (unknown run ids last).
    pub(crate) fn select_slave(&self, name: &str) -> Option<String> {
        let now = self.now_ms();
        let m = self.masters.get(name)?;
        let master_down_for = if m.inst.flags.s_down {
            now.saturating_sub(m.inst.s_down_since_time)
        } else {
            0
        };
        let max_link_down = master_down_for + 10 * m.inst.down_after_ms;
        let info_validity = if m.inst.flags.s_down {
            5 * PING_PERIOD_MS
        } else {
            3 * INFO_PERIOD_MS
        };
        let mut candidates: Vec<&Instance> = m
            .replicas
            .values()
            .filter(|r| {
                !r.flags.s_down
                    && !r.flags.o_down
                    && !r.link.disconnected
                    && now.saturating_sub(r.link.last_avail_time) <= 5 * PING_PERIOD_MS
                    && r.slave_priority != 0
                    && r.info_refresh != 0
                    && now.saturating_sub(r.info_refresh) <= info_validity
                    && r.master_link_down_time <= max_link_down
            })
            .collect();
        candidates.sort_by(|a, b| {
            a.slave_priority
                .cmp(&b.slave_priority)
                .then(b.slave_repl_offset.cmp(&a.slave_repl_offset))
                .then_with(|| match (&a.runid, &b.runid) {
                    (Some(x), Some(y)) => x.to_ascii_lowercase().cmp(&y.to_ascii_lowercase()),
                    (Some(_), None) => std::cmp::Ordering::Less,
                    (None, Some(_)) => std::cmp::Ordering::Greater,
                    (None, None) => std::cmp::Ordering::Equal,
                })
        });
        candidates.first().map(|r| r.name.clone())
    }

    /// Sends the reconfiguration transaction Sentinel always uses: MULTI, SLAVEOF host port (or NO ONE),
    /// CONFIG REWRITE, CLIENT KILL TYPE normal, CLIENT KILL TYPE pubsub, EXEC. Replies are not checked: the
    /// effect shows in later INFO replies.
    pub(crate) fn send_slave_of(&mut self, t: &Target, addr: Option<(&str, u16)>) -> bool {
        let (host, port) = match addr {
            Some((h, p)) => (h.to_string(), p.to_string()),
            None => ("NO".to_string(), "ONE".to_string()),
        };
        #[cfg(feature = "mutants")]
        let skip_kill = self.cfg.skip_client_kill;
        let Some(inst) = self.instance_mut(t) else { return false };
        let Some(cc) = &inst.link.cc else { return false };
        let cmds: [&[&[u8]]; 6] = [
            &[b"MULTI"],
            &[b"SLAVEOF", host.as_bytes(), port.as_bytes()],
            &[b"CONFIG", b"REWRITE"],
            &[b"CLIENT", b"KILL", b"TYPE", b"normal"],
            &[b"CLIENT", b"KILL", b"TYPE", b"pubsub"],
            &[b"EXEC"],
        ];
        for cmd in cmds {
            // Mutant skip-client-kill: clients are left connected to a node whose role changes.
            #[cfg(feature = "mutants")]
            if skip_kill && cmd[0] == b"CLIENT" {
                continue;
            }
            if !cc.send(Tag::Ignore, cmd) {
                return false;
            }
            inst.link.pending_commands += 1;
        }
        true
    }

    /// Points the next replicas at the promoted one, at most `parallel-syncs` at a time, then checks for the end.
    fn reconf_next_slave(&mut self, name: &str) {
        let now = self.now_ms();
        let Some(m) = self.masters.get(name) else { return };
        let Some(promoted) = m.promoted.as_ref().and_then(|k| m.replicas.get(k)) else {
            return;
        };
        let (pip, pport) = (promoted.ip.clone(), promoted.port);
        let parallel = m.parallel_syncs;
        let mut in_progress = m
            .replicas
            .values()
            .filter(|r| r.flags.reconf_sent || r.flags.reconf_inprog)
            .count() as u32;
        let keys: Vec<String> = m.replicas.keys().cloned().collect();
        for key in keys {
            if in_progress >= parallel {
                break;
            }
            let Some(r) = self.masters.get_mut(name).and_then(|m| m.replicas.get_mut(&key)) else {
                continue;
            };
            if r.flags.promoted || r.flags.reconf_done {
                continue;
            }
            if r.flags.reconf_sent && now.saturating_sub(r.slave_reconf_sent_time) > SLAVE_RECONF_TIMEOUT_MS {
                r.flags.reconf_sent = false;
                r.flags.reconf_done = true;
                self.event_on(name, Kind::Replica, &key, "-slave-reconf-sent-timeout", "");
                continue;
            }
            if r.flags.reconf_sent || r.flags.reconf_inprog || r.link.disconnected {
                continue;
            }
            let t = Target {
                master: name.to_string(),
                kind: Kind::Replica,
                key: key.clone(),
            };
            if self.send_slave_of(&t, Some((&pip, pport))) {
                if let Some(r) = self.masters.get_mut(name).and_then(|m| m.replicas.get_mut(&key)) {
                    r.flags.reconf_sent = true;
                    r.slave_reconf_sent_time = now;
                }
                self.event_on(name, Kind::Replica, &key, "+slave-reconf-sent", "");
                in_progress += 1;
            }
        }
        self.detect_end(name);
    }

    fn detect_end(&mut self, name: &str) {
        let now = self.now_ms();
        let Some(m) = self.masters.get(name) else { return };
        let Some(promoted) = m.promoted.as_ref().and_then(|k| m.replicas.get(k)) else {
            return;
        };
        if promoted.flags.s_down {
            return;
        }
        let (pip, pport) = (promoted.ip.clone(), promoted.port);
        let elapsed = now.saturating_sub(m.failover_state_change_time);
        let mut not_reconfigured = m
            .replicas
            .values()
            .filter(|r| !r.flags.promoted && !r.flags.reconf_done && !r.flags.s_down)
            .count();
        let timeout = elapsed > m.failover_timeout_ms;
        if timeout {
            not_reconfigured = 0;
            self.event_on(name, Kind::Master, "", "+failover-end-for-timeout", "");
        }
        if not_reconfigured == 0 {
            self.event_on(name, Kind::Master, "", "+failover-end", "");
            self.set_state(name, FailoverState::UpdateConfig);
        }
        if timeout {
            // Best effort for the stragglers: tell them once more where the new master is.
            let keys: Vec<String> = self.masters[name]
                .replicas
                .values()
                .filter(|r| !r.flags.promoted && !r.flags.reconf_done && !r.flags.reconf_sent && !r.link.disconnected)
                .map(|r| r.name.clone())
                .collect();
            for key in keys {
                let t = Target {
                    master: name.to_string(),
                    kind: Kind::Replica,
                    key: key.clone(),
                };
                if self.send_slave_of(&t, Some((&pip, pport))) {
                    if let Some(r) = self.masters.get_mut(name).and_then(|m| m.replicas.get_mut(&key)) {
                        r.flags.reconf_sent = true;
                    }
                    self.event_on(name, Kind::Replica, &key, "+slave-reconf-sent-be", "");
                }
            }
        }
    }

    /// Ends a failover: the master's address becomes the promoted replica's.
    pub(crate) fn switch_to_promoted(&mut self, name: &str) {
        let Some(m) = self.masters.get(name) else { return };
        let target = m.promoted.as_ref().and_then(|k| m.replicas.get(k)).unwrap_or(&m.inst);
        let (new_ip, new_port) = (target.ip.clone(), target.port);
        let (old_ip, old_port) = (m.inst.ip.clone(), m.inst.port);
        self.event_raw(
            "+switch-master",
            format!("{name} {old_ip} {old_port} {new_ip} {new_port}"),
        );
        self.reset_master_and_change_address(name, new_ip, new_port);
    }

    /// Resets a master entry to a new address: replicas are forgotten and re-added fresh (the old master last,
    /// as a replica), Sentinels are kept, failover state is cleared.
    pub(crate) fn reset_master_and_change_address(&mut self, name: &str, ip: String, port: u16) {
        let new_key = format!("{ip}:{port}");
        let Some(m) = self.masters.get(name) else { return };
        let mut replicas: Vec<(String, u16)> = m
            .replicas
            .values()
            .filter(|r| r.addr() != new_key)
            .map(|r| (r.ip.clone(), r.port))
            .collect();
        if m.inst.addr() != new_key {
            replicas.push((m.inst.ip.clone(), m.inst.port));
        }
        self.reset_master(name, false, true);
        if let Some(m) = self.masters.get_mut(name) {
            m.inst.ip = ip;
            m.inst.port = port;
            m.inst.o_down_since_time = 0;
            m.inst.s_down_since_time = 0;
        }
        for (rip, rport) in replicas {
            self.add_replica(name, rip, rport);
        }
        self.flush_config();
    }

    /// Clears a master's state (SENTINEL RESET, or a change of address).
    pub(crate) fn reset_master(&mut self, name: &str, generate_event: bool, keep_sentinels: bool) {
        let now = self.now_ms();
        let Some(m) = self.masters.get_mut(name) else { return };
        m.replicas.clear();
        if !keep_sentinels {
            m.sentinels.clear();
        }
        m.inst.close_links();
        m.inst.flags = Default::default();
        m.leader = None;
        m.failover_state = FailoverState::None;
        m.failover_state_change_time = 0;
        m.failover_start_time = 0;
        m.promoted = None;
        m.inst.runid = None;
        m.inst.slave_master_host = None;
        m.inst.link.act_ping_time = now;
        m.inst.link.last_ping_time = 0;
        m.inst.link.last_avail_time = now;
        m.inst.link.last_pong_time = now;
        m.inst.role_reported_time = now;
        m.inst.role_reported = Kind::Master;
        self.flush_config();
        if generate_event {
            self.event_on(name, Kind::Master, "", "+reset-master", "");
        }
    }
}
