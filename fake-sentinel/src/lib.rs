//! Simulated Redis Sentinels.
//!
//! Not built yet: it arrives with the "fake-sentinel" issue. A fake Sentinel will monitor fake Redis nodes only
//! over the network (RESP), detect SDOWN/ODOWN, elect a leader by epochs and run failovers the way
//! `redis-sentinel` 7.0 does.
