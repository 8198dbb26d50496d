//! The content store (000 claims 9-11): encrypted content files in
//! `DIR/contents/`, each named by the blake3 hash of its ciphertext, so a
//! write is a harmless duplicate at worst and a read checks what it returns.
//! Only ciphertext is ever here; its key is sealed in the catalogue.

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use encore_domain::licensing::ContentFile;

use super::credentials::hex;

/// The largest content file the store takes (the upload limit).
pub const MAX_CONTENT_FILE_BYTES: usize = 32 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ContentStoreError {
    #[error("cannot write content file {path}: {source}")]
    Write { path: PathBuf, source: std::io::Error },
    #[error("cannot read content file {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("content file {path} is damaged: its bytes do not hash to its name")]
    Damaged { path: PathBuf },
}

/// Where a deployment keeps encrypted content files.
#[derive(Debug, Clone)]
pub struct ContentStore {
    dir: PathBuf,
}

impl ContentStore {
    pub fn new(dir: PathBuf) -> Self {
        ContentStore { dir }
    }

    fn path(&self, hash: &[u8; 32]) -> PathBuf {
        self.dir.join(hex(hash))
    }

    /// Stores `ciphertext` durably (temporary file, fsync, rename, fsync dir).
    pub fn put(&self, ciphertext: &[u8]) -> Result<ContentFile, ContentStoreError> {
        let hash = *blake3::hash(ciphertext).as_bytes();
        let path = self.path(&hash);
        let write = |source| ContentStoreError::Write { path: path.clone(), source };
        fs::create_dir_all(&self.dir).map_err(write)?;
        let temporary = self.dir.join(format!(".{}.writing-{}", hex(&hash), std::process::id()));
        let written = (|| {
            let mut file = OpenOptions::new().write(true).create(true).truncate(true).open(&temporary)?;
            file.write_all(ciphertext)?;
            file.sync_all()?;
            fs::rename(&temporary, &path)?;
            File::open(&self.dir)?.sync_all()
        })();
        if written.is_err() {
            let _ = fs::remove_file(&temporary);
        }
        written.map_err(write)?;
        Ok(ContentFile { hash, len: ciphertext.len() as u64 })
    }

    /// The ciphertext of `file`, checked against its hash.
    pub fn get(&self, file: &ContentFile) -> Result<Vec<u8>, ContentStoreError> {
        let path = self.path(&file.hash);
        let read = |source| ContentStoreError::Read { path: path.clone(), source };
        let mut bytes = Vec::new();
        File::open(&path).map_err(read)?.take(MAX_CONTENT_FILE_BYTES as u64 + 64).read_to_end(&mut bytes).map_err(read)?;
        if *blake3::hash(&bytes).as_bytes() != file.hash || bytes.len() as u64 != file.len {
            return Err(ContentStoreError::Damaged { path });
        }
        Ok(bytes)
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stored_file_reads_back_and_a_damaged_one_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let store = ContentStore::new(dir.path().join("contents"));
        let file = store.put(b"ciphertext").unwrap();
        assert_eq!(store.get(&file).unwrap(), b"ciphertext");
        fs::write(store.path(&file.hash), b"ciphertexT").unwrap();
        assert!(matches!(store.get(&file), Err(ContentStoreError::Damaged { .. })));
    }
}
