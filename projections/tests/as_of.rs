//! As-of queries against values worked out by hand: a short, explicit log
//! (one account, one card, two groups) and, for a list of moments, what each
//! projection must say then.
// Test and benchmark code: a failed set-up or check stops it loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use encore_domain::groups::{CharismaPolicy, DistributionConfig, GroupEvent};
use encore_domain::ids::{AccountId, CardId, ContentId, DeviceId, GroupId, PurchaseId};
use encore_domain::licensing::events::{AccountOpened, CardLoaded, ChargeDeclined, Charged, ContentPlayed, LicenseIssued, Refunded};
use encore_domain::licensing::{DeclineReason, LicenseTerms, Station};
use encore_domain::{Event, EventCodec, Money, Timestamp};
use encore_ledger::{EventId, ExpectedVersion, Ledger, NewEvent, StreamAppend, StreamId};
use encore_projections::{as_of_position, as_of_time, AllProjections, ReplayError, UsageKind};

fn a1() -> AccountId {
    AccountId::new("a1").unwrap()
}
fn g(n: &str) -> GroupId {
    format!("01234-{n}").parse().unwrap()
}
fn kiosk() -> Station {
    Station::kiosk(DeviceId::new("k1").unwrap())
}
fn player() -> Station {
    Station::player(DeviceId::new("pl1").unwrap())
}
fn s1() -> ContentId {
    ContentId::new("s1").unwrap()
}

/// Appends one atomic append of `(stream, events)` at time `at` (µs).
fn append(ledger: &Ledger, at: i64, streams: Vec<(&str, Vec<Event>)>) {
    let appends = streams
        .into_iter()
        .map(|(s, events)| StreamAppend {
            stream: StreamId::new(s).unwrap(),
            expected: ExpectedVersion::Any,
            events: events
                .iter()
                .enumerate()
                .map(|(i, e)| {
                    NewEvent::new(EventId::from_u128(((at as u128) << 8) | i as u128 | (s.len() as u128) << 4), e.event_type(), at, e.encode_payload())
                })
                .collect(),
        })
        .collect();
    ledger.append(appends).unwrap();
}

/// The log, with the positions each event gets written beside it.
fn write_story(ledger: &Ledger) {
    let t = Timestamp;
    let lic = |e: encore_domain::licensing::LicensingEvent| Event::Licensing(e);
    let purchase = PurchaseId::new("p1").unwrap();
    let card = CardId::new("c1").unwrap();
    // 1
    append(ledger, 1000, vec![("account-a1", vec![lic(AccountOpened { account: a1(), expires_at: None, at: t(1000) }.into())])]);
    // 2
    append(ledger, 2000, vec![("account-a1", vec![lic(CardLoaded { account: a1(), amount: Money(1000), balance_after: Money(1000), at: t(2000) }.into())])]);
    // 3, 4
    let charged = Charged {
        account: a1(),
        purchase: purchase.clone(),
        content: s1(),
        card: card.clone(),
        station: kiosk(),
        amount: Money(300),
        balance_after: Money(700),
        at: t(3000),
    };
    let terms = LicenseTerms { uses_left: 2, valid_until: None };
    let issued =
        LicenseIssued { purchase: purchase.clone(), account: a1(), card: card.clone(), content: s1(), station: kiosk(), price: Money(300), terms, at: t(3000) };
    append(ledger, 3000, vec![("account-a1", vec![lic(charged.into())]), ("card-c1", vec![lic(issued.into())])]);
    // 5
    append(
        ledger,
        4000,
        vec![("card-c1", vec![lic(ContentPlayed { card: card.clone(), account: a1(), content: s1(), station: player(), at: t(4000) }.into())])],
    );
    // 6
    let declined = ChargeDeclined {
        account: a1(),
        purchase: PurchaseId::new("p2").unwrap(),
        content: s1(),
        card,
        station: kiosk(),
        amount: Money(900),
        balance: Money(700),
        reason: DeclineReason::InsufficientFunds,
        at: t(5000),
    };
    append(ledger, 5000, vec![("account-a1", vec![lic(declined.into())])]);
    // 7
    append(
        ledger,
        6000,
        vec![("account-a1", vec![lic(Refunded { account: a1(), purchase, amount: Money(300), balance_after: Money(1000), at: t(6000) }.into())])],
    );
    // 8
    let config = DistributionConfig { points_per_purchase: 3, policy: CharismaPolicy::TopN { n: 1 }, points_per_further_purchase: None };
    append(ledger, 7000, vec![("distribution", vec![GroupEvent::DistributionConfigured { config }.into()])]);
    // 9, 10
    let bump = |group: GroupId, points: u64, reliability: u64, p: &str| -> Event {
        GroupEvent::ReliabilityBumped { group, content: s1(), purchase: PurchaseId::new(p).unwrap(), points, reliability, buyer: None }.into()
    };
    append(ledger, 8000, vec![("distribution", vec![bump(g("A"), 3, 3, "p3"), GroupEvent::CharismaGranted { group: g("A"), reliability: 3 }.into()])]);
    // 11, 12, 13
    append(
        ledger,
        9000,
        vec![(
            "distribution",
            vec![
                bump(g("B"), 5, 5, "p4"),
                GroupEvent::CharismaRevoked { group: g("A"), reliability: 3 }.into(),
                GroupEvent::CharismaGranted { group: g("B"), reliability: 5 }.into(),
            ],
        )],
    );
}

/// What a reader sees, in a form a test can spell out.
#[derive(Debug, PartialEq, Eq)]
struct Seen {
    position: u64,
    /// balance, loaded, charged, refunded, declines
    money: Option<(u64, u64, u64, u64, u64)>,
    /// (kind, position, station device)
    history: Vec<(UsageKind, u64, &'static str)>,
    /// (purchases, plays) of s1
    s1: (u64, u64),
    /// (group leaf, reliability, rank), best first
    ranks: Vec<(&'static str, u64, u32)>,
    /// the configured (top 1) list, the granted list, by threshold 2, by threshold 3, top 5
    lists: [Vec<&'static str>; 5],
}

fn leaf(g: &GroupId) -> &'static str {
    if g.leaf.as_str() == "A" {
        "A"
    } else {
        "B"
    }
}
fn names(set: std::collections::BTreeSet<GroupId>) -> Vec<&'static str> {
    set.iter().map(leaf).collect()
}

fn seen(p: &encore_projections::Projected<AllProjections>) -> Seen {
    let s = &p.state;
    let money = s.balances.get(&a1()).map(|a| (a.balance.0, a.loaded.0, a.charged.0, a.refunded.0, a.declines));
    let history = s.usage.history(&a1()).map(|u| (u.kind, u.position, if u.station == &kiosk() { "k1" } else { "pl1" })).collect();
    let c = s.usage.content(&s1());
    let ranks = s.charisma.standings().iter().map(|x| (leaf(&x.group), x.reliability, x.rank)).collect();
    let ch = &s.charisma;
    let lists = [names(ch.charisma_list()), names(ch.granted().clone()), names(ch.by_threshold(2)), names(ch.by_threshold(3)), names(ch.top_n(5))];
    Seen { position: p.position, money, history, s1: (c.purchases, c.plays), ranks, lists }
}

fn empty_lists() -> [Vec<&'static str>; 5] {
    Default::default()
}

enum At {
    Position(u64),
    Time(i64),
}

#[test]
fn as_of_queries_match_the_story_worked_out_by_hand() {
    use UsageKind::*;
    let (_dir, ledger) = common::temp_log();
    write_story(&ledger);
    let bought = (Bought, 4, "k1");
    let played = (Played, 5, "pl1");
    let nothing = Seen { position: 0, money: None, history: vec![], s1: (0, 0), ranks: vec![], lists: empty_lists() };
    let cases: Vec<(At, Seen)> = vec![
        (At::Time(999), nothing),
        (At::Position(2), Seen { position: 2, money: Some((1000, 1000, 0, 0, 0)), history: vec![], s1: (0, 0), ranks: vec![], lists: empty_lists() }),
        (At::Time(3500), Seen { position: 4, money: Some((700, 1000, 300, 0, 0)), history: vec![bought], s1: (1, 0), ranks: vec![], lists: empty_lists() }),
        (
            At::Time(4999),
            Seen { position: 5, money: Some((700, 1000, 300, 0, 0)), history: vec![bought, played], s1: (1, 1), ranks: vec![], lists: empty_lists() },
        ),
        (
            At::Time(5000),
            Seen { position: 6, money: Some((700, 1000, 300, 0, 1)), history: vec![bought, played], s1: (1, 1), ranks: vec![], lists: empty_lists() },
        ),
        (
            At::Position(7),
            Seen { position: 7, money: Some((1000, 1000, 300, 300, 1)), history: vec![bought, played], s1: (1, 1), ranks: vec![], lists: empty_lists() },
        ),
        (
            At::Time(8000),
            Seen {
                position: 10,
                money: Some((1000, 1000, 300, 300, 1)),
                history: vec![bought, played],
                s1: (1, 1),
                ranks: vec![("A", 3, 1)],
                lists: [vec!["A"], vec!["A"], vec!["A"], vec![], vec!["A"]],
            },
        ),
        (
            At::Position(13),
            Seen {
                position: 13,
                money: Some((1000, 1000, 300, 300, 1)),
                history: vec![bought, played],
                s1: (1, 1),
                ranks: vec![("B", 5, 1), ("A", 3, 2)],
                lists: [vec!["B"], vec!["B"], vec!["A", "B"], vec!["B"], vec!["A", "B"]],
            },
        ),
    ];
    for (at, expected) in cases {
        let projected = match at {
            At::Position(p) => as_of_position::<AllProjections>(&ledger, p),
            At::Time(t) => as_of_time::<AllProjections>(&ledger, t),
        }
        .unwrap();
        projected.state.balances.check_invariant().unwrap();
        assert_eq!(seen(&projected), expected);
    }
    assert_eq!(as_of_position::<AllProjections>(&ledger, 14).unwrap_err(), ReplayError::BeyondHead { position: 14, head: 13 });
}
