//! Auxiliary keyspace: derived state (projection checkpoints, snapshots)
//! stored beside the log so that only this crate touches RocksDB. It is not
//! part of the hash chain; whoever stores something here must be able to
//! check it against the log (snapshots carry the chain head they were taken at).

use rocksdb::{WriteBatch, WriteOptions};

use super::append::Cfs;
use super::Ledger;
use crate::error::AuxError;

/// One auxiliary key and its value.
pub type AuxEntry = (Vec<u8>, Vec<u8>);

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
    pub fn scan_aux(&self, prefix: &[u8]) -> Result<Vec<AuxEntry>, AuxError> {
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

    /// Visits the entries whose key starts with `prefix`, greatest key first,
    /// until `visit` returns something, and returns that. Values are lent in
    /// place, not copied, and nothing past the found entry is read: recovery
    /// looks for the newest snapshot that checks out (tens of MiB for a
    /// projection) this way.
    pub fn find_aux_rev<T>(&self, prefix: &[u8], mut visit: impl FnMut(&[u8], &[u8]) -> Option<T>) -> Result<Option<T>, AuxError> {
        let store = self.store();
        let mut it = store.db.raw_iterator_cf(Cfs::of(store).aux);
        match prefix_end(prefix) {
            Some(end) => {
                it.seek_for_prev(&end);
                // seek_for_prev lands on `end` itself if it exists: it is past the prefix.
                if it.key() == Some(end.as_slice()) {
                    it.prev();
                }
            }
            None => it.seek_to_last(),
        }
        while let (Some(key), Some(value)) = (it.key(), it.value()) {
            if !key.starts_with(prefix) {
                break;
            }
            if let Some(found) = visit(key, value) {
                return Ok(Some(found));
            }
            it.prev();
        }
        it.status().map_err(|e| AuxError::Storage(e.into_string()))?;
        Ok(None)
    }

    /// Durably deletes every auxiliary key in `[from, to)`.
    pub fn delete_aux_range(&self, from: &[u8], to: &[u8]) -> Result<(), AuxError> {
        let store = self.store();
        if store.read_only {
            return Err(AuxError::ReadOnly);
        }
        if let Some(cause) = store.poison.cause() {
            return Err(AuxError::Poisoned { cause });
        }
        let mut batch = WriteBatch::default();
        batch.delete_range_cf(Cfs::of(store).aux, from, to);
        let mut options = WriteOptions::default();
        options.set_sync(true);
        store.db.write_opt(batch, &options).map_err(|e| AuxError::Storage(e.into_string()))
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

/// The smallest key greater than every key starting with `prefix` (`None`
/// when the prefix is all 0xFF bytes or empty: no such key).
fn prefix_end(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xFF {
            end.push(last + 1);
            return Some(end);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::prefix_end;

    #[test]
    fn prefix_end_is_the_first_key_past_the_prefix() {
        assert_eq!(prefix_end(b"ab"), Some(b"ac".to_vec()));
        assert_eq!(prefix_end(&[1, 0xFF]), Some(vec![2]));
        assert_eq!(prefix_end(&[0xFF, 0xFF]), None);
        assert_eq!(prefix_end(b""), None);
    }
}
