//! User registration and group management (003 [0045]-[0069], [0237]-[0255], [0289], [0306]-[0310]).
//!
//! The group management server (`group-server`) registers users and assigns
//! each a leaf id from a counter, rendered as 5 base-36 characters (`00001`,
//! …, `0000A`, …); the user's group id is the service id + leaf id and the
//! group lives in `group-{group id}`.
//!
//! A device is in at most one group. Registering it is one atomic decision
//! over the group stream and the device stream (the device stream knows the
//! device's current group), so two groups can never both take it. A group
//! has at most `max_pcs` PCs at a time and at most `max_recorders` recorder
//! ids ever (kept after their PC leaves); PDs are unlimited but come only
//! through a PC already registered in the group. Refusals are
//! `DeviceRegistrationRefused` events; unknown users, groups and devices are
//! typed errors.

use std::collections::{BTreeMap, BTreeSet};

use super::device::Device;
use super::events::GroupEvent;
use super::source_list::{seal_list, CertificateKey, DeviceSecret, GroupCertificate, SourceEntry, SourceId, SourceIdList};
use super::streams::{device_stream, group_stream, GROUP_SERVER_STREAM};
use super::types::{DeviceKind, GroupLimits, ListUse, RegistrationRefusal};
use crate::aggregate::{Decided, Decision, StreamEvents};
use crate::ids::{DeviceId, GroupId, LeafId, RecorderId, ServiceId, TerminalId, UserId};
use crate::time::Timestamp;

/// Characters of a leaf id.
pub const LEAF_LEN: u32 = 5;
const BASE36: &[u8; 36] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";

/// The `n`th leaf id (n >= 1) as 5 base-36 characters, or `None` past `ZZZZZ`.
pub fn leaf_for(n: u64) -> Option<LeafId> {
    if n == 0 || n >= 36u64.pow(LEAF_LEN) {
        return None;
    }
    let mut chars = [b'0'; LEAF_LEN as usize];
    let mut rest = n;
    for slot in chars.iter_mut().rev() {
        *slot = BASE36[(rest % 36) as usize];
        rest /= 36;
    }
    LeafId::new(String::from_utf8_lossy(&chars).into_owned()).ok()
}

/// The group management server's registry, stream `group-server`.
#[derive(Debug, Clone, Default, PartialEq, Eq, minicbor::Encode, minicbor::Decode)]
pub struct GroupServer {
    #[n(0)]
    version: u64,
    #[n(1)]
    users: BTreeMap<UserId, GroupId>,
}

impl GroupServer {
    pub fn version(&self) -> u64 {
        self.version
    }
    pub fn group_of(&self, user: &UserId) -> Option<&GroupId> {
        self.users.get(user)
    }
    pub fn users(&self) -> &BTreeMap<UserId, GroupId> {
        &self.users
    }
    pub fn apply(&mut self, event: &GroupEvent) {
        self.version += 1;
        if let GroupEvent::UserRegistered { user, group, .. } = event {
            self.users.insert(user.clone(), group.clone());
        }
    }
}

/// Why a user could not be registered.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RegisterUserError {
    #[error("user {user} is already registered, with group {group}")]
    AlreadyRegistered { user: UserId, group: GroupId },
    #[error("every leaf id is taken ({assigned} assigned)")]
    LeafIdsExhausted { assigned: usize },
    #[error("group limits must be at least 1: {max_pcs} PCs, {max_recorders} recorder ids")]
    BadLimits { max_pcs: u32, max_recorders: u32 },
}

/// Registers `user` for `service`: assigns the next leaf id and opens the
/// group stream (`UserRegistered` on `group-server` and `group-{group}`).
/// The outcome is the user's new group id.
pub fn register_user(server: &GroupServer, user: &UserId, service: ServiceId, limits: GroupLimits) -> Result<Decided<GroupId, GroupEvent>, RegisterUserError> {
    if let Some(group) = server.users.get(user) {
        return Err(RegisterUserError::AlreadyRegistered { user: user.clone(), group: group.clone() });
    }
    if limits.max_pcs == 0 || limits.max_recorders == 0 {
        return Err(RegisterUserError::BadLimits { max_pcs: limits.max_pcs, max_recorders: limits.max_recorders });
    }
    let assigned = server.users.len();
    let leaf = leaf_for(assigned as u64 + 1).ok_or(RegisterUserError::LeafIdsExhausted { assigned })?;
    let group = GroupId::new(service, leaf.clone());
    let event = GroupEvent::UserRegistered { user: user.clone(), leaf, group: group.clone(), limits };
    let decision = Decision {
        appends: vec![
            StreamEvents { stream: GROUP_SERVER_STREAM.to_string(), expected_version: server.version(), events: vec![event.clone()] },
            StreamEvents { stream: group_stream(&group), expected_version: 0, events: vec![event] },
        ],
    };
    Ok(Decided { outcome: group, decision })
}

/// A registered PC as the group sees it.
#[derive(Debug, Clone, PartialEq, Eq, minicbor::Encode, minicbor::Decode)]
pub struct RegisteredPc {
    #[n(0)]
    pub terminal: TerminalId,
    #[n(1)]
    pub recorder: Option<RecorderId>,
}

/// One user's group, stream `group-{group id}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, minicbor::Encode, minicbor::Decode)]
pub struct UserGroup {
    #[n(0)]
    version: u64,
    #[n(1)]
    user: Option<UserId>,
    #[n(2)]
    group: Option<GroupId>,
    #[n(3)]
    limits: GroupLimits,
    #[n(4)]
    pcs: BTreeMap<DeviceId, RegisteredPc>,
    #[n(5)]
    pds: BTreeSet<DeviceId>,
    #[n(6)]
    recorders_ever: BTreeSet<RecorderId>,
    #[n(7)]
    certificates: BTreeMap<RecorderId, GroupCertificate>,
}

impl UserGroup {
    pub fn version(&self) -> u64 {
        self.version
    }
    pub fn user(&self) -> Option<&UserId> {
        self.user.as_ref()
    }
    pub fn group(&self) -> Option<&GroupId> {
        self.group.as_ref()
    }
    pub fn limits(&self) -> GroupLimits {
        self.limits
    }
    pub fn pcs(&self) -> &BTreeMap<DeviceId, RegisteredPc> {
        &self.pcs
    }
    pub fn pds(&self) -> &BTreeSet<DeviceId> {
        &self.pds
    }
    /// Every recorder id ever registered in the group, including those of PCs that left.
    pub fn recorders_ever(&self) -> &BTreeSet<RecorderId> {
        &self.recorders_ever
    }
    /// Certificates of the PCs still registered, for distribution to the others ([0252]).
    pub fn certificates(&self) -> &BTreeMap<RecorderId, GroupCertificate> {
        &self.certificates
    }
    pub fn contains(&self, device: &DeviceId) -> bool {
        self.pcs.contains_key(device) || self.pds.contains(device)
    }

    pub fn apply(&mut self, event: &GroupEvent) {
        self.version += 1;
        match event {
            GroupEvent::UserRegistered { user, group, limits, .. } => {
                self.user = Some(user.clone());
                self.group = Some(group.clone());
                self.limits = *limits;
            }
            GroupEvent::DeviceRegistered { device, kind, .. } => match kind {
                DeviceKind::Pc { terminal, recorder } => {
                    self.recorders_ever.extend(recorder.iter().cloned());
                    self.pcs.insert(device.clone(), RegisteredPc { terminal: terminal.clone(), recorder: recorder.clone() });
                }
                DeviceKind::Pd => {
                    self.pds.insert(device.clone());
                }
            },
            GroupEvent::DeviceDeregistered { device, .. } => {
                if let Some(pc) = self.pcs.remove(device) {
                    if let Some(recorder) = pc.recorder {
                        self.certificates.remove(&recorder); // [0254]; the recorder id stays counted
                    }
                }
                self.pds.remove(device);
            }
            GroupEvent::GroupCertificateIssued { certificate, .. } => {
                self.certificates.insert(certificate.recorder.clone(), certificate.clone());
            }
            _ => {}
        }
    }

    /// Why the group would refuse `device` of `kind` (through `via`), if it would.
    fn refusal(&self, device: &Device, kind: &DeviceKind, via: Option<&DeviceId>, secret: &DeviceSecret) -> Option<RegistrationRefusal> {
        if let Some(other) = device.group() {
            return Some(RegistrationRefusal::AlreadyInGroup { other: other.clone() });
        }
        if !device.list_is_intact(secret) {
            return Some(RegistrationRefusal::SourceListRejected);
        }
        match kind {
            DeviceKind::Pc { recorder, .. } => self.pc_refusal(recorder.as_ref()),
            DeviceKind::Pd => match via {
                Some(pc) if self.pcs.contains_key(pc) => None,
                _ => Some(RegistrationRefusal::NotThroughRegisteredPc { via: via.cloned() }),
            },
        }
    }

    fn pc_refusal(&self, recorder: Option<&RecorderId>) -> Option<RegistrationRefusal> {
        if self.pcs.len() >= self.limits.max_pcs as usize {
            return Some(RegistrationRefusal::TooManyPcs { limit: self.limits.max_pcs });
        }
        let new_recorder = recorder.is_some_and(|r| !self.recorders_ever.contains(r));
        if new_recorder && self.recorders_ever.len() >= self.limits.max_recorders as usize {
            return Some(RegistrationRefusal::TooManyRecorders { limit: self.limits.max_recorders });
        }
        None
    }
}

/// Why a registration command is malformed (refusals are `DeviceRegistrationRefused` events).
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RegisterDeviceError {
    #[error("no such group: the group stream holds no registered user (device {device})")]
    UnknownGroup { device: DeviceId },
    #[error("no such device: device {device} was never provisioned")]
    UnknownDevice { device: DeviceId },
    #[error("device {device} is already registered in group {group}")]
    AlreadyInThisGroup { device: DeviceId, group: GroupId },
}

/// The group and device ids, once both streams exist.
fn known<'a>(group: &'a UserGroup, device: &'a Device, named: &DeviceId) -> Result<(&'a GroupId, &'a DeviceId), RegisterDeviceError> {
    let group_id = group.group().ok_or_else(|| RegisterDeviceError::UnknownGroup { device: named.clone() })?;
    let device_id = device.id().filter(|id| *id == named).ok_or_else(|| RegisterDeviceError::UnknownDevice { device: named.clone() })?;
    Ok((group_id, device_id))
}

/// Registers `device` into `group` (003 [0244]-[0248], [0289], [0306]-[0310]).
///
/// `device` must be the state of the device named `named`; `via` is the
/// registered PC a PD is registered through; `secret` is the device's list
/// key (its list is checked, then sealed again with the group id added).
/// On success `DeviceRegistered` goes to both streams and `SourceIdAdded` to
/// the device; a refusal goes to the group stream only.
pub fn register_device(
    group: &UserGroup,
    device: &Device,
    named: &DeviceId,
    via: Option<&DeviceId>,
    secret: &DeviceSecret,
) -> Result<Decided<(), GroupEvent>, RegisterDeviceError> {
    let (group_id, device_id) = known(group, device, named)?;
    if device.group() == Some(group_id) {
        return Err(RegisterDeviceError::AlreadyInThisGroup { device: device_id.clone(), group: group_id.clone() });
    }
    let kind = device.kind().cloned().ok_or_else(|| RegisterDeviceError::UnknownDevice { device: named.clone() })?;
    if let Some(reason) = group.refusal(device, &kind, via, secret) {
        let refused = GroupEvent::DeviceRegistrationRefused { group: group_id.clone(), device: device_id.clone(), reason };
        return Ok(Decided::single(group_stream(group_id), group.version(), vec![refused], ()));
    }
    let via = if kind.is_pc() { None } else { via.cloned() };
    let registered = GroupEvent::DeviceRegistered { group: group_id.clone(), device: device_id.clone(), kind, via };
    let added = device.add_source(device_id, secret, SourceEntry::new(SourceId::Group(group_id.clone()), None));
    Ok(Decided { outcome: (), decision: group_and_device(group, group_id, vec![registered.clone()], device, device_id, vec![registered, added]) })
}

/// Events for a group's stream and a device's, in one atomic decision.
fn group_and_device(
    group: &UserGroup,
    group_id: &GroupId,
    group_events: Vec<GroupEvent>,
    device: &Device,
    device_id: &DeviceId,
    device_events: Vec<GroupEvent>,
) -> Decision<GroupEvent> {
    Decision {
        appends: vec![
            StreamEvents { stream: group_stream(group_id), expected_version: group.version(), events: group_events },
            StreamEvents { stream: device_stream(device_id), expected_version: device.version(), events: device_events },
        ],
    }
}

/// Why a deregistration command is malformed.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DeregisterError {
    #[error("no such group: the group stream holds no registered user (device {device})")]
    UnknownGroup { device: DeviceId },
    #[error("no such device: device {device} was never provisioned")]
    UnknownDevice { device: DeviceId },
    #[error("device {device} is not registered in group {group}")]
    NotInGroup { device: DeviceId, group: GroupId },
}

/// Takes `device` out of `group` (003 [0048], [0183], [0248]).
///
/// `DeviceDeregistered` goes to both streams. The device's list is emptied
/// except its own recorder id (`SourceListCleared`), unless it fails its
/// integrity check, in which case it is left untouched (`SourceListRejected`).
/// The group keeps counting the PC's recorder id.
pub fn deregister_device(group: &UserGroup, device: &Device, named: &DeviceId, secret: &DeviceSecret) -> Result<Decided<(), GroupEvent>, DeregisterError> {
    let (group_id, device_id) = known(group, device, named).map_err(|e| match e {
        RegisterDeviceError::UnknownGroup { device } => DeregisterError::UnknownGroup { device },
        _ => DeregisterError::UnknownDevice { device: named.clone() },
    })?;
    if !group.contains(device_id) || device.group() != Some(group_id) {
        return Err(DeregisterError::NotInGroup { device: device_id.clone(), group: group_id.clone() });
    }
    let left = GroupEvent::DeviceDeregistered { group: group_id.clone(), device: device_id.clone() };
    let list_event = if device.list_is_intact(secret) {
        let kept = device.recorder().cloned();
        let icv = seal_list(secret, device_id, &SourceIdList::only_recorder(kept.as_ref()));
        GroupEvent::SourceListCleared { device: device_id.clone(), kept, icv }
    } else {
        GroupEvent::SourceListRejected { device: device_id.clone(), during: ListUse::Deregistration }
    };
    Ok(Decided { outcome: (), decision: group_and_device(group, group_id, vec![left.clone()], device, device_id, vec![left, list_event]) })
}

/// Why a certificate could not be issued.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum IssueCertificateError {
    #[error("no such group: the group stream holds no registered user (device {device})")]
    UnknownGroup { device: DeviceId },
    #[error("device {device} is not a PC registered in group {group}")]
    NotARegisteredPc { device: DeviceId, group: GroupId },
    #[error("PC {device} has no recorder id to certify")]
    NoRecorder { device: DeviceId },
    #[error("a certificate valid until {valid_until} would already be expired")]
    AlreadyExpired { valid_until: Timestamp },
}

/// A registered PC issues the group certificate for its recorder id
/// (003 [0069], [0252]); `GroupCertificateIssued` goes to the group stream
/// (the certificate management server's store) and to the PC's stream. The
/// outcome is the certificate issued.
pub fn issue_certificate(
    group: &UserGroup,
    pc: &Device,
    named: &DeviceId,
    key: &CertificateKey,
    valid_until: Timestamp,
    now: Timestamp,
) -> Result<Decided<GroupCertificate, GroupEvent>, IssueCertificateError> {
    let group_id = group.group().ok_or_else(|| IssueCertificateError::UnknownGroup { device: named.clone() })?;
    let registered = group.pcs.get(named).filter(|_| pc.id() == Some(named) && pc.group() == Some(group_id));
    let registered = registered.ok_or_else(|| IssueCertificateError::NotARegisteredPc { device: named.clone(), group: group_id.clone() })?;
    let recorder = registered.recorder.clone().ok_or_else(|| IssueCertificateError::NoRecorder { device: named.clone() })?;
    if valid_until < now {
        return Err(IssueCertificateError::AlreadyExpired { valid_until });
    }
    let certificate = GroupCertificate::issue(key, group_id.clone(), recorder, valid_until);
    let event = GroupEvent::GroupCertificateIssued { device: named.clone(), certificate: certificate.clone() };
    Ok(Decided { outcome: certificate, decision: group_and_device(group, group_id, vec![event.clone()], pc, named, vec![event]) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leaf_ids_are_five_base36_characters_from_one() {
        assert_eq!(leaf_for(1).unwrap().as_str(), "00001");
        assert_eq!(leaf_for(10).unwrap().as_str(), "0000A");
        assert_eq!(leaf_for(36).unwrap().as_str(), "00010");
        assert_eq!(leaf_for(36u64.pow(5) - 1).unwrap().as_str(), "ZZZZZ");
        assert!(leaf_for(0).is_none());
        assert!(leaf_for(36u64.pow(5)).is_none());
    }
}
