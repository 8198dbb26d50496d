//! Real disk faults for the fault tests of every crate: a small tmpfs that
//! fills up (ENOSPC), and an LD_PRELOAD shim whose fsync and fdatasync fail
//! with EIO while a trigger file exists (`fail_sync.c`, built here with the
//! system's C compiler). Mounting needs root, which `./x test` has on this
//! kind of machine.

use std::path::{Path, PathBuf};
use std::process::Command;

/// A tmpfs mounted by a test, unmounted when dropped.
#[derive(Debug)]
pub struct Tmpfs(PathBuf);

impl Tmpfs {
    /// Mounts a tmpfs of `size` (`6m`, `24m`) at `dir`.
    pub fn mount(dir: &Path, size: &str) -> Result<Tmpfs, String> {
        let status = Command::new("mount").args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"]).arg(dir).status().map_err(|e| e.to_string())?;
        if !status.success() {
            return Err(format!("mounting a tmpfs at {} failed: fault tests need root", dir.display()));
        }
        Ok(Tmpfs(dir.to_path_buf()))
    }

    /// Clears the fault: the same file system, now `size` large.
    pub fn grow(&self, size: &str) -> Result<(), String> {
        let status = Command::new("mount").args(["-o", &format!("remount,size={size}")]).arg(&self.0).status().map_err(|e| e.to_string())?;
        status.success().then_some(()).ok_or_else(|| format!("remounting {} failed", self.0.display()))
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

const FAIL_SYNC_SOURCE: &str = include_str!("fail_sync.c");

/// The environment variable naming the shim's trigger file.
pub const FAIL_SYNC_TRIGGER_ENV: &str = "ENCORE_FAIL_SYNC_WHEN";

/// Builds the EIO shim into `dir`; returns the library's path, for `LD_PRELOAD`.
pub fn build_fail_sync_shim(dir: &Path) -> Result<PathBuf, String> {
    let source = dir.join("fail_sync.c");
    let library = dir.join("libfail_sync.so");
    std::fs::write(&source, FAIL_SYNC_SOURCE).map_err(|e| e.to_string())?;
    let built = Command::new("cc").args(["-shared", "-fPIC", "-O1", "-o"]).arg(&library).arg(&source).arg("-ldl").status().map_err(|e| e.to_string())?;
    built.success().then_some(library).ok_or_else(|| "cc could not build the fsync shim".to_string())
}
