//! Snapshots: snapshot + tail equals full replay for every actor kind and
//! projection; a snapshot that does not check out is skipped (with the reason)
//! and the state is still right; the audit catches a snapshot whose state
//! disagrees with replay; no key material is ever stored in a snapshot.
// Test and benchmark code: a failed set-up or check stops it loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;

use encore_domain::groups::{Device, Distribution, GroupServer, UserGroup};
use encore_domain::licensing::{Account, Card, CatalogueEntry, StationLog};
use encore_ledger::{Direction, Ledger, LedgerOptions, StreamId};
use encore_projections::workload::{Workload, WorkloadConfig, Writer};
use encore_projections::{rebuild, AllProjections, Balances, CharismaRankings, Projection, UsageHistory};
use encore_snapshots::*;

fn temp_log() -> (tempfile::TempDir, Ledger) {
    let dir = tempfile::tempdir().unwrap();
    let ledger = Ledger::open(dir.path().join("log"), LedgerOptions::default()).unwrap();
    (dir, ledger)
}

/// A log with `before` operations, then (after `between` ran) `after` more.
fn workload(ledger: &Ledger, before: usize, after: usize, between: impl FnOnce(&Ledger)) {
    let config = WorkloadConfig { seed: 0x5A9, cards: 60, ..Default::default() };
    let mut writer = Writer::new(config.seed);
    let mut ops = Workload::new(config);
    for op in ops.by_ref().take(before) {
        writer.append(ledger, &op).unwrap();
    }
    between(ledger);
    for op in ops.take(after) {
        writer.append(ledger, &op).unwrap();
    }
}

fn stream_versions(ledger: &Ledger) -> BTreeMap<String, u64> {
    let mut out = BTreeMap::new();
    for record in ledger.scan(1) {
        let record = record.unwrap();
        out.insert(record.stream.to_string(), record.version);
    }
    out
}

/// The state folded from the first event of the stream.
fn full_replay<S: Snapshottable>(ledger: &Ledger, stream: &StreamId) -> S {
    let mut state = S::default();
    for record in ledger.read_stream(stream, 1, Direction::Forwards, usize::MAX).unwrap() {
        state.fold(&record).unwrap();
    }
    state
}

/// Recovers `stream` and compares with a full replay; returns (kind, used a snapshot, replayed).
fn recover_and_compare<S: Snapshottable + std::fmt::Debug>(ledger: &Ledger, stream: &str) -> (&'static str, bool, u64) {
    let id = StreamId::new(stream).unwrap();
    let recovered = load::<S>(ledger, &id).unwrap();
    assert!(recovered.skipped.is_empty(), "{stream}: {:?}", recovered.skipped);
    let full: S = full_replay(ledger, &id);
    assert!(recovered.state.encode_state() == full.encode_state(), "{stream}: snapshot + tail differs from full replay");
    (S::KIND, recovered.from_snapshot.is_some(), recovered.replayed)
}

fn recover_any(ledger: &Ledger, stream: &str) -> (&'static str, bool, u64) {
    match ActorState::for_stream(stream).unwrap_or_else(|| panic!("{stream} has an actor")) {
        ActorState::Account(_) => recover_and_compare::<Account>(ledger, stream),
        ActorState::Card(_) => recover_and_compare::<Card>(ledger, stream),
        ActorState::Content(_) => recover_and_compare::<CatalogueEntry>(ledger, stream),
        ActorState::Station(_) => recover_and_compare::<StationLog>(ledger, stream),
        ActorState::Device(_) => recover_and_compare::<Device>(ledger, stream),
        ActorState::Group(_) => recover_and_compare::<UserGroup>(ledger, stream),
        ActorState::GroupServer(_) => recover_and_compare::<GroupServer>(ledger, stream),
        ActorState::Distribution(_) => recover_and_compare::<Distribution>(ledger, stream),
    }
}

#[test]
fn snapshot_plus_tail_equals_full_replay_for_every_actor_kind() {
    let (_dir, ledger) = temp_log();
    workload(&ledger, 1_200, 600, |ledger| {
        // Every 4 events of each stream: exactly floor(version / 4) snapshots per stream.
        let stats = snapshot_streams(ledger, SnapshotPolicy { every: 4 }).unwrap();
        let expected: u64 = stream_versions(ledger).values().map(|v| v / 4).sum();
        assert_eq!(stats.snapshots, expected);
        // Every event, so streams with a single event (catalogue entries) have one too.
        snapshot_streams(ledger, SnapshotPolicy { every: 1 }).unwrap();
    });
    let mut kinds: BTreeMap<&str, (u64, u64)> = BTreeMap::new();
    for stream in stream_versions(&ledger).keys() {
        let (kind, from_snapshot, replayed) = recover_any(&ledger, stream);
        let entry = kinds.entry(kind).or_default();
        entry.0 += u64::from(from_snapshot);
        entry.1 += replayed;
    }
    let all = ["account", "card", "content", "device", "distribution", "group", "group-server", "station"];
    assert_eq!(kinds.keys().copied().collect::<Vec<_>>(), all);
    for (kind, (from_snapshot, _)) in &kinds {
        assert!(*from_snapshot > 0, "no {kind} stream was recovered from a snapshot");
    }
    for kind in ["account", "card", "device", "distribution", "station"] {
        assert!(kinds[kind].1 > 0, "no {kind} stream had a tail to replay");
    }
}

#[test]
fn projection_snapshot_plus_tail_equals_rebuild() {
    let (_dir, ledger) = temp_log();
    workload(&ledger, 800, 400, |ledger| {
        snapshot_projection(ledger, &rebuild::<Balances>(ledger).unwrap()).unwrap();
        snapshot_projection(ledger, &rebuild::<UsageHistory>(ledger).unwrap()).unwrap();
        snapshot_projection(ledger, &rebuild::<CharismaRankings>(ledger).unwrap()).unwrap();
        snapshot_projection(ledger, &rebuild::<AllProjections>(ledger).unwrap()).unwrap();
    });
    fn check<P: Projection>(ledger: &Ledger) {
        let recovered = load_projection::<P>(ledger).unwrap();
        assert!(recovered.skipped.is_empty() && recovered.from_snapshot.is_some() && recovered.replayed > 0, "{}", P::NAME);
        assert!(recovered.projected.encode() == rebuild::<P>(ledger).unwrap().encode(), "{}: snapshot + tail differs", P::NAME);
    }
    check::<Balances>(&ledger);
    check::<UsageHistory>(&ledger);
    check::<CharismaRankings>(&ledger);
    check::<AllProjections>(&ledger);
    assert!(audit(&ledger).unwrap().is_clean());
}

#[test]
fn only_the_newest_projection_snapshots_are_kept_and_a_damaged_newest_falls_back_to_the_next() {
    let (_dir, ledger) = temp_log();
    let mut positions = Vec::new();
    for round in 0..4 {
        workload(&ledger, 100 + round, 0, |_| {});
        let projected = rebuild::<Balances>(&ledger).unwrap();
        positions.push(projected.position);
        snapshot_projection(&ledger, &projected).unwrap();
    }
    let stored: Vec<Vec<u8>> = ledger.scan_aux(&projection_prefix(Balances::NAME)).unwrap().into_iter().map(|(k, _)| k).collect();
    let kept: Vec<Vec<u8>> = positions[4 - PROJECTION_SNAPSHOTS_KEPT..].iter().map(|&p| projection_key(Balances::NAME, p)).collect();
    assert_eq!(stored, kept, "older snapshots were deleted");

    let newest = kept.last().unwrap();
    let mut damaged = ledger.get_aux(newest).unwrap().unwrap();
    let last = damaged.len() - 1;
    damaged[last] ^= 0xFF;
    ledger.put_aux(&[(newest.as_slice(), damaged.as_slice())]).unwrap();
    let recovered = load_projection::<Balances>(&ledger).unwrap();
    assert_eq!(recovered.from_snapshot, Some(positions[2]));
    assert_eq!(recovered.skipped.len(), 1);
    assert_eq!(recovered.projected.encode(), rebuild::<Balances>(&ledger).unwrap().encode());
}

/// The busiest account stream, snapshotted every 2 events.
fn busy_account(ledger: &Ledger) -> (StreamId, Vec<u64>) {
    workload(ledger, 1_000, 0, |_| {});
    snapshot_streams(ledger, SnapshotPolicy { every: 2 }).unwrap();
    let (stream, version) = stream_versions(ledger).into_iter().filter(|(s, _)| s.starts_with("account-")).max_by_key(|(_, v)| *v).unwrap();
    assert!(version >= 6);
    (StreamId::new(stream).unwrap(), (1..=version / 2).map(|k| k * 2).collect())
}

fn rewrite(ledger: &Ledger, stream: &StreamId, version: u64, change: impl FnOnce(Vec<u8>) -> Vec<u8>) {
    let key = actor_key(stream.as_str(), version);
    let value = change(ledger.get_aux(&key).unwrap().unwrap());
    ledger.put_aux(&[(key.as_slice(), value.as_slice())]).unwrap();
}

fn edit(change: impl FnOnce(&mut Snapshot)) -> impl FnOnce(Vec<u8>) -> Vec<u8> {
    move |bytes| {
        let mut s = Snapshot::decode(&bytes).unwrap();
        change(&mut s);
        s.encode()
    }
}

#[test]
fn a_snapshot_that_does_not_check_out_is_skipped_and_the_state_is_still_right() {
    type Change = Box<dyn FnOnce(Vec<u8>) -> Vec<u8>>;
    type Expect = fn(&SkipReason) -> bool;
    let cases: Vec<(&str, Change, Expect)> = vec![
        (
            "flipped byte in the state",
            Box::new(|mut b: Vec<u8>| {
                let n = b.len() - 3;
                b[n] ^= 0x01;
                b
            }),
            |r| *r == SkipReason::StateHashMismatch,
        ),
        ("not CBOR", Box::new(|_| b"\xff\xfe garbage".to_vec()), |r| matches!(r, SkipReason::Undecodable(_))),
        ("newer format", Box::new(edit(|s| s.format = 2)), |r| *r == SkipReason::UnsupportedFormat { found: 2 }),
        ("other chain", Box::new(edit(|s| s.chain_hash[0] ^= 1)), |r| matches!(r, SkipReason::ChainMismatch { .. })),
        ("wrong position", Box::new(edit(|s| s.position += 1)), |r| matches!(r, SkipReason::PositionMismatch { .. })),
        ("wrong version", Box::new(edit(|s| s.version -= 1)), |r| matches!(r, SkipReason::WrongSubject { .. })),
        (
            "state of another type, hash recomputed",
            Box::new(edit(|s| *s = Snapshot::new(&s.kind.clone(), &s.subject.clone(), s.version, s.position, s.chain_hash, vec![0xff]))),
            |r| matches!(r, SkipReason::StateUndecodable(_)),
        ),
    ];
    for (name, change, expected) in cases {
        let (_dir, ledger) = temp_log();
        let (stream, versions) = busy_account(&ledger);
        let newest = *versions.last().unwrap();
        rewrite(&ledger, &stream, newest, change);
        let recovered = load::<Account>(&ledger, &stream).unwrap();
        assert_eq!(recovered.skipped.len(), 1, "{name}");
        assert_eq!(recovered.skipped[0].version, newest, "{name}");
        assert!(expected(&recovered.skipped[0].reason), "{name}: {:?}", recovered.skipped[0].reason);
        assert_eq!(recovered.from_snapshot, Some(newest - 2), "{name}: the next older snapshot is used");
        assert_eq!(recovered.state, full_replay::<Account>(&ledger, &stream), "{name}");
        let audit = audit(&ledger).unwrap();
        assert_eq!(audit.mismatches.len(), 1, "{name}: {:?}", audit.mismatches);
        assert_eq!((audit.mismatches[0].subject.as_str(), audit.mismatches[0].version), (stream.as_str(), newest));
    }
}

#[test]
fn with_every_snapshot_damaged_the_state_is_rebuilt_from_zero() {
    let (_dir, ledger) = temp_log();
    let (stream, versions) = busy_account(&ledger);
    for v in &versions {
        rewrite(&ledger, &stream, *v, |mut b| {
            let n = b.len() - 1;
            b[n] ^= 0x80;
            b
        });
    }
    let recovered = load::<Account>(&ledger, &stream).unwrap();
    assert_eq!(recovered.from_snapshot, None);
    assert_eq!(recovered.skipped.iter().map(|s| s.version).collect::<Vec<_>>(), versions.iter().rev().copied().collect::<Vec<_>>());
    assert_eq!(recovered.state, full_replay::<Account>(&ledger, &stream));
    assert_eq!(recovered.replayed, recovered.state.version());
}

#[test]
fn the_audit_catches_a_snapshot_whose_state_disagrees_with_replay() {
    let (_dir, ledger) = temp_log();
    let (stream, versions) = busy_account(&ledger);
    snapshot_projection(&ledger, &rebuild::<Balances>(&ledger).unwrap()).unwrap();
    let clean = audit(&ledger).unwrap();
    assert!(clean.is_clean(), "{:?}", clean.mismatches);
    assert!(clean.confirmed > versions.len() as u64);

    // A "non-deterministic handler": the stored state differs from what replay
    // gives, yet the snapshot is self-consistent (hash over the stored bytes).
    let version = versions[versions.len() / 2];
    rewrite(
        &ledger,
        &stream,
        version,
        edit(|s| {
            let mut account = Account::decode_state(&s.state).unwrap();
            account.declines += 1;
            *s = Snapshot::new(&s.kind.clone(), &s.subject.clone(), s.version, s.position, s.chain_hash, account.encode_state());
        }),
    );
    let report = audit(&ledger).unwrap();
    assert_eq!(report.confirmed, clean.confirmed - 1);
    assert_eq!(report.mismatches.len(), 1);
    let m = &report.mismatches[0];
    let record = ledger.read_stream(&stream, version, Direction::Forwards, 1).unwrap().remove(0);
    assert_eq!((m.subject.as_str(), m.version, m.position), (stream.as_str(), version, record.position));
    assert!(matches!(m.kind, MismatchKind::StateHash { stored, replayed } if stored != replayed));
}

#[test]
fn no_key_material_in_snapshots() {
    use encore_domain::groups::source_list::seal_list;
    use encore_domain::groups::{DeviceKind, DeviceSecret, GroupEvent, SourceIdList};
    use encore_domain::ids::{AccountId, CardId, ContentId, DeviceId, PurchaseId};
    use encore_domain::licensing::events::{CardIssued, ContentListed, LicenseWrittenToCard};
    use encore_domain::licensing::{ContentKey, IssuerSecret, License, LicenseServerKey, LicenseTerms, Station, UseCondition};
    use encore_domain::{Event, EventCodec, Money, Timestamp};
    use encore_ledger::{EventId, ExpectedVersion, NewEvent, StreamAppend};

    let (_dir, ledger) = temp_log();
    let issuer = IssuerSecret::from_bytes([0x11; 32]);
    let card = CardId::new("c1").unwrap();
    let device_key = issuer.device_key(&card);
    let bound = device_key.card_bound_key(&card).unwrap();
    let content = ContentId::new("s1").unwrap();
    let content_key = ContentKey::from_bytes([0x22; 32]);
    let server_key = LicenseServerKey::from_bytes([0x33; 32]);
    let device_secret = DeviceSecret::from_bytes([0x44; 32]);
    let terms = LicenseTerms { uses_left: 3, valid_until: None };
    let sealed = bound.seal(&card, &License { content: content.clone(), terms, key: ContentKey::from_bytes([0x22; 32]) }).unwrap();
    let sealed_key = server_key.seal_content_key(&content, &content_key).unwrap();
    let pd = DeviceId::new("pd1").unwrap();
    let icv = seal_list(&device_secret, &pd, &SourceIdList::new());
    let t = Timestamp(1);
    let lic = |e: encore_domain::licensing::LicensingEvent| Event::Licensing(e);
    let account = AccountId::new("a1").unwrap();
    let kiosk = Station::kiosk(DeviceId::new("k1").unwrap());
    let events: Vec<(&str, Event)> = vec![
        ("card-c1", lic(CardIssued { card: card.clone(), account, expires_at: None, key_check: device_key.key_check(), at: t }.into())),
        (
            "card-c1",
            lic(LicenseWrittenToCard {
                card: card.clone(),
                content: content.clone(),
                purchase: PurchaseId::new("p1").unwrap(),
                terms,
                sealed,
                station: kiosk,
                at: t,
            }
            .into()),
        ),
        (
            "content-s1",
            lic(ContentListed {
                content,
                price: Money(100),
                condition: UseCondition { uses: 3, valid_days: None },
                sealed_key,
                at: t,
                title: None,
                file: None,
            }
            .into()),
        ),
        ("device-pd1", Event::Groups(GroupEvent::DeviceProvisioned { device: pd, kind: DeviceKind::Pd, list: SourceIdList::new(), icv })),
    ];
    for (i, (stream, event)) in events.iter().enumerate() {
        let e = NewEvent::new(EventId::from_u128(i as u128 + 1), event.event_type(), 1, event.encode_payload());
        ledger.append(vec![StreamAppend { stream: StreamId::new(*stream).unwrap(), expected: ExpectedVersion::Any, events: vec![e] }]).unwrap();
    }
    let stats = snapshot_streams(&ledger, SnapshotPolicy { every: 1 }).unwrap();
    assert_eq!(stats.snapshots, 4);
    snapshot_projection(&ledger, &rebuild::<AllProjections>(&ledger).unwrap()).unwrap();

    let stored: Vec<u8> = ledger.scan_aux(b"snapshot/").unwrap().into_iter().flat_map(|(_, v)| v).collect();
    let secrets: Vec<(&str, Vec<u8>)> = vec![
        ("issuer secret", issuer.expose_secret().to_vec()),
        ("device key", device_key.expose_secret().to_vec()),
        ("card-bound key", bound.expose_secret().to_vec()),
        ("content key", content_key.expose_secret().to_vec()),
        ("license server key", server_key.expose_secret().to_vec()),
        ("device secret", vec![0x44; 32]),
    ];
    for (name, secret) in secrets {
        // Any 16-byte window of a key is enough to count as leaked.
        for window in secret.windows(16) {
            assert!(!stored.windows(16).any(|w| w == window), "{name} appears in a stored snapshot");
        }
    }
    // The snapshots do hold the sealed forms (so the scan above looked at real state).
    let card_state = load::<Card>(&ledger, &StreamId::new("card-c1").unwrap()).unwrap();
    assert_eq!(card_state.from_snapshot, Some(2));
}
