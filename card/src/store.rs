//! Card files on disk: read with a size limit (a card is never bigger than
//! [`MAX_CARD_FILE_BYTES`]), written atomically: a temporary file beside the
//! target (mode 0600: it holds the chip's key), fsync, rename, fsync of the
//! directory. A crash leaves the old card or the new one, never half of one.

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use crate::format::{CardFileError, MAX_CARD_FILE_BYTES};
use crate::module::CardFile;

/// Why a card file could not be read or written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CardIoError {
    #[error("cannot read card file {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("cannot write card file {path}: {source}")]
    Write { path: PathBuf, source: std::io::Error },
    #[error("card file {path}: {source}")]
    Card { path: PathBuf, source: CardFileError },
}

/// Reads and checks the card file at `path`.
pub fn read_card(path: &Path) -> Result<CardFile, CardIoError> {
    let read = |source| CardIoError::Read { path: path.to_path_buf(), source };
    let file = File::open(path).map_err(read)?;
    let mut bytes = Vec::new();
    file.take(MAX_CARD_FILE_BYTES as u64 + 1).read_to_end(&mut bytes).map_err(read)?;
    CardFile::from_bytes(&bytes).map_err(|source| CardIoError::Card { path: path.to_path_buf(), source })
}

/// Writes `card` to `path`, replacing what was there in one step.
pub fn write_card(path: &Path, card: &CardFile) -> Result<(), CardIoError> {
    let bytes = card.to_bytes().map_err(|source| CardIoError::Card { path: path.to_path_buf(), source })?;
    write_atomically(path, &bytes).map_err(|source| CardIoError::Write { path: path.to_path_buf(), source })
}

/// Writes `bytes` to `path` in one step (temporary file 0600 beside it, fsync,
/// rename, fsync of the directory); a failed write leaves no temporary file.
pub(crate) fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path.file_name().ok_or_else(|| std::io::Error::new(std::io::ErrorKind::InvalidInput, "a path to write needs a file name"))?;
    let temporary = dir.join(format!(".{}.writing-{}", name.to_string_lossy(), std::process::id()));
    let written = (|| {
        let mut file = OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(&temporary)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        fs::rename(&temporary, path)?;
        File::open(&dir)?.sync_all()
    })();
    if written.is_err() {
        let _ = fs::remove_file(&temporary);
    }
    written
}

#[cfg(test)]
mod tests {
    use super::*;
    use encore_domain::ids::{AccountId, CardId};
    use encore_domain::licensing::DeviceKey;
    use std::os::unix::fs::PermissionsExt;

    fn card() -> CardFile {
        CardFile::personalise(CardId::new("c1").unwrap(), AccountId::new("a1").unwrap(), None, DeviceKey::from_bytes([2; 32]))
    }

    #[test]
    fn a_written_card_reads_back_private_and_leaves_no_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c1.card");
        write_card(&path, &card()).unwrap();
        assert_eq!(read_card(&path).unwrap().card().as_str(), "c1");
        assert_eq!(fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn a_huge_or_torn_file_is_refused_with_its_path() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big.card");
        fs::write(&path, vec![0u8; MAX_CARD_FILE_BYTES + 10]).unwrap();
        assert!(matches!(read_card(&path), Err(CardIoError::Card { source: CardFileError::TooLarge { .. }, .. })));
        let bytes = card().to_bytes().unwrap();
        fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
        let err = read_card(&path).unwrap_err();
        assert!(matches!(err, CardIoError::Card { source: CardFileError::Truncated { .. }, .. }), "{err}");
        assert!(err.to_string().contains("big.card"));
    }
}
