//! Every event of groups, devices, radio sharing, favorites, reliability and charisma.
//!
//! One enum, stored as (variant name, canonical CBOR of the enum value). Field
//! and variant indices are explicit and must never be renumbered. The same
//! event value may be appended to two streams by one atomic decision (for
//! example `DeviceRegistered` on `group-…` and `device-…`); each aggregate
//! applies only what concerns it.
//!
//! No event carries key material: MACs are public integrity values, secrets
//! stay in commands.

use minicbor::{Decode, Encode};

use super::source_list::{GroupCertificate, Mac, SourceEntry, SourceId, SourceIdList};
use super::types::*;
use crate::codec::{from_cbor, to_cbor, DecodeError, EventCodec};
use crate::ids::{ContentId, DeviceId, GroupId, LeafId, PurchaseId, RecorderId, UserId};

/// Declares `GroupEvent` and its list of type names in one place.
macro_rules! group_events {
    ($( $(#[$doc:meta])* $name:ident @ $idx:literal { $( $field:ident @ $fidx:literal : $ty:ty ),* $(,)? } )*) => {
        /// An event of the groups model; its type name is the variant name.
        #[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
        pub enum GroupEvent {
            $( $(#[$doc])* #[n($idx)] $name { $( #[n($fidx)] $field: $ty ),* }, )*
        }

        impl GroupEvent {
            /// Every event type name this enum can produce.
            pub const TYPE_NAMES: &'static [&'static str] = &[$(stringify!($name)),*];
        }

        impl EventCodec for GroupEvent {
            fn event_type(&self) -> &'static str {
                match self {
                    $( GroupEvent::$name { .. } => stringify!($name), )*
                }
            }
            fn encode_payload(&self) -> Vec<u8> {
                to_cbor(self)
            }
            fn decode_payload(event_type: &str, payload: &[u8]) -> Result<Self, DecodeError> {
                if !Self::TYPE_NAMES.contains(&event_type) {
                    return Err(DecodeError::UnknownType { event_type: event_type.to_string() });
                }
                let event: GroupEvent = from_cbor(event_type, payload)?;
                if event.event_type() != event_type {
                    return Err(DecodeError::Malformed {
                        event_type: event_type.to_string(),
                        reason: format!("payload holds a {} event", event.event_type()),
                    });
                }
                Ok(event)
            }
        }
    };
}

group_events! {
    /// The server registered a user and assigned a leaf id (`group-server` and `group-{group}`).
    UserRegistered @ 0 { user @ 0: UserId, leaf @ 1: LeafId, group @ 2: GroupId, limits @ 3: GroupLimits }
    /// A device came into service with its kind and its initial, sealed list (own recorder id only).
    DeviceProvisioned @ 1 { device @ 0: DeviceId, kind @ 1: DeviceKind, list @ 2: SourceIdList, icv @ 3: Mac }
    /// A device joined a group (`group-{group}` and `device-{device}`); `via` is the PC for a PD.
    DeviceRegistered @ 2 { group @ 0: GroupId, device @ 1: DeviceId, kind @ 2: DeviceKind, via @ 3: Option<DeviceId> }
    /// A registration the group refused, with the reason (`group-{group}`).
    DeviceRegistrationRefused @ 3 { group @ 0: GroupId, device @ 1: DeviceId, reason @ 2: RegistrationRefusal }
    /// A device left its group (`group-{group}` and `device-{device}`).
    DeviceDeregistered @ 4 { group @ 0: GroupId, device @ 1: DeviceId }
    /// A source id was added to (or its term replaced in) a device's list; `icv` seals the new list.
    SourceIdAdded @ 5 { device @ 0: DeviceId, entry @ 1: SourceEntry, icv @ 2: Mac }
    /// A device's list became the union of its list and `with`'s list.
    SourceIdsMerged @ 6 { device @ 0: DeviceId, with @ 1: DeviceId, list @ 2: SourceIdList, icv @ 3: Mac }
    /// A device's list was emptied on leaving its group, except its own recorder id.
    SourceListCleared @ 7 { device @ 0: DeviceId, kept @ 1: Option<RecorderId>, icv @ 2: Mac }
    /// A device's list failed its integrity check and was neither used nor updated.
    SourceListRejected @ 8 { device @ 0: DeviceId, during @ 1: ListUse }
    /// A PC of the group issued a group certificate for its recorder id (`group-{group}` and the PC's stream).
    GroupCertificateIssued @ 9 { device @ 0: DeviceId, certificate @ 1: GroupCertificate }
    /// A device refused to add a certificate's recorder id to its list.
    CertificateRefused @ 10 { device @ 0: DeviceId, group @ 1: GroupId, recorder @ 2: RecorderId, reason @ 3: CertificateRefusal }
    /// A PC ripped a content; the content's source id is the PC's recorder id.
    ContentRipped @ 11 { device @ 0: DeviceId, content @ 1: ContentId, recorder @ 2: RecorderId }
    /// A content was stored on a device from a purchase or download, with its source id and rules.
    ContentAcquired @ 12 { device @ 0: DeviceId, content @ 1: ContentId, source @ 2: Option<SourceId>, rules @ 3: Option<UsageRules> }
    /// A device's reproduction control method changed.
    ModeChanged @ 13 { device @ 0: DeviceId, mode @ 1: ControlMode }
    /// A device played a content from its library.
    DevicePlayed @ 14 { device @ 0: DeviceId, content @ 1: ContentId, source @ 2: Option<SourceId>, mode @ 3: ControlMode }
    /// A device refused to play a content from its library.
    DevicePlayRefused @ 15 { device @ 0: DeviceId, content @ 1: ContentId, reason @ 2: PlayRefusal }
    /// A content was copied into `to`'s library (appended to `device-{to}`).
    ContentCopied @ 16 { from @ 0: DeviceId, to @ 1: DeviceId, content @ 2: ContentId, source @ 3: Option<SourceId>, rules @ 4: Option<UsageRules> }
    /// A check-in/check-out content was checked out from `device` to `to` (one check-out used).
    ContentCheckedOut @ 17 { device @ 0: DeviceId, to @ 1: DeviceId, content @ 2: ContentId }
    /// A copy was refused (appended to `device-{from}`).
    CopyRefused @ 18 { from @ 0: DeviceId, to @ 1: DeviceId, content @ 2: ContentId, reason @ 3: CopyRefusal }
    /// A PD marked a content of its library as shareable by radio.
    ContentMarkedShareable @ 19 { device @ 0: DeviceId, content @ 1: ContentId }
    /// A PD transmitted a shareable content with its group id and its own reliability.
    ContentShared @ 20 { device @ 0: DeviceId, content @ 1: ContentId, group @ 2: GroupId, reliability @ 3: u64 }
    /// A PD received shared content it may play but did not switch to (it was busy).
    SharedContentReceived @ 21 { device @ 0: DeviceId, content @ 1: ContentId, group @ 2: GroupId, reliability @ 3: u64 }
    /// An idle PD played received shared content (never stored).
    SharedContentPlayed @ 22 { device @ 0: DeviceId, content @ 1: ContentId, group @ 2: GroupId, reliability @ 3: u64 }
    /// A PD refused received shared content.
    SharedContentRefused @ 23 { device @ 0: DeviceId, content @ 1: ContentId, group @ 2: GroupId, reason @ 3: SharedRefusal }
    /// A busy PD interrupted `from` to play received shared content (never stored).
    SwitchedToShared @ 24 { device @ 0: DeviceId, from @ 1: ContentId, content @ 2: ContentId, group @ 3: GroupId, reason @ 4: SwitchReason }
    /// A PD's radio settings: auto-switch and the reliability threshold for switching.
    RadioSettingsChanged @ 25 { device @ 0: DeviceId, auto_switch @ 1: bool, reliability_threshold @ 2: u64 }
    /// A device stopped playing.
    PlaybackStopped @ 26 { device @ 0: DeviceId }
    /// The favorite button: content id + group id into the PD's favorites list.
    FavoriteRecorded @ 27 { device @ 0: DeviceId, content @ 1: ContentId, group @ 2: GroupId }
    /// A PD's favorites moved to a PC of its own group (`device-{from}` and `device-{to}`).
    FavoritesUploaded @ 28 { from @ 0: DeviceId, to @ 1: DeviceId, favorites @ 2: Vec<Favorite> }
    /// A PC's favorites moved to the distribution server (`device-{device}` and `distribution`).
    FavoritesForwarded @ 29 { device @ 0: DeviceId, group @ 1: GroupId, favorites @ 2: Vec<Favorite> }
    /// The distribution server's configuration (points per purchase, charisma policy).
    DistributionConfigured @ 30 { config @ 0: DistributionConfig }
    /// A purchase through a favorite added `points` to `group`; `reliability` is the new total.
    ReliabilityBumped @ 31 { group @ 0: GroupId, content @ 1: ContentId, purchase @ 2: PurchaseId, points @ 3: u64, reliability @ 4: u64, buyer @ 5: Option<GroupId> }
    /// A group id joined the charisma list.
    CharismaGranted @ 32 { group @ 0: GroupId, reliability @ 1: u64 }
    /// A group id left the charisma list (top-N mode, pushed out of the top).
    CharismaRevoked @ 33 { group @ 0: GroupId, reliability @ 1: u64 }
    /// A discount on later purchases for a charisma group id, in basis points (1/100 %).
    RewardGranted @ 34 { group @ 0: GroupId, discount_bp @ 1: u32 }
    /// A device's own reliability, as the distribution server last told it.
    ReliabilityUpdated @ 35 { device @ 0: DeviceId, reliability @ 1: u64 }
    /// A device's copy of the charisma list, as the distribution server last told it.
    CharismaListSynced @ 36 { device @ 0: DeviceId, list @ 1: Vec<GroupId> }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    fn did(s: &str) -> DeviceId {
        DeviceId::new(s).unwrap()
    }

    fn samples() -> Vec<GroupEvent> {
        crate::samples::group_events()
    }

    #[test]
    fn every_variant_round_trips_through_cbor_under_its_own_name() {
        let samples = samples();
        let names: Vec<&str> = samples.iter().map(|e| e.event_type()).collect();
        assert_eq!(names, GroupEvent::TYPE_NAMES, "one sample per variant, in order");
        for event in samples {
            let payload = event.encode_payload();
            let back = GroupEvent::decode_payload(event.event_type(), &payload).unwrap();
            assert_eq!(back, event);
            assert_eq!(back.encode_payload(), payload, "canonical: same value, same bytes");
        }
    }

    #[test]
    fn the_card_names_are_exact() {
        assert!(GroupEvent::TYPE_NAMES.contains(&"FavoriteRecorded"));
        assert!(GroupEvent::TYPE_NAMES.contains(&"ReliabilityBumped"));
        for taken in ["ContentPlayed", "PlayRefused", "Charged", "LicenseIssued", "UseDecremented", "CardIssued"] {
            assert!(!GroupEvent::TYPE_NAMES.contains(&taken), "{taken} belongs to licensing");
        }
    }

    #[test]
    fn decoding_under_a_wrong_or_unknown_name_fails() {
        let event = GroupEvent::PlaybackStopped { device: did("pd1") };
        let payload = event.encode_payload();
        assert!(matches!(GroupEvent::decode_payload("Nope", &payload), Err(DecodeError::UnknownType { .. })));
        assert!(matches!(GroupEvent::decode_payload("FavoriteRecorded", &payload), Err(DecodeError::Malformed { .. })));
        assert!(matches!(GroupEvent::decode_payload("PlaybackStopped", &[0xff]), Err(DecodeError::Malformed { .. })));
    }
}
