//! Damage found on open: bytes flipped in the WAL of a log that crashed
//! before its memtables were flushed, and in its table files after a clean
//! close. Every flip must be refused on open or located by verify; none may
//! shorten the log in silence (before the fix, one flipped byte in the middle
//! of an unflushed WAL made RocksDB's point-in-time recovery drop every later
//! record, and `verify` called what was left intact).
// Test and benchmark code: a failed set-up or check stops it loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};

use common::*;
use encore_ledger::{ExpectedVersion as EV, Head, Ledger, LedgerOptions, OpenError};

/// Appends `appends` batches of 5 events (about 200 bytes each) to `s{n % 7}`.
fn fill(log: &Ledger, appends: u128) {
    fill_from(log, 0, appends);
}

/// Like [`fill`], the appends numbered from `first` (so their event ids are new).
fn fill_from(log: &Ledger, first: u128, appends: u128) {
    for n in first..first + appends {
        let events = (0..5).map(|i| event(n * 5 + i + 1, &[(n % 251) as u8; 160])).collect();
        log.append(one(&format!("s{}", n % 7), EV::Any, events)).unwrap();
    }
}

/// A crash image: the directory as a kill -9 leaves it (every acknowledged
/// append synced in the WAL, nothing flushed to table files), taken by
/// copying the files while the log is still open.
fn crash_image(appends: u128) -> (tempfile::TempDir, PathBuf, Head) {
    let (dir, log) = temp_ledger();
    fill(&log, appends);
    let head = log.head();
    let image = dir.path().join("image");
    copy_dir(log.path(), &image);
    drop(log);
    assert!(wal_files(&image).iter().any(|f| std::fs::metadata(f).unwrap().len() > 0), "the image holds its records in the WAL");
    (dir, image, head)
}

fn copy_dir(from: &Path, to: &Path) {
    let _ = std::fs::remove_dir_all(to);
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        if entry.file_type().unwrap().is_file() {
            std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
        }
    }
}

fn files_ending(dir: &Path, suffix: &str) -> Vec<PathBuf> {
    let mut files: Vec<_> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).filter(|p| p.to_string_lossy().ends_with(suffix)).collect();
    files.sort();
    files
}

fn wal_files(dir: &Path) -> Vec<PathBuf> {
    files_ending(dir, ".log")
}

fn flip(file: &Path, offset: u64) {
    let mut bytes = std::fs::read(file).unwrap();
    bytes[offset as usize] ^= 0x40;
    std::fs::write(file, bytes).unwrap();
}

/// What an open of a damaged copy came to.
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
enum Outcome {
    /// Refused on open, with the error naming the damage.
    Refused,
    /// Opened with every acknowledged record, and verify found the damage.
    Located,
    /// Opened with every acknowledged record, intact (the flip hit bytes no record uses).
    Unharmed,
    /// Opened with fewer records than were acknowledged, or verify called a changed log intact.
    Shortened,
}

fn outcome(path: &Path, options: LedgerOptions, head: Head) -> (Outcome, String) {
    let log = match Ledger::open(path, options) {
        Ok(log) => log,
        Err(e) => {
            let named = matches!(
                e,
                OpenError::Corrupted { .. } | OpenError::AcknowledgedRecordsLost { .. } | OpenError::WatermarkMismatch { .. } | OpenError::DamagedTail { .. }
            );
            return (if named { Outcome::Refused } else { Outcome::Shortened }, e.to_string());
        }
    };
    match log.verify() {
        Err(e) => (Outcome::Located, e.to_string()),
        Ok(report) if !report.is_intact() => (Outcome::Located, report.problems[0].to_string()),
        Ok(_) if log.head() != head => (Outcome::Shortened, format!("head {} of {}", log.head().position, head.position)),
        Ok(report) if report.records == head.position => (Outcome::Unharmed, String::new()),
        Ok(report) => (Outcome::Shortened, format!("verify read {} records of {}", report.records, head.position)),
    }
}

/// Offsets spread over the whole file, its first and last bytes included.
fn offsets(len: u64, count: u64) -> Vec<u64> {
    let mut offsets: Vec<u64> = (0..count).map(|i| i * (len - 1) / (count - 1)).collect();
    offsets.extend([1, 2, 4, 5, 6, 7, len - 2, len - 3]);
    offsets.sort_unstable();
    offsets.dedup();
    offsets
}

#[test]
fn a_flipped_byte_anywhere_in_an_unflushed_wal_is_refused_never_a_shorter_log() {
    let (dir, image, head) = crash_image(300);
    assert!(Ledger::open(&image, LedgerOptions::read_only()).unwrap().head() == head, "the undamaged image recovers everything");
    let wal = wal_files(&image).into_iter().max_by_key(|f| std::fs::metadata(f).unwrap().len()).unwrap();
    let len = std::fs::metadata(&wal).unwrap().len();
    assert!(len > 4 * 32 * 1024, "the WAL spans several 32 KiB blocks ({len} bytes)");
    let copy = dir.path().join("copy");
    let mut counts = std::collections::BTreeMap::new();
    for offset in offsets(len, 120) {
        for options in [LedgerOptions::read_only(), LedgerOptions::default()] {
            copy_dir(&image, &copy);
            flip(&copy.join(wal.file_name().unwrap()), offset);
            let (outcome, detail) = outcome(&copy, options.clone(), head);
            assert_ne!(outcome, Outcome::Shortened, "WAL byte {offset} of {len} (read-only: {}): {detail}", options.read_only);
            *counts.entry(format!("{outcome:?}")).or_insert(0) += 1;
        }
    }
    eprintln!("WAL flips: {counts:?}");
    assert!(counts.get("Refused").copied().unwrap_or(0) > 200, "almost every flip lands in a record: {counts:?}");
}

/// The hole RocksDB's own checks leave: a record header whose length now
/// points past the end of the file reads as a torn tail and is dropped
/// without a word. The watermark knows those records were acknowledged.
#[test]
fn a_damaged_length_that_looks_like_a_torn_tail_is_caught_by_the_watermark() {
    let (dir, image, head) = crash_image(300);
    let wal = wal_files(&image).into_iter().max_by_key(|f| std::fs::metadata(f).unwrap().len()).unwrap();
    let bytes = std::fs::read(&wal).unwrap();
    let last = last_physical_record(&bytes);
    let copy = dir.path().join("copy");
    copy_dir(&image, &copy);
    let mut damaged = bytes.clone();
    damaged[last + 4..last + 6].copy_from_slice(&u16::MAX.to_le_bytes());
    std::fs::write(copy.join(wal.file_name().unwrap()), damaged).unwrap();
    let err = Ledger::open(&copy, LedgerOptions::default()).err().expect("a writable open is refused");
    match err {
        OpenError::AcknowledgedRecordsLost { acknowledged, recovered, .. } => {
            assert_eq!(acknowledged, head.position);
            assert!(recovered < acknowledged);
        }
        other => panic!("expected lost acknowledged records, got {other}"),
    }
    // An audit still opens it, and verify names the loss by position.
    let log = Ledger::open(&copy, LedgerOptions::read_only()).unwrap();
    let report = log.verify().unwrap();
    let first = report.first_problem().expect("verify reports the loss").to_string();
    assert!(first.contains("were acknowledged but are gone") && first.contains(&head.position.to_string()), "{first}");
    assert_eq!(report.problems[0].position, log.head().position + 1);
}

/// The offset of the last physical record in a RocksDB WAL (32 KiB blocks,
/// 7-byte headers: checksum, length, type; a block's last 6 bytes or fewer
/// are padding).
fn last_physical_record(wal: &[u8]) -> usize {
    const BLOCK: usize = 32 * 1024;
    let (mut at, mut last) = (0, 0);
    while at + 7 <= wal.len() {
        let left_in_block = BLOCK - at % BLOCK;
        if left_in_block < 7 {
            at += left_in_block;
            continue;
        }
        let length = usize::from(u16::from_le_bytes([wal[at + 4], wal[at + 5]]));
        if length == 0 && wal[at + 6] == 0 {
            break;
        }
        last = at;
        at += 7 + length;
    }
    last
}

/// A power cut's torn tail: the disk wrote back some of the WAL's unsynced
/// pages and not others, so after everything acknowledged a hole (a page of
/// zeros) is followed by later pages. RocksDB reports damage there; the
/// watermark shows it lies after every acknowledged record, so the log opens
/// up to the hole (the unacknowledged rest dropped), verifies and takes new
/// appends. The same hole before the watermark is still refused.
#[test]
fn a_hole_in_the_unacknowledged_tail_opens_at_the_hole_but_one_before_the_watermark_is_refused() {
    let (dir, log) = temp_ledger();
    fill(&log, 200);
    let acknowledged = log.head();
    let before = dir.path().join("before");
    copy_dir(log.path(), &before);
    fill_from(&log, 200, 200);
    let later = log.head();
    let after = dir.path().join("after");
    copy_dir(log.path(), &after);
    drop(log);
    let wal = wal_files(&after).into_iter().max_by_key(|f| std::fs::metadata(f).unwrap().len()).unwrap();
    let synced = std::fs::metadata(before.join(wal.file_name().unwrap())).unwrap().len() as usize;
    let mut bytes = std::fs::read(&wal).unwrap();
    // One page of zeros, 8 KiB into what was written after the acknowledged end.
    let hole = (synced + 8192) / 4096 * 4096;
    assert!(hole + 3 * 4096 < bytes.len(), "the tail spans pages after the hole");
    bytes[hole..hole + 4096].fill(0);
    let torn = |name: &str, watermark_from: &Path| {
        let image = dir.path().join(name);
        copy_dir(&after, &image);
        std::fs::write(image.join(wal.file_name().unwrap()), &bytes).unwrap();
        std::fs::copy(watermark_from.join("ACKNOWLEDGED"), image.join("ACKNOWLEDGED")).unwrap();
        image
    };

    let image = torn("torn", &before);
    let audit = Ledger::open(&image, LedgerOptions::read_only()).unwrap();
    assert!(audit.head().position >= acknowledged.position && audit.head().position < later.position, "read-only: head {}", audit.head().position);
    drop(audit);
    let log = Ledger::open(&image, LedgerOptions::default()).unwrap();
    let head = log.head().position;
    assert!(head >= acknowledged.position && head < later.position, "opened at {head}: acknowledged {}, written {}", acknowledged.position, later.position);
    assert!(log.verify().unwrap().is_intact());
    fill_from(&log, 400, 3);
    let grown = log.head();
    drop(log);
    let log = Ledger::open(&image, LedgerOptions::default()).unwrap();
    assert_eq!(log.head(), grown, "the reopened log keeps what was appended after the hole was dropped");
    assert!(log.verify().unwrap().is_intact());
    drop(log);

    let image = torn("torn-acknowledged", &after);
    let err = Ledger::open(&image, LedgerOptions::default()).err().expect("a hole before the watermark is refused");
    assert!(matches!(err, OpenError::Corrupted { .. }), "{err}");
}

#[test]
fn a_lost_wal_file_is_refused_with_both_positions() {
    let (_dir, image, head) = crash_image(50);
    for wal in wal_files(&image) {
        std::fs::remove_file(wal).unwrap();
    }
    let err = Ledger::open(&image, LedgerOptions::default()).err().expect("refused");
    assert!(matches!(err, OpenError::AcknowledgedRecordsLost { acknowledged, recovered: 0, .. } if acknowledged == head.position), "{err}");
    assert!(err.to_string().contains(&format!("records 1 to {} were acknowledged", head.position)), "{err}");
}

#[test]
fn a_missing_watermark_is_refused_not_started_afresh() {
    let (_dir, image, _) = crash_image(5);
    std::fs::remove_file(image.join("ACKNOWLEDGED")).unwrap();
    let err = Ledger::open(&image, LedgerOptions::default()).err().expect("refused");
    assert!(matches!(err, OpenError::WatermarkUnreadable { .. }), "{err}");
}

#[test]
fn a_log_replaced_by_another_with_as_many_records_is_refused() {
    let (dir, image, head) = crash_image(20);
    let (other_dir, other) = temp_ledger();
    for n in 0..20u128 {
        let events = (0..5).map(|i| event(n * 5 + i + 1, b"other")).collect();
        other.append(one("x", EV::Any, events)).unwrap();
    }
    assert_eq!(other.head().position, head.position);
    drop(other);
    std::fs::copy(image.join("ACKNOWLEDGED"), other_dir.path().join("log/ACKNOWLEDGED")).unwrap();
    let err = Ledger::open(other_dir.path().join("log"), LedgerOptions::default()).err().expect("refused");
    assert!(matches!(err, OpenError::WatermarkMismatch { position, .. } if position == head.position), "{err}");
    drop(dir);
}

#[test]
fn a_flipped_byte_in_a_table_file_is_refused_or_located() {
    let (dir, log) = temp_ledger();
    fill(&log, 300);
    let head = log.head();
    let path = log.path().to_path_buf();
    drop(log);
    let tables = files_ending(&path, ".sst");
    assert!(!tables.is_empty(), "a clean close flushed the records into table files");
    let copy = dir.path().join("copy");
    let mut counts = std::collections::BTreeMap::new();
    for table in &tables {
        let len = std::fs::metadata(table).unwrap().len();
        for offset in offsets(len, 40) {
            copy_dir(&path, &copy);
            flip(&copy.join(table.file_name().unwrap()), offset);
            let (outcome, detail) = outcome(&copy, LedgerOptions::read_only(), head);
            assert_ne!(outcome, Outcome::Shortened, "{} byte {offset} of {len}: {detail}", table.display());
            *counts.entry(format!("{outcome:?}")).or_insert(0) += 1;
        }
    }
    eprintln!("table flips: {counts:?}");
    assert!(counts.get("Unharmed").copied().unwrap_or(0) < counts.values().sum::<i32>() / 2, "most flips are noticed: {counts:?}");
}

#[test]
fn repair_keeps_the_verified_records_lists_what_it_drops_and_moves_the_damaged_log_aside() {
    let (dir, image, head) = crash_image(300);
    let wal = wal_files(&image).into_iter().max_by_key(|f| std::fs::metadata(f).unwrap().len()).unwrap();
    let len = std::fs::metadata(&wal).unwrap().len();
    flip(&wal, len / 2);
    assert!(matches!(Ledger::open(&image, LedgerOptions::default()), Err(OpenError::Corrupted { .. })));
    let plan = encore_ledger::plan_repair(&image).unwrap();
    assert!(plan.keep.position > 0 && plan.keep.position < head.position, "{plan:?}");
    assert_eq!(plan.acknowledged, Some(head.position));
    // Every position after the kept ones is listed, readable or not, up to the acknowledged head.
    let mut listed: Vec<u64> = plan.dropped.iter().map(|d| d.position).chain(plan.unreadable.iter().copied()).collect();
    listed.sort_unstable();
    assert_eq!(listed, (plan.keep.position + 1..=head.position).collect::<Vec<_>>());
    assert!(encore_ledger::Ledger::open(&image, LedgerOptions::read_only()).is_err(), "planning changed nothing");
    let aside = encore_ledger::apply_repair(&plan).unwrap();
    assert!(aside.exists(), "the damaged log is kept beside the new one");
    let log = Ledger::open(&image, LedgerOptions::default()).unwrap();
    assert_eq!(log.head(), plan.keep);
    let report = log.verify().unwrap();
    assert!(report.is_intact(), "{:?}", report.problems);
    assert_eq!(report.records, plan.keep.position);
    // The repaired log takes appends and keeps its chain.
    log.append(one("after", EV::NoStream, vec![event(1_000_000, b"x")])).unwrap();
    assert!(log.verify().unwrap().is_intact());
    drop(dir);
}
