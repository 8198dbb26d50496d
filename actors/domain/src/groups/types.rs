//! Small value types carried by group events: device kinds, modes, usage rules,
//! favorites, configuration, and the reasons of every refusal event.

use minicbor::{Decode, Encode};

use super::source_list::SourceId;
use crate::ids::{DeviceId, GroupId, RecorderId, TerminalId};
use crate::time::Timestamp;

/// What a device is: a PC (terminal id, optionally a recorder id) or a PD.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub enum DeviceKind {
    /// A content processing apparatus; `recorder` is set if it can rip (003 [0142]).
    #[n(0)]
    Pc {
        #[n(0)]
        terminal: TerminalId,
        #[n(1)]
        recorder: Option<RecorderId>,
    },
    /// A content reproduction apparatus (portable device).
    #[n(1)]
    Pd,
}

impl DeviceKind {
    pub fn is_pc(&self) -> bool {
        matches!(self, DeviceKind::Pc { .. })
    }
    pub fn recorder(&self) -> Option<&RecorderId> {
        match self {
            DeviceKind::Pc { recorder, .. } => recorder.as_ref(),
            DeviceKind::Pd => None,
        }
    }
}

/// The reproduction control method of a device (the ICV flag, 003 [0154], [0206]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Encode, Decode)]
pub enum ControlMode {
    /// Play managed content only if its source id is in the list (flag 0).
    #[default]
    #[n(0)]
    GroupManagement,
    /// Play according to the license's usage rules (flag 1).
    #[n(1)]
    CheckInCheckOut,
}

/// The usage rules of a check-in/check-out license (003 [0167], [0215]).
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct UsageRules {
    /// Plays left; `None` = unlimited.
    #[n(0)]
    pub plays_left: Option<u32>,
    /// Last moment the content may be played (inclusive); `None` = no term.
    #[n(1)]
    pub valid_until: Option<Timestamp>,
    /// How many more copies may be checked out to other devices.
    #[n(2)]
    pub checkouts_left: u32,
}

/// One favorite: the content id and the group id it came with (003 [0395], [0400]).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Encode, Decode)]
pub struct Favorite {
    #[n(0)]
    pub content: crate::ids::ContentId,
    #[n(1)]
    pub group: GroupId,
}

/// Group limits (003 [0244]-[0245], [0289]); both configurable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Encode, Decode)]
pub struct GroupLimits {
    /// PCs (terminal ids) registered at the same time. Default 3.
    #[n(0)]
    pub max_pcs: u32,
    /// Recorder ids ever registered, counted even after their PC leaves. Default 10.
    #[n(1)]
    pub max_recorders: u32,
}

impl Default for GroupLimits {
    fn default() -> Self {
        GroupLimits { max_pcs: 3, max_recorders: 10 }
    }
}

/// How the distribution server builds the charisma list (003 [0421]-[0422]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Encode, Decode)]
pub enum CharismaPolicy {
    /// Every group id whose reliability is strictly greater than `threshold` ("higher than 100").
    #[n(0)]
    Threshold {
        #[n(0)]
        threshold: u64,
    },
    /// The `n` group ids with the highest reliability (ties broken by group id, ascending).
    #[n(1)]
    TopN {
        #[n(0)]
        n: u32,
    },
}

/// The distribution server's configuration, logged once in `DistributionConfigured`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Encode, Decode)]
pub struct DistributionConfig {
    /// Reliability points for the first purchase of a content through a
    /// favorite of a group's (003 [0380]: the first listener buys). Default 1.
    #[n(0)]
    pub points_per_purchase: u64,
    #[n(1)]
    pub policy: CharismaPolicy,
    /// Points for each later purchase of that content through a favorite of
    /// the same group, by another group (a further user). `None`: twice
    /// `points_per_purchase` (2 by default, as in [0380]).
    #[n(2)]
    pub points_per_further_purchase: Option<u64>,
}

impl DistributionConfig {
    /// The points of a further purchase (see `points_per_further_purchase`).
    pub fn further_points(&self) -> u64 {
        self.points_per_further_purchase.unwrap_or(self.points_per_purchase.saturating_mul(2))
    }
}

pub const DEFAULT_CHARISMA_THRESHOLD: u64 = 100;
pub const DEFAULT_TOP_N: u32 = 10;

impl Default for DistributionConfig {
    fn default() -> Self {
        DistributionConfig {
            points_per_purchase: 1,
            policy: CharismaPolicy::Threshold { threshold: DEFAULT_CHARISMA_THRESHOLD },
            points_per_further_purchase: None,
        }
    }
}

/// Why a device registration was refused (`DeviceRegistrationRefused`).
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub enum RegistrationRefusal {
    /// The device is registered in another group; it must leave it first.
    #[n(0)]
    AlreadyInGroup {
        #[n(0)]
        other: GroupId,
    },
    /// The group already has `limit` PCs registered.
    #[n(1)]
    TooManyPcs {
        #[n(0)]
        limit: u32,
    },
    /// The group has already had `limit` recorder ids and this PC brings a new one.
    #[n(2)]
    TooManyRecorders {
        #[n(0)]
        limit: u32,
    },
    /// A PD was presented without, or through a device that is not, a registered PC of the group.
    #[n(3)]
    NotThroughRegisteredPc {
        #[n(0)]
        via: Option<DeviceId>,
    },
    /// The device's source id list failed its integrity check, so it cannot be updated.
    #[n(4)]
    SourceListRejected,
}

/// Why a group certificate was not added to a device's list (`CertificateRefused`).
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub enum CertificateRefusal {
    /// The certificate's term ended before `now`.
    #[n(0)]
    Expired {
        #[n(0)]
        valid_until: Timestamp,
    },
    /// The certificate's group id is not the group id in the device's list.
    #[n(1)]
    OtherGroup {
        #[n(0)]
        device_group: Option<GroupId>,
    },
    /// The certificate's MAC does not match its fields (forged or altered).
    #[n(2)]
    BadMac,
    /// The device's source id list failed its integrity check.
    #[n(3)]
    SourceListRejected,
}

/// Why a device did not play a content from its library (`DevicePlayRefused`).
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub enum PlayRefusal {
    /// The content's source id is not in the device's list.
    #[n(0)]
    NotInSourceList {
        #[n(0)]
        source: SourceId,
    },
    /// The source id is in the list but its term has ended.
    #[n(1)]
    SourceIdExpired {
        #[n(0)]
        source: SourceId,
        #[n(1)]
        valid_until: Timestamp,
    },
    /// Check-in/check-out mode and the content carries no license usage rules.
    #[n(2)]
    NoUsageRules,
    /// Check-in/check-out mode and the play count is used up.
    #[n(3)]
    NoPlaysLeft,
    /// Check-in/check-out mode and the license's term has ended.
    #[n(4)]
    LicenseExpired {
        #[n(0)]
        valid_until: Timestamp,
    },
    /// The device's source id list failed its integrity check, so it is not used.
    #[n(5)]
    SourceListRejected,
}

/// Why a copy between two devices was refused (`CopyRefused`).
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub enum CopyRefusal {
    /// Unmanaged content is copied only between a PC and a PD.
    #[n(0)]
    NotPcAndPd,
    /// Unmanaged content is copied only when both devices are in the same group.
    #[n(1)]
    GroupMismatch {
        #[n(0)]
        from: Option<GroupId>,
        #[n(1)]
        to: Option<GroupId>,
    },
    /// Check-in/check-out content whose license allows no more check-outs.
    #[n(2)]
    NoCheckoutsLeft,
}

/// Why a receiving PD did not play shared content (`SharedContentRefused`).
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub enum SharedRefusal {
    /// The distribution service codes of the two group ids differ.
    #[n(0)]
    ServiceCodeMismatch {
        #[n(0)]
        ours: u32,
        #[n(1)]
        theirs: u32,
    },
    /// The receiver is in no group, so it has no service code to compare.
    #[n(1)]
    ReceiverNotInGroup,
}

/// Why a receiving PD switched away from what it was playing (`SwitchedToShared`).
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub enum SwitchReason {
    #[n(0)]
    AutoSwitch,
    /// The sender's reliability was above the receiver's threshold.
    #[n(1)]
    Reliability {
        #[n(0)]
        reliability: u64,
        #[n(1)]
        threshold: u64,
    },
    /// The sender's group id is on the receiver's charisma list copy.
    #[n(2)]
    Charisma,
}

/// Which operation found a source id list failing its integrity check (`SourceListRejected`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Encode, Decode)]
pub enum ListUse {
    #[n(0)]
    Registration,
    #[n(1)]
    Deregistration,
    #[n(2)]
    Merge,
}
