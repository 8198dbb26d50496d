//! Usage history (002 claims 8-9): per accounting id, the content bought
//! (`LicenseIssued`) and played (`ContentPlayed`) in log order, with position,
//! time and station; per content id, purchases and plays, plus the device-side
//! plays and radio shares of the groups model.
//!
//! Histories grow with the log, so entries are packed (varint deltas, about
//! 10 bytes each), the same in memory as in a snapshot (one byte string per
//! account, so a cold start loads millions of entries at memory speed):
//! content ids and stations are interned (numbered in order of first appearance, which only depends on the
//! log, so a rebuild numbers them identically).

use encore_domain::groups::GroupEvent;
use encore_domain::ids::{AccountId, ContentId};
use encore_domain::licensing::{LicensingEvent, Station};
use encore_domain::{Event, Timestamp};
use minicbor::{Decode, Encode};

use crate::error::StateDecodeError;
use crate::id_map::IdMap;
use crate::interner::Interner;
use crate::projection::{decode_state, encode_state, encodes_to, EventContext, Projection};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Encode, Decode)]
#[cbor(index_only)]
pub enum UsageKind {
    #[n(0)]
    Bought,
    #[n(1)]
    Played,
}

/// One entry; ids are indices into the interned tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Entry {
    position: u64,
    at: Timestamp,
    content: u32,
    station: u32,
    kind: UsageKind,
}

/// One account's entries in log order, packed back to back the same way in
/// memory and in a snapshot, so a snapshot loads with one copy per account.
/// Each entry is LEB128 varints: the position as a delta from the previous
/// entry's (positions only grow), the time as a zigzag delta, the content
/// index shifted left by one with the kind in the low bit, the station
/// index: about 10 bytes an entry instead of 25.
///
/// Invariant: `bytes` is whole entries whose positions strictly increase, and
/// `count` and `last` describe them (checked on decode, kept by `push`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Entries {
    bytes: Vec<u8>,
    count: usize,
    /// Position and time of the last entry (0, 0 before the first).
    last: (u64, i64),
    /// The greatest content and station indices (0, 0 before the first), so
    /// checking that every reference resolves is one comparison per account.
    max_refs: (u32, u32),
}

impl Entries {
    fn push(&mut self, entry: &Entry) {
        assert!(entry.position > self.last.0, "usage entries come in log order");
        let kind = match entry.kind {
            UsageKind::Bought => 0,
            UsageKind::Played => 1,
        };
        put_varint(&mut self.bytes, entry.position - self.last.0);
        put_varint(&mut self.bytes, zigzag(entry.at.0.wrapping_sub(self.last.1)));
        put_varint(&mut self.bytes, u64::from(entry.content) << 1 | kind);
        put_varint(&mut self.bytes, u64::from(entry.station));
        self.count += 1;
        self.last = (entry.position, entry.at.0);
        self.max_refs = (self.max_refs.0.max(entry.content), self.max_refs.1.max(entry.station));
    }

    /// Whether every content and station index is below the given counts.
    fn refs_below(&self, contents: usize, stations: usize) -> bool {
        self.count == 0 || ((self.max_refs.0 as usize) < contents && (self.max_refs.1 as usize) < stations)
    }

    fn len(&self) -> usize {
        self.count
    }

    fn iter(&self) -> impl Iterator<Item = Entry> + '_ {
        let mut reader = EntryReader { bytes: &self.bytes, last: (0, 0) };
        std::iter::from_fn(move || match reader.next() {
            Ok(entry) => entry,
            Err(e) => panic!("usage entries that were checked no longer decode: {e}"),
        })
    }

    /// Checks packed bytes and derives the count and the last entry.
    fn from_bytes(bytes: &[u8]) -> Result<Entries, &'static str> {
        let mut reader = EntryReader { bytes, last: (0, 0) };
        let (mut count, mut max_refs) = (0, (0, 0));
        while let Some(entry) = reader.next()? {
            count += 1;
            max_refs = (max_refs.0.max(entry.content), max_refs.1.max(entry.station));
        }
        Ok(Entries { bytes: bytes.to_vec(), count, last: reader.last, max_refs })
    }
}

/// Walks packed entries, undoing the deltas.
struct EntryReader<'a> {
    bytes: &'a [u8],
    last: (u64, i64),
}

impl EntryReader<'_> {
    fn next(&mut self) -> Result<Option<Entry>, &'static str> {
        if self.bytes.is_empty() {
            return Ok(None);
        }
        let step = self.varint()?;
        let position = self.last.0.checked_add(step).filter(|_| step > 0).ok_or("usage entry positions do not increase")?;
        let at = self.last.1.wrapping_add(unzigzag(self.varint()?));
        let content_kind = self.varint()?;
        let content = u32::try_from(content_kind >> 1).map_err(|_| "usage entry content index out of range")?;
        let kind = if content_kind & 1 == 0 { UsageKind::Bought } else { UsageKind::Played };
        let station = u32::try_from(self.varint()?).map_err(|_| "usage entry station index out of range")?;
        self.last = (position, at);
        Ok(Some(Entry { position, at: Timestamp(at), content, station, kind }))
    }

    fn varint(&mut self) -> Result<u64, &'static str> {
        if let Some((&byte, rest)) = self.bytes.split_first().filter(|(&b, _)| b < 0x80) {
            self.bytes = rest;
            return Ok(u64::from(byte));
        }
        let mut value = 0u64;
        for (i, &byte) in self.bytes.iter().enumerate().take(10) {
            let bits = u64::from(byte & 0x7F);
            if i == 9 && bits > 1 {
                return Err("usage entry varint overflows 64 bits");
            }
            value |= bits << (7 * i);
            if byte & 0x80 == 0 {
                self.bytes = &self.bytes[i + 1..];
                return Ok(value);
            }
        }
        Err("usage entry varint is cut short")
    }
}

fn put_varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push(value as u8 | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

fn zigzag(value: i64) -> u64 {
    ((value << 1) ^ (value >> 63)) as u64
}

fn unzigzag(value: u64) -> i64 {
    (value >> 1) as i64 ^ -((value & 1) as i64)
}

impl<C> Encode<C> for Entries {
    fn encode<W: minicbor::encode::Write>(&self, e: &mut minicbor::Encoder<W>, _: &mut C) -> Result<(), minicbor::encode::Error<W::Error>> {
        e.bytes(&self.bytes)?;
        Ok(())
    }
}

impl<'b, C> Decode<'b, C> for Entries {
    fn decode(d: &mut minicbor::Decoder<'b>, _: &mut C) -> Result<Self, minicbor::decode::Error> {
        Entries::from_bytes(d.bytes()?).map_err(minicbor::decode::Error::message)
    }
}

/// One use, as queries return it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Usage<'a> {
    pub position: u64,
    pub at: Timestamp,
    pub kind: UsageKind,
    pub content: &'a ContentId,
    pub station: &'a Station,
}

/// What happened to one content id.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Encode, Decode)]
pub struct ContentUsage {
    /// Licenses issued (purchases).
    #[n(0)]
    pub purchases: u64,
    /// Plays from a card (`ContentPlayed`).
    #[n(1)]
    pub plays: u64,
    /// Plays on group devices, from the library or received by radio.
    #[n(2)]
    pub device_plays: u64,
    /// Radio transmissions (`ContentShared`).
    #[n(3)]
    pub shares: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Encode, Decode)]
pub struct UsageHistory {
    #[n(0)]
    contents: Interner<ContentId>,
    #[n(1)]
    stations: Interner<Station>,
    #[n(2)]
    accounts: IdMap<AccountId, Entries>,
    /// Indexed like `contents`.
    #[n(3)]
    per_content: Vec<ContentUsage>,
}

impl UsageHistory {
    /// The content `account` bought and played, in log order.
    pub fn history<'a>(&'a self, account: &AccountId) -> impl Iterator<Item = Usage<'a>> + 'a {
        self.accounts.get(account).into_iter().flat_map(Entries::iter).map(|e| Usage {
            position: e.position,
            at: e.at,
            kind: e.kind,
            content: self.contents.get(e.content),
            station: self.stations.get(e.station),
        })
    }

    /// The content ids `account` bought, in purchase order.
    pub fn bought<'a>(&'a self, account: &AccountId) -> impl Iterator<Item = &'a ContentId> + 'a {
        self.history(account).filter(|u| u.kind == UsageKind::Bought).map(|u| u.content)
    }

    pub fn content(&self, content: &ContentId) -> ContentUsage {
        self.contents.lookup(content).map(|i| self.per_content[i as usize]).unwrap_or_default()
    }

    /// Every account with a history, in accounting id order.
    pub fn accounts(&self) -> impl Iterator<Item = &AccountId> {
        self.accounts.iter().map(|(account, _)| account)
    }

    /// Entries over every account.
    pub fn len(&self) -> usize {
        self.accounts.values_unordered().map(Entries::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.accounts.is_empty()
    }

    fn content_mut(&mut self, content: &ContentId) -> (u32, &mut ContentUsage) {
        let i = self.contents.intern(content);
        if self.per_content.len() < self.contents.len() {
            self.per_content.resize(self.contents.len(), ContentUsage::default());
        }
        (i, &mut self.per_content[i as usize])
    }

    fn record(&mut self, at: &EventContext<'_>, when: Timestamp, account: &AccountId, content: &ContentId, station: &Station, kind: UsageKind) {
        let (content, usage) = self.content_mut(content);
        match kind {
            UsageKind::Bought => usage.purchases += 1,
            UsageKind::Played => usage.plays += 1,
        }
        let station = self.stations.intern(station);
        let entry = Entry { position: at.position, at: when, content, station, kind };
        self.accounts.entry_or_default(account).push(&entry);
    }
}

impl Projection for UsageHistory {
    const NAME: &'static str = "usage";

    fn folds(event_type: &str) -> bool {
        matches!(event_type, "LicenseIssued" | "ContentPlayed" | "DevicePlayed" | "SharedContentPlayed" | "SwitchedToShared" | "ContentShared")
    }

    fn apply(&mut self, at: &EventContext<'_>, event: &Event) {
        match event {
            Event::Licensing(LicensingEvent::LicenseIssued(e)) => self.record(at, e.at, &e.account, &e.content, &e.station, UsageKind::Bought),
            Event::Licensing(LicensingEvent::ContentPlayed(e)) => self.record(at, e.at, &e.account, &e.content, &e.station, UsageKind::Played),
            Event::Groups(GroupEvent::DevicePlayed { content, .. })
            | Event::Groups(GroupEvent::SharedContentPlayed { content, .. })
            | Event::Groups(GroupEvent::SwitchedToShared { content, .. }) => self.content_mut(content).1.device_plays += 1,
            Event::Groups(GroupEvent::ContentShared { content, .. }) => self.content_mut(content).1.shares += 1,
            _ => {}
        }
    }

    fn encode(&self) -> Vec<u8> {
        encode_state(self)
    }

    fn encodes_to(&self, bytes: &[u8]) -> bool {
        encodes_to(self, bytes)
    }

    fn decode(bytes: &[u8]) -> Result<Self, StateDecodeError> {
        let decoded: UsageHistory = decode_state(Self::NAME, bytes)?;
        decoded.check()?;
        Ok(decoded)
    }
}

impl UsageHistory {
    /// What the encoding cannot say by itself: every reference resolves.
    pub(crate) fn check(&self) -> Result<(), StateDecodeError> {
        if self.per_content.len() > self.contents.len() {
            return Err(StateDecodeError::Cbor { name: Self::NAME, reason: "more content counters than content ids".into() });
        }
        let refs_ok = self.accounts.values_unordered().all(|e| e.refs_below(self.contents.len(), self.stations.len()));
        if !refs_ok {
            return Err(StateDecodeError::Cbor { name: Self::NAME, reason: "an entry refers to an unknown content id or station".into() });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn entry(position: u64, at: i64, content: u32, station: u32, played: bool) -> Entry {
        Entry { position, at: Timestamp(at), content, station, kind: if played { UsageKind::Played } else { UsageKind::Bought } }
    }

    proptest! {
        #[test]
        fn packed_entries_round_trip(steps in proptest::collection::vec((1u64..1 << 40, any::<i64>(), any::<u32>(), any::<u32>(), any::<bool>()), 0..50)) {
            let mut entries = Entries::default();
            let mut expected = Vec::new();
            let mut position = 0u64;
            for (step, at, content, station, played) in steps {
                position += step;
                let e = entry(position, at, content, station, played);
                entries.push(&e);
                expected.push(e);
            }
            prop_assert_eq!(entries.iter().collect::<Vec<_>>(), expected.clone());
            let decoded: Entries = minicbor::decode(&encode_state(&entries)).unwrap();
            prop_assert_eq!(decoded.len(), expected.len());
            prop_assert_eq!(&decoded, &entries);
        }
    }

    #[test]
    fn packed_entries_refuse_torn_bytes_overlong_varints_and_positions_that_do_not_grow() {
        let mut entries = Entries::default();
        entries.push(&entry(5, -3, 7, u32::MAX, true));
        entries.push(&entry(u64::MAX, i64::MAX, 0, 0, false));
        let bytes = entries.bytes.clone();
        assert!(Entries::from_bytes(&bytes).is_ok());
        assert!(Entries::from_bytes(&bytes[..bytes.len() - 1]).is_err(), "torn");
        assert!(Entries::from_bytes(&[0, 0, 0, 0]).is_err(), "a position that does not grow");
        assert!(Entries::from_bytes(&[0xFF; 11]).is_err(), "an overlong varint");
        assert!(Entries::from_bytes(&[1, 0, 0x80, 0x80, 0x80, 0x80, 0x80, 1, 0]).is_err(), "a content index past u32");
    }
}
