//! Playing a content from a card (000 claims 7-14, 19; DOMAIN "License cards
//! bound to the card" rules 1-4; 002 claim 7).
//!
//! The card is verified first (else `CardRejected` on the station stream and
//! nothing is read). Then the sealed license is opened with the card-bound
//! key, its use condition checked (a use left, not past its date), and on
//! success `ContentPlayed` + `UseDecremented` (the license re-sealed with one
//! use fewer, to overwrite the old one on the card) go to the card stream in
//! one append. Otherwise `PlayRefused` with the reason; a content that is not
//! on the card at all also gets its id recorded on the card (002 claim 5).

use crate::aggregate::{Decided, Decision};
use crate::ids::{CardId, ContentId};
use crate::time::Timestamp;

use super::card::{Card, CardCheck, CardCheckError};
use super::crypto::{CardProof, ContentKey, CryptoError, IssuerSecret, License, LicenseTerms, SealedLicense};
use super::events::{CardRejection, ContentPlayed, LicensingEvent, PlayRefusal, PlayRefused, Station, UseDecremented};
use super::kiosk::StationLog;
use super::purchase::append;
use super::streams::{card_stream, station_stream};

/// One play: which content, from which card, where, and the card's proof.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlayRequest {
    pub card: CardId,
    pub content: ContentId,
    pub station: Station,
    pub proof: CardProof,
}

/// What the play came to. `Played` hands the content key to the player (in
/// memory only: it never goes into an event).
#[derive(Debug, PartialEq, Eq)]
pub enum PlayOutcome {
    Played { terms_after: LicenseTerms, key: ContentKey },
    Refused(PlayRefusal),
    CardRejected(CardRejection),
}

/// The outcome of a play and its events (on the card, or the station's for a rejected card).
pub type PlayDecision = Decided<PlayOutcome, LicensingEvent>;

#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PlayError {
    #[error(transparent)]
    Card(#[from] CardCheckError),
    #[error("the station log given is not the one of {station}")]
    WrongStationState { station: Station },
    #[error(transparent)]
    Crypto(#[from] CryptoError),
    #[error("card {card} is not issued, so no play from it can be reported")]
    NotIssued { card: CardId },
}

/// Why a decrypted license may not play at `now`, if it may not.
pub fn refusal_for(terms: &LicenseTerms, now: Timestamp) -> Option<PlayRefusal> {
    if terms.uses_left == 0 {
        Some(PlayRefusal::NoUsesLeft)
    } else if terms.is_expired(now) {
        Some(PlayRefusal::LicenseExpired)
    } else {
        None
    }
}

/// Decides a play. Errors are configuration mistakes (wrong state or keys given); every
/// business refusal is an event.
pub fn decide_play(card: &Card, station_log: &StationLog, issuer: &IssuerSecret, request: &PlayRequest, now: Timestamp) -> Result<PlayDecision, PlayError> {
    if !station_log.is_for(&request.station) {
        return Err(PlayError::WrongStationState { station: request.station.clone() });
    }
    let device_key = match card.check_presented(&request.card, issuer, &request.proof, &request.station, now)? {
        CardCheck::Genuine(key) => key,
        CardCheck::Rejected(rejected) => {
            let reason = rejected.reason;
            let appends = vec![append(station_stream(&request.station), station_log.version(), vec![rejected.into()])];
            return Ok(PlayDecision { outcome: PlayOutcome::CardRejected(reason), decision: Decision { appends } });
        }
    };
    let account = card
        .info()
        .map(|c| c.account.clone())
        .ok_or_else(|| CardCheckError::WrongCardState { presented: request.card.clone(), state: request.card.clone() })?;
    let refuse = |reason, mut extra: Vec<LicensingEvent>| {
        let refused = PlayRefused {
            card: request.card.clone(),
            account: account.clone(),
            content: request.content.clone(),
            station: request.station.clone(),
            reason,
            at: now,
        };
        extra.insert(0, refused.into());
        let appends = vec![append(card_stream(&request.card), card.version(), extra)];
        PlayDecision { outcome: PlayOutcome::Refused(reason), decision: Decision { appends } }
    };
    let Some(stored) = card.licenses.get(&request.content) else {
        let recorded = card.record_content_id(&request.content, &request.station, now);
        return Ok(refuse(PlayRefusal::NotOnCard, recorded));
    };
    let bound_key = device_key.card_bound_key(&request.card)?;
    let license = match bound_key.unseal(&request.card, &request.content, &stored.sealed) {
        Ok(license) => license,
        Err(_) => return Ok(refuse(PlayRefusal::LicenseUnreadable, Vec::new())),
    };
    if let Some(reason) = refusal_for(&license.terms, now) {
        return Ok(refuse(reason, Vec::new()));
    }
    let terms_after = LicenseTerms { uses_left: license.terms.uses_left - 1, valid_until: license.terms.valid_until };
    let updated = License { content: license.content, terms: terms_after, key: license.key };
    let sealed = bound_key.seal(&request.card, &updated)?;
    let played = ContentPlayed { card: request.card.clone(), account, content: request.content.clone(), station: request.station.clone(), at: now };
    let decremented =
        UseDecremented { card: request.card.clone(), content: request.content.clone(), terms: terms_after, sealed, station: request.station.clone(), at: now };
    let appends = vec![append(card_stream(&request.card), card.version(), vec![played.into(), decremented.into()])];
    Ok(PlayDecision { outcome: PlayOutcome::Played { terms_after, key: updated.key }, decision: Decision { appends } })
}

/// A play a player made from a carried card (maybe offline, 000 claims 7-13),
/// reported when it next connects: the license as the card re-sealed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlayReport {
    pub card: CardId,
    pub content: ContentId,
    pub station: Station,
    pub played_at: Timestamp,
    pub sealed_after: SealedLicense,
}

/// What a report came to: recorded (the server's copy follows the card), or
/// refused with its reason as a `PlayRefused` event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReportOutcome {
    Recorded { terms_after: LicenseTerms },
    Refused(PlayRefusal),
}

/// The outcome of a reported play and its events (on the card).
pub type ReportDecision = Decided<ReportOutcome, LicensingEvent>;

/// Decides a reported play. The report proves itself: only the card's key
/// re-seals a license that opens, and it must hold exactly one use fewer than
/// the server's copy with the same end date, so each play is counted once and
/// a clone or a rolled-back card playing the same use again is refused.
pub fn decide_reported_play(card: &Card, issuer: &IssuerSecret, report: &PlayReport, now: Timestamp) -> Result<ReportDecision, PlayError> {
    let info = card.info().filter(|info| info.card == report.card).ok_or_else(|| PlayError::NotIssued { card: report.card.clone() })?;
    // A player's clock ahead of the server's must not block its reports, nor
    // date a play after the server's now: such a play counts as played now.
    let played_at = report.played_at.min(now);
    let refuse = |reason| {
        let refused = PlayRefused {
            card: report.card.clone(),
            account: info.account.clone(),
            content: report.content.clone(),
            station: report.station.clone(),
            reason,
            at: now,
        };
        let appends = vec![append(card_stream(&report.card), card.version(), vec![refused.into()])];
        ReportDecision { outcome: ReportOutcome::Refused(reason), decision: Decision { appends } }
    };
    let Some(stored) = card.licenses.get(&report.content) else {
        return Ok(refuse(PlayRefusal::NotOnCard));
    };
    let bound_key = issuer.device_key(&report.card).card_bound_key(&report.card)?;
    let Ok(after) = bound_key.unseal(&report.card, &report.content, &report.sealed_after) else {
        return Ok(refuse(PlayRefusal::LicenseUnreadable));
    };
    let follows = stored.terms.uses_left.checked_sub(1) == Some(after.terms.uses_left) && stored.terms.valid_until == after.terms.valid_until;
    if !follows {
        return Ok(refuse(PlayRefusal::OutOfSequence));
    }
    let played = ContentPlayed {
        card: report.card.clone(),
        account: info.account.clone(),
        content: report.content.clone(),
        station: report.station.clone(),
        at: played_at,
    };
    let decremented = UseDecremented {
        card: report.card.clone(),
        content: report.content.clone(),
        terms: after.terms,
        sealed: report.sealed_after.clone(),
        station: report.station.clone(),
        at: played_at,
    };
    let appends = vec![append(card_stream(&report.card), card.version(), vec![played.into(), decremented.into()])];
    Ok(ReportDecision { outcome: ReportOutcome::Recorded { terms_after: after.terms }, decision: Decision { appends } })
}
