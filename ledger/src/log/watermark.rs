//! The acknowledged watermark: how far the log had acknowledged, kept outside
//! RocksDB, so that a log whose WAL comes back shorter is refused, not believed.
//!
//! RocksDB's recovery is only as good as the WAL it reads: a flipped byte can
//! make a record look like a torn tail, and a lost WAL file looks like nothing
//! at all. So before any append is acknowledged, the head it reaches (position
//! and hash) is written to `ACKNOWLEDGED` in the log directory and synced. On
//! open the recovered head must reach that position, and the record there must
//! carry that hash; otherwise the open is refused and names both positions.
//!
//! The file is two fixed 64-byte slots, 4 KiB apart, written alternately in
//! place (the file never changes size, so `fdatasync` writes no metadata); a
//! torn write spoils one slot and the other still holds the previous head.
//!
//! | bytes  | field                                               |
//! |--------|-----------------------------------------------------|
//! | 0..8   | magic `ENCACK01`                                    |
//! | 8..16  | sequence (u64 LE; the slot with the higher one wins) |
//! | 16..24 | acknowledged position (u64 LE)                      |
//! | 24..56 | hash of the record at that position                 |
//! | 56..64 | the first 8 bytes of blake3 over bytes 0..56         |

use std::fs::File;
use std::io::ErrorKind;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use crate::types::{Hash, Head};

pub(crate) const WATERMARK_FILE: &str = "ACKNOWLEDGED";
const MAGIC: &[u8; 8] = b"ENCACK01";
const SLOT_BYTES: usize = 64;
const SLOT_OFFSETS: [u64; 2] = [0, 4096];
const FILE_BYTES: u64 = 8192;

/// The acknowledged head as the watermark file last recorded it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Acknowledged {
    pub position: u64,
    pub hash: Hash,
}

/// Why the watermark file could not be read or written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum WatermarkError {
    /// The file is not there.
    Missing,
    /// The file is there but neither slot checks out.
    Unreadable(String),
    /// The operating system refused a read, write or sync.
    Io(String),
}

impl std::fmt::Display for WatermarkError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            WatermarkError::Missing => write!(f, "{WATERMARK_FILE} is missing"),
            WatermarkError::Unreadable(reason) => write!(f, "{WATERMARK_FILE} is unreadable: {reason}"),
            WatermarkError::Io(reason) => write!(f, "{WATERMARK_FILE}: {reason}"),
        }
    }
}

/// The open watermark file of a log that can be written.
pub(crate) struct Watermark {
    file: File,
    /// The sequence of the slot written last (the next write takes the other).
    sequence: u64,
    path: PathBuf,
}

impl Watermark {
    /// Creates the file for `head` (a new log, or a log made before the
    /// watermark existed) and syncs it and its directory.
    pub(crate) fn create(dir: &Path, head: Head) -> Result<Watermark, WatermarkError> {
        let path = dir.join(WATERMARK_FILE);
        let io = |e: std::io::Error| WatermarkError::Io(e.to_string());
        let file = std::fs::OpenOptions::new().read(true).write(true).create(true).truncate(true).open(&path).map_err(io)?;
        file.set_len(FILE_BYTES).map_err(io)?;
        let mut watermark = Watermark { file, sequence: 0, path };
        watermark.write_slot(Acknowledged { position: head.position, hash: head.hash })?;
        watermark.file.sync_all().map_err(io)?;
        File::open(dir).and_then(|d| d.sync_all()).map_err(io)?;
        Ok(watermark)
    }

    /// Opens the file of an existing log for writing, with what it recorded.
    pub(crate) fn open(dir: &Path) -> Result<(Watermark, Acknowledged), WatermarkError> {
        let path = dir.join(WATERMARK_FILE);
        let file = match std::fs::OpenOptions::new().read(true).write(true).open(&path) {
            Ok(file) => file,
            Err(e) if e.kind() == ErrorKind::NotFound => return Err(WatermarkError::Missing),
            Err(e) => return Err(WatermarkError::Io(e.to_string())),
        };
        let (sequence, acknowledged) = read_slots(&file)?;
        Ok((Watermark { file, sequence, path }, acknowledged))
    }

    /// Records that everything up to `head` is acknowledged, durably, before
    /// anyone is told. A failure here must poison the log.
    pub(crate) fn advance(&mut self, head: Head) -> Result<(), String> {
        self.write_slot(Acknowledged { position: head.position, hash: head.hash }).map_err(|e| e.to_string())?;
        self.file.sync_data().map_err(|e| format!("{}: sync failed: {e}", self.path.display()))
    }

    fn write_slot(&mut self, acknowledged: Acknowledged) -> Result<(), WatermarkError> {
        let sequence = self.sequence + 1;
        let slot = encode_slot(sequence, acknowledged);
        let offset = SLOT_OFFSETS[(sequence % 2) as usize];
        self.file.write_all_at(&slot, offset).map_err(|e| WatermarkError::Io(e.to_string()))?;
        self.sequence = sequence;
        Ok(())
    }
}

/// What the watermark file of a log records, without opening it for writing
/// (read-only opens and repairs).
pub(crate) fn read(dir: &Path) -> Result<Acknowledged, WatermarkError> {
    let file = match File::open(dir.join(WATERMARK_FILE)) {
        Ok(file) => file,
        Err(e) if e.kind() == ErrorKind::NotFound => return Err(WatermarkError::Missing),
        Err(e) => return Err(WatermarkError::Io(e.to_string())),
    };
    read_slots(&file).map(|(_, acknowledged)| acknowledged)
}

/// The valid slot with the higher sequence.
fn read_slots(file: &File) -> Result<(u64, Acknowledged), WatermarkError> {
    let mut best: Option<(u64, Acknowledged)> = None;
    let mut reasons = Vec::new();
    for offset in SLOT_OFFSETS {
        let mut slot = [0u8; SLOT_BYTES];
        if let Err(e) = file.read_exact_at(&mut slot, offset) {
            reasons.push(format!("slot at {offset}: {e}"));
            continue;
        }
        match decode_slot(&slot) {
            Ok((sequence, acknowledged)) if best.is_none_or(|(s, _)| sequence > s) => best = Some((sequence, acknowledged)),
            Ok(_) => {}
            Err(reason) => reasons.push(format!("slot at {offset}: {reason}")),
        }
    }
    best.ok_or_else(|| WatermarkError::Unreadable(reasons.join("; ")))
}

fn encode_slot(sequence: u64, acknowledged: Acknowledged) -> [u8; SLOT_BYTES] {
    let mut slot = [0u8; SLOT_BYTES];
    slot[0..8].copy_from_slice(MAGIC);
    slot[8..16].copy_from_slice(&sequence.to_le_bytes());
    slot[16..24].copy_from_slice(&acknowledged.position.to_le_bytes());
    slot[24..56].copy_from_slice(&acknowledged.hash);
    let check = blake3::hash(&slot[..56]);
    slot[56..64].copy_from_slice(&check.as_bytes()[..8]);
    // Paired assertion: what is written reads back as what was meant.
    assert_eq!(decode_slot(&slot), Ok((sequence, acknowledged)), "a watermark slot survives its own encoding");
    slot
}

fn decode_slot(slot: &[u8; SLOT_BYTES]) -> Result<(u64, Acknowledged), String> {
    if &slot[0..8] != MAGIC {
        return Err("no watermark magic".into());
    }
    if blake3::hash(&slot[..56]).as_bytes()[..8] != slot[56..64] {
        return Err("checksum mismatch".into());
    }
    let u64_at = |range: std::ops::Range<usize>| {
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(&slot[range]);
        u64::from_le_bytes(bytes)
    };
    let mut hash = [0u8; 32];
    hash.copy_from_slice(&slot[24..56]);
    Ok((u64_at(8..16), Acknowledged { position: u64_at(16..24), hash }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(position: u64, byte: u8) -> Head {
        Head { position, hash: [byte; 32], recorded_at: 0 }
    }

    #[test]
    fn the_newest_slot_wins_and_a_torn_one_falls_back_to_the_other() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = Watermark::create(dir.path(), head(0, 0)).unwrap();
        w.advance(head(5, 5)).unwrap();
        w.advance(head(9, 9)).unwrap();
        assert_eq!(read(dir.path()).unwrap(), Acknowledged { position: 9, hash: [9; 32] });
        let (_, reopened) = Watermark::open(dir.path()).unwrap();
        assert_eq!(reopened.position, 9);
        // Tear the newest slot (sequence 3, at offset 4096): the previous head remains.
        let file = std::fs::OpenOptions::new().write(true).open(dir.path().join(WATERMARK_FILE)).unwrap();
        file.write_all_at(&[0xff; 20], 4096 + 10).unwrap();
        assert_eq!(read(dir.path()).unwrap(), Acknowledged { position: 5, hash: [5; 32] });
        file.write_all_at(&[0xff; 20], 10).unwrap();
        assert!(matches!(read(dir.path()), Err(WatermarkError::Unreadable(_))));
    }

    #[test]
    fn a_missing_file_is_named_as_missing() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(read(dir.path()), Err(WatermarkError::Missing));
    }
}
