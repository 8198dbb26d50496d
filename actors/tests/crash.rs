//! Kill -9 and power cuts in the middle of purchases. A child process (this
//! test binary, re-executed) runs purchases through the runtime, with the
//! live balances projection checkpointing beside them, and prints each
//! purchase id as it starts and as it is acknowledged; the parent SIGKILLs it
//! at a random moment (and, for a power cut, then throws away every write not
//! yet fsynced: `encore_faults::power`), reopens the log and checks:
//! * no `Charged` without its `LicenseIssued` and `LicenseWrittenToCard`, and
//!   none of those without the `Charged` (each at most once per purchase id);
//! * every acknowledged purchase is in the log;
//! * retrying a purchase id after a restart (the next child retries the ones
//!   in flight and the last acknowledged) never charges twice;
//! * for every account: loaded - charged + refunded = balance, with the
//!   account loaded as the runtime loads it (through its newest snapshot);
//! * every stored snapshot is confirmed by replay, and the live projection's
//!   checkpoint equals a rebuild from zero at its position and after it.
//!
//! `ENCORE_CRASH_KILLS` sets the number of kills (default 30),
//! `ENCORE_POWER_CUTS` the number of power cuts (default 20, half of them
//! tearing); the power cuts also stop after `ENCORE_POWER_SECONDS` (default 120).
// Test and benchmark code: a failed set-up or check stops it loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsStr;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use encore_actors::{Runtime, RuntimeConfig, Secrets, SystemClock};
use encore_domain::ids::{AccountId, CardId, ContentId, DeviceId, PurchaseId};
use encore_domain::licensing::{Account, LicensingEvent, PurchaseOutcome, Station, UseCondition};
use encore_domain::{Event, EventCodec, Money};
use encore_faults::power::{cut_budget, require_fuse, PowerLossFs};
use encore_ledger::testing::crash::{kills, Child, Rng};
use encore_ledger::{Ledger, LedgerOptions, StreamId};
use encore_projections::{as_of_position, Balances, ProjectionRunner, RunnerOptions, StartedFrom};

const CHILD_ENV: &str = "ENCORE_ACTORS_CRASH_DIR";
const RETRY_ENV: &str = "ENCORE_ACTORS_CRASH_RETRY";
const CARDS: usize = 4;
const CONTENTS: usize = 20;
const CLIENTS: usize = 8;
/// The live projection checkpoints this often, so cuts land between checkpoints.
const CHECKPOINT_EVERY: u64 = 64;

fn card(i: usize) -> CardId {
    CardId::new(format!("c{i}")).unwrap()
}
fn account(i: usize) -> AccountId {
    AccountId::new(format!("a{i}")).unwrap()
}
fn content(i: usize) -> ContentId {
    ContentId::new(format!("m{i}")).unwrap()
}

/// `p-<card>-<content>-<nonce>`: the purchase id says what it buys, so a retry can be replayed.
fn parse(purchase: &str) -> Option<(usize, usize)> {
    let parts: Vec<&str> = purchase.split('-').collect();
    Some((parts.get(1)?.parse().ok()?, parts.get(2)?.parse().ok()?))
}

fn outcome_name(outcome: &PurchaseOutcome) -> &'static str {
    match outcome {
        PurchaseOutcome::Bought { .. } => "bought",
        PurchaseOutcome::Declined(_) => "declined",
        PurchaseOutcome::CardRejected(_) => "rejected",
        PurchaseOutcome::AlreadyDone => "already-done",
        PurchaseOutcome::AlreadyOnCard => "already-on-card",
    }
}

async fn setup(rt: &Runtime) {
    for i in 0..CARDS {
        if !rt.account(&account(i)).await.unwrap().is_open() {
            rt.open_account(&account(i), None, Money(1_000_000)).await.unwrap();
        }
        if rt.card(&card(i)).await.unwrap().info().is_none() {
            rt.issue_card(&card(i), &account(i), None).await.unwrap();
        }
    }
    for m in 0..CONTENTS {
        if rt.catalogue(&content(m)).await.unwrap().listing.is_none() {
            rt.list_content(&content(m), Money(7), UseCondition { uses: 1, valid_days: None }).await.unwrap();
        }
    }
    // A purchase killed after its commit left a live license: use it up, so
    // the card can buy that content again.
    let player = Station::player(DeviceId::new("player1").unwrap());
    for i in 0..CARDS {
        let state = rt.card(&card(i)).await.unwrap();
        for m in 0..CONTENTS {
            if state.has_live_license(&content(m), rt.now()) {
                rt.play_from_card(&player, &rt.secrets().genuine_chip(card(i)), &content(m)).await.unwrap();
            }
        }
    }
}

async fn buy(rt: &Runtime, purchase: &str) -> PurchaseOutcome {
    let (c, m) = parse(purchase).expect("purchase id names card and content");
    let chip = rt.secrets().genuine_chip(card(c));
    let bought = rt.buy_from_player(&DeviceId::new("player1").unwrap(), &chip, &PurchaseId::new(purchase).unwrap(), &content(m)).await.expect("purchase");
    if let PurchaseOutcome::Bought { .. } = bought.value.outcome {
        // Use the license up so the card can buy that content again.
        rt.play_from_card(&Station::player(DeviceId::new("player1").unwrap()), &chip, &content(m)).await.expect("play");
    }
    bought.value.outcome
}

#[test]
fn crash_child() {
    let Ok(dir) = std::env::var(CHILD_ENV) else { return };
    let retries: Vec<String> = std::env::var(RETRY_ENV).unwrap_or_default().split(',').filter(|s| !s.is_empty()).map(String::from).collect();
    actix_rt::System::new().block_on(async move {
        let ledger = Ledger::open(&dir, LedgerOptions::default()).expect("child opens log");
        let live = ledger.clone();
        std::thread::spawn(move || {
            let options = RunnerOptions { checkpoint_every: CHECKPOINT_EVERY, idle: Duration::from_millis(20), ..RunnerOptions::default() };
            let mut runner = ProjectionRunner::<Balances>::open(&live, options).expect("child opens the live projection");
            runner.run(&AtomicBool::new(false)).expect("the live projection runs until the child is killed");
        });
        let rt =
            Arc::new(Runtime::open(ledger, Arc::new(SystemClock), Secrets::from_seed(b"crash"), RuntimeConfig { arbiters: 2, ..RuntimeConfig::default() }));
        setup(&rt).await;
        for purchase in &retries {
            let outcome = buy(&rt, purchase).await;
            println!("retry {purchase} {}", outcome_name(&outcome));
        }
        let run = std::process::id();
        let clients: Vec<_> = (0..CLIENTS)
            .map(|w| {
                let rt = rt.clone();
                actix_rt::spawn(async move {
                    for seq in 0usize.. {
                        let purchase = format!("p-{}-{}-{run}x{w}x{seq}", (w + seq) % CARDS, (w * 7 + seq) % CONTENTS);
                        println!("start {purchase}");
                        let outcome = buy(&rt, &purchase).await;
                        println!("ack {purchase} {}", outcome_name(&outcome));
                    }
                })
            })
            .collect();
        for c in clients {
            let _ = c.await;
        }
    });
}

#[derive(Default)]
struct Seen {
    /// Acknowledged outcomes per purchase id.
    acked: BTreeMap<String, String>,
    /// Outcomes of retries, per purchase id.
    retried: Vec<(String, String)>,
    rounds: usize,
    cuts: usize,
    /// Snapshots the audits confirmed, summed over rounds.
    snapshots_confirmed: u64,
    /// Rounds whose live projection resumed from a stored checkpoint.
    resumed: usize,
    /// Unsynced bytes the power cuts threw away, and unsynced pages they kept (tearing).
    dropped_bytes: u64,
    torn_pages: u64,
}

/// How a round ends: kill -9 only, or kill -9 and then a power cut.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cut {
    Kill,
    /// Every unsynced write is dropped, or (tearing) a random half of its pages reach the disk.
    Power,
}

/// Runs `rounds` children in the log of `dir`, ending each with `cut`, and
/// checks the log after each; stops early after `budget`.
fn rounds(dir: &Path, cut: Cut, rounds: usize, budget: Duration) -> Seen {
    let (backing, mnt) = (dir.join("backing"), dir.join("mnt"));
    std::fs::create_dir_all(&backing).unwrap();
    std::fs::create_dir_all(&mnt).unwrap();
    let seed = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64 | 1;
    eprintln!("actors {cut:?} test seed {seed}");
    let mut rng = Rng(seed);
    let mut seen = Seen::default();
    let mut retry: Vec<String> = Vec::new();
    let started_at = Instant::now();
    for round in 0..rounds {
        if started_at.elapsed() > budget {
            break;
        }
        // The child writes through the mount (power cuts) or to the backing directory itself.
        let mounted = (cut == Cut::Power).then(|| PowerLossFs::mount(&backing, &mnt).unwrap_or_else(|e| panic!("round {round}: {e}")));
        let child_log = if mounted.is_some() { mnt.join("log") } else { backing.join("log") };
        let retrying = retry.join(",");
        let envs = [(CHILD_ENV, child_log.as_os_str()), (RETRY_ENV, OsStr::new(&retrying))];
        let child = Child { test: "crash_child", envs: &envs };
        let delay = Duration::from_micros(rng.next_u64() % 30_000);
        let lines = child.run_and_kill(|l| l.starts_with("ack "), Duration::from_secs(60), delay).lines;
        if let Some(mounted) = mounted {
            let stats = mounted.stats();
            if round % 2 == 1 {
                mounted.cut_tearing(rng.next_u64());
            } else {
                mounted.cut();
            }
            seen.cuts += 1;
            seen.dropped_bytes += stats.dropped_bytes.load(Ordering::Relaxed);
            seen.torn_pages += stats.torn_pages.load(Ordering::Relaxed);
        }
        let mut started = BTreeSet::new();
        let mut last_acked = Vec::new();
        for line in &lines {
            let f: Vec<&str> = line.split_whitespace().collect();
            match f.as_slice() {
                ["start", p] => {
                    started.insert(p.to_string());
                }
                ["ack", p, outcome] => {
                    started.remove(*p);
                    seen.acked.insert(p.to_string(), outcome.to_string());
                    last_acked.push(p.to_string());
                }
                ["retry", p, outcome] => seen.retried.push((p.to_string(), outcome.to_string())),
                _ => {}
            }
        }
        // Next child retries what was in flight and the last few acknowledged purchases.
        retry = started.into_iter().chain(last_acked.into_iter().rev().take(4)).collect();
        check(&backing.join("log"), &mut seen, round);
        seen.rounds += 1;
    }
    let bought = seen.acked.values().filter(|o| *o == "bought").count();
    let mut by_outcome: BTreeMap<&str, usize> = BTreeMap::new();
    for outcome in seen.acked.values() {
        *by_outcome.entry(outcome.as_str()).or_default() += 1;
    }
    eprintln!("outcomes: {by_outcome:?}");
    eprintln!(
        "{} rounds ({cut:?}, {} power cuts) in {:.1} s: {} purchases acknowledged ({bought} bought), {} retried after a restart, \
         {} snapshots confirmed, live projection resumed from a checkpoint {} times, \
         {} unsynced bytes dropped, {} unsynced pages kept",
        seen.rounds,
        seen.cuts,
        started_at.elapsed().as_secs_f64(),
        seen.acked.len(),
        seen.retried.len(),
        seen.snapshots_confirmed,
        seen.resumed,
        seen.dropped_bytes,
        seen.torn_pages
    );
    assert!(seen.acked.len() >= seen.rounds, "each child acknowledged purchases");
    assert!(!seen.retried.is_empty(), "purchases were retried after restarts");
    seen
}

#[test]
fn killing_the_runtime_mid_purchase_leaves_whole_purchases() {
    let dir = tempfile::tempdir().unwrap();
    rounds(dir.path(), Cut::Kill, kills(30), Duration::from_secs(600));
}

#[test]
fn a_power_cut_mid_purchase_leaves_whole_purchases() {
    require_fuse();
    let dir = tempfile::tempdir().unwrap();
    let (cuts, budget) = cut_budget(20);
    let seen = rounds(dir.path(), Cut::Power, cuts as usize, budget);
    assert!(seen.cuts > 0, "at least one power cut ran");
}

fn check(path: &Path, seen: &mut Seen, round: usize) {
    let log = Ledger::open(path, LedgerOptions::default()).unwrap_or_else(|e| panic!("round {round}: reopen failed: {e}"));
    let report = log.verify().unwrap();
    assert!(report.is_intact(), "round {round}: {:?}", report.first_problem());
    let mut charged: BTreeMap<String, u32> = BTreeMap::new();
    let mut issued: BTreeMap<String, u32> = BTreeMap::new();
    let mut written: BTreeMap<String, u32> = BTreeMap::new();
    let mut money: BTreeMap<String, i128> = BTreeMap::new();
    for record in log.scan(1) {
        let record = record.unwrap();
        let Ok(Event::Licensing(event)) = Event::decode_payload(&record.event_type, &record.payload) else { continue };
        match event {
            LicensingEvent::Charged(e) => {
                *charged.entry(e.purchase.to_string()).or_default() += 1;
                *money.entry(e.account.to_string()).or_default() -= e.amount.units() as i128;
            }
            LicensingEvent::LicenseIssued(e) => *issued.entry(e.purchase.to_string()).or_default() += 1,
            LicensingEvent::LicenseWrittenToCard(e) => *written.entry(e.purchase.to_string()).or_default() += 1,
            LicensingEvent::CardLoaded(e) => *money.entry(e.account.to_string()).or_default() += e.amount.units() as i128,
            LicensingEvent::Refunded(e) => *money.entry(e.account.to_string()).or_default() += e.amount.units() as i128,
            _ => {}
        }
    }
    assert_eq!(
        charged.keys().collect::<Vec<_>>(),
        issued.keys().collect::<Vec<_>>(),
        "round {round}: a charge without its license or a license without its charge"
    );
    assert_eq!(charged.keys().collect::<Vec<_>>(), written.keys().collect::<Vec<_>>(), "round {round}: a charge without its license on the card");
    for (purchase, n) in charged.iter().chain(issued.iter()).chain(written.iter()) {
        assert_eq!(*n, 1, "round {round}: purchase {purchase} appears {n} times");
    }
    for (purchase, outcome) in &seen.acked {
        if outcome == "bought" {
            assert!(charged.contains_key(purchase), "round {round}: acknowledged purchase {purchase} lost");
        }
    }
    for (purchase, outcome) in &seen.retried {
        if seen.acked.get(purchase).is_some_and(|o| o == "bought") {
            assert_eq!(outcome, "already-done", "round {round}: retried purchase {purchase} was not recognised");
        }
    }
    for i in 0..CARDS {
        let stream = StreamId::new(format!("account-a{i}")).unwrap();
        let account: Account = encore_actors::load::load_state(&log, &stream).unwrap();
        if account.is_open() {
            let folded = money.get(&format!("a{i}")).copied().unwrap_or(0);
            assert_eq!(folded, account.balance.units() as i128, "round {round}: account a{i}: loaded - charged + refunded != balance");
            assert_eq!(account.balance.units(), account.loaded.units() - account.charged.units() + account.refunded.units());
        }
    }
    let audit = encore_snapshots::audit(&log).unwrap();
    assert!(audit.is_clean(), "round {round}: stored snapshots that replay does not confirm: {:?}", audit.mismatches);
    seen.snapshots_confirmed += audit.confirmed;
    check_live_projection(&log, seen, round);
}

/// The live projection resumes from its stored checkpoint (or, if the cut
/// left none, from zero), equal to a rebuild from zero at the checkpoint's
/// position and again after catching up with the head.
fn check_live_projection(log: &Ledger, seen: &mut Seen, round: usize) {
    let mut live = ProjectionRunner::<Balances>::open(log, RunnerOptions::default()).unwrap();
    match live.started_from() {
        StartedFrom::Checkpoint { .. } => seen.resumed += 1,
        StartedFrom::Fresh => {}
        StartedFrom::Discarded { reason } => panic!("round {round}: the live projection's checkpoint was refused: {reason}"),
    }
    let rebuilt = as_of_position::<Balances>(log, live.position()).unwrap();
    assert!(live.projected().encode() == rebuilt.encode(), "round {round}: the checkpoint at {} differs from a rebuild", live.position());
    let head = live.catch_up().unwrap();
    let rebuilt = as_of_position::<Balances>(log, head).unwrap();
    assert!(live.projected().encode() == rebuilt.encode(), "round {round}: the live projection at the head {head} differs from a rebuild");
}
