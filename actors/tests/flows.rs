//! Every flow of both halves of the domain through the `Runtime`, written as
//! step lists; plus the concurrency, directory bound and secrecy tests.
// Test and benchmark code: a failed set-up or check stops it loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;

use common::*;
use encore_actors::RuntimeConfig;
use encore_domain::groups::{CharismaPolicy, ControlMode, DistributionConfig, UsageRules};
use encore_domain::licensing::{LicensingEvent, PurchaseOutcome};
use encore_domain::{Event, Money};

fn buy(card: &'static str, purchase: &'static str, content: &'static str) -> Step {
    Step::PlayerBuy { card, purchase, content, forged: false }
}

fn opened(account: &'static str, initial: u64) -> Step {
    Step::OpenAccount { account, initial, expires_in_days: None }
}

#[actix_rt::test]
async fn licensing_flows_from_a_player() {
    let h = harness();
    run(
        &h,
        &[
            (opened("a1", 100), Events(&["AccountOpened", "CardLoaded"])),
            (opened("a1", 0), Fails("already open")),
            (Step::IssueCard { card: "c1", account: "a1" }, Events(&["CardIssued"])),
            (Step::IssueCard { card: "c2", account: "nope" }, Fails("account nope is not open")),
            (Step::List { content: "m1", price: 30, uses: 2 }, Events(&["ContentListed"])),
            (Step::List { content: "m2", price: 0, uses: 2 }, Fails("price zero")),
            (Step::Load { account: "a1", amount: 0 }, Fails("loading zero")),
            (Step::Load { account: "a1", amount: 20 }, Events(&["CardLoaded"])),
            (buy("c1", "p1", "m1"), Events(&["Charged", "LicenseIssued", "LicenseWrittenToCard"])),
            // Retrying the same purchase id never charges twice.
            (buy("c1", "p1", "m1"), Events(&[])),
            (buy("c1", "p2", "nothing"), Fails("not in the catalogue")),
            (Step::PlayerBuy { card: "c1", purchase: "p3", content: "m1", forged: true }, Events(&["CardRejected"])),
            (Step::Play { card: "c1", content: "m1", forged: false }, Events(&["ContentPlayed", "UseDecremented"])),
            (Step::Play { card: "c1", content: "m1", forged: true }, Events(&["CardRejected"])),
            (Step::Play { card: "c1", content: "m1", forged: false }, Events(&["ContentPlayed", "UseDecremented"])),
            (Step::Play { card: "c1", content: "m1", forged: false }, Events(&["PlayRefused"])),
            (Step::Play { card: "c1", content: "m9", forged: false }, Events(&["PlayRefused", "ContentIdRecordedOnCard"])),
            (Step::Refund { account: "a1", purchase: "p1" }, Events(&["Refunded", "LicenseRevoked"])),
            (Step::Refund { account: "a1", purchase: "p1" }, Events(&[])),
            (Step::Refund { account: "a1", purchase: "p404" }, Fails("no charge for purchase p404")),
        ],
    )
    .await;
    let account = h.runtime.account(&acct("a1")).await.unwrap();
    assert_eq!(account.balance, Money(120));
    assert_eq!((account.loaded, account.charged, account.refunded), (Money(120), Money(30), Money(30)));
}

#[actix_rt::test]
async fn declines_and_expiry_are_events() {
    let h = harness();
    run(
        &h,
        &[
            (Step::OpenAccount { account: "a1", initial: 10, expires_in_days: Some(5) }, Events(&["AccountOpened", "CardLoaded"])),
            (Step::IssueCard { card: "c1", account: "a1" }, Events(&["CardIssued"])),
            (Step::List { content: "m1", price: 30, uses: 1 }, Events(&["ContentListed"])),
            (buy("c1", "p1", "m1"), Events(&["ChargeDeclined"])),
            (Step::List { content: "m2", price: 10, uses: 1 }, Events(&["ContentListed"])),
            (Step::AdvanceDays(6), Events(&[])),
            (buy("c1", "p2", "m2"), Events(&["ChargeDeclined"])),
            (Step::Load { account: "a1", amount: 10 }, Fails("expired")),
        ],
    )
    .await;
}

#[actix_rt::test]
async fn kiosk_session_buys_the_wanted_content_onto_the_card() {
    let h = harness();
    run(
        &h,
        &[
            (opened("a1", 100), Events(&["AccountOpened", "CardLoaded"])),
            (Step::IssueCard { card: "c1", account: "a1" }, Events(&["CardIssued"])),
            (Step::List { content: "m1", price: 40, uses: 3 }, Events(&["ContentListed"])),
            (Step::RecordWanted { card: "c1", content: "m1" }, Events(&["ContentIdRecordedOnCard"])),
            (Step::KioskBuy { kiosk: "k1", card: "c1", purchase: "p1", content: "m1" }, Fails("holds no card")),
            (Step::Insert { kiosk: "k1", card: "c1", forged: true }, Events(&["CardRejected"])),
            (Step::Insert { kiosk: "k1", card: "c1", forged: false }, Events(&["CardInserted"])),
            (Step::Insert { kiosk: "k1", card: "c1", forged: false }, Fails("already holds card c1")),
            (Step::KioskBuy { kiosk: "k1", card: "c1", purchase: "p1", content: "m1" }, Events(&["Charged", "LicenseIssued", "LicenseWrittenToCard"])),
            (Step::KioskBuy { kiosk: "k1", card: "c1", purchase: "p2", content: "m1" }, Events(&[])),
            (Step::Eject { kiosk: "k1" }, Events(&["CardEjected"])),
            (Step::Eject { kiosk: "k1" }, Fails("holds no card")),
            (Step::Play { card: "c1", content: "m1", forged: false }, Events(&["ContentPlayed", "UseDecremented"])),
        ],
    )
    .await;
}

#[actix_rt::test]
async fn a_whole_kiosk_session_in_one_call() {
    let h = harness();
    run(
        &h,
        &[
            (opened("a1", 100), Events(&["AccountOpened", "CardLoaded"])),
            (Step::IssueCard { card: "c1", account: "a1" }, Events(&["CardIssued"])),
            (Step::List { content: "m1", price: 40, uses: 3 }, Events(&["ContentListed"])),
            (Step::RecordWanted { card: "c1", content: "m1" }, Events(&["ContentIdRecordedOnCard"])),
        ],
    )
    .await;
    let rt = &h.runtime;
    let chip = rt.secrets().genuine_chip(card("c1"));
    rt.kiosk_insert(&dev("k1"), &chip).await.unwrap();
    assert_eq!(rt.kiosk_pending(&dev("k1")).await.unwrap(), vec![content("m1")]);
    rt.kiosk_eject(&dev("k1")).await.unwrap();
    let session = rt.kiosk_session(&dev("k1"), &chip, &[(purchase("p1"), content("m1"))]).await.unwrap();
    assert_eq!(session.event_types(), ["CardInserted", "Charged", "LicenseIssued", "LicenseWrittenToCard", "CardEjected"]);
    assert!(matches!(session.value.purchases[0].outcome, PurchaseOutcome::Bought { price: Money(40), .. }));
}

#[actix_rt::test]
async fn groups_registration_certificates_and_lists() {
    let h = harness();
    run(
        &h,
        &[
            (Step::RegisterUser { user: "u1", service: "01234" }, Events(&["UserRegistered", "UserRegistered"])),
            (Step::RegisterUser { user: "u1", service: "01234" }, Fails("already registered")),
            (Step::RegisterUser { user: "u2", service: "01999" }, Events(&["UserRegistered", "UserRegistered"])),
            (Step::ProvisionPc { device: "pc1", recorder: Some("r1") }, Events(&["DeviceProvisioned"])),
            (Step::ProvisionPc { device: "pc2", recorder: Some("r2") }, Events(&["DeviceProvisioned"])),
            (Step::ProvisionPd { device: "pd1" }, Events(&["DeviceProvisioned"])),
            (Step::ProvisionPd { device: "pd2" }, Events(&["DeviceProvisioned"])),
            (Step::Register { group: "01234-00001", device: "pd1", via: None }, Events(&["DeviceRegistrationRefused"])),
            (Step::Register { group: "01234-00001", device: "pc1", via: None }, Events(&["DeviceRegistered", "DeviceRegistered", "SourceIdAdded"])),
            (Step::Register { group: "01999-00002", device: "pc1", via: None }, Events(&["DeviceRegistrationRefused"])),
            (Step::Register { group: "01234-00001", device: "pd1", via: Some("pc1") }, Events(&["DeviceRegistered", "DeviceRegistered", "SourceIdAdded"])),
            (Step::Register { group: "01234-00001", device: "nobody", via: None }, Fails("never provisioned")),
            (Step::Register { group: "01999-00002", device: "pc2", via: None }, Events(&["DeviceRegistered", "DeviceRegistered", "SourceIdAdded"])),
            (Step::IssueCertificate { group: "01234-00001", pc: "pc1", days: 30 }, Events(&["GroupCertificateIssued", "GroupCertificateIssued"])),
            (Step::AcceptCertificate { device: "pd1", group: "01234-00001", pc: "pc1" }, Events(&["SourceIdAdded"])),
            (Step::Register { group: "01999-00002", device: "pd2", via: Some("pc2") }, Events(&["DeviceRegistered", "DeviceRegistered", "SourceIdAdded"])),
            (Step::AcceptCertificate { device: "pd2", group: "01234-00001", pc: "pc1" }, Events(&["CertificateRefused"])),
            (Step::Merge { a: "pd1", b: "pc1" }, Events(&["SourceIdsMerged", "SourceIdsMerged"])),
            (Step::Merge { a: "pd1", b: "pd2" }, Fails("different groups")),
            (Step::Rip { pc: "pc1", content: "song" }, Events(&["ContentRipped"])),
            (Step::Copy { from: "pc1", to: "pd1", content: "song" }, Events(&["ContentCopied"])),
            (Step::DevicePlay { device: "pd1", content: "song" }, Events(&["DevicePlayed"])),
            (Step::Copy { from: "pc1", to: "pd2", content: "song" }, Events(&["ContentCopied"])),
            (Step::DevicePlay { device: "pd2", content: "song" }, Events(&["DevicePlayRefused"])),
            (Step::Deregister { group: "01234-00001", device: "pd1" }, Events(&["DeviceDeregistered", "DeviceDeregistered", "SourceListCleared"])),
            (Step::DevicePlay { device: "pd1", content: "song" }, Events(&["DevicePlayRefused"])),
            (Step::Deregister { group: "01234-00001", device: "pd1" }, Fails("not registered")),
        ],
    )
    .await;
}

#[actix_rt::test]
async fn unmanaged_copies_and_check_in_check_out() {
    let h = harness();
    let rules = UsageRules { plays_left: Some(1), valid_until: None, checkouts_left: 1 };
    run(
        &h,
        &[
            (Step::RegisterUser { user: "u1", service: "01234" }, Events(&["UserRegistered", "UserRegistered"])),
            (Step::ProvisionPc { device: "pc1", recorder: None }, Events(&["DeviceProvisioned"])),
            (Step::ProvisionPd { device: "pd1" }, Events(&["DeviceProvisioned"])),
            (Step::Acquire { device: "pc1", content: "free", group_source: None, rules: None }, Events(&["ContentAcquired"])),
            (Step::Copy { from: "pc1", to: "pd1", content: "free" }, Events(&["CopyRefused"])),
            (Step::Register { group: "01234-00001", device: "pc1", via: None }, Events(&["DeviceRegistered", "DeviceRegistered", "SourceIdAdded"])),
            (Step::Register { group: "01234-00001", device: "pd1", via: Some("pc1") }, Events(&["DeviceRegistered", "DeviceRegistered", "SourceIdAdded"])),
            (Step::Copy { from: "pc1", to: "pd1", content: "free" }, Events(&["ContentCopied"])),
            (Step::Acquire { device: "pd1", content: "lent", group_source: Some("01999-00009"), rules: Some(rules) }, Events(&["ContentAcquired"])),
            (Step::DevicePlay { device: "pd1", content: "lent" }, Events(&["DevicePlayRefused"])),
            (Step::SetMode { device: "pd1", mode: ControlMode::CheckInCheckOut }, Events(&["ModeChanged"])),
            (Step::DevicePlay { device: "pd1", content: "lent" }, Events(&["DevicePlayed"])),
            (Step::DevicePlay { device: "pd1", content: "lent" }, Events(&["DevicePlayRefused"])),
        ],
    )
    .await;
}

/// Radio sharing, favorites PD -> PC -> distribution server, a purchase by a
/// member of the group that uploaded the favorite (ReliabilityBumped in the
/// same append as the charge, the favorite spent), charisma, the reward
/// discounting a purchase by a member of the charisma group, reputation sync.
#[actix_rt::test]
async fn sharing_favorites_reliability_charisma_and_rewards() {
    let h = harness();
    let config = DistributionConfig { points_per_purchase: 1, policy: CharismaPolicy::Threshold { threshold: 0 }, points_per_further_purchase: None };
    let via = Some("01234-00001");
    let buy = |card, purchase, content| Step::PlayerBuy { card, purchase, content, forged: false };
    run(
        &h,
        &[
            (Step::Configure { config }, Events(&["DistributionConfigured"])),
            (Step::RegisterUser { user: "u1", service: "01234" }, Events(&["UserRegistered", "UserRegistered"])),
            (Step::RegisterUser { user: "u2", service: "01777" }, Events(&["UserRegistered", "UserRegistered"])),
            (Step::RegisterUser { user: "u3", service: "02000" }, Events(&["UserRegistered", "UserRegistered"])),
            (Step::ProvisionPc { device: "pc1", recorder: None }, Events(&["DeviceProvisioned"])),
            (Step::ProvisionPd { device: "pd1" }, Events(&["DeviceProvisioned"])),
            (Step::ProvisionPc { device: "pc2", recorder: None }, Events(&["DeviceProvisioned"])),
            (Step::ProvisionPd { device: "pd2" }, Events(&["DeviceProvisioned"])),
            (Step::ProvisionPc { device: "pc3", recorder: None }, Events(&["DeviceProvisioned"])),
            (Step::ProvisionPd { device: "pd3" }, Events(&["DeviceProvisioned"])),
            (Step::Register { group: "01234-00001", device: "pc1", via: None }, Events(&["DeviceRegistered", "DeviceRegistered", "SourceIdAdded"])),
            (Step::Register { group: "01234-00001", device: "pd1", via: Some("pc1") }, Events(&["DeviceRegistered", "DeviceRegistered", "SourceIdAdded"])),
            (Step::Register { group: "01777-00002", device: "pc2", via: None }, Events(&["DeviceRegistered", "DeviceRegistered", "SourceIdAdded"])),
            (Step::Register { group: "01777-00002", device: "pd2", via: Some("pc2") }, Events(&["DeviceRegistered", "DeviceRegistered", "SourceIdAdded"])),
            (Step::Register { group: "02000-00003", device: "pc3", via: None }, Events(&["DeviceRegistered", "DeviceRegistered", "SourceIdAdded"])),
            (Step::Register { group: "02000-00003", device: "pd3", via: Some("pc3") }, Events(&["DeviceRegistered", "DeviceRegistered", "SourceIdAdded"])),
            (Step::Acquire { device: "pd1", content: "m1", group_source: via, rules: None }, Events(&["ContentAcquired"])),
            (Step::Share { from: "pd1", to: "pd2", content: "m1" }, Fails("not marked shareable")),
            (Step::MarkShareable { device: "pd1", content: "m1" }, Events(&["ContentMarkedShareable"])),
            (Step::Share { from: "pd1", to: "pd2", content: "m1" }, Events(&["ContentShared", "SharedContentPlayed"])),
            (Step::Share { from: "pd1", to: "pd3", content: "m1" }, Events(&["ContentShared", "SharedContentRefused"])),
            (Step::Favorite { device: "pd2" }, Events(&["FavoriteRecorded"])),
            (Step::Upload { pd: "pd2", pc: "pc1" }, Fails("own group")),
            (Step::Upload { pd: "pd2", pc: "pc2" }, Events(&["FavoritesUploaded", "FavoritesUploaded"])),
            (Step::Forward { pc: "pc2" }, Events(&["FavoritesForwarded", "FavoritesForwarded"])),
            (opened("a1", 1000), Events(&["AccountOpened", "CardLoaded"])),
            (Step::Link { account: "a1", user: "nobody" }, Fails("not registered")),
            (Step::Link { account: "a1", user: "u2" }, Events(&["AccountLinked"])),
            (Step::Link { account: "a1", user: "u2" }, Events(&[])),
            (Step::Link { account: "a1", user: "u1" }, Fails("linked to group 01777-00002 already")),
            (Step::IssueCard { card: "c1", account: "a1" }, Events(&["CardIssued"])),
            (Step::List { content: "m1", price: 100, uses: 5 }, Events(&["ContentListed"])),
            (Step::List { content: "m2", price: 100, uses: 5 }, Events(&["ContentListed"])),
            // No favorite of m2 was uploaded by u2's group: a plain purchase.
            (buy("c1", "p1", "m2"), Events(&["Charged", "LicenseIssued", "LicenseWrittenToCard"])),
            (Step::Reward { group: "01234-00001", discount_bp: 2500 }, Fails("not on the charisma list")),
            (buy("c1", "p2", "m1"), Events(&["Charged", "LicenseIssued", "LicenseWrittenToCard", "ReliabilityBumped", "CharismaGranted"])),
            (buy("c1", "p2", "m1"), Events(&[])),
        ],
    )
    .await;
    // The favorite was spent: buying the song again bumps nothing.
    h.runtime.refund(&acct("a1"), &purchase("p2")).await.unwrap();
    run(
        &h,
        &[
            (buy("c1", "p4", "m1"), Events(&["Charged", "LicenseIssued", "LicenseWrittenToCard"])),
            (Step::Reward { group: "01234-00001", discount_bp: 2500 }, Events(&["RewardGranted"])),
            (Step::Sync { device: "pd1" }, Events(&["ReliabilityUpdated", "CharismaListSynced"])),
            (Step::Sync { device: "pd1" }, Events(&[])),
            // A member of the charisma group pays 25 % less.
            (opened("a2", 1000), Events(&["AccountOpened", "CardLoaded"])),
            (Step::Link { account: "a2", user: "u1" }, Events(&["AccountLinked"])),
            (Step::IssueCard { card: "c2", account: "a2" }, Events(&["CardIssued"])),
            (buy("c2", "p3", "m2"), Events(&["Charged", "LicenseIssued", "LicenseWrittenToCard"])),
            (Step::SetRadio { device: "pd2", auto_switch: false, threshold: 100 }, Events(&["RadioSettingsChanged"])),
        ],
    )
    .await;
    let account = h.runtime.account(&acct("a2")).await.unwrap();
    let discounted = account.charges.get(&purchase("p3")).unwrap();
    assert_eq!(discounted.amount, Money(75), "the 25 % reward is applied to the price charged");
    assert_eq!(account.balance, Money(1000 - 75));
    assert_eq!(h.runtime.distribution().await.unwrap().reliability_of(&gid("01234-00001")), 1);
    let pd1 = h.runtime.device(&dev("pd1")).await.unwrap();
    assert_eq!(pd1.reliability(), 1);
}

async fn setup_card(h: &Harness, balance: u64, contents: usize, price: u64) {
    let rt = &h.runtime;
    rt.open_account(&acct("a1"), None, Money(balance)).await.unwrap();
    rt.issue_card(&card("c1"), &acct("a1"), None).await.unwrap();
    for i in 0..contents {
        rt.list_content(&content(&format!("m{i}")), Money(price), once(1)).await.unwrap();
    }
}

/// 64 concurrent purchases against a card whose account affords exactly 10.
#[actix_rt::test]
async fn sixty_four_concurrent_purchases_exactly_ten_succeed() {
    let h = harness();
    setup_card(&h, 100, 64, 10).await;
    let runtime = Arc::new(h.runtime);
    let chip = Arc::new(runtime.secrets().genuine_chip(card("c1")));
    let tasks: Vec<_> = (0..64)
        .map(|i| {
            let (rt, chip) = (runtime.clone(), chip.clone());
            actix_rt::spawn(async move {
                let p = purchase(&format!("p{i}"));
                rt.buy_from_player(&dev("player1"), &chip, &p, &content(&format!("m{i}"))).await.unwrap()
            })
        })
        .collect();
    let mut bought = 0;
    let mut declined = 0;
    for t in tasks {
        match t.await.unwrap().value.outcome {
            PurchaseOutcome::Bought { .. } => bought += 1,
            PurchaseOutcome::Declined(_) => declined += 1,
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!((bought, declined), (10, 54));
    let account = runtime.account(&acct("a1")).await.unwrap();
    assert_eq!(account.balance, Money(0));
    assert_eq!(account.declines, 54);
    let declines_in_log = h.ledger.scan(1).filter(|r| r.as_ref().unwrap().event_type == "ChargeDeclined").count();
    assert_eq!(declines_in_log, 54);
}

/// Many cards on one account, bought from concurrently: each card's actor
/// decides against the account it read; the account's expected version makes
/// the losers catch up and decide again, so the invariant holds.
#[actix_rt::test]
async fn concurrent_writers_of_one_account_keep_the_invariant() {
    let h = harness();
    let rt = Arc::new(h.runtime);
    rt.open_account(&acct("a1"), None, Money(500)).await.unwrap();
    for c in 0..8 {
        rt.issue_card(&card(&format!("c{c}")), &acct("a1"), None).await.unwrap();
    }
    for i in 0..80 {
        rt.list_content(&content(&format!("m{i}")), Money(10), once(1)).await.unwrap();
    }
    let mut tasks = Vec::new();
    for i in 0..80 {
        let rt = rt.clone();
        tasks.push(actix_rt::spawn(async move {
            let chip = rt.secrets().genuine_chip(card(&format!("c{}", i % 8)));
            if i % 4 == 0 {
                rt.load_money(&acct("a1"), Money(5)).await.unwrap();
            }
            rt.buy_from_player(&dev("player1"), &chip, &purchase(&format!("p{i}")), &content(&format!("m{i}"))).await.unwrap()
        }));
    }
    let mut bought = 0u64;
    for t in tasks {
        if let PurchaseOutcome::Bought { .. } = t.await.unwrap().value.outcome {
            bought += 1;
        }
    }
    let account = rt.account(&acct("a1")).await.unwrap();
    assert_eq!(account.loaded, Money(500 + 20 * 5));
    assert_eq!(account.charged, Money(bought * 10));
    assert_eq!(account.balance.units(), account.loaded.units() - account.charged.units() + account.refunded.units());
    assert!(bought <= 60, "600 loaded buys at most 60 contents at 10, bought {bought}");
    assert_eq!(account.balance, Money(600 - bought * 10));
    // The log agrees with the actor.
    let mut balance: i128 = 0;
    for record in h.ledger.scan(1) {
        let record = record.unwrap();
        if let Ok(Event::Licensing(e)) = <Event as encore_domain::EventCodec>::decode_payload(&record.event_type, &record.payload) {
            match e {
                LicensingEvent::CardLoaded(e) => balance += e.amount.units() as i128,
                LicensingEvent::Charged(e) => balance -= e.amount.units() as i128,
                _ => {}
            }
            assert!(balance >= 0, "the balance never goes negative in the log");
        }
    }
    assert_eq!(balance, account.balance.units() as i128);
}

/// The directory keeps memory bounded: 20,000 cards (and their accounts)
/// through a runtime that keeps at most 1,000 actors.
#[actix_rt::test]
async fn the_directory_bounds_live_actors() {
    const MAX_LIVE: usize = 1_000;
    let h = harness_with(RuntimeConfig { max_live_actors: MAX_LIVE, ..common::config() });
    let rt = Arc::new(h.runtime);
    let cards: u64 = std::env::var("ENCORE_DIRECTORY_CARDS").ok().and_then(|v| v.parse().ok()).unwrap_or(20_000);
    let mut peak_directory = 0;
    for chunk in (0..cards).collect::<Vec<_>>().chunks(200) {
        let tasks: Vec<_> = chunk
            .iter()
            .map(|&i| {
                let rt = rt.clone();
                actix_rt::spawn(async move {
                    let a = acct(&format!("a{i}"));
                    rt.open_account(&a, None, Money(10)).await.unwrap();
                    rt.issue_card(&card(&format!("c{i}")), &a, None).await.unwrap();
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
        peak_directory = peak_directory.max(rt.live_actors());
    }
    assert!(peak_directory <= MAX_LIVE, "directory held {peak_directory} actors");
    assert!(rt.stats().total_started() >= 2 * cards, "every card and account got an actor");
    // Forgotten actors stop once their last address is gone.
    let mut running = rt.stats().running();
    for _ in 0..500 {
        if running <= MAX_LIVE as u64 {
            break;
        }
        actix_rt::time::sleep(std::time::Duration::from_millis(10)).await;
        running = rt.stats().running();
    }
    assert!(running <= MAX_LIVE as u64, "{running} actors still running, bound {MAX_LIVE}");
    // An evicted card's actor reloads its state from the log.
    let state = rt.card(&card("c0")).await.unwrap();
    assert_eq!(state.info().map(|i| i.account.clone()), Some(acct("a0")));
}

/// After the runtime is gone, the raw bytes of the log hold no content key,
/// device key, card-bound key, issuer secret or device secret in plaintext.
#[actix_rt::test]
async fn no_key_material_in_the_raw_log() {
    let h = harness();
    run(
        &h,
        &[
            (opened("a1", 100), Events(&["AccountOpened", "CardLoaded"])),
            (Step::IssueCard { card: "c1", account: "a1" }, Events(&["CardIssued"])),
            (Step::List { content: "m1", price: 30, uses: 2 }, Events(&["ContentListed"])),
            (buy("c1", "p1", "m1"), Events(&["Charged", "LicenseIssued", "LicenseWrittenToCard"])),
            (Step::Play { card: "c1", content: "m1", forged: false }, Events(&["ContentPlayed", "UseDecremented"])),
            (Step::RegisterUser { user: "u1", service: "01234" }, Events(&["UserRegistered", "UserRegistered"])),
            (Step::ProvisionPc { device: "pc1", recorder: Some("r1") }, Events(&["DeviceProvisioned"])),
            (Step::Register { group: "01234-00001", device: "pc1", via: None }, Events(&["DeviceRegistered", "DeviceRegistered", "SourceIdAdded"])),
        ],
    )
    .await;
    let secrets = encore_actors::Secrets::from_seed(SEED);
    let content_key = *secrets.content_key(&content("m1")).expose_secret();
    let device_key = *secrets.issuer().device_key(&card("c1")).expose_secret();
    let bound_key = *secrets.issuer().device_key(&card("c1")).card_bound_key(&card("c1")).unwrap().expose_secret();
    let issuer = *secrets.issuer().expose_secret();
    let license_server = *secrets.license_server().expose_secret();
    let path = h.path();
    let Harness { dir, ledger, runtime, .. } = h;
    runtime.shutdown();
    drop(ledger);
    let raw = encore_ledger::testing::raw_record_bytes(&path).unwrap();
    assert!(raw.len() > 1000, "the scan sees the records");
    let secrets_found: Vec<&str> = [
        ("content key", &content_key[..]),
        ("device key", &device_key[..]),
        ("card-bound key (first half)", &bound_key[..32]),
        ("card-bound key (second half)", &bound_key[32..]),
        ("issuer secret", &issuer[..]),
        ("license server key", &license_server[..]),
    ]
    .into_iter()
    .filter(|(_, key)| contains(&raw, &key[..16]))
    .map(|(name, _)| name)
    .collect();
    assert!(secrets_found.is_empty(), "plaintext key material in the log: {secrets_found:?}");
    // The scan can find things: the card id is stored in plaintext.
    assert!(contains(&raw, b"c1"));
    drop(dir);
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}
