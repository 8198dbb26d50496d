//! Groups, source ids, radio sharing, favorites, reliability and charisma (seed 003).
//!
//! Pure model, no I/O: time, ids and key material come in as arguments.
//!
//! | stream | state | written by |
//! |---|---|---|
//! | `group-server` | [`GroupServer`] | [`register_user`] |
//! | `group-{group id}` | [`UserGroup`] | [`register_user`], [`register_device`], [`deregister_device`], [`issue_certificate`] |
//! | `device-{device id}` | [`Device`] | [`device_command`] ([`DeviceCommand`]), [`transmit_content`], [`sync_reputation`], the two-stream decisions above and [`copy_content`], [`merge_lists`], [`upload_favorites`], [`forward_favorites`]; a member's purchase ([`purchase_into_library`]) |
//! | `distribution` | [`Distribution`] | [`distribution_command`] ([`DistributionCommand`]), [`forward_favorites`]; a member's purchase ([`purchase_reputation`]) |
//!
//! Every state counts the events applied to it: `version()` is the expected
//! version to append with. Every decision the runtime makes returns a
//! [`Decided`]: its outcome and a [`Decision`] naming each stream with its
//! expected version, appended atomically. `Aggregate::decide` (a `Vec` of
//! events for one state) is the primitive under [`device_command`] and
//! [`distribution_command`]. All events are one enum, [`GroupEvent`].
//!
//! Files: [`source_list`] (source ids, list, integrity value, certificates),
//! [`types`] (value types and refusal reasons), [`events`], [`user_group`],
//! [`device`], [`radio`], [`reputation`], [`streams`].
//!
//! [`Decided`]: crate::aggregate::Decided
//! [`Decision`]: crate::aggregate::Decision

pub mod device;
pub mod events;
pub mod radio;
pub mod reputation;
pub mod source_list;
pub mod streams;
pub mod types;
pub mod user_group;

#[cfg(test)]
mod props_tests;
#[cfg(test)]
mod rules_tests;
#[cfg(test)]
mod test_support;

pub use device::{copy_content, device_command, merge_lists, purchase_into_library, Device, DeviceCommand, DeviceError, LibraryItem, NowPlaying};
pub use events::GroupEvent;
pub use radio::{transmit_content, SharedContent};
pub use reputation::{
    discounted_price, distribution_command, forward_favorites, purchase_reputation, ranking, sync_reputation, upload_favorites, Distribution,
    DistributionCommand, PurchaseReputation,
};
pub use source_list::{CertificateKey, DeviceSecret, GroupCertificate, Mac, SourceEntry, SourceId, SourceIdList};
pub use streams::{device_stream, group_stream, DISTRIBUTION_STREAM, GROUP_SERVER_STREAM};
pub use types::*;
pub use user_group::{deregister_device, issue_certificate, register_device, register_user, GroupServer, UserGroup};
