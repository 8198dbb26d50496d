//! The card-file parser (`card/src/format.rs`, `CardFile::from_bytes`): a card
//! comes from a customer's pocket. Each input is tried as a whole file, and as
//! a body framed the way the format frames one (magic, version, length, the
//! body, a MAC, a good checksum) so the CBOR decoder behind the checksum is
//! reached. The MAC is under the card's own key, so a framed body with a
//! guessed MAC must be refused; a file that is accepted round-trips.
#![no_main]

use encore_card::CardFile;
use libfuzzer_sys::fuzz_target;

fn framed(body: &[u8]) -> Option<Vec<u8>> {
    let len = u32::try_from(body.len()).ok()?;
    let mut out = b"ENCORE-CARD\0".to_vec();
    out.push(1);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(body);
    out.extend_from_slice(&[0; 32]);
    let checksum = blake3::hash(&out);
    out.extend_from_slice(checksum.as_bytes());
    Some(out)
}

fuzz_target!(|data: &[u8]| {
    if let Ok(card) = CardFile::from_bytes(data) {
        let bytes = card.to_bytes().expect("an accepted card encodes");
        let again = CardFile::from_bytes(&bytes).expect("a re-encoded card is accepted");
        assert_eq!((again.card(), again.generation()), (card.card(), card.generation()));
    }
    if let Some(file) = framed(data) {
        // A zero MAC is a guess; a MAC of all zeros under a real key is 2^-256.
        assert!(CardFile::from_bytes(&file).is_err(), "a body with a guessed MAC is refused");
    }
});
