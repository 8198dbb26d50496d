//! Cross-cutting tests of the licensing model: one test per numbered rule of
//! DOMAIN.md "Buying a license with a prepaid card" (`rule_buy_N_...`) and
//! "License cards bound to the card" (`rule_card_N_...`), the whole purchase
//! with its groups side (`whole_purchase_...`, `buy.rs`), the codec round
//! trip of every event, key material never leaking, and determinism.
//!
//! `World` is a tiny in-memory log with expected-version checks and
//! all-or-nothing multi-stream appends, standing in for the real runtime.

use std::collections::BTreeMap;

use crate::aggregate::{Aggregate, Decided, Decision};
use crate::codec::EventCodec;
use crate::event::Event;
use crate::groups::{
    CharismaPolicy, Device, DeviceKind, Distribution, DistributionConfig, Favorite, GroupEvent, Mac, SourceId, SourceIdList, DISTRIBUTION_STREAM,
};
use crate::ids::{AccountId, CardId, ContentId, DeviceId, GroupId, PurchaseId, UserId};
use crate::money::Money;
use crate::time::{Timestamp, MICROS_PER_DAY};

use super::*;

fn secret32(label: &str) -> [u8; 32] {
    *blake3::hash(label.as_bytes()).as_bytes()
}

fn day(n: i64) -> Timestamp {
    Timestamp(n * MICROS_PER_DAY)
}

fn a1() -> AccountId {
    AccountId::new("a1").unwrap()
}
fn c1() -> CardId {
    CardId::new("c1").unwrap()
}
fn m(n: u32) -> ContentId {
    ContentId::new(format!("m{n}")).unwrap()
}
fn pid(s: &str) -> PurchaseId {
    PurchaseId::new(s).unwrap()
}
fn kiosk() -> Station {
    Station::kiosk(DeviceId::new("k1").unwrap())
}
fn player() -> Station {
    Station::player(DeviceId::new("p1").unwrap())
}
fn content_key(n: u32) -> ContentKey {
    ContentKey::from_bytes(secret32(&format!("content key {n}")))
}

/// The log, the keys and the physical cards.
struct World {
    issuer: IssuerSecret,
    server: LicenseServerKey,
    streams: BTreeMap<String, Vec<LicensingEvent>>,
    /// Every event in append order (the global log).
    log: Vec<LicensingEvent>,
    challenges: u8,
}

#[derive(Debug, PartialEq, Eq)]
struct Conflict {
    stream: String,
    expected: u64,
    actual: u64,
}

impl World {
    /// Account a1 (balance 500, expires day 100), card c1 on it (expires day 200),
    /// m1 (200, 2 uses, 30 days), m2 (400, 1 use, no end), m3 (600, 5 uses).
    fn new() -> Self {
        let mut w = World {
            issuer: IssuerSecret::from_bytes(secret32("issuer")),
            server: LicenseServerKey::from_bytes(secret32("license server")),
            streams: BTreeMap::new(),
            log: Vec::new(),
            challenges: 0,
        };
        let open = AccountCommand::Open { account: a1(), expires_at: Some(day(100)), initial: Money(500) };
        let events = w.account().decide(&open, day(0)).unwrap();
        w.commit_one(&account_stream(&a1()), events);
        w.issue_card(&c1(), &a1());
        w.list(1, 200, 2, Some(30));
        w.list(2, 400, 1, None);
        w.list(3, 600, 5, None);
        w
    }

    fn issue_card(&mut self, card: &CardId, account: &AccountId) {
        let key_check = self.issuer.device_key(card).key_check();
        let events = self.card_of(card).decide_issue(card, account, Some(day(200)), key_check, day(0)).unwrap();
        self.commit_one(&card_stream(card), events);
    }

    fn list(&mut self, n: u32, price: u64, uses: u32, valid_days: Option<u32>) {
        let sealed_key = self.server.seal_content_key(&m(n), &content_key(n)).unwrap();
        let command = CatalogueCommand::List { content: m(n), price: Money(price), condition: UseCondition { uses, valid_days }, sealed_key };
        let events = self.catalogue(n).decide(&command, day(0)).unwrap();
        self.commit_one(&content_stream(&m(n)), events);
    }

    fn stream(&self, name: &str) -> &[LicensingEvent] {
        self.streams.get(name).map(Vec::as_slice).unwrap_or(&[])
    }
    fn account(&self) -> Account {
        Account::replay(self.stream(&account_stream(&a1())))
    }
    fn card_of(&self, card: &CardId) -> Card {
        Card::replay(self.stream(&card_stream(card)))
    }
    fn card(&self) -> Card {
        self.card_of(&c1())
    }
    fn catalogue(&self, n: u32) -> CatalogueEntry {
        CatalogueEntry::replay(self.stream(&content_stream(&m(n))))
    }
    fn station(&self, station: &Station) -> StationLog {
        StationLog::replay(self.stream(&station_stream(station)))
    }

    fn commit_one(&mut self, stream: &str, events: Vec<LicensingEvent>) {
        let expected_version = self.stream(stream).len() as u64;
        self.commit(Decision { appends: vec![crate::aggregate::StreamEvents { stream: stream.to_string(), expected_version, events }] }).unwrap();
    }

    /// All or nothing: every expected version is checked before anything is appended.
    fn commit(&mut self, decision: impl Into<Decision<LicensingEvent>>) -> Result<(), Conflict> {
        let decision = decision.into();
        for append in &decision.appends {
            let actual = self.stream(&append.stream).len() as u64;
            if actual != append.expected_version {
                return Err(Conflict { stream: append.stream.clone(), expected: append.expected_version, actual });
            }
        }
        for append in decision.appends {
            self.log.extend(append.events.iter().cloned());
            self.streams.entry(append.stream).or_default().extend(append.events);
        }
        Ok(())
    }

    fn proof(&mut self, chip: &CardChip) -> CardProof {
        self.challenges = self.challenges.wrapping_add(1);
        CardProof::from_chip(chip, Challenge([self.challenges; 32]))
    }

    fn chip(&self) -> CardChip {
        CardChip::issue(&self.issuer, c1())
    }

    fn decide_buy_with(&mut self, chip: &CardChip, station: &Station, purchase: &str, n: u32, now: Timestamp) -> Result<PurchaseDecision, PurchaseError> {
        let request =
            PurchaseRequest { purchase: pid(purchase), card: chip.card_id().clone(), content: m(n), station: station.clone(), proof: self.proof(chip) };
        let (account, catalogue, card, log) = (self.account(), self.catalogue(n), self.card_of(chip.card_id()), self.station(station));
        let state = PurchaseState { account: &account, catalogue: &catalogue, card: &card, station: &log };
        decide_purchase(state, PurchaseKeys { issuer: &self.issuer, license_server: &self.server }, &request, now)
    }

    /// Decides and commits a purchase of content `n` onto c1.
    fn buy(&mut self, station: &Station, purchase: &str, n: u32, now: Timestamp) -> PurchaseOutcome {
        let chip = self.chip();
        let decided = self.decide_buy_with(&chip, station, purchase, n, now).unwrap();
        self.commit(decided.decision).unwrap();
        decided.outcome
    }

    fn request(&mut self, station: &Station, purchase: &str, n: u32) -> PurchaseRequest {
        let chip = self.chip();
        PurchaseRequest { purchase: pid(purchase), card: c1(), content: m(n), station: station.clone(), proof: self.proof(&chip) }
    }

    /// Decides the whole purchase of content `n` onto c1 (`buy`), on the peer states given.
    fn decide_whole(&mut self, station: &Station, purchase: &str, n: u32, peers: PeerStates<'_>, now: Timestamp) -> Result<BuyDecision, BuyError> {
        let request = self.request(station, purchase, n);
        let (account, catalogue, card, log) = (self.account(), self.catalogue(n), self.card(), self.station(station));
        let state = PurchaseState { account: &account, catalogue: &catalogue, card: &card, station: &log };
        buy(state, peers, PurchaseKeys { issuer: &self.issuer, license_server: &self.server }, &request, now)
    }

    /// Links a1 to Bob's group.
    fn link_to_bob(&mut self) {
        let linked = self.account().decide_link(&a1(), &UserId::new("bob").unwrap(), &bob(), day(0)).unwrap();
        self.commit_one(&account_stream(&a1()), linked);
    }

    fn decide_play_with(&mut self, chip: &CardChip, station: &Station, n: u32, now: Timestamp) -> PlayDecision {
        let request = PlayRequest { card: chip.card_id().clone(), content: m(n), station: station.clone(), proof: self.proof(chip) };
        let (card, log) = (self.card_of(chip.card_id()), self.station(station));
        decide_play(&card, &log, &self.issuer, &request, now).unwrap()
    }

    fn play(&mut self, n: u32, now: Timestamp) -> PlayOutcome {
        let chip = self.chip();
        let decided = self.decide_play_with(&chip, &player(), n, now);
        self.commit(decided.decision).unwrap();
        decided.outcome
    }

    fn types_in(&self, stream: &str) -> Vec<&'static str> {
        self.stream(stream).iter().map(EventCodec::event_type).collect()
    }
}

fn only_types(decision: &Decision<LicensingEvent>) -> Vec<(String, u64, Vec<&'static str>)> {
    decision.appends.iter().map(|a| (a.stream.clone(), a.expected_version, a.events.iter().map(EventCodec::event_type).collect())).collect()
}

/// Stream, expected version and event types of a decision over both halves.
fn streams_of(decision: &Decision<Event>) -> Vec<(String, u64, Vec<&'static str>)> {
    decision.appends.iter().map(|a| (a.stream.clone(), a.expected_version, a.events.iter().map(EventCodec::event_type).collect())).collect()
}

// ---- Buying a license with a prepaid card -------------------------------------------------

#[test]
fn rule_buy_1_player_sends_the_cards_accounting_id_and_the_content_id() {
    let mut w = World::new();
    assert!(matches!(w.buy(&player(), "p1", 1, day(1)), PurchaseOutcome::Bought { .. }));
    let charged = w.log.iter().find_map(|e| match e {
        LicensingEvent::Charged(c) => Some(c.clone()),
        _ => None,
    });
    let charged = charged.unwrap();
    assert_eq!((charged.account, charged.content, charged.card, charged.station), (a1(), m(1), c1(), player()));
}

#[test]
fn rule_buy_2_license_server_prices_the_content_and_charges_the_account() {
    let mut w = World::new();
    w.buy(&player(), "p1", 2, day(1));
    let account = w.account();
    assert_eq!((account.charged, account.balance), (Money(400), Money(100)));
    assert_eq!(account.charges.get(&pid("p1")).map(|r| r.amount), Some(Money(400)));
}

#[test]
fn rule_buy_3_charge_refused_when_balance_too_low() {
    let mut w = World::new();
    let chip = w.chip();
    let decided = w.decide_buy_with(&chip, &player(), "p1", 3, day(1)).unwrap();
    assert_eq!(decided.outcome, PurchaseOutcome::Declined(DeclineReason::InsufficientFunds));
    assert_eq!(only_types(&decided.decision), vec![(account_stream(&a1()), 2, vec!["ChargeDeclined"])]);
    w.commit(decided.decision).unwrap();
    assert_eq!((w.account().balance, w.account().declines), (Money(500), 1));
    assert!(w.card().licenses.is_empty());
}

#[test]
fn rule_buy_3_exact_balance_is_enough() {
    let mut w = World::new();
    assert!(matches!(w.buy(&player(), "p1", 1, day(1)), PurchaseOutcome::Bought { .. }));
    assert!(matches!(w.buy(&player(), "p2", 1, day(2)), PurchaseOutcome::AlreadyOnCard));
    // 300 left: m1 again is on the card; m2 costs 400 (declined), load 100 and it is exactly enough.
    assert_eq!(w.buy(&player(), "p2", 2, day(2)), PurchaseOutcome::Declined(DeclineReason::InsufficientFunds));
    let load = w.account().decide_load(&a1(), Money(100), day(2)).unwrap();
    w.commit_one(&account_stream(&a1()), load);
    assert!(matches!(w.buy(&player(), "p2", 2, day(3)), PurchaseOutcome::Bought { .. }));
    assert_eq!(w.account().balance, Money(0));
}

#[test]
fn rule_buy_4_success_hands_over_the_key_and_records_usage_history() {
    let mut w = World::new();
    w.buy(&kiosk(), "p1", 1, day(1));
    let PlayOutcome::Played { key, .. } = w.play(1, day(2)) else { panic!("did not play") };
    assert_eq!(key, content_key(1));
    w.play(1, day(3));
    // Usage history from events alone: content bought per accounting id, uses per content id.
    let bought: Vec<(AccountId, ContentId, CardId, Station, Timestamp)> = w
        .log
        .iter()
        .filter_map(|e| match e {
            LicensingEvent::LicenseIssued(e) => Some((e.account.clone(), e.content.clone(), e.card.clone(), e.station.clone(), e.at)),
            _ => None,
        })
        .collect();
    assert_eq!(bought, vec![(a1(), m(1), c1(), kiosk(), day(1))]);
    let plays = w.log.iter().filter(|e| matches!(e, LicensingEvent::ContentPlayed(p) if p.content == m(1) && p.account == a1())).count();
    assert_eq!(plays, 2);
}

#[test]
fn rule_buy_5_kiosk_buys_only_content_missing_from_the_card() {
    let mut w = World::new();
    let chip = w.chip();
    let proof = w.proof(&chip);
    let Decided { outcome, decision } = insert_card(&w.station(&kiosk()), &w.card(), &w.issuer, &kiosk(), &c1(), &proof, day(1)).unwrap();
    assert_eq!(outcome, InsertOutcome::Accepted);
    w.commit(decision).unwrap();
    let bought = {
        let request = PurchaseRequest { purchase: pid("p1"), card: c1(), content: m(1), station: kiosk(), proof: w.proof(&chip) };
        let (account, catalogue, card, log) = (w.account(), w.catalogue(1), w.card(), w.station(&kiosk()));
        let state = PurchaseState { account: &account, catalogue: &catalogue, card: &card, station: &log };
        kiosk_buy(state, PurchaseKeys { issuer: &w.issuer, license_server: &w.server }, &request, day(1)).unwrap()
    };
    assert!(matches!(bought.outcome, PurchaseOutcome::Bought { .. }));
    w.commit(bought.decision).unwrap();
    // The license is there now: a second kiosk purchase of m1 buys nothing.
    let chip = w.chip();
    let again = w.decide_buy_with(&chip, &kiosk(), "p2", 1, day(1)).unwrap();
    assert_eq!(again.outcome, PurchaseOutcome::AlreadyOnCard);
    assert!(again.decision.is_empty());
    assert_eq!(w.account().balance, Money(300));
    let eject = eject_card(&w.station(&kiosk()), &kiosk(), day(1)).unwrap();
    w.commit(eject).unwrap();
    assert_eq!(w.types_in(&station_stream(&kiosk())), vec!["CardInserted", "CardEjected"]);
}

#[test]
fn rule_buy_5_player_records_a_missing_content_id_then_a_kiosk_buys_it() {
    let mut w = World::new();
    assert_eq!(w.play(2, day(1)), PlayOutcome::Refused(PlayRefusal::NotOnCard));
    assert_eq!(w.types_in(&card_stream(&c1())), vec!["CardIssued", "PlayRefused", "ContentIdRecordedOnCard"]);
    assert_eq!(pending_purchases(&w.card(), day(1)).into_iter().collect::<Vec<_>>(), vec![m(2)]);
    w.buy(&kiosk(), "p1", 2, day(2));
    assert!(pending_purchases(&w.card(), day(2)).is_empty());
    assert!(matches!(w.play(2, day(3)), PlayOutcome::Played { .. }));
}

#[test]
fn rule_buy_5_player_can_record_a_wanted_content_id_directly() {
    let mut w = World::new();
    let chip = w.chip();
    let proof = w.proof(&chip);
    let Decided { outcome, decision } = record_wanted_content(&w.station(&player()), &w.card(), &w.issuer, &player(), &c1(), &proof, &m(3), day(1)).unwrap();
    assert_eq!(outcome, RecordOutcome::Recorded);
    w.commit(decision).unwrap();
    let proof = w.proof(&chip);
    let Decided { outcome: again, decision } =
        record_wanted_content(&w.station(&player()), &w.card(), &w.issuer, &player(), &c1(), &proof, &m(3), day(1)).unwrap();
    assert_eq!((again, decision.is_empty()), (RecordOutcome::AlreadyThere, true));
}

#[test]
fn rule_buy_6_expired_accounting_id_is_declined() {
    let mut w = World::new();
    assert_eq!(w.buy(&player(), "p1", 1, day(100)), PurchaseOutcome::Declined(DeclineReason::AccountExpired));
    assert_eq!(w.account().balance, Money(500));
}

#[test]
fn rule_buy_6_license_past_its_date_does_not_play() {
    let mut w = World::new();
    let PurchaseOutcome::Bought { terms, .. } = w.buy(&player(), "p1", 1, day(1)) else { panic!("not bought") };
    assert_eq!(terms.valid_until, Some(day(31)));
    assert!(matches!(w.play(1, day(30)), PlayOutcome::Played { .. }));
    assert_eq!(w.play(1, day(31)), PlayOutcome::Refused(PlayRefusal::LicenseExpired));
}

#[test]
fn rule_buy_7_purchase_is_one_atomic_decision_over_account_and_card() {
    let mut w = World::new();
    let chip = w.chip();
    let decided = w.decide_buy_with(&chip, &kiosk(), "p1", 1, day(1)).unwrap();
    assert_eq!(
        only_types(&decided.decision),
        vec![(account_stream(&a1()), 2, vec!["Charged"]), (card_stream(&c1()), 1, vec!["LicenseIssued", "LicenseWrittenToCard"])]
    );
    // Another writer touches the card first: the whole decision fails, the charge too.
    let other = w.card().record_content_id(&m(3), &player(), day(1));
    w.commit_one(&card_stream(&c1()), other);
    let conflict = w.commit(decided.decision).unwrap_err();
    assert_eq!(conflict, Conflict { stream: card_stream(&c1()), expected: 1, actual: 2 });
    assert_eq!(w.account().balance, Money(500));
    assert!(w.card().licenses.is_empty());
}

#[test]
fn rule_buy_7_retrying_the_same_purchase_never_charges_twice() {
    let mut w = World::new();
    let chip = w.chip();
    // The process dies before appending: nothing happened, the retry decides the same bytes.
    let lost = w.decide_buy_with(&chip, &kiosk(), "p1", 1, day(1)).unwrap();
    let retry = w.decide_buy_with(&chip, &kiosk(), "p1", 1, day(1)).unwrap();
    assert_eq!(lost, retry);
    w.commit(retry.decision).unwrap();
    // It dies after appending: the retry is recognised and writes nothing.
    let again = w.decide_buy_with(&chip, &kiosk(), "p1", 1, day(2)).unwrap();
    assert_eq!(again.outcome, PurchaseOutcome::AlreadyDone);
    assert!(again.decision.is_empty());
    assert_eq!(w.account().balance, Money(300));
    // Reusing the id for another content is an error, not a charge.
    assert!(matches!(w.decide_buy_with(&chip, &kiosk(), "p1", 2, day(2)), Err(PurchaseError::Charge(ChargeError::PurchaseIdConflict { .. }))));
}

#[test]
fn refund_pays_back_and_revokes_the_license_in_one_decision() {
    let mut w = World::new();
    w.buy(&player(), "p1", 1, day(1));
    let Decided { outcome, decision } = decide_refund(&w.account(), &w.card(), &a1(), &pid("p1"), day(2)).unwrap();
    assert!(matches!(outcome, RefundOutcome::Refunded(_)));
    assert_eq!(only_types(&decision), vec![(account_stream(&a1()), 3, vec!["Refunded"]), (card_stream(&c1()), 3, vec!["LicenseRevoked"])]);
    w.commit(decision).unwrap();
    assert_eq!(w.account().balance, Money(500));
    assert_eq!(w.play(1, day(3)), PlayOutcome::Refused(PlayRefusal::NotOnCard));
    let Decided { outcome: again, decision } = decide_refund(&w.account(), &w.card(), &a1(), &pid("p1"), day(4)).unwrap();
    assert_eq!((again, decision.is_empty()), (RefundOutcome::AlreadyRefunded, true));
}

#[test]
fn a_refund_goes_to_the_card_its_purchase_was_written_to_of_an_open_account() {
    let mut w = World::new();
    w.buy(&player(), "p1", 1, day(1));
    assert_eq!(w.account().refund_card(&a1(), &pid("p1")), Ok(&c1()));
    assert_eq!(w.account().refund_card(&a1(), &pid("p9")), Err(RefundError::NotCharged { account: a1(), purchase: pid("p9") }));
    let nobody = AccountId::new("a9").unwrap();
    assert_eq!(Account::default().refund_card(&nobody, &pid("p1")), Err(RefundError::NotOpen { account: nobody }));
}

#[test]
fn purchase_errors_write_nothing_and_name_the_offending_ids() {
    let mut w = World::new();
    let chip = w.chip();
    let request = PurchaseRequest { purchase: pid("p1"), card: c1(), content: m(9), station: player(), proof: w.proof(&chip) };
    let (account, catalogue, card, log) = (w.account(), CatalogueEntry::default(), w.card(), w.station(&player()));
    let state = PurchaseState { account: &account, catalogue: &catalogue, card: &card, station: &log };
    let keys = PurchaseKeys { issuer: &w.issuer, license_server: &w.server };
    assert_eq!(decide_purchase(state, keys, &request, day(1)), Err(PurchaseError::ContentNotListed { content: m(9) }));
    let wrong_server = LicenseServerKey::from_bytes([0; 32]);
    let err = w.decide_buy_with(&chip, &player(), "p1", 1, day(1)).map(|_| ());
    assert_eq!(err, Ok(()));
    let request = PurchaseRequest { purchase: pid("p1"), card: c1(), content: m(1), station: player(), proof: w.proof(&chip) };
    let catalogue = w.catalogue(1);
    let state = PurchaseState { account: &account, catalogue: &catalogue, card: &card, station: &log };
    let keys = PurchaseKeys { issuer: &w.issuer, license_server: &wrong_server };
    assert_eq!(decide_purchase(state, keys, &request, day(1)), Err(PurchaseError::Crypto(CryptoError::ContentKeyUnreadable { content: m(1) })));
}

#[test]
fn loading_money_decides_the_new_balance() {
    let w = World::new();
    let decided = load_money(&w.account(), &a1(), Money(250), day(1)).unwrap();
    assert_eq!(decided.outcome, Money(750));
    assert_eq!(only_types(&decided.decision), vec![(account_stream(&a1()), 2, vec!["CardLoaded"])]);
    assert_eq!(load_money(&w.account(), &a1(), Money(0), day(1)), Err(LoadError::ZeroAmount { account: a1() }));
    let nobody = AccountId::new("a9").unwrap();
    assert_eq!(load_money(&Account::default(), &nobody, Money(1), day(1)), Err(LoadError::NotOpen { account: nobody }));
}

#[test]
fn ejecting_hands_back_the_inserted_card_and_an_empty_slot_is_an_error() {
    let mut w = World::new();
    assert_eq!(eject_card(&w.station(&kiosk()), &kiosk(), day(1)), Err(EjectError::NoCardInserted { station: kiosk() }));
    let chip = w.chip();
    let proof = w.proof(&chip);
    w.commit(insert_card(&w.station(&kiosk()), &w.card(), &w.issuer, &kiosk(), &c1(), &proof, day(1)).unwrap()).unwrap();
    let ejected = eject_card(&w.station(&kiosk()), &kiosk(), day(2)).unwrap();
    assert_eq!(ejected.outcome, c1());
    assert_eq!(only_types(&ejected.decision), vec![(station_stream(&kiosk()), 1, vec!["CardEjected"])]);
    w.commit(ejected).unwrap();
    assert_eq!(eject_card(&w.station(&kiosk()), &kiosk(), day(3)), Err(EjectError::NoCardInserted { station: kiosk() }));
    assert_eq!(w.types_in(&station_stream(&kiosk())), vec!["CardInserted", "CardEjected"], "a refused eject writes nothing");
    assert!(matches!(eject_card(&w.station(&player()), &player(), day(3)), Err(EjectError::Kiosk(KioskError::NotAKiosk { .. }))));
}

// ---- The whole purchase: peers, reward, reliability, library (buy.rs) ----------------------

fn alice() -> GroupId {
    "01234-00001".parse().unwrap()
}
fn bob() -> GroupId {
    "01234-00002".parse().unwrap()
}

/// A distribution server where Bob's group is on the charisma list with a
/// 10 % reward, and Bob's PC forwarded a favorite of m1 that came from Alice.
fn distribution_with_favorite() -> Distribution {
    let config = DistributionConfig { points_per_purchase: 1, policy: CharismaPolicy::Threshold { threshold: 0 }, points_per_further_purchase: None };
    let favorite = Favorite { content: m(1), group: alice() };
    Distribution::replay(&[
        GroupEvent::DistributionConfigured { config },
        GroupEvent::ReliabilityBumped { group: bob(), content: m(9), purchase: pid("p0"), points: 5, reliability: 5, buyer: None },
        GroupEvent::CharismaGranted { group: bob(), reliability: 5 },
        GroupEvent::RewardGranted { group: bob(), discount_bp: 1000 },
        GroupEvent::FavoritesForwarded { device: DeviceId::new("pc-b").unwrap(), group: bob(), favorites: vec![favorite] },
    ])
}

/// The player p1 as a provisioned PD (a plain player is a device never provisioned).
fn player_device(name: &str) -> Device {
    let device = DeviceId::new(name).unwrap();
    Device::replay(&[GroupEvent::DeviceProvisioned { device, kind: DeviceKind::Pd, list: SourceIdList::new(), icv: Mac::default() }])
}

#[test]
fn whole_purchase_a_non_member_reads_no_peer_pays_list_price_and_bumps_nothing() {
    let mut w = World::new();
    let request = w.request(&player(), "p1", 1);
    assert_eq!(purchase_peers(&w.account(), &request), PurchasePeers { distribution: false, device: None });
    let decided = w.decide_whole(&player(), "p1", 1, PeerStates::default(), day(1)).unwrap();
    assert!(matches!(decided.outcome, PurchaseResult { outcome: PurchaseOutcome::Bought { price: Money(200), .. }, discount_bp: None }));
    let licensing = vec![(account_stream(&a1()), 2, vec!["Charged"]), (card_stream(&c1()), 1, vec!["LicenseIssued", "LicenseWrittenToCard"])];
    assert_eq!(streams_of(&decided.decision), licensing);
    // Peer states handed in anyway change nothing: only a member's purchase reads them.
    let (server, device) = (distribution_with_favorite(), player_device("p1"));
    let peers = PeerStates { distribution: Some(&server), device: Some(&device) };
    assert_eq!(streams_of(&w.decide_whole(&player(), "p1", 1, peers, day(1)).unwrap().decision), licensing);
}

#[test]
fn whole_purchase_a_member_at_a_player_gets_the_reward_bumps_the_favorite_and_fills_the_library() {
    let mut w = World::new();
    w.link_to_bob();
    let request = w.request(&player(), "p1", 1);
    assert_eq!(purchase_peers(&w.account(), &request), PurchasePeers { distribution: true, device: Some(DeviceId::new("p1").unwrap()) });
    let (server, device) = (distribution_with_favorite(), player_device("p1"));
    let decided = w.decide_whole(&player(), "p1", 1, PeerStates { distribution: Some(&server), device: Some(&device) }, day(1)).unwrap();
    assert_eq!(decided.outcome.discount_bp, Some(1000));
    assert!(matches!(decided.outcome.outcome, PurchaseOutcome::Bought { price: Money(180), .. }), "200 less 10 %");
    assert_eq!(
        streams_of(&decided.decision),
        vec![
            (account_stream(&a1()), 3, vec!["Charged"]),
            (card_stream(&c1()), 1, vec!["LicenseIssued", "LicenseWrittenToCard"]),
            (DISTRIBUTION_STREAM.to_string(), server.version(), vec!["ReliabilityBumped", "CharismaGranted"]),
            ("device-p1".to_string(), device.version(), vec!["ContentAcquired"]),
        ]
    );
    let bumped = &decided.decision.appends[2].events[0];
    assert!(
        matches!(bumped, Event::Groups(GroupEvent::ReliabilityBumped { group, buyer: Some(buyer), points: 1, .. }) if *group == alice() && *buyer == bob())
    );
    let acquired = &decided.decision.appends[3].events[0];
    assert!(matches!(acquired, Event::Groups(GroupEvent::ContentAcquired { source: Some(SourceId::Group(g)), .. }) if *g == bob()), "{acquired:?}");
}

#[test]
fn whole_purchase_a_member_refused_a_charge_bumps_no_reliability_and_fills_no_library() {
    let mut w = World::new();
    w.link_to_bob();
    let (server, device) = (distribution_with_favorite(), player_device("p1"));
    let peers = PeerStates { distribution: Some(&server), device: Some(&device) };
    // m3 costs 600, 540 after the reward: more than the balance of 500.
    let declined = w.decide_whole(&player(), "p1", 3, peers, day(1)).unwrap();
    assert_eq!(declined.outcome, PurchaseResult { outcome: PurchaseOutcome::Declined(DeclineReason::InsufficientFunds), discount_bp: Some(1000) });
    assert_eq!(streams_of(&declined.decision), vec![(account_stream(&a1()), 3, vec!["ChargeDeclined"])]);
    // A forged card is rejected at the station: nothing of the groups side either.
    let forged = CardChip::with_key(c1(), DeviceKey::from_bytes(secret32("forger")));
    let request = PurchaseRequest { purchase: pid("p2"), card: c1(), content: m(1), station: player(), proof: w.proof(&forged) };
    let (account, catalogue, card, log) = (w.account(), w.catalogue(1), w.card(), w.station(&player()));
    let state = PurchaseState { account: &account, catalogue: &catalogue, card: &card, station: &log };
    let rejected = buy(state, peers, PurchaseKeys { issuer: &w.issuer, license_server: &w.server }, &request, day(1)).unwrap();
    assert_eq!(streams_of(&rejected.decision), vec![(station_stream(&player()), 0, vec!["CardRejected"])]);
}

#[test]
fn whole_purchase_a_member_at_a_kiosk_or_a_plain_player_fills_no_library() {
    let mut w = World::new();
    w.link_to_bob();
    let server = distribution_with_favorite();
    let request = w.request(&kiosk(), "p1", 1);
    assert_eq!(purchase_peers(&w.account(), &request), PurchasePeers { distribution: true, device: None });
    let plain = Device::default();
    let decided = w.decide_whole(&player(), "p1", 1, PeerStates { distribution: Some(&server), device: Some(&plain) }, day(1)).unwrap();
    let streams: Vec<String> = decided.decision.appends.iter().map(|a| a.stream.clone()).collect();
    assert_eq!(streams, vec![account_stream(&a1()), card_stream(&c1()), DISTRIBUTION_STREAM.to_string()], "a plain player has no library");
}

#[test]
fn whole_purchase_missing_or_wrong_peer_states_are_errors() {
    let mut w = World::new();
    w.link_to_bob();
    let (server, other) = (distribution_with_favorite(), player_device("p2"));
    let none = w.decide_whole(&player(), "p1", 1, PeerStates::default(), day(1));
    assert_eq!(none, Err(BuyError::Peers(PeerStateError::NoDistributionState { group: bob() })));
    let no_device = w.decide_whole(&player(), "p1", 1, PeerStates { distribution: Some(&server), device: None }, day(1));
    assert_eq!(no_device, Err(BuyError::Peers(PeerStateError::NoDeviceState { station: player() })));
    let wrong = w.decide_whole(&player(), "p1", 1, PeerStates { distribution: Some(&server), device: Some(&other) }, day(1));
    assert_eq!(wrong, Err(BuyError::Peers(PeerStateError::WrongDeviceState { station: player(), state: DeviceId::new("p2").unwrap() })));
}

// ---- License cards bound to the card -------------------------------------------------------

#[test]
fn rule_card_1_forged_card_is_rejected_before_any_read_or_write() {
    let mut w = World::new();
    let forged = CardChip::with_key(c1(), DeviceKey::from_bytes(secret32("forger")));
    let decided = w.decide_buy_with(&forged, &kiosk(), "p1", 1, day(1)).unwrap();
    assert_eq!(decided.outcome, PurchaseOutcome::CardRejected(CardRejection::NotGenuine));
    assert_eq!(only_types(&decided.decision), vec![(station_stream(&kiosk()), 0, vec!["CardRejected"])]);
    w.commit(decided.decision).unwrap();
    w.buy(&kiosk(), "p2", 1, day(1));
    let played = w.decide_play_with(&forged, &player(), 1, day(2));
    assert_eq!(played.outcome, PlayOutcome::CardRejected(CardRejection::NotGenuine));
    assert_eq!(only_types(&played.decision), vec![(station_stream(&player()), 0, vec!["CardRejected"])]);
    assert_eq!(w.account().balance, Money(300));
}

#[test]
fn rule_card_1_cloned_or_unknown_card_is_rejected() {
    let mut w = World::new();
    // A clone copies the id but not the key; an unknown card was never issued.
    let clone = CardChip::with_key(c1(), DeviceKey::from_bytes([0; 32]));
    let cloned = w.decide_play_with(&clone, &player(), 1, day(1));
    assert_eq!(cloned.outcome, PlayOutcome::CardRejected(CardRejection::NotGenuine));
    let stranger = CardChip::issue(&w.issuer, CardId::new("c9").unwrap());
    let unknown = w.decide_play_with(&stranger, &player(), 1, day(1));
    assert_eq!(unknown.outcome, PlayOutcome::CardRejected(CardRejection::NotIssued));
    let chip = w.chip();
    let proof = w.proof(&clone);
    let Decided { outcome, .. } = insert_card(&w.station(&kiosk()), &w.card(), &w.issuer, &kiosk(), chip.card_id(), &proof, day(1)).unwrap();
    assert_eq!(outcome, InsertOutcome::Rejected(CardRejection::NotGenuine));
}

#[test]
fn rule_card_2_license_holds_content_id_use_condition_and_content_key() {
    let mut w = World::new();
    w.buy(&kiosk(), "p1", 1, day(1));
    let stored = w.card().licenses.get(&m(1)).cloned().unwrap();
    let bound = w.issuer.device_key(&c1()).card_bound_key(&c1()).unwrap();
    let license = bound.unseal(&c1(), &m(1), &stored.sealed).unwrap();
    assert_eq!(license.content, m(1));
    assert_eq!(license.terms, LicenseTerms { uses_left: 2, valid_until: Some(day(31)) });
    assert_eq!(license.key, content_key(1));
    assert_eq!(stored.terms, license.terms);
}

#[test]
fn rule_card_3_license_copied_to_another_card_does_not_open() {
    let mut w = World::new();
    w.buy(&kiosk(), "p1", 1, day(1));
    let c2 = CardId::new("c2").unwrap();
    w.issue_card(&c2, &a1());
    // Copy c1's sealed license onto c2 as if it had been written there.
    let stolen = w.card().licenses.get(&m(1)).cloned().unwrap();
    let copied = LicensingEvent::LicenseWrittenToCard(events::LicenseWrittenToCard {
        card: c2.clone(),
        content: m(1),
        purchase: pid("p1"),
        terms: stolen.terms,
        sealed: stolen.sealed,
        station: kiosk(),
        at: day(1),
    });
    w.commit_one(&card_stream(&c2), vec![copied]);
    let chip2 = CardChip::issue(&w.issuer, c2);
    let played = w.decide_play_with(&chip2, &player(), 1, day(2));
    assert_eq!(played.outcome, PlayOutcome::Refused(PlayRefusal::LicenseUnreadable));
}

#[test]
fn rule_card_4_each_play_decrements_reseals_and_overwrites_the_license() {
    let mut w = World::new();
    w.buy(&kiosk(), "p1", 1, day(1));
    let before = w.card().licenses.get(&m(1)).cloned().unwrap();
    let PlayOutcome::Played { terms_after, .. } = w.play(1, day(2)) else { panic!("did not play") };
    assert_eq!(terms_after.uses_left, 1);
    let after = w.card().licenses.get(&m(1)).cloned().unwrap();
    assert_ne!(before.sealed, after.sealed);
    let bound = w.issuer.device_key(&c1()).card_bound_key(&c1()).unwrap();
    assert_eq!(bound.unseal(&c1(), &m(1), &after.sealed).unwrap().terms.uses_left, 1);
    assert_eq!(&w.types_in(&card_stream(&c1()))[3..], &["ContentPlayed", "UseDecremented"]);
    assert!(matches!(w.play(1, day(3)), PlayOutcome::Played { terms_after: LicenseTerms { uses_left: 0, .. }, .. }));
    assert_eq!(w.play(1, day(4)), PlayOutcome::Refused(PlayRefusal::NoUsesLeft));
    // An exhausted license may be bought again.
    assert!(matches!(w.buy(&kiosk(), "p2", 1, day(5)), PurchaseOutcome::Bought { .. }));
}

#[test]
fn rule_card_4_the_sealed_condition_not_the_clear_copy_decides() {
    let mut w = World::new();
    w.buy(&kiosk(), "p1", 2, day(1));
    w.play(2, day(2));
    // Someone appends a forged clear copy claiming uses left, reusing the exhausted sealed bytes.
    let exhausted = w.card().licenses.get(&m(2)).cloned().unwrap();
    let forged = LicensingEvent::UseDecremented(events::UseDecremented {
        card: c1(),
        content: m(2),
        terms: LicenseTerms { uses_left: 99, valid_until: None },
        sealed: exhausted.sealed,
        station: player(),
        at: day(3),
    });
    w.commit_one(&card_stream(&c1()), vec![forged]);
    assert_eq!(w.play(2, day(4)), PlayOutcome::Refused(PlayRefusal::NoUsesLeft));
}

// ---- Codec, secrecy, determinism -----------------------------------------------------------

/// A story that produces every event type.
fn story() -> World {
    let mut w = World::new();
    let chip = w.chip();
    let load = w.account().decide_load(&a1(), Money(250), day(1)).unwrap();
    w.commit_one(&account_stream(&a1()), load);
    let group = "01234-0000A".parse::<crate::ids::GroupId>().unwrap();
    let linked = w.account().decide_link(&a1(), &crate::ids::UserId::new("alice").unwrap(), &group, day(1)).unwrap();
    w.commit_one(&account_stream(&a1()), linked);
    let proof = w.proof(&chip);
    let Decided { decision: inserted, .. } = insert_card(&w.station(&kiosk()), &w.card(), &w.issuer, &kiosk(), &c1(), &proof, day(1)).unwrap();
    w.commit(inserted).unwrap();
    w.buy(&kiosk(), "p1", 1, day(1));
    w.commit(eject_card(&w.station(&kiosk()), &kiosk(), day(1)).unwrap()).unwrap();
    w.play(1, day(2));
    w.play(2, day(2));
    w.buy(&player(), "p2", 3, day(3));
    w.buy(&player(), "p3", 2, day(3));
    let Decided { decision: refund, .. } = decide_refund(&w.account(), &w.card(), &a1(), &pid("p3"), day(4)).unwrap();
    w.commit(refund).unwrap();
    let forged = CardChip::with_key(c1(), DeviceKey::from_bytes(secret32("forger")));
    let rejected = w.decide_play_with(&forged, &player(), 1, day(5));
    w.commit(rejected.decision).unwrap();
    w
}

#[test]
fn the_story_writes_every_event_type() {
    let w = story();
    for name in LicensingEvent::TYPE_NAMES {
        assert!(w.log.iter().any(|e| e.event_type() == *name), "{name} never written");
    }
}

#[test]
fn every_event_round_trips_through_the_codec() {
    let w = story();
    for event in &w.log {
        let payload = event.encode_payload();
        assert_eq!(LicensingEvent::decode_payload(event.event_type(), &payload).as_ref(), Ok(event));
        let whole = crate::codec::to_cbor(event);
        assert_eq!(crate::codec::from_cbor::<LicensingEvent>("LicensingEvent", &whole).as_ref(), Ok(event));
    }
    assert!(matches!(LicensingEvent::decode_payload("Nope", &[]), Err(crate::codec::DecodeError::UnknownType { .. })));
    assert!(matches!(LicensingEvent::decode_payload("Charged", &[0xff]), Err(crate::codec::DecodeError::Malformed { .. })));
}

#[test]
fn event_type_names_are_the_variant_names() {
    let w = story();
    for event in &w.log {
        let debug = format!("{event:?}");
        assert!(debug.starts_with(&format!("{}(", event.event_type())), "{debug}");
    }
    assert!(LicensingEvent::TYPE_NAMES.contains(&"LicenseIssued"));
    assert!(LicensingEvent::TYPE_NAMES.contains(&"UseDecremented"));
    assert!(LicensingEvent::TYPE_NAMES.contains(&"Charged"));
}

fn windows_of(secret: &[u8]) -> Vec<Vec<u8>> {
    secret.windows(8).map(<[u8]>::to_vec).collect()
}

fn renderings(window: &[u8]) -> Vec<String> {
    let hex: String = window.iter().map(|b| format!("{b:02x}")).collect();
    let decimal = window[..4].iter().map(u8::to_string).collect::<Vec<_>>().join(", ");
    vec![hex, decimal]
}

#[test]
fn key_bytes_never_appear_in_events_debug_or_errors() {
    let w = story();
    let device_key = w.issuer.device_key(&c1());
    let bound = device_key.card_bound_key(&c1()).unwrap();
    let secrets: Vec<Vec<u8>> = vec![
        w.issuer.expose_secret().to_vec(),
        w.server.expose_secret().to_vec(),
        device_key.expose_secret().to_vec(),
        bound.expose_secret().to_vec(),
        content_key(1).expose_secret().to_vec(),
        content_key(2).expose_secret().to_vec(),
        content_key(3).expose_secret().to_vec(),
    ];
    let mut bytes: Vec<Vec<u8>> = w.log.iter().map(EventCodec::encode_payload).collect();
    bytes.extend(w.log.iter().map(crate::codec::to_cbor));
    let mut texts: Vec<String> = w.log.iter().map(|e| format!("{e:?}")).collect();
    texts.push(format!("{:?} {:?} {:?}", w.account(), w.card(), w.catalogue(1)));
    texts.push(format!("{:?} {:?} {:?} {:?}", w.issuer, w.server, device_key, bound));
    let mut w = w;
    let chip = w.chip();
    texts.push(format!("{chip:?} {:?}", w.play(3, day(6))));
    let errors: Vec<String> = vec![
        CryptoError::LicenseUnreadable { card: c1(), content: m(1) }.to_string(),
        CryptoError::ContentKeyUnreadable { content: m(1) }.to_string(),
        PurchaseError::ContentNotListed { content: m(1) }.to_string(),
        CardCheckError::IssuerKeyMismatch { card: c1() }.to_string(),
    ];
    texts.extend(errors);
    for secret in &secrets {
        for window in windows_of(secret) {
            for blob in &bytes {
                assert!(!blob.windows(8).any(|w| w == window.as_slice()), "secret bytes in an encoded event");
            }
            for text in &texts {
                for shown in renderings(&window) {
                    assert!(!text.contains(&shown), "secret bytes shown in {text}");
                }
            }
        }
    }
}

#[test]
fn replaying_the_same_commands_gives_byte_identical_logs() {
    let encode = |w: &World| -> Vec<(&'static str, Vec<u8>)> { w.log.iter().map(|e| (e.event_type(), e.encode_payload())).collect() };
    assert_eq!(encode(&story()), encode(&story()));
}

#[test]
fn account_invariant_holds_through_the_story() {
    let w = story();
    let account = w.account();
    let (loaded, charged, refunded) = (account.loaded.0, account.charged.0, account.refunded.0);
    assert_eq!(loaded - charged + refunded, account.balance.0);
    assert_eq!((loaded, charged, refunded, account.balance.0), (750, 200 + 400, 400, 550));
}

/// The card-side half of an offline play: what a player's card module
/// re-seals after one use (the card's key, not the server's copy).
fn resealed_after_one_use(w: &World, n: u32) -> SealedLicense {
    let stored = w.card().licenses.get(&m(n)).cloned().unwrap();
    let bound = w.issuer.device_key(&c1()).card_bound_key(&c1()).unwrap();
    let license = bound.unseal(&c1(), &m(n), &stored.sealed).unwrap();
    let terms = LicenseTerms { uses_left: license.terms.uses_left - 1, ..license.terms };
    bound.seal(&c1(), &License { content: license.content, terms, key: license.key }).unwrap()
}

fn report(sealed_after: SealedLicense, n: u32, played_at: Timestamp) -> PlayReport {
    PlayReport { card: c1(), content: m(n), station: player(), played_at, sealed_after }
}

#[test]
fn rule_card_4_an_offline_play_reported_later_is_counted_once() {
    let mut w = World::new();
    w.buy(&kiosk(), "p1", 1, day(1));
    let sealed = resealed_after_one_use(&w, 1);
    let decided = decide_reported_play(&w.card(), &w.issuer, &report(sealed.clone(), 1, day(2)), day(9)).unwrap();
    assert_eq!(decided.outcome, ReportOutcome::Recorded { terms_after: LicenseTerms { uses_left: 1, valid_until: Some(day(31)) } });
    assert_eq!(only_types(&decided.decision), vec![("card-c1".to_string(), w.card().version(), vec!["ContentPlayed", "UseDecremented"])]);
    w.commit(decided.decision).unwrap();
    // The same re-sealed license reported again (a clone, or a rolled-back card) does not follow the server's copy.
    let again = decide_reported_play(&w.card(), &w.issuer, &report(sealed, 1, day(3)), day(9)).unwrap();
    assert_eq!(again.outcome, ReportOutcome::Refused(PlayRefusal::OutOfSequence));
    assert_eq!(only_types(&again.decision)[0].2, vec!["PlayRefused"]);
}

#[test]
fn a_reported_play_that_does_not_open_is_refused_and_one_from_the_future_counts_as_now() {
    let mut w = World::new();
    w.buy(&kiosk(), "p1", 1, day(1));
    let forged = SealedLicense(vec![0; 80]);
    let decided = decide_reported_play(&w.card(), &w.issuer, &report(forged, 1, day(2)), day(9)).unwrap();
    assert_eq!(decided.outcome, ReportOutcome::Refused(PlayRefusal::LicenseUnreadable));
    let sealed = resealed_after_one_use(&w, 1);
    let future = decide_reported_play(&w.card(), &w.issuer, &report(sealed.clone(), 1, day(10)), day(9)).unwrap();
    let played_at = future.decision.appends[0].events.iter().find_map(|e| match e {
        LicensingEvent::ContentPlayed(p) => Some(p.at),
        _ => None,
    });
    assert_eq!(played_at, Some(day(9)), "a player's clock ahead of the server's does not date the play later");
    let missing = decide_reported_play(&w.card(), &w.issuer, &report(sealed, 2, day(2)), day(9)).unwrap();
    assert_eq!(missing.outcome, ReportOutcome::Refused(PlayRefusal::NotOnCard));
}

#[test]
fn a_content_file_opens_only_under_its_key_and_id() {
    let plain = b"a song, in bytes".to_vec();
    let sealed = content_key(1).encrypt_content(&m(1), &plain).unwrap();
    assert_ne!(sealed[16..], plain[..]);
    assert_eq!(content_key(1).decrypt_content(&m(1), &sealed).unwrap(), plain);
    assert_eq!(content_key(2).decrypt_content(&m(1), &sealed), Err(CryptoError::ContentUnreadable { content: m(1) }));
    assert_eq!(content_key(1).decrypt_content(&m(2), &sealed), Err(CryptoError::ContentUnreadable { content: m(2) }));
    let mut altered = sealed;
    altered[20] ^= 1;
    assert!(content_key(1).decrypt_content(&m(1), &altered).is_err());
}

#[test]
fn an_account_links_to_one_group_once() {
    let w = World::new();
    let (alice, group) = (crate::ids::UserId::new("alice").unwrap(), "01234-0000A".parse::<crate::ids::GroupId>().unwrap());
    let linked = w.account().decide_link(&a1(), &alice, &group, day(1)).unwrap();
    assert_eq!(linked.len(), 1);
    let account = Account::replay(&[w.stream(&account_stream(&a1())).to_vec(), linked].concat());
    assert_eq!(account.group.as_ref(), Some(&group));
    assert!(account.decide_link(&a1(), &alice, &group, day(2)).unwrap().is_empty(), "linking again writes nothing");
    let other = "01234-0000B".parse::<crate::ids::GroupId>().unwrap();
    assert_eq!(account.decide_link(&a1(), &alice, &other, day(2)), Err(LinkError::LinkedElsewhere { account: a1(), group }));
    let nobody = AccountId::new("a9").unwrap();
    assert_eq!(Account::default().decide_link(&nobody, &alice, &other, day(2)), Err(LinkError::NotOpen { account: nobody }));
}
