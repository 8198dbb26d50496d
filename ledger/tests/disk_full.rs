//! A full disk, for real: the log on a small tmpfs (mounted by the test; it
//! needs root, which `./x test` has on this kind of machine), appends of 64 KiB
//! until the file system says ENOSPC. The failed append poisons the log:
//! it and every later one is refused with one clear error naming the cause,
//! reads go on. Then the fault is cleared (the tmpfs remounted larger) and
//! the log reopened: every acknowledged append is there, the chain verifies,
//! and appends work again.

// Test and benchmark code: a failed set-up or check stops it loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use encore_ledger::testing::faults::Tmpfs;
use encore_ledger::{AppendError, ExpectedVersion, Ledger, LedgerOptions};

#[test]
fn a_full_disk_poisons_the_log_and_loses_nothing_acknowledged() {
    let base = tempfile::tempdir().unwrap();
    let mount = Tmpfs::mount(base.path(), "6m").unwrap();
    let path = base.path().join("log");
    let payload = vec![7u8; 64 * 1024];
    let mut acknowledged = 0u64;
    let failure = {
        let ledger = Ledger::open(&path, LedgerOptions::default()).unwrap();
        let mut failure = None;
        for i in 0..1_000u128 {
            match ledger.append(one("s", ExpectedVersion::Exact(acknowledged), vec![event(i + 1, &payload)])) {
                Ok(_) => acknowledged += 1,
                Err(e) => {
                    failure = Some(e);
                    break;
                }
            }
        }
        let failure = failure.expect("a 6 MiB file system fills before 1,000 appends of 64 KiB");
        assert!(matches!(failure, AppendError::WriteFailed { .. } | AppendError::Poisoned { .. }), "{failure}");
        // Every later write is refused with the same cause; reads go on.
        let later = ledger.append(one("s", ExpectedVersion::Exact(acknowledged), vec![event(5_000, b"small")])).unwrap_err();
        assert!(matches!(later, AppendError::Poisoned { .. }), "{later}");
        assert!(later.to_string().contains("No space") || later.to_string().to_lowercase().contains("space"), "the cause is named: {later}");
        assert_eq!(ledger.read_all(1, 10_000).unwrap().len() as u64, acknowledged);
        failure
    };
    assert!(acknowledged > 10, "some appends fit before the disk filled ({acknowledged}); {failure}");
    eprintln!("{acknowledged} appends of 64 KiB acknowledged before: {failure}");
    // The fault is cleared: more room, and a restart.
    mount.grow("64m").unwrap();
    let ledger = Ledger::open(&path, LedgerOptions::default()).unwrap();
    let records = ledger.read_all(1, 10_000).unwrap();
    assert!(records.len() as u64 >= acknowledged, "every acknowledged append is there ({} of {acknowledged})", records.len());
    assert!(ledger.verify().unwrap().is_intact());
    let head = ledger.head().position;
    ledger.append(one("s", ExpectedVersion::Exact(records.len() as u64), vec![event(9_000, b"after")])).unwrap();
    assert_eq!(ledger.head().position, head + 1, "writes work again");
    drop(ledger);
    drop(mount);
}
