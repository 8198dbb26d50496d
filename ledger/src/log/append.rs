//! Appending: validation at the API edge, then a two-stage group-commit
//! pipeline: a writer thread and a syncer thread.
//!
//! Callers validate their append on their own thread (cheap, stateless), then
//! queue it. The writer takes everything queued, checks each append against
//! the log as written so far (idempotent retries, expected versions, the
//! clock), chains the accepted records and writes them in one RocksDB
//! `WriteBatch`, without waiting for the disk. It hands the group to the
//! syncer and goes on with the next group while the syncer makes everything
//! written so far durable with one WAL sync, then publishes the new head and
//! acknowledges, in order. So the CPU work of group N+1 overlaps the fsync of
//! group N, and one sync covers every group written while the previous one ran.
//! When nothing is in flight and the group is small or alone, the writer syncs
//! it itself: with few callers, overlapping only splits syncs.
//!
//! Nothing is acknowledged, and no reader sees a record (reads stop at the
//! published head), before the sync that covers it succeeds and the head it
//! reaches is recorded in the acknowledged watermark (`watermark.rs`). A failed write
//! or sync poisons the log: the groups in flight and every later append are
//! refused.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::sync::Arc;
use std::thread::JoinHandle;

// foldhash, not SipHash, for the maps of event ids and stream ids the writer
// keeps: hashing and map inserts were a tenth of its samples (docs/BENCHMARKS.md,
// "Session 13"); foldhash's maps are still randomly seeded.
use foldhash::{HashMap, HashMapExt, HashSet, HashSetExt};
use rocksdb::{WriteBatch, WriteOptions};
use tokio::sync::oneshot;

use super::keys::*;
use super::tail::IndexTail;
use super::{Ledger, Store};
use crate::error::AppendError;
use crate::limits::*;
use crate::record::{Record, RecordRef};
use crate::types::{validate_event_type, Appended, EventId, Head, NewEvent, StreamAppend, StreamId, StreamRange};

type Reply = oneshot::Sender<Answer>;

struct Request {
    appends: Vec<StreamAppend>,
    reply: Reply,
}

/// An append's outcome, with its events handed back so they are freed on
/// the caller's thread, which allocated them (the writer thread only
/// borrows them: no copy, and no cross-thread frees on its clock).
struct Answer {
    result: Result<Appended, AppendError>,
    appends: Vec<StreamAppend>,
}

impl Answer {
    /// The outcome; the events are dropped here, on the caller's thread.
    fn into_result(self) -> Result<Appended, AppendError> {
        drop(self.appends);
        self.result
    }
}

impl Request {
    fn answer(self, result: Result<Appended, AppendError>) {
        // A caller that stopped waiting has nothing left to tell.
        let _ = self.reply.send(Answer { result, appends: self.appends });
    }
}

impl Ledger {
    /// Appends events to one or several streams atomically and returns once
    /// they are durable (WAL synced). Blocks the calling thread: from async
    /// code use [`Ledger::append_async`].
    pub fn append(&self, appends: Vec<StreamAppend>) -> Result<Appended, AppendError> {
        let rx = self.enqueue(appends, Wait::Block)?;
        rx.blocking_recv().map_err(|_| AppendError::Closed)?.into_result()
    }

    /// [`Ledger::append`] for async callers: the RocksDB write happens on the
    /// writer thread, so awaiting this never blocks an executor thread
    /// (except for a moment when the queue is full: back-pressure).
    pub async fn append_async(&self, appends: Vec<StreamAppend>) -> Result<Appended, AppendError> {
        let rx = self.enqueue(appends, Wait::Yield)?;
        rx.await.map_err(|_| AppendError::Closed)?.into_result()
    }

    /// Appends to a single stream.
    pub fn append_to(&self, stream: StreamId, expected: crate::ExpectedVersion, events: Vec<NewEvent>) -> Result<Appended, AppendError> {
        self.append(vec![StreamAppend { stream, expected, events }])
    }

    fn enqueue(&self, appends: Vec<StreamAppend>, wait: Wait) -> Result<oneshot::Receiver<Answer>, AppendError> {
        validate(&appends)?;
        let store = self.store();
        if store.read_only {
            return Err(AppendError::ReadOnly);
        }
        if let Some(cause) = store.poison.cause() {
            return Err(AppendError::Poisoned { cause });
        }
        let sender = super::lock(&self.inner.writer).as_ref().map(|w| w.sender.clone()).ok_or(AppendError::Closed)?;
        let (reply, rx) = oneshot::channel();
        let mut request = Request { appends, reply };
        if wait == Wait::Block {
            return sender.send(request).map(|()| rx).map_err(|_| AppendError::Closed);
        }
        loop {
            match sender.try_send(request) {
                Ok(()) => return Ok(rx),
                Err(TrySendError::Full(r)) => {
                    request = r;
                    std::thread::yield_now();
                }
                Err(TrySendError::Disconnected(_)) => return Err(AppendError::Closed),
            }
        }
    }
}

/// How a caller waits for room when the writer's queue is full: a thread may
/// block; an async task yields its thread briefly instead (back-pressure
/// without parking an executor thread on a channel).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Wait {
    Block,
    Yield,
}

/// Stateless checks: everything that can be refused without looking at the log.
pub(crate) fn validate(appends: &[StreamAppend]) -> Result<(), AppendError> {
    let count: usize = appends.iter().map(|a| a.events.len()).sum();
    if count == 0 {
        return Err(AppendError::EmptyAppend);
    }
    if count > MAX_EVENTS_PER_APPEND {
        return Err(AppendError::TooManyEvents { count, limit: MAX_EVENTS_PER_APPEND });
    }
    let size: usize = appends.iter().flat_map(|a| &a.events).map(|e| e.payload.len()).sum();
    if size > MAX_APPEND_BYTES {
        return Err(AppendError::AppendTooLarge { size, limit: MAX_APPEND_BYTES });
    }
    let mut streams = HashSet::with_capacity(appends.len());
    let mut ids = HashSet::with_capacity(count);
    let mut previous_time = i64::MIN;
    for append in appends {
        if append.events.is_empty() {
            return Err(AppendError::EmptyStream { stream: append.stream.clone() });
        }
        if !streams.insert(&append.stream) {
            return Err(AppendError::DuplicateStream { stream: append.stream.clone() });
        }
        for event in &append.events {
            validate_event(event, &mut ids, previous_time)?;
            previous_time = event.recorded_at;
        }
    }
    Ok(())
}

fn validate_event(event: &NewEvent, ids: &mut HashSet<EventId>, previous_time: i64) -> Result<(), AppendError> {
    if !validate_event_type(&event.event_type) {
        return Err(AppendError::BadEventType { event_id: event.event_id, event_type: event.event_type.clone() });
    }
    if event.payload.len() > MAX_PAYLOAD_BYTES {
        return Err(AppendError::PayloadTooLarge { event_id: event.event_id, size: event.payload.len(), limit: MAX_PAYLOAD_BYTES });
    }
    if !ids.insert(event.event_id) {
        return Err(AppendError::DuplicateEventId { event_id: event.event_id });
    }
    if event.recorded_at < previous_time {
        return Err(AppendError::ClockWentBackwards { event_id: event.event_id, recorded_at: event.recorded_at, previous: previous_time });
    }
    Ok(())
}

fn spawn_named(name: &str, body: impl FnOnce() + Send + 'static) -> JoinHandle<()> {
    std::thread::Builder::new().name(name.into()).spawn(body).unwrap_or_else(|e| panic!("cannot start the {name} thread: {e}"))
}

/// Groups that wrote fewer records are synced by the writer itself when
/// nothing is in flight (see `Writer::hand_over`).
/// Measured (ledger bench, 8 and 64 writers of one event): 16 keeps 8 writers
/// at the one-stage figure (about 7 appends per sync instead of 4) and 64
/// writers at the pipelined one.
const PIPELINE_FROM_RECORDS: usize = 16;

/// Groups written and waiting for their sync before the writer waits too.
const MAX_GROUPS_IN_FLIGHT: usize = 64;

/// The writer thread's handle: its queue and its join handle (the writer
/// joins the syncer when it ends).
pub(crate) struct WriterHandle {
    sender: SyncSender<Request>,
    thread: JoinHandle<()>,
}

impl WriterHandle {
    pub(crate) fn spawn(store: Arc<Store>, queue_depth: usize, tail: IndexTail) -> Self {
        let (sender, receiver) = sync_channel(queue_depth.max(1));
        let (to_syncer, written) = sync_channel(MAX_GROUPS_IN_FLIGHT);
        let in_flight = Arc::new(AtomicUsize::new(0));
        let syncer = Syncer { store: store.clone(), in_flight: in_flight.clone() };
        let syncer = spawn_named("encore-ledger-syncer", move || syncer.run(written));
        let head = store.watch.get();
        let writer = Writer { store, head, versions: VersionCache::default(), tail, syncer: to_syncer, in_flight };
        let thread = spawn_named("encore-ledger-writer", move || {
            writer.run(receiver);
            if syncer.join().is_err() {
                tracing::error!("the ledger syncer thread panicked");
            }
        });
        WriterHandle { sender, thread }
    }

    /// Closes the queue and waits for the writer and the syncer to finish
    /// what they hold.
    pub(crate) fn shut_down(self) {
        drop(self.sender);
        if self.thread.join().is_err() {
            tracing::error!("the ledger writer thread panicked");
        }
    }
}

struct Writer {
    store: Arc<Store>,
    /// The head of the log as written (possibly not yet synced).
    head: Head,
    /// Stream versions as written (possibly not yet synced).
    versions: VersionCache,
    /// Event ids and stream heads not yet in their column families.
    tail: IndexTail,
    /// Written groups, on their way to their sync and acknowledgement.
    syncer: SyncSender<Written>,
    /// Groups handed to the syncer and not yet acknowledged.
    in_flight: Arc<AtomicUsize>,
}

/// Stream versions as this writer has read or written them. The writer thread
/// is the only writer of the log, so a version it wrote or read stays true
/// until it writes again (or the log is poisoned, and nothing is written
/// again); the cache is cleared wholesale when it grows past its bound.
#[derive(Default)]
struct VersionCache(HashMap<StreamId, u64>);

const VERSION_CACHE_ENTRIES: usize = 1 << 20;

impl VersionCache {
    fn get(&self, stream: &StreamId) -> Option<u64> {
        self.0.get(stream).copied()
    }

    fn insert(&mut self, stream: StreamId, version: u64) {
        if self.0.len() >= VERSION_CACHE_ENTRIES && !self.0.contains_key(&stream) {
            self.0.clear();
        }
        self.0.insert(stream, version);
    }
}

impl Writer {
    fn run(mut self, receiver: Receiver<Request>) {
        let mut next = None;
        loop {
            let first = match next.take() {
                Some(request) => request,
                None => match receiver.recv() {
                    Ok(request) => request,
                    Err(_) => return self.close(),
                },
            };
            let mut group = vec![first];
            while group.len() < MAX_GROUP_APPENDS {
                match receiver.try_recv() {
                    Ok(request) => group.push(request),
                    Err(_) => break,
                }
            }
            if let Some(written) = self.commit_group(group) {
                next = receiver.try_recv().ok();
                self.hand_over(written, next.is_some());
            }
        }
    }

    /// Sends a written group to the syncer, so the next group can be staged
    /// while it syncs; or, with nothing in flight, syncs it right here when
    /// overlapping would not pay: nothing else is waiting (a lone writer: one
    /// thread hop less), or the group wrote few records (little CPU to
    /// overlap; the callers waiting make a fuller next group than a sync
    /// started at once would carry).
    fn hand_over(&mut self, written: Written, more_waiting: bool) {
        let small = written.records < PIPELINE_FROM_RECORDS;
        if (!more_waiting || small) && self.in_flight.load(Ordering::SeqCst) == 0 {
            return sync_and_acknowledge(&self.store, vec![written]);
        }
        self.in_flight.fetch_add(1, Ordering::SeqCst);
        if self.syncer.send(written).is_err() {
            panic!("the ledger syncer thread is gone while the writer runs");
        }
    }

    /// Stages and writes one group; returns it for its sync, or `None` when
    /// every append in it was refused already (and answered).
    fn commit_group(&mut self, group: Vec<Request>) -> Option<Written> {
        if let Some(cause) = self.store.poison.cause() {
            refuse_all(group, &AppendError::Poisoned { cause });
            return None;
        }
        let mut staged = Staged::new(self.store.clone(), self.head);
        if let Err(e) = staged.prefetch(&mut self.versions, &self.tail, &group) {
            refuse_all(group, &e);
            return None;
        }
        let results: Vec<_> = group.iter().map(|r| staged.stage(&self.versions, &r.appends)).collect();
        let records = staged.ends.len();
        if records > 0 {
            if let Err(cause) = self.write(staged.batch) {
                self.store.poison.set(cause.clone());
                refuse_all(group, &AppendError::WriteFailed { cause });
                return None;
            }
        }
        self.head = staged.head;
        for (id, i) in staged.ids.drain() {
            self.tail.add_id(id, staged.first_position + i as u64);
        }
        for (stream, version) in staged.versions.drain() {
            self.tail.add_head(stream.clone(), version);
            self.versions.insert(stream, version);
        }
        if self.tail.due() {
            if let Err(cause) = self.write_tail(false) {
                self.store.poison.set(cause);
            }
        }
        let replies = group.into_iter().zip(results).collect();
        // Even a group that wrote nothing waits for the sync: its retries may
        // name records of earlier groups that are written but not yet durable.
        Some(Written { head: self.head, records, replies })
    }

    /// Writes the group's batch without waiting for the disk: the syncer
    /// makes it durable before anyone is told.
    fn write(&self, batch: WriteBatch) -> Result<(), String> {
        let mut options = WriteOptions::default();
        options.set_sync(false);
        self.store.db.write_opt(batch, &options).map_err(|e| e.into_string())
    }

    /// Writes the index tail through the head as written. Unsynced unless
    /// `sync`: the next WAL sync covers it, and the records it indexes are
    /// in the WAL before it, so a crash loses it only with them or leaves
    /// it to be redone from them on the next open.
    fn write_tail(&mut self, sync: bool) -> Result<(), String> {
        let batch = self.tail.batch(&Cfs::of(&self.store), self.head.position);
        let mut options = WriteOptions::default();
        options.set_sync(sync);
        self.store.db.write_opt(batch, &options).map_err(|e| e.into_string())?;
        self.tail.written(self.head.position);
        Ok(())
    }

    /// The queue closed: writes the index tail, so the next open has no
    /// records to index again. A failure here loses nothing.
    fn close(mut self) {
        if self.store.poison.cause().is_some() || self.tail.records() == 0 {
            return;
        }
        if let Err(e) = self.write_tail(true) {
            tracing::warn!(error = %e, "writing the index tail on close failed; the next open indexes those records again");
        }
    }
}

fn refuse_all(group: Vec<Request>, error: &AppendError) {
    for request in group {
        request.answer(Err(error.clone()));
    }
}

/// A group the writer wrote: the head after it, and each append's outcome.
struct Written {
    head: Head,
    /// Records written (0 when every append was refused or a retry).
    records: usize,
    replies: Vec<(Request, Result<Appended, AppendError>)>,
}

/// The second stage: makes written groups durable and acknowledges them.
struct Syncer {
    store: Arc<Store>,
    in_flight: Arc<AtomicUsize>,
}

impl Syncer {
    fn run(self, written: Receiver<Written>) {
        while let Ok(first) = written.recv() {
            let mut groups = vec![first];
            while let Ok(next) = written.try_recv() {
                groups.push(next);
            }
            let count = groups.len();
            sync_and_acknowledge(&self.store, groups);
            self.in_flight.fetch_sub(count, Ordering::SeqCst);
        }
    }
}

/// One WAL sync covers every group written before it started; then the head
/// moves and the appends are answered in the order they were staged.
fn sync_and_acknowledge(store: &Store, groups: Vec<Written>) {
    let outcome = match store.poison.cause() {
        Some(cause) => Err(AppendError::Poisoned { cause }),
        None if groups.iter().any(|g| g.records > 0) => sync(store).map_err(|cause| {
            store.poison.set(cause.clone());
            AppendError::WriteFailed { cause }
        }),
        None => Ok(()),
    };
    let head = groups.last().map(|g| g.head);
    let outcome = match (outcome, head) {
        (Ok(()), Some(head)) if head.position != store.watch.get().position => record_acknowledged(store, head).map(|()| store.watch.publish(head)),
        (outcome, _) => outcome,
    };
    for (request, result) in groups.into_iter().flat_map(|g| g.replies) {
        // After a failed sync no outcome is known, refusals included: they
        // were decided against records that may now be lost.
        request.answer(outcome.clone().and(result));
    }
}

/// Writes the head about to be acknowledged to the watermark and syncs it:
/// from here on, an open that recovers less is refused. A failure poisons.
fn record_acknowledged(store: &Store, head: Head) -> Result<(), AppendError> {
    let mut watermark = super::lock(&store.watermark);
    let result = match watermark.as_mut() {
        Some(watermark) => watermark.advance(head),
        None => Err("the log has no watermark open for writing".to_string()),
    };
    result.map_err(|cause| {
        store.poison.set(cause.clone());
        AppendError::WriteFailed { cause }
    })
}

fn sync(store: &Store) -> Result<(), String> {
    if store.fail_next_write.swap(false, Ordering::SeqCst) {
        return Err("injected sync failure (test hook)".into());
    }
    store.db.flush_wal(true).map_err(|e| e.into_string())?;
    store.group_commits.fetch_add(1, Ordering::Relaxed);
    Ok(())
}

/// One group's tentative state: the head as if the staged records were
/// written, the streams and event ids they touch, and the batch.
struct Staged {
    store: Arc<Store>,
    head: Head,
    batch: WriteBatch,
    /// Versions of the streams this group wrote (not yet durable).
    versions: HashMap<StreamId, u64>,
    /// Event ids this group wrote, to their index in `ends`.
    ids: HashMap<EventId, usize>,
    /// Event ids of the group that were already in the log, and where.
    stored_ids: HashMap<EventId, u64>,
    /// The position of the group's first record.
    first_position: u64,
    /// The group's records, encoded back to back (one buffer per group, no
    /// copy of any event); record `i` ends at `ends[i]`.
    bytes: Vec<u8>,
    ends: Vec<usize>,
}

impl Staged {
    fn new(store: Arc<Store>, head: Head) -> Self {
        Staged {
            store,
            head,
            batch: WriteBatch::default(),
            versions: HashMap::new(),
            ids: HashMap::new(),
            stored_ids: HashMap::new(),
            first_position: head.position + 1,
            bytes: Vec::new(),
            ends: Vec::new(),
        }
    }

    /// Looks up every event id the group mentions and the version of every
    /// stream the cache lacks: in the index tail, then in two batched reads
    /// for the whole group.
    fn prefetch(&mut self, cache: &mut VersionCache, tail: &IndexTail, group: &[Request]) -> Result<(), AppendError> {
        let store = self.store.clone();
        let cfs = Cfs::of(&store);
        let storage = |e: rocksdb::Error| AppendError::Storage { cause: e.into_string() };
        let mut ids: Vec<EventId> = Vec::new();
        for id in group.iter().flat_map(|r| &r.appends).flat_map(|a| &a.events).map(|e| e.event_id) {
            match tail.position_of(&id) {
                Some(position) => {
                    self.stored_ids.insert(id, position);
                }
                None => ids.push(id),
            }
        }
        let found = store.db.batched_multi_get_cf(cfs.ids, ids.iter().map(|id| id.0.as_slice()), false);
        for (id, value) in ids.iter().zip(found) {
            if let Some(position) = value.map_err(storage)?.as_deref().and_then(parse_u64) {
                self.stored_ids.insert(*id, position);
            }
        }
        let mut missing: Vec<&StreamId> = Vec::new();
        for stream in group.iter().flat_map(|r| &r.appends).map(|a| &a.stream) {
            if cache.get(stream).is_some() {
                continue;
            }
            match tail.version_of(stream) {
                Some(version) => cache.insert(stream.clone(), version),
                None => missing.push(stream),
            }
        }
        missing.sort_unstable();
        missing.dedup();
        let found = store.db.batched_multi_get_cf(cfs.heads, missing.iter().map(|s| s.as_str().as_bytes()), false);
        for (stream, value) in missing.into_iter().zip(found) {
            let version = match value.map_err(storage)? {
                None => 0,
                Some(v) => parse_u64(&v).ok_or_else(|| AppendError::Storage { cause: format!("stream head of {stream} is not a version") })?,
            };
            cache.insert(stream.clone(), version);
        }
        Ok(())
    }

    /// Checks one append against the log as it would be after the appends
    /// staged before it, and stages it. A refused append stages nothing.
    fn stage(&mut self, cache: &VersionCache, appends: &[StreamAppend]) -> Result<Appended, AppendError> {
        let known = self.known_positions(appends);
        if known.iter().any(Option::is_some) {
            return self.resolve_retry(appends, &known);
        }
        let mut currents = Vec::with_capacity(appends.len());
        for append in appends {
            let current = self.current_version(cache, &append.stream)?;
            if !append.expected.admits(current) {
                return Err(AppendError::WrongExpectedVersion { stream: append.stream.clone(), expected: append.expected, actual: current });
            }
            currents.push(current);
        }
        let first = &appends[0].events[0];
        if first.recorded_at < self.head.recorded_at {
            return Err(AppendError::ClockWentBackwards { event_id: first.event_id, recorded_at: first.recorded_at, previous: self.head.recorded_at });
        }
        Ok(self.stage_records(appends, &currents))
    }

    fn stage_records(&mut self, appends: &[StreamAppend], currents: &[u64]) -> Appended {
        let store = self.store.clone();
        let cfs = Cfs::of(&store);
        let mut positions = Vec::new();
        let mut streams = Vec::with_capacity(appends.len());
        for (append, &current) in appends.iter().zip(currents) {
            let mut version = current;
            for event in &append.events {
                version += 1;
                let (position, encoded) = self.chain(&append.stream, version, event);
                self.batch.put_cf(cfs.records, position_key(position), &self.bytes[encoded]);
                self.batch.put_cf(cfs.index, stream_index_key(&append.stream, version), position_key(position));
                positions.push(position);
                self.ids.insert(event.event_id, self.ends.len() - 1);
            }
            self.versions.insert(append.stream.clone(), version);
            streams.push(StreamRange { stream: append.stream.clone(), first_version: current + 1, last_version: version });
        }
        Appended { positions, streams, deduplicated: false }
    }

    /// Encodes the next record in global order at the end of the group's
    /// buffer, moves the tentative head and returns the record's position
    /// and where its bytes are.
    fn chain(&mut self, stream: &StreamId, version: u64, event: &NewEvent) -> (u64, std::ops::Range<usize>) {
        let position = self.head.position + 1;
        assert_eq!(position, self.first_position + self.ends.len() as u64, "a group's records are consecutive");
        let mut record = RecordRef {
            position,
            stream: stream.as_str(),
            version,
            event_id: event.event_id,
            event_type: &event.event_type,
            recorded_at: event.recorded_at,
            correlation_id: event.correlation_id,
            causation_id: event.causation_id,
            payload: &event.payload,
            prev_hash: self.head.hash,
            hash: [0; 32],
        };
        let start = self.bytes.len();
        record.seal_into(&mut self.bytes);
        check_encoding(&record, &self.bytes[start..]);
        self.ends.push(self.bytes.len());
        self.head = Head { position, hash: record.hash, recorded_at: record.recorded_at };
        (position, start..self.bytes.len())
    }

    /// Where each event id of the append already is (staged or stored).
    fn known_positions(&self, appends: &[StreamAppend]) -> Vec<Option<u64>> {
        appends
            .iter()
            .flat_map(|a| &a.events)
            .map(|e| match self.ids.get(&e.event_id) {
                Some(&i) => Some(self.first_position + i as u64),
                None => self.stored_ids.get(&e.event_id).copied(),
            })
            .collect()
    }

    /// Every event already appended with the same content: return the
    /// original positions. Anything else is an error.
    fn resolve_retry(&self, appends: &[StreamAppend], known: &[Option<u64>]) -> Result<Appended, AppendError> {
        let events: Vec<(&StreamId, &NewEvent)> = appends.iter().flat_map(|a| a.events.iter().map(move |e| (&a.stream, e))).collect();
        let (first_known, first_position) = events.iter().zip(known).find_map(|((_, e), k)| k.map(|p| (e.event_id, p))).unwrap_or((EventId::NIL, 0));
        let mut positions = Vec::with_capacity(events.len());
        let mut ranges: Vec<StreamRange> = Vec::new();
        for ((stream, event), position) in events.iter().zip(known) {
            let Some(position) = *position else {
                return Err(AppendError::PartialRetry { appended: first_known, position: first_position, new: event.event_id });
            };
            let record = self.record_at(position)?;
            if !record.as_ref().same_event(stream, event) {
                return Err(AppendError::EventIdConflict { event_id: event.event_id, position });
            }
            positions.push(position);
            match ranges.iter_mut().find(|r| r.stream == **stream) {
                Some(range) => range.last_version = record.version,
                None => ranges.push(StreamRange { stream: (*stream).clone(), first_version: record.version, last_version: record.version }),
            }
        }
        Ok(Appended { positions, streams: ranges, deduplicated: true })
    }

    fn record_at(&self, position: u64) -> Result<Record, AppendError> {
        if let Some(i) = position.checked_sub(self.first_position).map(|i| i as usize).filter(|&i| i < self.ends.len()) {
            let start = i.checked_sub(1).map_or(0, |before| self.ends[before]);
            // Encoded by this group and checked then: failing now is a bug, not bad input.
            return match Record::decode(&self.bytes[start..self.ends[i]]) {
                Ok(record) => Ok(record),
                Err(e) => panic!("staged record {position} no longer decodes: {e}"),
            };
        }
        self.store
            .read_record(position)
            .map_err(|e| AppendError::Storage { cause: e.to_string() })?
            .ok_or(AppendError::Storage { cause: format!("event index names position {position} but no record is there") })
    }

    fn current_version(&self, cache: &VersionCache, stream: &StreamId) -> Result<u64, AppendError> {
        if let Some(&v) = self.versions.get(stream) {
            return Ok(v);
        }
        cache.get(stream).ok_or_else(|| AppendError::Storage { cause: format!("stream {stream} was not prefetched") })
    }
}

/// Checks a freshly sealed record's bytes decode back to it (paired
/// assertions: before encoding and after decoding). The full round trip runs
/// in debug builds; release builds keep the cheap structural checks.
fn check_encoding(record: &RecordRef<'_>, bytes: &[u8]) {
    assert_eq!(bytes.len(), record.encoded_len(), "record length");
    assert_eq!(bytes[bytes.len() - 32..], record.hash, "hash is the record's last field");
    if cfg!(debug_assertions) {
        match RecordRef::decode(bytes) {
            Ok(decoded) => assert_eq!(&decoded, record, "record does not survive its own encoding"),
            Err(e) => panic!("freshly encoded record at {} does not decode: {e}", record.position),
        }
    }
}

pub(crate) struct Cfs<'a> {
    pub(crate) records: &'a rocksdb::ColumnFamily,
    pub(crate) index: &'a rocksdb::ColumnFamily,
    pub(crate) heads: &'a rocksdb::ColumnFamily,
    pub(crate) ids: &'a rocksdb::ColumnFamily,
    pub(crate) aux: &'a rocksdb::ColumnFamily,
    pub(crate) meta: &'a rocksdb::ColumnFamily,
}

impl<'a> Cfs<'a> {
    /// The column families exist from the moment the store is opened.
    pub(crate) fn of(store: &'a Store) -> Self {
        let get = |name: &str| match store.db.cf_handle(name) {
            Some(cf) => cf,
            None => panic!("column family {name} vanished from an open store"),
        };
        Cfs { records: get(CF_RECORDS), index: get(CF_STREAM_INDEX), heads: get(CF_STREAM_HEADS), ids: get(CF_EVENT_IDS), aux: get(CF_AUX), meta: get(CF_META) }
    }
}
