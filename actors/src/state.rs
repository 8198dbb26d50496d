//! [`StreamState`]: what a stream actor holds. Every state of the domain
//! model is one: its version (the number of events applied, the expected
//! version to append with) and how to fold one event of its stream.

use encore_domain::groups::{Device, Distribution, GroupEvent, GroupServer, UserGroup};
use encore_domain::licensing::{Account, Card, CatalogueEntry, LicensingEvent, StationLog};
use encore_domain::{Aggregate, Event};

/// An event of the other half of the domain turned up in a stream (a bug or a damaged log).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ForeignEvent;

/// Every state is also [`Snapshottable`](encore_snapshots::Snapshottable):
/// actors load through verified snapshots and write one every
/// `RuntimeConfig::snapshot_every` events. Its version (events applied so
/// far) is `Snapshottable::version`.
pub trait StreamState: encore_snapshots::Snapshottable + Default + Clone + Send + Sync + 'static {
    /// What kind of actor holds this state (for errors and metrics).
    const KIND: &'static str;
    /// Folds one event of this state's stream.
    fn apply_event(&mut self, event: &Event) -> Result<(), ForeignEvent>;
}

fn licensing(event: &Event) -> Result<&LicensingEvent, ForeignEvent> {
    match event {
        Event::Licensing(e) => Ok(e),
        Event::Groups(_) => Err(ForeignEvent),
    }
}

fn groups(event: &Event) -> Result<&GroupEvent, ForeignEvent> {
    match event {
        Event::Groups(e) => Ok(e),
        Event::Licensing(_) => Err(ForeignEvent),
    }
}

macro_rules! stream_state {
    ($ty:ty, $kind:literal, $half:ident, |$st:ident, $e:ident| $apply:expr) => {
        impl StreamState for $ty {
            const KIND: &'static str = $kind;
            fn apply_event(&mut self, event: &Event) -> Result<(), ForeignEvent> {
                let $e = $half(event)?;
                let $st = self;
                $apply;
                Ok(())
            }
        }
    };
}

stream_state!(Account, "account", licensing, |st, e| Aggregate::apply(st, e));
stream_state!(Card, "card", licensing, |st, e| Aggregate::apply(st, e));
stream_state!(CatalogueEntry, "catalogue", licensing, |st, e| Aggregate::apply(st, e));
stream_state!(StationLog, "station", licensing, |st, e| st.apply(e));
stream_state!(GroupServer, "group-server", groups, |st, e| st.apply(e));
stream_state!(UserGroup, "group", groups, |st, e| st.apply(e));
stream_state!(Device, "device", groups, |st, e| Aggregate::apply(st, e));
stream_state!(Distribution, "distribution", groups, |st, e| Aggregate::apply(st, e));
