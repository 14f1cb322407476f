//! The Sentinel timer: every 50-100 ms it walks every master, then its replicas, then its Sentinels, and for
//! each one reconnects, sends the periodic commands, and judges SDOWN; for masters also ODOWN, the start of a
//! failover, one step of the failover state machine, and the questions to the other Sentinels. This is
//! `sentinelHandleRedisInstance` and friends in Redis's sentinel.c.

use crate::instance::{FailoverState, Kind, Tag};
use crate::link::send_ping;
use crate::state::{State, Target};

/// PING period (and the least time between reconnection attempts).
pub(crate) const PING_PERIOD_MS: u64 = 1000;
/// INFO period for masters and healthy replicas.
pub(crate) const INFO_PERIOD_MS: u64 = 10_000;
/// Hello period.
pub(crate) const PUBLISH_PERIOD_MS: u64 = 2000;
/// How often the other Sentinels are asked about a master that looks down.
pub(crate) const ASK_PERIOD_MS: u64 = 1000;
/// A link must be this old before it can be closed as stale.
const MIN_LINK_RECONNECT_PERIOD_MS: u64 = 15_000;
/// Too many unanswered commands: stop queueing more.
const MAX_PENDING_COMMANDS: u32 = 100;
/// A timer jump larger than this (or backwards) enters TILT.
const TILT_TRIGGER_MS: u64 = 2000;
/// How long TILT lasts.
const TILT_PERIOD_MS: u64 = 30_000;

impl State {
    /// One timer tick.
    pub(crate) fn tick(&mut self) {
        let now = self.now_ms();
        self.check_tilt(now);
        let names: Vec<String> = self.masters.keys().cloned().collect();
        let mut switch = None;
        for name in names {
            let master = Target {
                master: name.clone(),
                kind: Kind::Master,
                key: String::new(),
            };
            self.handle_instance(&master);
            let Some(m) = self.masters.get(&name) else { continue };
            let replicas: Vec<String> = m.replicas.keys().cloned().collect();
            let sentinels: Vec<String> = m.sentinels.keys().cloned().collect();
            for key in replicas {
                self.handle_instance(&Target {
                    master: name.clone(),
                    kind: Kind::Replica,
                    key,
                });
            }
            for key in sentinels {
                self.handle_instance(&Target {
                    master: name.clone(),
                    kind: Kind::Sentinel,
                    key,
                });
            }
            if self
                .masters
                .get(&name)
                .is_some_and(|m| m.failover_state == FailoverState::UpdateConfig)
            {
                switch = Some(name);
            }
        }
        if let Some(name) = switch {
            self.switch_to_promoted(&name);
        }
    }

    fn check_tilt(&mut self, now: u64) {
        let delta = now as i64 - self.previous_time as i64;
        if delta < 0 || delta as u64 > TILT_TRIGGER_MS {
            self.tilt = true;
            self.tilt_start_time = now;
            self.event_raw("+tilt", "#tilt mode entered".into());
        }
        self.previous_time = now;
    }

    fn handle_instance(&mut self, t: &Target) {
        self.reconnect(t);
        self.send_periodic_commands(t);
        if self.tilt {
            if self.now_ms().saturating_sub(self.tilt_start_time) < TILT_PERIOD_MS {
                return;
            }
            self.tilt = false;
            self.event_raw("-tilt", "#tilt mode exited".into());
        }
        self.check_subjectively_down(t);
        if t.kind == Kind::Master {
            self.check_objectively_down(&t.master);
            if self.start_failover_if_needed(&t.master) {
                self.ask_master_state(&t.master, true);
            }
            self.failover_state_machine(&t.master);
            self.ask_master_state(&t.master, false);
        }
    }

    fn send_periodic_commands(&mut self, t: &Target) {
        let now = self.now_ms();
        let Some(m) = self.masters.get(&t.master) else { return };
        let master_in_trouble = m.inst.flags.o_down || m.inst.flags.failover_in_progress;
        let Some(inst) = self.instance_mut(t) else { return };
        if inst.link.disconnected || inst.link.pending_commands >= MAX_PENDING_COMMANDS {
            return;
        }
        // Replicas are polled every second while their master is in trouble or their own link is down.
        let info_period = if t.kind == Kind::Replica && (master_in_trouble || inst.master_link_down_time != 0) {
            1000
        } else {
            INFO_PERIOD_MS
        };
        let ping_period = inst.down_after_ms.min(PING_PERIOD_MS);
        if t.kind != Kind::Sentinel
            && (inst.info_refresh == 0 || now.saturating_sub(inst.info_refresh) > info_period)
            && let Some(cc) = &inst.link.cc
            && cc.send(Tag::Info, &[b"INFO"])
        {
            inst.link.pending_commands += 1;
        }
        if now.saturating_sub(inst.link.last_pong_time) > ping_period
            && now.saturating_sub(inst.link.last_ping_time) > ping_period / 2
        {
            send_ping(inst, now);
        }
        if now.saturating_sub(inst.last_pub_time) > PUBLISH_PERIOD_MS {
            self.send_hello(t);
        }
    }

    fn check_subjectively_down(&mut self, t: &Target) {
        let now = self.now_ms();
        let Some(inst) = self.instance_mut(t) else { return };
        let link = &mut inst.link;
        let elapsed = if link.act_ping_time != 0 {
            now.saturating_sub(link.act_ping_time)
        } else if link.disconnected {
            now.saturating_sub(link.last_avail_time)
        } else {
            0
        };
        let half = inst.down_after_ms / 2;
        // A command link with a ping pending for half the down-after period is redialled (it may be wedged).
        if link.cc.is_some()
            && now.saturating_sub(link.cc_conn_time) > MIN_LINK_RECONNECT_PERIOD_MS
            && link.act_ping_time != 0
            && now.saturating_sub(link.act_ping_time) > half
            && now.saturating_sub(link.last_pong_time) > half
        {
            link.cc = None;
            link.pending_commands = 0;
            link.disconnected = true;
        }
        // A Pub/Sub link that has heard nothing (not even our own Hellos) for three periods too.
        if link.pc.is_some()
            && now.saturating_sub(link.pc_conn_time) > MIN_LINK_RECONNECT_PERIOD_MS
            && now.saturating_sub(link.pc_last_activity) > PUBLISH_PERIOD_MS * 3
        {
            link.pc = None;
            link.disconnected = true;
        }
        let reported_slave_too_long = t.kind == Kind::Master
            && inst.role_reported == Kind::Replica
            && now.saturating_sub(inst.role_reported_time) > inst.down_after_ms + 2 * INFO_PERIOD_MS;
        let down = elapsed > inst.down_after_ms || reported_slave_too_long;
        if down && !inst.flags.s_down {
            inst.flags.s_down = true;
            inst.s_down_since_time = now;
            self.event_on(&t.master, t.kind, &t.key, "+sdown", "");
        } else if !down && inst.flags.s_down {
            inst.flags.s_down = false;
            self.event_on(&t.master, t.kind, &t.key, "-sdown", "");
        }
    }

    fn check_objectively_down(&mut self, name: &str) {
        let now = self.now_ms();
        let Some(m) = self.masters.get_mut(name) else { return };
        let mut quorum = 0;
        let mut odown = false;
        if m.inst.flags.s_down {
            quorum = 1 + m.sentinels.values().filter(|s| s.flags.master_down).count() as u32;
            odown = quorum >= m.quorum;
        }
        if odown && !m.inst.flags.o_down {
            m.inst.flags.o_down = true;
            m.inst.o_down_since_time = now;
            let q = m.quorum;
            self.event_on(name, Kind::Master, "", "+odown", &format!(" #quorum {quorum}/{q}"));
        } else if !odown && m.inst.flags.o_down {
            m.inst.flags.o_down = false;
            self.event_on(name, Kind::Master, "", "-odown", "");
        }
    }

    /// Asks every other Sentinel whether it sees the master down (and, once we run a failover, for its vote).
    pub(crate) fn ask_master_state(&mut self, name: &str, forced: bool) {
        let now = self.now_ms();
        let epoch = self.current_epoch.to_string();
        let myid = self.myid.clone();
        let Some(m) = self.masters.get_mut(name) else { return };
        let (ip, port) = (m.inst.ip.clone(), m.inst.port.to_string());
        let runid = if m.failover_state > FailoverState::None {
            myid
        } else {
            "*".to_string()
        };
        let s_down = m.inst.flags.s_down;
        for s in m.sentinels.values_mut() {
            let since = now.saturating_sub(s.last_master_down_reply_time);
            if since > ASK_PERIOD_MS * 5 {
                s.flags.master_down = false;
                s.leader = None;
            }
            if !s_down || s.link.disconnected || (!forced && since < ASK_PERIOD_MS) {
                continue;
            }
            let Some(cc) = &s.link.cc else { continue };
            let args: [&[u8]; 6] = [
                b"SENTINEL",
                b"is-master-down-by-addr",
                ip.as_bytes(),
                port.as_bytes(),
                epoch.as_bytes(),
                runid.as_bytes(),
            ];
            if cc.send(Tag::AskMasterDown, &args) {
                s.link.pending_commands += 1;
            }
        }
    }
}
