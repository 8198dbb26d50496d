//! The player (content reproduction device, 002 claims 1-2, 5, 10; 000
//! claims 7-14): buys through the license server with the card's accounting
//! id, records wanted content ids on the card, and plays (see `play.rs`).
//! Thin wrappers that fix the station kind and verify the card first.

use crate::aggregate::Decided;
use crate::ids::{CardId, ContentId};
use crate::time::Timestamp;

use super::card::{Card, CardCheck, CardCheckError};
use super::crypto::{CardProof, IssuerSecret};
use super::events::{CardRejection, LicensingEvent, Station, StationKind};
use super::kiosk::StationLog;
use super::purchase::{decide_purchase, PurchaseDecision, PurchaseError, PurchaseKeys, PurchaseRequest, PurchaseState};
use super::streams::{card_stream, station_stream};

#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PlayerError {
    #[error("{station} is not a player")]
    NotAPlayer { station: Station },
    #[error("the station log given is not the one of {station}")]
    WrongStationState { station: Station },
    #[error(transparent)]
    Card(#[from] CardCheckError),
    #[error(transparent)]
    Purchase(#[from] PurchaseError),
}

/// What recording a content id came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordOutcome {
    Recorded,
    /// Already on the card (as a license or a request): nothing written.
    AlreadyThere,
    CardRejected(CardRejection),
}

fn check_player(log: &StationLog, station: &Station) -> Result<(), PlayerError> {
    if station.kind != StationKind::Player {
        return Err(PlayerError::NotAPlayer { station: station.clone() });
    }
    if !log.is_for(station) {
        return Err(PlayerError::WrongStationState { station: station.clone() });
    }
    Ok(())
}

/// 002 claims 1-2, 10: the player buys a content for the card's accounting id;
/// the license is written onto the card in the same atomic decision.
pub fn player_buy(state: PurchaseState<'_>, keys: PurchaseKeys<'_>, request: &PurchaseRequest, now: Timestamp) -> Result<PurchaseDecision, PlayerError> {
    check_player(state.station, &request.station)?;
    Ok(decide_purchase(state, keys, request, now)?)
}

/// 002 claim 5: a user asks for a content that is not on the card; the player
/// records its id on the (verified) card so a kiosk buys it later.
#[allow(clippy::too_many_arguments)]
pub fn record_wanted_content(
    log: &StationLog,
    card: &Card,
    issuer: &IssuerSecret,
    station: &Station,
    presented: &CardId,
    proof: &CardProof,
    content: &ContentId,
    now: Timestamp,
) -> Result<Decided<RecordOutcome, LicensingEvent>, PlayerError> {
    check_player(log, station)?;
    match card.check_presented(presented, issuer, proof, station, now)? {
        CardCheck::Rejected(rejected) => {
            let outcome = RecordOutcome::CardRejected(rejected.reason);
            Ok(Decided::single(station_stream(station), log.version(), vec![rejected.into()], outcome))
        }
        CardCheck::Genuine(_) => {
            let events = card.record_content_id(content, station, now);
            if events.is_empty() {
                return Ok(Decided::nothing(RecordOutcome::AlreadyThere));
            }
            Ok(Decided::single(card_stream(presented), card.version(), events, RecordOutcome::Recorded))
        }
    }
}
