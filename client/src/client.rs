//! The client: topology state, routing of each call, ejection and retries.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bytes::Bytes;
use redsim_resp::Reply;
use tokio::sync::broadcast;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::commands::{is_read_only, is_read_only_bytes};
use crate::config::{ClientBuilder, ClientConfig, ReadPolicy};
use crate::conn::{Conn, NodeRole};
use crate::discovery;
use crate::error::{Error, Result};
use crate::events::{EventKind, RoutingEvent};
#[cfg(feature = "mutants")]
use crate::mutant::Mutant;
use crate::mux::{Failure, Limits, Mux, Request};
use crate::routing::{Candidate, Router};

/// Events buffered for slow subscribers before the oldest are dropped.
const EVENT_CAPACITY: usize = 4096;
/// Least time between two discoveries triggered by failures (periodic ones are separate).
const MIN_REDISCOVERY_GAP: Duration = Duration::from_millis(100);
/// How long after the client sees the master change it keeps using replicas Sentinel flags only `disconnected`.
/// Sentinel re-creates a master's replica entries with their links down when it switches the master, and
/// flags them all `disconnected` until its next timer tick (about 100 ms) has reconnected them.
const SWITCH_GRACE: Duration = Duration::from_secs(1);

/// A replica as the client tracks it.
#[derive(Debug, Clone)]
pub(crate) struct Replica {
    pub host: String,
    pub port: u16,
    /// Ejected until this instant, then probed before use.
    pub ejected_until: Option<Instant>,
    pub backoff: Duration,
    /// Smoothed round-trip time in microseconds (0: not measured yet).
    pub latency_us: u64,
}

/// A Sentinel the client knows.
#[derive(Debug, Clone)]
pub(crate) struct SentinelEntry {
    pub host: String,
    pub port: u16,
    /// Configured by the user: never dropped.
    pub seed: bool,
    /// Consecutive failed queries (learned Sentinels are dropped after too many).
    pub failures: u32,
}

/// One node's connection opening: held by the caller dialling, with the last failure for the callers that
/// waited on it.
pub(crate) type OpenGate = Arc<tokio::sync::Mutex<Option<(Instant, Error)>>>;

/// Learned Sentinels failing this many queries in a row are forgotten.
const SENTINEL_EXPIRY_FAILURES: u32 = 10;

pub(crate) struct State {
    pub sentinels: Vec<SentinelEntry>,
    pub master: Option<(String, u16)>,
    /// The master as `host:port` (the pool's key), kept with `master` by [`State::set_master`].
    pub master_key: Option<String>,
    /// Woken when [`State::set_master`] changes the master: a caller still connecting to the old one stops.
    pub master_moved: Arc<tokio::sync::Notify>,
    pub replicas: BTreeMap<String, Replica>,
    /// The routing decision and what it remembers between calls (sticky replica, round robin, seeded picks).
    pub router: Router,
    /// One shared connection per node (`host:port`).
    pub pools: BTreeMap<String, Mux>,
    /// Held while a connection to that node is being opened, with the last failed attempt (when, and why).
    pub opening: BTreeMap<String, OpenGate>,
    pub master_latency_us: u64,
    pub last_discovery: Option<Instant>,
    /// When the client last saw the master change: a discovery finding a different master, or a
    /// `+switch-master` event (which Sentinel publishes as it resets the master's replica entries).
    pub master_switched_at: Option<Instant>,
    /// When a read last tried an ejected replica because none was usable (see [`EventKind::LastResort`]).
    pub last_resort_at: Option<Instant>,
}

impl State {
    /// Records a new master; returns the previous one's `host:port`.
    pub(crate) fn set_master(&mut self, master: (String, u16)) -> Option<String> {
        self.master = Some(master);
        let key = self.master.as_ref().map(|(h, p)| format!("{h}:{p}"));
        let previous = std::mem::replace(&mut self.master_key, key);
        if previous != self.master_key {
            self.master_moved.notify_waiters();
        }
        previous
    }

    /// Whether `addr` is no longer the master, so a write on its way there should go to the new one.
    fn master_moved_from(&self, addr: &str) -> bool {
        self.master_key.as_deref().is_some_and(|m| m != addr)
    }
}

pub(crate) struct Inner {
    pub cfg: ClientConfig,
    pub state: Mutex<State>,
    pub events: broadcast::Sender<RoutingEvent>,
    pub started: Instant,
    pub cancel: CancellationToken,
    /// One discovery at a time.
    pub discovering: tokio::sync::Mutex<()>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

/// A Sentinel-aware Redis client. Cheap to clone (clones share connections and state); background tasks stop
/// when the last clone is dropped.
#[derive(Clone)]
pub struct Client {
    pub(crate) inner: Arc<Inner>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("master_name", &self.inner.cfg.master_name)
            .finish()
    }
}

/// Waits for `fut` until `deadline` (the call's): `Err(DeadlineExceeded)` when it passes first, or when `fut`
/// only finished after it (its last step, decoding a big reply, say, ran past the deadline without yielding).
async fn within<T>(deadline: Instant, fut: impl std::future::Future<Output = T>) -> Result<T> {
    let out = tokio::time::timeout_at(deadline, fut)
        .await
        .map_err(|_| Error::DeadlineExceeded)?;
    if Instant::now() > deadline {
        return Err(Error::DeadlineExceeded);
    }
    Ok(out)
}

/// What the pool holds for a node.
enum Pooled {
    Live(Mux),
    /// A connection the server closed since it was last used.
    Ended,
    None,
}

/// Where one attempt goes.
enum Target {
    Replica(String),
    Master,
}

/// Whether a failure may have executed the command (a timeout after sending) or surely did not.
fn surely_not_executed(e: &Error) -> bool {
    match e {
        Error::Io(msg) => !msg.contains("timed out"),
        Error::RoleMismatch { .. } => true,
        _ => false,
    }
}

impl Inner {
    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn emit(&self, kind: EventKind) {
        tracing::debug!(target: "redsim_client", event = ?kind, "routing");
        let _ = self.events.send(RoutingEvent {
            at: self.started.elapsed(),
            kind,
        });
    }

    /// Asks Sentinels for the topology and applies it.
    pub(crate) async fn discover(&self) -> Result<()> {
        let _one = self.discovering.lock().await;
        self.discover_now().await
    }

    /// Discovers unless the master is known, or becomes known while this caller waits for another discovery:
    /// many callers starting at once share one discovery.
    async fn discover_if_unknown(&self) -> Result<()> {
        if self.lock().master.is_some() {
            return Ok(());
        }
        let _one = self.discovering.lock().await;
        if self.lock().master.is_some() {
            return Ok(());
        }
        self.discover_now().await
    }

    /// The discovery itself; the caller holds `discovering`.
    async fn discover_now(&self) -> Result<()> {
        let sentinels: Vec<(String, u16)> = self.lock().sentinels.iter().map(|s| (s.host.clone(), s.port)).collect();
        let (result, unreachable) = discovery::discover(&self.cfg, &sentinels).await;
        for (i, reason) in &unreachable {
            let addr = format!("{}:{}", sentinels[*i].0, sentinels[*i].1);
            self.emit(EventKind::SentinelUnreachable {
                addr,
                reason: reason.clone(),
            });
        }
        let mut st = self.lock();
        st.last_discovery = Some(Instant::now());
        for (i, _) in &unreachable {
            if let Some(s) = st
                .sentinels
                .iter_mut()
                .find(|s| (s.host.clone(), s.port) == sentinels[*i])
            {
                s.failures += 1;
            }
        }
        st.sentinels.retain(|s| s.seed || s.failures < SENTINEL_EXPIRY_FAILURES);
        let (index, view) = result?;
        // The Sentinel that answered goes first next time, as the client guidelines say.
        if let Some(pos) = st
            .sentinels
            .iter()
            .position(|s| (s.host.clone(), s.port) == sentinels[index])
        {
            let mut s = st.sentinels.remove(pos);
            s.failures = 0;
            st.sentinels.insert(0, s);
        }
        for (host, port) in view.sentinels {
            if !st.sentinels.iter().any(|s| s.host == host && s.port == port) {
                st.sentinels.push(SentinelEntry {
                    host,
                    port,
                    seed: false,
                    failures: 0,
                });
            }
        }
        let mut events = Vec::new();
        let switched = st.master.as_ref() != Some(&view.master);
        // Mutants StickyMaster and BlindMaster keep the first master found, whatever Sentinel says later.
        #[cfg(feature = "mutants")]
        let switched = switched && !(st.master.is_some() && self.cfg.mutant.is_some_and(Mutant::keeps_first_master));
        if switched {
            let from = st.master.as_ref().map(|(h, p)| format!("{h}:{p}"));
            let to = format!("{}:{}", view.master.0, view.master.1);
            if from.is_some() {
                st.master_switched_at = Some(Instant::now());
                events.push(EventKind::MasterSwitched {
                    from: from.clone(),
                    to: to.clone(),
                });
            }
            if let Some(old) = from {
                st.pools.remove(&old);
            }
            st.pools.remove(&to);
            st.set_master(view.master.clone());
        }
        let before: Vec<String> = st.replicas.keys().cloned().collect();
        let mut next = BTreeMap::new();
        let just_switched = st.master_switched_at.is_some_and(|t| t.elapsed() < SWITCH_GRACE);
        for r in view.replicas {
            let key = format!("{}:{}", r.host, r.port);
            // `disconnected` is Sentinel's own link state. Right after a switch it is set on every replica
            // and says nothing about them, so one the client already uses stays (its connection checked ROLE,
            // and a failing read ejects it); a replica the client has not used yet waits for Sentinel's link.
            if r.disconnected && !(just_switched && st.replicas.contains_key(&key)) {
                continue;
            }
            let kept = st.replicas.remove(&key);
            next.insert(
                key,
                kept.unwrap_or(Replica {
                    host: r.host,
                    port: r.port,
                    ejected_until: None,
                    backoff: Duration::ZERO,
                    latency_us: 0,
                }),
            );
        }
        for gone in st.replicas.keys().cloned().collect::<Vec<_>>() {
            st.pools.remove(&gone);
        }
        st.replicas = next;
        if let Some(s) = st
            .router
            .sticky()
            .filter(|s| !st.replicas.contains_key(*s))
            .map(str::to_string)
        {
            st.router.forget(&s);
        }
        let after: Vec<String> = st.replicas.keys().cloned().collect();
        if before != after || !events.is_empty() {
            let master = st.master.as_ref().map(|(h, p)| format!("{h}:{p}")).unwrap_or_default();
            events.push(EventKind::TopologyChanged {
                master,
                replicas: after,
            });
        }
        drop(st);
        for e in events {
            self.emit(e);
        }
        Ok(())
    }

    /// Discovers unless a discovery happened very recently (also one that ends while this caller waits for it,
    /// so callers failing together share one).
    async fn rediscover(&self) -> Result<()> {
        let recent = |inner: &Inner| {
            inner
                .lock()
                .last_discovery
                .is_some_and(|t| t.elapsed() < MIN_REDISCOVERY_GAP)
        };
        if recent(self) {
            return Ok(());
        }
        let _one = self.discovering.lock().await;
        if recent(self) {
            Ok(())
        } else {
            self.discover_now().await
        }
    }

    fn usable_replicas(st: &State) -> Vec<String> {
        st.replicas
            .iter()
            .filter(|(_, r)| r.ejected_until.is_none())
            .map(|(k, _)| k.clone())
            .collect()
    }

    /// Chooses a replica among the usable ones, skipping those that failed in this call and, while others are
    /// left, those whose pooled connection just broke.
    fn choose_replica_avoiding(&self, failed: &[String], stale: &[String]) -> Option<String> {
        self.choose_replica(failed, stale)
            .or_else(|| self.choose_replica(failed, &[]))
    }

    /// Picks per the selection among usable replicas not in `skip` or `also_skip`. Runs on every read, so it
    /// borrows the addresses and clones only the one chosen.
    fn choose_replica(&self, skip: &[String], also_skip: &[String]) -> Option<String> {
        let mut guard = self.lock();
        let st = &mut *guard;
        let candidates = Self::candidates(&st.replicas, |k| !skip.contains(k) && !also_skip.contains(k));
        st.router.pick(&candidates).map(str::to_string)
    }

    /// The usable (not ejected) replicas that `keep` keeps, in address order.
    fn candidates<'a>(replicas: &'a BTreeMap<String, Replica>, keep: impl Fn(&String) -> bool) -> Vec<Candidate<'a>> {
        replicas
            .iter()
            .filter(|(k, r)| r.ejected_until.is_none() && keep(k))
            .map(|(k, r)| Candidate::new(k, r.latency_us))
            .collect()
    }

    /// Whether this call goes to the master (see [`Router::goes_to_master`]).
    fn goes_to_master(&self, read: bool) -> bool {
        let st = self.lock();
        // Only `Nearest` compares against the replicas; the other policies need no list.
        let candidates = if read && self.cfg.read_policy == ReadPolicy::Nearest {
            Self::candidates(&st.replicas, |_| true)
        } else {
            Vec::new()
        };
        st.router.goes_to_master(read, st.master_latency_us, &candidates)
    }

    /// Opens (and verifies) the node's shared connection, which no pool holds. Returns it and `false` (it was
    /// not pooled); `Ok(Err((_, false)))`: the node failed; `Err`: the call's deadline passed.
    ///
    /// One caller dials; the others wait for it and share its outcome, a failure included: callers that pile
    /// up behind a dead or mis-roled node cost it one connection attempt, not one each.
    async fn open_shared(
        &self,
        addr: &str,
        role: NodeRole,
        deadline: Instant,
    ) -> Result<std::result::Result<(Mux, bool), (Error, bool)>> {
        let asked = Instant::now();
        let (gate, master_moved) = {
            let mut st = self.lock();
            (
                st.opening.entry(addr.to_string()).or_default().clone(),
                st.master_moved.clone(),
            )
        };
        // Armed before the master is checked, so a switch between the check and the dial still wakes it.
        let moved = master_moved.notified();
        tokio::pin!(moved);
        moved.as_mut().enable();
        let moved_away = |addr: &str| {
            Error::Io(format!(
                "{addr}: no longer the master (Sentinel switched it while this call waited)"
            ))
        };
        let mut last_failure = gate.lock().await;
        if let Pooled::Live(m) = self.pooled(addr) {
            return Ok(Ok((m, false)));
        }
        // Stale, not a failure: the caller retries at once on the new master.
        if role == NodeRole::Master && self.lock().master_moved_from(addr) {
            return Ok(Err((moved_away(addr), true)));
        }
        if let Some((at, e)) = &*last_failure
            && *at >= asked
        {
            return Ok(Err((e.clone(), false)));
        }
        // A waiter whose deadline passed while it queued must not dial: its connection would outlive it.
        if Instant::now() >= deadline {
            return Err(Error::DeadlineExceeded);
        }
        let (host, port) = match crate::config::parse_addr(addr) {
            Ok(hp) => hp,
            Err(e) => return Ok(Err((e, false))),
        };
        let dial = Conn::open(&self.cfg, &host, port, role);
        let opened = if role == NodeRole::Master {
            // A dial to a master that is down lasts until the connect timeout; once Sentinel has switched, the
            // write should not wait it out.
            tokio::pin!(dial);
            loop {
                tokio::select! {
                    biased;
                    opened = &mut dial => break opened,
                    () = &mut moved => {
                        if self.lock().master_moved_from(addr) {
                            return Ok(Err((moved_away(addr), true)));
                        }
                        // It moved and came back: keep dialling, and listen again.
                        moved.set(master_moved.notified());
                        moved.as_mut().enable();
                    }
                }
            }
        } else {
            dial.await
        };
        match opened {
            Ok(conn) => {
                *last_failure = None;
                let mux = Mux::start(conn, self.limits());
                self.install(mux.clone());
                Ok(Ok((mux, false)))
            }
            Err(e) => {
                *last_failure = Some((Instant::now(), e.clone()));
                Ok(Err((e, false)))
            }
        }
    }

    /// The pooled connection to `addr`. A connection the server closed since its last use (a reconfiguration's
    /// CLIENT KILL, a crash) is forgotten and reported as `Ended`: the caller treats it as stale, not as the
    /// node's failure.
    fn pooled(&self, addr: &str) -> Pooled {
        let mut st = self.lock();
        match st.pools.get(addr) {
            Some(m) if !m.is_closed() => Pooled::Live(m.clone()),
            Some(_) => {
                st.pools.remove(addr);
                Pooled::Ended
            }
            None => Pooled::None,
        }
    }

    fn limits(&self) -> Limits {
        Limits {
            command_timeout: self.cfg.command_timeout,
            max_reply_bytes: self.cfg.max_reply_bytes,
            #[cfg(feature = "mutants")]
            keep_timed_out: self.cfg.mutant == Some(Mutant::KeepTimedOutConnection),
        }
    }

    fn forget_sticky(&self, addr: &str) {
        self.lock().router.forget(addr);
    }

    fn install(&self, mux: Mux) {
        self.lock().pools.insert(mux.addr.to_string(), mux);
    }

    /// Forgets `mux` if it is still the one pooled for its node.
    fn unpool(&self, mux: &Mux) {
        let mut st = self.lock();
        if st.pools.get(&*mux.addr).is_some_and(|m| m.same(mux)) {
            st.pools.remove(&*mux.addr);
        }
    }

    fn record_latency(&self, addr: &str, rtt: Duration, role: NodeRole) {
        let us = rtt.as_micros().max(1) as u64;
        let smooth = |old: u64| if old == 0 { us } else { (old * 7 + us) / 8 };
        let mut st = self.lock();
        match role {
            NodeRole::Master => st.master_latency_us = smooth(st.master_latency_us),
            NodeRole::Replica => {
                if let Some(r) = st.replicas.get_mut(addr) {
                    r.latency_us = smooth(r.latency_us);
                }
            }
        }
    }

    /// Runs commands on a node: `Err` only when the call's deadline passes; `Ok(Err((error, stale)))`: `stale` means a pooled connection broke before any
    /// reply, which a reconfiguration's CLIENT KILL also causes, so the node itself is not to blame yet.
    async fn run_on(
        &self,
        addr: &str,
        role: NodeRole,
        request: &Request,
        deadline: Instant,
    ) -> Result<std::result::Result<Vec<Reply>, (Error, bool)>> {
        let opened = match self.pooled(addr) {
            Pooled::Live(m) => Ok((m, true)),
            Pooled::Ended => Err((Error::Io(format!("{addr}: connection closed")), true)),
            Pooled::None => within(deadline, self.open_shared(addr, role, deadline)).await??,
        };
        let (mux, pooled) = match opened {
            Ok(found) => found,
            Err((e, stale)) => {
                if stale {
                    self.forget_sticky(addr);
                }
                return Ok(Err((e, stale)));
            }
        };
        let t0 = Instant::now();
        let call = mux.call(request.bytes.clone(), request.count);
        let outcome = if t0 + self.cfg.command_timeout < deadline {
            call.await
        } else {
            within(deadline, call).await?
        };
        match outcome {
            Ok(replies) => {
                self.record_latency(addr, t0.elapsed(), role);
                Ok(Ok(replies))
            }
            Err(Failure { error, behind_timeout }) => {
                // A read failed only because another timed out before it is no verdict on the replica.
                let stale = (pooled && surely_not_executed(&error)) || (behind_timeout && role == NodeRole::Replica);
                if mux.is_closed() {
                    self.unpool(&mux);
                }
                if stale {
                    self.forget_sticky(addr);
                }
                Ok(Err((error, stale)))
            }
        }
    }

    pub(crate) fn eject(&self, addr: &str, reason: &str) {
        let mut st = self.lock();
        let (base, max) = (self.cfg.eject_base, self.cfg.eject_max);
        let Some(r) = st.replicas.get_mut(addr) else { return };
        r.backoff = if r.backoff.is_zero() {
            base
        } else {
            (r.backoff * 2).min(max)
        };
        let backoff = r.backoff;
        r.ejected_until = Some(Instant::now() + backoff);
        st.pools.remove(addr);
        st.router.forget(addr);
        drop(st);
        self.emit(EventKind::ReplicaEjected {
            addr: addr.into(),
            reason: reason.into(),
            backoff,
        });
    }

    /// Trusts an ejected replica again after it answered (a probe or a last-resort read). Returns whether the
    /// replica is still known.
    fn restore(&self, key: &str) -> bool {
        let mut st = self.lock();
        let Some(r) = st.replicas.get_mut(key) else {
            return false;
        };
        if r.ejected_until.take().is_some() {
            drop(st);
            self.emit(EventKind::ReplicaRestored { addr: key.into() });
        }
        true
    }

    /// The ejected replica a `ReplicaOnly` read tries when no replica is usable: the one whose backoff ends first,
    /// at most once per `eject_base` across all calls, so a replica that is really gone costs one timeout per
    /// backoff step, not one per call. The new connection verifies ROLE as every connection does.
    fn last_resort_replica(&self, tried: &[String]) -> Option<String> {
        if self.cfg.read_policy != ReadPolicy::ReplicaOnly {
            return None;
        }
        let mut st = self.lock();
        let now = Instant::now();
        if st
            .last_resort_at
            .is_some_and(|t| now.duration_since(t) < self.cfg.eject_base)
        {
            return None;
        }
        let pick = st
            .replicas
            .iter()
            .filter(|(k, r)| r.ejected_until.is_some() && !tried.contains(k))
            .min_by_key(|(_, r)| r.ejected_until)
            .map(|(k, _)| k.clone())?;
        st.last_resort_at = Some(now);
        Some(pick)
    }

    /// Probes ejected replicas whose backoff has ended; a replica is trusted again only after answering as a
    /// replica.
    pub(crate) async fn probe_ejected(&self) {
        let due: Vec<(String, String, u16)> = {
            let st = self.lock();
            let now = Instant::now();
            st.replicas
                .iter()
                .filter(|(_, r)| r.ejected_until.is_some_and(|t| t <= now))
                .map(|(k, r)| (k.clone(), r.host.clone(), r.port))
                .collect()
        };
        for (key, host, port) in due {
            match Conn::open(&self.cfg, &host, port, NodeRole::Replica).await {
                Ok(conn) => {
                    if self.restore(&key) {
                        self.install(Mux::start(conn, self.limits()));
                    }
                }
                Err(e) => self.eject(&key, e.kind()),
            }
        }
    }

    /// Routes one call (a command or a pipeline) through the policy, with retries on other nodes.
    ///
    /// Every wait is bounded by `deadline`. The common case, a request on a live pooled connection whose own
    /// command timeout ends first, arms no timer of its own: the connection's timer covers it.
    async fn route(
        &self,
        request: Request,
        read: bool,
        idempotent: bool,
        deadline: Instant,
    ) -> Result<(Vec<Reply>, String)> {
        if self.lock().master.is_none() {
            within(deadline, self.discover_if_unknown()).await??;
        }
        // Whether a read goes to the master once no replica is left.
        let may_fall_back = matches!(self.cfg.read_policy, ReadPolicy::ReplicaPreferred | ReadPolicy::Nearest);
        #[cfg(feature = "mutants")]
        let may_fall_back = may_fall_back || self.cfg.mutant == Some(Mutant::FallBackToMaster);
        let mut tried: Vec<String> = Vec::new();
        let mut stale: Vec<String> = Vec::new();
        let mut attempt = 0;
        loop {
            attempt += 1;
            let target = if self.goes_to_master(read) {
                Target::Master
            } else {
                match self.choose_replica_avoiding(&tried, &stale) {
                    Some(r) => Target::Replica(r),
                    None => {
                        // Perhaps Sentinel knows better: ask once, then decide.
                        if within(deadline, self.rediscover()).await?.is_ok()
                            && let Some(r) = self.choose_replica_avoiding(&tried, &stale)
                        {
                            Target::Replica(r)
                        } else if let Some(r) = self.last_resort_replica(&tried) {
                            self.emit(EventKind::LastResort { addr: r.clone() });
                            Target::Replica(r)
                        } else if may_fall_back {
                            self.emit(EventKind::FellBackToMaster);
                            Target::Master
                        } else {
                            return Err(Error::NoReplicaAvailable);
                        }
                    }
                }
            };
            let (addr, role) = match &target {
                Target::Replica(a) => (a.clone(), NodeRole::Replica),
                Target::Master => {
                    let Some(key) = self.lock().master_key.clone() else {
                        return Err(Error::MasterUnavailable("unknown".into()));
                    };
                    (key, NodeRole::Master)
                }
            };
            if role == NodeRole::Replica {
                self.emit(EventKind::ReplicaChosen { addr: addr.clone() });
            }
            let mut was_stale = false;
            let failure = match self.run_on(&addr, role, &request, deadline).await? {
                Ok(replies) => {
                    let refusal = replies.iter().find_map(|r| match r {
                        Reply::Error(e) if ["LOADING", "MASTERDOWN", "READONLY"].iter().any(|p| e.starts_with(p)) => {
                            Some(e.split(' ').next().unwrap_or("ERR").to_string())
                        }
                        _ => None,
                    });
                    match refusal {
                        // The node refused before executing: another node may serve it.
                        Some(code) => Error::Server(code),
                        None => {
                            if role == NodeRole::Replica {
                                self.restore(&addr);
                            }
                            return Ok((replies, addr));
                        }
                    }
                }
                Err((e, s)) => {
                    was_stale = s;
                    e
                }
            };
            let reason = failure.kind().to_string();
            match role {
                #[cfg(feature = "mutants")]
                NodeRole::Replica if self.cfg.mutant == Some(Mutant::NoEjection) => return Err(failure),
                // A naive client: a timed-out replica is just "slow", keep it and its connection.
                #[cfg(feature = "mutants")]
                NodeRole::Replica
                    if self.cfg.mutant == Some(Mutant::KeepTimedOutConnection)
                        && matches!(&failure, Error::Io(m) if m.contains("timed out")) =>
                {
                    return Err(failure);
                }
                NodeRole::Replica if was_stale => stale.push(addr.clone()),
                NodeRole::Replica => {
                    self.eject(&addr, &reason);
                    tried.push(addr.clone());
                    if matches!(failure, Error::RoleMismatch { .. }) {
                        let _ = within(deadline, self.rediscover()).await?;
                    }
                }
                NodeRole::Master if was_stale => {}
                NodeRole::Master => {
                    let retryable = idempotent || surely_not_executed(&failure) || matches!(failure, Error::Server(_));
                    let _ = within(deadline, self.rediscover()).await?;
                    if !retryable {
                        return Err(match failure {
                            Error::Io(e) => Error::MasterUnavailable(e),
                            other => other,
                        });
                    }
                    // Give Sentinel time to fail over before asking again.
                    let pause = Instant::now() + self.cfg.command_timeout.min(Duration::from_millis(100));
                    if pause >= deadline {
                        return Err(Error::DeadlineExceeded);
                    }
                    tokio::time::sleep_until(pause).await;
                }
            }
            if attempt > self.cfg.max_retries {
                return Err(match failure {
                    Error::Io(e) if role == NodeRole::Master => Error::MasterUnavailable(e),
                    Error::Io(_) | Error::RoleMismatch { .. } if role == NodeRole::Replica => Error::NoReplicaAvailable,
                    other => other,
                });
            }
            self.emit(EventKind::Retry {
                from: addr,
                reason,
                attempt,
            });
        }
    }
}

impl Client {
    /// A builder.
    pub fn builder() -> ClientBuilder {
        ClientBuilder::default()
    }

    pub(crate) fn start(cfg: ClientConfig) -> Client {
        let sentinels = cfg
            .sentinels
            .iter()
            .map(|(h, p)| SentinelEntry {
                host: h.clone(),
                port: *p,
                seed: true,
                failures: 0,
            })
            .collect();
        let (events, _) = broadcast::channel(EVENT_CAPACITY);
        let inner = Arc::new(Inner {
            state: Mutex::new(State {
                sentinels,
                master: None,
                master_key: None,
                master_moved: Arc::default(),
                replicas: BTreeMap::new(),
                router: Router::new(cfg.read_policy, cfg.replica_selection, cfg.seed),
                pools: BTreeMap::new(),
                opening: BTreeMap::new(),
                master_latency_us: 0,
                last_discovery: None,
                master_switched_at: None,
                last_resort_at: None,
            }),
            cfg,
            events,
            started: Instant::now(),
            cancel: CancellationToken::new(),
            discovering: tokio::sync::Mutex::new(()),
        });
        crate::watcher::spawn(&inner);
        Client { inner }
    }

    /// A stream of routing events (a bounded broadcast: a subscriber that falls behind loses the oldest).
    pub fn events(&self) -> broadcast::Receiver<RoutingEvent> {
        self.inner.events.subscribe()
    }

    /// Asks Sentinels for the topology now (it is also done on first use, on failures and periodically).
    pub async fn discover(&self) -> Result<()> {
        self.inner.discover().await
    }

    /// The master's address as last known.
    pub fn master_addr(&self) -> Option<String> {
        self.inner.lock().master.as_ref().map(|(h, p)| format!("{h}:{p}"))
    }

    /// Replicas currently usable for reads.
    pub fn usable_replicas(&self) -> Vec<String> {
        Inner::usable_replicas(&self.inner.lock())
    }

    async fn call(&self, request: Request, read: bool, idempotent: bool) -> Result<(Vec<Reply>, String)> {
        let deadline = Instant::now() + self.inner.cfg.call_deadline;
        self.inner.route(request, read, idempotent, deadline).await
    }

    /// Runs any command. Reads (by Redis's command flags) follow the read policy; everything else goes to the
    /// master and is not retried after an ambiguous failure (see [`Client::command_idempotent`]). An error reply
    /// comes back as `Err(Error::Server)`.
    pub async fn command(&self, args: &[&str]) -> Result<Reply> {
        self.command_inner(args, false).await
    }

    /// Like [`Client::command`], but the caller promises the command may safely run twice, so it is retried
    /// even after a timeout that may have executed it.
    pub async fn command_idempotent(&self, args: &[&str]) -> Result<Reply> {
        self.command_inner(args, true).await
    }

    async fn command_inner(&self, args: &[&str], idempotent: bool) -> Result<Reply> {
        self.command_routed_inner(args, idempotent).await.map(|(r, _)| r)
    }

    /// Like [`Client::command`], also returning the address (`ip:port`) of the node that answered: how the
    /// `rw_split` example shows routing.
    pub async fn command_routed(&self, args: &[&str]) -> Result<(Reply, String)> {
        self.command_routed_inner(args, false).await
    }

    async fn command_routed_inner(&self, args: &[&str], idempotent: bool) -> Result<(Reply, String)> {
        let Some(name) = args.first() else {
            return Err(Error::Config("empty command".into()));
        };
        let read = is_read_only(name);
        let (mut replies, addr) = self.call(Request::one(args), read, idempotent || read).await?;
        match replies.pop() {
            Some(Reply::Error(e)) => Err(Error::Server(e)),
            Some(r) => Ok((r, addr)),
            None => Err(Error::Protocol("no reply".into())),
        }
    }

    /// A pipeline: commands sent together on one connection, routed as a unit (to a replica only if every
    /// command only reads).
    pub fn pipeline(&self) -> crate::pipeline::Pipeline {
        crate::pipeline::Pipeline::new(self.clone(), false)
    }

    /// A transaction: MULTI, the commands, EXEC, on the master.
    pub fn transaction(&self) -> crate::pipeline::Pipeline {
        crate::pipeline::Pipeline::new(self.clone(), true)
    }

    /// One command with binary arguments, routed as [`Client::command`] routes it. Unlike `command`, an error
    /// reply comes back as `Ok(Reply::Error)`: the caller (the redis-rs adapter) classifies it by its own rules,
    /// and `Err` is left for what went wrong on the way (no replica, a dead master, a deadline).
    #[cfg_attr(not(feature = "redis-rs"), allow(dead_code))]
    pub(crate) async fn command_bytes(&self, args: Vec<Bytes>) -> Result<Reply> {
        let Some(name) = args.first() else {
            return Err(Error::Config("empty command".into()));
        };
        let read = is_read_only_bytes(name);
        let (mut replies, _) = self.call(Request::one(&args), read, read).await?;
        replies.pop().ok_or_else(|| Error::Protocol("no reply".into()))
    }

    pub(crate) async fn run_pipeline(&self, cmds: Vec<Vec<Bytes>>, transaction: bool) -> Result<Vec<Reply>> {
        let mut replies = self.run_pipeline_raw(&cmds, transaction).await?;
        if !transaction {
            return Ok(replies);
        }
        match replies.pop() {
            Some(Reply::Array(items)) => Ok(items),
            Some(Reply::Error(e)) => Err(Error::Server(e)),
            Some(Reply::Nil | Reply::NilArray) => Err(Error::Server("EXECABORT transaction aborted".into())),
            other => Err(Error::Protocol(format!("unexpected EXEC reply {other:?}"))),
        }
    }

    /// Every reply a pipeline produces, in wire order: one per command, and for a transaction MULTI's `+OK`, one
    /// `+QUEUED` (or a queueing error) per command, then EXEC's. Callers that need more than EXEC's array (redis-rs
    /// asks for replies by offset and count, and reports queueing errors) read them here.
    ///
    /// A pipeline of reads only follows the read policy; anything else, and every transaction, goes to the
    /// master. Only reads are retried after an ambiguous failure.
    pub(crate) async fn run_pipeline_raw(&self, cmds: &[Vec<Bytes>], transaction: bool) -> Result<Vec<Reply>> {
        if transaction {
            let (multi, exec) = (vec![Bytes::from_static(b"MULTI")], vec![Bytes::from_static(b"EXEC")]);
            let all = Request::many(std::iter::once(&multi).chain(cmds).chain(std::iter::once(&exec)));
            return self.call(all, false, false).await.map(|(r, _)| r);
        }
        let read = cmds.iter().all(|c| c.first().is_some_and(|n| is_read_only_bytes(n)));
        self.call(Request::many(cmds), read, read).await.map(|(r, _)| r)
    }
}
