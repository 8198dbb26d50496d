//! The Card aggregate (stream `card-{card id}`): a prepaid / license card
//! (000; 002 claims 3-5): its accounting id, expiry, the public fingerprint
//! of its device key, the sealed licenses written on it and the content ids a
//! player recorded on it for a kiosk to buy.
//!
//! Also the gate every station passes before reading or writing a license
//! (000 rule 1): [`Card::check_presented`] verifies the card's answer to a
//! challenge and either hands back its device key or a `CardRejected` event.

use std::collections::{BTreeMap, BTreeSet};

use crate::aggregate::{Aggregate, Decided};
use crate::ids::{AccountId, CardId, ContentId, PurchaseId};
use crate::time::Timestamp;

use super::crypto::{verify_card, CardProof, DeviceKey, IssuerSecret, KeyCheck, LicenseTerms, SealedLicense};
use super::events::{CardIssued, CardRejected, CardRejection, ContentIdRecordedOnCard, LicensingEvent, Station};
use super::streams::card_stream;

/// What a card is, once issued.
#[derive(Debug, Clone, PartialEq, Eq, minicbor::Encode, minicbor::Decode)]
pub struct IssuedCard {
    #[n(0)]
    pub card: CardId,
    #[n(1)]
    pub account: AccountId,
    #[n(2)]
    pub expires_at: Option<Timestamp>,
    #[n(3)]
    pub key_check: KeyCheck,
}

/// A license as stored on the card: sealed bytes plus a clear copy of its terms.
#[derive(Debug, Clone, PartialEq, Eq, minicbor::Encode, minicbor::Decode)]
pub struct CardLicense {
    #[n(0)]
    pub purchase: PurchaseId,
    #[n(1)]
    pub terms: LicenseTerms,
    #[n(2)]
    pub sealed: SealedLicense,
}

/// A card's state, folded from its stream.
#[derive(Debug, Clone, Default, PartialEq, Eq, minicbor::Encode, minicbor::Decode)]
pub struct Card {
    #[n(0)]
    version: u64,
    #[n(1)]
    pub issued: Option<IssuedCard>,
    #[n(2)]
    pub licenses: BTreeMap<ContentId, CardLicense>,
    /// Content ids recorded by a player, waiting for a kiosk to buy them (002 claim 5).
    #[n(3)]
    pub requested: BTreeSet<ContentId>,
    /// Every purchase whose license was ever written here.
    #[n(4)]
    pub purchases: BTreeSet<PurchaseId>,
    #[n(5)]
    pub plays: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CardCommand {
    Issue { card: CardId, account: AccountId, expires_at: Option<Timestamp>, key_check: KeyCheck },
}

#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum IssueCardError {
    #[error("card {card} is already issued")]
    AlreadyIssued { card: CardId },
    #[error("card {card} would expire at {expires_at}, not after now ({now})")]
    ExpiryNotInFuture { card: CardId, expires_at: Timestamp, now: Timestamp },
    #[error("account {account} is not open, so card {card} cannot be issued for it")]
    AccountNotOpen { card: CardId, account: AccountId },
}

/// A verifier's configuration problem found while checking a card (not the card's fault).
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CardCheckError {
    #[error("the card state given is for card {state}, not the presented card {presented}")]
    WrongCardState { presented: CardId, state: CardId },
    #[error("this station's issuer secret does not match the one card {card} was issued with")]
    IssuerKeyMismatch { card: CardId },
}

/// The verdict on a presented card.
#[derive(Debug)]
pub enum CardCheck {
    /// Genuine, issued, not expired: its device key, re-derived by the verifier.
    Genuine(DeviceKey),
    /// Refused before any read or write; append this to the station's stream.
    Rejected(CardRejected),
}

impl Card {
    /// Events applied so far: the expected version of `card-{id}`.
    pub fn version(&self) -> u64 {
        self.version
    }

    /// The issued card, if any.
    pub fn info(&self) -> Option<&IssuedCard> {
        self.issued.as_ref()
    }

    pub fn is_expired(&self, now: Timestamp) -> bool {
        self.issued.as_ref().and_then(|c| c.expires_at).is_some_and(|at| now >= at)
    }

    /// The card already holds a license for `content` with a use left and not expired.
    pub fn has_live_license(&self, content: &ContentId, now: Timestamp) -> bool {
        self.licenses.get(content).is_some_and(|l| l.terms.is_live(now))
    }

    /// Issues the card for `account`, whose state is `opened`: only an open account gets a card.
    pub fn decide_issue_for(
        &self,
        opened: &super::account::Account,
        card: &CardId,
        account: &AccountId,
        expires_at: Option<Timestamp>,
        key_check: KeyCheck,
        now: Timestamp,
    ) -> Result<Vec<LicensingEvent>, IssueCardError> {
        if opened.id.as_ref() != Some(account) {
            return Err(IssueCardError::AccountNotOpen { card: card.clone(), account: account.clone() });
        }
        self.decide_issue(card, account, expires_at, key_check, now)
    }

    pub fn decide_issue(
        &self,
        card: &CardId,
        account: &AccountId,
        expires_at: Option<Timestamp>,
        key_check: KeyCheck,
        now: Timestamp,
    ) -> Result<Vec<LicensingEvent>, IssueCardError> {
        if self.issued.is_some() {
            return Err(IssueCardError::AlreadyIssued { card: card.clone() });
        }
        if let Some(at) = expires_at.filter(|at| *at <= now) {
            return Err(IssueCardError::ExpiryNotInFuture { card: card.clone(), expires_at: at, now });
        }
        let issued = CardIssued { card: card.clone(), account: account.clone(), expires_at, key_check, at: now };
        Ok(vec![issued.into()])
    }

    /// 000 rule 1: checks a presented card (`presented` is the id it claims,
    /// `self` the state of that card's stream) before anything is read or written.
    pub fn check_presented(
        &self,
        presented: &CardId,
        issuer: &IssuerSecret,
        proof: &CardProof,
        station: &Station,
        now: Timestamp,
    ) -> Result<CardCheck, CardCheckError> {
        let reject = |reason| CardCheck::Rejected(CardRejected { station: station.clone(), card: presented.clone(), reason, at: now });
        let Some(info) = self.issued.as_ref() else {
            return Ok(reject(CardRejection::NotIssued));
        };
        if info.card != *presented {
            return Err(CardCheckError::WrongCardState { presented: presented.clone(), state: info.card.clone() });
        }
        if issuer.device_key(presented).key_check() != info.key_check {
            return Err(CardCheckError::IssuerKeyMismatch { card: presented.clone() });
        }
        let Some(key) = verify_card(issuer, presented, proof) else {
            return Ok(reject(CardRejection::NotGenuine));
        };
        if self.is_expired(now) {
            return Ok(reject(CardRejection::CardExpired));
        }
        Ok(CardCheck::Genuine(key))
    }

    /// 002 claim 5: records a wanted content id on the card (nothing if it is
    /// already there, as a license or as a request).
    pub fn record_content_id(&self, content: &ContentId, station: &Station, now: Timestamp) -> Vec<LicensingEvent> {
        match self.issued.as_ref() {
            Some(info) if !self.licenses.contains_key(content) && !self.requested.contains(content) => {
                let recorded = ContentIdRecordedOnCard {
                    card: info.card.clone(),
                    account: info.account.clone(),
                    content: content.clone(),
                    station: station.clone(),
                    at: now,
                };
                vec![recorded.into()]
            }
            _ => Vec::new(),
        }
    }
}

/// Issues `card` (its stream is `state`'s) for `account`, whose state is
/// `opened`: an account that is not open gets no card (`AccountNotOpen`).
pub fn issue_card(
    state: &Card,
    opened: &super::account::Account,
    card: &CardId,
    account: &AccountId,
    expires_at: Option<Timestamp>,
    key_check: KeyCheck,
    now: Timestamp,
) -> Result<Decided<(), LicensingEvent>, IssueCardError> {
    let events = state.decide_issue_for(opened, card, account, expires_at, key_check, now)?;
    Ok(Decided::single(card_stream(card), state.version(), events, ()))
}

impl Aggregate for Card {
    type Command = CardCommand;
    type Event = LicensingEvent;
    type Error = IssueCardError;

    fn decide(&self, command: &CardCommand, now: Timestamp) -> Result<Vec<LicensingEvent>, IssueCardError> {
        match command {
            CardCommand::Issue { card, account, expires_at, key_check } => self.decide_issue(card, account, *expires_at, *key_check, now),
        }
    }

    fn apply(&mut self, event: &LicensingEvent) {
        self.version += 1;
        match event {
            LicensingEvent::CardIssued(e) => {
                self.issued = Some(IssuedCard { card: e.card.clone(), account: e.account.clone(), expires_at: e.expires_at, key_check: e.key_check });
            }
            LicensingEvent::ContentIdRecordedOnCard(e) => {
                self.requested.insert(e.content.clone());
            }
            LicensingEvent::LicenseIssued(e) => {
                self.purchases.insert(e.purchase.clone());
            }
            LicensingEvent::LicenseWrittenToCard(e) => {
                self.requested.remove(&e.content);
                self.purchases.insert(e.purchase.clone());
                let license = CardLicense { purchase: e.purchase.clone(), terms: e.terms, sealed: e.sealed.clone() };
                self.licenses.insert(e.content.clone(), license);
            }
            LicensingEvent::UseDecremented(e) => {
                if let Some(license) = self.licenses.get_mut(&e.content) {
                    license.terms = e.terms;
                    license.sealed = e.sealed.clone();
                }
            }
            LicensingEvent::LicenseRevoked(e) if self.licenses.get(&e.content).is_some_and(|l| l.purchase == e.purchase) => {
                self.licenses.remove(&e.content);
            }
            LicensingEvent::ContentPlayed(_) => self.plays += 1,
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::DeviceId;
    use crate::licensing::crypto::{CardChip, Challenge};

    fn c1() -> CardId {
        CardId::new("c1").unwrap()
    }
    fn issuer() -> IssuerSecret {
        IssuerSecret::from_bytes([7; 32])
    }
    fn kiosk() -> Station {
        Station::kiosk(DeviceId::new("k1").unwrap())
    }
    fn issued(expires_at: Option<Timestamp>) -> Card {
        let key_check = issuer().device_key(&c1()).key_check();
        let events = Card::default().decide_issue(&c1(), &AccountId::new("a1").unwrap(), expires_at, key_check, Timestamp(0)).unwrap();
        Card::replay(&events)
    }
    fn proof(chip: &CardChip) -> CardProof {
        CardProof::from_chip(chip, Challenge([42; 32]))
    }

    #[test]
    fn rule_card_1_genuine_card_is_accepted_by_the_station() {
        let chip = CardChip::issue(&issuer(), c1());
        let check = issued(None).check_presented(&c1(), &issuer(), &proof(&chip), &kiosk(), Timestamp(1)).unwrap();
        assert!(matches!(check, CardCheck::Genuine(_)));
    }

    #[test]
    fn rule_card_1_forged_card_is_rejected_by_the_station() {
        let forged = CardChip::with_key(c1(), crate::licensing::crypto::DeviceKey::from_bytes([1; 32]));
        let check = issued(None).check_presented(&c1(), &issuer(), &proof(&forged), &kiosk(), Timestamp(1)).unwrap();
        assert!(matches!(check, CardCheck::Rejected(CardRejected { reason: CardRejection::NotGenuine, .. })));
    }

    #[test]
    fn unknown_and_expired_cards_are_rejected() {
        let chip = CardChip::issue(&issuer(), c1());
        let unknown = Card::default().check_presented(&c1(), &issuer(), &proof(&chip), &kiosk(), Timestamp(1)).unwrap();
        assert!(matches!(unknown, CardCheck::Rejected(CardRejected { reason: CardRejection::NotIssued, .. })));
        let expired = issued(Some(Timestamp(5))).check_presented(&c1(), &issuer(), &proof(&chip), &kiosk(), Timestamp(5)).unwrap();
        assert!(matches!(expired, CardCheck::Rejected(CardRejected { reason: CardRejection::CardExpired, .. })));
    }

    #[test]
    fn a_station_with_the_wrong_issuer_secret_gets_an_error_not_a_rejection() {
        let other = IssuerSecret::from_bytes([8; 32]);
        let chip = CardChip::issue(&other, c1());
        let result = issued(None).check_presented(&c1(), &other, &proof(&chip), &kiosk(), Timestamp(1));
        assert_eq!(result.err(), Some(CardCheckError::IssuerKeyMismatch { card: c1() }));
    }

    #[test]
    fn a_card_is_issued_only_for_an_open_account() {
        let a1 = AccountId::new("a1").unwrap();
        let result = Card::default().decide_issue_for(&crate::licensing::Account::default(), &c1(), &a1, None, KeyCheck([0; 32]), Timestamp(1));
        assert_eq!(result, Err(IssueCardError::AccountNotOpen { card: c1(), account: a1 }));
    }

    #[test]
    fn issuing_twice_is_an_error() {
        let result = issued(None).decide_issue(&c1(), &AccountId::new("a1").unwrap(), None, KeyCheck([0; 32]), Timestamp(1));
        assert_eq!(result, Err(IssueCardError::AlreadyIssued { card: c1() }));
    }

    #[test]
    fn rule_buy_5_content_id_is_recorded_once() {
        let card = issued(None);
        let m1 = ContentId::new("m1").unwrap();
        let events = card.record_content_id(&m1, &kiosk(), Timestamp(1));
        assert_eq!(events.len(), 1);
        let mut card = card;
        card.apply(&events[0]);
        assert!(card.requested.contains(&m1));
        assert!(card.record_content_id(&m1, &kiosk(), Timestamp(2)).is_empty());
    }
}
