//! The all-or-nothing purchase (002 claims 1-5, 7; DOMAIN "Buying a license
//! with a prepaid card" rule 7) as one pure function: [`decide_purchase`].
//!
//! It reads the account, the catalogue entry, the card and the station, and
//! returns one [`Decision`] that the runtime appends atomically:
//! * bought: `Charged` on `account-{id}` AND `LicenseIssued` +
//!   `LicenseWrittenToCard` on `card-{id}` (never one without the other);
//! * declined: only `ChargeDeclined` on `account-{id}`;
//! * forged / unknown / expired card: only `CardRejected` on the station stream;
//! * same purchase id again, or a live license already on the card: nothing.
//!
//! Each append carries the version the decision was made on, so a concurrent
//! writer makes the append fail instead of double-spending.
//!
//! [`decide_refund`] is the inverse: `Refunded` on the account and
//! `LicenseRevoked` on the card, in one decision.

use crate::aggregate::{Decided, Decision, StreamEvents};
use crate::ids::{AccountId, CardId, ContentId, PurchaseId};
use crate::money::Money;
use crate::time::Timestamp;

use super::account::{Account, ChargeError, ChargeOutcome, ChargeRequest, RefundError, RefundOutcome};
use super::card::{Card, CardCheck, CardCheckError};
use super::catalogue::CatalogueEntry;
use super::crypto::{CardProof, CryptoError, IssuerSecret, License, LicenseServerKey, LicenseTerms};
use super::events::{CardRejection, DeclineReason, LicenseIssued, LicenseRevoked, LicenseWrittenToCard, LicensingEvent, Station};
use super::kiosk::StationLog;
use super::streams::{account_stream, card_stream, station_stream};

/// The secrets a purchase needs: the card issuer's (to verify the card and
/// derive its card-bound key) and the license server's (to open the content key).
#[derive(Debug, Clone, Copy)]
pub struct PurchaseKeys<'a> {
    pub issuer: &'a IssuerSecret,
    pub license_server: &'a LicenseServerKey,
}

/// The current states the decision is made on (their versions become the expected versions).
#[derive(Debug, Clone, Copy)]
pub struct PurchaseState<'a> {
    pub account: &'a Account,
    pub catalogue: &'a CatalogueEntry,
    pub card: &'a Card,
    pub station: &'a StationLog,
}

/// One purchase: which content, onto which card, where, and the card's proof.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PurchaseRequest {
    /// Chosen by the caller; retrying with the same id never charges twice.
    pub purchase: PurchaseId,
    pub card: CardId,
    pub content: ContentId,
    pub station: Station,
    pub proof: CardProof,
}

/// What the purchase came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PurchaseOutcome {
    Bought {
        price: Money,
        terms: LicenseTerms,
    },
    Declined(DeclineReason),
    CardRejected(CardRejection),
    /// This purchase id was already charged and its license written: nothing new.
    AlreadyDone,
    /// The card already holds a live license for the content: nothing bought (002 claims 3, 11).
    AlreadyOnCard,
}

/// The outcome and the events to append (empty for `AlreadyDone` / `AlreadyOnCard`).
pub type PurchaseDecision = Decided<PurchaseOutcome, LicensingEvent>;

#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PurchaseError {
    #[error(transparent)]
    Card(#[from] CardCheckError),
    #[error("content {content} is not in the catalogue")]
    ContentNotListed { content: ContentId },
    #[error("the catalogue entry given is for content {state}, not the requested {content}")]
    WrongCatalogueEntry { content: ContentId, state: ContentId },
    #[error("card {card} belongs to account {card_account}, but the account state given is {state:?}")]
    WrongAccountState { card: CardId, card_account: AccountId, state: Option<AccountId> },
    #[error("the station log given is not the one of {station}")]
    WrongStationState { station: Station },
    #[error(transparent)]
    Charge(#[from] ChargeError),
    #[error(transparent)]
    Crypto(#[from] CryptoError),
}

#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PurchaseRefundError {
    #[error(transparent)]
    Refund(#[from] RefundError),
    #[error("purchase {purchase} was written to card {expected}, but the card state given is {given:?}")]
    WrongCardState { purchase: PurchaseId, expected: CardId, given: Option<CardId> },
}

/// Events for one stream, appended at the version the decider saw.
pub(crate) fn append(stream: String, expected_version: u64, events: Vec<LicensingEvent>) -> StreamEvents<LicensingEvent> {
    StreamEvents { stream, expected_version, events }
}

/// Decides a purchase. See the module docs for the possible decisions.
pub fn decide_purchase(state: PurchaseState<'_>, keys: PurchaseKeys<'_>, request: &PurchaseRequest, now: Timestamp) -> Result<PurchaseDecision, PurchaseError> {
    if !state.station.is_for(&request.station) {
        return Err(PurchaseError::WrongStationState { station: request.station.clone() });
    }
    let device_key = match state.card.check_presented(&request.card, keys.issuer, &request.proof, &request.station, now)? {
        CardCheck::Genuine(key) => key,
        CardCheck::Rejected(rejected) => {
            let reason = rejected.reason;
            let stream = append(station_stream(&request.station), state.station.version(), vec![rejected.into()]);
            return Ok(PurchaseDecision { outcome: PurchaseOutcome::CardRejected(reason), decision: Decision { appends: vec![stream] } });
        }
    };
    let listing = state.catalogue.listing.as_ref().ok_or_else(|| PurchaseError::ContentNotListed { content: request.content.clone() })?;
    if listing.content != request.content {
        return Err(PurchaseError::WrongCatalogueEntry { content: request.content.clone(), state: listing.content.clone() });
    }
    // check_presented returned Genuine, so the card is issued.
    let Some(card_info) = state.card.info() else {
        return Err(CardCheckError::WrongCardState { presented: request.card.clone(), state: request.card.clone() }.into());
    };
    if state.account.id.as_ref() != Some(&card_info.account) {
        return Err(PurchaseError::WrongAccountState { card: request.card.clone(), card_account: card_info.account.clone(), state: state.account.id.clone() });
    }
    let charge = ChargeRequest {
        account: card_info.account.clone(),
        purchase: request.purchase.clone(),
        content: request.content.clone(),
        card: request.card.clone(),
        station: request.station.clone(),
        amount: listing.price,
    };
    if state.account.charges.contains_key(&request.purchase) {
        // Retry: decide_charge tells a true retry (AlreadyCharged) from a reused id (error).
        state.account.decide_charge(&charge, now)?;
        return Ok(PurchaseDecision::nothing(PurchaseOutcome::AlreadyDone));
    }
    if state.card.has_live_license(&request.content, now) {
        return Ok(PurchaseDecision::nothing(PurchaseOutcome::AlreadyOnCard));
    }
    let charged = match state.account.decide_charge(&charge, now)? {
        ChargeOutcome::Charged(charged) => charged,
        ChargeOutcome::Declined(declined) => {
            let reason = declined.reason;
            let stream = append(account_stream(&charge.account), state.account.version(), vec![declined.into()]);
            return Ok(PurchaseDecision { outcome: PurchaseOutcome::Declined(reason), decision: Decision { appends: vec![stream] } });
        }
        ChargeOutcome::AlreadyCharged => return Ok(PurchaseDecision::nothing(PurchaseOutcome::AlreadyDone)),
    };
    let terms = listing.condition.terms_from(now);
    let license = License { content: request.content.clone(), terms, key: keys.license_server.unseal_content_key(&request.content, &listing.sealed_key)? };
    let sealed = device_key.card_bound_key(&request.card)?.seal(&request.card, &license)?;
    let issued = LicenseIssued {
        purchase: request.purchase.clone(),
        account: charge.account.clone(),
        card: request.card.clone(),
        content: request.content.clone(),
        station: request.station.clone(),
        price: listing.price,
        terms,
        at: now,
    };
    let written = LicenseWrittenToCard {
        card: request.card.clone(),
        content: request.content.clone(),
        purchase: request.purchase.clone(),
        terms,
        sealed,
        station: request.station.clone(),
        at: now,
    };
    let decision = Decision {
        appends: vec![
            append(account_stream(&charge.account), state.account.version(), vec![charged.into()]),
            append(card_stream(&request.card), state.card.version(), vec![issued.into(), written.into()]),
        ],
    };
    Ok(PurchaseDecision { outcome: PurchaseOutcome::Bought { price: listing.price, terms }, decision })
}

/// Refunds a charged purchase and revokes its license if it is still on the
/// card, in one decision. A second refund of the same purchase decides nothing.
pub fn decide_refund(
    account: &Account,
    card: &Card,
    account_id: &AccountId,
    purchase: &PurchaseId,
    now: Timestamp,
) -> Result<Decided<RefundOutcome, LicensingEvent>, PurchaseRefundError> {
    let outcome = account.decide_refund(account_id, purchase, now)?;
    let RefundOutcome::Refunded(refunded) = &outcome else {
        return Ok(Decided::nothing(outcome));
    };
    let mut appends = vec![append(account_stream(account_id), account.version(), vec![refunded.clone().into()])];
    if let Some(record) = account.charges.get(purchase) {
        let given = card.info().map(|c| c.card.clone());
        if given.as_ref() != Some(&record.card) {
            return Err(PurchaseRefundError::WrongCardState { purchase: purchase.clone(), expected: record.card.clone(), given });
        }
        if card.licenses.get(&record.content).is_some_and(|l| l.purchase == *purchase) {
            let revoked = LicenseRevoked { card: record.card.clone(), content: record.content.clone(), purchase: purchase.clone(), at: now };
            appends.push(append(card_stream(&record.card), card.version(), vec![revoked.into()]));
        }
    }
    Ok(Decided { outcome, decision: Decision { appends } })
}
