//! Opening a log directory: identity and format checks, then recovery of the
//! head from the newest record, checked against the acknowledged watermark.
//!
//! RocksDB replays its WAL in `TolerateCorruptedTailRecords` mode: a torn
//! last record (written, never synced, so never acknowledged) is dropped, and
//! any other damage stops the open with a `Corruption` error instead of
//! silently ending the log there (the `PointInTime` default). What the WAL
//! itself cannot show, a record that only looks like a torn tail or a WAL
//! file that is gone, the watermark shows: a head that comes back short of
//! it is refused (see [`super::watermark`]).
//!
//! A power cut can leave more than a torn last record: the disk writes back
//! unsynced pages in any order, so the WAL's unsynced tail may hold a hole
//! followed by later pages, which RocksDB reports as damage. Such damage lies
//! wholly after what was acknowledged, and the watermark can tell: on a
//! `Corruption` error the WAL is replayed read-only up to its first damage
//! (`PointInTime`), and only if that reaches the watermark's position with
//! the acknowledged record there is the log opened that way, dropping the
//! unacknowledged tail (logged). Damage at or before the watermark still
//! stops the open, with nothing changed.

use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64};

use rocksdb::{BlockBasedOptions, Cache, ColumnFamilyDescriptor, DBRecoveryMode, Options, DB};

use super::keys::*;
use super::verify::{Problem, ProblemKind};
use super::watermark::{self, Acknowledged, Watermark, WatermarkError};
use super::{HeadWatch, LedgerOptions, Poison, Store};
use crate::error::OpenError;
use crate::record::Record;
use crate::types::Head;

pub(crate) fn open_store(path: &Path, options: &LedgerOptions) -> Result<Store, OpenError> {
    let fresh = check_directory(path)?;
    if fresh && options.read_only {
        return Err(OpenError::NotAnEncoreLog { path: path.to_path_buf(), reason: "no log here (nothing to open read-only)".into() });
    }
    if fresh {
        create_atomically(path, options)?;
    }
    let db = match open_db(path, options, DBRecoveryMode::TolerateCorruptedTailRecords) {
        Err(OpenError::Corrupted { path, message }) => open_past_unacknowledged_damage(&path, options).ok_or(OpenError::Corrupted { path, message })?,
        opened => opened?,
    };
    protect_in_memory(&db, path)?;
    let format = check_identity(&db, path, false, options.read_only)?;
    let head = recover_head(&db, path)?;
    if format < LOG_FORMAT_VERSION && !options.read_only {
        upgrade_format(&db, path, head)?;
    }
    let (watermark, watermark_problem) = open_watermark(&db, path, head, options.read_only)?;
    tracing::info!(path = %path.display(), head = head.position, "log opened");
    Ok(Store {
        db,
        path: path.to_path_buf(),
        watch: HeadWatch::new(head),
        poison: Poison::default(),
        read_only: options.read_only,
        watermark: std::sync::Mutex::new(watermark),
        watermark_problem,
        fail_next_write: AtomicBool::new(false),
        group_commits: AtomicU64::new(0),
    })
}

/// The log opened in `PointInTime` mode, if the damage RocksDB found lies
/// wholly after the acknowledged watermark (a power cut's unsynced tail):
/// replayed read-only first, the recovered head must reach the watermark
/// with the acknowledged record there. `None` when it does not, or cannot be
/// told (no readable watermark); the caller then refuses the open.
fn open_past_unacknowledged_damage(path: &Path, options: &LedgerOptions) -> Option<DB> {
    let acknowledged = watermark::read(path).ok()?;
    let reaches = {
        let probe = open_db(path, &LedgerOptions { read_only: true, ..options.clone() }, DBRecoveryMode::PointInTime).ok()?;
        let head = recover_head(&probe, path).ok()?;
        check_against_watermark(&probe, path, head, acknowledged).is_ok().then_some(head)
    };
    let head = reaches?;
    tracing::warn!(
        path = %path.display(),
        acknowledged = acknowledged.position,
        recovered = head.position,
        "the write-ahead log is damaged after everything acknowledged (an interrupted, unsynced tail); opening up to the damage, the tail is dropped"
    );
    open_db(path, options, DBRecoveryMode::PointInTime).ok()
}

/// Checks the recovered head against the watermark. A log that can be
/// written keeps the file open for the writer and is refused if it falls
/// short; a read-only open (an audit, which must work on a damaged log) opens
/// what is there and hands the finding to `verify`. A log made before the
/// watermark existed gets one at its recovered head (logged).
fn open_watermark(db: &DB, path: &Path, head: Head, read_only: bool) -> Result<(Option<Watermark>, Option<Problem>), OpenError> {
    let bad = |e: WatermarkError| OpenError::WatermarkUnreadable { path: path.to_path_buf(), reason: e.to_string() };
    if !has_watermark(db, path)? {
        if read_only {
            tracing::warn!(path = %path.display(), "log has no acknowledged watermark yet (made by an older encore); the next writable open starts one");
            return Ok((None, None));
        }
        tracing::warn!(path = %path.display(), head = head.position, "log has no acknowledged watermark yet; starting one at the recovered head");
        let created = Watermark::create(path, head).map_err(bad)?;
        mark_watermark(db, path)?;
        return Ok((Some(created), None));
    }
    if !read_only {
        let (file, acknowledged) = Watermark::open(path).map_err(bad)?;
        check_against_watermark(db, path, head, acknowledged)?;
        return Ok((Some(file), None));
    }
    let checked = watermark::read(path).map_err(bad).and_then(|acknowledged| check_against_watermark(db, path, head, acknowledged));
    let problem = match checked {
        Ok(()) => None,
        Err(OpenError::AcknowledgedRecordsLost { acknowledged, recovered, .. }) => {
            Some(Problem { position: recovered + 1, kind: ProblemKind::AcknowledgedButGone { acknowledged } })
        }
        Err(OpenError::WatermarkMismatch { position, .. }) => Some(Problem { position, kind: ProblemKind::NotTheAcknowledgedRecord }),
        Err(OpenError::WatermarkUnreadable { reason, .. }) => Some(Problem { position: head.position, kind: ProblemKind::WatermarkUnreadable { reason } }),
        Err(other) => return Err(other),
    };
    if let Some(problem) = &problem {
        tracing::error!(path = %path.display(), %problem, "the log does not reach what it acknowledged; verify reports it");
    }
    Ok((None, problem))
}

/// The recovered head must reach the acknowledged position, and the record
/// there must be the one that was acknowledged.
fn check_against_watermark(db: &DB, path: &Path, head: Head, acknowledged: Acknowledged) -> Result<(), OpenError> {
    if head.position < acknowledged.position {
        return Err(OpenError::AcknowledgedRecordsLost { path: path.to_path_buf(), acknowledged: acknowledged.position, recovered: head.position });
    }
    if acknowledged.position == 0 {
        return Ok(());
    }
    let records = cf(db, CF_RECORDS, path)?;
    let stored = db.get_cf(records, position_key(acknowledged.position)).map_err(|e| db_error(path, e))?;
    let matches = stored.as_deref().and_then(|bytes| Record::decode(bytes).ok()).is_some_and(|r| r.hash == acknowledged.hash);
    if !matches {
        return Err(OpenError::WatermarkMismatch { path: path.to_path_buf(), position: acknowledged.position });
    }
    Ok(())
}

fn has_watermark(db: &DB, path: &Path) -> Result<bool, OpenError> {
    let meta = cf(db, CF_META, path)?;
    Ok(db.get_cf(meta, META_WATERMARK_KEY).map_err(|e| db_error(path, e))?.is_some())
}

/// Records in the metadata that this log keeps a watermark, so that a
/// missing file is refused rather than started afresh.
pub(crate) fn mark_watermark(db: &DB, path: &Path) -> Result<(), OpenError> {
    let meta = cf(db, CF_META, path)?;
    let mut opts = rocksdb::WriteOptions::default();
    opts.set_sync(true);
    db.put_cf_opt(meta, META_WATERMARK_KEY, b"1", &opts).map_err(|e| db_error(path, e))
}

/// Creates a new log in a sibling directory and renames it into place, so a
/// crash during creation leaves either no log or a whole one (never a
/// half-made database that would then be refused as foreign).
fn create_atomically(path: &Path, options: &LedgerOptions) -> Result<(), OpenError> {
    let staging = staging_path(path);
    if staging.exists() {
        std::fs::remove_dir_all(&staging).map_err(|e| storage(&staging, e.to_string()))?;
    }
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|e| storage(parent, e.to_string()))?;
    }
    let db = open_db(&staging, options, DBRecoveryMode::TolerateCorruptedTailRecords)?;
    write_identity(&db, &staging)?;
    Watermark::create(&staging, Head::EMPTY).map_err(|e| OpenError::WatermarkUnreadable { path: staging.clone(), reason: e.to_string() })?;
    mark_watermark(&db, &staging)?;
    drop(db);
    // rename(2) replaces an empty directory atomically.
    std::fs::rename(&staging, path).map_err(|e| storage(path, e.to_string()))?;
    sync_parent(path)
}

fn staging_path(path: &Path) -> std::path::PathBuf {
    let mut name = path.file_name().map(|n| n.to_os_string()).unwrap_or_default();
    name.push(".creating");
    path.with_file_name(name)
}

pub(crate) fn sync_parent(path: &Path) -> Result<(), OpenError> {
    let parent = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::File::open(parent).and_then(|d| d.sync_all()).map_err(|e| storage(parent, e.to_string()))
}

/// Returns whether the directory is new (missing or empty). Refuses a file,
/// or a non-empty directory that holds no RocksDB database with our metadata.
fn check_directory(path: &Path) -> Result<bool, OpenError> {
    let not_ours = |reason: &str| OpenError::NotAnEncoreLog { path: path.to_path_buf(), reason: reason.to_string() };
    if !path.exists() {
        return Ok(true);
    }
    if !path.is_dir() {
        return Err(OpenError::NotADirectory { path: path.to_path_buf() });
    }
    let mut entries = std::fs::read_dir(path).map_err(|e| storage(path, e.to_string()))?;
    if entries.next().is_none() {
        return Ok(true);
    }
    if !path.join("CURRENT").is_file() {
        return Err(not_ours("the directory is not empty and holds no database"));
    }
    let cfs = DB::list_cf(&Options::default(), path).map_err(|e| not_ours(&format!("unreadable database: {e}")))?;
    if !cfs.iter().any(|cf| cf == CF_META) {
        return Err(not_ours("a RocksDB database without Encore's metadata"));
    }
    Ok(false)
}

/// Table files kept open (RocksDB's table cache); more are reopened on demand.
const MAX_OPEN_FILES: i32 = 512;

pub(crate) fn open_db(path: &Path, options: &LedgerOptions, recovery: DBRecoveryMode) -> Result<DB, OpenError> {
    let mut db_opts = Options::default();
    db_opts.create_if_missing(true);
    db_opts.create_missing_column_families(true);
    db_opts.set_wal_recovery_mode(recovery);
    db_opts.increase_parallelism(2);
    db_opts.set_max_background_jobs(2);
    db_opts.set_bytes_per_sync(1 << 20);
    // Writes only fill RocksDB's WAL buffer; the syncer's `flush_wal(true)`
    // writes it to the file and syncs it, so the writer thread never makes
    // the write system call and stages the next group meanwhile. Sync writes
    // (aux, snapshots) still flush and sync before they return, and a
    // memtable switch writes the buffer out first.
    db_opts.set_manual_wal_flush(true);
    // Open table files when first read, not all of them at open: a kiosk's
    // cold start reads a handful (the newest record, its snapshots).
    db_opts.set_max_open_files(MAX_OPEN_FILES);
    db_opts.set_skip_stats_update_on_db_open(true);
    let cache = Cache::new_lru_cache(options.block_cache_bytes);
    let cfs = ALL_CFS.iter().map(|name| ColumnFamilyDescriptor::new(*name, cf_options(name, &cache)));
    let result = if options.read_only { DB::open_cf_descriptors_read_only(&db_opts, path, cfs, false) } else { DB::open_cf_descriptors(&db_opts, path, cfs) };
    result.map_err(|e| db_error(path, e))
}

/// Per-key checksums on the records and the stream index while they are in
/// memory (the memtable and cached blocks), checked as keys are read. With
/// the checksum of every block read from a file, RocksDB then guards each
/// byte a read hands out, and a read that serves a request leaves a record's
/// own hash to replays (`read.rs`).
fn protect_in_memory(db: &DB, path: &Path) -> Result<(), OpenError> {
    const PROTECTION: [(&str, &str); 2] = [("memtable_protection_bytes_per_key", "8"), ("block_protection_bytes_per_key", "8")];
    for name in [CF_RECORDS, CF_STREAM_INDEX] {
        db.set_options_cf(cf(db, name, path)?, &PROTECTION).map_err(|e| db_error(path, e))?;
    }
    Ok(())
}

/// A RocksDB error while opening: damage it found is `Corrupted`, not a
/// storage failure (retrying will not help; `encore audit repair` may).
fn db_error(path: &Path, e: rocksdb::Error) -> OpenError {
    match e.kind() {
        rocksdb::ErrorKind::Corruption => OpenError::Corrupted { path: path.to_path_buf(), message: e.into_string() },
        _ => storage(path, e.into_string()),
    }
}

fn cf_options(name: &str, cache: &Cache) -> Options {
    let mut opts = Options::default();
    let mut table = BlockBasedOptions::default();
    table.set_block_cache(cache);
    if name == CF_EVENT_IDS || name == CF_STREAM_HEADS {
        // Point lookups on every append: bloom filters make misses cheap.
        table.set_bloom_filter(10.0, false);
        opts.set_memtable_whole_key_filtering(true);
        opts.set_memtable_prefix_bloom_ratio(0.1);
    }
    opts.set_block_based_table_factory(&table);
    opts.set_compression_type(if name == CF_RECORDS { rocksdb::DBCompressionType::Lz4 } else { rocksdb::DBCompressionType::None });
    opts.set_write_buffer_size(if name == CF_RECORDS { 64 << 20 } else { 12 << 20 });
    opts
}

/// Checks the magic and returns the log's format version.
fn check_identity(db: &DB, path: &Path, fresh: bool, read_only: bool) -> Result<u32, OpenError> {
    let meta = cf(db, CF_META, path)?;
    let magic = db.get_cf(meta, META_MAGIC_KEY).map_err(|e| db_error(path, e))?;
    match magic {
        Some(m) if m == META_MAGIC => {}
        Some(_) => return Err(OpenError::NotAnEncoreLog { path: path.to_path_buf(), reason: "foreign metadata".into() }),
        None => {
            let records = cf(db, CF_RECORDS, path)?;
            let empty = db.iterator_cf(records, rocksdb::IteratorMode::Start).next().is_none();
            if !(fresh || empty) || read_only {
                return Err(OpenError::NotAnEncoreLog { path: path.to_path_buf(), reason: "records without Encore's metadata".into() });
            }
            return write_identity(db, path).map(|()| LOG_FORMAT_VERSION);
        }
    }
    let format = db.get_cf(meta, META_FORMAT_KEY).map_err(|e| db_error(path, e))?;
    let format = format
        .and_then(|f| <[u8; 4]>::try_from(f.as_slice()).ok())
        .map(u32::from_le_bytes)
        .ok_or_else(|| OpenError::NotAnEncoreLog { path: path.to_path_buf(), reason: "missing format version".into() })?;
    if format > LOG_FORMAT_VERSION {
        return Err(OpenError::NewerFormat { path: path.to_path_buf(), found: format, supported: LOG_FORMAT_VERSION });
    }
    Ok(format)
}

/// Moves a log of format 1 (indexes written with every record, so complete
/// through the head) to the current format in one synced batch: its
/// indexes are complete through the head.
fn upgrade_format(db: &DB, path: &Path, head: Head) -> Result<(), OpenError> {
    let meta = cf(db, CF_META, path)?;
    let mut batch = rocksdb::WriteBatch::default();
    batch.put_cf(meta, META_INDEXED_KEY, position_key(head.position));
    batch.put_cf(meta, META_FORMAT_KEY, LOG_FORMAT_VERSION.to_le_bytes());
    let mut opts = rocksdb::WriteOptions::default();
    opts.set_sync(true);
    db.write_opt(batch, &opts).map_err(|e| db_error(path, e))?;
    tracing::info!(path = %path.display(), indexed = head.position, format = LOG_FORMAT_VERSION, "log format upgraded");
    Ok(())
}

pub(crate) fn write_identity(db: &DB, path: &Path) -> Result<(), OpenError> {
    let meta = cf(db, CF_META, path)?;
    let mut batch = rocksdb::WriteBatch::default();
    batch.put_cf(meta, META_FORMAT_KEY, LOG_FORMAT_VERSION.to_le_bytes());
    batch.put_cf(meta, META_MAGIC_KEY, META_MAGIC);
    batch.put_cf(meta, META_INDEXED_KEY, position_key(0));
    let mut opts = rocksdb::WriteOptions::default();
    opts.set_sync(true);
    db.write_opt(batch, &opts).map_err(|e| db_error(path, e))
}

/// The head is the newest record; its own hash is checked before the chain continues from it.
fn recover_head(db: &DB, path: &Path) -> Result<Head, OpenError> {
    let records = cf(db, CF_RECORDS, path)?;
    let mut it = db.raw_iterator_cf(records);
    it.seek_to_last();
    let (Some(key), Some(value)) = (it.key(), it.value()) else {
        it.status().map_err(|e| db_error(path, e))?;
        return Ok(Head::EMPTY);
    };
    let position = parse_u64(key).unwrap_or(0);
    let record = Record::decode(value).map_err(|e| OpenError::DamagedTail { path: path.to_path_buf(), position, reason: e.to_string() })?;
    if record.position != position {
        return Err(OpenError::DamagedTail { path: path.to_path_buf(), position, reason: format!("record claims position {}", record.position) });
    }
    Ok(Head { position, hash: record.hash, recorded_at: record.recorded_at })
}

pub(crate) fn cf<'a>(db: &'a DB, name: &str, path: &Path) -> Result<&'a rocksdb::ColumnFamily, OpenError> {
    db.cf_handle(name).ok_or_else(|| storage(path, format!("column family {name} missing")))
}

fn storage(path: &Path, message: String) -> OpenError {
    OpenError::Storage { path: path.to_path_buf(), message }
}
