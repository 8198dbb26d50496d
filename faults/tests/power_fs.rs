//! The power-loss pass-through itself: reads see unsynced writes, a power cut
//! keeps exactly what was fsynced (metadata at once, data at fsync), and a
//! clean unmount keeps everything.
// Test and benchmark code: a failed set-up or check stops it loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::Path;
use std::sync::atomic::Ordering;

use encore_faults::power::PowerLossFs;

fn dirs() -> Option<(tempfile::TempDir, std::path::PathBuf, std::path::PathBuf)> {
    // Machines of this kind have FUSE: without it the test fails, not skips.
    assert!(Path::new("/dev/fuse").exists(), "the pass-through's tests need /dev/fuse");
    let dir = tempfile::tempdir().unwrap();
    let (backing, mnt) = (dir.path().join("backing"), dir.path().join("mnt"));
    std::fs::create_dir_all(&backing).unwrap();
    std::fs::create_dir_all(&mnt).unwrap();
    Some((dir, backing, mnt))
}

fn read(path: &Path) -> Vec<u8> {
    let mut content = Vec::new();
    File::open(path).unwrap().read_to_end(&mut content).unwrap();
    content
}

#[test]
fn a_power_cut_keeps_what_was_synced_and_nothing_else() {
    let Some((_dir, backing, mnt)) = dirs() else { return };
    let fs = PowerLossFs::mount(&backing, &mnt).unwrap();
    std::fs::create_dir(mnt.join("sub")).unwrap();
    // Never synced: the file exists after the cut (metadata), empty.
    File::create(mnt.join("sub/never")).unwrap().write_all(b"lost").unwrap();
    // Synced, then appended to: the synced prefix survives.
    let mut half = File::create(mnt.join("half")).unwrap();
    half.write_all(b"kept").unwrap();
    half.sync_data().unwrap();
    half.write_all(b"+lost").unwrap();
    assert_eq!(read(&mnt.join("half")), b"kept+lost", "reads see unsynced data");
    assert_eq!(std::fs::metadata(mnt.join("half")).unwrap().len(), 9);
    // Synced, then truncated without a sync: the truncate is lost.
    let mut long = File::create(mnt.join("long")).unwrap();
    long.write_all(b"0123456789").unwrap();
    long.sync_all().unwrap();
    long.set_len(3).unwrap();
    assert_eq!(read(&mnt.join("long")), b"012");
    // Written, synced, renamed over another file: the rename and the data survive.
    std::fs::write(mnt.join("target"), b"old").unwrap();
    let mut tmp = File::create(mnt.join("tmp")).unwrap();
    tmp.write_all(b"new").unwrap();
    tmp.sync_all().unwrap();
    std::fs::rename(mnt.join("tmp"), mnt.join("target")).unwrap();
    assert_eq!(read(&mnt.join("target")), b"new");
    // Reopened and overwritten in the middle, unsynced.
    let mut mid = OpenOptions::new().write(true).open(mnt.join("half")).unwrap();
    mid.write_all(b"K").unwrap();
    drop((half, long, tmp, mid));
    let stats = fs.stats();
    fs.cut();
    assert_eq!(stats.fsyncs.load(Ordering::Relaxed), 3);
    assert!(stats.dropped_bytes.load(Ordering::Relaxed) > 0);
    assert_eq!(read(&backing.join("sub/never")), b"");
    assert_eq!(read(&backing.join("half")), b"kept");
    assert_eq!(read(&backing.join("long")), b"0123456789");
    assert_eq!(read(&backing.join("target")), b"new");
    assert!(!backing.join("tmp").exists());
    // Mounted again, the pass-through shows the same.
    let fs = PowerLossFs::mount(&backing, &mnt).unwrap();
    assert_eq!(read(&mnt.join("half")), b"kept");
    let mut names: Vec<String> = std::fs::read_dir(&mnt).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    names.sort();
    assert_eq!(names, ["half", "long", "sub", "target"]);
    drop(fs);
}

#[test]
fn a_clean_unmount_keeps_everything() {
    let Some((_dir, backing, mnt)) = dirs() else { return };
    let fs = PowerLossFs::mount(&backing, &mnt).unwrap();
    std::fs::write(mnt.join("file"), b"unsynced but cleanly unmounted").unwrap();
    drop(fs);
    assert_eq!(read(&backing.join("file")), b"unsynced but cleanly unmounted");
}
