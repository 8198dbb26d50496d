//! Snapshot and checkpoint writes on a full disk and on a disk whose syncs
//! fail, for real (issue 16 item 2). A full disk: the log on a small tmpfs (mounted by the test; it needs root, which
//! `./x test` has on this kind of machine), the room left filled by a file,
//! then actor snapshots, projection snapshots and projection checkpoints
//! written until the file system says ENOSPC. The failed write poisons the
//! log: it and every later write is refused naming the cause. Then the fault
//! is cleared (the tmpfs remounted larger) and the log reopened: everything
//! acknowledged is there, the chain verifies, and every actor state and
//! projection recovered from what snapshots and checkpoints made it to disk
//! equals a full replay (a snapshot is used or skipped, never believed wrong).
//! Failed syncs: the same writes in a child process whose fsync and
//! fdatasync fail with EIO from a moment the test picks (the LD_PRELOAD shim
//! of encore_ledger::testing::faults), then the same checks without the shim.
// Test and benchmark code: a failed set-up or check stops it loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::path::Path;
use std::process::Command;

use encore_domain::licensing::{Account, Card};
use encore_ledger::testing::faults::{build_fail_sync_shim, Tmpfs, FAIL_SYNC_TRIGGER_ENV};
use encore_ledger::{Direction, Ledger, LedgerOptions, StreamId};
use encore_projections::workload::{Workload, WorkloadConfig, Writer};
use encore_projections::{rebuild, Balances, ProjectionRunner, RunnerOptions, UsageHistory};
use encore_snapshots::*;

/// Fills the file system holding `path` until it is full, then gives back
/// `leave` bytes, so the next few writes fit and a later one does not.
fn fill(path: &Path, leave: u64) {
    let mut file = std::fs::File::create(path).unwrap();
    let chunk = vec![0u8; 64 * 1024];
    let mut written = 0u64;
    for _ in 0..100_000 {
        match file.write(&chunk) {
            Ok(0) | Err(_) => break,
            Ok(n) => written += n as u64,
        }
    }
    file.set_len(written.saturating_sub(leave)).unwrap();
    file.sync_all().unwrap();
}

fn full_replay<S: Snapshottable>(ledger: &Ledger, stream: &StreamId) -> S {
    let mut state = S::default();
    for record in ledger.read_stream(stream, 1, Direction::Forwards, usize::MAX).unwrap() {
        state.fold(&record).unwrap();
    }
    state
}

/// Reopens the log: the head is where it was acknowledged, the chain
/// verifies, and every state recovered from what snapshots and checkpoints
/// reached the disk equals a full replay.
fn recovery_equals_replay(path: &Path, head: u64, streams: &[String]) {
    let ledger = Ledger::open(path, LedgerOptions::default()).unwrap();
    assert_eq!(ledger.head().position, head, "every acknowledged append is there, and only those");
    assert!(ledger.verify().unwrap().is_intact());
    let mut from_snapshots = 0;
    for stream in streams {
        let id = StreamId::new(stream.as_str()).unwrap();
        if Account::owns(stream) {
            let recovered = load::<Account>(&ledger, &id).unwrap();
            from_snapshots += usize::from(recovered.from_snapshot.is_some());
            assert_eq!(recovered.state, full_replay::<Account>(&ledger, &id), "{stream}");
        } else if Card::owns(stream) {
            let recovered = load::<Card>(&ledger, &id).unwrap();
            from_snapshots += usize::from(recovered.from_snapshot.is_some());
            assert_eq!(recovered.state, full_replay::<Card>(&ledger, &id), "{stream}");
        }
    }
    assert!(from_snapshots > 0, "snapshots written before the fault are used");
    assert_eq!(load_projection::<Balances>(&ledger).unwrap().projected, rebuild::<Balances>(&ledger).unwrap());
    let mut runner = ProjectionRunner::<UsageHistory>::open(&ledger, RunnerOptions::default()).unwrap();
    runner.catch_up().unwrap();
    assert_eq!(runner.projected(), &rebuild::<UsageHistory>(&ledger).unwrap());
}

/// A log of `ops` workload operations, and its actor streams.
fn workload_log(ledger: &Ledger, ops: usize) -> (Writer, Vec<String>) {
    let mut writer = Writer::new(config().seed);
    for op in Workload::new(config()).take(ops) {
        writer.append(ledger, &op).unwrap();
    }
    let streams = ledger.scan(1).map(|r| r.unwrap().stream.to_string()).collect::<std::collections::BTreeSet<_>>().into_iter().collect();
    (writer, streams)
}

fn config() -> WorkloadConfig {
    WorkloadConfig { seed: 0x5A9, cards: 60, ..Default::default() }
}

/// Actor snapshots, a projection snapshot and a projection checkpoint in
/// turn, from the moment `fault` strikes, until one fails (bounded); how
/// many were written, and the failure.
fn derived_writes_until_one_fails(ledger: &Ledger, fault: impl FnOnce()) -> (u32, String) {
    let mut runner = ProjectionRunner::<UsageHistory>::open(ledger, RunnerOptions::default()).unwrap();
    runner.catch_up().unwrap();
    let balances = rebuild::<Balances>(ledger).unwrap();
    fault();
    for round in 0..400u32 {
        let result = match round % 3 {
            0 => snapshot_streams(ledger, SnapshotPolicy { every: 1 }).map(|_| ()).map_err(|e| e.to_string()),
            1 => snapshot_projection(ledger, &balances).map_err(|e| e.to_string()),
            _ => runner.checkpoint().map_err(|e| e.to_string()),
        };
        if let Err(e) = result {
            // Every later write is refused as poisoned, naming the same cause.
            let later = snapshot_projection(ledger, &balances).unwrap_err().to_string();
            assert!(later.contains("poison"), "{later}");
            let again = runner.checkpoint().unwrap_err().to_string();
            assert!(again.contains("poison"), "{again}");
            return (round, e);
        }
    }
    panic!("400 rounds of snapshots and checkpoints and no failure");
}

#[test]
fn a_full_disk_refuses_snapshots_and_checkpoints_cleanly_and_recovery_still_equals_replay() {
    let base = tempfile::tempdir().unwrap();
    let mount = Tmpfs::mount(base.path(), "24m").unwrap();
    let path = base.path().join("log");
    let (head, streams, written, failure) = {
        let ledger = Ledger::open(&path, LedgerOptions::default()).unwrap();
        let (mut writer, streams) = workload_log(&ledger, 600);
        let head = ledger.head();
        // A first round of snapshots fits, then the room is gone.
        snapshot_streams(&ledger, SnapshotPolicy { every: 2 }).unwrap();
        let (written, failure) = derived_writes_until_one_fails(&ledger, || fill(&base.path().join("filler"), 2 << 20));
        assert!(failure.to_lowercase().contains("space"), "the cause is named: {failure}");
        let later = snapshot_streams(&ledger, SnapshotPolicy { every: 1 }).unwrap_err().to_string();
        assert!(later.to_lowercase().contains("space"), "later writes name the cause too: {later}");
        let append = writer.append(&ledger, &Workload::new(config()).nth(600).unwrap()).unwrap_err().to_string();
        assert!(append.to_lowercase().contains("space"), "an append is refused with the cause: {append}");
        assert_eq!(ledger.head(), head, "nothing was appended after the fault");
        (head, streams, written, failure)
    };
    eprintln!("{written} snapshot and checkpoint writes before: {failure}");
    // The fault is cleared: the filler goes, more room, and a restart.
    std::fs::remove_file(base.path().join("filler")).unwrap();
    mount.grow("64m").unwrap();
    recovery_equals_replay(&path, head.position, &streams);
    drop(mount);
}

/// The child of the failed-sync test: runs only under the shim, with
/// `ENCORE_EIO_CHILD_LOG` set; prints the acknowledged head and the streams.
#[test]
fn failed_sync_child() {
    let Some(path) = std::env::var_os("ENCORE_EIO_CHILD_LOG") else { return };
    let trigger = std::env::var_os(FAIL_SYNC_TRIGGER_ENV).expect("the shim's trigger");
    let ledger = Ledger::open(&path, LedgerOptions::default()).unwrap();
    let (mut writer, streams) = workload_log(&ledger, 400);
    let head = ledger.head();
    // A first round of snapshots succeeds, then the disk starts failing syncs.
    snapshot_streams(&ledger, SnapshotPolicy { every: 2 }).unwrap();
    let (written, failure) = derived_writes_until_one_fails(&ledger, || std::fs::write(&trigger, b"").unwrap());
    assert_eq!(written, 0, "the first write after the fault fails: {failure}");
    assert!(failure.contains("Input/output error") || failure.contains("IO error"), "the cause is named: {failure}");
    let append = writer.append(&ledger, &Workload::new(config()).nth(400).unwrap()).unwrap_err().to_string();
    assert!(append.contains("poison"), "an append is refused as poisoned: {append}");
    assert_eq!(ledger.head(), head);
    println!("HEAD {}", head.position);
    println!("STREAMS {}", streams.join(" "));
    println!("FAILURE {failure}");
}

#[test]
fn failed_syncs_refuse_snapshots_and_checkpoints_cleanly_and_recovery_still_equals_replay() {
    let dir = tempfile::tempdir().unwrap();
    let library = build_fail_sync_shim(dir.path()).unwrap();
    let path = dir.path().join("log");
    let output = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "failed_sync_child", "--nocapture", "--test-threads", "1"])
        .env("ENCORE_EIO_CHILD_LOG", &path)
        .env(FAIL_SYNC_TRIGGER_ENV, dir.path().join("failing"))
        .env("LD_PRELOAD", &library)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "the child failed:\n{stdout}\n{}", String::from_utf8_lossy(&output.stderr));
    let line = |tag: &str| stdout.lines().find_map(|l| l.split_once(tag).map(|(_, rest)| rest)).unwrap_or_else(|| panic!("no {tag} in:\n{stdout}")).to_string();
    let head: u64 = line("HEAD ").parse().unwrap();
    let streams: Vec<String> = line("STREAMS ").split(' ').map(str::to_string).collect();
    eprintln!("after a failed sync: {}", line("FAILURE "));
    recovery_equals_replay(&path, head, &streams);
}
