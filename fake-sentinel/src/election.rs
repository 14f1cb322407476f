//! Leader election for a failover, by epochs and votes (`sentinelVoteLeader`, `sentinelGetLeader`): one vote
//! per epoch, the winner needs a majority of every Sentinel ever seen (plus us) and at least the quorum.

use std::collections::BTreeMap;

use crate::state::State;

/// The most a failover start is pushed back after voting for another Sentinel (`SENTINEL_MAX_DESYNC`).
pub(crate) const MAX_DESYNC_MS: u64 = 1000;

impl State {
    /// Votes for `req_runid` as leader of `req_epoch` unless we already voted in that epoch or later; returns
    /// our vote for the master and its epoch.
    pub(crate) fn vote_leader(&mut self, master: &str, req_epoch: u64, req_runid: &str) -> (Option<String>, u64) {
        if req_epoch > self.current_epoch {
            self.current_epoch = req_epoch;
            self.flush_config();
            self.event_raw("+new-epoch", req_epoch.to_string());
        }
        let now = self.now_ms();
        let jitter = self.rand_below(MAX_DESYNC_MS);
        let current = self.current_epoch;
        let myid = self.myid.clone();
        let Some(m) = self.masters.get_mut(master) else {
            return (None, 0);
        };
        if m.leader_epoch < req_epoch && current <= req_epoch {
            m.leader = Some(req_runid.to_string());
            m.leader_epoch = current;
            // Having voted for someone else, do not start our own failover for this master for a while.
            if !req_runid.eq_ignore_ascii_case(&myid) {
                m.failover_start_time = now + jitter;
            }
            self.event_raw("+vote-for-leader", format!("{req_runid} {current}"));
        }
        let m = &self.masters[master];
        (m.leader.clone(), m.leader_epoch)
    }

    /// The leader of the failover of `epoch`, if one has a majority and the quorum. Casts our own vote too.
    pub(crate) fn get_leader(&mut self, master: &str, epoch: u64) -> Option<String> {
        let current = self.current_epoch;
        let m = self.masters.get(master)?;
        let voters = m.sentinels.len() as u32 + 1;
        let quorum = m.quorum;
        let mut counters: BTreeMap<String, u32> = BTreeMap::new();
        for s in m.sentinels.values() {
            if let Some(l) = &s.leader
                && s.leader_epoch == current
            {
                *counters.entry(l.clone()).or_default() += 1;
            }
        }
        // Ties go to the first in key order (Redis: hash order); either way a tie rarely reaches a majority.
        let mut winner: Option<String> = None;
        let mut max_votes = 0;
        for (candidate, votes) in &counters {
            if *votes > max_votes {
                max_votes = *votes;
                winner = Some(candidate.clone());
            }
        }
        let proposal = winner.clone().unwrap_or_else(|| self.myid.clone());
        let (my_vote, my_epoch) = self.vote_leader(master, epoch, &proposal);
        if let Some(v) = my_vote
            && my_epoch == epoch
        {
            let votes = counters.entry(v.clone()).or_default();
            *votes += 1;
            if *votes > max_votes {
                max_votes = *votes;
                winner = Some(v);
            }
        }
        winner.filter(|_| max_votes > voters / 2 && max_votes >= quorum)
    }
}
