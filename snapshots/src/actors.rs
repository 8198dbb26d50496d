//! Which actor states can be snapshotted, how each folds a record of its
//! stream, and how a stream name maps to its state kind.
//!
//! Every state's encoding is the canonical CBOR of its derive (explicit field
//! indices, ordered maps and sets only), so equal states give equal bytes.

use encore_domain::aggregate::Aggregate;
use encore_domain::groups::{Device, Distribution, GroupServer, UserGroup, DISTRIBUTION_STREAM, GROUP_SERVER_STREAM};
use encore_domain::licensing::{Account, Card, CatalogueEntry, StationLog};
use encore_domain::{Event, EventCodec};
use encore_ledger::Record;

use crate::error::ActorFoldError;

/// An actor state that can be stored and recovered.
pub trait Snapshottable: Default + Clone + Sized {
    /// The snapshot kind (`account`, `card`, ...).
    const KIND: &'static str;
    /// Whether a stream of this name holds this kind of actor.
    fn owns(stream: &str) -> bool;
    /// Events applied so far: the stream version the state is at.
    fn version(&self) -> u64;
    /// Folds one domain event of the actor's stream.
    fn fold_event(&mut self, event: &Event) -> Result<(), &'static str>;
    fn encode_state(&self) -> Vec<u8>;
    fn decode_state(bytes: &[u8]) -> Result<Self, String>;

    /// Folds the next record of the actor's stream (checked: in order, a domain event).
    fn fold(&mut self, record: &Record) -> Result<(), ActorFoldError> {
        if record.version != self.version() + 1 {
            return Err(ActorFoldError::OutOfOrder { position: record.position, expected: self.version() + 1, found: record.version });
        }
        let event = Event::decode_payload(&record.event_type, &record.payload).map_err(|e| ActorFoldError::NotADomainEvent {
            position: record.position,
            event_type: record.event_type.clone(),
            reason: e.to_string(),
        })?;
        self.fold_event(&event).map_err(|kind| ActorFoldError::WrongModel { position: record.position, event_type: record.event_type.clone(), kind })?;
        assert_eq!(self.version(), record.version, "a fold advances the state by exactly one version");
        Ok(())
    }
}

fn encode<T: minicbor::Encode<()>>(value: &T) -> Vec<u8> {
    encore_domain::codec::to_cbor(value)
}

fn decode<T: for<'b> minicbor::Decode<'b, ()>>(bytes: &[u8]) -> Result<T, String> {
    minicbor::decode(bytes).map_err(|e| e.to_string())
}

/// Implements `Snapshottable` for a state of one half of the domain.
macro_rules! snapshottable {
    ($state:ty, $kind:literal, $variant:ident, |$s:ident| $owns:expr, |$st:ident| $version:expr, |$me:ident, $e:ident| $apply:expr) => {
        impl Snapshottable for $state {
            const KIND: &'static str = $kind;
            fn owns($s: &str) -> bool {
                $owns
            }
            fn version(&self) -> u64 {
                let $st = self;
                $version
            }
            fn fold_event(&mut self, event: &Event) -> Result<(), &'static str> {
                match event {
                    Event::$variant($e) => {
                        let $me = self;
                        $apply;
                        Ok(())
                    }
                    _ => Err($kind),
                }
            }
            fn encode_state(&self) -> Vec<u8> {
                encode(self)
            }
            fn decode_state(bytes: &[u8]) -> Result<Self, String> {
                decode(bytes)
            }
        }
    };
}

snapshottable!(Account, "account", Licensing, |s| s.starts_with("account-"), |st| st.version(), |me, e| me.apply(e));
snapshottable!(Card, "card", Licensing, |s| s.starts_with("card-"), |st| st.version(), |me, e| me.apply(e));
snapshottable!(CatalogueEntry, "content", Licensing, |s| s.starts_with("content-"), |st| st.version(), |me, e| me.apply(e));
snapshottable!(StationLog, "station", Licensing, |s| s.starts_with("kiosk-") || s.starts_with("player-"), |st| st.version(), |me, e| me.apply(e));
snapshottable!(Device, "device", Groups, |s| s.starts_with("device-"), |st| st.version(), |me, e| Aggregate::apply(me, e));
snapshottable!(UserGroup, "group", Groups, |s| s.starts_with("group-") && s != GROUP_SERVER_STREAM, |st| st.version(), |me, e| me.apply(e));
snapshottable!(GroupServer, "group-server", Groups, |s| s == GROUP_SERVER_STREAM, |st| st.version(), |me, e| me.apply(e));
snapshottable!(Distribution, "distribution", Groups, |s| s == DISTRIBUTION_STREAM, |st| st.version(), |me, e| Aggregate::apply(me, e));

/// Any actor state, chosen by stream name: what the snapshot writer and the
/// audit keep per stream while scanning the whole log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ActorState {
    Account(Account),
    Card(Card),
    Content(CatalogueEntry),
    Station(StationLog),
    Device(Device),
    Group(UserGroup),
    GroupServer(GroupServer),
    Distribution(Distribution),
}

/// Calls `$body` with `$s` bound to the state inside any `ActorState`.
macro_rules! each {
    ($value:expr, |$s:ident| $body:expr) => {
        match $value {
            ActorState::Account($s) => $body,
            ActorState::Card($s) => $body,
            ActorState::Content($s) => $body,
            ActorState::Station($s) => $body,
            ActorState::Device($s) => $body,
            ActorState::Group($s) => $body,
            ActorState::GroupServer($s) => $body,
            ActorState::Distribution($s) => $body,
        }
    };
}

impl ActorState {
    /// A fresh state for the actor that owns `stream`; `None` for streams no
    /// actor owns (other logs' streams).
    pub fn for_stream(stream: &str) -> Option<ActorState> {
        // group-server before group-: `UserGroup::owns` excludes it anyway.
        Some(if GroupServer::owns(stream) {
            ActorState::GroupServer(GroupServer::default())
        } else if Account::owns(stream) {
            ActorState::Account(Account::default())
        } else if Card::owns(stream) {
            ActorState::Card(Card::default())
        } else if CatalogueEntry::owns(stream) {
            ActorState::Content(CatalogueEntry::default())
        } else if StationLog::owns(stream) {
            ActorState::Station(StationLog::default())
        } else if Device::owns(stream) {
            ActorState::Device(Device::default())
        } else if UserGroup::owns(stream) {
            ActorState::Group(UserGroup::default())
        } else if Distribution::owns(stream) {
            ActorState::Distribution(Distribution::default())
        } else {
            return None;
        })
    }

    pub fn kind(&self) -> &'static str {
        fn kind_of<S: Snapshottable>(_: &S) -> &'static str {
            S::KIND
        }
        each!(self, |s| kind_of(s))
    }

    pub fn version(&self) -> u64 {
        each!(self, |s| s.version())
    }

    pub fn fold(&mut self, record: &Record) -> Result<(), ActorFoldError> {
        each!(self, |s| s.fold(record))
    }

    pub fn encode_state(&self) -> Vec<u8> {
        each!(self, |s| s.encode_state())
    }

    /// Decodes a snapshot's state bytes of kind `kind` (an envelope's `kind`);
    /// `None` for a kind no actor has.
    pub fn decode_kind(kind: &str, bytes: &[u8]) -> Option<Result<ActorState, String>> {
        fn of<S: Snapshottable>(bytes: &[u8], wrap: fn(S) -> ActorState) -> Result<ActorState, String> {
            S::decode_state(bytes).map(wrap)
        }
        Some(match kind {
            k if k == Account::KIND => of(bytes, ActorState::Account),
            k if k == Card::KIND => of(bytes, ActorState::Card),
            k if k == CatalogueEntry::KIND => of(bytes, ActorState::Content),
            k if k == StationLog::KIND => of(bytes, ActorState::Station),
            k if k == Device::KIND => of(bytes, ActorState::Device),
            k if k == UserGroup::KIND => of(bytes, ActorState::Group),
            k if k == GroupServer::KIND => of(bytes, ActorState::GroupServer),
            k if k == Distribution::KIND => of(bytes, ActorState::Distribution),
            _ => return None,
        })
    }
}
