//! The stored form of a snapshot and its aux keys.
//!
//! ```text
//! snapshot/actor/{stream}/{stream version, 20 digits}
//! snapshot/projection/{name}/{global position, 20 digits}
//! ```
//! Zero-padded numbers make key order equal version order, so the newest
//! snapshot of a subject is the last key under its prefix.

use encore_ledger::Hash;
use minicbor::{Decode, Encode};

/// The envelope format this build writes and reads.
pub const SNAPSHOT_FORMAT_VERSION: u32 = 1;

/// A stored snapshot: where it was taken, what it must hash to, and the state.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct Snapshot {
    #[n(0)]
    pub format: u32,
    /// `account`, `card`, ... or `projection`.
    #[n(1)]
    pub kind: String,
    /// The stream name, or the projection name.
    #[n(2)]
    pub subject: String,
    /// Stream version (actor) or global position (projection).
    #[n(3)]
    pub version: u64,
    /// Global position of the record the state was folded up to.
    #[n(4)]
    pub position: u64,
    /// That record's hash: the log's chain head at the snapshot.
    #[cbor(n(5), with = "minicbor::bytes")]
    pub chain_hash: Hash,
    /// blake3 of `state`.
    #[cbor(n(6), with = "minicbor::bytes")]
    pub state_hash: Hash,
    #[cbor(n(7), with = "minicbor::bytes")]
    pub state: Vec<u8>,
}

impl Snapshot {
    pub fn new(kind: &str, subject: &str, version: u64, position: u64, chain_hash: Hash, state: Vec<u8>) -> Self {
        Snapshot {
            format: SNAPSHOT_FORMAT_VERSION,
            kind: kind.to_string(),
            subject: subject.to_string(),
            version,
            position,
            chain_hash,
            state_hash: *blake3::hash(&state).as_bytes(),
            state,
        }
    }

    pub fn encode(&self) -> Vec<u8> {
        encore_domain::codec::to_cbor(self)
    }

    pub fn decode(bytes: &[u8]) -> Result<Self, String> {
        minicbor::decode(bytes).map_err(|e| e.to_string())
    }

    /// Whether `state` hashes to `state_hash`.
    pub fn state_is_intact(&self) -> bool {
        blake3::hash(&self.state).as_bytes() == &self.state_hash
    }
}

/// A stored snapshot read in place: the same fields and numbers as
/// [`Snapshot`] (keep the two in step), borrowed from the stored bytes (a
/// projection's state runs to tens of MiB, and a cold start should not copy
/// it to look at it). `Snapshot` stays owned for writers and the audit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Decode)]
pub struct SnapshotView<'a> {
    #[n(0)]
    pub format: u32,
    #[b(1)]
    pub kind: &'a str,
    #[b(2)]
    pub subject: &'a str,
    #[n(3)]
    pub version: u64,
    #[n(4)]
    pub position: u64,
    #[cbor(n(5), with = "minicbor::bytes")]
    pub chain_hash: Hash,
    #[cbor(n(6), with = "minicbor::bytes")]
    pub state_hash: Hash,
    #[cbor(b(7), with = "minicbor::bytes")]
    pub state: &'a [u8],
}

impl<'a> SnapshotView<'a> {
    pub fn decode(bytes: &'a [u8]) -> Result<Self, String> {
        minicbor::decode(bytes).map_err(|e| e.to_string())
    }

    /// Whether `state` hashes to `state_hash`.
    pub fn state_is_intact(&self) -> bool {
        blake3::hash(self.state).as_bytes() == &self.state_hash
    }
}

fn number(n: u64) -> String {
    format!("{n:020}")
}

pub fn actor_prefix(stream: &str) -> Vec<u8> {
    format!("snapshot/actor/{stream}/").into_bytes()
}

pub fn actor_key(stream: &str, version: u64) -> Vec<u8> {
    format!("snapshot/actor/{stream}/{}", number(version)).into_bytes()
}

pub fn projection_prefix(name: &str) -> Vec<u8> {
    format!("snapshot/projection/{name}/").into_bytes()
}

pub fn projection_key(name: &str, position: u64) -> Vec<u8> {
    format!("snapshot/projection/{name}/{}", number(position)).into_bytes()
}

/// The number a key under `prefix` ends with, if the rest is exactly 20
/// digits (a longer rest belongs to another subject whose name extends ours).
pub(crate) fn key_number(prefix: &[u8], key: &[u8]) -> Option<u64> {
    let rest = key.strip_prefix(prefix)?;
    if rest.len() != 20 || !rest.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(rest).ok()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_view_reads_every_field_of_a_stored_snapshot() {
        let stored = Snapshot::new("card", "card-7", 12, 345, [9; 32], vec![1, 2, 3]);
        let bytes = stored.encode();
        let view = SnapshotView::decode(&bytes).unwrap();
        let SnapshotView { format, kind, subject, version, position, chain_hash, state_hash, state } = view;
        let owned = Snapshot { format, kind: kind.into(), subject: subject.into(), version, position, chain_hash, state_hash, state: state.to_vec() };
        assert_eq!(owned, stored);
        assert!(view.state_is_intact());
        assert!(SnapshotView::decode(&bytes[..bytes.len() - 1]).is_err());
    }
}
