//! Usage history (002 claims 8-9): per accounting id, the content bought
//! (`LicenseIssued`) and played (`ContentPlayed`) in log order, with position,
//! time and station; per content id, purchases and plays, plus the device-side
//! plays and radio shares of the groups model.
//!
//! Histories grow with the log, so each entry is 32 bytes: content ids and
//! stations are interned (numbered in order of first appearance, which only
//! depends on the log, so a rebuild numbers them identically).

use std::collections::BTreeMap;

use encore_domain::groups::GroupEvent;
use encore_domain::ids::{AccountId, ContentId};
use encore_domain::licensing::{LicensingEvent, Station};
use encore_domain::{Event, Timestamp};
use minicbor::{Decode, Encode};

use crate::error::StateDecodeError;
use crate::interner::Interner;
use crate::projection::{decode_state, encode_state, EventContext, Projection};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Encode, Decode)]
#[cbor(index_only)]
pub enum UsageKind {
    #[n(0)]
    Bought,
    #[n(1)]
    Played,
}

/// One stored entry; ids are indices into the interned tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Encode, Decode)]
struct Entry {
    #[n(0)]
    position: u64,
    #[n(1)]
    at: Timestamp,
    #[n(2)]
    content: u32,
    #[n(3)]
    station: u32,
    #[n(4)]
    kind: UsageKind,
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
    accounts: BTreeMap<AccountId, Vec<Entry>>,
    /// Indexed like `contents`.
    #[n(3)]
    per_content: Vec<ContentUsage>,
}

impl UsageHistory {
    /// The content `account` bought and played, in log order.
    pub fn history<'a>(&'a self, account: &AccountId) -> impl Iterator<Item = Usage<'a>> + 'a {
        self.accounts.get(account).into_iter().flatten().map(|e| Usage {
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
        self.accounts.values().map(Vec::len).sum()
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
            Some(entries) => entries.push(entry),
            None => {
                self.accounts.insert(account.clone(), vec![entry]);
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

    fn decode(bytes: &[u8]) -> Result<Self, StateDecodeError> {
        let decoded: UsageHistory = decode_state(Self::NAME, bytes)?;
        if decoded.per_content.len() > decoded.contents.len() {
            return Err(StateDecodeError::Cbor { name: Self::NAME, reason: "more content counters than content ids".into() });
        }
        let refs_ok = decoded.accounts.values().flatten().all(|e| (e.content as usize) < decoded.contents.len() && (e.station as usize) < decoded.stations.len());
        if !refs_ok {
            return Err(StateDecodeError::Cbor { name: Self::NAME, reason: "an entry refers to an unknown content id or station".into() });
        }
        Ok(decoded)
    }
}
