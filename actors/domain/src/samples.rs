//! One sample event of every type the domain writes, for tests elsewhere
//! (a projection's list of the types it folds is checked against them).
//! Test support only: compiled for this crate's tests and with the
//! `samples` feature, which only dev-dependencies turn on.
// Test support: fixed, valid sample values (an invalid one is a bug to stop on).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::groups::source_list::{GroupCertificate, Mac, SourceEntry, SourceId, SourceIdList};
use crate::groups::types::{
    CertificateRefusal, CharismaPolicy, ControlMode, CopyRefusal, DeviceKind, DistributionConfig, Favorite, GroupLimits, ListUse, RegistrationRefusal,
    SharedRefusal, SwitchReason, UsageRules,
};
use crate::groups::GroupEvent;
use crate::ids::{AccountId, CardId, ContentId, DeviceId, GroupId, LeafId, PurchaseId, RecorderId, UserId};
use crate::licensing::crypto::{KeyCheck, LicenseTerms, SealedContentKey, SealedLicense};
use crate::licensing::events::{
    AccountOpened, CardEjected, CardInserted, CardIssued, CardLoaded, CardRejected, CardRejection, ChargeDeclined, Charged, ContentIdRecordedOnCard,
    ContentListed, ContentPlayed, DeclineReason, LicenseIssued, LicenseRevoked, LicenseWrittenToCard, PlayRefused, Refunded, Station, UseCondition,
    UseDecremented,
};
use crate::licensing::LicensingEvent;
use crate::{Event, Money, Timestamp};

/// One event of every type, licensing first, each in index order.
pub fn every_event() -> Vec<Event> {
    let licensing = licensing_events().into_iter().map(Event::Licensing);
    licensing.chain(group_events().into_iter().map(Event::Groups)).collect()
}

fn account() -> AccountId {
    AccountId::new("acct1").unwrap()
}
fn card() -> CardId {
    CardId::new("card1").unwrap()
}
fn purchase() -> PurchaseId {
    PurchaseId::new("p1").unwrap()
}
fn kiosk() -> Station {
    Station::kiosk(did("kiosk1"))
}

/// One licensing event of every variant, in index order.
pub fn licensing_events() -> Vec<LicensingEvent> {
    let (at, content) = (Timestamp(1_700_000_000_000_000), cid("c1"));
    let terms = LicenseTerms { uses_left: 3, valid_until: Some(Timestamp(1_800_000_000_000_000)) };
    let sealed = SealedLicense(vec![7; 48]);
    vec![
        AccountOpened { account: account(), expires_at: None, at }.into(),
        CardLoaded { account: account(), amount: Money(500), balance_after: Money(500), at }.into(),
        Charged {
            account: account(),
            purchase: purchase(),
            content: content.clone(),
            card: card(),
            station: kiosk(),
            amount: Money(120),
            balance_after: Money(380),
            at,
        }
        .into(),
        ChargeDeclined {
            account: account(),
            purchase: purchase(),
            content: content.clone(),
            card: card(),
            station: kiosk(),
            amount: Money(900),
            balance: Money(380),
            reason: DeclineReason::InsufficientFunds,
            at,
        }
        .into(),
        Refunded { account: account(), purchase: purchase(), amount: Money(120), balance_after: Money(500), at }.into(),
        ContentListed {
            content: content.clone(),
            price: Money(120),
            condition: UseCondition { uses: 3, valid_days: Some(30) },
            sealed_key: SealedContentKey(vec![9; 48]),
            at,
            title: None,
            file: None,
        }
        .into(),
        CardIssued { card: card(), account: account(), expires_at: None, key_check: KeyCheck([5; 32]), at }.into(),
        ContentIdRecordedOnCard { card: card(), account: account(), content: content.clone(), station: kiosk(), at }.into(),
        LicenseIssued { purchase: purchase(), account: account(), card: card(), content: content.clone(), station: kiosk(), price: Money(120), terms, at }
            .into(),
        LicenseWrittenToCard { card: card(), content: content.clone(), purchase: purchase(), terms, sealed: sealed.clone(), station: kiosk(), at }.into(),
        LicenseRevoked { card: card(), content: content.clone(), purchase: purchase(), at }.into(),
        ContentPlayed { card: card(), account: account(), content: content.clone(), station: Station::player(did("player1")), at }.into(),
        UseDecremented { card: card(), content: content.clone(), terms, sealed, station: Station::player(did("player1")), at }.into(),
        PlayRefused {
            card: card(),
            account: account(),
            content: content.clone(),
            station: Station::player(did("player1")),
            reason: crate::licensing::events::PlayRefusal::NoUsesLeft,
            at,
        }
        .into(),
        CardInserted { station: kiosk(), card: card(), account: account(), at }.into(),
        CardRejected { station: kiosk(), card: card(), reason: CardRejection::NotGenuine, at }.into(),
        CardEjected { station: kiosk(), card: card(), at }.into(),
        crate::licensing::events::AccountLinked { account: account(), user: crate::ids::UserId::new("u1").unwrap(), group: gid(), at }.into(),
    ]
}

fn did(s: &str) -> DeviceId {
    DeviceId::new(s).unwrap()
}
fn cid(s: &str) -> ContentId {
    ContentId::new(s).unwrap()
}
fn gid() -> GroupId {
    "01234-0000A".parse().unwrap()
}
fn rid() -> RecorderId {
    RecorderId::new("r1").unwrap()
}

/// One group event of every variant, in index order.
pub fn group_events() -> Vec<GroupEvent> {
    use GroupEvent::*;
    let pc = DeviceKind::Pc { terminal: crate::ids::TerminalId::new("t1").unwrap(), recorder: Some(rid()) };
    let entry = SourceEntry::new(SourceId::Group(gid()), Some(Timestamp(7)));
    let list = SourceIdList::from_entries([entry.clone(), SourceEntry::new(SourceId::Recorder(rid()), None)]);
    let icv = Mac::from_bytes([3; 32]);
    let cert = GroupCertificate { group: gid(), recorder: rid(), valid_until: Timestamp(9), mac: icv };
    let rules = UsageRules { plays_left: Some(3), valid_until: None, checkouts_left: 2 };
    let fav = Favorite { content: cid("c1"), group: gid() };
    vec![
        UserRegistered { user: UserId::new("u1").unwrap(), leaf: LeafId::new("0000A").unwrap(), group: gid(), limits: GroupLimits::default() },
        DeviceProvisioned { device: did("pc1"), kind: pc.clone(), list: list.clone(), icv },
        DeviceRegistered { group: gid(), device: did("pd1"), kind: DeviceKind::Pd, via: Some(did("pc1")) },
        DeviceRegistrationRefused { group: gid(), device: did("pc4"), reason: RegistrationRefusal::TooManyPcs { limit: 3 } },
        DeviceDeregistered { group: gid(), device: did("pc1") },
        SourceIdAdded { device: did("pc1"), entry, icv },
        SourceIdsMerged { device: did("pc1"), with: did("pd1"), list, icv },
        SourceListCleared { device: did("pc1"), kept: Some(rid()), icv },
        SourceListRejected { device: did("pd1"), during: ListUse::Merge },
        GroupCertificateIssued { device: did("pc1"), certificate: cert },
        CertificateRefused { device: did("pd1"), group: gid(), recorder: rid(), reason: CertificateRefusal::Expired { valid_until: Timestamp(9) } },
        ContentRipped { device: did("pc1"), content: cid("c1"), recorder: rid() },
        ContentAcquired { device: did("pc1"), content: cid("c2"), source: Some(SourceId::Group(gid())), rules: Some(rules.clone()) },
        ModeChanged { device: did("pd1"), mode: ControlMode::CheckInCheckOut },
        DevicePlayed { device: did("pd1"), content: cid("c1"), source: None, mode: ControlMode::GroupManagement },
        DevicePlayRefused {
            device: did("pd1"),
            content: cid("c1"),
            reason: crate::groups::types::PlayRefusal::NotInSourceList { source: SourceId::Recorder(rid()) },
        },
        ContentCopied { from: did("pc1"), to: did("pd1"), content: cid("c1"), source: None, rules: Some(rules) },
        ContentCheckedOut { device: did("pc1"), to: did("pd1"), content: cid("c1") },
        CopyRefused { from: did("pc1"), to: did("pd1"), content: cid("c1"), reason: CopyRefusal::GroupMismatch { from: Some(gid()), to: None } },
        ContentMarkedShareable { device: did("pd1"), content: cid("c1") },
        ContentShared { device: did("pd1"), content: cid("c1"), group: gid(), reliability: 12 },
        SharedContentReceived { device: did("pd2"), content: cid("c1"), group: gid(), reliability: 12 },
        SharedContentPlayed { device: did("pd2"), content: cid("c1"), group: gid(), reliability: 12 },
        SharedContentRefused { device: did("pd2"), content: cid("c1"), group: gid(), reason: SharedRefusal::ServiceCodeMismatch { ours: 1, theirs: 2 } },
        SwitchedToShared {
            device: did("pd2"),
            from: cid("c0"),
            content: cid("c1"),
            group: gid(),
            reason: SwitchReason::Reliability { reliability: 12, threshold: 10 },
        },
        RadioSettingsChanged { device: did("pd2"), auto_switch: true, reliability_threshold: 100 },
        PlaybackStopped { device: did("pd2") },
        FavoriteRecorded { device: did("pd2"), content: cid("c1"), group: gid() },
        FavoritesUploaded { from: did("pd2"), to: did("pc2"), favorites: vec![fav.clone()] },
        FavoritesForwarded { device: did("pc2"), group: gid(), favorites: vec![fav] },
        DistributionConfigured {
            config: DistributionConfig { points_per_purchase: 2, policy: CharismaPolicy::TopN { n: 10 }, points_per_further_purchase: Some(3) },
        },
        ReliabilityBumped { group: gid(), content: cid("c1"), purchase: PurchaseId::new("p1").unwrap(), points: 1, reliability: 101, buyer: Some(gid()) },
        CharismaGranted { group: gid(), reliability: 101 },
        CharismaRevoked { group: gid(), reliability: 101 },
        RewardGranted { group: gid(), discount_bp: 500 },
        ReliabilityUpdated { device: did("pd1"), reliability: 101 },
        CharismaListSynced { device: did("pd1"), list: vec![gid()] },
    ]
}
