//! [`CardFile`]: the card module a station talks to. It answers challenges,
//! takes licenses a kiosk writes, and plays: opens a license with the
//! card-bound key, checks its use condition, re-seals it with one use fewer
//! and overwrites it (000 claims 7-13). Every change raises the generation.

use std::collections::{BTreeMap, BTreeSet};

use encore_domain::ids::{AccountId, CardId, ContentId, PurchaseId};
use encore_domain::licensing::play::refusal_for;
use encore_domain::licensing::{Challenge, ChipResponse, ContentKey, CryptoError, DeviceKey, License, LicenseTerms, PlayRefusal, SealedLicense};
use encore_domain::Timestamp;

use crate::format::{self, Body, CardFileError};

/// A license as written on the card: sealed, with a clear copy of its terms for display.
#[derive(Debug, Clone, PartialEq, Eq, minicbor::Encode, minicbor::Decode)]
pub struct CardLicense {
    #[n(0)]
    pub content: ContentId,
    #[n(1)]
    pub purchase: PurchaseId,
    #[n(2)]
    pub terms: LicenseTerms,
    #[n(3)]
    pub sealed: SealedLicense,
}

/// The card: what is on it, and the key only this module uses.
pub struct CardFile {
    card: CardId,
    account: AccountId,
    expires_at: Option<Timestamp>,
    key: DeviceKey,
    generation: u64,
    licenses: BTreeMap<ContentId, CardLicense>,
    requested: BTreeSet<ContentId>,
}

impl std::fmt::Debug for CardFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CardFile")
            .field("card", &self.card)
            .field("account", &self.account)
            .field("generation", &self.generation)
            .field("licenses", &self.licenses.len())
            .finish_non_exhaustive()
    }
}

/// A play the card allowed: the key to decrypt with (in memory only), the
/// terms left, and the re-sealed license now on the card (what the player
/// reports to the server).
#[derive(Debug)]
pub struct Played {
    pub key: ContentKey,
    pub terms_after: LicenseTerms,
    pub sealed_after: SealedLicense,
}

/// Why the card did not play.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CardPlayError {
    #[error("card {card} holds no license for content {content}")]
    NotOnCard { card: CardId, content: ContentId },
    #[error("the license of content {content} on card {card} may not play: {reason:?}")]
    Refused { card: CardId, content: ContentId, reason: PlayRefusal },
    #[error(transparent)]
    Crypto(#[from] CryptoError),
}

impl CardFile {
    /// A blank card as the issuer personalises it.
    pub fn personalise(card: CardId, account: AccountId, expires_at: Option<Timestamp>, key: DeviceKey) -> Self {
        CardFile { card, account, expires_at, key, generation: 0, licenses: BTreeMap::new(), requested: BTreeSet::new() }
    }

    pub fn card(&self) -> &CardId {
        &self.card
    }
    pub fn account(&self) -> &AccountId {
        &self.account
    }
    pub fn expires_at(&self) -> Option<Timestamp> {
        self.expires_at
    }
    /// Raised by every write; sealed under the card's key with the rest of the file.
    pub fn generation(&self) -> u64 {
        self.generation
    }
    pub fn licenses(&self) -> impl Iterator<Item = &CardLicense> {
        self.licenses.values()
    }
    pub fn license(&self, content: &ContentId) -> Option<&CardLicense> {
        self.licenses.get(content)
    }
    /// Content ids a player recorded for a kiosk to buy (002 claim 5).
    pub fn requested(&self) -> impl Iterator<Item = &ContentId> {
        self.requested.iter()
    }

    /// The chip answers a verifier's challenge (000 rule 1).
    pub fn respond(&self, challenge: &Challenge) -> ChipResponse {
        self.key.respond(&self.card, challenge)
    }

    /// A kiosk or player writes a license it bought onto the card (overwriting an older one of that content).
    pub fn write_license(&mut self, license: CardLicense) {
        self.requested.remove(&license.content);
        self.licenses.insert(license.content.clone(), license);
        self.generation += 1;
    }

    /// A player records a content id it wants a kiosk to buy (002 claim 5); nothing if already there.
    pub fn record_wanted(&mut self, content: ContentId) -> bool {
        if self.licenses.contains_key(&content) || !self.requested.insert(content) {
            return false;
        }
        self.generation += 1;
        true
    }

    /// One play (000 claims 7-13): open, check, decrement, re-seal, overwrite.
    pub fn play(&mut self, content: &ContentId, now: Timestamp) -> Result<Played, CardPlayError> {
        let stored = self.licenses.get(content).ok_or_else(|| CardPlayError::NotOnCard { card: self.card.clone(), content: content.clone() })?;
        let bound = self.key.card_bound_key(&self.card)?;
        let license = bound.unseal(&self.card, content, &stored.sealed)?;
        if let Some(reason) = refusal_for(&license.terms, now) {
            return Err(CardPlayError::Refused { card: self.card.clone(), content: content.clone(), reason });
        }
        let terms_after = LicenseTerms { uses_left: license.terms.uses_left - 1, ..license.terms };
        let updated = License { content: license.content, terms: terms_after, key: license.key };
        let sealed_after = bound.seal(&self.card, &updated)?;
        let purchase = stored.purchase.clone();
        self.licenses.insert(content.clone(), CardLicense { content: content.clone(), purchase, terms: terms_after, sealed: sealed_after.clone() });
        self.generation += 1;
        Ok(Played { key: updated.key, terms_after, sealed_after })
    }

    /// Completes a play whose re-sealed license was journaled but not yet
    /// written to the card (a player that stopped in between): the license
    /// must open under this card's key and hold exactly one use fewer.
    /// Returns false, changing nothing, when the card already holds it.
    pub fn redo_play(&mut self, content: &ContentId, sealed_after: &SealedLicense) -> Result<bool, CardPlayError> {
        let stored = self.licenses.get(content).ok_or_else(|| CardPlayError::NotOnCard { card: self.card.clone(), content: content.clone() })?;
        if stored.sealed == *sealed_after {
            return Ok(false);
        }
        let bound = self.key.card_bound_key(&self.card)?;
        let after = bound.unseal(&self.card, content, sealed_after)?;
        if stored.terms.uses_left.checked_sub(1) != Some(after.terms.uses_left) {
            return Err(CardPlayError::Refused { card: self.card.clone(), content: content.clone(), reason: PlayRefusal::OutOfSequence });
        }
        let purchase = stored.purchase.clone();
        self.licenses.insert(content.clone(), CardLicense { content: content.clone(), purchase, terms: after.terms, sealed: sealed_after.clone() });
        self.generation += 1;
        Ok(true)
    }

    /// The card file's bytes.
    pub fn to_bytes(&self) -> Result<Vec<u8>, CardFileError> {
        let body = Body {
            card: self.card.clone(),
            account: self.account.clone(),
            expires_at: self.expires_at,
            key: *self.key.expose_secret(),
            generation: self.generation,
            licenses: self.licenses.values().cloned().collect(),
            requested: self.requested.iter().cloned().collect(),
        };
        let bytes = format::encode(&body)?;
        // Paired assertion: what we write reads back as what we hold.
        debug_assert!(CardFile::from_bytes(&bytes).is_ok_and(|back| back.generation == self.generation && back.licenses == self.licenses));
        Ok(bytes)
    }

    /// A card from its file's bytes; every check passes or nothing is read.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, CardFileError> {
        let body = format::decode(bytes)?;
        let mut licenses = BTreeMap::new();
        for license in &body.licenses {
            if licenses.insert(license.content.clone(), license.clone()).is_some() {
                return Err(CardFileError::DuplicateLicense { card: body.card.clone(), content: license.content.clone() });
            }
        }
        Ok(CardFile {
            card: body.card.clone(),
            account: body.account.clone(),
            expires_at: body.expires_at,
            key: DeviceKey::from_bytes(body.key),
            generation: body.generation,
            licenses,
            requested: body.requested.iter().cloned().collect(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use encore_domain::licensing::IssuerSecret;

    fn issuer() -> IssuerSecret {
        IssuerSecret::from_bytes([4; 32])
    }
    fn c1() -> CardId {
        CardId::new("c1").unwrap()
    }
    fn m1() -> ContentId {
        ContentId::new("m1").unwrap()
    }

    /// A card with one license of `uses` plays, sealed as the license server seals it.
    fn card_with_license(uses: u32) -> CardFile {
        let key = issuer().device_key(&c1());
        let bound = key.card_bound_key(&c1()).unwrap();
        let terms = LicenseTerms { uses_left: uses, valid_until: None };
        let sealed = bound.seal(&c1(), &License { content: m1(), terms, key: ContentKey::from_bytes([7; 32]) }).unwrap();
        let mut card = CardFile::personalise(c1(), AccountId::new("a1").unwrap(), None, key);
        card.write_license(CardLicense { content: m1(), purchase: PurchaseId::new("p1").unwrap(), terms, sealed });
        card
    }

    #[test]
    fn a_play_decrements_reseals_and_raises_the_generation() {
        let mut card = card_with_license(2);
        let played = card.play(&m1(), Timestamp(1)).unwrap();
        assert_eq!(played.terms_after.uses_left, 1);
        assert_eq!(played.key, ContentKey::from_bytes([7; 32]));
        assert_eq!(card.generation(), 2);
        let back = CardFile::from_bytes(&card.to_bytes().unwrap()).unwrap();
        assert_eq!(back.license(&m1()).unwrap().terms.uses_left, 1);
        let mut back = back;
        back.play(&m1(), Timestamp(2)).unwrap();
        let refused = back.play(&m1(), Timestamp(3)).unwrap_err();
        assert_eq!(refused, CardPlayError::Refused { card: c1(), content: m1(), reason: PlayRefusal::NoUsesLeft });
    }

    #[test]
    fn a_journaled_play_is_redone_once_on_the_card_it_was_made_on() {
        let mut card = card_with_license(3);
        let before = CardFile::from_bytes(&card.to_bytes().unwrap()).unwrap();
        let played = card.play(&m1(), Timestamp(1)).unwrap();
        let mut restored = before;
        assert!(restored.redo_play(&m1(), &played.sealed_after).unwrap());
        assert_eq!(restored.license(&m1()).unwrap().terms.uses_left, 2);
        assert!(!restored.redo_play(&m1(), &played.sealed_after).unwrap(), "a second redo changes nothing");
        assert_eq!(restored.generation(), card.generation());
    }

    #[test]
    fn a_card_answers_as_the_issuer_expects_and_debug_hides_its_key() {
        let card = card_with_license(1);
        let challenge = Challenge([1; 32]);
        assert_eq!(card.respond(&challenge), issuer().device_key(&c1()).respond(&c1(), &challenge));
        let shown = format!("{card:?}");
        assert!(!shown.contains("key") && !shown.contains("DeviceKey"), "{shown}");
    }

    #[test]
    fn a_license_moved_to_a_card_with_another_id_does_not_open() {
        let mut card = card_with_license(1);
        let stolen = card.license(&m1()).unwrap().clone();
        let c2 = CardId::new("c2").unwrap();
        let mut other = CardFile::personalise(c2.clone(), AccountId::new("a1").unwrap(), None, issuer().device_key(&c2));
        other.write_license(stolen);
        assert!(matches!(other.play(&m1(), Timestamp(1)), Err(CardPlayError::Crypto(CryptoError::LicenseUnreadable { .. }))));
        assert!(card.play(&m1(), Timestamp(1)).is_ok());
    }
}
