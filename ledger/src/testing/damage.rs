//! Damage on purpose: helpers that alter a closed log directly in RocksDB, so
//! tests elsewhere (the CLI's, the audit's) can prove that verification finds
//! it. Never used by Encore itself.

use std::path::Path;

use rocksdb::{ColumnFamilyDescriptor, Options, DB};

use crate::log::keys::{position_key, ALL_CFS, CF_RECORDS};

fn open_raw(path: &Path) -> Result<DB, String> {
    let cfs = ALL_CFS.iter().map(|n| ColumnFamilyDescriptor::new(*n, Options::default()));
    DB::open_cf_descriptors(&Options::default(), path, cfs).map_err(|e| e.into_string())
}

fn records(db: &DB) -> Result<&rocksdb::ColumnFamily, String> {
    db.cf_handle(CF_RECORDS).ok_or_else(|| "no records column family".to_string())
}

/// Flips one bit of the stored record at `position` (byte `offset` from its end).
pub fn flip_byte(path: &Path, position: u64, offset_from_end: usize) -> Result<(), String> {
    let db = open_raw(path)?;
    let cf = records(&db)?;
    let mut bytes = db.get_cf(cf, position_key(position)).map_err(|e| e.into_string())?.ok_or("no such record")?;
    let at = bytes.len().checked_sub(offset_from_end + 1).ok_or("offset past the record")?;
    bytes[at] ^= 0x01;
    db.put_cf(cf, position_key(position), bytes).map_err(|e| e.into_string())
}

/// Cuts the last `bytes` bytes off the stored record at `position`: what is
/// left is no longer a record (a torn write, as RocksDB's checksums see it,
/// intact).
pub fn truncate_record(path: &Path, position: u64, bytes: usize) -> Result<(), String> {
    let db = open_raw(path)?;
    let cf = records(&db)?;
    let mut stored = db.get_cf(cf, position_key(position)).map_err(|e| e.into_string())?.ok_or("no such record")?;
    stored.truncate(stored.len().checked_sub(bytes).ok_or("cut past the record")?);
    db.put_cf(cf, position_key(position), stored).map_err(|e| e.into_string())
}

/// Deletes the stored record at `position`, leaving the indexes as they were.
pub fn delete_record(path: &Path, position: u64) -> Result<(), String> {
    let db = open_raw(path)?;
    let cf = records(&db)?;
    db.delete_cf(cf, position_key(position)).map_err(|e| e.into_string())
}

/// Swaps the stored records at positions `a` and `b`.
pub fn swap_records(path: &Path, a: u64, b: u64) -> Result<(), String> {
    let db = open_raw(path)?;
    let cf = records(&db)?;
    let get = |p| db.get_cf(cf, position_key(p)).map_err(|e| e.into_string())?.ok_or("no such record".to_string());
    let (ra, rb) = (get(a)?, get(b)?);
    db.put_cf(cf, position_key(a), rb).map_err(|e| e.into_string())?;
    db.put_cf(cf, position_key(b), ra).map_err(|e| e.into_string())
}

/// All stored record bytes, concatenated (for scanning a log for plaintext).
pub fn raw_record_bytes(path: &Path) -> Result<Vec<u8>, String> {
    let db = open_raw(path)?;
    let cf = records(&db)?;
    let mut out = Vec::new();
    for item in db.iterator_cf(cf, rocksdb::IteratorMode::Start) {
        let (_, v) = item.map_err(|e| e.into_string())?;
        out.extend_from_slice(&v);
    }
    Ok(out)
}

/// Overwrites the log directory's format version (to test refusal of newer formats).
pub fn set_format_version(path: &Path, version: u32) -> Result<(), String> {
    let db = open_raw(path)?;
    let cf = db.cf_handle(crate::log::keys::CF_META).ok_or("no meta column family")?;
    db.put_cf(cf, crate::log::keys::META_FORMAT_KEY, version.to_le_bytes()).map_err(|e| e.into_string())
}

/// Turns a closed log of the current format back into format 1, whose
/// indexes were written with every record: drops `meta/indexed`. The log
/// must have been closed cleanly (its index tail written), so its indexes
/// are complete as format 1 requires.
pub fn downgrade_to_format_1(path: &Path) -> Result<(), String> {
    let db = open_raw(path)?;
    let cf = db.cf_handle(crate::log::keys::CF_META).ok_or("no meta column family")?;
    db.put_cf(cf, crate::log::keys::META_FORMAT_KEY, 1u32.to_le_bytes()).map_err(|e| e.into_string())?;
    db.delete_cf(cf, crate::log::keys::META_INDEXED_KEY).map_err(|e| e.into_string())
}

/// The log's `meta/indexed` position (`None` in format 1).
pub fn indexed_position(path: &Path) -> Result<Option<u64>, String> {
    let db = open_raw(path)?;
    crate::log::tail::read_indexed(&db)
}

/// Overwrites `meta/indexed` (to test that verify and the open check it).
pub fn set_indexed_position(path: &Path, position: u64) -> Result<(), String> {
    let db = open_raw(path)?;
    let cf = db.cf_handle(crate::log::keys::CF_META).ok_or("no meta column family")?;
    db.put_cf(cf, crate::log::keys::META_INDEXED_KEY, position.to_be_bytes()).map_err(|e| e.into_string())
}
