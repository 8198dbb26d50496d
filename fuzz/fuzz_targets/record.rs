//! The log's record decoder (`ledger/src/record.rs`), on bytes as stored.
//!
//! Each input is tried twice: as it is (a record whose own hash must match),
//! and with its last 32 bytes replaced by the blake3 of the rest, so that the
//! field decoders behind the hash check are reached. A record that decodes
//! encodes back to exactly the bytes it came from: the format is canonical.
#![no_main]

use encore_ledger::{Record, RecordRef};
use libfuzzer_sys::fuzz_target;

fn check(bytes: &[u8]) {
    let Ok(borrowed) = RecordRef::decode(bytes) else { return };
    let owned = borrowed.to_owned().expect("a record that decodes in place decodes owned");
    assert_eq!(owned.as_ref(), borrowed, "the borrowed and owned decoders agree");
    assert_eq!(owned.encode(), bytes, "a decoded record encodes to the bytes it came from");
    assert_eq!(owned.compute_hash(), owned.hash, "a decoded record's hash is its own");
    assert_eq!(Record::decode(bytes).as_ref(), Ok(&owned));
}

fuzz_target!(|data: &[u8]| {
    check(data);
    if let Some(split) = data.len().checked_sub(32) {
        let mut sealed = data.to_vec();
        let hash = blake3::hash(&data[..split]);
        sealed[split..].copy_from_slice(hash.as_bytes());
        check(&sealed);
    }
});
