//! Charisma rankings: per group id, reliability points and rank; the charisma
//! list by threshold, by top N, and by the policy the distribution server was
//! configured with (DOMAIN.md sharing rule 6; 003 [0411]-[0422]).
//!
//! Ranking and lists are computed with the domain's own [`ranking`] and
//! [`charisma_for`], so the projection and the distribution server agree. The
//! list the server actually granted (`CharismaGranted` / `CharismaRevoked`) is
//! kept too, so an audit can compare the two.

use std::collections::{BTreeMap, BTreeSet};

use encore_domain::groups::reputation::charisma_for;
use encore_domain::groups::{ranking, CharismaPolicy, DistributionConfig, GroupEvent};
use encore_domain::ids::GroupId;
use encore_domain::Event;
use minicbor::{Decode, Encode};

use crate::error::StateDecodeError;
use crate::projection::{decode_state, encode_state, encodes_to, EventContext, Projection};

/// One group id's place in the ranking (rank 1 = highest reliability).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Standing {
    pub group: GroupId,
    pub reliability: u64,
    pub rank: u32,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Encode, Decode)]
pub struct CharismaRankings {
    /// `None` until `DistributionConfigured` (the defaults then apply).
    #[n(0)]
    config: Option<DistributionConfig>,
    #[n(1)]
    reliability: BTreeMap<GroupId, u64>,
    /// The list as the distribution server granted it.
    #[n(2)]
    granted: BTreeSet<GroupId>,
    #[n(3)]
    rewards: BTreeMap<GroupId, u32>,
    #[n(4)]
    bumps: u64,
}

impl CharismaRankings {
    pub fn config(&self) -> DistributionConfig {
        self.config.unwrap_or_default()
    }

    pub fn reliability_of(&self, group: &GroupId) -> u64 {
        self.reliability.get(group).copied().unwrap_or(0)
    }

    pub fn reliabilities(&self) -> &BTreeMap<GroupId, u64> {
        &self.reliability
    }

    /// Purchases through favorites seen.
    pub fn bumps(&self) -> u64 {
        self.bumps
    }

    /// Every group id with reliability, best first (ties by group id).
    pub fn standings(&self) -> Vec<Standing> {
        ranking(&self.reliability).into_iter().zip(1u32..).map(|((group, reliability), rank)| Standing { group, reliability, rank }).collect()
    }

    /// The rank of `group` (1 = best), if it has any reliability recorded.
    pub fn rank_of(&self, group: &GroupId) -> Option<u32> {
        self.standings().into_iter().find(|s| &s.group == group).map(|s| s.rank)
    }

    /// Group ids whose reliability is strictly above `threshold`.
    pub fn by_threshold(&self, threshold: u64) -> BTreeSet<GroupId> {
        charisma_for(CharismaPolicy::Threshold { threshold }, &self.reliability)
    }

    /// The `n` best group ids with reliability above zero.
    pub fn top_n(&self, n: u32) -> BTreeSet<GroupId> {
        charisma_for(CharismaPolicy::TopN { n }, &self.reliability)
    }

    /// The charisma list under the configured policy, computed from reliability.
    pub fn charisma_list(&self) -> BTreeSet<GroupId> {
        charisma_for(self.config().policy, &self.reliability)
    }

    /// The charisma list as the server granted it (from its events).
    pub fn granted(&self) -> &BTreeSet<GroupId> {
        &self.granted
    }

    /// The discount for a group id, only while it is on the granted list.
    pub fn reward_for(&self, group: &GroupId) -> Option<u32> {
        self.rewards.get(group).copied().filter(|_| self.granted.contains(group))
    }
}

impl Projection for CharismaRankings {
    const NAME: &'static str = "charisma";

    fn folds(event_type: &str) -> bool {
        matches!(event_type, "DistributionConfigured" | "ReliabilityBumped" | "CharismaGranted" | "CharismaRevoked" | "RewardGranted")
    }

    fn apply(&mut self, _at: &EventContext<'_>, event: &Event) {
        let Event::Groups(event) = event else { return };
        match event {
            GroupEvent::DistributionConfigured { config } => self.config = Some(*config),
            GroupEvent::ReliabilityBumped { group, reliability, .. } => {
                self.reliability.insert(group.clone(), *reliability);
                self.bumps += 1;
            }
            GroupEvent::CharismaGranted { group, .. } => {
                self.granted.insert(group.clone());
            }
            GroupEvent::CharismaRevoked { group, .. } => {
                self.granted.remove(group);
            }
            GroupEvent::RewardGranted { group, discount_bp } => {
                self.rewards.insert(group.clone(), *discount_bp);
            }
            _ => {}
        }
    }

    fn encode(&self) -> Vec<u8> {
        encode_state(self)
    }

    fn encodes_to(&self, bytes: &[u8]) -> bool {
        encodes_to(self, bytes)
    }

    fn decode(bytes: &[u8]) -> Result<Self, StateDecodeError> {
        decode_state(Self::NAME, bytes)
    }
}
