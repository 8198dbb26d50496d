//! Favorites, reliability, charisma and rewards (003 [0395]-[0396], [0403]-[0442]).
//!
//! The favorite button records content id + group id in the PD's favorites
//! (`FavoriteRecorded`). Favorites travel PD -> PC of the same group
//! (`FavoritesUploaded`) -> distribution server (`FavoritesForwarded`, stream
//! `distribution`, one writer). A purchase made through a favorite adds
//! reliability points to the group id the favorite came from
//! (`ReliabilityBumped`). The charisma list holds every group id whose
//! reliability is strictly above a threshold (default 100, "higher than 100",
//! [0421]), or instead the top N (default 10, [0422]); joining and leaving are
//! `CharismaGranted` / `CharismaRevoked`. Charisma group ids may get a reward,
//! a discount in basis points (`RewardGranted`); [`discounted_price`] applies it.
//! Reliability and the charisma list flow back to devices as
//! `ReliabilityUpdated` / `CharismaListSynced` on their streams.

use std::collections::{BTreeMap, BTreeSet};

use super::device::{pair, Device};
use super::events::GroupEvent;
use super::streams::{device_stream, DISTRIBUTION_STREAM};
use super::types::{CharismaPolicy, DistributionConfig, Favorite};
use crate::aggregate::{Aggregate, Decided, Decision, StreamEvents};
use crate::ids::{ContentId, DeviceId, GroupId, PurchaseId};
use crate::money::Money;
use crate::time::Timestamp;

/// Basis points in 100 %.
pub const FULL_DISCOUNT_BP: u32 = 10_000;

/// Why the favorite button did nothing.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum FavoriteError {
    #[error("no such device: the favorite button of an unprovisioned device does nothing")]
    UnknownDevice,
    #[error("device {device} is not a PD; only PDs have a favorite button")]
    NotAPd { device: DeviceId },
    #[error("device {device} is not playing anything to record as a favorite")]
    NothingPlaying { device: DeviceId },
    #[error("content {content} carries no group id, so it cannot be a favorite")]
    NoGroupId { content: ContentId },
}

/// Why a reputation sync is malformed.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SyncError {
    #[error("no such device: reliability {reliability} cannot be synced to an unprovisioned device")]
    UnknownDevice { reliability: u64 },
    /// [`sync_reputation`] only: the device has no group id whose reputation it could get.
    #[error("device {device} is in no group")]
    NotInGroup { device: DeviceId },
}

pub(super) fn press_favorite(device: &Device) -> Result<Vec<GroupEvent>, FavoriteError> {
    let id = device.require_id().ok_or(FavoriteError::UnknownDevice)?;
    if !device.is_pd() {
        return Err(FavoriteError::NotAPd { device: id.clone() });
    }
    let playing = device.now_playing.as_ref().ok_or_else(|| FavoriteError::NothingPlaying { device: id.clone() })?;
    let own_group = || match device.library.get(&playing.content).and_then(|i| i.source.as_ref()) {
        Some(super::source_list::SourceId::Group(g)) => Some(g.clone()),
        _ => None,
    };
    let group = playing.shared_from.clone().or_else(own_group).ok_or_else(|| FavoriteError::NoGroupId { content: playing.content.clone() })?;
    Ok(vec![GroupEvent::FavoriteRecorded { device: id.clone(), content: playing.content.clone(), group }])
}

pub(super) fn sync(device: &Device, reliability: u64, charisma: &[GroupId]) -> Result<Vec<GroupEvent>, SyncError> {
    let id = device.require_id().ok_or(SyncError::UnknownDevice { reliability })?;
    let mut list: Vec<GroupId> = charisma.to_vec();
    list.sort();
    list.dedup();
    let mut events = Vec::new();
    if reliability != device.reliability {
        events.push(GroupEvent::ReliabilityUpdated { device: id.clone(), reliability });
    }
    if list.iter().ne(device.charisma.iter()) {
        events.push(GroupEvent::CharismaListSynced { device: id.clone(), list });
    }
    Ok(events)
}

/// Brings `device` up to date with the distribution server's reliability of
/// its group and charisma list ([0407]-[0408], [0428]); nothing new writes
/// nothing. A device in no group has nothing to sync: an error.
pub fn sync_reputation(device: &Device, server: &Distribution) -> Result<Decided<(), GroupEvent>, SyncError> {
    let id = device.require_id().ok_or(SyncError::UnknownDevice { reliability: 0 })?;
    let group = device.group().ok_or_else(|| SyncError::NotInGroup { device: id.clone() })?;
    let charisma: Vec<GroupId> = server.charisma.iter().cloned().collect();
    let events = sync(device, server.reliability_of(group), &charisma)?;
    Ok(Decided::single(device_stream(id), device.version(), events, ()))
}

/// Why favorites could not move from a PD to a PC.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum UploadError {
    #[error("no such device: favorites cannot move between unprovisioned devices")]
    UnknownDevice,
    #[error("device {device} is not a PD")]
    NotAPd { device: DeviceId },
    #[error("device {device} is not a PC")]
    NotAPc { device: DeviceId },
    #[error("favorites go only to a PC of the PD's own group: PD in {pd:?}, PC in {pc:?}")]
    GroupMismatch { pd: Option<GroupId>, pc: Option<GroupId> },
    #[error("device {device} has no favorites to upload")]
    NoFavorites { device: DeviceId },
}

/// Moves a PD's favorites to a connected PC of its own group (003 [0404]-[0405]).
pub fn upload_favorites(pd: &Device, pc: &Device) -> Result<Decided<(), GroupEvent>, UploadError> {
    let (Some(pd_id), Some(pc_id)) = (pd.id(), pc.id()) else { return Err(UploadError::UnknownDevice) };
    if !pd.is_pd() {
        return Err(UploadError::NotAPd { device: pd_id.clone() });
    }
    if !pc.is_pc() {
        return Err(UploadError::NotAPc { device: pc_id.clone() });
    }
    if pd.group.is_none() || pd.group != pc.group {
        return Err(UploadError::GroupMismatch { pd: pd.group.clone(), pc: pc.group.clone() });
    }
    if pd.favorites.is_empty() {
        return Err(UploadError::NoFavorites { device: pd_id.clone() });
    }
    let event = GroupEvent::FavoritesUploaded { from: pd_id.clone(), to: pc_id.clone(), favorites: pd.favorites.clone() };
    Ok(pair((pd_id, pd.version(), vec![event.clone()]), (pc_id, pc.version(), vec![event])))
}

/// Why favorites could not move from a PC to the distribution server.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ForwardError {
    #[error("no such device: an unprovisioned device has no favorites to forward")]
    UnknownDevice,
    #[error("device {device} is not a PC")]
    NotAPc { device: DeviceId },
    #[error("device {device} is in no group")]
    NotInGroup { device: DeviceId },
    #[error("device {device} has no favorites to forward")]
    NoFavorites { device: DeviceId },
}

/// Moves a PC's favorites to the distribution server (003 [0406], [0437]).
pub fn forward_favorites(pc: &Device, server: &Distribution) -> Result<Decided<(), GroupEvent>, ForwardError> {
    let pc_id = pc.id().ok_or(ForwardError::UnknownDevice)?;
    if !pc.is_pc() {
        return Err(ForwardError::NotAPc { device: pc_id.clone() });
    }
    let group = pc.group.clone().ok_or_else(|| ForwardError::NotInGroup { device: pc_id.clone() })?;
    if pc.favorites.is_empty() {
        return Err(ForwardError::NoFavorites { device: pc_id.clone() });
    }
    let event = GroupEvent::FavoritesForwarded { device: pc_id.clone(), group, favorites: pc.favorites.clone() };
    let decision = Decision {
        appends: vec![
            StreamEvents { stream: device_stream(pc_id), expected_version: pc.version(), events: vec![event.clone()] },
            StreamEvents { stream: DISTRIBUTION_STREAM.to_string(), expected_version: server.version(), events: vec![event] },
        ],
    };
    Ok(Decided { outcome: (), decision })
}

/// Group ids ranked by reliability, highest first; ties by group id ascending.
/// Rank 1 is the first element. Projections use the same order.
pub fn ranking(reliability: &BTreeMap<GroupId, u64>) -> Vec<(GroupId, u64)> {
    let mut ranked: Vec<(GroupId, u64)> = reliability.iter().map(|(g, r)| (g.clone(), *r)).collect();
    ranked.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    ranked
}

/// The charisma list a policy gives for these reliabilities.
pub fn charisma_for(policy: CharismaPolicy, reliability: &BTreeMap<GroupId, u64>) -> BTreeSet<GroupId> {
    match policy {
        CharismaPolicy::Threshold { threshold } => reliability.iter().filter(|(_, r)| **r > threshold).map(|(g, _)| g.clone()).collect(),
        CharismaPolicy::TopN { n } => ranking(reliability).into_iter().filter(|(_, r)| *r > 0).take(n as usize).map(|(g, _)| g).collect(),
    }
}

/// The price after a discount of `discount_bp` basis points (clamped to 100 %).
///
/// The discount is rounded down to a whole minor unit, so the buyer pays the
/// price rounded up: `price - floor(price * bp / 10000)`. Integer math only.
pub fn discounted_price(price: Money, discount_bp: u32) -> Money {
    let bp = u128::from(discount_bp.min(FULL_DISCOUNT_BP));
    let discount = u128::from(price.units()) * bp / u128::from(FULL_DISCOUNT_BP);
    // discount <= price, which fits in u64.
    Money(price.units() - u64::try_from(discount).unwrap_or(price.units()))
}

/// The distribution server: stream `distribution`, one writer.
#[derive(Debug, Clone, Default, PartialEq, Eq, minicbor::Encode, minicbor::Decode)]
pub struct Distribution {
    #[n(0)]
    version: u64,
    #[n(1)]
    config: Option<DistributionConfig>,
    #[n(2)]
    favorites: BTreeSet<Favorite>,
    #[n(3)]
    reliability: BTreeMap<GroupId, u64>,
    #[n(4)]
    charisma: BTreeSet<GroupId>,
    #[n(5)]
    rewards: BTreeMap<GroupId, u32>,
    #[n(6)]
    purchases: BTreeSet<PurchaseId>,
    /// Favorites by the group whose PC forwarded them, until a purchase spends one.
    #[n(7)]
    uploaded: BTreeMap<GroupId, BTreeSet<Favorite>>,
    /// Favorites some purchase was already made through (the next is a further user's).
    #[n(8)]
    bought_through: BTreeSet<Favorite>,
}

/// What the groups side makes of a purchase, decided before it is known
/// whether the charge goes through: the buyer's member reward, and the
/// events that go with the purchase if it is bought (the favorite it was made
/// through bumped and spent, charisma granted or revoked).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PurchaseReputation {
    pub discount_bp: Option<u32>,
    pub events_if_bought: Vec<GroupEvent>,
}

impl PurchaseReputation {
    /// The distribution stream's part of a purchase's decision, if it has one.
    pub fn append(&self, bought: bool, distribution_version: u64) -> Option<StreamEvents<GroupEvent>> {
        (bought && !self.events_if_bought.is_empty()).then(|| StreamEvents {
            stream: DISTRIBUTION_STREAM.to_string(),
            expected_version: distribution_version,
            events: self.events_if_bought.clone(),
        })
    }
}

/// 003 [0380], [0413]-[0420], [0438]-[0440]: a purchase by a member of
/// `buyer` (the group its account is linked to). Its reward applies if
/// `buyer` is on the charisma list. If `buyer`'s devices uploaded a favorite
/// of `content` that came from another group, the purchase was made through
/// it: that group gains `points_per_purchase` for the first purchase through
/// such a favorite and `further_points` for each later one, and the favorite
/// is spent. A group's own favorites never raise its own reliability. A
/// purchase already recorded bumps nothing.
pub fn purchase_reputation(server: &Distribution, buyer: &GroupId, content: &ContentId, purchase: &PurchaseId) -> Result<PurchaseReputation, PurchaseError> {
    let discount_bp = server.reward_for(buyer);
    if server.purchases.contains(purchase) {
        return Ok(PurchaseReputation { discount_bp, events_if_bought: Vec::new() });
    }
    let through = server.uploaded.get(buyer).and_then(|favorites| favorites.iter().find(|f| f.content == *content && f.group != *buyer));
    let Some(favorite) = through else { return Ok(PurchaseReputation { discount_bp, events_if_bought: Vec::new() }) };
    let config = server.config();
    let points = if server.bought_through.contains(favorite) { config.further_points() } else { config.points_per_purchase };
    let events = bump(server, purchase, favorite, points, Some(buyer))?;
    Ok(PurchaseReputation { discount_bp, events_if_bought: events })
}

/// `points` to the favorite's group, then charisma granted and revoked to match the policy.
fn bump(server: &Distribution, purchase: &PurchaseId, favorite: &Favorite, points: u64, buyer: Option<&GroupId>) -> Result<Vec<GroupEvent>, PurchaseError> {
    let group = &favorite.group;
    let total = server.reliability_of(group).checked_add(points).ok_or_else(|| PurchaseError::Overflow { group: group.clone() })?;
    let mut events = vec![GroupEvent::ReliabilityBumped {
        group: group.clone(),
        content: favorite.content.clone(),
        purchase: purchase.clone(),
        points,
        reliability: total,
        buyer: buyer.cloned(),
    }];
    let mut reliability = server.reliability.clone();
    reliability.insert(group.clone(), total);
    let after = charisma_for(server.config().policy, &reliability);
    for revoked in server.charisma.difference(&after) {
        events.push(GroupEvent::CharismaRevoked { group: revoked.clone(), reliability: reliability.get(revoked).copied().unwrap_or(0) });
    }
    for granted in after.difference(&server.charisma) {
        events.push(GroupEvent::CharismaGranted { group: granted.clone(), reliability: reliability.get(granted).copied().unwrap_or(0) });
    }
    Ok(events)
}

impl Distribution {
    /// Events applied so far: the expected version of `distribution`.
    pub fn version(&self) -> u64 {
        self.version
    }
    pub fn config(&self) -> DistributionConfig {
        self.config.unwrap_or_default()
    }
    pub fn favorites(&self) -> &BTreeSet<Favorite> {
        &self.favorites
    }
    pub fn reliability_of(&self, group: &GroupId) -> u64 {
        self.reliability.get(group).copied().unwrap_or(0)
    }
    pub fn reliabilities(&self) -> &BTreeMap<GroupId, u64> {
        &self.reliability
    }
    pub fn charisma_list(&self) -> &BTreeSet<GroupId> {
        &self.charisma
    }
    /// The discount for `group`, only while it is on the charisma list.
    pub fn reward_for(&self, group: &GroupId) -> Option<u32> {
        self.rewards.get(group).copied().filter(|_| self.charisma.contains(group))
    }
    /// The device command that brings a device of `group` up to date ([0428]).
    pub fn sync_command(&self, group: &GroupId) -> super::device::DeviceCommand {
        super::device::DeviceCommand::SyncReputation { reliability: self.reliability_of(group), charisma: self.charisma.iter().cloned().collect() }
    }
}

/// A command for the distribution server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DistributionCommand {
    /// Set points per purchase and the charisma policy; only before any purchase.
    Configure { config: DistributionConfig },
    /// A purchase of `content` made through a favorite that came with `favorite_group`.
    /// (The model's primitive, used by its tests: the runtime's purchases go
    /// through [`purchase_reputation`], which finds and spends the favorite.)
    RecordPurchase { purchase: PurchaseId, content: ContentId, favorite_group: GroupId },
    /// A discount for a charisma group id, in basis points.
    SetReward { group: GroupId, discount_bp: u32 },
}

/// Why the distribution configuration was refused.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConfigError {
    #[error("points per purchase must be at least 1, got {points}")]
    ZeroPoints { points: u64 },
    #[error("top-N charisma needs N >= 1, got {n}")]
    ZeroTopN { n: u32 },
    #[error("the configuration cannot change after the first purchase ({purchases} recorded)")]
    AlreadyInUse { purchases: usize },
}

/// Why a purchase through a favorite could not be recorded.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PurchaseError {
    #[error("no favorite for content {content} from group {group} reached the distribution server")]
    UnknownFavorite { content: ContentId, group: GroupId },
    #[error("reliability of group {group} would overflow")]
    Overflow { group: GroupId },
}

/// Why a reward could not be set.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RewardError {
    #[error("group {group} is not on the charisma list")]
    NotCharisma { group: GroupId },
    #[error("a discount of {discount_bp} basis points is more than 100 % (10000)")]
    DiscountTooLarge { discount_bp: u32 },
}

/// Any error of a distribution command.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DistributionError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Purchase(#[from] PurchaseError),
    #[error(transparent)]
    Reward(#[from] RewardError),
}

fn configure(server: &Distribution, config: DistributionConfig) -> Result<Vec<GroupEvent>, ConfigError> {
    if config.points_per_purchase == 0 || config.points_per_further_purchase == Some(0) {
        return Err(ConfigError::ZeroPoints { points: 0 });
    }
    if let CharismaPolicy::TopN { n: 0 } = config.policy {
        return Err(ConfigError::ZeroTopN { n: 0 });
    }
    if !server.purchases.is_empty() {
        return Err(ConfigError::AlreadyInUse { purchases: server.purchases.len() });
    }
    Ok(vec![GroupEvent::DistributionConfigured { config }])
}

/// Bumps reliability, then grants and revokes charisma to match the policy.
fn record_purchase(server: &Distribution, purchase: &PurchaseId, content: &ContentId, group: &GroupId) -> Result<Vec<GroupEvent>, PurchaseError> {
    if server.purchases.contains(purchase) {
        return Ok(Vec::new()); // a retried purchase never bumps twice
    }
    let favorite = Favorite { content: content.clone(), group: group.clone() };
    if !server.favorites.contains(&favorite) {
        return Err(PurchaseError::UnknownFavorite { content: content.clone(), group: group.clone() });
    }
    bump(server, purchase, &favorite, server.config().points_per_purchase, None)
}

fn set_reward(server: &Distribution, group: &GroupId, discount_bp: u32) -> Result<Vec<GroupEvent>, RewardError> {
    if discount_bp > FULL_DISCOUNT_BP {
        return Err(RewardError::DiscountTooLarge { discount_bp });
    }
    if !server.charisma.contains(group) {
        return Err(RewardError::NotCharisma { group: group.clone() });
    }
    Ok(vec![GroupEvent::RewardGranted { group: group.clone(), discount_bp }])
}

/// Runs one distribution server command ([`Aggregate::decide`]) as a decision on `distribution`.
pub fn distribution_command(server: &Distribution, command: &DistributionCommand, now: Timestamp) -> Result<Decided<(), GroupEvent>, DistributionError> {
    let events = server.decide(command, now)?;
    Ok(Decided::single(DISTRIBUTION_STREAM.to_string(), server.version(), events, ()))
}

impl Aggregate for Distribution {
    type Command = DistributionCommand;
    type Event = GroupEvent;
    type Error = DistributionError;

    fn decide(&self, command: &DistributionCommand, _now: Timestamp) -> Result<Vec<GroupEvent>, DistributionError> {
        Ok(match command {
            DistributionCommand::Configure { config } => configure(self, *config)?,
            DistributionCommand::RecordPurchase { purchase, content, favorite_group } => record_purchase(self, purchase, content, favorite_group)?,
            DistributionCommand::SetReward { group, discount_bp } => set_reward(self, group, *discount_bp)?,
        })
    }

    fn apply(&mut self, event: &GroupEvent) {
        self.version += 1;
        match event {
            GroupEvent::DistributionConfigured { config } => self.config = Some(*config),
            GroupEvent::FavoritesForwarded { favorites, group, .. } => {
                self.favorites.extend(favorites.iter().cloned());
                self.uploaded.entry(group.clone()).or_default().extend(favorites.iter().cloned());
            }
            GroupEvent::ReliabilityBumped { group, content, purchase, reliability, buyer, .. } => {
                self.reliability.insert(group.clone(), *reliability);
                self.purchases.insert(purchase.clone());
                let favorite = Favorite { content: content.clone(), group: group.clone() };
                if let Some(spent) = buyer.as_ref().and_then(|b| self.uploaded.get_mut(b)) {
                    spent.remove(&favorite);
                }
                self.bought_through.insert(favorite);
            }
            GroupEvent::CharismaGranted { group, .. } => {
                self.charisma.insert(group.clone());
            }
            GroupEvent::CharismaRevoked { group, .. } => {
                self.charisma.remove(group);
            }
            GroupEvent::RewardGranted { group, discount_bp } => {
                self.rewards.insert(group.clone(), *discount_bp);
            }
            _ => {}
        }
    }
}
