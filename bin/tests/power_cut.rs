//! Power cuts under `encore serve` (issue 16 item 1): the server runs on the
//! power-loss pass-through (`encore_faults::power`), players buy over HTTP
//! from many connections, the server is SIGKILLed at a random moment and the
//! power is cut (every write not yet fsynced is thrown away; every other cut
//! tears, letting a random half of the unsynced pages through). Then, on the
//! disk as the cut left it:
//! * `encore audit rebuild` confirms every stored snapshot and `verify` is intact;
//! * every purchase answered 2xx before the cut is answered again from the
//!   log (`replayed`, same outcome) by a restarted server;
//! * each account as its actor serves it (loaded through its snapshots)
//!   equals the balances projection rebuilt from zero, and its card holds one
//!   license per charge: nothing charged twice, nothing half-written.
//!
//! `ENCORE_POWER_CUTS` sets the number of cuts (default 12); the run also
//! stops after `ENCORE_POWER_SECONDS` (default 120).
// Test and benchmark code: a failed set-up or check stops it loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use encore_card::CardFile;
use encore_faults::power::{cut_budget, require_fuse, PowerLossFs};
use encore_server::api::types::*;
use encore_server::deployment::{self, credentials, Role};
use encore_server::Client;

mod common;
use common::Server;

const CARDS: usize = 4;
const WORKERS: usize = 16;
const PRICE: u64 = 7;
const LOADED: u64 = 1_000_000;

fn card(i: usize) -> String {
    format!("card-{i}")
}

fn content(j: usize) -> String {
    format!("song-{j}")
}

fn key(i: usize, j: usize) -> String {
    format!("buy-{i}-{j}")
}

/// Opens accounts, issues cards and lists contents (on the backing disk, no cut); returns the card files.
fn set_up(data: &Path, operator: &str, contents: usize) -> Vec<CardFile> {
    let server = Server::start(data);
    actix_rt::System::new().block_on(async {
        let op = Client::new(&server.base, operator);
        let mut cards = Vec::new();
        for i in 0..CARDS {
            let account = format!("acct-{i}");
            op.open_account(&format!("open-{i}"), &OpenAccount { account: account.clone(), initial: LOADED, expires_at: None }).await.unwrap();
            op.issue_card(&format!("issue-{i}"), &IssueCard { card: card(i), account, expires_at: None }).await.unwrap();
            cards.push(CardFile::from_bytes(&op.card_image(&card(i)).await.unwrap()).unwrap());
        }
        for j in 0..contents {
            op.list_content(&format!("list-{j}"), &ListContent { content: content(j), price: PRICE, uses: 1, valid_days: None }).await.unwrap();
        }
        cards
    })
}

/// `encore audit rebuild` on the disk as the cut left it: every snapshot confirmed.
fn audit_rebuild(data: &Path, round: usize) {
    let out = Command::new(env!("CARGO_BIN_EXE_encore")).args(["audit", "rebuild", "--data", data.to_str().unwrap()]).output().unwrap();
    assert!(
        out.status.success(),
        "round {round}: audit rebuild after the cut: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// What the restarted server says: every purchase answered in this round is
/// replayed with its outcome; every account equals its rebuilt projection and
/// has one license per charge; the chain verifies. Returns the charges in the log.
async fn check_after_cut(base: &str, operator: &str, player: &str, cards: &[CardFile], answered: &BTreeMap<String, String>, round: usize) -> usize {
    let (op, player) = (Client::new(base, operator), Client::new(base, player));
    for (key, outcome) in answered {
        let (i, j) = key.strip_prefix("buy-").and_then(|k| k.split_once('-')).map(|(i, j)| (i.parse().unwrap(), j.parse().unwrap())).unwrap();
        let answer = player.answer_at_player("player-1", &cards[i]).await.unwrap();
        let again = player.player_purchase(key, "player-1", &Purchase { card: card(i), content: content(j), answer }).await.unwrap();
        assert!(again.replayed, "round {round}: {key}, answered before the cut, is answered from the log");
        assert_eq!(&again.value.outcome, outcome, "round {round}: {key}");
    }
    let projected = op.balances_at(None).await.unwrap().value;
    let rows: BTreeMap<String, BalanceRow> = projected.accounts.into_iter().map(|r| (r.account.clone(), r)).collect();
    let mut charges = 0;
    for i in 0..CARDS {
        let live = op.account(&format!("acct-{i}")).await.unwrap().value;
        let rebuilt = &rows[&live.account];
        assert_eq!((live.balance, live.loaded, live.charged), (rebuilt.balance, rebuilt.loaded, rebuilt.charged), "round {round}: acct-{i}, live and rebuilt");
        assert_eq!(live.balance + live.charged, LOADED, "round {round}: acct-{i}: loaded = balance + charged");
        let licenses = op.card(&card(i)).await.unwrap().value.licenses.len() as u64;
        assert_eq!(live.charged, licenses * PRICE, "round {round}: card-{i} holds one license per charge");
        charges += licenses as usize;
    }
    let verify = op.verify().await.unwrap().value;
    assert!(verify.intact, "round {round}: {:?}", verify.problems);
    charges
}

#[test]
fn every_purchase_answered_before_a_power_cut_survives_it_once() {
    require_fuse();
    let (cuts, budget) = cut_budget(12);
    let cuts = cuts as usize;
    let seed = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64 | 1;
    eprintln!("serve power-cut test seed {seed}");
    let mut rng = encore_ledger::testing::crash::Rng(seed);
    let dir = tempfile::tempdir().unwrap();
    let (backing, mnt) = (dir.path().join("backing"), dir.path().join("mnt"));
    std::fs::create_dir_all(&mnt).unwrap();
    let data = backing.join("data");
    let made = deployment::init(&data, "2026-12-01T00:00:00Z").unwrap();
    let operator = deployment::read_token(&made.operator_token()).unwrap();
    let player_token = credentials::add(&made.credentials(), "player-1", Role::Device, Some("player-1"), "").unwrap().token;
    // A round answers about 100 purchases: enough contents that every round has some to buy.
    let contents = (cuts * 32).max(400);
    let cards = set_up(&data, &operator, contents);
    let mut todo: Vec<(usize, usize)> = (0..CARDS).flat_map(|i| (0..contents).map(move |j| (i, j))).collect();
    let (mut acknowledged, mut charges, mut dropped, mut torn) = (BTreeMap::new(), 0, 0, 0);
    let started = Instant::now();
    let mut round = 0;
    while round < cuts && !todo.is_empty() && started.elapsed() < budget {
        let mounted = PowerLossFs::mount(&backing, &mnt).unwrap_or_else(|e| panic!("round {round}: {e}"));
        let stats = mounted.stats();
        let running = Server::start(&mnt.join("data"));
        let base = running.base.clone();
        let batch: Vec<_> = todo.drain(..todo.len().min(200)).collect();
        let delay = Duration::from_micros(20_000 + rng.next_u64() % 150_000);
        let killer = std::thread::spawn(move || {
            std::thread::sleep(delay);
            running.kill();
        });
        let answered = actix_rt::System::new().block_on(common::buy_until_stopped(&Client::new(&base, &player_token), &cards, batch.clone(), WORKERS));
        killer.join().unwrap();
        if round % 2 == 1 {
            mounted.cut_tearing(rng.next_u64());
        } else {
            mounted.cut();
        }
        (dropped, torn) = (dropped + stats.dropped_bytes.load(Ordering::Relaxed), torn + stats.torn_pages.load(Ordering::Relaxed));
        for (key, outcome) in &answered {
            assert_eq!(outcome, "licensed", "{key}: every card can afford every song");
        }
        audit_rebuild(&data, round);
        let server = Server::start(&data);
        charges = actix_rt::System::new().block_on(check_after_cut(&server.base, &operator, &player_token, &cards, &answered, round));
        drop(server);
        acknowledged.extend(answered);
        // What was not answered goes back: a client retries with the same key.
        todo.extend(batch.into_iter().filter(|&(i, j)| !acknowledged.contains_key(&key(i, j))));
        round += 1;
    }
    assert!(round > 0 && !acknowledged.is_empty(), "at least one power cut after acknowledged purchases ran");
    assert!(charges >= acknowledged.len(), "every acknowledged purchase is charged");
    eprintln!(
        "{round} power cuts under encore serve in {:.1} s: {} purchases acknowledged before a cut, {charges} charged, \
         {dropped} unsynced bytes dropped, {torn} unsynced pages kept",
        started.elapsed().as_secs_f64(),
        acknowledged.len()
    );
}
