//! Column families and key layouts. Big-endian integers in keys so RocksDB's
//! byte order is numeric order.
//!
//! | column family  | key                                   | value                    |
//! |----------------|---------------------------------------|--------------------------|
//! | `records`      | position (u64 BE)                     | encoded [`Record`]       |
//! | `stream_index` | len (u16 BE) + stream id + version BE | position (u64 BE)        |
//! | `stream_heads` | stream id                             | version (u64 BE) as of `indexed` |
//! | `event_ids`    | event id (16 bytes)                   | position (u64 BE), records through `indexed` |
//! | `meta`         | `magic`, `format`, `watermark`, `indexed` | log identity and format |
//! | `aux`          | caller's key                          | derived state (outside the chain) |
//!
//! `event_ids` and `stream_heads` are written in sorted batches, not with
//! each record; `meta/indexed` (u64 BE) is the position through which they
//! are complete (see `log/tail.rs`). A log of format 1 has no `indexed`:
//! its indexes were written with every record.
//!
//! [`Record`]: crate::Record

use crate::types::StreamId;

pub const CF_RECORDS: &str = "records";
pub const CF_STREAM_INDEX: &str = "stream_index";
pub const CF_STREAM_HEADS: &str = "stream_heads";
pub const CF_EVENT_IDS: &str = "event_ids";
pub const CF_META: &str = "meta";
pub const CF_AUX: &str = "aux";
pub const ALL_CFS: [&str; 6] = [CF_RECORDS, CF_STREAM_INDEX, CF_STREAM_HEADS, CF_EVENT_IDS, CF_META, CF_AUX];

pub const META_MAGIC_KEY: &[u8] = b"magic";
pub const META_MAGIC: &[u8] = b"encore-ledger";
pub const META_FORMAT_KEY: &[u8] = b"format";
/// Present once the log keeps an acknowledged watermark (`log/watermark.rs`).
pub const META_WATERMARK_KEY: &[u8] = b"watermark";
/// The position through which `event_ids` and `stream_heads` are complete.
pub const META_INDEXED_KEY: &[u8] = b"indexed";
/// The log directory's format (column families and key layouts). 2: the
/// event ids and stream heads lag their records, up to `meta/indexed`.
pub const LOG_FORMAT_VERSION: u32 = 2;

pub fn position_key(position: u64) -> [u8; 8] {
    position.to_be_bytes()
}

pub fn parse_u64(bytes: &[u8]) -> Option<u64> {
    <[u8; 8]>::try_from(bytes).ok().map(u64::from_be_bytes)
}

pub fn stream_prefix(stream: &StreamId) -> Vec<u8> {
    let id = stream.as_str().as_bytes();
    let mut key = Vec::with_capacity(2 + id.len() + 8);
    // StreamId is at most 255 bytes, so the length fits.
    key.extend_from_slice(&(id.len() as u16).to_be_bytes());
    key.extend_from_slice(id);
    key
}

pub fn stream_index_key(stream: &StreamId, version: u64) -> Vec<u8> {
    let mut key = stream_prefix(stream);
    key.extend_from_slice(&version.to_be_bytes());
    key
}

/// Splits a `stream_index` key into (stream id, version).
pub fn parse_stream_index_key(key: &[u8]) -> Option<(&str, u64)> {
    let len = usize::from(u16::from_be_bytes(key.get(..2)?.try_into().ok()?));
    let id = std::str::from_utf8(key.get(2..2 + len)?).ok()?;
    let version = parse_u64(key.get(2 + len..)?)?;
    Some((id, version))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_index_keys_round_trip_and_sort_by_version() {
        let s = StreamId::new("card-1").unwrap();
        let k1 = stream_index_key(&s, 2);
        let k2 = stream_index_key(&s, 10);
        assert!(k1 < k2);
        assert_eq!(parse_stream_index_key(&k2), Some(("card-1", 10)));
        assert!(k2.starts_with(&stream_prefix(&s)));
        // A stream whose id is a prefix of another never shares its key prefix.
        let longer = StreamId::new("card-10").unwrap();
        assert!(!stream_index_key(&longer, 1).starts_with(&stream_prefix(&s)));
    }
}
