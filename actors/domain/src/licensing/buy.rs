//! The whole purchase as the runtime makes it, both halves of the domain in
//! one decision (002 claims 1-5, 7; 003 [0138]-[0139], [0380], [0438]-[0440]).
//!
//! [`purchase_peers`] says which groups states a purchase reads besides the
//! account, the catalogue entry, the card and the station; [`buy`] decides on
//! all of them:
//! * an account linked to no group buys at list price: the distribution
//!   server is not read and nothing is written on the groups side;
//! * a member (an account linked to a group) gets the group's reward off the
//!   list price (`discount_bp`); if it bought through a favorite,
//!   `ReliabilityBumped` (and charisma changes) go to `distribution`;
//! * a member buying at a player (its PC or PD) gets the content into that
//!   device's library (`ContentAcquired`, source id: the buyer's group id).
//!
//! Only a purchase that is bought bumps reliability or fills a library. The
//! decision spans both halves, so its events are [`Event`]s, every stream
//! with the version its state was read at.

use crate::aggregate::{Decided, StreamEvents};
use crate::event::Event;
use crate::groups::reputation::DistributionError;
use crate::groups::{purchase_into_library, purchase_reputation, Device, Distribution, PurchaseReputation};
use crate::ids::{ContentId, DeviceId, GroupId};
use crate::time::Timestamp;

use super::account::Account;
use super::device::{player_buy, PlayerError};
use super::events::{Station, StationKind};
use super::kiosk::{kiosk_buy, KioskError};
use super::purchase::{PurchaseDecision, PurchaseKeys, PurchaseOutcome, PurchaseRequest, PurchaseState};

/// The groups states a purchase reads, besides its own four.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PurchasePeers {
    /// The distribution server (`distribution`): read for a member only.
    pub distribution: bool,
    /// The device whose library a member's purchase at a player goes into.
    pub device: Option<DeviceId>,
}

/// Which peers a purchase on `account` (the card's account) reads.
pub fn purchase_peers(account: &Account, request: &PurchaseRequest) -> PurchasePeers {
    let member = account.group.is_some();
    let device = match request.station.kind {
        StationKind::Player if member => Some(request.station.device.clone()),
        _ => None,
    };
    PurchasePeers { distribution: member, device }
}

/// The peer states gathered as [`purchase_peers`] asked (`None` where it asked for none).
#[derive(Debug, Clone, Copy, Default)]
pub struct PeerStates<'a> {
    pub distribution: Option<&'a Distribution>,
    pub device: Option<&'a Device>,
}

/// What a purchase came to, with the buyer's reward applied (if any).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PurchaseResult {
    pub outcome: PurchaseOutcome,
    /// The discount applied to the list price, in basis points.
    pub discount_bp: Option<u32>,
}

/// The result and the events of both halves, appended atomically.
pub type BuyDecision = Decided<PurchaseResult, Event>;

/// A peer state [`purchase_peers`] asks for was not given, or is another's.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PeerStateError {
    #[error("the buyer is a member of group {group}, but no distribution server state was given")]
    NoDistributionState { group: GroupId },
    #[error("a member's purchase at {station} reads that device's state, but none was given")]
    NoDeviceState { station: Station },
    #[error("the device state given is device {state}'s, not the one of {station}")]
    WrongDeviceState { station: Station, state: DeviceId },
}

#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum BuyError {
    #[error(transparent)]
    Kiosk(#[from] KioskError),
    #[error(transparent)]
    Player(#[from] PlayerError),
    #[error(transparent)]
    Distribution(#[from] DistributionError),
    #[error(transparent)]
    Peers(#[from] PeerStateError),
}

/// Decides a purchase at a kiosk or a player, with its groups side. See the module docs.
pub fn buy(
    state: PurchaseState<'_>,
    peers: PeerStates<'_>,
    keys: PurchaseKeys<'_>,
    request: &PurchaseRequest,
    now: Timestamp,
) -> Result<BuyDecision, BuyError> {
    let member = member_side(state.account, peers, request)?;
    let discount_bp = member.as_ref().and_then(|m| m.reputation.discount_bp);
    let catalogue = state.catalogue.discounted(discount_bp);
    let decided = station_buy(PurchaseState { catalogue: &catalogue, ..state }, keys, request, now)?;
    let bought = matches!(decided.outcome, PurchaseOutcome::Bought { .. });
    let mut decision = decided.decision.widen::<Event>();
    if let Some(member) = member {
        decision.appends.extend(member.appends(bought, &request.content));
    }
    Ok(BuyDecision { outcome: PurchaseResult { outcome: decided.outcome, discount_bp }, decision })
}

fn station_buy(state: PurchaseState<'_>, keys: PurchaseKeys<'_>, request: &PurchaseRequest, now: Timestamp) -> Result<PurchaseDecision, BuyError> {
    Ok(match request.station.kind {
        StationKind::Kiosk => kiosk_buy(state, keys, request, now)?,
        StationKind::Player => player_buy(state, keys, request, now)?,
    })
}

/// The groups side of a member's purchase, decided before the charge is known.
struct Member<'a> {
    group: &'a GroupId,
    reputation: PurchaseReputation,
    distribution_version: u64,
    device: Option<&'a Device>,
}

impl Member<'_> {
    /// What goes with the purchase if it was bought: the favorite's bump, the device's library.
    fn appends(&self, bought: bool, content: &ContentId) -> Vec<StreamEvents<Event>> {
        let bump = self.reputation.append(bought, self.distribution_version);
        let library = self.device.filter(|_| bought).and_then(|device| purchase_into_library(device, content, self.group));
        bump.into_iter().chain(library).map(StreamEvents::widen).collect()
    }
}

fn member_side<'a>(account: &'a Account, peers: PeerStates<'a>, request: &PurchaseRequest) -> Result<Option<Member<'a>>, BuyError> {
    let Some(group) = account.group.as_ref() else { return Ok(None) };
    let server = peers.distribution.ok_or_else(|| PeerStateError::NoDistributionState { group: group.clone() })?;
    let reputation = purchase_reputation(server, group, &request.content, &request.purchase).map_err(DistributionError::from)?;
    let device = purchase_peers(account, request).device.map(|_| library_device(peers.device, &request.station)).transpose()?;
    Ok(Some(Member { group, reputation, distribution_version: server.version(), device }))
}

/// The player's device state; a never provisioned one (a plain player) has no library and gets nothing.
fn library_device<'a>(device: Option<&'a Device>, station: &Station) -> Result<&'a Device, PeerStateError> {
    let device = device.ok_or_else(|| PeerStateError::NoDeviceState { station: station.clone() })?;
    match device.id() {
        Some(id) if *id != station.device => Err(PeerStateError::WrongDeviceState { station: station.clone(), state: id.clone() }),
        _ => Ok(device),
    }
}
