//! Carried cards over HTTP: a card file answers the server's challenges
//! itself, so a forged or relabelled card buys nothing; a content uploaded
//! as a file is stored encrypted, bought onto the card, played from the card
//! (decrypted with the key from the license), and the play reported once.
// Test and benchmark code: a failed set-up or check stops it loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use encore_card::{CardFile, CardLicense};
use encore_domain::ids::{ContentId, PurchaseId};
use encore_domain::licensing::{DeviceKey, LicenseTerms, SealedLicense};
use encore_domain::Timestamp;
use encore_server::api::types::*;
use encore_server::deployment::credentials::hex;
use encore_server::deployment::Role;

fn unhex(text: &str) -> Vec<u8> {
    encore_server::deployment::credentials::unhex(text).unwrap()
}

/// Writes a bought license onto the card, as a kiosk or player does.
fn write_license(card: &mut CardFile, view: &LicenseView) {
    let terms = LicenseTerms { uses_left: view.uses_left, valid_until: None };
    card.write_license(CardLicense {
        content: ContentId::new(view.content.clone()).unwrap(),
        purchase: PurchaseId::new(view.purchase.clone()).unwrap(),
        terms,
        sealed: SealedLicense(unhex(&view.sealed)),
    });
}

#[test]
fn a_forged_or_relabelled_card_file_buys_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (data, operator) = new_deployment(dir.path());
    let server = TestServer::start(&data, &operator);
    let op = server.operator();
    let player = server.client_as("player-1", Role::Device, Some("player-1"));
    run(async {
        op.open_account("open", &OpenAccount { account: "acct-1".into(), initial: 1_000, expires_at: None }).await.unwrap();
        for card in ["card-1", "card-2"] {
            op.issue_card(&format!("issue-{card}"), &IssueCard { card: card.into(), account: "acct-1".into(), expires_at: None }).await.unwrap();
        }
        op.list_content("list", &ListContent { content: "song-1".into(), price: 100, uses: 3, valid_days: None }).await.unwrap();
        let genuine = carried_card(&op, "card-1").await;
        // A card made at home with the right id and a key of its own.
        let forged = CardFile::personalise(genuine.card().clone(), genuine.account().clone(), None, DeviceKey::from_bytes([7; 32]));
        let answer = buy_at_player(&player, "forged", "player-1", &forged, "song-1").await.unwrap().value;
        assert_eq!((answer.outcome.as_str(), answer.reason.as_deref()), ("card-rejected", Some("not-genuine")));
        // card-1's chip presented as card-2: its answers are card-1's, so card-2 refuses them.
        let answer = player.answer_at_player("player-1", &genuine).await.unwrap();
        let body = Purchase { card: "card-2".into(), content: "song-1".into(), answer };
        let relabelled = player.player_purchase("relabelled", "player-1", &body).await.unwrap().value;
        assert_eq!(relabelled.outcome, "card-rejected");
        // An answer to a ticket the server never issued (the station picked the challenge) fails too.
        let mut ticket = player.player_challenge("player-1", "card-1").await.unwrap().value;
        ticket.challenge = hex(&[0; 32]);
        let body = Purchase { card: "card-1".into(), content: "song-1".into(), answer: encore_server::client::card_answer(&genuine, &ticket).unwrap() };
        assert_eq!(player.player_purchase("chosen", "player-1", &body).await.unwrap().value.outcome, "card-rejected");
        assert_eq!(op.account("acct-1").await.unwrap().value.balance, 1_000, "nothing was charged");
        assert_eq!(buy_at_player(&player, "real", "player-1", &genuine, "song-1").await.unwrap().value.outcome, "licensed");
    });
    server.stop();
}

#[test]
fn an_uploaded_content_is_bought_played_from_the_card_and_its_play_reported_once() {
    let dir = tempfile::tempdir().unwrap();
    let (data, operator) = new_deployment(dir.path());
    let server = TestServer::start(&data, &operator);
    let op = server.operator();
    let player = server.client_as("player-1", Role::Device, Some("player-1"));
    let song: Vec<u8> = (0..200_000u32).map(|i| (i * 7 % 251) as u8).collect();
    run(async {
        op.open_account("open", &OpenAccount { account: "acct-1".into(), initial: 1_000, expires_at: None }).await.unwrap();
        op.issue_card("issue", &IssueCard { card: "card-1".into(), account: "acct-1".into(), expires_at: None }).await.unwrap();
        let terms = ContentFileTerms { price: 250, uses: 2, valid_days: None, title: Some("Blue in Green".into()) };
        op.upload_content("upload-1", "song-1", &terms, song.clone()).await.unwrap();
        let retried = op.upload_content("upload-1", "song-1", &terms, song.clone()).await.unwrap();
        assert!(retried.replayed, "a retried upload is answered from its receipt");
        let listed = player.content("song-1").await.unwrap().value;
        assert_eq!((listed.title.as_deref(), listed.price), (Some("Blue in Green"), 250));
        op.list_content("list-2", &ListContent { content: "song-2".into(), price: 100, uses: 1, valid_days: Some(7) }).await.unwrap();
        let catalogue = player.catalogue().await.unwrap().value.contents;
        assert_eq!(catalogue.iter().map(|c| c.content.as_str()).collect::<Vec<_>>(), ["song-1", "song-2"]);
        assert_eq!(catalogue[0], listed);
        let ciphertext = player.content_file("song-1").await.unwrap();
        assert_eq!(listed.file.as_ref().map(|f| f.bytes), Some(ciphertext.len() as u64));
        assert!(!ciphertext.windows(64).any(|w| song.windows(64).next() == Some(w)), "the store holds ciphertext only");
        let stored: Vec<_> = std::fs::read_dir(data.join("contents")).unwrap().collect();
        assert_eq!(stored.len(), 1, "one file stored, the retry encrypted nothing");

        let mut card = carried_card(&op, "card-1").await;
        let bought = buy_at_player(&player, "buy-1", "player-1", &card, "song-1").await.unwrap().value;
        write_license(&mut card, bought.license.as_ref().expect("a license to write"));
        let content = ContentId::new("song-1").unwrap();
        let played = card.play(&content, Timestamp::from_micros(1)).unwrap();
        assert_eq!(played.key.decrypt_content(&content, &ciphertext).unwrap(), song, "the license's key opens the content");
        let report =
            PlayReportBody { card: "card-1".into(), content: "song-1".into(), played_at: "2026-01-01T00:00:00Z".into(), sealed: hex(&played.sealed_after.0) };
        let recorded = player.report_play("play-1", "player-1", &report).await.unwrap().value;
        assert_eq!((recorded.outcome.as_str(), recorded.uses_left), ("recorded", Some(1)));
        let again = player.report_play("play-1", "player-1", &report).await.unwrap();
        assert!(again.replayed && again.value == recorded, "a retried report is answered from its receipt");
        let copied = player.report_play("play-1-copy", "player-1", &report).await.unwrap().value;
        assert_eq!((copied.outcome.as_str(), copied.reason.as_deref()), ("refused", Some("out-of-sequence")), "the same use reported twice counts once");
        let usage = op.usage_at("acct-1", None).await.unwrap().value.uses;
        assert_eq!(usage.iter().map(|u| u.kind.as_str()).collect::<Vec<_>>(), ["bought", "played"]);
    });
    server.stop();
}

#[test]
fn a_content_file_over_the_limit_is_refused_before_it_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let (data, operator) = new_deployment(dir.path());
    let server = TestServer::start(&data, &operator);
    let op = server.operator();
    run(async {
        let before = op.log(1, 10).await.unwrap().value.head;
        let terms = ContentFileTerms { price: 1, uses: 1, valid_days: None, title: None };
        let big = vec![0u8; encore_server::deployment::contents::MAX_CONTENT_FILE_BYTES + 1];
        assert_eq!(refused(op.upload_content("big", "song-1", &terms, big).await).status, 413);
        let bad_title = ContentFileTerms { title: Some("line\nbreak".into()), ..terms };
        assert_eq!(refused(op.upload_content("title", "song-1", &bad_title, b"x".to_vec()).await).status, 422);
        assert!(!data.join("contents").exists(), "a refused listing stored no file");
        assert_eq!(op.log(1, 10).await.unwrap().value.head, before, "nothing written");
    });
    server.stop();
}
