//! Auxiliary keyspace: derived state (projection checkpoints, snapshots)
//! stored beside the log so that only this crate touches RocksDB. It is not
//! part of the hash chain; whoever stores something here must be able to
//! check it against the log (snapshots carry the chain head they were taken at).

use rocksdb::{WriteBatch, WriteOptions};

use super::append::Cfs;
use super::Ledger;
use crate::error::AuxError;

impl Ledger {
    /// Durably writes several auxiliary keys at once (one synced batch).
    pub fn put_aux(&self, entries: &[(&[u8], &[u8])]) -> Result<(), AuxError> {
        let store = self.store();
        if store.read_only {
            return Err(AuxError::ReadOnly);
        }
        if let Some(cause) = store.poison.cause() {
            return Err(AuxError::Poisoned { cause });
        }
        let cf = Cfs::of(store).aux;
        let mut batch = WriteBatch::default();
        for (key, value) in entries {
            if key.is_empty() {
                return Err(AuxError::EmptyKey);
            }
            batch.put_cf(cf, key, value);
        }
        let mut options = WriteOptions::default();
        options.set_sync(true);
        store.db.write_opt(batch, &options).map_err(|e| {
            let cause = e.into_string();
            store.poison.set(cause.clone());
            AuxError::Storage(cause)
        })
    }

    pub fn get_aux(&self, key: &[u8]) -> Result<Option<Vec<u8>>, AuxError> {
        let cf = Cfs::of(self.store()).aux;
        self.store().db.get_cf(cf, key).map_err(|e| AuxError::Storage(e.into_string()))
    }

    /// Every auxiliary entry whose key starts with `prefix`, in key order.
    pub fn scan_aux(&self, prefix: &[u8]) -> Result<Vec<(Vec<u8>, Vec<u8>)>, AuxError> {
        let store = self.store();
        let mut it = store.db.raw_iterator_cf(Cfs::of(store).aux);
        it.seek(prefix);
        let mut out = Vec::new();
        while let (Some(k), Some(v)) = (it.key(), it.value()) {
            if !k.starts_with(prefix) {
                break;
            }
            out.push((k.to_vec(), v.to_vec()));
            it.next();
        }
        it.status().map_err(|e| AuxError::Storage(e.into_string()))?;
        Ok(out)
    }

    pub fn delete_aux(&self, keys: &[&[u8]]) -> Result<(), AuxError> {
        let store = self.store();
        if store.read_only {
            return Err(AuxError::ReadOnly);
        }
        let cf = Cfs::of(store).aux;
        let mut batch = WriteBatch::default();
        for key in keys {
            batch.delete_cf(cf, key);
        }
        let mut options = WriteOptions::default();
        options.set_sync(true);
        store.db.write_opt(batch, &options).map_err(|e| AuxError::Storage(e.into_string()))
    }
}
