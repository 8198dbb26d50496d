//! The directory: which actor serves which stream. Actors are spawned on
//! first use (round-robin over the runtime's arbiters) and forgotten when
//! they are the least recently used beyond `max_live`, or idle longer than
//! `idle_timeout`. A forgotten actor stops once its last address is dropped
//! (after finishing the commands in flight), so memory stays bounded however
//! many cards exist. If a forgotten actor is still finishing a command when a
//! new one is spawned for the same stream, the expected versions of the log
//! keep them consistent (one of them retries).

use std::any::Any;
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use actix::{Actor, Addr, Recipient};
use actix_rt::ArbiterHandle;
use encore_ledger::StreamId;

use crate::error::RuntimeError;
use crate::shared::Shared;
use crate::shell::{Applied, MarkStale, StreamActor};
use crate::state::StreamState;

/// Counts of actors, for tests, benchmarks and operators.
#[derive(Debug, Default)]
pub struct DirectoryStats {
    started: AtomicU64,
    stopped: AtomicU64,
    evicted: AtomicU64,
}

impl DirectoryStats {
    pub(crate) fn started(&self) {
        self.started.fetch_add(1, Ordering::SeqCst);
    }
    pub(crate) fn stopped(&self) {
        self.stopped.fetch_add(1, Ordering::SeqCst);
    }
    /// Actors started so far.
    pub fn total_started(&self) -> u64 {
        self.started.load(Ordering::SeqCst)
    }
    /// Actors evicted from the directory so far.
    pub fn total_evicted(&self) -> u64 {
        self.evicted.load(Ordering::SeqCst)
    }
    /// Actors running right now (started and not yet stopped).
    pub fn running(&self) -> u64 {
        self.started.load(Ordering::SeqCst).saturating_sub(self.stopped.load(Ordering::SeqCst))
    }
}

struct Entry {
    /// An `Addr<StreamActor<S>>` for the stream's state type.
    addr: Box<dyn Any + Send>,
    applied: Recipient<Applied>,
    stale: Recipient<MarkStale>,
    tick: u64,
    last_used: Instant,
}

#[derive(Default)]
struct Lru {
    entries: HashMap<String, Entry>,
    /// tick -> stream, oldest first.
    order: BTreeMap<u64, String>,
    next_tick: u64,
    closed: bool,
}

impl Lru {
    fn touch(&mut self, stream: &str) {
        let tick = self.next_tick;
        self.next_tick += 1;
        if let Some(entry) = self.entries.get_mut(stream) {
            // The order's own copy of the name moves to the new tick.
            let name = self.order.remove(&entry.tick).unwrap_or_else(|| stream.to_string());
            entry.tick = tick;
            entry.last_used = Instant::now();
            self.order.insert(tick, name);
        }
    }

    /// Forgets entries beyond `max_live` (oldest first) and entries idle past `idle`; returns how many.
    fn evict(&mut self, max_live: usize, idle: Duration) -> u64 {
        let now = Instant::now();
        let mut evicted = 0;
        while let Some((&tick, stream)) = self.order.iter().next() {
            let over = self.entries.len() > max_live;
            let idle_too_long = self.entries.get(stream).is_some_and(|e| now.duration_since(e.last_used) > idle);
            if !over && !idle_too_long {
                break;
            }
            let stream = stream.clone();
            self.order.remove(&tick);
            self.entries.remove(&stream);
            evicted += 1;
        }
        evicted
    }
}

/// Spawns, finds and forgets stream actors.
pub struct Directory {
    arbiters: Vec<ArbiterHandle>,
    next_arbiter: AtomicUsize,
    lru: Mutex<Lru>,
    max_live: usize,
    idle_timeout: Duration,
    pub stats: DirectoryStats,
}

impl Directory {
    pub fn new(arbiters: Vec<ArbiterHandle>, max_live: usize, idle_timeout: Duration) -> Self {
        assert!(!arbiters.is_empty(), "the directory needs at least one arbiter");
        assert!(max_live > 0, "max_live must be at least 1");
        Directory { arbiters, next_arbiter: AtomicUsize::new(0), lru: Mutex::new(Lru::default()), max_live, idle_timeout, stats: DirectoryStats::default() }
    }

    fn lock(&self) -> MutexGuard<'_, Lru> {
        // A panic while holding this lock aborts the process (panic = "abort"),
        // so a poisoned lock only happens in tests; the map is still consistent.
        self.lru.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The actor of `stream`, spawned if it is not live.
    pub fn actor<S: StreamState>(&self, stream: &str, shared: &Arc<Shared>) -> Result<Addr<StreamActor<S>>, RuntimeError> {
        let mut lru = self.lock();
        if lru.closed {
            return Err(RuntimeError::ShutDown);
        }
        if let Some(entry) = lru.entries.get(stream) {
            let addr = entry
                .addr
                .downcast_ref::<Addr<StreamActor<S>>>()
                .cloned()
                .ok_or_else(|| RuntimeError::WrongActorKind { stream: stream.to_string(), wanted: <S as StreamState>::KIND })?;
            if addr.connected() {
                lru.touch(stream);
                return Ok(addr);
            }
        }
        let id = StreamId::new(stream)?;
        let arbiter = &self.arbiters[self.next_arbiter.fetch_add(1, Ordering::Relaxed) % self.arbiters.len()];
        let actor_shared = shared.clone();
        let addr = StreamActor::<S>::start_in_arbiter(arbiter, move |_| StreamActor::new(id, actor_shared));
        let tick = lru.next_tick;
        lru.next_tick += 1;
        let entry = Entry { addr: Box::new(addr.clone()), applied: addr.clone().recipient(), stale: addr.clone().recipient(), tick, last_used: Instant::now() };
        if let Some(old) = lru.entries.insert(stream.to_string(), entry) {
            lru.order.remove(&old.tick);
        }
        lru.order.insert(tick, stream.to_string());
        let evicted = lru.evict(self.max_live, self.idle_timeout);
        self.stats.evicted.fetch_add(evicted, Ordering::SeqCst);
        Ok(addr)
    }

    /// Where to push events appended to `stream`, if its actor is live.
    pub(crate) fn applied_recipient(&self, stream: &str) -> Option<Recipient<Applied>> {
        self.lock().entries.get(stream).map(|e| e.applied.clone())
    }

    pub(crate) fn stale_recipient(&self, stream: &str) -> Option<Recipient<MarkStale>> {
        self.lock().entries.get(stream).map(|e| e.stale.clone())
    }

    /// Forgets actors idle past the timeout (also done on every spawn).
    pub fn sweep(&self) -> u64 {
        let evicted = self.lock().evict(self.max_live, self.idle_timeout);
        self.stats.evicted.fetch_add(evicted, Ordering::SeqCst);
        evicted
    }

    /// Actors the directory knows (at most `max_live` after each spawn).
    pub fn live(&self) -> usize {
        self.lock().entries.len()
    }

    /// Forgets every actor and refuses new ones (shutdown).
    pub(crate) fn close(&self) {
        let mut lru = self.lock();
        lru.closed = true;
        lru.entries.clear();
        lru.order.clear();
    }
}
