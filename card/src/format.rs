//! The card file's bytes:
//!
//! ```text
//! magic "ENCORE-CARD\0" (12) | version (1) | body length u32 BE (4) | body (CBOR)
//! | MAC (32): keyed blake3 under the card's device key over everything before
//! | checksum (32): blake3 over everything before
//! ```
//!
//! The checksum tells a torn or damaged file from an altered one; the MAC
//! binds every field (the generation counter most of all) to the card's key,
//! so an edit made without the card module is refused. Decoding checks in
//! that order and refuses the whole file at the first failure: nothing is
//! ever half-read.
// A decoder takes bytes from disk or the network: no index may panic.
#![deny(clippy::indexing_slicing)]

use encore_domain::ids::{AccountId, CardId, ContentId};
use encore_domain::Timestamp;

use crate::module::CardLicense;

const MAGIC: &[u8; 12] = b"ENCORE-CARD\0";
const VERSION: u8 = 1;
const HEADER_LEN: usize = MAGIC.len() + 1 + 4;
const TRAILER_LEN: usize = 32 + 32;
const MAC_CONTEXT: &str = "encore card file mac v1";

/// A card file is small: a few hundred licenses fit in far less.
pub const MAX_CARD_FILE_BYTES: usize = 1 << 20;

/// Why bytes are not a card file. Names the problem, never key bytes.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CardFileError {
    #[error("not a card file: it does not start with Encore's card magic")]
    NotACard,
    #[error("card file version {found} is not one this build reads (it reads {VERSION})")]
    UnknownVersion { found: u8 },
    #[error("the card file is {len} bytes, more than the {MAX_CARD_FILE_BYTES} a card holds")]
    TooLarge { len: usize },
    #[error("the card file is torn or damaged: {len} bytes where its header promises {expected}")]
    Truncated { len: usize, expected: usize },
    #[error("the card file is damaged: its checksum does not match")]
    Damaged,
    #[error("the card file's contents do not decode: {reason}")]
    Malformed { reason: String },
    #[error("card {card}'s file was altered outside the card (its MAC does not match its device key)")]
    Altered { card: CardId },
    #[error("card {card}'s file holds two licenses for content {content}")]
    DuplicateLicense { card: CardId, content: ContentId },
}

/// The body as it is encoded. Holds the device key: wiped on drop, never printed.
#[derive(minicbor::Encode, minicbor::Decode)]
pub(crate) struct Body {
    #[n(0)]
    pub card: CardId,
    #[n(1)]
    pub account: AccountId,
    #[n(2)]
    pub expires_at: Option<Timestamp>,
    #[cbor(n(3), with = "minicbor::bytes")]
    pub key: [u8; 32],
    #[n(4)]
    pub generation: u64,
    #[n(5)]
    pub licenses: Vec<CardLicense>,
    #[n(6)]
    pub requested: Vec<ContentId>,
}

impl Drop for Body {
    fn drop(&mut self) {
        self.key.iter_mut().for_each(|b| *b = 0);
        std::hint::black_box(&self.key);
    }
}

fn mac(key: &[u8; 32], signed: &[u8]) -> [u8; 32] {
    let mut hasher = blake3::Hasher::new_keyed(&blake3::derive_key(MAC_CONTEXT, key));
    hasher.update(signed);
    *hasher.finalize().as_bytes()
}

/// The file's bytes for `body`.
pub(crate) fn encode(body: &Body) -> Result<Vec<u8>, CardFileError> {
    let cbor = minicbor::to_vec(body).map_err(|e| CardFileError::Malformed { reason: e.to_string() })?;
    let body_len = u32::try_from(cbor.len()).map_err(|_| CardFileError::TooLarge { len: cbor.len() })?;
    let mut out = Vec::with_capacity(HEADER_LEN + cbor.len() + TRAILER_LEN);
    out.extend_from_slice(MAGIC);
    out.push(VERSION);
    out.extend_from_slice(&body_len.to_be_bytes());
    out.extend_from_slice(&cbor);
    let tag = mac(&body.key, &out);
    out.extend_from_slice(&tag);
    let checksum = *blake3::hash(&out).as_bytes();
    out.extend_from_slice(&checksum);
    if out.len() > MAX_CARD_FILE_BYTES {
        return Err(CardFileError::TooLarge { len: out.len() });
    }
    Ok(out)
}

/// The body of a card file's bytes, every check passed.
pub(crate) fn decode(bytes: &[u8]) -> Result<Body, CardFileError> {
    if bytes.len() > MAX_CARD_FILE_BYTES {
        return Err(CardFileError::TooLarge { len: bytes.len() });
    }
    if bytes.get(..MAGIC.len()) != Some(MAGIC.as_slice()) {
        return Err(CardFileError::NotACard);
    }
    let truncated = |expected| CardFileError::Truncated { len: bytes.len(), expected };
    let version = *bytes.get(MAGIC.len()).ok_or(truncated(HEADER_LEN + TRAILER_LEN))?;
    if version != VERSION {
        return Err(CardFileError::UnknownVersion { found: version });
    }
    let len_bytes: [u8; 4] = bytes.get(MAGIC.len() + 1..HEADER_LEN).and_then(|b| b.try_into().ok()).ok_or(truncated(HEADER_LEN + TRAILER_LEN))?;
    let body_len = u32::from_be_bytes(len_bytes) as usize;
    let expected = HEADER_LEN + body_len + TRAILER_LEN;
    if bytes.len() != expected {
        return Err(truncated(expected));
    }
    let (signed_and_mac, checksum) = bytes.split_at(expected - 32);
    if blake3::hash(signed_and_mac) != blake3::Hash::from_slice(checksum).map_err(|_| CardFileError::Damaged)? {
        return Err(CardFileError::Damaged);
    }
    let (signed, tag) = signed_and_mac.split_at(signed_and_mac.len() - 32);
    let cbor = signed.get(HEADER_LEN..).ok_or(truncated(expected))?;
    let body: Body = minicbor::decode(cbor).map_err(|e| CardFileError::Malformed { reason: e.to_string() })?;
    let expected_tag = blake3::Hash::from(mac(&body.key, signed));
    if expected_tag != blake3::Hash::from_slice(tag).map_err(|_| CardFileError::Damaged)? {
        return Err(CardFileError::Altered { card: body.card.clone() });
    }
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body() -> Body {
        Body {
            card: CardId::new("c1").unwrap(),
            account: AccountId::new("a1").unwrap(),
            expires_at: None,
            key: [5; 32],
            generation: 3,
            licenses: Vec::new(),
            requested: vec![ContentId::new("m1").unwrap()],
        }
    }

    #[test]
    fn a_card_file_round_trips() {
        let bytes = encode(&body()).unwrap();
        let back = decode(&bytes).unwrap();
        assert_eq!((back.card.clone(), back.generation, back.key, back.requested.clone()), (body().card.clone(), 3, [5; 32], body().requested.clone()));
    }

    #[test]
    fn every_truncation_and_every_flipped_byte_is_refused() {
        let bytes = encode(&body()).unwrap();
        for len in 0..bytes.len() {
            assert!(decode(&bytes[..len]).is_err(), "a file cut at {len} bytes was read");
        }
        for at in 0..bytes.len() {
            let mut flipped = bytes.clone();
            flipped[at] ^= 0x10;
            assert!(decode(&flipped).is_err(), "a flip at byte {at} was read");
        }
    }

    #[test]
    fn an_edit_with_a_fresh_checksum_is_refused_as_altered() {
        let bytes = encode(&body()).unwrap();
        // Raise the generation in the CBOR body and recompute the checksum, as a hand edit would.
        let mut body = decode(&bytes).unwrap();
        body.generation = 9;
        let mut edited = encode(&body).unwrap();
        let tag_at = edited.len() - 64;
        edited[tag_at..tag_at + 32].copy_from_slice(&bytes[bytes.len() - 64..bytes.len() - 32]);
        let checksum = *blake3::hash(&edited[..edited.len() - 32]).as_bytes();
        let end = edited.len();
        edited[end - 32..].copy_from_slice(&checksum);
        assert_eq!(decode(&edited).err(), Some(CardFileError::Altered { card: CardId::new("c1").unwrap() }));
    }
}
