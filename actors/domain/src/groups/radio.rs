//! Sharing by radio between PDs (003 [0362]-[0410], [0424]-[0433]).
//!
//! A PD marks content of its library shareable; only shareable content is
//! transmitted, with its content id, the sender's group id and the sender's
//! reliability (`ContentShared`). A receiving PD plays it only if the
//! distribution service codes of the two group ids are the same. If it is
//! already playing something it switches only if auto-switch is on, the
//! sender's reliability is above its threshold, or the sender's group id is on
//! its charisma list copy. Received content is never stored: no event of this
//! module touches the library.

use super::device::Device;
use super::events::GroupEvent;
use super::streams::device_stream;
use super::types::{SharedRefusal, SwitchReason};
use crate::aggregate::Decided;
use crate::ids::{ContentId, DeviceId, GroupId};

/// What a receiving PD hears: the payload of a `ContentShared` event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SharedContent {
    pub content: ContentId,
    pub group: GroupId,
    pub reliability: u64,
}

impl SharedContent {
    /// The `ContentShared` event of `sender` transmitting this.
    fn event(&self, sender: &DeviceId) -> GroupEvent {
        GroupEvent::ContentShared { device: sender.clone(), content: self.content.clone(), group: self.group.clone(), reliability: self.reliability }
    }

    /// The transmission carried by a `ContentShared` event, if it is one.
    pub fn from_event(event: &GroupEvent) -> Option<SharedContent> {
        match event {
            GroupEvent::ContentShared { content, group, reliability, .. } => {
                Some(SharedContent { content: content.clone(), group: group.clone(), reliability: *reliability })
            }
            _ => None,
        }
    }
}

/// Why marking or transmitting content is malformed.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ShareError {
    #[error("no such device: content {content} cannot be shared from an unprovisioned device")]
    UnknownDevice { content: ContentId },
    #[error("device {device} is not a PD; only PDs share by radio")]
    NotAPd { device: DeviceId },
    #[error("content {content} is not in the library of device {device}")]
    NotInLibrary { device: DeviceId, content: ContentId },
    #[error("content {content} is not marked shareable, so it is not transmitted")]
    NotShareable { content: ContentId },
    #[error("device {device} is in no group, so it has no group id to send")]
    NotInGroup { device: DeviceId },
}

/// Why a reception is malformed (refusals are `SharedContentRefused` events).
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ReceiveError {
    #[error("no such device: content {content} cannot be received by an unprovisioned device")]
    UnknownDevice { content: ContentId },
    #[error("device {device} is not a PD; only PDs receive by radio")]
    NotAPd { device: DeviceId },
}

/// Why radio settings are malformed.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RadioSettingsError {
    #[error("no such device: radio settings (threshold {reliability_threshold}) cannot be set on an unprovisioned device")]
    UnknownDevice { reliability_threshold: u64 },
    #[error("device {device} is not a PD; only PDs have radio settings")]
    NotAPd { device: DeviceId },
}

/// The sending PD's id, checked to be a PD holding `content`.
fn sending_pd<'a>(device: &'a Device, content: &ContentId) -> Result<&'a DeviceId, ShareError> {
    let id = device.require_id().ok_or_else(|| ShareError::UnknownDevice { content: content.clone() })?;
    if !device.is_pd() {
        return Err(ShareError::NotAPd { device: id.clone() });
    }
    if !device.library.contains_key(content) {
        return Err(ShareError::NotInLibrary { device: id.clone(), content: content.clone() });
    }
    Ok(id)
}

pub(super) fn mark_shareable(device: &Device, content: &ContentId) -> Result<Vec<GroupEvent>, ShareError> {
    let id = sending_pd(device, content)?;
    Ok(vec![GroupEvent::ContentMarkedShareable { device: id.clone(), content: content.clone() }])
}

pub(super) fn transmit(device: &Device, content: &ContentId) -> Result<Vec<GroupEvent>, ShareError> {
    let (id, shared) = transmission(device, content)?;
    Ok(vec![shared.event(id)])
}

/// A PD transmits shareable `content` by radio (`ContentShared` on its
/// stream); the outcome is what receivers hear.
pub fn transmit_content(device: &Device, content: &ContentId) -> Result<Decided<SharedContent, GroupEvent>, ShareError> {
    let (id, shared) = transmission(device, content)?;
    Ok(Decided::single(device_stream(id), device.version(), vec![shared.event(id)], shared))
}

/// The sender's id and what it transmits, checked to be shareable.
fn transmission<'a>(device: &'a Device, content: &ContentId) -> Result<(&'a DeviceId, SharedContent), ShareError> {
    let id = sending_pd(device, content)?;
    if !device.library.get(content).is_some_and(|item| item.shareable) {
        return Err(ShareError::NotShareable { content: content.clone() });
    }
    let group = device.group.clone().ok_or_else(|| ShareError::NotInGroup { device: id.clone() })?;
    Ok((id, SharedContent { content: content.clone(), group, reliability: device.reliability }))
}

/// Why a busy receiver would switch to `shared`, if it would.
fn switch_reason(device: &Device, shared: &SharedContent) -> Option<SwitchReason> {
    if device.auto_switch {
        Some(SwitchReason::AutoSwitch)
    } else if shared.reliability > device.switch_threshold {
        Some(SwitchReason::Reliability { reliability: shared.reliability, threshold: device.switch_threshold })
    } else if device.charisma.contains(&shared.group) {
        Some(SwitchReason::Charisma)
    } else {
        None
    }
}

pub(super) fn receive(device: &Device, shared: &SharedContent) -> Result<Vec<GroupEvent>, ReceiveError> {
    let id = device.require_id().ok_or_else(|| ReceiveError::UnknownDevice { content: shared.content.clone() })?;
    if !device.is_pd() {
        return Err(ReceiveError::NotAPd { device: id.clone() });
    }
    let (device_id, content, group, reliability) = (id.clone(), shared.content.clone(), shared.group.clone(), shared.reliability);
    let refused = |reason| GroupEvent::SharedContentRefused { device: id.clone(), content: shared.content.clone(), group: shared.group.clone(), reason };
    let Some(own) = &device.group else { return Ok(vec![refused(SharedRefusal::ReceiverNotInGroup)]) };
    if own.distribution_code() != shared.group.distribution_code() {
        let reason = SharedRefusal::ServiceCodeMismatch { ours: own.distribution_code(), theirs: shared.group.distribution_code() };
        return Ok(vec![refused(reason)]);
    }
    let Some(playing) = &device.now_playing else {
        return Ok(vec![GroupEvent::SharedContentPlayed { device: device_id, content, group, reliability }]);
    };
    Ok(vec![match switch_reason(device, shared) {
        Some(reason) => GroupEvent::SwitchedToShared { device: device_id, from: playing.content.clone(), content, group, reason },
        None => GroupEvent::SharedContentReceived { device: device_id, content, group, reliability },
    }])
}

pub(super) fn set_radio(device: &Device, auto_switch: bool, reliability_threshold: u64) -> Result<Vec<GroupEvent>, RadioSettingsError> {
    let id = device.require_id().ok_or(RadioSettingsError::UnknownDevice { reliability_threshold })?;
    if !device.is_pd() {
        return Err(RadioSettingsError::NotAPd { device: id.clone() });
    }
    Ok(vec![GroupEvent::RadioSettingsChanged { device: id.clone(), auto_switch, reliability_threshold }])
}
