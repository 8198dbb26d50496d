//! Stations and the kiosk session (002 claims 3-5, 11; 000 claims 1, 5).
//!
//! [`StationLog`] is the state of a station's stream (`kiosk-{id}` or
//! `player-{id}`): the card in the slot and the cards it refused. A kiosk
//! session is: insert a card (verified, else `CardRejected`), see which
//! content ids the card asks for ([`pending_purchases`]), buy them
//! ([`kiosk_buy`], the all-or-nothing purchase), eject the card.

use std::collections::BTreeSet;

use crate::aggregate::Decided;
use crate::ids::{CardId, ContentId};
use crate::time::Timestamp;

use super::card::{Card, CardCheck, CardCheckError};
use super::crypto::{CardProof, IssuerSecret};
use super::events::{CardEjected, CardInserted, CardRejection, LicensingEvent, Station, StationKind};
use super::purchase::{decide_purchase, PurchaseDecision, PurchaseError, PurchaseKeys, PurchaseRequest, PurchaseState};
use super::streams::station_stream;

/// A station's stream state.
#[derive(Debug, Clone, Default, PartialEq, Eq, minicbor::Encode, minicbor::Decode)]
pub struct StationLog {
    #[n(0)]
    version: u64,
    /// Known once the stream has an event.
    #[n(1)]
    pub station: Option<Station>,
    /// The verified card in the kiosk's slot.
    #[n(2)]
    pub inserted: Option<CardId>,
    #[n(3)]
    pub rejected: u64,
}

impl StationLog {
    /// Events applied so far: the expected version of the station's stream.
    pub fn version(&self) -> u64 {
        self.version
    }

    /// Whether this state can be the stream of `station` (a fresh stream can be anyone's).
    pub fn is_for(&self, station: &Station) -> bool {
        self.station.as_ref().is_none_or(|s| s == station)
    }

    /// Folds an event of this station's stream.
    pub fn apply(&mut self, event: &LicensingEvent) {
        self.version += 1;
        match event {
            LicensingEvent::CardInserted(e) => {
                self.station = Some(e.station.clone());
                self.inserted = Some(e.card.clone());
            }
            LicensingEvent::CardEjected(e) => {
                self.station = Some(e.station.clone());
                self.inserted = None;
            }
            LicensingEvent::CardRejected(e) => {
                self.station = Some(e.station.clone());
                self.rejected += 1;
            }
            _ => {}
        }
    }

    pub fn replay<'a>(events: impl IntoIterator<Item = &'a LicensingEvent>) -> Self {
        let mut log = StationLog::default();
        for event in events {
            log.apply(event);
        }
        log
    }
}

#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum KioskError {
    #[error("{station} is not a kiosk")]
    NotAKiosk { station: Station },
    #[error("the station log given is not the one of {station}")]
    WrongStationState { station: Station },
    #[error("{station} already holds card {card}")]
    SlotBusy { station: Station, card: CardId },
    #[error("{station} holds no card")]
    NoCardInserted { station: Station },
    #[error("{station} holds card {inserted}, not card {requested}")]
    OtherCardInserted { station: Station, inserted: CardId, requested: CardId },
    #[error(transparent)]
    Card(#[from] CardCheckError),
    #[error(transparent)]
    Purchase(#[from] PurchaseError),
}

/// What inserting a card came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InsertOutcome {
    Accepted,
    Rejected(CardRejection),
}

fn kiosk_log_for<'a>(log: &'a StationLog, station: &Station) -> Result<&'a StationLog, KioskError> {
    if station.kind != StationKind::Kiosk {
        return Err(KioskError::NotAKiosk { station: station.clone() });
    }
    if !log.is_for(station) {
        return Err(KioskError::WrongStationState { station: station.clone() });
    }
    Ok(log)
}

/// A card is put in the kiosk: it is verified first (000 rule 1).
pub fn insert_card(
    log: &StationLog,
    card: &Card,
    issuer: &IssuerSecret,
    station: &Station,
    presented: &CardId,
    proof: &CardProof,
    now: Timestamp,
) -> Result<Decided<InsertOutcome, LicensingEvent>, KioskError> {
    let log = kiosk_log_for(log, station)?;
    if let Some(inserted) = &log.inserted {
        return Err(KioskError::SlotBusy { station: station.clone(), card: inserted.clone() });
    }
    let (outcome, event) = match card.check_presented(presented, issuer, proof, station, now)? {
        CardCheck::Rejected(rejected) => (InsertOutcome::Rejected(rejected.reason), rejected.into()),
        CardCheck::Genuine(_) => {
            // Genuine implies issued.
            let account = card
                .info()
                .map(|c| c.account.clone())
                .ok_or_else(|| CardCheckError::WrongCardState { presented: presented.clone(), state: presented.clone() })?;
            let inserted = CardInserted { station: station.clone(), card: presented.clone(), account, at: now };
            (InsertOutcome::Accepted, inserted.into())
        }
    };
    Ok(Decided::single(station_stream(station), log.version(), vec![event], outcome))
}

/// Claims 3, 5, 11: the content ids recorded on the card that have no live license yet.
pub fn pending_purchases(card: &Card, now: Timestamp) -> BTreeSet<ContentId> {
    card.requested.iter().filter(|content| !card.has_live_license(content, now)).cloned().collect()
}

/// Buys a content onto the card in the kiosk's slot (the all-or-nothing purchase).
pub fn kiosk_buy(state: PurchaseState<'_>, keys: PurchaseKeys<'_>, request: &PurchaseRequest, now: Timestamp) -> Result<PurchaseDecision, KioskError> {
    let log = kiosk_log_for(state.station, &request.station)?;
    match &log.inserted {
        None => Err(KioskError::NoCardInserted { station: request.station.clone() }),
        Some(inserted) if *inserted != request.card => {
            Err(KioskError::OtherCardInserted { station: request.station.clone(), inserted: inserted.clone(), requested: request.card.clone() })
        }
        Some(_) => Ok(decide_purchase(state, keys, request, now)?),
    }
}

/// Why a card could not be ejected.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum EjectError {
    #[error("{station} holds no card")]
    NoCardInserted { station: Station },
    #[error(transparent)]
    Kiosk(#[from] KioskError),
}

/// The kiosk gives the card back; the outcome is the card ejected. An empty
/// slot is an error and writes nothing.
pub fn eject_card(log: &StationLog, station: &Station, now: Timestamp) -> Result<Decided<CardId, LicensingEvent>, EjectError> {
    let log = kiosk_log_for(log, station)?;
    let card = log.inserted.clone().ok_or_else(|| EjectError::NoCardInserted { station: station.clone() })?;
    let ejected = CardEjected { station: station.clone(), card: card.clone(), at: now };
    Ok(Decided::single(station_stream(station), log.version(), vec![ejected.into()], card))
}
