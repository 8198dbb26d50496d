//! A station's journal: the requests it has started and not yet finished,
//! one small JSON file each, written before the request is sent (temporary
//! file, fsync, rename, fsync of the directory) and removed once its result
//! is on the card. A station that restarts finds them and finishes each
//! with the same idempotency key, so the server answers from its log and
//! nothing is charged or counted twice.

use std::fs::{self, File};
use std::io::Read;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use serde::Serialize;

/// An entry is a few hundred bytes; anything bigger is not ours.
const MAX_ENTRY_BYTES: u64 = 64 * 1024;

pub struct Journal {
    dir: PathBuf,
}

impl Journal {
    /// The journal in `dir` (made if missing).
    pub fn open(dir: &Path) -> Result<Journal, String> {
        fs::create_dir_all(dir).map_err(|e| format!("journal {}: {e}", dir.display()))?;
        Ok(Journal { dir: dir.to_path_buf() })
    }

    fn path(&self, key: &str) -> PathBuf {
        self.dir.join(format!("{key}.json"))
    }

    /// Records `entry` under `key`, durably, before its request goes out.
    pub fn put<T: Serialize>(&self, key: &str, entry: &T) -> Result<(), String> {
        let path = self.path(key);
        let fail = |e: std::io::Error| format!("journal {}: {e}", path.display());
        let bytes = serde_json::to_vec(entry).map_err(|e| format!("journal entry {key}: {e}"))?;
        super::write_atomically(&path, &bytes).map_err(fail)
    }

    /// Forgets `key` once its result is safe.
    pub fn remove(&self, key: &str) -> Result<(), String> {
        let path = self.path(key);
        match fs::remove_file(&path) {
            Ok(()) => File::open(&self.dir).and_then(|d| d.sync_all()).map_err(|e| format!("journal {}: {e}", self.dir.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(format!("journal {}: {e}", path.display())),
        }
    }

    /// Every unfinished entry, oldest name first; a damaged one is an error naming its file.
    pub fn pending<T: DeserializeOwned>(&self) -> Result<Vec<(String, T)>, String> {
        let mut names: Vec<String> = fs::read_dir(&self.dir)
            .map_err(|e| format!("journal {}: {e}", self.dir.display()))?
            .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
            .filter(|name| !name.starts_with('.') && name.ends_with(".json"))
            .collect();
        names.sort();
        let mut out = Vec::with_capacity(names.len());
        for name in names {
            let path = self.dir.join(&name);
            let mut bytes = Vec::new();
            File::open(&path).and_then(|f| f.take(MAX_ENTRY_BYTES).read_to_end(&mut bytes)).map_err(|e| format!("journal {}: {e}", path.display()))?;
            let entry = serde_json::from_slice(&bytes).map_err(|e| format!("journal {} is damaged: {e}", path.display()))?;
            out.push((name.trim_end_matches(".json").to_string(), entry));
        }
        Ok(out)
    }
}
