//! Usage history (002 claims 8-9): per accounting id, the content bought
//! (`LicenseIssued`) and played (`ContentPlayed`) in log order, with position,
//! time and station; per content id, purchases and plays, plus the device-side
//! plays and radio shares of the groups model.
//!
//! Histories grow with the log, so each entry is 25 packed bytes, the same in
//! memory as in a snapshot (one byte string per account, so a cold start
//! loads millions of entries at memory speed): content ids and stations are
//! interned (numbered in order of first appearance, which only depends on the
//! log, so a rebuild numbers them identically).

use std::collections::BTreeMap;

use encore_domain::groups::GroupEvent;
use encore_domain::ids::{AccountId, ContentId};
use encore_domain::licensing::{LicensingEvent, Station};
use encore_domain::{Event, Timestamp};
use minicbor::{Decode, Encode};

use crate::error::StateDecodeError;
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

/// One stored entry; ids are indices into the interned tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Entry {
    position: u64,
    at: Timestamp,
    content: u32,
    station: u32,
    kind: UsageKind,
}

impl Entry {
    /// position, at, content, station (big-endian), kind.
    const PACKED: usize = 8 + 8 + 4 + 4 + 1;

    fn pack(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.position.to_be_bytes());
        out.extend_from_slice(&self.at.0.to_be_bytes());
        out.extend_from_slice(&self.content.to_be_bytes());
        out.extend_from_slice(&self.station.to_be_bytes());
        out.push(match self.kind {
            UsageKind::Bought => 0,
            UsageKind::Played => 1,
        });
    }

    fn unpack(bytes: &[u8; Self::PACKED]) -> Option<Entry> {
        let (position, rest) = bytes.split_first_chunk::<8>()?;
        let (at, rest) = rest.split_first_chunk::<8>()?;
        let (content, rest) = rest.split_first_chunk::<4>()?;
        let (station, rest) = rest.split_first_chunk::<4>()?;
        let kind = match rest {
            [0] => UsageKind::Bought,
            [1] => UsageKind::Played,
            _ => return None,
        };
        Some(Entry {
            position: u64::from_be_bytes(*position),
            at: Timestamp(i64::from_be_bytes(*at)),
            content: u32::from_be_bytes(*content),
            station: u32::from_be_bytes(*station),
            kind,
        })
    }
}

/// One account's entries, packed back to back in memory exactly as they are
/// stored, so a snapshot loads with one copy per account and an entry costs
/// 25 bytes. Invariant: the length is a whole number of entries, each of
/// which unpacks (checked on decode, kept by `push`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Entries(Vec<u8>);

impl Entries {
    fn push(&mut self, entry: &Entry) {
        entry.pack(&mut self.0);
    }

    fn len(&self) -> usize {
        self.0.len() / Entry::PACKED
    }

    fn iter(&self) -> impl Iterator<Item = Entry> + '_ {
        self.0.chunks_exact(Entry::PACKED).map(|chunk| match <&[u8; Entry::PACKED]>::try_from(chunk).ok().and_then(Entry::unpack) {
            Some(entry) => entry,
            None => panic!("a usage entry that was checked no longer unpacks"),
        })
    }

    /// Whether the bytes are whole entries that all unpack.
    fn check(bytes: &[u8]) -> bool {
        bytes.len() % Entry::PACKED == 0 && bytes.chunks_exact(Entry::PACKED).all(|c| matches!(c[Entry::PACKED - 1], 0 | 1))
    }
}

impl<C> Encode<C> for Entries {
    fn encode<W: minicbor::encode::Write>(&self, e: &mut minicbor::Encoder<W>, _: &mut C) -> Result<(), minicbor::encode::Error<W::Error>> {
        e.bytes(&self.0)?;
        Ok(())
    }
}

impl<'b, C> Decode<'b, C> for Entries {
    fn decode(d: &mut minicbor::Decoder<'b>, _: &mut C) -> Result<Self, minicbor::decode::Error> {
        let bytes = d.bytes()?;
        if !Entries::check(bytes) {
            return Err(minicbor::decode::Error::message("usage entries are not whole packed entries of a known kind"));
        }
        Ok(Entries(bytes.to_vec()))
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
    accounts: BTreeMap<AccountId, Entries>,
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

    pub fn accounts(&self) -> impl Iterator<Item = &AccountId> {
        self.accounts.keys()
    }

    /// Entries over every account.
    pub fn len(&self) -> usize {
        self.accounts.values().map(Entries::len).sum()
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
        match self.accounts.get_mut(account) {
            Some(entries) => entries.push(&entry),
            None => {
                let mut entries = Entries::default();
                entries.push(&entry);
                self.accounts.insert(account.clone(), entries);
            }
        }
    }
}

impl Projection for UsageHistory {
    const NAME: &'static str = "usage";

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
        let refs_ok = self.accounts.values().flat_map(Entries::iter).all(|e| (e.content as usize) < self.contents.len() && (e.station as usize) < self.stations.len());
        if !refs_ok {
            return Err(StateDecodeError::Cbor { name: Self::NAME, reason: "an entry refers to an unknown content id or station".into() });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(position: u64, kind: UsageKind) -> Entry {
        Entry { position, at: Timestamp(-5 + position as i64), content: 7, station: u32::MAX, kind }
    }

    #[test]
    fn packed_entries_round_trip() {
        let mut entries = Entries::default();
        entries.push(&entry(1, UsageKind::Bought));
        entries.push(&entry(u64::MAX, UsageKind::Played));
        let bytes = encode_state(&entries);
        let decoded: Entries = minicbor::decode(&bytes).unwrap();
        assert_eq!(decoded, entries);
        assert_eq!(decoded.iter().collect::<Vec<_>>(), vec![entry(1, UsageKind::Bought), entry(u64::MAX, UsageKind::Played)]);
        assert_eq!(minicbor::decode::<Entries>(&encode_state(&Entries::default())).unwrap(), Entries::default());
    }

    #[test]
    fn packed_entries_refuse_a_torn_entry_and_an_unknown_kind() {
        let mut packed = Vec::new();
        entry(3, UsageKind::Played).pack(&mut packed);
        let cbor = |bytes: &[u8]| encode_state(&minicbor::bytes::ByteVec::from(bytes.to_vec()));
        assert!(minicbor::decode::<Entries>(&cbor(&packed[..Entry::PACKED - 1])).is_err());
        let mut bad_kind = packed.clone();
        bad_kind[Entry::PACKED - 1] = 2;
        assert!(minicbor::decode::<Entries>(&cbor(&bad_kind)).is_err());
        assert!(minicbor::decode::<Entries>(&cbor(&packed)).is_ok());
    }
}
