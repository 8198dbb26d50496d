//! What a player remembers of the cards it has seen: the highest generation
//! of each. A card file copied before a play and put back afterwards carries
//! an older generation (sealed under the card's key, so it cannot be raised
//! by hand) and is refused, so the old use count never comes back on a
//! player that saw the newer one.
//!
//! Kept as one small file per card in the player's state directory, written
//! atomically after the card itself is written.

use std::fs;
use std::path::{Path, PathBuf};

use encore_domain::ids::CardId;

use crate::module::CardFile;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WitnessError {
    #[error("card {card} was rolled back: it is at generation {presented}, and this player already saw generation {seen}")]
    RolledBack { card: CardId, presented: u64, seen: u64 },
    #[error("the player's record of card {card} at {path} is unreadable: {reason}")]
    Unreadable { card: CardId, path: PathBuf, reason: String },
    #[error("cannot write the player's record of card {card} at {path}: {source}")]
    Write { card: CardId, path: PathBuf, source: std::io::Error },
}

/// The generations one player has seen, in a directory of its own.
#[derive(Debug, Clone)]
pub struct Witness {
    dir: PathBuf,
}

impl Witness {
    pub fn new(dir: &Path) -> Self {
        Witness { dir: dir.to_path_buf() }
    }

    fn path(&self, card: &CardId) -> PathBuf {
        self.dir.join(format!("{}.seen", card.as_str()))
    }

    /// The highest generation of `card` seen here (0 if never seen).
    pub fn seen(&self, card: &CardId) -> Result<u64, WitnessError> {
        let path = self.path(card);
        let unreadable = |reason: String| WitnessError::Unreadable { card: card.clone(), path: path.clone(), reason };
        match read_small(&path) {
            Ok(text) => text.trim().parse::<u64>().map_err(|e| unreadable(e.to_string())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(0),
            Err(e) => Err(unreadable(e.to_string())),
        }
    }

    /// Refuses a card older than what this player saw.
    pub fn check(&self, card: &CardFile) -> Result<(), WitnessError> {
        let seen = self.seen(card.card())?;
        if card.generation() < seen {
            return Err(WitnessError::RolledBack { card: card.card().clone(), presented: card.generation(), seen });
        }
        Ok(())
    }

    /// Remembers the card's generation (call after the card itself is written).
    pub fn remember(&self, card: &CardFile) -> Result<(), WitnessError> {
        let path = self.path(card.card());
        let write = |source| WitnessError::Write { card: card.card().clone(), path: path.clone(), source };
        fs::create_dir_all(&self.dir).map_err(write)?;
        crate::store::write_atomically(&path, card.generation().to_string().as_bytes()).map_err(write)
    }
}

/// A witness file holds one number: a file over 64 bytes is not a witness, and is not read whole.
fn read_small(path: &Path) -> std::io::Result<String> {
    use std::io::Read;
    const LIMIT: u64 = 64;
    let mut text = String::new();
    fs::File::open(path)?.take(LIMIT + 1).read_to_string(&mut text)?;
    if text.len() as u64 > LIMIT {
        return Err(std::io::Error::new(std::io::ErrorKind::InvalidData, format!("larger than {LIMIT} bytes, the limit for a witness file")));
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use encore_domain::ids::{AccountId, ContentId};
    use encore_domain::licensing::DeviceKey;

    #[test]
    fn an_older_copy_of_a_card_is_refused_after_a_newer_one_was_seen() {
        let dir = tempfile::tempdir().unwrap();
        let witness = Witness::new(dir.path());
        let mut card = CardFile::personalise(CardId::new("c1").unwrap(), AccountId::new("a1").unwrap(), None, DeviceKey::from_bytes([2; 32]));
        let copy = CardFile::from_bytes(&card.to_bytes().unwrap()).unwrap();
        card.record_wanted(ContentId::new("m1").unwrap());
        witness.check(&card).unwrap();
        witness.remember(&card).unwrap();
        assert!(matches!(witness.check(&copy), Err(WitnessError::RolledBack { presented: 0, seen: 1, .. })));
        witness.check(&card).unwrap();
    }
}
