//! Crash test, sled style: a child process appends and prints each
//! acknowledged position; the parent kills it with SIGKILL at a random moment,
//! reopens the log and checks that every acknowledged event is there, that
//! multi-stream appends are whole, that a retry of an acknowledged append is
//! answered from the log, and that the chain verifies. The writer's index
//! tail is 50 records (`TAIL`), so kills land with event ids and stream heads
//! both written and held only in memory, and the reopen indexes them again.
//!
//! `ENCORE_CRASH_KILLS` sets the number of kills (default 100).
// Test and benchmark code: a failed set-up or check stops it loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::process::{Command, Stdio};
use std::time::Duration;

use encore_ledger::testing::crash::{kills, Child, Rng};
use encore_ledger::{EventId, ExpectedVersion, Ledger, LedgerOptions, NewEvent, StreamAppend, StreamId};

const CHILD_ENV: &str = "ENCORE_CRASH_CHILD_DIR";
/// Records of event ids and stream heads the writer holds before writing them.
const TAIL: usize = 50;

fn options() -> LedgerOptions {
    LedgerOptions { index_tail_records: TAIL, ..LedgerOptions::default() }
}

/// Writer `w`'s append number `seq` in child run `run`: one event on a shared
/// stream and one on the writer's own, ids and payloads derived from all three.
fn pair(run: u64, w: u64, seq: u64) -> Vec<StreamAppend> {
    let id = |part: u64| EventId::from_u128(((run as u128) << 96) | ((w as u128) << 64) | ((seq as u128) << 1) | part as u128);
    let event = |part| NewEvent::new(id(part), "Pair", 0, format!("{run}/{w}/{seq}/{part}").into_bytes());
    vec![
        StreamAppend { stream: StreamId::new(format!("left-{}", seq % 3)).unwrap(), expected: ExpectedVersion::Any, events: vec![event(0)] },
        StreamAppend { stream: StreamId::new(format!("right-{w}")).unwrap(), expected: ExpectedVersion::Any, events: vec![event(1)] },
    ]
}

/// The append an acknowledged `left` event id came from.
fn pair_of(id: u128) -> Vec<StreamAppend> {
    pair((id >> 96) as u64, ((id >> 64) & 0xFFFF_FFFF) as u64, ((id & u64::MAX as u128) >> 1) as u64)
}
/// Enough writers that groups reach the pipelined size (16 appends), so kills
/// also land between a group's write and its sync on the syncer thread.
const WRITERS: u64 = 32;

/// The child: 32 threads append pairs of events to two streams atomically,
/// printing `ack <writer> <seq> <pos1> <pos2>` after each acknowledged append.
#[test]
fn crash_child() {
    let Ok(dir) = std::env::var(CHILD_ENV) else { return };
    let log = Ledger::open(&dir, options()).expect("child opens log");
    let run = std::process::id() as u64;
    let threads: Vec<_> = (0..WRITERS)
        .map(|w| {
            let log = log.clone();
            std::thread::spawn(move || {
                for seq in 0u64.. {
                    let appends = pair(run, w, seq);
                    let id = appends[0].events[0].event_id;
                    let a = log.append(appends).expect("append");
                    println!("ack {} {} {}", id.as_u128(), a.positions[0], a.positions[1]);
                }
            })
        })
        .collect();
    for t in threads {
        let _ = t.join();
    }
}

#[test]
fn killing_the_writer_loses_nothing_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("log");
    let seed = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64 | 1;
    eprintln!("crash test seed {seed}");
    let mut rng = Rng(seed);
    let mut acknowledged: Vec<(u128, u64, u64)> = Vec::new();
    let (mut checked, mut acked_before) = (0u64, 0usize);
    for round in 0..kills(100) {
        // Kill after the first ack plus a random 0-30 ms, so most kills land mid-append.
        // (Kills during creation of the log are covered by `killed_during_creation`.)
        let child = Child { test: "crash_child", envs: &[(CHILD_ENV, path.as_os_str())] };
        let delay = Duration::from_micros(rng.next_u64() % 30_000);
        let killed = child.run_and_kill(|l| l.starts_with("ack "), Duration::from_secs(30), delay);
        assert!(!killed.ended_before_ready, "round {round}: the child exited before acknowledging anything");
        let lines = killed.lines;
        for line in lines.iter().filter(|l| l.starts_with("ack ")) {
            let f: Vec<&str> = line.split_whitespace().collect();
            if f.len() == 4 {
                acknowledged.push((f[1].parse().unwrap(), f[2].parse().unwrap(), f[3].parse().unwrap()));
            }
        }
        checked = check(&path, &acknowledged[acked_before..], checked, round);
        acked_before = acknowledged.len();
    }
    assert!(acknowledged.len() >= kills(100), "each child acknowledged at least one append");
    let log = Ledger::open(&path, options()).unwrap();
    assert!(log.verify().unwrap().is_intact(), "the whole log verifies after every kill");
    for &(id, p1, _) in &acknowledged {
        assert_eq!(log.read_record(p1).unwrap().map(|r| r.event_id.as_u128()), Some(id));
    }
}

/// Checks what this round added (positions after `checked`); returns the new head.
fn check(path: &std::path::Path, acknowledged: &[(u128, u64, u64)], checked: u64, round: usize) -> u64 {
    let log = Ledger::open(path, options()).unwrap_or_else(|e| panic!("round {round}: reopen failed: {e}"));
    // The round's last acknowledged appends and every seventh, retried:
    // answered from the log (their event ids are in the recovered tail or
    // the written index).
    for &(id, p1, p2) in acknowledged.iter().rev().take(TAIL).chain(acknowledged.iter().step_by(7)) {
        let again = log.append(pair_of(id)).unwrap_or_else(|e| panic!("round {round}: retry of {id:x} refused: {e}"));
        assert!(again.deduplicated, "round {round}: a retry of {id:x} was appended again");
        assert_eq!(again.positions, vec![p1, p2], "round {round}: a retry of {id:x} answered other positions");
    }
    for &(id, p1, p2) in acknowledged {
        let left = log.read_record(p1).unwrap().unwrap_or_else(|| panic!("round {round}: acknowledged position {p1} lost"));
        assert_eq!(left.event_id.as_u128(), id, "round {round}: position {p1} holds another event");
        let right = log.read_record(p2).unwrap().unwrap_or_else(|| panic!("round {round}: acknowledged position {p2} lost"));
        assert_eq!(right.event_id.as_u128(), id | 1);
    }
    // Whole appends only: every `left` event (part 0) is followed by its `right` pair (part 1).
    let records: Vec<_> = log.scan(checked + 1).map(|r| r.unwrap()).collect();
    for pair in records.chunks(2) {
        assert_eq!(pair.len(), 2, "round {round}: a half-written append at the end of the log");
        assert_eq!(pair[0].event_id.as_u128() | 1, pair[1].event_id.as_u128(), "round {round}: append split");
    }
    let head = log.head().position;
    if head > checked {
        let report = log.verify_range(checked.max(1), head).unwrap();
        assert!(report.is_intact(), "round {round}: {:?}", report.first_problem());
    }
    head
}

/// A child killed while it creates the log (before any ack) leaves a
/// directory that opens as an empty or whole log, never a foreign one.
#[test]
fn killed_during_creation() {
    let exe = std::env::current_exe().unwrap();
    let mut rng = Rng(0x9E3779B97F4A7C15);
    for round in 0..20 {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        let mut child = Command::new(&exe)
            .args(["--exact", "crash_child", "--nocapture", "--test-threads", "1"])
            .env(CHILD_ENV, &path)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_micros(rng.next_u64() % 20_000));
        child.kill().unwrap();
        child.wait().unwrap();
        let log = Ledger::open(&path, LedgerOptions::default()).unwrap_or_else(|e| panic!("round {round}: {e}"));
        assert!(log.verify().unwrap().is_intact());
    }
}
