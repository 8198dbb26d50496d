//! kill -9 of `encore serve` during concurrent purchases over HTTP: every
//! purchase answered 2xx before the kill is in the log after a restart (its
//! retry is answered from the log, `replayed`, with the same outcome), no
//! purchase is charged twice, and verify is intact.
//!
//! `ENCORE_SERVE_KILLS` sets the number of kills (default 3 in `./x test`;
//! the long run in docs/RELIABILITY.md uses 100).
// Test and benchmark code: a failed set-up or check stops it loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use encore_card::CardFile;
use encore_server::api::types::*;
use encore_server::deployment::{self, credentials, Role};
use encore_server::Client;

mod common;
use common::Server;

const CARDS: usize = 8;
const CONTENTS: usize = 600;
const WORKERS: usize = 16;

fn start(data: &Path) -> Server {
    Server::start(data)
}

fn card(i: usize) -> String {
    format!("card-{i}")
}

fn content(j: usize) -> String {
    format!("song-{j}")
}

#[test]
fn every_purchase_answered_before_a_kill_survives_it_once() {
    let kills: usize = std::env::var("ENCORE_SERVE_KILLS").ok().and_then(|v| v.parse().ok()).unwrap_or(3);
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let made = deployment::init(&data, "2026-12-01T00:00:00Z").unwrap();
    let operator = deployment::read_token(&made.operator_token()).unwrap();
    let player_token = credentials::add(&made.credentials(), "player-1", Role::Device, Some("player-1"), "").unwrap().token;
    let server = start(&data);
    let cards: Vec<CardFile> = actix_rt::System::new().block_on(async {
        let op = Client::new(&server.base, &operator);
        let mut cards = Vec::new();
        for i in 0..CARDS {
            let account = format!("acct-{i}");
            op.open_account(&format!("open-{i}"), &OpenAccount { account: account.clone(), initial: 1_000_000, expires_at: None }).await.unwrap();
            op.issue_card(&format!("issue-{i}"), &IssueCard { card: card(i), account, expires_at: None }).await.unwrap();
            cards.push(CardFile::from_bytes(&op.card_image(&card(i)).await.unwrap()).unwrap());
        }
        for j in 0..CONTENTS {
            op.list_content(&format!("list-{j}"), &ListContent { content: content(j), price: 7, uses: 1, valid_days: None }).await.unwrap();
        }
        cards
    });
    let mut server = Some(server);
    let mut all: Vec<(usize, usize)> = (0..CARDS).flat_map(|i| (0..CONTENTS).map(move |j| (i, j))).collect();
    let mut acknowledged = BTreeMap::new();
    let deadline = Instant::now() + Duration::from_secs(60 + 10 * kills as u64);
    let mut round = 0;
    while round < kills && !all.is_empty() && Instant::now() < deadline {
        let running = server.take().unwrap_or_else(|| start(&data));
        let base = running.base.clone();
        let batch: Vec<_> = all.drain(..all.len().min(300)).collect();
        // Kill after a delay that moves through the round (purchases are in flight).
        let delay = Duration::from_millis(30 + (round as u64 * 37) % 150);
        let killer = std::thread::spawn(move || {
            std::thread::sleep(delay);
            running.kill();
        });
        let answered = actix_rt::System::new().block_on(common::buy_until_stopped(&Client::new(&base, &player_token), &cards, batch.clone(), WORKERS));
        killer.join().unwrap();
        for (key, outcome) in &answered {
            assert_eq!(outcome, "licensed", "{key}: every card can afford every song");
        }
        acknowledged.extend(answered);
        // What was not answered goes back: a client retries with the same key.
        let done: std::collections::BTreeSet<_> = acknowledged.keys().cloned().collect();
        all.extend(batch.into_iter().filter(|(i, j)| !done.contains(&format!("buy-{i}-{j}"))));
        round += 1;
    }
    assert!(round >= kills.min(1), "at least one kill happened");
    let server = start(&data);
    actix_rt::System::new().block_on(async {
        let player = Client::new(&server.base, &player_token);
        let op = Client::new(&server.base, &operator);
        for (key, outcome) in &acknowledged {
            let (i, j) = key.strip_prefix("buy-").and_then(|k| k.split_once('-')).map(|(i, j)| (i.parse().unwrap(), j.parse().unwrap())).unwrap();
            let answer = player.answer_at_player("player-1", &cards[i]).await.unwrap();
            let again = player.player_purchase(key, "player-1", &Purchase { card: card(i), content: content(j), answer }).await.unwrap();
            assert!(again.replayed, "{key} acknowledged before a kill is answered from the log");
            assert_eq!(&again.value.outcome, outcome);
        }
        let mut charged = 0;
        let mut from = 1;
        loop {
            let page = op.log(from, 1000).await.unwrap().value;
            charged += page.records.iter().filter(|r| r.event_type == "Charged").count();
            match page.next {
                Some(next) => from = next,
                None => break,
            }
        }
        let (mut spent, mut licenses) = (0, 0);
        for i in 0..CARDS {
            let account = op.account(&format!("acct-{i}")).await.unwrap().value;
            spent += account.charged;
            assert_eq!(account.balance + account.charged, 1_000_000, "acct-{i}: loaded = balance + charged");
            licenses += op.card(&card(i)).await.unwrap().value.licenses.len();
        }
        assert_eq!(spent, charged as u64 * 7, "one charge per Charged event");
        assert_eq!(charged, licenses, "every charge has its license on the card and no purchase was charged twice");
        assert!(charged >= acknowledged.len(), "every acknowledged purchase is charged");
        let verify = op.verify().await.unwrap().value;
        assert!(verify.intact, "{:?}", verify.problems);
    });
    eprintln!("{round} kills, {} purchases acknowledged before a kill", acknowledged.len());
    server.kill();
}
