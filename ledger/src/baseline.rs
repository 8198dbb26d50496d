//! The benchmark floor: raw RocksDB with naive group commit, and nothing else.
//!
//! Encore's side-by-side benchmark (issue 7, `bench/`) measures the log's
//! overhead against the cheapest durable thing one could build on the same
//! RocksDB: a writer thread that drains a queue of appends into one
//! `WriteBatch` and writes it with one WAL sync, then acknowledges. No hash
//! chain, no stream index, no event-id index, no expected-version check, no
//! validation: the caller hands key/value pairs and gets them durable.
//!
//! It lives in the ledger crate only because the ledger is the one crate
//! allowed to touch RocksDB; it is compiled only with the `baseline` cargo
//! feature, which only the benchmark driver enables. Nothing in Encore uses it.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::Arc;
use std::thread::JoinHandle;

use rocksdb::{BlockBasedOptions, Cache, Direction, IteratorMode, Options, WriteBatch, WriteOptions, DB};

/// One append: key/value pairs written atomically (in the same batch).
pub type Puts = Vec<(Vec<u8>, Vec<u8>)>;

/// Most appends folded into one batch, as in the ledger's writer.
const MAX_GROUP: usize = crate::limits::MAX_GROUP_APPENDS;

struct Request {
    puts: Puts,
    reply: SyncSender<Result<(), String>>,
}

/// A RocksDB database with a group-committing writer thread. Cheap to share
/// behind an `Arc`; dropping it stops the writer after it drains its queue.
pub struct RawLog {
    db: Arc<DB>,
    sender: Option<SyncSender<Request>>,
    writer: Option<JoinHandle<()>>,
    syncs: Arc<AtomicU64>,
}

impl RawLog {
    /// Opens (creating) a plain RocksDB database in `path`, tuned like the
    /// ledger's records column family (LZ4, 64 MiB memtable, 64 MiB cache).
    pub fn open(path: impl AsRef<Path>) -> Result<RawLog, String> {
        let mut opts = Options::default();
        opts.create_if_missing(true);
        opts.increase_parallelism(2);
        opts.set_max_background_jobs(2);
        opts.set_bytes_per_sync(1 << 20);
        opts.set_write_buffer_size(64 << 20);
        opts.set_compression_type(rocksdb::DBCompressionType::Lz4);
        let mut table = BlockBasedOptions::default();
        table.set_block_cache(&Cache::new_lru_cache(64 << 20));
        opts.set_block_based_table_factory(&table);
        let db = Arc::new(DB::open(&opts, path.as_ref()).map_err(|e| e.into_string())?);
        let syncs = Arc::new(AtomicU64::new(0));
        let (sender, receiver) = sync_channel(4096);
        let writer = {
            let (db, syncs) = (db.clone(), syncs.clone());
            std::thread::Builder::new().name("raw-baseline-writer".into()).spawn(move || run_writer(&db, &syncs, receiver)).map_err(|e| e.to_string())?
        };
        Ok(RawLog { db, sender: Some(sender), writer: Some(writer), syncs })
    }

    /// Writes `puts` atomically and returns once they are durable (WAL synced).
    pub fn append(&self, puts: Puts) -> Result<(), String> {
        let (reply, rx) = sync_channel(1);
        let sender = self.sender.as_ref().ok_or("the raw log is closed")?;
        sender.send(Request { puts, reply }).map_err(|_| "the raw log writer stopped".to_string())?;
        rx.recv().map_err(|_| "the raw log writer stopped".to_string())?
    }

    /// Durable writes done so far (one WAL sync each).
    pub fn syncs(&self) -> u64 {
        self.syncs.load(Ordering::Relaxed)
    }

    /// Up to `max` key/value pairs from `from` (inclusive) in key order.
    pub fn scan_from(&self, from: &[u8], max: usize) -> Result<Puts, String> {
        let mut out = Vec::with_capacity(max.min(4096));
        for item in self.db.iterator(IteratorMode::From(from, Direction::Forward)).take(max) {
            let (k, v) = item.map_err(|e| e.into_string())?;
            out.push((k.into_vec(), v.into_vec()));
        }
        Ok(out)
    }
}

impl Drop for RawLog {
    fn drop(&mut self) {
        drop(self.sender.take());
        if let Some(writer) = self.writer.take() {
            if writer.join().is_err() {
                tracing::error!("the raw baseline writer thread panicked");
            }
        }
    }
}

fn run_writer(db: &DB, syncs: &AtomicU64, receiver: Receiver<Request>) {
    let mut options = WriteOptions::default();
    options.set_sync(true);
    while let Ok(first) = receiver.recv() {
        let mut group = vec![first];
        while group.len() < MAX_GROUP {
            match receiver.try_recv() {
                Ok(request) => group.push(request),
                Err(_) => break,
            }
        }
        let mut batch = WriteBatch::default();
        for request in &group {
            for (k, v) in &request.puts {
                batch.put(k, v);
            }
        }
        let result = db.write_opt(batch, &options).map_err(|e| e.into_string());
        syncs.fetch_add(1, Ordering::Relaxed);
        for request in group {
            let _ = request.reply.send(result.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn appended_pairs_read_back_in_key_order() {
        let dir = tempfile::tempdir().expect("temp dir");
        let log = RawLog::open(dir.path()).expect("open");
        log.append(vec![(b"b".to_vec(), b"2".to_vec()), (b"a".to_vec(), b"1".to_vec())]).expect("append");
        log.append(vec![(b"c".to_vec(), b"3".to_vec())]).expect("append");
        let got = log.scan_from(b"a", 10).expect("scan");
        let want: Puts = vec![(b"a".to_vec(), b"1".to_vec()), (b"b".to_vec(), b"2".to_vec()), (b"c".to_vec(), b"3".to_vec())];
        assert_eq!(got, want);
        assert_eq!(log.syncs(), 2);
    }
}
