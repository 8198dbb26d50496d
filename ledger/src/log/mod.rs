//! The log itself: opening a directory, and the handle every caller shares.
//!
//! Roles live in their own files: [`open`] (recovery of the head on open),
//! [`append`] (validation and the group-commit writer), [`read`], [`subscribe`],
//! [`verify`], [`repair`] (the way out of a refused open), [`aux`] (derived state kept beside the log, outside the chain),
//! [`watermark`] (how far the log had acknowledged, kept outside RocksDB) and [`tail`] (the writer's
//! event ids and stream heads of the newest records, written to their column families in sorted batches).

pub(crate) mod append;
pub(crate) mod aux;
pub(crate) mod keys;
pub(crate) mod open;
pub(crate) mod read;
pub mod repair;
pub mod subscribe;
pub(crate) mod tail;
pub mod verify;
pub(crate) mod watermark;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};

use rocksdb::DB;

use crate::error::OpenError;
use crate::types::Head;

/// How a log is opened.
#[derive(Debug, Clone)]
pub struct LedgerOptions {
    /// Appends waiting for the writer before callers block (back-pressure).
    pub queue_depth: usize,
    /// RocksDB block cache, in bytes.
    pub block_cache_bytes: usize,
    /// Open for reading and verification only: no writer, no changes to the
    /// directory (used by audits, which must work on a damaged log).
    pub read_only: bool,
    /// Records whose event ids and stream heads the writer keeps in memory
    /// before writing them to their column families in one sorted batch
    /// (`log/tail.rs`). Small values are for tests that cross that boundary.
    pub index_tail_records: usize,
}

impl Default for LedgerOptions {
    fn default() -> Self {
        LedgerOptions { queue_depth: 4096, block_cache_bytes: 64 << 20, read_only: false, index_tail_records: tail::TAIL_RECORDS }
    }
}

impl LedgerOptions {
    pub fn read_only() -> Self {
        LedgerOptions { read_only: true, ..Default::default() }
    }
}

/// A handle on an open log. Cheap to clone; the log closes when the last
/// handle is dropped (subscriptions then end once drained).
#[derive(Clone)]
pub struct Ledger {
    inner: Arc<Inner>,
}

struct Inner {
    store: Arc<Store>,
    writer: Mutex<Option<append::WriterHandle>>,
}

/// What readers, the writer and subscriptions share.
pub(crate) struct Store {
    pub(crate) db: DB,
    pub(crate) path: PathBuf,
    pub(crate) watch: HeadWatch,
    pub(crate) poison: Poison,
    pub(crate) read_only: bool,
    /// Where the acknowledged head is recorded before each acknowledgement
    /// (none for a read-only open). Only the thread that syncs takes it.
    pub(crate) watermark: Mutex<Option<watermark::Watermark>>,
    /// What a read-only open found against the watermark; `verify` reports
    /// it (a writable open refuses instead).
    pub(crate) watermark_problem: Option<verify::Problem>,
    /// Test hook: fail the next durable write as a failed fsync would.
    pub(crate) fail_next_write: AtomicBool,
    /// Durable writes done (each one WAL sync), for statistics.
    pub(crate) group_commits: AtomicU64,
}

/// The published head, and a condition variable that wakes subscribers.
pub(crate) struct HeadWatch {
    state: Mutex<(Head, bool)>,
    changed: Condvar,
}

impl HeadWatch {
    fn new(head: Head) -> Self {
        HeadWatch { state: Mutex::new((head, false)), changed: Condvar::new() }
    }

    pub(crate) fn get(&self) -> Head {
        lock(&self.state).0
    }

    pub(crate) fn publish(&self, head: Head) {
        let mut state = lock(&self.state);
        assert!(head.position >= state.0.position, "the head never moves backwards");
        state.0 = head;
        self.changed.notify_all();
    }

    fn close(&self) {
        lock(&self.state).1 = true;
        self.changed.notify_all();
    }

    /// Waits until the head passes `position` or the log closes, up to `timeout`.
    /// Returns the head and whether the log is closed.
    pub(crate) fn wait_past(&self, position: u64, timeout: std::time::Duration) -> (Head, bool) {
        let state = lock(&self.state);
        let (state, _) = self
            .changed
            .wait_timeout_while(state, timeout, |(head, closed)| head.position <= position && !*closed)
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        (state.0, state.1)
    }
}

/// Set once a durable write fails; every later write is refused.
#[derive(Default)]
pub(crate) struct Poison(Mutex<Option<String>>);

impl Poison {
    pub(crate) fn cause(&self) -> Option<String> {
        lock(&self.0).clone()
    }
    pub(crate) fn set(&self, cause: String) {
        let mut slot = lock(&self.0);
        if slot.is_none() {
            tracing::error!(%cause, "durable write failed; the log is poisoned");
            *slot = Some(cause);
        }
    }
}

/// Locks a mutex; a panic elsewhere is fatal in Encore, so poisoning is ignored.
pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Ledger {
    /// Opens the log in `path`, creating it if the directory is missing or
    /// empty. Refuses directories that hold something else, or a newer format.
    pub fn open(path: impl AsRef<Path>, options: LedgerOptions) -> Result<Ledger, OpenError> {
        let store = Arc::new(open::open_store(path.as_ref(), &options)?);
        let writer = match options.read_only {
            true => None,
            false => {
                let tail = tail::IndexTail::recover(&store, store.watch.get().position, options.index_tail_records)?;
                Some(append::WriterHandle::spawn(store.clone(), options.queue_depth, tail))
            }
        };
        Ok(Ledger { inner: Arc::new(Inner { store, writer: Mutex::new(writer) }) })
    }

    /// The newest acknowledged record.
    pub fn head(&self) -> Head {
        self.inner.store.watch.get()
    }

    /// The directory this log lives in.
    pub fn path(&self) -> &Path {
        &self.inner.store.path
    }

    /// Whether an earlier write failed (and so every write is now refused).
    pub fn poisoned(&self) -> Option<String> {
        self.inner.store.poison.cause()
    }

    /// How many durable writes (each one WAL sync) this handle's log has done
    /// since it was opened: appends / group commits is the group-commit factor.
    pub fn group_commits(&self) -> u64 {
        self.inner.store.group_commits.load(Ordering::Relaxed)
    }

    pub(crate) fn store(&self) -> &Arc<Store> {
        &self.inner.store
    }

    /// Test hook: makes the next durable write fail as a failed fsync would.
    #[doc(hidden)]
    pub fn inject_write_failure_for_tests(&self) {
        self.inner.store.fail_next_write.store(true, Ordering::SeqCst);
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        if let Some(writer) = lock(&self.writer).take() {
            writer.shut_down();
            // A poisoned log keeps its files as the failure left them.
            if self.store.poison.cause().is_none() {
                self.store.flush_memtables();
            }
        }
        self.store.watch.close();
    }
}

impl Store {
    /// On a clean close, moves what only the WAL holds into table files, so
    /// the next open has no WAL to replay (a kiosk's cold start). A failure
    /// here loses nothing: the WAL stays and is replayed on open.
    fn flush_memtables(&self) {
        let cfs: Vec<_> = keys::ALL_CFS.iter().filter_map(|name| self.db.cf_handle(name)).collect();
        if let Err(e) = self.db.flush_cfs_opt(&cfs, &rocksdb::FlushOptions::default()) {
            tracing::warn!(error = %e, "flushing memtables on close failed; the next open replays the WAL");
        }
    }
}
