//! Key material and the card's cryptography (000 claims 1-5, 7, 12-14, 19).
//!
//! * The card issuer holds an [`IssuerSecret`]; each card's [`DeviceKey`] is
//!   derived from it and the card id, so a kiosk or player holding the issuer
//!   secret can check a card without any per-card key store.
//! * A card proves it is genuine by answering a [`Challenge`] with a keyed
//!   blake3 MAC ([`CardChip::respond`]); [`verify_card`] recomputes it and
//!   compares in constant time. A forged card (wrong key) or a clone (right
//!   id, no key) fails.
//! * The card-bound key (claim 5): the card id encrypted with the device key
//!   (AES-SIV, deterministic), stretched by blake3 into an AES-256-SIV key.
//!   Licenses are sealed under it with the card id and content id as
//!   associated data, so a license copied to another card, or relabelled as
//!   another content, does not open.
//! * Content keys sit in the catalogue sealed under the [`LicenseServerKey`].
//!
//! Everything is deterministic (AES-SIV, no nonces): replaying the same
//! commands gives byte-identical events. Secrets never implement `Display`,
//! their `Debug` prints `<redacted>`, and they are overwritten on drop.

use aes_siv::siv::{Aes128Siv, Aes256Siv};
use aes_siv::KeyInit;
use minicbor::{Decode, Encode};

use crate::ids::{CardId, ContentId};
use crate::time::Timestamp;

const DEVICE_KEY_CONTEXT: &str = "encore card device key v1";
const KEY_CHECK_CONTEXT: &str = "encore card key check v1";
const CHALLENGE_DOMAIN: &[u8] = b"encore card challenge v1";
const CARD_ID_SEAL_DOMAIN: &[u8] = b"encore card-bound key v1";
const CARD_BOUND_CONTEXT: &str = "encore card-bound license key v1";
const LICENSE_DOMAIN: &[u8] = b"encore license v1";
const CONTENT_KEY_SIV_CONTEXT: &str = "encore content key sealing v1";
const CONTENT_KEY_DOMAIN: &[u8] = b"encore content key v1";
const CONTENT_FILE_CONTEXT: &str = "encore content file cipher v1";
const CONTENT_FILE_DOMAIN: &[u8] = b"encore content file v1";

/// Why a sealing operation failed. Names what and whose, never key bytes.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CryptoError {
    #[error("sealing the {what} failed")]
    SealFailed { what: &'static str },
    #[error("the sealed license of content {content} on card {card} does not open (wrong card, wrong key or tampered)")]
    LicenseUnreadable { card: CardId, content: ContentId },
    #[error("the sealed content key of content {content} does not open under this license server key")]
    ContentKeyUnreadable { content: ContentId },
    #[error("the encrypted file of content {content} does not open under its content key (wrong key or altered)")]
    ContentUnreadable { content: ContentId },
    #[error("the license of content {content} on card {card} is malformed: {reason}")]
    LicenseMalformed { card: CardId, content: ContentId, reason: &'static str },
}

/// Best-effort wipe of secret bytes (no `zeroize` crate in the build).
fn wipe(bytes: &mut [u8]) {
    for b in bytes.iter_mut() {
        *b = 0;
    }
    std::hint::black_box(&*bytes);
}

macro_rules! secret {
    ($(#[$doc:meta])* $name:ident, $len:literal) => {
        $(#[$doc])*
        pub struct $name([u8; $len]);

        impl $name {
            pub const LEN: usize = $len;
            pub fn from_bytes(bytes: [u8; $len]) -> Self {
                $name(bytes)
            }
            /// The raw bytes, for hardware or a content decryptor only: never
            /// log, print or store them.
            pub fn expose_secret(&self) -> &[u8; $len] {
                &self.0
            }
        }

        impl std::fmt::Debug for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(concat!(stringify!($name), "(<redacted>)"))
            }
        }

        impl PartialEq for $name {
            /// Constant-time comparison.
            fn eq(&self, other: &Self) -> bool {
                ct_eq(&self.0, &other.0)
            }
        }
        impl Eq for $name {}

        impl Drop for $name {
            fn drop(&mut self) {
                wipe(&mut self.0);
            }
        }
    };
}

secret!(/// The card issuer's master secret: every card's device key derives from it.
    IssuerSecret, 32);
secret!(/// A card's secret device key (000 claim 5). Lives in the chip; verifiers re-derive it.
    DeviceKey, 32);
secret!(/// A content decryption key (000 claim 4; 002 "decoding information").
    ContentKey, 32);
secret!(/// The license server's master key: seals content keys in the catalogue.
    LicenseServerKey, 32);
secret!(/// The AES-256-SIV key bound to one card (000 claim 5); seals that card's licenses.
    CardBoundKey, 64);

/// Constant-time equality of two byte strings of the same length.
fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(diff) == 0
}

impl IssuerSecret {
    /// The device key of card `card`: blake3 derive_key over issuer secret || card id.
    pub fn device_key(&self, card: &CardId) -> DeviceKey {
        let mut hasher = blake3::Hasher::new_derive_key(DEVICE_KEY_CONTEXT);
        hasher.update(&self.0);
        hasher.update(card.as_str().as_bytes());
        DeviceKey(*hasher.finalize().as_bytes())
    }
}

/// A public fingerprint of a device key, recorded when the card is issued so
/// a verifier can tell it holds the right issuer secret. Not the key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Encode, Decode)]
#[cbor(transparent)]
pub struct KeyCheck(#[cbor(n(0), with = "minicbor::bytes")] pub [u8; 32]);

/// A fresh challenge chosen by the verifier (randomness comes from outside).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Challenge(pub [u8; 32]);

/// The card's answer to a challenge: a keyed blake3 MAC.
#[derive(Debug, Clone, Copy)]
pub struct ChipResponse(pub [u8; 32]);

impl PartialEq for ChipResponse {
    /// Constant-time (blake3::Hash equality is constant-time).
    fn eq(&self, other: &Self) -> bool {
        blake3::Hash::from(self.0) == blake3::Hash::from(other.0)
    }
}
impl Eq for ChipResponse {}

impl DeviceKey {
    /// The public fingerprint stored in `CardIssued`.
    pub fn key_check(&self) -> KeyCheck {
        let mut hasher = blake3::Hasher::new_derive_key(KEY_CHECK_CONTEXT);
        hasher.update(&self.0);
        KeyCheck(*hasher.finalize().as_bytes())
    }

    /// The MAC a genuine card returns for `challenge`.
    pub fn respond(&self, card: &CardId, challenge: &Challenge) -> ChipResponse {
        let mut hasher = blake3::Hasher::new_keyed(&self.0);
        hasher.update(CHALLENGE_DOMAIN);
        hasher.update(&(card.as_str().len() as u64).to_be_bytes());
        hasher.update(card.as_str().as_bytes());
        hasher.update(&challenge.0);
        ChipResponse(*hasher.finalize().as_bytes())
    }

    /// Claim 5: the card id encrypted with the device key (AES-SIV), stretched
    /// into the AES-256-SIV key that seals this card's licenses.
    pub fn card_bound_key(&self, card: &CardId) -> Result<CardBoundKey, CryptoError> {
        let seal_failed = CryptoError::SealFailed { what: "card id under the device key" };
        let mut siv = Aes128Siv::new_from_slice(&self.0).map_err(|_| seal_failed.clone())?;
        let encrypted_id = siv.encrypt([CARD_ID_SEAL_DOMAIN], card.as_str().as_bytes()).map_err(|_| seal_failed)?;
        let mut key = [0u8; 64];
        let mut hasher = blake3::Hasher::new_derive_key(CARD_BOUND_CONTEXT);
        hasher.update(&encrypted_id);
        hasher.finalize_xof().fill(&mut key);
        let bound = CardBoundKey(key);
        wipe(&mut key);
        Ok(bound)
    }
}

/// The physical card's chip: its id and device key. Licenses it stores are
/// the card stream's state, not kept here.
#[derive(Debug)]
pub struct CardChip {
    card: CardId,
    key: DeviceKey,
}

impl CardChip {
    /// A genuine card, personalised by the issuer.
    pub fn issue(issuer: &IssuerSecret, card: CardId) -> Self {
        let key = issuer.device_key(&card);
        CardChip { card, key }
    }
    /// A chip with an arbitrary key (a forgery or a clone, in tests and scenarios).
    pub fn with_key(card: CardId, key: DeviceKey) -> Self {
        CardChip { card, key }
    }
    pub fn card_id(&self) -> &CardId {
        &self.card
    }
    pub fn key_check(&self) -> KeyCheck {
        self.key.key_check()
    }
    /// Answers a verifier's challenge.
    pub fn respond(&self, challenge: &Challenge) -> ChipResponse {
        self.key.respond(&self.card, challenge)
    }
}

/// What a card presents to a verifier: the challenge it was sent and its answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CardProof {
    pub challenge: Challenge,
    pub response: ChipResponse,
}

impl CardProof {
    /// Runs the challenge on a chip (the kiosk or player talking to the card).
    pub fn from_chip(chip: &CardChip, challenge: Challenge) -> Self {
        CardProof { challenge, response: chip.respond(&challenge) }
    }
}

/// Verifies a card's answer against the key the issuer derived for it; on
/// success returns that key (needed to derive the card-bound key).
pub fn verify_card(issuer: &IssuerSecret, card: &CardId, proof: &CardProof) -> Option<DeviceKey> {
    let key = issuer.device_key(card);
    if key.respond(card, &proof.challenge) == proof.response {
        Some(key)
    } else {
        None
    }
}

/// A use condition as it stands on a card: uses left and an optional end date.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Encode, Decode)]
pub struct LicenseTerms {
    #[n(0)]
    pub uses_left: u32,
    /// The license does not play at or after this instant (002 claim 7).
    #[n(1)]
    pub valid_until: Option<Timestamp>,
}

impl LicenseTerms {
    pub fn is_expired(&self, now: Timestamp) -> bool {
        self.valid_until.is_some_and(|until| now >= until)
    }
    /// Still worth something: a use left and not expired.
    pub fn is_live(&self, now: Timestamp) -> bool {
        self.uses_left > 0 && !self.is_expired(now)
    }
}

/// A license in the clear (000 claims 2-4): content id, use condition and the
/// content key. Only ever exists in memory, never in an event.
#[derive(Debug, PartialEq, Eq)]
pub struct License {
    pub content: ContentId,
    pub terms: LicenseTerms,
    pub key: ContentKey,
}

/// A license sealed under a card-bound key (AES-256-SIV ciphertext).
#[derive(Clone, PartialEq, Eq, Hash, Encode, Decode)]
#[cbor(transparent)]
pub struct SealedLicense(#[cbor(n(0), with = "minicbor::bytes")] pub Vec<u8>);

impl std::fmt::Debug for SealedLicense {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SealedLicense({} bytes)", self.0.len())
    }
}

/// A content key sealed under the license server key (AES-256-SIV ciphertext).
#[derive(Clone, PartialEq, Eq, Hash, Encode, Decode)]
#[cbor(transparent)]
pub struct SealedContentKey(#[cbor(n(0), with = "minicbor::bytes")] pub Vec<u8>);

impl std::fmt::Debug for SealedContentKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SealedContentKey({} bytes)", self.0.len())
    }
}

/// Plaintext layout: version(1) | uses_left u32 BE | has_until(1) | until i64 BE | key(32) | content id.
const LICENSE_VERSION: u8 = 1;
const LICENSE_FIXED_LEN: usize = 1 + 4 + 1 + 8 + 32;

fn license_plaintext(license: &License) -> Vec<u8> {
    let mut out = Vec::with_capacity(LICENSE_FIXED_LEN + license.content.as_str().len());
    out.push(LICENSE_VERSION);
    out.extend_from_slice(&license.terms.uses_left.to_be_bytes());
    out.push(u8::from(license.terms.valid_until.is_some()));
    out.extend_from_slice(&license.terms.valid_until.map_or(0, Timestamp::micros).to_be_bytes());
    out.extend_from_slice(license.key.expose_secret());
    out.extend_from_slice(license.content.as_str().as_bytes());
    out
}

fn parse_license(card: &CardId, content: &ContentId, plain: &[u8]) -> Result<License, CryptoError> {
    let malformed = |reason| CryptoError::LicenseMalformed { card: card.clone(), content: content.clone(), reason };
    if plain.len() < LICENSE_FIXED_LEN {
        return Err(malformed("too short"));
    }
    if plain[0] != LICENSE_VERSION {
        return Err(malformed("unknown version"));
    }
    let uses_left = u32::from_be_bytes([plain[1], plain[2], plain[3], plain[4]]);
    let mut until = [0u8; 8];
    until.copy_from_slice(&plain[6..14]);
    let valid_until = match plain[5] {
        0 => None,
        1 => Some(Timestamp::from_micros(i64::from_be_bytes(until))),
        _ => return Err(malformed("bad validity flag")),
    };
    let mut key = [0u8; 32];
    key.copy_from_slice(&plain[14..46]);
    let key = ContentKey(key);
    if &plain[LICENSE_FIXED_LEN..] != content.as_str().as_bytes() {
        return Err(malformed("content id inside does not match"));
    }
    Ok(License { content: content.clone(), terms: LicenseTerms { uses_left, valid_until }, key })
}

fn license_headers<'a>(card: &'a CardId, content: &'a ContentId) -> [&'a [u8]; 3] {
    [LICENSE_DOMAIN, card.as_str().as_bytes(), content.as_str().as_bytes()]
}

impl CardBoundKey {
    /// Seals a license for `card` (deterministic: same inputs, same bytes).
    pub fn seal(&self, card: &CardId, license: &License) -> Result<SealedLicense, CryptoError> {
        let seal_failed = || CryptoError::SealFailed { what: "license" };
        let mut plain = license_plaintext(license);
        let sealed = Aes256Siv::new_from_slice(&self.0)
            .map_err(|_| seal_failed())
            .and_then(|mut siv| siv.encrypt(license_headers(card, &license.content), &plain).map_err(|_| seal_failed()));
        wipe(&mut plain);
        sealed.map(SealedLicense)
    }

    /// Opens a license of `content` sealed for `card`; fails if either differs or the bytes were altered.
    pub fn unseal(&self, card: &CardId, content: &ContentId, sealed: &SealedLicense) -> Result<License, CryptoError> {
        let unreadable = || CryptoError::LicenseUnreadable { card: card.clone(), content: content.clone() };
        let mut siv = Aes256Siv::new_from_slice(&self.0).map_err(|_| unreadable())?;
        let mut plain = siv.decrypt(license_headers(card, content), &sealed.0).map_err(|_| unreadable())?;
        let license = parse_license(card, content, &plain);
        wipe(&mut plain);
        license
    }
}

/// Content files (000 claims 9-11): AES-256-SIV under a cipher key stretched
/// from the content key, the content id as associated data. Each content has
/// its own fresh key and one file, so the deterministic mode reveals nothing.
impl ContentKey {
    fn file_cipher(&self) -> Option<Aes256Siv> {
        let mut key = [0u8; 64];
        let mut hasher = blake3::Hasher::new_derive_key(CONTENT_FILE_CONTEXT);
        hasher.update(&self.0);
        hasher.finalize_xof().fill(&mut key);
        let siv = Aes256Siv::new_from_slice(&key).ok();
        wipe(&mut key);
        siv
    }

    /// The content file as stored and shipped: ciphertext with its tag.
    pub fn encrypt_content(&self, content: &ContentId, plaintext: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let failed = || CryptoError::SealFailed { what: "content file" };
        let mut siv = self.file_cipher().ok_or_else(failed)?;
        siv.encrypt([CONTENT_FILE_DOMAIN, content.as_str().as_bytes()], plaintext).map_err(|_| failed())
    }

    /// The plaintext of a content file; an altered file or a wrong key is refused whole.
    pub fn decrypt_content(&self, content: &ContentId, ciphertext: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let unreadable = || CryptoError::ContentUnreadable { content: content.clone() };
        let mut siv = self.file_cipher().ok_or_else(unreadable)?;
        siv.decrypt([CONTENT_FILE_DOMAIN, content.as_str().as_bytes()], ciphertext).map_err(|_| unreadable())
    }
}

impl LicenseServerKey {
    fn siv_key(&self) -> [u8; 64] {
        let mut key = [0u8; 64];
        let mut hasher = blake3::Hasher::new_derive_key(CONTENT_KEY_SIV_CONTEXT);
        hasher.update(&self.0);
        hasher.finalize_xof().fill(&mut key);
        key
    }

    fn cipher(&self) -> Option<Aes256Siv> {
        let mut key = self.siv_key();
        let siv = Aes256Siv::new_from_slice(&key).ok();
        wipe(&mut key);
        siv
    }

    /// Seals a content key for the catalogue, bound to its content id.
    pub fn seal_content_key(&self, content: &ContentId, key: &ContentKey) -> Result<SealedContentKey, CryptoError> {
        let seal_failed = || CryptoError::SealFailed { what: "content key" };
        let mut siv = self.cipher().ok_or_else(seal_failed)?;
        siv.encrypt([CONTENT_KEY_DOMAIN, content.as_str().as_bytes()], key.expose_secret()).map(SealedContentKey).map_err(|_| seal_failed())
    }

    /// Opens a catalogue content key.
    pub fn unseal_content_key(&self, content: &ContentId, sealed: &SealedContentKey) -> Result<ContentKey, CryptoError> {
        let unreadable = || CryptoError::ContentKeyUnreadable { content: content.clone() };
        let mut siv = self.cipher().ok_or_else(unreadable)?;
        let mut plain = siv.decrypt([CONTENT_KEY_DOMAIN, content.as_str().as_bytes()], &sealed.0).map_err(|_| unreadable())?;
        let result = if plain.len() == ContentKey::LEN {
            let mut key = [0u8; 32];
            key.copy_from_slice(&plain);
            Ok(ContentKey(key))
        } else {
            Err(unreadable())
        };
        wipe(&mut plain);
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn card(s: &str) -> CardId {
        CardId::new(s).unwrap()
    }
    fn content(s: &str) -> ContentId {
        ContentId::new(s).unwrap()
    }
    fn issuer() -> IssuerSecret {
        IssuerSecret::from_bytes([7; 32])
    }
    fn license(c: &str, uses: u32) -> License {
        License {
            content: content(c),
            terms: LicenseTerms { uses_left: uses, valid_until: Some(Timestamp::from_secs(1000)) },
            key: ContentKey::from_bytes([0xC5; 32]),
        }
    }

    #[test]
    fn rule_card_1_genuine_card_passes_verification() {
        let chip = CardChip::issue(&issuer(), card("c1"));
        let proof = CardProof::from_chip(&chip, Challenge([1; 32]));
        assert!(verify_card(&issuer(), &card("c1"), &proof).is_some());
    }

    #[test]
    fn rule_card_1_forged_card_fails_verification() {
        let forged = CardChip::with_key(card("c1"), DeviceKey::from_bytes([9; 32]));
        let proof = CardProof::from_chip(&forged, Challenge([1; 32]));
        assert!(verify_card(&issuer(), &card("c1"), &proof).is_none());
    }

    #[test]
    fn rule_card_1_cloned_card_replaying_an_old_answer_fails_a_new_challenge() {
        let genuine = CardChip::issue(&issuer(), card("c1"));
        let recorded = CardProof::from_chip(&genuine, Challenge([1; 32]));
        let replay = CardProof { challenge: Challenge([2; 32]), response: recorded.response };
        assert!(verify_card(&issuer(), &card("c1"), &replay).is_none());
    }

    #[test]
    fn a_genuine_card_of_another_id_does_not_pass_as_this_one() {
        let other = CardChip::issue(&issuer(), card("c2"));
        let proof = CardProof::from_chip(&other, Challenge([1; 32]));
        assert!(verify_card(&issuer(), &card("c1"), &proof).is_none());
    }

    #[test]
    fn rule_card_3_license_opens_only_on_its_own_card_and_content() {
        let key1 = issuer().device_key(&card("c1")).card_bound_key(&card("c1")).unwrap();
        let key2 = issuer().device_key(&card("c2")).card_bound_key(&card("c2")).unwrap();
        let sealed = key1.seal(&card("c1"), &license("m1", 3)).unwrap();
        assert_eq!(key1.unseal(&card("c1"), &content("m1"), &sealed).unwrap(), license("m1", 3));
        assert!(matches!(key2.unseal(&card("c2"), &content("m1"), &sealed), Err(CryptoError::LicenseUnreadable { .. })));
        assert!(key1.unseal(&card("c1"), &content("m2"), &sealed).is_err());
        let mut tampered = sealed.clone();
        tampered.0[20] ^= 1;
        assert!(key1.unseal(&card("c1"), &content("m1"), &tampered).is_err());
    }

    #[test]
    fn sealing_is_deterministic() {
        let key = issuer().device_key(&card("c1")).card_bound_key(&card("c1")).unwrap();
        let again = issuer().device_key(&card("c1")).card_bound_key(&card("c1")).unwrap();
        assert_eq!(key.seal(&card("c1"), &license("m1", 3)).unwrap(), again.seal(&card("c1"), &license("m1", 3)).unwrap());
        assert_ne!(key.seal(&card("c1"), &license("m1", 3)).unwrap(), key.seal(&card("c1"), &license("m1", 2)).unwrap());
        let server = LicenseServerKey::from_bytes([3; 32]);
        let ck = ContentKey::from_bytes([4; 32]);
        assert_eq!(server.seal_content_key(&content("m1"), &ck).unwrap(), server.seal_content_key(&content("m1"), &ck).unwrap());
    }

    #[test]
    fn content_key_round_trips_and_is_bound_to_its_content() {
        let server = LicenseServerKey::from_bytes([3; 32]);
        let sealed = server.seal_content_key(&content("m1"), &ContentKey::from_bytes([4; 32])).unwrap();
        assert_eq!(server.unseal_content_key(&content("m1"), &sealed).unwrap(), ContentKey::from_bytes([4; 32]));
        assert!(server.unseal_content_key(&content("m2"), &sealed).is_err());
        assert!(LicenseServerKey::from_bytes([5; 32]).unseal_content_key(&content("m1"), &sealed).is_err());
    }

    #[test]
    fn secrets_debug_as_redacted() {
        assert_eq!(format!("{:?}", DeviceKey::from_bytes([0xAB; 32])), "DeviceKey(<redacted>)");
        assert_eq!(format!("{:?}", ContentKey::from_bytes([0xAB; 32])), "ContentKey(<redacted>)");
        let chip = CardChip::issue(&issuer(), card("c1"));
        let shown = format!("{chip:?} {:?}", license("m1", 1));
        assert!(shown.contains("<redacted>"));
        assert!(!shown.contains("197"), "content key bytes leaked: {shown}");
    }
}
