//! The card a customer carries (000 claims 1-14; 002 claims 3-5): the
//! simulated license storing device, as a file.
//!
//! A card file holds what the seeds put on the card: its id, its device key
//! (the chip's secret: it lives here and nowhere else outside the issuer,
//! who re-derives it from the issuer secret), its accounting id, the sealed
//! licenses written on it, the content ids a player recorded for a kiosk,
//! and a generation counter that every write raises.
//!
//! | file | role |
//! |---|---|
//! | `format.rs` | the byte layout: magic, version, CBOR body, MAC under the device key, checksum |
//! | `module.rs` | [`CardFile`]: the card module stations talk to (answer a challenge, write a license, play) |
//! | `store.rs` | reading with a size limit and writing atomically (temporary file, fsync, rename, fsync dir) |
//! | `witness.rs` | what a player remembers of each card it saw, so a rolled-back copy is refused |
//!
//! A station never reads the device key: it asks the module to answer a
//! challenge, to re-seal a license after a play, or to open the license it
//! plays. A typed card id proves nothing (the server checks the answer
//! against the key it derives); a file whose id was changed answers wrongly
//! and its licenses no longer open; a torn or edited file is refused whole.

mod format;
mod module;
mod store;
mod witness;

pub use format::{CardFileError, MAX_CARD_FILE_BYTES};
pub use module::{CardFile, CardLicense, CardPlayError, Played};
pub use store::{read_card, write_card, CardIoError};
pub use witness::{Witness, WitnessError};
