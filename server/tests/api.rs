//! The API against a real server through the typed client: the licensing
//! flows, idempotent retries (also across a restart), optimistic concurrency,
//! concurrent purchases on one account, and the refusals of every route.
// Test and benchmark code: a failed set-up or check stops it loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use encore_server::api::types::*;
use encore_server::deployment::Role;
use encore_server::{Answer, Client};

/// Opens an account with a card, and hands back the card file its holder carries.
async fn setup_shop(op: &Client, account: &str, balance: u64) -> encore_card::CardFile {
    op.open_account(&format!("open-{account}"), &OpenAccount { account: account.into(), initial: balance, expires_at: None }).await.unwrap();
    op.issue_card(&format!("card-{account}"), &IssueCard { card: format!("card-of-{account}"), account: account.into(), expires_at: None }).await.unwrap();
    carried_card(op, &format!("card-of-{account}")).await
}

async fn buy_at_kiosk(kiosk: &Client, key: &str, card: &encore_card::CardFile, content: &str) -> Answer<PurchaseView> {
    let answer = kiosk.answer_at_kiosk("kiosk-1", card).await.unwrap();
    kiosk.kiosk_purchase(key, "kiosk-1", &Purchase { card: card.card().to_string(), content: content.into(), answer }).await.unwrap()
}

async fn list(op: &Client, content: &str, price: u64) {
    op.list_content(&format!("list-{content}"), &ListContent { content: content.into(), price, uses: 3, valid_days: Some(30) }).await.unwrap();
}

#[test]
fn a_kiosk_visit_over_http_charges_once_and_writes_the_license_onto_the_card() {
    let dir = tempfile::tempdir().unwrap();
    let (data, operator) = new_deployment(dir.path());
    let server = TestServer::start(&data, &operator);
    let kiosk = server.client_as("kiosk-1", Role::Kiosk, Some("kiosk-1"));
    let op = server.operator();
    run(async {
        let card = setup_shop(&op, "acct-1", 1_000).await;
        list(&op, "song-1", 300).await;
        list(&op, "song-2", 900).await;
        assert_eq!(kiosk.content("song-1").await.unwrap().value.price, 300);
        let answer = kiosk.answer_at_kiosk("kiosk-1", &card).await.unwrap();
        kiosk.insert_card("visit-1-in", "kiosk-1", "card-of-acct-1", &answer).await.unwrap();
        let bought = buy_at_kiosk(&kiosk, "visit-1-buy-1", &card, "song-1").await;
        assert_eq!((bought.value.outcome.as_str(), bought.value.price, bought.value.balance), ("licensed", Some(300), Some(700)));
        let license = bought.value.license.clone().expect("a licensed purchase hands over the license to write on the card");
        assert_eq!((license.content.as_str(), license.uses_left), ("song-1", 3));
        let again = buy_at_kiosk(&kiosk, "visit-1-buy-1", &card, "song-1").await;
        assert!(again.replayed && again.value == bought.value, "a retry with a fresh answer is answered from the receipt, license included");
        let declined = buy_at_kiosk(&kiosk, "visit-1-buy-2", &card, "song-2").await;
        assert_eq!(declined.status, 200, "a declined charge is an answer, not an error");
        assert_eq!((declined.value.outcome.as_str(), declined.value.reason.as_deref()), ("declined", Some("insufficient-funds")));
        assert!(declined.value.events.iter().any(|e| e.event_type == "ChargeDeclined"));
        let pending = kiosk.pending("kiosk-1").await.unwrap().value;
        assert_eq!((pending.card.as_str(), pending.contents.len()), ("card-of-acct-1", 0));
        kiosk.eject_card("visit-1-out", "kiosk-1").await.unwrap();
        assert_eq!(refused(kiosk.pending("kiosk-1").await).kind, "no-card-inserted");
        let account = op.account("acct-1").await.unwrap();
        assert_eq!((account.value.balance, account.value.charged), (700, 300));
        assert_eq!(op.card("card-of-acct-1").await.unwrap().value.licenses, vec!["song-1".to_string()]);
        // A refund pays the purchase back and takes the license off the card.
        let purchase = bought.value.purchase.clone().expect("a charged purchase names its id");
        let refunded = op.refund("refund-1", "acct-1", &purchase).await.unwrap().value;
        assert!(refunded.events.iter().any(|e| e.event_type == "Refunded"), "{refunded:?}");
        assert_eq!(op.refund("refund-1", "acct-1", &purchase).await.unwrap().value, refunded, "a retried refund answers the same");
        assert_eq!(op.account("acct-1").await.unwrap().value.balance, 1_000);
        assert!(op.card("card-of-acct-1").await.unwrap().value.licenses.is_empty());
        assert_eq!(refused(op.refund("refund-2", "acct-1", "p-nothing").await).status, 404);
        let balances = op.balances_at(None).await.unwrap().value;
        assert_eq!(balances.accounts.iter().find(|a| a.account == "acct-1").map(|a| (a.balance, a.declines)), Some((1_000, 1)));
        let before_refund = op.balances_at(Some(refunded.events[0].position - 1)).await.unwrap().value;
        assert_eq!(before_refund.accounts.iter().find(|a| a.account == "acct-1").map(|a| a.balance), Some(700), "balances as of a past position");
        let uses = op.usage_at("acct-1", None).await.unwrap().value.uses;
        assert_eq!(uses.iter().map(|u| (u.kind.as_str(), u.content.as_str())).collect::<Vec<_>>(), [("bought", "song-1")]);
        assert_eq!(op.content_usage_at("song-1", None).await.unwrap().value.purchases, 1);
        assert!(op.usage_at("acct-1", Some(1)).await.unwrap().value.uses.is_empty(), "usage as of the first record: nothing bought yet");
        assert!(op.charisma_at(None).await.unwrap().value.charisma.is_empty());
        // The log read three ways agrees: pages, a stream, and the live subscription.
        let page = op.log(1, 1000).await.unwrap().value;
        let account_stream = op.stream("account-acct-1", 1, 1000).await.unwrap();
        assert_eq!(account_stream.etag, Some(account_stream.value.records.len() as u64));
        let subscribed = op.subscribe_collect(0, page.records.len()).await.unwrap();
        assert_eq!(subscribed, page.records);
        let verify = op.verify().await.unwrap().value;
        assert!(verify.intact, "{:?}", verify.problems);
    });
    server.stop();
}

#[test]
fn a_retried_load_is_answered_from_the_log_and_credits_once_even_across_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let (data, operator) = new_deployment(dir.path());
    let server = TestServer::start(&data, &operator);
    let op = server.operator();
    let first = run(async {
        setup_shop(&op, "acct-1", 0).await;
        let first = op.load("load-1", "acct-1", 500, None).await.unwrap();
        assert!(!first.replayed);
        let again = op.load("load-1", "acct-1", 500, None).await.unwrap();
        assert!(again.replayed);
        assert_eq!(again.value, first.value, "the retry answers the first result");
        let other = refused(op.load("load-1", "acct-1", 501, None).await);
        assert_eq!((other.status, other.kind.as_str()), (422, "idempotency-key-reused"));
        assert_eq!(op.account("acct-1").await.unwrap().value.balance, 500);
        first
    });
    server.stop();
    let server = TestServer::start(&data, &operator);
    let op = server.operator();
    run(async {
        let after_restart = op.load("load-1", "acct-1", 500, None).await.unwrap();
        assert!(after_restart.replayed);
        assert_eq!(after_restart.value, first.value);
        assert_eq!(op.account("acct-1").await.unwrap().value.balance, 500, "credited once");
        // Keys are per credential: another operator's "load-1" is another request.
        let auditor = server.client_as("audit-1", Role::Auditor, None);
        assert_eq!(refused(auditor.load("load-1", "acct-1", 500, None).await).status, 403);
    });
    server.stop();
}

#[test]
fn if_match_refuses_a_write_to_an_account_that_moved_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (data, operator) = new_deployment(dir.path());
    let server = TestServer::start(&data, &operator);
    let op = server.operator();
    run(async {
        setup_shop(&op, "acct-1", 100).await;
        let seen = op.account("acct-1").await.unwrap();
        let version = seen.etag.expect("accounts have an ETag");
        assert_eq!(version, seen.value.version);
        let first = op.load("load-a", "acct-1", 10, Some(version)).await.unwrap();
        // Its retry names the version it was made against: still answered from the log, not 412.
        let again = op.load("load-a", "acct-1", 10, Some(version)).await.unwrap();
        assert!(again.replayed && again.value == first.value, "{again:?}");
        // So is a retried opening, though the account is open by now.
        let opening = OpenAccount { account: "acct-1".into(), initial: 100, expires_at: None };
        assert!(op.open_account("open-acct-1", &opening).await.unwrap().replayed);
        let stale = refused(op.load("load-b", "acct-1", 10, Some(version)).await);
        assert_eq!((stale.status, stale.kind.as_str()), (412, "precondition-failed"));
        let now = op.account("acct-1").await.unwrap();
        assert_eq!((now.value.balance, now.etag), (110, Some(version + 1)));
    });
    server.stop();
}

#[test]
fn concurrent_purchases_on_one_account_charge_exactly_the_affordable_ones() {
    let dir = tempfile::tempdir().unwrap();
    let (data, operator) = new_deployment(dir.path());
    let server = TestServer::start(&data, &operator);
    let op = server.operator();
    let player = server.client_as("player-1", Role::Device, Some("player-1"));
    const TRIES: usize = 24;
    const PRICE: u64 = 100;
    const AFFORDABLE: usize = 9;
    run(async {
        let card = std::sync::Arc::new(setup_shop(&op, "acct-1", PRICE * AFFORDABLE as u64 + 50).await);
        for i in 0..TRIES {
            list(&op, &format!("song-{i}"), PRICE).await;
        }
        // All at once (the client's pool opens a connection per request in
        // flight); each purchase sent twice, a retry racing its original.
        let buys = (0..TRIES * 2).map(|n| {
            let (client, card) = (player.clone(), card.clone());
            let i = n % TRIES;
            async move { buy_at_player(&client, &format!("buy-{i}"), "player-1", &card, &format!("song-{i}")).await }
        });
        let answers = futures_util::future::join_all(buys).await;
        let outcomes: Vec<String> = answers.iter().map(|a| a.as_ref().expect("every purchase is answered").value.outcome.clone()).collect();
        for i in 0..TRIES {
            assert_eq!(outcomes[i], outcomes[i + TRIES], "a retry answers what its original did (song-{i})");
        }
        let licensed = outcomes[..TRIES].iter().filter(|o| *o == "licensed").count();
        assert_eq!(licensed, AFFORDABLE, "{outcomes:?}");
        let account = op.account("acct-1").await.unwrap().value;
        assert_eq!((account.balance, account.charged), (50, PRICE * AFFORDABLE as u64));
        let charged = count_type(&op, "Charged").await;
        assert_eq!(charged, AFFORDABLE, "nothing charged twice");
        assert!(op.verify().await.unwrap().value.intact);
    });
    server.stop();
}

async fn count_type(op: &Client, event_type: &str) -> usize {
    let page = op.log(1, 1000).await.unwrap().value;
    page.records.iter().filter(|r| r.event_type == event_type).count()
}
