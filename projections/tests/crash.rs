//! Crash while projecting: a child process runs the projection runner over a
//! prepared log, checkpointing often and printing each checkpoint; the parent
//! kills it with SIGKILL at a random moment, again and again, and each time
//! checks that the stored checkpoint is whole and not behind the last one the
//! child reported. Finally it resumes to the head: the result must be byte
//! for byte what an uninterrupted run gives.
//!
//! `ENCORE_PROJ_CRASH_KILLS` sets the number of kills (default 12).
// Test and benchmark code: a failed set-up or check stops it loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use encore_ledger::testing::crash::{Child, Killed};
use encore_ledger::{Ledger, LedgerOptions};
use encore_projections::workload::{Rng, WorkloadConfig};
use encore_projections::{rebuild, AllProjections, ProjectionRunner, RunnerOptions, StartedFrom};

const CHILD_ENV: &str = "ENCORE_PROJ_CRASH_CHILD_DIR";

fn options() -> RunnerOptions {
    RunnerOptions { checkpoint_every: 40, batch: 16, idle: Duration::from_millis(5) }
}

/// The child: resumes the runner and prints `ckpt <position>` after each checkpoint.
#[test]
fn projection_crash_child() {
    let Ok(dir) = std::env::var(CHILD_ENV) else { return };
    let ledger = Ledger::open(&dir, LedgerOptions::default()).expect("child opens log");
    let mut runner = ProjectionRunner::<AllProjections>::open(&ledger, options()).expect("open runner");
    println!("start {}", runner.position());
    let head = ledger.head().position;
    while runner.position() < head {
        let before = runner.checkpointed();
        runner.step(Duration::ZERO).expect("step");
        if runner.checkpointed() != before {
            println!("ckpt {}", runner.checkpointed());
        }
    }
}

fn kills() -> usize {
    std::env::var("ENCORE_PROJ_CRASH_KILLS").ok().and_then(|v| v.parse().ok()).unwrap_or(12)
}

#[test]
fn killed_while_projecting_then_resumed_equals_an_uninterrupted_run() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("log");
    let (expected, head) = {
        let ledger = Ledger::open(&path, LedgerOptions::default()).unwrap();
        common::write_workload(&ledger, WorkloadConfig { seed: 0xC4A5, ..Default::default() }, 8_000);
        (rebuild::<AllProjections>(&ledger).unwrap().encode(), ledger.head().position)
    };
    let seed = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64;
    eprintln!("projection crash test seed {seed}");
    let mut rng = Rng::new(seed);
    let mut reported = 0u64;
    let mut killed_mid_run = 0;
    for round in 0..kills() {
        let child = Child { test: "projection_crash_child", envs: &[(CHILD_ENV, path.as_os_str())] };
        let delay = Duration::from_micros(rng.next_u64() % 40_000);
        let Killed { lines, status, .. } = child.run_and_kill(|_| true, Duration::from_secs(30), delay);
        if !status.success() {
            killed_mid_run += 1;
        }
        for line in &lines {
            if let Some(p) = line.strip_prefix("ckpt ") {
                reported = reported.max(p.parse().unwrap());
            }
        }
        // The stored checkpoint is whole, matches the log and is not behind what the child reported.
        let ledger = Ledger::open(&path, LedgerOptions::default()).unwrap();
        let runner = ProjectionRunner::<AllProjections>::open(&ledger, options()).unwrap();
        match runner.started_from() {
            StartedFrom::Checkpoint { position } => assert!(*position >= reported, "round {round}: checkpoint {position} behind reported {reported}"),
            StartedFrom::Fresh => assert_eq!(reported, 0, "round {round}: a reported checkpoint was lost"),
            StartedFrom::Discarded { reason } => panic!("round {round}: checkpoint damaged by a kill: {reason}"),
        }
        // Its state is exactly the uninterrupted run's state at that position.
        let at = runner.position();
        assert!(
            runner.projected().encode() == encore_projections::as_of_position::<AllProjections>(&ledger, at).unwrap().encode(),
            "round {round}: state at {at} differs"
        );
    }
    let ledger = Ledger::open(&path, LedgerOptions::default()).unwrap();
    let mut runner = ProjectionRunner::<AllProjections>::open(&ledger, options()).unwrap();
    runner.catch_up().unwrap();
    assert_eq!(runner.position(), head);
    assert!(runner.projected().encode() == expected, "resumed after {} kills, the state differs from an uninterrupted run", kills());
    assert!(killed_mid_run > 0, "at least one child was killed before finishing");
}
