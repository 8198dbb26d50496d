//! Power loss, not only kill -9: a FUSE pass-through over a backing directory
//! that keeps every byte written since a file's last fsync in memory and
//! throws it away at a power cut.
//!
//! Metadata (lookup, create, mkdir, rename, unlink, rmdir, chmod, readdir,
//! statfs, fsyncdir) goes straight to the backing directory, as if every
//! metadata change were journalled at once. File data is not: the first write
//! (or truncate) after a sync reads the backing file into an overlay, and from
//! then on reads, writes and the size are served from that overlay until
//! `fsync`/`fdatasync` writes the whole overlay back, truncates the backing
//! file to its length and syncs it. [`Mounted::cut`] drops every overlay
//! unwritten and unmounts: the backing directory is then what a power cut
//! would have left on the disk.
//! [`Mounted::cut_tearing`] lets a random half of the unsynced pages reach
//! the disk first, as a cut in the middle of a cache write-back would.

use std::collections::HashMap;
use std::ffi::{CString, OsStr};
use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, UNIX_EPOCH};

use fuser::{
    BackgroundSession, BsdFileFlags, Config, Errno, FileAttr, FileHandle, FileType, Filesystem, FopenFlags, Generation, INodeNo, LockOwner, MountOption,
    OpenFlags, RenameFlags, ReplyAttr, ReplyCreate, ReplyData, ReplyDirectory, ReplyEmpty, ReplyEntry, ReplyOpen, ReplyStatfs, ReplyWrite, Request, TimeOrNow,
    WriteFlags,
};

/// The root directory's inode.
const FUSE_ROOT_ID: u64 = INodeNo::ROOT.0;

/// Attributes and entries are not cached by the kernel: every size it sees
/// comes from the overlay or the backing file at that moment.
const TTL: Duration = Duration::ZERO;

/// What the pass-through knows, shared between the session thread and [`Mounted`].
#[derive(Default)]
struct State {
    /// Inode -> its path relative to the backing root (`None` once unlinked or replaced).
    paths: HashMap<u64, Option<PathBuf>>,
    /// Relative path -> inode, for the paths currently linked.
    inodes: HashMap<PathBuf, u64>,
    next_ino: u64,
    /// Open backing files by file handle.
    handles: HashMap<u64, (u64, File)>,
    next_fh: u64,
    /// Inode -> the file's whole content since its last sync (the unsynced data).
    dirty: HashMap<u64, Vec<u8>>,
    /// Set by the power cut: from then on nothing reaches the backing directory.
    cut: bool,
    /// A disk that lies about the files this matches (relative paths): their
    /// fsync succeeds and writes nothing (the tests' negative control).
    lies_about: Option<fn(&Path) -> bool>,
}

/// Counters for a test's report.
#[derive(Default, Debug)]
pub struct Stats {
    /// `fsync` and `fdatasync` calls that reached the file system.
    pub fsyncs: AtomicU64,
    /// `write` calls kept in an overlay.
    pub writes: AtomicU64,
    /// Unsynced bytes the power cut threw away (those that differ from the disk).
    pub dropped_bytes: AtomicU64,
    /// Unsynced 4 KiB pages a tearing power cut let reach the disk anyway.
    pub torn_pages: AtomicU64,
}

/// The page a tearing power cut keeps or drops as a whole.
const PAGE: usize = 4096;

/// The FUSE file system: a backing root and the shared state.
pub struct PowerLossFs {
    root: PathBuf,
    state: Arc<Mutex<State>>,
    stats: Arc<Stats>,
}

/// A mounted [`PowerLossFs`]: cut the power with [`Mounted::cut`]; dropping it
/// unmounts cleanly (overlays written back, like a clean shutdown).
pub struct Mounted {
    session: Option<BackgroundSession>,
    state: Arc<Mutex<State>>,
    stats: Arc<Stats>,
    root: PathBuf,
    mountpoint: PathBuf,
}

fn errno(e: &io::Error) -> i32 {
    e.raw_os_error().unwrap_or(libc::EIO)
}

/// A reply's error from a raw errno.
fn err(code: i32) -> Errno {
    Errno::from_i32(code)
}

fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn kind_of(meta: &std::fs::Metadata) -> FileType {
    let t = meta.file_type();
    if t.is_dir() {
        FileType::Directory
    } else if t.is_symlink() {
        FileType::Symlink
    } else {
        FileType::RegularFile
    }
}

fn attr_of(ino: u64, meta: &std::fs::Metadata, size: Option<u64>) -> FileAttr {
    let time = |secs: i64, nsecs: i64| {
        if secs >= 0 {
            UNIX_EPOCH + Duration::new(secs.unsigned_abs(), u32::try_from(nsecs).unwrap_or(0))
        } else {
            UNIX_EPOCH
        }
    };
    let size = size.unwrap_or(meta.size());
    FileAttr {
        ino: INodeNo(ino),
        size,
        blocks: size.div_ceil(512),
        atime: time(meta.atime(), meta.atime_nsec()),
        mtime: time(meta.mtime(), meta.mtime_nsec()),
        ctime: time(meta.ctime(), meta.ctime_nsec()),
        crtime: UNIX_EPOCH,
        kind: kind_of(meta),
        perm: u16::try_from(meta.mode() & 0o7777).unwrap_or(0o644),
        nlink: u32::try_from(meta.nlink()).unwrap_or(1),
        uid: meta.uid(),
        gid: meta.gid(),
        rdev: u32::try_from(meta.rdev()).unwrap_or(0),
        blksize: 4096,
        flags: 0,
    }
}

impl State {
    fn path(&self, ino: u64) -> Option<PathBuf> {
        self.paths.get(&ino).cloned().flatten()
    }

    /// The inode for a linked relative path, assigning one if it is new.
    fn ino_for(&mut self, rel: &Path) -> u64 {
        if let Some(&ino) = self.inodes.get(rel) {
            return ino;
        }
        self.next_ino += 1;
        let ino = self.next_ino;
        self.paths.insert(ino, Some(rel.to_path_buf()));
        self.inodes.insert(rel.to_path_buf(), ino);
        ino
    }

    /// Forgets the link at `rel`: its inode keeps its overlay for open handles but has no path.
    fn unlink_path(&mut self, rel: &Path) {
        if let Some(ino) = self.inodes.remove(rel) {
            self.paths.insert(ino, None);
        }
    }

    /// Moves every path at or under `from` to `to`.
    fn rename_paths(&mut self, from: &Path, to: &Path) {
        let moved: Vec<(PathBuf, u64)> = self.inodes.iter().filter(|(p, _)| p.starts_with(from)).map(|(p, &i)| (p.clone(), i)).collect();
        for (old, ino) in moved {
            self.inodes.remove(&old);
            let new = match old.strip_prefix(from) {
                Ok(rest) if rest.as_os_str().is_empty() => to.to_path_buf(),
                Ok(rest) => to.join(rest),
                Err(_) => continue,
            };
            self.paths.insert(ino, Some(new.clone()));
            self.inodes.insert(new, ino);
        }
    }
}

impl PowerLossFs {
    /// Unlink or rmdir: removes `name` under `parent` from the backing
    /// directory with `remove`, then forgets its path.
    fn remove(&self, parent: INodeNo, name: &OsStr, reply: ReplyEmpty, remove: impl FnOnce(&Path) -> io::Result<()>) {
        let mut st = lock(&self.state);
        let Some(dir) = st.path(parent.0) else { return reply.error(err(libc::ENOENT)) };
        let rel = dir.join(name);
        match remove(&self.full(&rel)) {
            Ok(()) => {
                st.unlink_path(&rel);
                reply.ok();
            }
            Err(e) => reply.error(err(errno(&e))),
        }
    }

    /// Mounts a pass-through of `backing` at `mountpoint` (both directories must exist).
    pub fn mount(backing: &Path, mountpoint: &Path) -> Result<Mounted, String> {
        Self::mount_with(backing, mountpoint, None)
    }

    /// Like [`PowerLossFs::mount`], but fsync of the files `lies_about` matches
    /// (by path relative to the backing root) only pretends: it succeeds and
    /// keeps their data in memory, so a power cut loses all of it. A negative
    /// control: a check that passes on this disk proves nothing.
    pub fn mount_lying(backing: &Path, mountpoint: &Path, lies_about: fn(&Path) -> bool) -> Result<Mounted, String> {
        Self::mount_with(backing, mountpoint, Some(lies_about))
    }

    fn mount_with(backing: &Path, mountpoint: &Path, lies_about: Option<fn(&Path) -> bool>) -> Result<Mounted, String> {
        let root = backing.canonicalize().map_err(|e| format!("backing directory {}: {e}", backing.display()))?;
        let mut state = State { next_ino: FUSE_ROOT_ID, next_fh: 0, lies_about, ..State::default() };
        state.paths.insert(FUSE_ROOT_ID, Some(PathBuf::new()));
        state.inodes.insert(PathBuf::new(), FUSE_ROOT_ID);
        let state = Arc::new(Mutex::new(state));
        let stats = Arc::new(Stats::default());
        let fs = PowerLossFs { root: root.clone(), state: Arc::clone(&state), stats: Arc::clone(&stats) };
        let mut config = Config::default();
        config.mount_options = vec![MountOption::FSName("encore-power-loss".into()), MountOption::RW];
        let session = fuser::spawn_mount(fs, mountpoint, &config).map_err(|e| format!("mounting at {}: {e}", mountpoint.display()))?;
        Ok(Mounted { session: Some(session), state, stats, root, mountpoint: mountpoint.to_path_buf() })
    }

    fn full(&self, rel: &Path) -> PathBuf {
        self.root.join(rel)
    }

    /// The attributes of a linked inode, its size from the overlay where there is one.
    fn attr(&self, st: &State, ino: u64) -> Result<FileAttr, i32> {
        let rel = st.path(ino).ok_or(libc::ENOENT)?;
        let meta = std::fs::symlink_metadata(self.full(&rel)).map_err(|e| errno(&e))?;
        Ok(attr_of(ino, &meta, st.dirty.get(&ino).map(|d| d.len() as u64)))
    }

    /// The attributes of an open handle's inode (works after unlink too).
    fn attr_by_handle(&self, st: &State, ino: u64, fh: u64) -> Result<FileAttr, i32> {
        match st.handles.get(&fh) {
            Some((_, file)) => {
                let meta = file.metadata().map_err(|e| errno(&e))?;
                Ok(attr_of(ino, &meta, st.dirty.get(&ino).map(|d| d.len() as u64)))
            }
            None => self.attr(st, ino),
        }
    }

    /// Answers a getattr or setattr: the attributes through the handle if one is given.
    fn reply_attr(&self, st: &State, ino: u64, fh: Option<u64>, reply: ReplyAttr) {
        let attr = match fh {
            Some(fh) => self.attr_by_handle(st, ino, fh),
            None => self.attr(st, ino),
        };
        match attr {
            Ok(attr) => reply.attr(&TTL, &attr),
            Err(e) => reply.error(err(e)),
        }
    }

    /// The inode's overlay, loaded from the backing file on first use since the last sync.
    fn overlay<'s>(&self, st: &'s mut State, ino: u64, fh: Option<u64>) -> Result<&'s mut Vec<u8>, i32> {
        if !st.dirty.contains_key(&ino) {
            let content = match fh.and_then(|fh| st.handles.get(&fh)) {
                Some((_, file)) => read_all(file).map_err(|e| errno(&e))?,
                None => {
                    let rel = st.path(ino).ok_or(libc::ENOENT)?;
                    std::fs::read(self.full(&rel)).map_err(|e| errno(&e))?
                }
            };
            st.dirty.insert(ino, content);
        }
        st.dirty.get_mut(&ino).ok_or(libc::EIO)
    }

    /// Opens the backing file for a handle (always read-write: we are the only writer,
    /// and the overlay is loaded through it).
    fn open_backing(&self, rel: &Path, flags: i32, create: Option<u32>) -> io::Result<File> {
        let strip = libc::O_ACCMODE | libc::O_TRUNC | libc::O_APPEND | libc::O_CREAT | libc::O_EXCL | libc::O_DIRECT;
        let mut options = OpenOptions::new();
        options.read(true).write(true).custom_flags(flags & !strip);
        if let Some(mode) = create {
            options.create(true).mode(mode);
            if flags & libc::O_EXCL != 0 {
                options.create_new(true);
            }
        }
        options.open(self.full(rel))
    }
}

fn read_all(file: &File) -> io::Result<Vec<u8>> {
    let len = usize::try_from(file.metadata()?.len()).map_err(|_| io::Error::from_raw_os_error(libc::EFBIG))?;
    let mut content = vec![0; len];
    file.read_exact_at(&mut content, 0)?;
    Ok(content)
}

/// Writes an overlay to its backing file and syncs it.
fn write_back(file: &File, content: &[u8], datasync: bool) -> io::Result<()> {
    file.write_all_at(content, 0)?;
    file.set_len(content.len() as u64)?;
    if datasync {
        file.sync_data()
    } else {
        file.sync_all()
    }
}

impl Filesystem for PowerLossFs {
    fn lookup(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEntry) {
        let parent = parent.0;
        let mut st = lock(&self.state);
        let Some(dir) = st.path(parent) else { return reply.error(err(libc::ENOENT)) };
        let rel = dir.join(name);
        match std::fs::symlink_metadata(self.full(&rel)) {
            Ok(meta) => {
                let ino = st.ino_for(&rel);
                let size = st.dirty.get(&ino).map(|d| d.len() as u64);
                reply.entry(&TTL, &attr_of(ino, &meta, size), Generation(0));
            }
            Err(e) => reply.error(err(errno(&e))),
        }
    }

    fn getattr(&self, _req: &Request, ino: INodeNo, fh: Option<FileHandle>, reply: ReplyAttr) {
        let (ino, fh) = (ino.0, fh.map(|fh| fh.0));
        let st = lock(&self.state);
        self.reply_attr(&st, ino, fh, reply);
    }

    fn setattr(
        &self,
        _req: &Request,
        ino: INodeNo,
        mode: Option<u32>,
        uid: Option<u32>,
        gid: Option<u32>,
        size: Option<u64>,
        _atime: Option<TimeOrNow>,
        _mtime: Option<TimeOrNow>,
        _ctime: Option<std::time::SystemTime>,
        fh: Option<FileHandle>,
        _crtime: Option<std::time::SystemTime>,
        _chgtime: Option<std::time::SystemTime>,
        _bkuptime: Option<std::time::SystemTime>,
        _flags: Option<BsdFileFlags>,
        reply: ReplyAttr,
    ) {
        let (ino, fh) = (ino.0, fh.map(|fh| fh.0));
        let mut st = lock(&self.state);
        if st.cut {
            return reply.error(err(libc::EIO));
        }
        let rel = st.path(ino);
        if let (Some(mode), Some(rel)) = (mode, rel.as_ref()) {
            if let Err(e) = std::fs::set_permissions(self.full(rel), std::fs::Permissions::from_mode(mode)) {
                return reply.error(err(errno(&e)));
            }
        }
        if let (true, Some(rel)) = (uid.is_some() || gid.is_some(), rel.as_ref()) {
            if let Err(e) = std::os::unix::fs::chown(self.full(rel), uid, gid) {
                return reply.error(err(errno(&e)));
            }
        }
        if let Some(size) = size {
            // A truncate is data: it lives in the overlay until the next sync.
            match self.overlay(&mut st, ino, fh) {
                Ok(overlay) => overlay.resize(usize::try_from(size).unwrap_or(usize::MAX), 0),
                Err(e) => return reply.error(err(e)),
            }
        }
        self.reply_attr(&st, ino, fh, reply);
    }

    fn mkdir(&self, _req: &Request, parent: INodeNo, name: &OsStr, mode: u32, umask: u32, reply: ReplyEntry) {
        let parent = parent.0;
        let mut st = lock(&self.state);
        let Some(dir) = st.path(parent) else { return reply.error(err(libc::ENOENT)) };
        let rel = dir.join(name);
        let full = self.full(&rel);
        let made = std::fs::create_dir(&full)
            .and_then(|()| std::fs::set_permissions(&full, std::fs::Permissions::from_mode(mode & !umask & 0o7777)))
            .and_then(|()| std::fs::symlink_metadata(&full));
        match made {
            Ok(meta) => {
                let ino = st.ino_for(&rel);
                reply.entry(&TTL, &attr_of(ino, &meta, None), Generation(0));
            }
            Err(e) => reply.error(err(errno(&e))),
        }
    }

    fn unlink(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        self.remove(parent, name, reply, |p| std::fs::remove_file(p));
    }

    fn rmdir(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        self.remove(parent, name, reply, |p| std::fs::remove_dir(p));
    }

    fn rename(&self, _req: &Request, parent: INodeNo, name: &OsStr, newparent: INodeNo, newname: &OsStr, flags: RenameFlags, reply: ReplyEmpty) {
        let (parent, newparent) = (parent.0, newparent.0);
        let mut st = lock(&self.state);
        if !flags.is_empty() {
            return reply.error(err(libc::EINVAL));
        }
        let (Some(from_dir), Some(to_dir)) = (st.path(parent), st.path(newparent)) else { return reply.error(err(libc::ENOENT)) };
        let (from, to) = (from_dir.join(name), to_dir.join(newname));
        match std::fs::rename(self.full(&from), self.full(&to)) {
            Ok(()) => {
                // The replaced file (if any) keeps its inode and overlay for open handles only.
                st.unlink_path(&to);
                st.rename_paths(&from, &to);
                reply.ok();
            }
            Err(e) => reply.error(err(errno(&e))),
        }
    }

    fn open(&self, _req: &Request, ino: INodeNo, flags: OpenFlags, reply: ReplyOpen) {
        let (ino, flags) = (ino.0, flags.0);
        let mut st = lock(&self.state);
        let Some(rel) = st.path(ino) else { return reply.error(err(libc::ENOENT)) };
        match self.open_backing(&rel, flags, None) {
            Ok(file) => {
                st.next_fh += 1;
                let fh = st.next_fh;
                st.handles.insert(fh, (ino, file));
                reply.opened(FileHandle(fh), FopenFlags::empty());
            }
            Err(e) => reply.error(err(errno(&e))),
        }
    }

    fn create(&self, _req: &Request, parent: INodeNo, name: &OsStr, mode: u32, umask: u32, flags: i32, reply: ReplyCreate) {
        let parent = parent.0;
        let mut st = lock(&self.state);
        if st.cut {
            return reply.error(err(libc::EIO));
        }
        let Some(dir) = st.path(parent) else { return reply.error(err(libc::ENOENT)) };
        let rel = dir.join(name);
        let opened = self.open_backing(&rel, flags, Some(mode & !umask & 0o7777)).and_then(|file| file.metadata().map(|meta| (file, meta)));
        match opened {
            Ok((file, meta)) => {
                let ino = st.ino_for(&rel);
                let truncating = flags & libc::O_TRUNC != 0;
                if truncating {
                    st.dirty.insert(ino, Vec::new());
                }
                let size = st.dirty.get(&ino).map(|d| d.len() as u64);
                st.next_fh += 1;
                let fh = st.next_fh;
                st.handles.insert(fh, (ino, file));
                reply.created(&TTL, &attr_of(ino, &meta, size), Generation(0), FileHandle(fh), FopenFlags::empty());
            }
            Err(e) => reply.error(err(errno(&e))),
        }
    }

    fn read(&self, _req: &Request, ino: INodeNo, fh: FileHandle, offset: u64, size: u32, _flags: OpenFlags, _lock: Option<LockOwner>, reply: ReplyData) {
        let (ino, fh) = (ino.0, fh.0);
        let st = lock(&self.state);
        let start = usize::try_from(offset).unwrap_or(0);
        if let Some(overlay) = st.dirty.get(&ino) {
            let from = start.min(overlay.len());
            let to = start.saturating_add(size as usize).min(overlay.len());
            return reply.data(&overlay[from..to]);
        }
        let Some((_, file)) = st.handles.get(&fh) else { return reply.error(err(libc::EBADF)) };
        let mut buf = vec![0; size as usize];
        let mut filled = 0;
        while filled < buf.len() {
            match file.read_at(&mut buf[filled..], (start + filled) as u64) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return reply.error(err(errno(&e))),
            }
        }
        reply.data(&buf[..filled]);
    }

    fn write(
        &self,
        _req: &Request,
        ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        data: &[u8],
        _wflags: WriteFlags,
        _flags: OpenFlags,
        _lock: Option<LockOwner>,
        reply: ReplyWrite,
    ) {
        let (ino, fh) = (ino.0, fh.0);
        let mut st = lock(&self.state);
        if st.cut {
            return reply.error(err(libc::EIO));
        }
        let start = usize::try_from(offset).unwrap_or(0);
        match self.overlay(&mut st, ino, Some(fh)) {
            Ok(overlay) => {
                let end = start + data.len();
                if overlay.len() < end {
                    overlay.resize(end, 0);
                }
                overlay[start..end].copy_from_slice(data);
                self.stats.writes.fetch_add(1, Ordering::Relaxed);
                reply.written(u32::try_from(data.len()).unwrap_or(u32::MAX));
            }
            Err(e) => reply.error(err(e)),
        }
    }

    fn flush(&self, _req: &Request, _ino: INodeNo, _fh: FileHandle, _lock_owner: LockOwner, reply: ReplyEmpty) {
        // close(2) does not sync: the overlay stays.
        reply.ok();
    }

    fn release(&self, _req: &Request, _ino: INodeNo, fh: FileHandle, _flags: OpenFlags, _lock: Option<LockOwner>, _flush: bool, reply: ReplyEmpty) {
        let fh = fh.0;
        let mut st = lock(&self.state);
        st.handles.remove(&fh);
        reply.ok();
    }

    fn fsync(&self, _req: &Request, ino: INodeNo, fh: FileHandle, datasync: bool, reply: ReplyEmpty) {
        let (ino, fh) = (ino.0, fh.0);
        let mut st = lock(&self.state);
        if st.cut {
            return reply.error(err(libc::EIO));
        }
        self.stats.fsyncs.fetch_add(1, Ordering::Relaxed);
        if let (Some(lies), Some(rel)) = (st.lies_about, st.path(ino)) {
            if lies(&rel) {
                return reply.ok();
            }
        }
        let Some((_, file)) = st.handles.get(&fh) else { return reply.error(err(libc::EBADF)) };
        let synced = match st.dirty.get(&ino) {
            Some(content) => write_back(file, content, datasync),
            None if datasync => file.sync_data(),
            None => file.sync_all(),
        };
        match synced {
            Ok(()) => {
                st.dirty.remove(&ino);
                reply.ok();
            }
            Err(e) => reply.error(err(errno(&e))),
        }
    }

    fn readdir(&self, _req: &Request, ino: INodeNo, _fh: FileHandle, offset: u64, mut reply: ReplyDirectory) {
        let ino = ino.0;
        let mut st = lock(&self.state);
        let Some(rel) = st.path(ino) else { return reply.error(err(libc::ENOENT)) };
        let read = match std::fs::read_dir(self.full(&rel)) {
            Ok(read) => read,
            Err(e) => return reply.error(err(errno(&e))),
        };
        let mut entries: Vec<(u64, FileType, std::ffi::OsString)> = vec![(ino, FileType::Directory, ".".into()), (ino, FileType::Directory, "..".into())];
        for entry in read {
            let entry = match entry {
                Ok(entry) => entry,
                Err(e) => return reply.error(err(errno(&e))),
            };
            let kind = match entry.file_type() {
                Ok(t) if t.is_dir() => FileType::Directory,
                Ok(t) if t.is_symlink() => FileType::Symlink,
                _ => FileType::RegularFile,
            };
            let child = st.ino_for(&rel.join(entry.file_name()));
            entries.push((child, kind, entry.file_name()));
        }
        for (i, (child, kind, name)) in entries.into_iter().enumerate().skip(usize::try_from(offset).unwrap_or(0)) {
            if reply.add(INodeNo(child), (i + 1) as u64, kind, name) {
                break;
            }
        }
        reply.ok();
    }

    fn fsyncdir(&self, _req: &Request, ino: INodeNo, _fh: FileHandle, _datasync: bool, reply: ReplyEmpty) {
        let ino = ino.0;
        let st = lock(&self.state);
        if st.cut {
            return reply.error(err(libc::EIO));
        }
        let Some(rel) = st.path(ino) else { return reply.error(err(libc::ENOENT)) };
        match File::open(self.full(&rel)).and_then(|dir| dir.sync_all()) {
            Ok(()) => reply.ok(),
            Err(e) => reply.error(err(errno(&e))),
        }
    }

    fn statfs(&self, _req: &Request, _ino: INodeNo, reply: ReplyStatfs) {
        let Ok(path) = CString::new(self.root.as_os_str().as_bytes()) else { return reply.error(err(libc::EINVAL)) };
        // SAFETY: `path` is a NUL-terminated string and `buf` a properly sized, writable statvfs.
        let mut buf: libc::statvfs = unsafe { std::mem::zeroed() };
        // SAFETY: as above; statvfs only writes into `buf`.
        if unsafe { libc::statvfs(path.as_ptr(), &mut buf) } != 0 {
            return reply.error(err(errno(&io::Error::last_os_error())));
        }
        let narrow = |v: u64| u32::try_from(v).unwrap_or(u32::MAX);
        #[allow(clippy::useless_conversion)]
        reply.statfs(
            buf.f_blocks.into(),
            buf.f_bfree.into(),
            buf.f_bavail.into(),
            buf.f_files.into(),
            buf.f_ffree.into(),
            narrow(buf.f_bsize),
            narrow(buf.f_namemax),
            narrow(buf.f_frsize),
        );
    }

    fn fallocate(&self, _req: &Request, _ino: INodeNo, _fh: FileHandle, _offset: u64, _length: u64, _mode: i32, reply: ReplyEmpty) {
        reply.error(err(libc::ENOSYS));
    }
}

impl Mounted {
    /// The power cut: every unsynced overlay is thrown away unwritten, nothing
    /// more reaches the backing directory, and the file system is unmounted.
    pub fn cut(mut self) {
        {
            let mut st = lock(&self.state);
            st.cut = true;
            let mut dropped = 0u64;
            for (ino, overlay) in &st.dirty {
                // What differs from the disk (bytes changed or added; a lost truncate counts nothing).
                let on_disk = match st.handles.values().find(|(i, _)| i == ino) {
                    Some((_, file)) => read_all(file).unwrap_or_default(),
                    None => st.path(*ino).and_then(|rel| std::fs::read(self.root.join(rel)).ok()).unwrap_or_default(),
                };
                dropped += overlay.iter().enumerate().filter(|&(i, b)| on_disk.get(i) != Some(b)).count() as u64;
            }
            self.stats.dropped_bytes.fetch_add(dropped, Ordering::Relaxed);
            st.dirty.clear();
            st.handles.clear();
        }
        drop(self.session.take());
    }

    /// A power cut that tears: of each file's unsynced data, a random half of
    /// the 4 KiB pages (and, for a shortened file, the truncate by a coin
    /// flip) reach the disk anyway, in no order, as a disk that was mid-way
    /// through writing back its cache would leave them; the rest is dropped.
    /// `seed` drives the choice (a xorshift generator; tests print it).
    pub fn cut_tearing(self, seed: u64) {
        {
            let st = lock(&self.state);
            let mut rng = seed | 1;
            let mut coin = move || {
                rng ^= rng << 13;
                rng ^= rng >> 7;
                rng ^= rng << 17;
                rng & 1 == 1
            };
            for (ino, overlay) in &st.dirty {
                let file = match st.handles.values().find(|(i, _)| i == ino) {
                    Some((_, file)) => file.try_clone(),
                    None => match st.path(*ino) {
                        Some(rel) => OpenOptions::new().read(true).write(true).open(self.root.join(rel)),
                        None => continue,
                    },
                };
                let torn = file.and_then(|file| {
                    let old = read_all(&file)?;
                    let mut pages = 0u64;
                    for start in (0..overlay.len()).step_by(PAGE) {
                        let end = (start + PAGE).min(overlay.len());
                        if old.get(start..end) != Some(&overlay[start..end]) && coin() {
                            file.write_all_at(&overlay[start..end], start as u64)?;
                            pages += 1;
                        }
                    }
                    if overlay.len() < old.len() && coin() {
                        file.set_len(overlay.len() as u64)?;
                    }
                    file.sync_data()?;
                    Ok(pages)
                });
                match torn {
                    Ok(pages) => {
                        self.stats.torn_pages.fetch_add(pages, Ordering::Relaxed);
                    }
                    Err(e) => eprintln!("power-loss fs: tearing inode {ino}: {e}"),
                }
            }
        }
        self.cut();
    }

    /// The counters (fsyncs, writes, bytes dropped) of this mount so far.
    pub fn stats(&self) -> Arc<Stats> {
        Arc::clone(&self.stats)
    }

    /// Where the file system is mounted.
    pub fn mountpoint(&self) -> &Path {
        &self.mountpoint
    }
}

impl Drop for Mounted {
    /// A clean unmount: overlays still dirty are written back and synced first.
    fn drop(&mut self) {
        if self.session.is_none() {
            return;
        }
        {
            let mut st = lock(&self.state);
            let dirty: Vec<(u64, Vec<u8>)> = st.dirty.drain().collect();
            for (ino, content) in dirty {
                let written = match st.handles.values().find(|(i, _)| *i == ino) {
                    Some((_, file)) => write_back(file, &content, false),
                    None => match st.path(ino) {
                        Some(rel) => OpenOptions::new().write(true).open(self.root.join(rel)).and_then(|file| write_back(&file, &content, false)),
                        None => Ok(()),
                    },
                };
                if let Err(e) = written {
                    eprintln!("power-loss fs: writing back inode {ino} at unmount: {e}");
                }
            }
            st.cut = true;
        }
        drop(self.session.take());
    }
}

/// The power-cut tests need FUSE, which machines of this kind have (tests run
/// as root): without `/dev/fuse` a test fails here, never passes untried.
pub fn require_fuse() {
    assert!(Path::new("/dev/fuse").exists(), "the power-cut tests need /dev/fuse");
}

/// How many power cuts a test runs (`ENCORE_POWER_CUTS`, else `default`) and
/// for how long at most (`ENCORE_POWER_SECONDS`, else 120 s).
pub fn cut_budget(default: u64) -> (u64, Duration) {
    let env = |name: &str| std::env::var(name).ok().and_then(|v| v.parse().ok());
    (env("ENCORE_POWER_CUTS").unwrap_or(default), Duration::from_secs(env("ENCORE_POWER_SECONDS").unwrap_or(120)))
}
