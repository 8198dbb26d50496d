//! Property tests: invariants that must hold for any sequence of commands.

use std::collections::{BTreeMap, BTreeSet};

use proptest::prelude::*;

use super::test_support::*;
use super::*;
use crate::aggregate::Aggregate;
use crate::ids::GroupId;

#[derive(Debug, Clone)]
enum Op {
    Join { group: usize, device: usize, via: usize },
    Leave { group: usize, device: usize },
}

fn op(groups: usize, devices: usize) -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (0..groups, 0..devices, 0..devices).prop_map(|(group, device, via)| Op::Join { group, device, via }),
        1 => (0..groups, 0..devices).prop_map(|(group, device)| Op::Leave { group, device }),
    ]
}

/// Runs one op; commands the model calls malformed are skipped, as the runtime would.
fn run(w: &mut World, groups: &[GroupId], names: &[String], op: &Op) {
    match *op {
        Op::Join { group, device, via } => {
            let g = &groups[group];
            let decision = register_device(&w.group(g), &w.device(&names[device]), &did(&names[device]), Some(&did(&names[via])), &secret(&names[device]));
            if let Ok(decision) = decision {
                w.commit(decision);
            }
        }
        Op::Leave { group, device } => {
            let g = &groups[group];
            if let Ok(decision) = deregister_device(&w.group(g), &w.device(&names[device]), &did(&names[device]), &secret(&names[device])) {
                w.commit(decision);
            }
        }
    }
}

proptest! {
    #[test]
    fn a_device_is_never_in_two_groups(ops in proptest::collection::vec(op(3, 8), 1..60)) {
        let mut w = World::default();
        let groups: Vec<GroupId> = ["a", "b", "c"].iter().map(|u| w.user(u, "01234")).collect();
        let mut names = Vec::new();
        for i in 0..4 {
            let name = format!("pc{i}");
            w.pc(&name, Some(&format!("r{i}")));
            names.push(name);
        }
        for i in 0..4 {
            let name = format!("pd{i}");
            w.pd(&name);
            names.push(name);
        }
        for op in &ops {
            run(&mut w, &groups, &names, op);
            for name in &names {
                let holders: Vec<&GroupId> = groups.iter().filter(|g| w.group(g).contains(&did(name))).collect();
                prop_assert!(holders.len() <= 1, "{name} is in {holders:?}");
                let device = w.device(name);
                prop_assert_eq!(device.group(), holders.first().copied());
            }
        }
    }

    #[test]
    fn a_group_never_has_more_than_3_pcs_or_10_recorder_ids_ever(ops in proptest::collection::vec(op(1, 16), 1..120)) {
        let mut w = World::default();
        let groups = vec![w.user("a", "01234")];
        let names: Vec<String> = (0..16).map(|i| format!("pc{i}")).collect();
        for (i, name) in names.iter().enumerate() {
            w.pc(name, Some(&format!("r{i}")));
        }
        let mut counted = BTreeSet::new();
        for op in &ops {
            run(&mut w, &groups, &names, op);
            let group = w.group(&groups[0]);
            prop_assert!(group.pcs().len() <= 3);
            prop_assert!(group.recorders_ever().len() <= 10);
            counted.extend(group.pcs().values().filter_map(|pc| pc.recorder.clone()));
            prop_assert!(counted.is_subset(group.recorders_ever()), "a recorder id is never forgotten");
        }
    }

    #[test]
    fn reliability_equals_the_purchases_through_that_group_ids_favorites(
        purchases in proptest::collection::vec((0usize..5, 0u32..40), 1..150),
        top_n in proptest::option::of(1u32..4),
    ) {
        let groups: Vec<GroupId> = (1..=5).map(|i| gid(&format!("01234-0000{i}"))).collect();
        let mut server = Distribution::default();
        let policy = match top_n {
            Some(n) => CharismaPolicy::TopN { n },
            None => CharismaPolicy::Threshold { threshold: 5 },
        };
        let config = DistributionConfig { points_per_purchase: 1, policy, points_per_further_purchase: None };
        for e in server.decide(&DistributionCommand::Configure { config }, T0).unwrap() {
            server.apply(&e);
        }
        // Favorites from the first four groups reached the server; the fifth has none.
        let favorites = groups[..4].iter().map(|g| Favorite { content: cid("song"), group: g.clone() }).collect();
        server.apply(&GroupEvent::FavoritesForwarded { device: did("pc"), group: groups[0].clone(), favorites });
        let mut seen = BTreeSet::new();
        let mut expected: BTreeMap<GroupId, u64> = BTreeMap::new();
        for (g, p) in purchases {
            let command = DistributionCommand::RecordPurchase { purchase: pid(&format!("p{p}")), content: cid("song"), favorite_group: groups[g].clone() };
            match server.decide(&command, T0) {
                Ok(events) => {
                    if g < 4 && seen.insert(p) {
                        *expected.entry(groups[g].clone()).or_default() += 1;
                    }
                    events.iter().for_each(|e| server.apply(e));
                }
                Err(_) => prop_assert_eq!(g, 4, "only the group without favorites is refused"),
            }
            for group in &groups {
                prop_assert_eq!(server.reliability_of(group), expected.get(group).copied().unwrap_or(0));
            }
            prop_assert_eq!(server.charisma_list(), &reputation::charisma_for(policy, server.reliabilities()));
        }
    }
}
