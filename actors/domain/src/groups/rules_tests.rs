//! One test (or a few) per numbered rule of DOMAIN.md's two group sections,
//! then the decisions the runtime calls: each names its streams, expected
//! versions and outcome.

use super::test_support::*;
use super::*;
use crate::aggregate::Aggregate;
use crate::ids::GroupId;
use crate::money::Money;
use crate::time::Timestamp;

fn refusal(events: &[GroupEvent]) -> RegistrationRefusal {
    match events {
        [GroupEvent::DeviceRegistrationRefused { reason, .. }] => reason.clone(),
        other => panic!("expected one refusal, got {other:?}"),
    }
}

fn registered(events: &[GroupEvent]) -> bool {
    matches!(events.first(), Some(GroupEvent::DeviceRegistered { .. }))
}

// ---------- Groups, source ids and reproduction control ----------

#[test]
fn groups_rule_1_users_get_leaf_ids_and_a_device_is_in_one_group_until_it_leaves() {
    let mut w = World::default();
    let g1 = w.user("alice", "01234");
    let g2 = w.user("bob", "01234");
    assert_eq!(g1.to_string(), "01234-00001");
    assert_eq!(g2.to_string(), "01234-00002");
    let again = register_user(&w.server(), &crate::ids::UserId::new("alice").unwrap(), crate::ids::ServiceId::new("01234").unwrap(), GroupLimits::default());
    assert!(matches!(again, Err(user_group::RegisterUserError::AlreadyRegistered { .. })));

    w.pc("pc1", Some("r1"));
    assert!(registered(&w.join(&g1, "pc1", None)));
    assert_eq!(w.device("pc1").group(), Some(&g1));
    assert_eq!(refusal(&w.join(&g2, "pc1", None)), RegistrationRefusal::AlreadyInGroup { other: g1.clone() });
    assert!(!w.group(&g2).contains(&did("pc1")));

    w.leave(&g1, "pc1");
    assert!(registered(&w.join(&g2, "pc1", None)));
    assert_eq!(w.device("pc1").group(), Some(&g2));
    assert!(!w.group(&g1).contains(&did("pc1")));
}

#[test]
fn groups_rule_1_registering_twice_in_the_same_group_is_an_error_and_writes_nothing() {
    let mut w = World::default();
    let g = w.user("alice", "01234");
    w.pc("pc1", None);
    w.join(&g, "pc1", None);
    let err = register_device(&w.group(&g), &w.device("pc1"), &did("pc1"), None, &secret("pc1")).unwrap_err();
    assert_eq!(err, user_group::RegisterDeviceError::AlreadyInThisGroup { device: did("pc1"), group: g.clone() });
    let unknown = register_device(&w.group(&g), &w.device("ghost"), &did("ghost"), None, &secret("ghost")).unwrap_err();
    assert_eq!(unknown, user_group::RegisterDeviceError::UnknownDevice { device: did("ghost") });
}

#[test]
fn groups_rule_2_fourth_pc_is_refused() {
    let mut w = World::default();
    let g = w.user("alice", "01234");
    for pc in ["pc1", "pc2", "pc3", "pc4"] {
        w.pc(pc, None);
    }
    for pc in ["pc1", "pc2", "pc3"] {
        assert!(registered(&w.join(&g, pc, None)));
    }
    assert_eq!(refusal(&w.join(&g, "pc4", None)), RegistrationRefusal::TooManyPcs { limit: 3 });
    w.leave(&g, "pc1");
    assert!(registered(&w.join(&g, "pc4", None)), "the limit counts PCs registered at the same time");
}

#[test]
fn groups_rule_2_eleventh_recorder_id_is_refused_even_after_pcs_leave() {
    let mut w = World::default();
    let g = w.user("alice", "01234");
    for i in 0..11 {
        w.pc(&format!("pc{i}"), Some(&format!("r{i}")));
    }
    for i in 0..10 {
        assert!(registered(&w.join(&g, &format!("pc{i}"), None)));
        w.leave(&g, &format!("pc{i}"));
    }
    assert_eq!(w.group(&g).recorders_ever().len(), 10);
    assert_eq!(refusal(&w.join(&g, "pc10", None)), RegistrationRefusal::TooManyRecorders { limit: 10 });
    assert!(registered(&w.join(&g, "pc3", None)), "a recorder id already counted may come back");
}

#[test]
fn groups_rule_2_limits_are_configurable() {
    let mut w = World::default();
    let g = w.user_with("alice", "01234", GroupLimits { max_pcs: 1, max_recorders: 2 });
    w.pc("pc1", Some("r1"));
    w.pc("pc2", Some("r2"));
    w.pc("pc3", Some("r3"));
    w.join(&g, "pc1", None);
    assert_eq!(refusal(&w.join(&g, "pc2", None)), RegistrationRefusal::TooManyPcs { limit: 1 });
    w.leave(&g, "pc1");
    w.join(&g, "pc2", None);
    w.leave(&g, "pc2");
    assert_eq!(refusal(&w.join(&g, "pc3", None)), RegistrationRefusal::TooManyRecorders { limit: 2 });
}

#[test]
fn groups_rule_2_pds_are_unlimited_but_come_through_a_registered_pc() {
    let mut w = World::default();
    let g = w.user("alice", "01234");
    let other = w.user("bob", "01234");
    w.pc("pc1", None);
    w.pc("pc-bob", None);
    w.join(&other, "pc-bob", None);
    w.pd("pd-early");
    assert_eq!(refusal(&w.join(&g, "pd-early", Some("pc1"))), RegistrationRefusal::NotThroughRegisteredPc { via: Some(did("pc1")) });
    assert_eq!(refusal(&w.join(&g, "pd-early", None)), RegistrationRefusal::NotThroughRegisteredPc { via: None });
    assert_eq!(refusal(&w.join(&g, "pd-early", Some("pc-bob"))), RegistrationRefusal::NotThroughRegisteredPc { via: Some(did("pc-bob")) });
    w.join(&g, "pc1", None);
    for i in 0..25 {
        let pd = format!("pd{i}");
        w.pd(&pd);
        assert!(registered(&w.join(&g, &pd, Some("pc1"))));
    }
    assert_eq!(w.group(&g).pds().len(), 25);
}

#[test]
fn groups_rule_3_ripped_content_carries_the_recorder_id_and_unmanaged_content_plays_anywhere() {
    let mut w = World::default();
    w.pc("pc1", Some("r1"));
    w.on("pc1", DeviceCommand::Rip { content: cid("cd-track") }, T0).unwrap();
    assert_eq!(w.device("pc1").library()[&cid("cd-track")].source, Some(SourceId::Recorder(rid("r1"))));
    w.pd("pd-lonely");
    w.on("pd-lonely", DeviceCommand::Acquire { content: cid("free"), source: None, rules: None }, T0).unwrap();
    assert!(matches!(w.play("pd-lonely", "free", T0), GroupEvent::DevicePlayed { source: None, .. }));
    w.pd("pd-nr");
    let err = w.on("pc-none", DeviceCommand::Rip { content: cid("x") }, T0).unwrap_err();
    assert!(matches!(err, DeviceError::Rip(device::RipError::UnknownDevice { .. })));
    let err = w.on("pd-nr", DeviceCommand::Rip { content: cid("x") }, T0).unwrap_err();
    assert_eq!(err, DeviceError::Rip(device::RipError::NoRecorder { device: did("pd-nr") }));
}

#[test]
fn groups_rule_4_managed_content_plays_only_if_its_source_id_is_listed_and_in_term() {
    let mut w = World::default();
    let g = w.household("alice", "01234", "pc1", "pd1");
    let other = gid("01234-ZZZZZ");
    let store = |w: &mut World, c: &str, s: SourceId| w.on("pd1", DeviceCommand::Acquire { content: cid(c), source: Some(s), rules: None }, T0).unwrap();
    store(&mut w, "bought", SourceId::Group(g.clone()));
    store(&mut w, "foreign", SourceId::Group(other.clone()));
    store(&mut w, "ripped", SourceId::Recorder(rid("r-pc1")));
    assert!(matches!(w.play("pd1", "bought", T0), GroupEvent::DevicePlayed { .. }));
    assert_eq!(
        w.play("pd1", "foreign", T0),
        GroupEvent::DevicePlayRefused { device: did("pd1"), content: cid("foreign"), reason: PlayRefusal::NotInSourceList { source: SourceId::Group(other) } }
    );
    assert!(matches!(w.play("pd1", "ripped", T0), GroupEvent::DevicePlayRefused { .. }));
    let until = T0.plus_days(30);
    let cert = w.certificate(&g, "pc1", until);
    w.on("pd1", DeviceCommand::AcceptCertificate { certificate: cert, key: cert_key(), secret: secret("pd1") }, T0).unwrap();
    assert!(matches!(w.play("pd1", "ripped", until), GroupEvent::DevicePlayed { .. }), "the term is inclusive");
    let late = until.plus_secs(1);
    assert_eq!(
        w.play("pd1", "ripped", late),
        GroupEvent::DevicePlayRefused {
            device: did("pd1"),
            content: cid("ripped"),
            reason: PlayRefusal::SourceIdExpired { source: SourceId::Recorder(rid("r-pc1")), valid_until: until }
        }
    );
}

#[test]
fn groups_rule_5_registration_adds_the_group_id_to_the_list() {
    let mut w = World::default();
    let g = w.household("alice", "01234", "pc1", "pd1");
    assert_eq!(w.device("pd1").source_list().group_id(), Some(&g));
    assert!(w.device("pc1").source_list().contains(&SourceId::Recorder(rid("r-pc1"))), "a PC always lists its own recorder id");
    assert!(w.device("pd1").list_is_intact(&secret("pd1")));
}

#[test]
fn groups_rule_5_certificate_from_a_pc_of_the_same_group_adds_its_recorder_id() {
    let mut w = World::default();
    let g = w.household("alice", "01234", "pc1", "pd1");
    let cert = w.certificate(&g, "pc1", T0.plus_days(1));
    assert!(w.group(&g).certificates().contains_key(&rid("r-pc1")));
    let events = w.on("pd1", DeviceCommand::AcceptCertificate { certificate: cert, key: cert_key(), secret: secret("pd1") }, T0).unwrap();
    assert!(matches!(events.as_slice(), [GroupEvent::SourceIdAdded { .. }]));
    let pd = w.device("pd1");
    assert_eq!(pd.source_list().get(&SourceId::Recorder(rid("r-pc1"))).unwrap().valid_until, Some(T0.plus_days(1)));
    assert!(pd.list_is_intact(&secret("pd1")), "the new list is sealed again");
}

#[test]
fn groups_rule_5_certificate_from_another_group_or_expired_or_forged_is_refused() {
    let mut w = World::default();
    let g = w.household("alice", "01234", "pc1", "pd1");
    let bob = w.household("bob", "01234", "pc-bob", "pd-bob");
    let accept = |w: &mut World, cert: GroupCertificate, now| {
        w.on("pd1", DeviceCommand::AcceptCertificate { certificate: cert, key: cert_key(), secret: secret("pd1") }, now).unwrap()
    };
    let foreign = w.certificate(&bob, "pc-bob", T0.plus_days(1));
    let events = accept(&mut w, foreign, T0);
    assert!(matches!(&events[..], [GroupEvent::CertificateRefused { reason: CertificateRefusal::OtherGroup { device_group: Some(d) }, .. }] if *d == g));
    let short = w.certificate(&g, "pc1", T0);
    let events = accept(&mut w, short, T0.plus_secs(1));
    assert!(matches!(&events[..], [GroupEvent::CertificateRefused { reason: CertificateRefusal::Expired { valid_until }, .. }] if *valid_until == T0));
    let mut forged = w.certificate(&g, "pc1", T0.plus_days(1));
    forged.recorder = rid("r-stolen");
    let events = accept(&mut w, forged, T0);
    assert!(matches!(&events[..], [GroupEvent::CertificateRefused { reason: CertificateRefusal::BadMac, .. }]));
    assert!(!w.device("pd1").source_list().contains(&SourceId::Recorder(rid("r-stolen"))));
    assert!(!w.device("pd1").source_list().contains(&SourceId::Recorder(rid("r-pc-bob"))));
}

#[test]
fn groups_rule_5_lists_of_the_same_group_merge_and_other_groups_do_not() {
    let mut w = World::default();
    let g = w.household("alice", "01234", "pc1", "pd1");
    w.pc("pc2", Some("r-pc2"));
    w.join(&g, "pc2", None);
    let decision = merge_lists(&w.device("pc1"), &secret("pc1"), &w.device("pc2"), &secret("pc2")).unwrap();
    w.commit(decision);
    for pc in ["pc1", "pc2"] {
        let list = w.device(pc).source_list().clone();
        assert!(list.contains(&SourceId::Recorder(rid("r-pc1"))) && list.contains(&SourceId::Recorder(rid("r-pc2"))), "{pc}: {list:?}");
        assert!(w.device(pc).list_is_intact(&secret(pc)));
    }
    let bob = w.household("bob", "01234", "pc-bob", "pd-bob");
    let err = merge_lists(&w.device("pc1"), &secret("pc1"), &w.device("pc-bob"), &secret("pc-bob")).unwrap_err();
    assert_eq!(err, device::MergeError::GroupMismatch { ours: Some(g), theirs: Some(bob) });
}

#[test]
fn groups_rule_5_leaving_empties_the_list_except_the_own_recorder_id() {
    let mut w = World::default();
    let g = w.household("alice", "01234", "pc1", "pd1");
    w.pc("pc2", Some("r-pc2"));
    w.join(&g, "pc2", None);
    let cert = w.certificate(&g, "pc2", T0.plus_days(1));
    w.on("pc1", DeviceCommand::AcceptCertificate { certificate: cert, key: cert_key(), secret: secret("pc1") }, T0).unwrap();
    assert_eq!(w.device("pc1").source_list().len(), 3);
    w.leave(&g, "pc1");
    let pc1 = w.device("pc1");
    assert_eq!(pc1.source_list(), &SourceIdList::only_recorder(Some(&rid("r-pc1"))));
    assert!(pc1.list_is_intact(&secret("pc1")));
    w.leave(&g, "pd1");
    assert!(w.device("pd1").source_list().is_empty());
    assert!(!w.group(&g).certificates().contains_key(&rid("r-pc1")));
}

#[test]
fn groups_rule_6_a_tampered_list_is_never_used_or_updated() {
    let mut w = World::default();
    let g = w.household("alice", "01234", "pc1", "pd1");
    w.on("pd1", DeviceCommand::Acquire { content: cid("pirate"), source: Some(SourceId::Recorder(rid("r-evil"))), rules: None }, T0).unwrap();
    let honest = w.device("pd1");
    let mut forged_list = honest.source_list().clone();
    forged_list.upsert(SourceEntry::new(SourceId::Recorder(rid("r-evil")), None));
    let tampered = honest.with_tampered_list(forged_list.clone());
    assert!(!tampered.list_is_intact(&secret("pd1")));

    let play = tampered.decide(&DeviceCommand::Play { content: cid("pirate"), secret: secret("pd1") }, T0).unwrap();
    assert_eq!(play, vec![GroupEvent::DevicePlayRefused { device: did("pd1"), content: cid("pirate"), reason: PlayRefusal::SourceListRejected }]);

    let cert = w.certificate(&g, "pc1", T0.plus_days(1));
    let events = tampered.decide(&DeviceCommand::AcceptCertificate { certificate: cert, key: cert_key(), secret: secret("pd1") }, T0).unwrap();
    assert!(matches!(&events[..], [GroupEvent::CertificateRefused { reason: CertificateRefusal::SourceListRejected, .. }]));

    let merge = merge_lists(&tampered, &secret("pd1"), &w.device("pc1"), &secret("pc1")).unwrap().decision;
    assert_eq!(merge.appends.len(), 1);
    assert_eq!(merge.appends[0].events, vec![GroupEvent::SourceListRejected { device: did("pd1"), during: ListUse::Merge }]);

    let leave = deregister_device(&w.group(&g), &tampered, &did("pd1"), &secret("pd1")).unwrap().decision;
    assert!(leave.appends[1].events.contains(&GroupEvent::SourceListRejected { device: did("pd1"), during: ListUse::Deregistration }));
    assert!(!leave.appends[1].events.iter().any(|e| matches!(e, GroupEvent::SourceListCleared { .. })));

    // The honest list, with the wrong secret, fails the same way.
    let wrong_key = honest.decide(&DeviceCommand::Play { content: cid("pirate"), secret: secret("pc1") }, T0).unwrap();
    assert!(matches!(&wrong_key[..], [GroupEvent::DevicePlayRefused { reason: PlayRefusal::SourceListRejected, .. }]));
}

#[test]
fn groups_rule_6_a_tampered_device_cannot_join_a_group() {
    let mut w = World::default();
    let g = w.user("alice", "01234");
    w.pc("pc1", Some("r1"));
    let tampered = w.device("pc1").with_tampered_list(SourceIdList::only_recorder(Some(&rid("r-other"))));
    let decision = register_device(&w.group(&g), &tampered, &did("pc1"), None, &secret("pc1")).unwrap().decision;
    assert_eq!(decision.appends.len(), 1, "nothing on the device stream");
    assert!(matches!(&decision.appends[0].events[..], [GroupEvent::DeviceRegistrationRefused { reason: RegistrationRefusal::SourceListRejected, .. }]));
}

#[test]
fn groups_rule_7_check_in_check_out_mode_follows_the_license_usage_rules() {
    let mut w = World::default();
    w.household("alice", "01234", "pc1", "pd1");
    w.on("pd1", DeviceCommand::SetMode { mode: ControlMode::CheckInCheckOut }, T0).unwrap();
    let until = T0.plus_days(2);
    let rules = UsageRules { plays_left: Some(2), valid_until: Some(until), checkouts_left: 1 };
    w.on("pd1", DeviceCommand::Acquire { content: cid("lic"), source: None, rules: Some(rules) }, T0).unwrap();
    w.on("pd1", DeviceCommand::Acquire { content: cid("bare"), source: None, rules: None }, T0).unwrap();
    assert!(matches!(w.play("pd1", "lic", T0), GroupEvent::DevicePlayed { mode: ControlMode::CheckInCheckOut, .. }));
    assert!(matches!(w.play("pd1", "lic", T0), GroupEvent::DevicePlayed { .. }));
    assert!(matches!(w.play("pd1", "lic", T0), GroupEvent::DevicePlayRefused { reason: PlayRefusal::NoPlaysLeft, .. }));
    assert!(matches!(w.play("pd1", "bare", T0), GroupEvent::DevicePlayRefused { reason: PlayRefusal::NoUsageRules, .. }));

    w.on("pc1", DeviceCommand::SetMode { mode: ControlMode::CheckInCheckOut }, T0).unwrap();
    let rules = UsageRules { plays_left: None, valid_until: Some(until), checkouts_left: 1 };
    w.on("pc1", DeviceCommand::Acquire { content: cid("album"), source: None, rules: Some(rules) }, T0).unwrap();
    assert!(matches!(w.play("pc1", "album", until.plus_secs(1)), GroupEvent::DevicePlayRefused { reason: PlayRefusal::LicenseExpired { .. }, .. }));
    w.pd("pd2");
    w.pd("pd3");
    let first = copy_content(&w.device("pc1"), &w.device("pd2"), &cid("album")).unwrap();
    let events = w.commit(first);
    assert!(matches!(&events[..], [GroupEvent::ContentCheckedOut { .. }, GroupEvent::ContentCopied { .. }]));
    assert_eq!(w.device("pd2").library()[&cid("album")].rules.as_ref().unwrap().checkouts_left, 0);
    let second = w.commit(copy_content(&w.device("pc1"), &w.device("pd3"), &cid("album")).unwrap());
    assert!(matches!(&second[..], [GroupEvent::CopyRefused { reason: CopyRefusal::NoCheckoutsLeft, .. }]));
}

#[test]
fn groups_rule_8_unmanaged_content_copies_only_between_a_pc_and_a_pd_of_the_same_group() {
    let mut w = World::default();
    w.household("alice", "01234", "pc1", "pd1");
    w.household("bob", "01234", "pc-bob", "pd-bob");
    w.pd("pd-free");
    w.on("pc1", DeviceCommand::Acquire { content: cid("raw"), source: None, rules: None }, T0).unwrap();
    let ok = w.commit(copy_content(&w.device("pc1"), &w.device("pd1"), &cid("raw")).unwrap());
    assert!(matches!(&ok[..], [GroupEvent::ContentCopied { .. }]));
    assert!(w.device("pd1").library().contains_key(&cid("raw")));
    let back = copy_content(&w.device("pd1"), &w.device("pc1"), &cid("raw")).unwrap_err();
    assert!(matches!(back, device::CopyError::AlreadyInLibrary { .. }));

    let cross = w.commit(copy_content(&w.device("pc1"), &w.device("pd-bob"), &cid("raw")).unwrap());
    assert!(matches!(&cross[..], [GroupEvent::CopyRefused { reason: CopyRefusal::GroupMismatch { .. }, .. }]));
    let loose = w.commit(copy_content(&w.device("pc1"), &w.device("pd-free"), &cid("raw")).unwrap());
    assert!(matches!(&loose[..], [GroupEvent::CopyRefused { reason: CopyRefusal::GroupMismatch { to: None, .. }, .. }]));
    let pc_to_pc = w.commit(copy_content(&w.device("pc1"), &w.device("pc-bob"), &cid("raw")).unwrap());
    assert!(matches!(&pc_to_pc[..], [GroupEvent::CopyRefused { reason: CopyRefusal::NotPcAndPd, .. }]));

    // Managed content copies freely; playback is what is controlled.
    w.on("pc1", DeviceCommand::Acquire { content: cid("bought"), source: Some(SourceId::Group(gid("01234-00001"))), rules: None }, T0).unwrap();
    let managed = w.commit(copy_content(&w.device("pc1"), &w.device("pd-bob"), &cid("bought")).unwrap());
    assert!(matches!(&managed[..], [GroupEvent::ContentCopied { .. }]));
    assert!(matches!(w.play("pd-bob", "bought", T0), GroupEvent::DevicePlayRefused { reason: PlayRefusal::NotInSourceList { .. }, .. }));
}

// ---------- Sharing by radio, favorites, reliability and charisma ----------

fn shared(events: &[GroupEvent]) -> SharedContent {
    events.iter().find_map(SharedContent::from_event).expect("a ContentShared event")
}

#[test]
fn sharing_rule_1_only_shareable_content_is_transmitted_with_group_and_reliability() {
    let mut w = World::default();
    let g = w.household("alice", "01234", "pc1", "pd1");
    w.on("pd1", DeviceCommand::Acquire { content: cid("song"), source: Some(SourceId::Group(g.clone())), rules: None }, T0).unwrap();
    let err = w.on("pd1", DeviceCommand::Transmit { content: cid("song") }, T0).unwrap_err();
    assert_eq!(err, DeviceError::Share(radio::ShareError::NotShareable { content: cid("song") }));
    w.on("pd1", DeviceCommand::SyncReputation { reliability: 7, charisma: vec![] }, T0).unwrap();
    w.on("pd1", DeviceCommand::MarkShareable { content: cid("song") }, T0).unwrap();
    let events = w.on("pd1", DeviceCommand::Transmit { content: cid("song") }, T0).unwrap();
    assert_eq!(events, vec![GroupEvent::ContentShared { device: did("pd1"), content: cid("song"), group: g, reliability: 7 }]);
    let err = w.on("pc1", DeviceCommand::MarkShareable { content: cid("song") }, T0).unwrap_err();
    assert_eq!(err, DeviceError::Share(radio::ShareError::NotAPd { device: did("pc1") }));
}

/// Alice (service 01234) shares `song`; returns what she transmitted.
fn alice_shares(w: &mut World, reliability: u64) -> SharedContent {
    let g = w.household("alice", "01234", "pc-a", "pd-a");
    w.on("pd-a", DeviceCommand::Acquire { content: cid("song"), source: Some(SourceId::Group(g)), rules: None }, T0).unwrap();
    w.on("pd-a", DeviceCommand::SyncReputation { reliability, charisma: vec![] }, T0).unwrap();
    w.on("pd-a", DeviceCommand::MarkShareable { content: cid("song") }, T0).unwrap();
    let events = w.on("pd-a", DeviceCommand::Transmit { content: cid("song") }, T0).unwrap();
    shared(&events)
}

#[test]
fn sharing_rule_2_mismatched_service_code_does_not_play() {
    let mut w = World::default();
    let song = alice_shares(&mut w, 0);
    w.household("carol", "02999", "pc-c", "pd-c");
    let events = w.on("pd-c", DeviceCommand::ReceiveShared { shared: song.clone() }, T0).unwrap();
    assert_eq!(
        events,
        vec![GroupEvent::SharedContentRefused {
            device: did("pd-c"),
            content: cid("song"),
            group: song.group.clone(),
            reason: SharedRefusal::ServiceCodeMismatch { ours: 2, theirs: 1 }
        }]
    );
    assert_eq!(w.device("pd-c").now_playing(), None);
    w.household("dave", "01777", "pc-d", "pd-d");
    let events = w.on("pd-d", DeviceCommand::ReceiveShared { shared: song }, T0).unwrap();
    assert!(matches!(&events[..], [GroupEvent::SharedContentPlayed { .. }]), "same code 01, different service id: plays");
}

#[test]
fn sharing_rule_2_a_busy_receiver_switches_only_for_auto_switch_reliability_or_charisma() {
    let mut w = World::default();
    let song = alice_shares(&mut w, 50);
    w.household("bob", "01234", "pc-b", "pd-b");
    w.on("pd-b", DeviceCommand::Acquire { content: cid("own"), source: None, rules: None }, T0).unwrap();
    w.play("pd-b", "own", T0);
    let receive = |w: &mut World, s: &SharedContent| w.on("pd-b", DeviceCommand::ReceiveShared { shared: s.clone() }, T0).unwrap();

    let events = receive(&mut w, &song);
    assert!(matches!(&events[..], [GroupEvent::SharedContentReceived { .. }]), "busy, no reason to switch");
    assert_eq!(w.device("pd-b").now_playing().unwrap().content, cid("own"));

    w.on("pd-b", DeviceCommand::SetRadio { auto_switch: false, reliability_threshold: 49 }, T0).unwrap();
    let events = receive(&mut w, &song);
    assert!(matches!(&events[..], [GroupEvent::SwitchedToShared { reason: SwitchReason::Reliability { reliability: 50, threshold: 49 }, .. }]));
    w.play("pd-b", "own", T0);

    w.on("pd-b", DeviceCommand::SetRadio { auto_switch: false, reliability_threshold: 50 }, T0).unwrap();
    assert!(matches!(&receive(&mut w, &song)[..], [GroupEvent::SharedContentReceived { .. }]), "equal to the threshold is not above it");
    w.on("pd-b", DeviceCommand::SyncReputation { reliability: 0, charisma: vec![song.group.clone()] }, T0).unwrap();
    assert!(matches!(&receive(&mut w, &song)[..], [GroupEvent::SwitchedToShared { reason: SwitchReason::Charisma, .. }]));
    w.play("pd-b", "own", T0);

    w.on("pd-b", DeviceCommand::SyncReputation { reliability: 0, charisma: vec![] }, T0).unwrap();
    w.on("pd-b", DeviceCommand::SetRadio { auto_switch: true, reliability_threshold: 100 }, T0).unwrap();
    let events = receive(&mut w, &song);
    assert_eq!(
        events,
        vec![GroupEvent::SwitchedToShared {
            device: did("pd-b"),
            from: cid("own"),
            content: cid("song"),
            group: song.group.clone(),
            reason: SwitchReason::AutoSwitch
        }]
    );
    assert_eq!(w.device("pd-b").now_playing().unwrap().shared_from, Some(song.group));
}

#[test]
fn sharing_rule_2_received_content_is_never_stored() {
    let mut w = World::default();
    let song = alice_shares(&mut w, 500);
    w.household("bob", "01234", "pc-b", "pd-b");
    let before = w.device("pd-b").library().clone();
    w.on("pd-b", DeviceCommand::ReceiveShared { shared: song.clone() }, T0).unwrap();
    w.on("pd-b", DeviceCommand::SetRadio { auto_switch: true, reliability_threshold: 1 }, T0).unwrap();
    w.on("pd-b", DeviceCommand::ReceiveShared { shared: song.clone() }, T0).unwrap();
    let pd = w.device("pd-b");
    assert_eq!(pd.library(), &before);
    assert_eq!(pd.now_playing().unwrap().content, cid("song"));
    let err = w.on("pd-b", DeviceCommand::MarkShareable { content: cid("song") }, T0).unwrap_err();
    assert!(matches!(err, DeviceError::Share(radio::ShareError::NotInLibrary { .. })), "it cannot be passed on either");
    assert!(copy_content(&w.device("pd-b"), &w.device("pc-b"), &cid("song")).is_err());
}

/// Alice shares, Bob plays it and presses favorite.
fn bob_favorites_alice(w: &mut World) -> GroupId {
    let song = alice_shares(w, 0);
    w.household("bob", "01234", "pc-b", "pd-b");
    w.on("pd-b", DeviceCommand::ReceiveShared { shared: song.clone() }, T0).unwrap();
    let events = w.on("pd-b", DeviceCommand::PressFavorite, T0).unwrap();
    assert_eq!(events, vec![GroupEvent::FavoriteRecorded { device: did("pd-b"), content: cid("song"), group: song.group.clone() }]);
    song.group
}

#[test]
fn sharing_rule_3_the_favorite_button_records_content_id_and_group_id() {
    let mut w = World::default();
    let alice = bob_favorites_alice(&mut w);
    assert_eq!(w.device("pd-b").favorites(), &[Favorite { content: cid("song"), group: alice }]);
    w.on("pd-b", DeviceCommand::Stop, T0).unwrap();
    let err = w.on("pd-b", DeviceCommand::PressFavorite, T0).unwrap_err();
    assert_eq!(err, DeviceError::Favorite(reputation::FavoriteError::NothingPlaying { device: did("pd-b") }));
}

#[test]
fn sharing_rule_4_favorites_travel_pd_to_pc_of_its_group_to_the_server() {
    let mut w = World::default();
    let alice = bob_favorites_alice(&mut w);
    let err = upload_favorites(&w.device("pd-b"), &w.device("pc-a")).unwrap_err();
    assert!(matches!(err, reputation::UploadError::GroupMismatch { .. }));
    w.commit(upload_favorites(&w.device("pd-b"), &w.device("pc-b")).unwrap());
    assert!(w.device("pd-b").favorites().is_empty());
    assert_eq!(w.device("pc-b").favorites().len(), 1);
    w.commit(forward_favorites(&w.device("pc-b"), &w.distribution()).unwrap());
    assert!(w.device("pc-b").favorites().is_empty());
    assert!(w.distribution().favorites().contains(&Favorite { content: cid("song"), group: alice }));
    assert!(matches!(forward_favorites(&w.device("pc-b"), &w.distribution()), Err(reputation::ForwardError::NoFavorites { .. })));
}

/// Bob's favorite of Alice's song reaches the server; returns Alice's group id.
fn favorite_at_server(w: &mut World) -> GroupId {
    let alice = bob_favorites_alice(w);
    w.commit(upload_favorites(&w.device("pd-b"), &w.device("pc-b")).unwrap());
    w.commit(forward_favorites(&w.device("pc-b"), &w.distribution()).unwrap());
    alice
}

fn buy(w: &mut World, purchase: &str, group: &GroupId) -> Vec<GroupEvent> {
    w.on_server(DistributionCommand::RecordPurchase { purchase: pid(purchase), content: cid("song"), favorite_group: group.clone() }).unwrap()
}

#[test]
fn sharing_rule_5_a_purchase_through_a_favorite_bumps_the_group_reliability() {
    let mut w = World::default();
    let alice = favorite_at_server(&mut w);
    let events = buy(&mut w, "p1", &alice);
    assert_eq!(
        events,
        vec![GroupEvent::ReliabilityBumped { group: alice.clone(), content: cid("song"), purchase: pid("p1"), points: 1, reliability: 1, buyer: None }]
    );
    assert!(buy(&mut w, "p1", &alice).is_empty(), "a retried purchase never bumps twice");
    buy(&mut w, "p2", &alice);
    assert_eq!(w.distribution().reliability_of(&alice), 2);
    let unknown = w.on_server(DistributionCommand::RecordPurchase { purchase: pid("p3"), content: cid("other"), favorite_group: alice.clone() });
    assert!(matches!(unknown, Err(reputation::DistributionError::Purchase(reputation::PurchaseError::UnknownFavorite { .. }))));
}

#[test]
fn sharing_rule_5_points_per_purchase_are_configurable() {
    let mut w = World::default();
    let config = DistributionConfig { points_per_purchase: 5, ..DistributionConfig::default() };
    w.on_server(DistributionCommand::Configure { config }).unwrap();
    let alice = favorite_at_server(&mut w);
    buy(&mut w, "p1", &alice);
    assert_eq!(w.distribution().reliability_of(&alice), 5);
    let late = w.on_server(DistributionCommand::Configure { config: DistributionConfig::default() });
    assert!(matches!(late, Err(reputation::DistributionError::Config(reputation::ConfigError::AlreadyInUse { purchases: 1 }))));
}

#[test]
fn sharing_rule_6_passing_the_threshold_grants_charisma_and_flows_back_to_devices() {
    let mut w = World::default();
    let alice = favorite_at_server(&mut w);
    for i in 0..100 {
        let events = buy(&mut w, &format!("p{i}"), &alice);
        assert_eq!(events.len(), 1, "at or below 100 is not charisma");
    }
    let events = buy(&mut w, "p100", &alice);
    assert_eq!(events[1], GroupEvent::CharismaGranted { group: alice.clone(), reliability: 101 });
    assert_eq!(buy(&mut w, "p101", &alice).len(), 1, "granted once");
    assert!(w.distribution().charisma_list().contains(&alice));

    let server = w.distribution();
    let events = w.on("pd-a", server.sync_command(&alice), T0).unwrap();
    assert_eq!(
        events,
        vec![
            GroupEvent::ReliabilityUpdated { device: did("pd-a"), reliability: 102 },
            GroupEvent::CharismaListSynced { device: did("pd-a"), list: vec![alice.clone()] }
        ]
    );
    assert_eq!(w.device("pd-a").reliability(), 102);
    assert!(w.on("pd-a", server.sync_command(&alice), T0).unwrap().is_empty(), "nothing new, nothing written");
}

#[test]
fn sharing_rule_6_top_n_mode_grants_and_revokes_as_the_ranking_changes() {
    let mut d = Distribution::default();
    let step = |d: &mut Distribution, c: DistributionCommand| {
        let events = d.decide(&c, T0).unwrap();
        events.iter().for_each(|e| d.apply(e));
        events
    };
    step(
        &mut d,
        DistributionCommand::Configure {
            config: DistributionConfig { points_per_purchase: 1, policy: CharismaPolicy::TopN { n: 2 }, points_per_further_purchase: None },
        },
    );
    let (a, b, c) = (gid("01234-00001"), gid("01234-00002"), gid("01234-00003"));
    let favorites = [&a, &b, &c].map(|g| Favorite { content: cid("song"), group: g.clone() }).to_vec();
    d.apply(&GroupEvent::FavoritesForwarded { device: did("pc"), group: a.clone(), favorites });
    let mut n = 0;
    let mut buy = |d: &mut Distribution, g: &GroupId| {
        n += 1;
        step(d, DistributionCommand::RecordPurchase { purchase: pid(&format!("p{n}")), content: cid("song"), favorite_group: g.clone() })
    };
    assert!(buy(&mut d, &a).contains(&GroupEvent::CharismaGranted { group: a.clone(), reliability: 1 }));
    assert!(buy(&mut d, &b).contains(&GroupEvent::CharismaGranted { group: b.clone(), reliability: 1 }));
    let events = buy(&mut d, &c);
    assert_eq!(events.len(), 1, "c ties with b but ranks after it by group id: {events:?}");
    let events = buy(&mut d, &c);
    assert_eq!(
        &events[1..],
        &[GroupEvent::CharismaRevoked { group: b.clone(), reliability: 1 }, GroupEvent::CharismaGranted { group: c.clone(), reliability: 2 }]
    );
    assert_eq!(d.charisma_list().iter().cloned().collect::<Vec<_>>(), vec![a, c]);
}

#[test]
fn sharing_rule_7_rewards_go_to_charisma_group_ids_and_discount_later_purchases() {
    let mut w = World::default();
    w.on_server(DistributionCommand::Configure {
        config: DistributionConfig { points_per_purchase: 1, policy: CharismaPolicy::Threshold { threshold: 0 }, points_per_further_purchase: None },
    })
    .unwrap();
    let alice = favorite_at_server(&mut w);
    let bob = w.device("pd-b").group().cloned().unwrap();
    let refused = w.on_server(DistributionCommand::SetReward { group: alice.clone(), discount_bp: 1000 });
    assert!(matches!(refused, Err(reputation::DistributionError::Reward(reputation::RewardError::NotCharisma { .. }))));
    buy(&mut w, "p1", &alice);
    let too_much = w.on_server(DistributionCommand::SetReward { group: alice.clone(), discount_bp: 10_001 });
    assert!(matches!(too_much, Err(reputation::DistributionError::Reward(reputation::RewardError::DiscountTooLarge { discount_bp: 10_001 }))));
    let events = w.on_server(DistributionCommand::SetReward { group: alice.clone(), discount_bp: 1000 }).unwrap();
    assert_eq!(events, vec![GroupEvent::RewardGranted { group: alice.clone(), discount_bp: 1000 }]);
    assert_eq!(w.distribution().reward_for(&alice), Some(1000));
    assert_eq!(w.distribution().reward_for(&bob), None);

    assert_eq!(discounted_price(Money(1000), 1000), Money(900));
    assert_eq!(discounted_price(Money(999), 1000), Money(900), "the 99.9 discount rounds down to 99");
    assert_eq!(discounted_price(Money(1), 9999), Money(1));
    assert_eq!(discounted_price(Money(1234), 10_000), Money(0));
    assert_eq!(discounted_price(Money(1234), 20_000), Money(0), "clamped at 100 %");
    assert_eq!(discounted_price(Money(u64::MAX), 5000), Money(u64::MAX - u64::MAX / 2));
}

#[test]
fn stream_names_are_stable() {
    assert_eq!(group_stream(&gid("01234-0000A")), "group-01234-0000A");
    assert_eq!(device_stream(&did("pd1")), "device-pd1");
    assert_eq!(GROUP_SERVER_STREAM, "group-server");
    assert_eq!(DISTRIBUTION_STREAM, "distribution");
    let _ = Timestamp(0);
}

/// A purchase of `content` by a member of `buyer`, decided and applied as the runtime does it.
fn buy_as(w: &mut World, purchase: &str, buyer: &GroupId, content: &str) -> reputation::PurchaseReputation {
    let decided = reputation::purchase_reputation(&w.distribution(), buyer, &cid(content), &pid(purchase)).unwrap();
    if let Some(append) = decided.append(true, w.distribution().version()) {
        w.commit(crate::aggregate::Decision { appends: vec![append] });
    }
    decided
}

#[test]
fn sharing_rule_5_a_purchase_spends_the_buyers_own_uploaded_favorite_and_points_follow_the_policy() {
    let mut w = World::default();
    let alice = favorite_at_server(&mut w);
    let bob = w.device("pc-b").group().cloned().unwrap();
    // Alice's own purchase: no favorite of hers names another group, so nothing is bumped.
    assert!(buy_as(&mut w, "p0", &alice, "song").events_if_bought.is_empty(), "a group's purchase does not bump itself");
    // Bob buys through the favorite his PD pressed and his PC forwarded: 1 point (the first listener).
    let first = buy_as(&mut w, "p1", &bob, "song");
    assert_eq!(
        first.events_if_bought,
        vec![GroupEvent::ReliabilityBumped {
            group: alice.clone(),
            content: cid("song"),
            purchase: pid("p1"),
            points: 1,
            reliability: 1,
            buyer: Some(bob.clone())
        }]
    );
    // The favorite is spent: Bob's next purchase of the song is not through it.
    assert!(buy_as(&mut w, "p2", &bob, "song").events_if_bought.is_empty());
    // A retried purchase bumps nothing; a decision for a charge that was declined appends nothing.
    assert!(buy_as(&mut w, "p1", &bob, "song").events_if_bought.is_empty());
    assert_eq!(reputation::PurchaseReputation { discount_bp: None, events_if_bought: first.events_if_bought.clone() }.append(false, 0), None);
    // Carol heard it too, through her own favorite of Alice's song: a further user, 2 points.
    w.household("carol", "01234", "pc-c", "pd-c");
    let carol = w.device("pc-c").group().cloned().unwrap();
    let favorite = Favorite { content: cid("song"), group: alice.clone() };
    w.commit(crate::aggregate::Decision {
        appends: vec![crate::aggregate::StreamEvents {
            stream: crate::groups::DISTRIBUTION_STREAM.to_string(),
            expected_version: w.distribution().version(),
            events: vec![GroupEvent::FavoritesForwarded { device: did("pc-c"), group: carol.clone(), favorites: vec![favorite] }],
        }],
    });
    let further = buy_as(&mut w, "p3", &carol, "song");
    assert!(matches!(&further.events_if_bought[0], GroupEvent::ReliabilityBumped { points: 2, reliability: 3, .. }), "{:?}", further.events_if_bought);
    assert_eq!(w.distribution().reliability_of(&alice), 3);
    assert_eq!(w.distribution().reliability_of(&bob), 0);
}

// ---------- Decisions name their streams, versions and outcomes ----------

fn streams(decision: &crate::aggregate::Decision<GroupEvent>) -> Vec<(String, u64, usize)> {
    decision.appends.iter().map(|a| (a.stream.clone(), a.expected_version, a.events.len())).collect()
}

#[test]
fn registering_a_user_decides_its_group_id_and_both_streams() {
    let mut w = World::default();
    w.user("alice", "01234");
    let decided =
        register_user(&w.server(), &crate::ids::UserId::new("bob").unwrap(), crate::ids::ServiceId::new("01234").unwrap(), GroupLimits::default()).unwrap();
    assert_eq!(decided.outcome, gid("01234-00002"));
    assert_eq!(streams(&decided.decision), vec![(GROUP_SERVER_STREAM.to_string(), 1, 1), ("group-01234-00002".to_string(), 0, 1)]);
}

#[test]
fn a_device_command_goes_to_the_device_stream_and_a_provision_to_the_one_it_names() {
    let mut w = World::default();
    let provision = DeviceCommand::Provision { device: did("pd1"), kind: DeviceKind::Pd, secret: secret("pd1") };
    let provisioned = device_command(&w.device("pd1"), &provision, T0).unwrap();
    assert_eq!(streams(&provisioned.decision), vec![("device-pd1".to_string(), 0, 1)]);
    w.commit(provisioned);
    let mode = device_command(&w.device("pd1"), &DeviceCommand::SetMode { mode: ControlMode::CheckInCheckOut }, T0).unwrap();
    assert_eq!(streams(&mode.decision), vec![("device-pd1".to_string(), 1, 1)]);
    let unknown = device_command(&w.device("ghost"), &DeviceCommand::Stop, T0);
    assert_eq!(unknown, Err(DeviceError::Stop(device::StopError::UnknownDevice)));
    let configure = DistributionCommand::Configure { config: DistributionConfig::default() };
    let configured = distribution_command(&w.distribution(), &configure, T0).unwrap();
    assert_eq!(streams(&configured.decision), vec![(DISTRIBUTION_STREAM.to_string(), 0, 1)]);
}

#[test]
fn transmitting_decides_what_receivers_hear() {
    let mut w = World::default();
    let g = w.household("alice", "01234", "pc1", "pd1");
    w.on("pd1", DeviceCommand::Acquire { content: cid("song"), source: Some(SourceId::Group(g.clone())), rules: None }, T0).unwrap();
    w.on("pd1", DeviceCommand::MarkShareable { content: cid("song") }, T0).unwrap();
    let pd = w.device("pd1");
    let sent = transmit_content(&pd, &cid("song")).unwrap();
    assert_eq!(sent.outcome, SharedContent { content: cid("song"), group: g, reliability: 0 });
    assert_eq!(streams(&sent.decision), vec![("device-pd1".to_string(), pd.version(), 1)]);
    assert_eq!(w.commit(sent), vec![GroupEvent::ContentShared { device: did("pd1"), content: cid("song"), group: gid("01234-00001"), reliability: 0 }]);
}

#[test]
fn syncing_a_device_in_no_group_or_never_provisioned_is_an_error_and_a_member_gets_its_group_reliability() {
    let mut w = World::default();
    w.pd("pd-lonely");
    assert_eq!(sync_reputation(&w.device("pd-lonely"), &w.distribution()), Err(reputation::SyncError::NotInGroup { device: did("pd-lonely") }));
    assert_eq!(sync_reputation(&w.device("ghost"), &w.distribution()), Err(reputation::SyncError::UnknownDevice { reliability: 0 }));
    let alice = favorite_at_server(&mut w);
    buy(&mut w, "p1", &alice);
    let pd = w.device("pd-a");
    let synced = sync_reputation(&pd, &w.distribution()).unwrap();
    assert_eq!(streams(&synced.decision), vec![("device-pd-a".to_string(), pd.version(), 1)]);
    assert_eq!(w.commit(synced), vec![GroupEvent::ReliabilityUpdated { device: did("pd-a"), reliability: 1 }]);
    let again = sync_reputation(&w.device("pd-a"), &w.distribution()).unwrap();
    assert!(again.decision.is_empty(), "nothing new, nothing written");
}
