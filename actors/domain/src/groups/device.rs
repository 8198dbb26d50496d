//! The device aggregate (PC or PD), stream `device-{device id}` (003 [0140]-[0231], [0315], [0338]-[0354]).
//!
//! A device owns its group id, its source id list L and the list's integrity
//! value, its library (content id -> source id, usage rules, shareable flag),
//! its control mode, its radio settings, its favorites, its copy of the
//! charisma list and its own reliability.
//!
//! Every command that uses or updates the list carries the device secret; the
//! list is checked against its integrity value first, and a list that fails
//! is never used or updated: the decision is a refusal naming it.
//!
//! Single-device commands go through [`Aggregate::decide`]; copies and list
//! merges span two devices and are [`Decision`]s ([`copy_content`],
//! [`merge_lists`]). Each state counts the events applied to it, so
//! `version()` is the expected version of its stream.

use std::collections::{BTreeMap, BTreeSet};

use super::events::GroupEvent;
use super::radio::{self, RadioSettingsError, ReceiveError, ShareError, SharedContent};
use super::reputation::{self, FavoriteError, SyncError};
use super::source_list::{seal_list, verify_list, CertificateKey, DeviceSecret, GroupCertificate, Mac, SourceEntry, SourceId, SourceIdList};
use super::streams::device_stream;
use super::types::*;
use crate::aggregate::{Aggregate, Decided, Decision, StreamEvents};
use crate::ids::{ContentId, DeviceId, GroupId, RecorderId};
use crate::time::Timestamp;

/// Default reliability above which a receiving PD switches to shared content.
pub const DEFAULT_SWITCH_THRESHOLD: u64 = 100;

/// A content stored on the device.
#[derive(Debug, Clone, PartialEq, Eq, minicbor::Encode, minicbor::Decode)]
pub struct LibraryItem {
    #[n(0)]
    pub source: Option<SourceId>,
    #[n(1)]
    pub rules: Option<UsageRules>,
    #[n(2)]
    pub shareable: bool,
}

/// What the device is playing; `shared_from` is the sender's group id for received content.
#[derive(Debug, Clone, PartialEq, Eq, minicbor::Encode, minicbor::Decode)]
pub struct NowPlaying {
    #[n(0)]
    pub content: ContentId,
    #[n(1)]
    pub shared_from: Option<GroupId>,
}

/// State of one device, rebuilt from its stream.
#[derive(Debug, Clone, PartialEq, Eq, minicbor::Encode, minicbor::Decode)]
pub struct Device {
    #[n(0)]
    pub(super) version: u64,
    #[n(1)]
    pub(super) id: Option<DeviceId>,
    #[n(2)]
    pub(super) kind: Option<DeviceKind>,
    #[n(3)]
    pub(super) group: Option<GroupId>,
    #[n(4)]
    pub(super) list: SourceIdList,
    #[n(5)]
    pub(super) icv: Mac,
    #[n(6)]
    pub(super) mode: ControlMode,
    #[n(7)]
    pub(super) library: BTreeMap<ContentId, LibraryItem>,
    #[n(8)]
    pub(super) now_playing: Option<NowPlaying>,
    #[n(9)]
    pub(super) auto_switch: bool,
    #[n(10)]
    pub(super) switch_threshold: u64,
    #[n(11)]
    pub(super) favorites: Vec<Favorite>,
    #[n(12)]
    pub(super) charisma: BTreeSet<GroupId>,
    #[n(13)]
    pub(super) reliability: u64,
}

impl Default for Device {
    fn default() -> Self {
        Device {
            version: 0,
            id: None,
            kind: None,
            group: None,
            list: SourceIdList::new(),
            icv: Mac::default(),
            mode: ControlMode::default(),
            library: BTreeMap::new(),
            now_playing: None,
            auto_switch: false,
            switch_threshold: DEFAULT_SWITCH_THRESHOLD,
            favorites: Vec::new(),
            charisma: BTreeSet::new(),
            reliability: 0,
        }
    }
}

impl Device {
    /// Events applied so far: the expected version of `device-{id}`.
    pub fn version(&self) -> u64 {
        self.version
    }
    pub fn id(&self) -> Option<&DeviceId> {
        self.id.as_ref()
    }
    pub fn kind(&self) -> Option<&DeviceKind> {
        self.kind.as_ref()
    }
    pub fn group(&self) -> Option<&GroupId> {
        self.group.as_ref()
    }
    pub fn source_list(&self) -> &SourceIdList {
        &self.list
    }
    pub fn icv(&self) -> &Mac {
        &self.icv
    }
    pub fn mode(&self) -> ControlMode {
        self.mode
    }
    pub fn library(&self) -> &BTreeMap<ContentId, LibraryItem> {
        &self.library
    }
    pub fn now_playing(&self) -> Option<&NowPlaying> {
        self.now_playing.as_ref()
    }
    pub fn auto_switch(&self) -> bool {
        self.auto_switch
    }
    pub fn switch_threshold(&self) -> u64 {
        self.switch_threshold
    }
    pub fn favorites(&self) -> &[Favorite] {
        &self.favorites
    }
    pub fn charisma_list(&self) -> &BTreeSet<GroupId> {
        &self.charisma
    }
    pub fn reliability(&self) -> u64 {
        self.reliability
    }
    pub fn is_pc(&self) -> bool {
        self.kind.as_ref().is_some_and(DeviceKind::is_pc)
    }
    pub fn is_pd(&self) -> bool {
        matches!(self.kind, Some(DeviceKind::Pd))
    }
    pub fn recorder(&self) -> Option<&RecorderId> {
        self.kind.as_ref().and_then(DeviceKind::recorder)
    }

    /// The device as an attacker who rewrote its stored list (without the
    /// secret) would leave it: the list replaced, the integrity value kept.
    /// The scenario runner and tests use it to exercise the integrity check.
    pub fn with_tampered_list(&self, list: SourceIdList) -> Device {
        Device { list, ..self.clone() }
    }

    /// Whether the stored list passes its integrity check under `secret`.
    pub fn list_is_intact(&self, secret: &DeviceSecret) -> bool {
        self.id.as_ref().is_some_and(|id| verify_list(secret, id, &self.list, &self.icv))
    }

    /// The stream this device's events go to, once provisioned.
    pub fn stream(&self) -> Option<String> {
        self.id.as_ref().map(device_stream)
    }

    pub(super) fn require_id(&self) -> Option<&DeviceId> {
        self.id.as_ref()
    }

    /// `self.list` with `entry` added, sealed: the `SourceIdAdded` to append.
    pub(super) fn add_source(&self, id: &DeviceId, secret: &DeviceSecret, entry: SourceEntry) -> GroupEvent {
        let mut list = self.list.clone();
        list.upsert(entry.clone());
        GroupEvent::SourceIdAdded { device: id.clone(), entry, icv: seal_list(secret, id, &list) }
    }
}

/// A command for one device.
#[derive(Debug, Clone)]
pub enum DeviceCommand {
    /// Bring a device into service; a PC with a recorder id gets it in its list ([0181]).
    Provision { device: DeviceId, kind: DeviceKind, secret: DeviceSecret },
    /// Add a certificate's recorder id to the list ([0348]-[0354]).
    AcceptCertificate { certificate: GroupCertificate, key: CertificateKey, secret: DeviceSecret },
    /// Rip a content on a PC: its source id is the PC's recorder id ([0055], [0149]).
    Rip { content: ContentId },
    /// Store a purchased or downloaded content with its source id and usage rules.
    Acquire { content: ContentId, source: Option<SourceId>, rules: Option<UsageRules> },
    /// Set the reproduction control method ([0154]).
    SetMode { mode: ControlMode },
    /// Play a content from the library ([0162]-[0167], [0338]-[0347]).
    Play { content: ContentId, secret: DeviceSecret },
    /// Stop playing.
    Stop,
    /// Mark a library content as shareable by radio ([0397]).
    MarkShareable { content: ContentId },
    /// Transmit a shareable content by radio ([0425]).
    Transmit { content: ContentId },
    /// Receive content transmitted by another PD ([0430]-[0433]).
    ReceiveShared { shared: SharedContent },
    /// Auto-switch and the reliability threshold for switching ([0392], [0431]).
    SetRadio { auto_switch: bool, reliability_threshold: u64 },
    /// The favorite button: record what is playing ([0395], [0434]).
    PressFavorite,
    /// Reliability and charisma list from the distribution server ([0407]-[0408], [0428]).
    SyncReputation { reliability: u64, charisma: Vec<GroupId> },
}

/// Why a device could not be provisioned.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProvisionError {
    #[error("device {device} is already provisioned")]
    AlreadyProvisioned { device: DeviceId },
}

/// Why a certificate command is malformed (refusals are `CertificateRefused` events).
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CertificateError {
    #[error("no such device: a certificate for recorder {recorder} was offered to an unprovisioned device")]
    UnknownDevice { recorder: RecorderId },
}

/// Why a rip command is malformed.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RipError {
    #[error("no such device: content {content} cannot be ripped on an unprovisioned device")]
    UnknownDevice { content: ContentId },
    #[error("device {device} is not a PC with a recorder id, so it cannot rip")]
    NoRecorder { device: DeviceId },
    #[error("content {content} is already in the library")]
    AlreadyInLibrary { content: ContentId },
}

/// Why an acquire command is malformed.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AcquireError {
    #[error("no such device: content {content} cannot be stored on an unprovisioned device")]
    UnknownDevice { content: ContentId },
    #[error("content {content} is already in the library")]
    AlreadyInLibrary { content: ContentId },
}

/// Why a mode change is malformed.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ModeError {
    #[error("no such device: mode {mode:?} cannot be set on an unprovisioned device")]
    UnknownDevice { mode: ControlMode },
}

/// Why a play command is malformed (refusals are `DevicePlayRefused` events).
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PlayError {
    #[error("no such device: content {content} cannot be played on an unprovisioned device")]
    UnknownDevice { content: ContentId },
    #[error("content {content} is not in the library of device {device}")]
    NotInLibrary { device: DeviceId, content: ContentId },
}

/// Why a stop command is malformed.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum StopError {
    #[error("no such device: an unprovisioned device cannot stop playing")]
    UnknownDevice,
    #[error("device {device} is not playing anything")]
    NotPlaying { device: DeviceId },
}

/// Any error of a single-device command.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DeviceError {
    #[error(transparent)]
    Provision(#[from] ProvisionError),
    #[error(transparent)]
    Certificate(#[from] CertificateError),
    #[error(transparent)]
    Rip(#[from] RipError),
    #[error(transparent)]
    Acquire(#[from] AcquireError),
    #[error(transparent)]
    Mode(#[from] ModeError),
    #[error(transparent)]
    Play(#[from] PlayError),
    #[error(transparent)]
    Stop(#[from] StopError),
    #[error(transparent)]
    Share(#[from] ShareError),
    #[error(transparent)]
    Receive(#[from] ReceiveError),
    #[error(transparent)]
    Radio(#[from] RadioSettingsError),
    #[error(transparent)]
    Favorite(#[from] FavoriteError),
    #[error(transparent)]
    Sync(#[from] SyncError),
}

fn provision(device: &Device, id: &DeviceId, kind: &DeviceKind, secret: &DeviceSecret) -> Result<Vec<GroupEvent>, ProvisionError> {
    if let Some(existing) = &device.id {
        return Err(ProvisionError::AlreadyProvisioned { device: existing.clone() });
    }
    let list = SourceIdList::only_recorder(kind.recorder());
    let icv = seal_list(secret, id, &list);
    Ok(vec![GroupEvent::DeviceProvisioned { device: id.clone(), kind: kind.clone(), list, icv }])
}

fn accept_certificate(
    device: &Device,
    cert: &GroupCertificate,
    key: &CertificateKey,
    secret: &DeviceSecret,
    now: Timestamp,
) -> Result<Vec<GroupEvent>, CertificateError> {
    let id = device.require_id().ok_or_else(|| CertificateError::UnknownDevice { recorder: cert.recorder.clone() })?;
    let refuse = |reason| Ok(vec![GroupEvent::CertificateRefused { device: id.clone(), group: cert.group.clone(), recorder: cert.recorder.clone(), reason }]);
    if !device.list_is_intact(secret) {
        return refuse(CertificateRefusal::SourceListRejected);
    }
    if !cert.verify(key) {
        return refuse(CertificateRefusal::BadMac);
    }
    if !cert.is_valid_at(now) {
        return refuse(CertificateRefusal::Expired { valid_until: cert.valid_until });
    }
    let own_group = device.list.group_id();
    if own_group != Some(&cert.group) {
        return refuse(CertificateRefusal::OtherGroup { device_group: own_group.cloned() });
    }
    let entry = SourceEntry::new(SourceId::Recorder(cert.recorder.clone()), Some(cert.valid_until));
    Ok(vec![device.add_source(id, secret, entry)])
}

fn rip(device: &Device, content: &ContentId) -> Result<Vec<GroupEvent>, RipError> {
    let id = device.require_id().ok_or_else(|| RipError::UnknownDevice { content: content.clone() })?;
    let recorder = device.recorder().ok_or_else(|| RipError::NoRecorder { device: id.clone() })?;
    if device.library.contains_key(content) {
        return Err(RipError::AlreadyInLibrary { content: content.clone() });
    }
    Ok(vec![GroupEvent::ContentRipped { device: id.clone(), content: content.clone(), recorder: recorder.clone() }])
}

/// 003 [0138]-[0139]: a purchase made through this PC or PD puts the content
/// into its library with the buyer's group id as its source id, so the
/// device plays it under group management. Nothing when the device was never
/// provisioned (a plain player) or already holds the content.
pub fn purchase_into_library(device: &Device, content: &ContentId, buyer: &GroupId) -> Option<StreamEvents<GroupEvent>> {
    let id = device.require_id()?;
    if device.library.contains_key(content) {
        return None;
    }
    let acquired = GroupEvent::ContentAcquired { device: id.clone(), content: content.clone(), source: Some(SourceId::Group(buyer.clone())), rules: None };
    Some(StreamEvents { stream: device_stream(id), expected_version: device.version(), events: vec![acquired] })
}

fn acquire(device: &Device, content: &ContentId, source: &Option<SourceId>, rules: &Option<UsageRules>) -> Result<Vec<GroupEvent>, AcquireError> {
    let id = device.require_id().ok_or_else(|| AcquireError::UnknownDevice { content: content.clone() })?;
    if device.library.contains_key(content) {
        return Err(AcquireError::AlreadyInLibrary { content: content.clone() });
    }
    Ok(vec![GroupEvent::ContentAcquired { device: id.clone(), content: content.clone(), source: source.clone(), rules: rules.clone() }])
}

fn set_mode(device: &Device, mode: ControlMode) -> Result<Vec<GroupEvent>, ModeError> {
    let id = device.require_id().ok_or(ModeError::UnknownDevice { mode })?;
    Ok(vec![GroupEvent::ModeChanged { device: id.clone(), mode }])
}

/// Group-management check: unmanaged content plays anywhere; managed content
/// only if its source id is in an intact list and within its term.
fn group_management_verdict(device: &Device, item: &LibraryItem, secret: &DeviceSecret, now: Timestamp) -> Result<(), PlayRefusal> {
    let Some(source) = &item.source else { return Ok(()) };
    if !device.list_is_intact(secret) {
        return Err(PlayRefusal::SourceListRejected);
    }
    let entry = device.list.get(source).ok_or_else(|| PlayRefusal::NotInSourceList { source: source.clone() })?;
    match entry.valid_until {
        Some(until) if now > until => Err(PlayRefusal::SourceIdExpired { source: source.clone(), valid_until: until }),
        _ => Ok(()),
    }
}

/// Check-in/check-out check: the license's play count and validity term.
fn check_in_check_out_verdict(item: &LibraryItem, now: Timestamp) -> Result<(), PlayRefusal> {
    let rules = item.rules.as_ref().ok_or(PlayRefusal::NoUsageRules)?;
    if rules.plays_left == Some(0) {
        return Err(PlayRefusal::NoPlaysLeft);
    }
    match rules.valid_until {
        Some(until) if now > until => Err(PlayRefusal::LicenseExpired { valid_until: until }),
        _ => Ok(()),
    }
}

fn play(device: &Device, content: &ContentId, secret: &DeviceSecret, now: Timestamp) -> Result<Vec<GroupEvent>, PlayError> {
    let id = device.require_id().ok_or_else(|| PlayError::UnknownDevice { content: content.clone() })?;
    let item = device.library.get(content).ok_or_else(|| PlayError::NotInLibrary { device: id.clone(), content: content.clone() })?;
    let verdict = match device.mode {
        ControlMode::GroupManagement => group_management_verdict(device, item, secret, now),
        ControlMode::CheckInCheckOut => check_in_check_out_verdict(item, now),
    };
    Ok(vec![match verdict {
        Ok(()) => GroupEvent::DevicePlayed { device: id.clone(), content: content.clone(), source: item.source.clone(), mode: device.mode },
        Err(reason) => GroupEvent::DevicePlayRefused { device: id.clone(), content: content.clone(), reason },
    }])
}

fn stop(device: &Device) -> Result<Vec<GroupEvent>, StopError> {
    let id = device.require_id().ok_or(StopError::UnknownDevice)?;
    match device.now_playing {
        Some(_) => Ok(vec![GroupEvent::PlaybackStopped { device: id.clone() }]),
        None => Err(StopError::NotPlaying { device: id.clone() }),
    }
}

impl Aggregate for Device {
    type Command = DeviceCommand;
    type Event = GroupEvent;
    type Error = DeviceError;

    fn decide(&self, command: &DeviceCommand, now: Timestamp) -> Result<Vec<GroupEvent>, DeviceError> {
        use DeviceCommand as C;
        Ok(match command {
            C::Provision { device, kind, secret } => provision(self, device, kind, secret)?,
            C::AcceptCertificate { certificate, key, secret } => accept_certificate(self, certificate, key, secret, now)?,
            C::Rip { content } => rip(self, content)?,
            C::Acquire { content, source, rules } => acquire(self, content, source, rules)?,
            C::SetMode { mode } => set_mode(self, *mode)?,
            C::Play { content, secret } => play(self, content, secret, now)?,
            C::Stop => stop(self)?,
            C::MarkShareable { content } => radio::mark_shareable(self, content)?,
            C::Transmit { content } => radio::transmit(self, content)?,
            C::ReceiveShared { shared } => radio::receive(self, shared)?,
            C::SetRadio { auto_switch, reliability_threshold } => radio::set_radio(self, *auto_switch, *reliability_threshold)?,
            C::PressFavorite => reputation::press_favorite(self)?,
            C::SyncReputation { reliability, charisma } => reputation::sync(self, *reliability, charisma)?,
        })
    }

    fn apply(&mut self, event: &GroupEvent) {
        self.version += 1;
        self.apply_own(event);
    }
}

/// Runs one single-device command on `device` ([`Aggregate::decide`]) as a
/// decision on its stream: the device's own, or for `Provision` the one the
/// command names (the state has no id yet).
pub fn device_command(device: &Device, command: &DeviceCommand, now: Timestamp) -> Result<Decided<(), GroupEvent>, DeviceError> {
    let events = device.decide(command, now)?;
    let stream = match command {
        DeviceCommand::Provision { device: id, .. } => Some(device_stream(id)),
        _ => device.stream(),
    };
    // Every command but `Provision` refuses an unprovisioned device, so the stream is known.
    let appends = stream.map(|stream| StreamEvents { stream, expected_version: device.version(), events }).into_iter().collect();
    Ok(Decided { outcome: (), decision: Decision { appends } })
}

impl Device {
    fn is_me(&self, device: &DeviceId) -> bool {
        self.id.as_ref() == Some(device)
    }

    fn apply_own(&mut self, event: &GroupEvent) {
        use GroupEvent as E;
        match event {
            E::DeviceProvisioned { device, kind, list, icv } if self.id.is_none() => {
                self.id = Some(device.clone());
                self.kind = Some(kind.clone());
                self.list = list.clone();
                self.icv = *icv;
            }
            E::DeviceRegistered { group, device, .. } if self.is_me(device) => self.group = Some(group.clone()),
            E::DeviceDeregistered { device, .. } if self.is_me(device) => self.group = None,
            E::SourceIdAdded { device, entry, icv } if self.is_me(device) => {
                self.list.upsert(entry.clone());
                self.icv = *icv;
            }
            E::SourceIdsMerged { device, list, icv, .. } if self.is_me(device) => {
                self.list = list.clone();
                self.icv = *icv;
            }
            E::SourceListCleared { device, kept, icv } if self.is_me(device) => {
                self.list = SourceIdList::only_recorder(kept.as_ref());
                self.icv = *icv;
            }
            E::ContentRipped { device, content, recorder } if self.is_me(device) => {
                self.store(content, Some(SourceId::Recorder(recorder.clone())), None);
            }
            E::ContentAcquired { device, content, source, rules } if self.is_me(device) => self.store(content, source.clone(), rules.clone()),
            E::ContentCopied { to, content, source, rules, .. } if self.is_me(to) => self.store(content, source.clone(), rules.clone()),
            E::ContentCheckedOut { device, content, .. } if self.is_me(device) => {
                if let Some(rules) = self.library.get_mut(content).and_then(|i| i.rules.as_mut()) {
                    rules.checkouts_left = rules.checkouts_left.saturating_sub(1);
                }
            }
            E::ModeChanged { device, mode } if self.is_me(device) => self.mode = *mode,
            E::DevicePlayed { device, content, mode, .. } if self.is_me(device) => self.played(content, *mode),
            E::PlaybackStopped { device } if self.is_me(device) => self.now_playing = None,
            _ => self.apply_sharing(event),
        }
    }

    fn apply_sharing(&mut self, event: &GroupEvent) {
        use GroupEvent as E;
        match event {
            E::ContentMarkedShareable { device, content } if self.is_me(device) => {
                if let Some(item) = self.library.get_mut(content) {
                    item.shareable = true;
                }
            }
            E::SharedContentPlayed { device, content, group, .. } | E::SwitchedToShared { device, content, group, .. } if self.is_me(device) => {
                self.now_playing = Some(NowPlaying { content: content.clone(), shared_from: Some(group.clone()) });
            }
            E::RadioSettingsChanged { device, auto_switch, reliability_threshold } if self.is_me(device) => {
                self.auto_switch = *auto_switch;
                self.switch_threshold = *reliability_threshold;
            }
            E::FavoriteRecorded { device, content, group } if self.is_me(device) => {
                self.favorites.push(Favorite { content: content.clone(), group: group.clone() });
            }
            E::FavoritesUploaded { from, to, favorites } => {
                if self.is_me(from) {
                    self.favorites.clear();
                }
                if self.is_me(to) {
                    self.favorites.extend(favorites.iter().cloned());
                }
            }
            E::FavoritesForwarded { device, .. } if self.is_me(device) => self.favorites.clear(),
            E::ReliabilityUpdated { device, reliability } if self.is_me(device) => self.reliability = *reliability,
            E::CharismaListSynced { device, list } if self.is_me(device) => self.charisma = list.iter().cloned().collect(),
            _ => {}
        }
    }

    fn store(&mut self, content: &ContentId, source: Option<SourceId>, rules: Option<UsageRules>) {
        self.library.insert(content.clone(), LibraryItem { source, rules, shareable: false });
    }

    fn played(&mut self, content: &ContentId, mode: ControlMode) {
        if mode == ControlMode::CheckInCheckOut {
            if let Some(rules) = self.library.get_mut(content).and_then(|i| i.rules.as_mut()) {
                rules.plays_left = rules.plays_left.map(|n| n.saturating_sub(1));
            }
        }
        self.now_playing = Some(NowPlaying { content: content.clone(), shared_from: None });
    }
}

/// Why a copy command is malformed (refusals are `CopyRefused` events).
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CopyError {
    #[error("no such device: content {content} cannot be copied between unprovisioned devices")]
    UnknownDevice { content: ContentId },
    #[error("device {device} cannot copy content to itself")]
    SameDevice { device: DeviceId },
    #[error("content {content} is not in the library of device {device}")]
    NotInLibrary { device: DeviceId, content: ContentId },
    #[error("content {content} is already in the library of device {device}")]
    AlreadyInLibrary { device: DeviceId, content: ContentId },
}

fn one_pc_one_pd(a: &Device, b: &Device) -> bool {
    (a.is_pc() && b.is_pd()) || (a.is_pd() && b.is_pc())
}

/// Copies `content` from `from` to `to` (003 [0064], [0157], [0224]-[0231]).
///
/// - content with license usage rules is checked out: it needs a check-out
///   left, which the copy uses (`ContentCheckedOut` on `from`);
/// - managed content (a source id, no rules) copies freely: playback is
///   controlled by each device's list;
/// - unmanaged content copies only between a PC and a PD of the same group.
///
/// Refusals go to `device-{from}`; the copy itself to `device-{to}`.
pub fn copy_content(from: &Device, to: &Device, content: &ContentId) -> Result<Decided<(), GroupEvent>, CopyError> {
    let (Some(from_id), Some(to_id)) = (from.id(), to.id()) else {
        return Err(CopyError::UnknownDevice { content: content.clone() });
    };
    if from_id == to_id {
        return Err(CopyError::SameDevice { device: from_id.clone() });
    }
    let item = from.library.get(content).ok_or_else(|| CopyError::NotInLibrary { device: from_id.clone(), content: content.clone() })?;
    if to.library.contains_key(content) {
        return Err(CopyError::AlreadyInLibrary { device: to_id.clone(), content: content.clone() });
    }
    let refuse = |reason| {
        let refusal = GroupEvent::CopyRefused { from: from_id.clone(), to: to_id.clone(), content: content.clone(), reason };
        Ok(Decided::single(device_stream(from_id), from.version(), vec![refusal], ()))
    };
    let copied = |rules| GroupEvent::ContentCopied { from: from_id.clone(), to: to_id.clone(), content: content.clone(), source: item.source.clone(), rules };
    if let Some(rules) = &item.rules {
        if rules.checkouts_left == 0 {
            return refuse(CopyRefusal::NoCheckoutsLeft);
        }
        let checked_out = GroupEvent::ContentCheckedOut { device: from_id.clone(), to: to_id.clone(), content: content.clone() };
        let copy_rules = UsageRules { checkouts_left: 0, ..rules.clone() };
        return Ok(pair((from_id, from.version(), vec![checked_out]), (to_id, to.version(), vec![copied(Some(copy_rules))])));
    }
    if item.source.is_none() {
        if !one_pc_one_pd(from, to) {
            return refuse(CopyRefusal::NotPcAndPd);
        }
        if from.group.is_none() || from.group != to.group {
            return refuse(CopyRefusal::GroupMismatch { from: from.group.clone(), to: to.group.clone() });
        }
    }
    Ok(Decided::single(device_stream(to_id), to.version(), vec![copied(None)], ()))
}

/// Why a merge command is malformed (integrity failures are `SourceListRejected` events).
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum MergeError {
    #[error("no such device: lists of unprovisioned devices cannot be merged")]
    UnknownDevice,
    #[error("device {device} cannot merge its list with itself")]
    SameDevice { device: DeviceId },
    #[error("lists of different groups cannot be merged: {ours:?} and {theirs:?}")]
    GroupMismatch { ours: Option<GroupId>, theirs: Option<GroupId> },
}

/// Merges the source id lists of two devices of the same group into their
/// union, on both devices (003 [0177]-[0180]). Each list is checked first; a
/// list that fails is neither used nor updated (`SourceListRejected` on its
/// stream, and nothing merged).
pub fn merge_lists(a: &Device, a_secret: &DeviceSecret, b: &Device, b_secret: &DeviceSecret) -> Result<Decided<(), GroupEvent>, MergeError> {
    let (Some(a_id), Some(b_id)) = (a.id(), b.id()) else { return Err(MergeError::UnknownDevice) };
    if a_id == b_id {
        return Err(MergeError::SameDevice { device: a_id.clone() });
    }
    let rejected = |id: &DeviceId| vec![GroupEvent::SourceListRejected { device: id.clone(), during: ListUse::Merge }];
    let (a_ok, b_ok) = (a.list_is_intact(a_secret), b.list_is_intact(b_secret));
    if !a_ok || !b_ok {
        let mut decision = Decision { appends: Vec::new() };
        for (ok, id, version) in [(a_ok, a_id, a.version()), (b_ok, b_id, b.version())] {
            if !ok {
                decision.appends.push(StreamEvents { stream: device_stream(id), expected_version: version, events: rejected(id) });
            }
        }
        return Ok(Decided { outcome: (), decision });
    }
    let (ours, theirs) = (a.list.group_id(), b.list.group_id());
    if ours.is_none() || ours != theirs {
        return Err(MergeError::GroupMismatch { ours: ours.cloned(), theirs: theirs.cloned() });
    }
    let merged = a.list.merged_with(&b.list);
    let event = |id: &DeviceId, with: &DeviceId, secret| GroupEvent::SourceIdsMerged {
        device: id.clone(),
        with: with.clone(),
        list: merged.clone(),
        icv: seal_list(secret, id, &merged),
    };
    Ok(pair((a_id, a.version(), vec![event(a_id, b_id, a_secret)]), (b_id, b.version(), vec![event(b_id, a_id, b_secret)])))
}

/// A decision appending to two device streams, outcome `()`.
pub(super) fn pair(a: (&DeviceId, u64, Vec<GroupEvent>), b: (&DeviceId, u64, Vec<GroupEvent>)) -> Decided<(), GroupEvent> {
    let decision = Decision {
        appends: vec![
            StreamEvents { stream: device_stream(a.0), expected_version: a.1, events: a.2 },
            StreamEvents { stream: device_stream(b.0), expected_version: b.1, events: b.2 },
        ],
    };
    Decided { outcome: (), decision }
}
