//! Deciders of the groups flows (seed 003): users and groups, device
//! registration, certificates, source id lists, playback, copies, radio
//! sharing, favorites, the distribution server and reputation sync.
//!
//! Two-device decisions (merge, copy, upload) are coordinated by the device
//! with the smaller id, which asks the other: devices only ever ask devices
//! with a larger id, so two such commands never wait on each other.

use std::sync::Arc;

use encore_domain::groups::{
    copy_content, deregister_device, device_stream, forward_favorites, issue_certificate, merge_lists, register_device, register_user, upload_favorites,
    Device, DeviceCommand, Distribution, DistributionCommand, GroupCertificate, GroupEvent, GroupLimits, GroupServer, UserGroup, DISTRIBUTION_STREAM,
    GROUP_SERVER_STREAM,
};
use encore_domain::ids::{ContentId, DeviceId, GroupId, ServiceId, UserId};
use encore_domain::{Aggregate, Timestamp};

use super::{single, widen};
use crate::error::RuntimeError;
use crate::shared::Shared;
use crate::shell::{DecideFuture, Plan};

fn plan<T>(outcome: T, decision: encore_domain::aggregate::Decision<encore_domain::Event>, key: &str) -> Plan<T> {
    Plan { outcome, decision, key: key.as_bytes().to_vec() }
}

fn ready<T: 'static>(result: Result<Plan<T>, RuntimeError>) -> DecideFuture<T> {
    Box::pin(async move { result })
}

/// Registers a user; the group id comes from the group server's leaf counter.
pub fn register(user: UserId, service: ServiceId, limits: GroupLimits) -> impl Fn(Arc<GroupServer>, Arc<Shared>, Timestamp) -> DecideFuture<GroupId> + Send {
    move |server, _shared, _now| {
        let result = register_user(&server, &user, service, limits).map_err(RuntimeError::from).and_then(|decision| {
            let group = decision.appends.iter().flat_map(|a| a.events.iter()).find_map(|e| match e {
                GroupEvent::UserRegistered { group, .. } => Some(group.clone()),
                _ => None,
            });
            let group = group.ok_or(RuntimeError::UnexpectedDecision { flow: "register-user" })?;
            Ok(plan(group, widen(decision), "register-user"))
        });
        ready(result)
    }
}

/// Runs one single-device command (`DeviceCommand`) on the device's actor.
pub fn device_command(command: DeviceCommand) -> impl Fn(Arc<Device>, Arc<Shared>, Timestamp) -> DecideFuture<()> + Send {
    move |device, _shared, now| {
        let result = device.decide(&command, now).map_err(RuntimeError::from).map(|events| {
            let stream = device.stream().or_else(|| provisioned_stream(&command)).unwrap_or_default();
            plan((), single(stream, device.version(), events), "device")
        });
        ready(result)
    }
}

fn provisioned_stream(command: &DeviceCommand) -> Option<String> {
    match command {
        DeviceCommand::Provision { device, .. } => Some(device_stream(device)),
        _ => None,
    }
}

/// Registers a PC or PD into a group (the group's actor, asking the device's).
pub fn register_into(device: DeviceId, via: Option<DeviceId>) -> impl Fn(Arc<UserGroup>, Arc<Shared>, Timestamp) -> DecideFuture<()> + Send {
    move |group, shared, _now| {
        let (device, via) = (device.clone(), via.clone());
        Box::pin(async move {
            let state = shared.snapshot::<Device>(&device_stream(&device)).await?;
            let secret = shared.secrets.device_secret(&device);
            let decision = register_device(&group, &state, &device, via.as_ref(), &secret)?;
            Ok(plan((), widen(decision), "register-device"))
        })
    }
}

/// Deregisters a device (the group's actor, asking the device's).
pub fn deregister(device: DeviceId) -> impl Fn(Arc<UserGroup>, Arc<Shared>, Timestamp) -> DecideFuture<()> + Send {
    move |group, shared, _now| {
        let device = device.clone();
        Box::pin(async move {
            let state = shared.snapshot::<Device>(&device_stream(&device)).await?;
            let secret = shared.secrets.device_secret(&device);
            let decision = deregister_device(&group, &state, &device, &secret)?;
            Ok(plan((), widen(decision), "deregister-device"))
        })
    }
}

/// A PC of the group issues a group certificate for its recorder id.
pub fn certificate(pc: DeviceId, valid_until: Timestamp) -> impl Fn(Arc<UserGroup>, Arc<Shared>, Timestamp) -> DecideFuture<Option<GroupCertificate>> + Send {
    move |group, shared, now| {
        let pc = pc.clone();
        Box::pin(async move {
            let state = shared.snapshot::<Device>(&device_stream(&pc)).await?;
            let decision = issue_certificate(&group, &state, &pc, shared.secrets.certificate(), valid_until, now)?;
            let issued = decision.appends.iter().flat_map(|a| a.events.iter()).find_map(|e| match e {
                GroupEvent::GroupCertificateIssued { certificate, .. } => Some(certificate.clone()),
                _ => None,
            });
            Ok(plan(issued, widen(decision), "issue-certificate"))
        })
    }
}

/// Which two-device operation.
#[derive(Debug, Clone)]
pub enum PairOp {
    Merge,
    Copy { content: ContentId },
    UploadFavorites,
}

/// A decision over two devices, `first` and `second` in the caller's order;
/// coordinated by the one with the smaller id (this actor), asking the other.
pub fn pair(first: DeviceId, second: DeviceId, op: PairOp) -> impl Fn(Arc<Device>, Arc<Shared>, Timestamp) -> DecideFuture<()> + Send {
    move |own, shared, _now| {
        let (first, second, op) = (first.clone(), second.clone(), op.clone());
        Box::pin(async move {
            // The coordinator is the device with the smaller id.
            let own_is_first = first <= second;
            let other_id = if own_is_first { &second } else { &first };
            let other = if first == second { own.clone() } else { shared.snapshot::<Device>(&device_stream(other_id)).await? };
            let (a, b) = if own_is_first { (own.clone(), other) } else { (other, own.clone()) };
            let decision = match &op {
                PairOp::Merge => {
                    let (sa, sb) = (shared.secrets.device_secret(&first), shared.secrets.device_secret(&second));
                    widen(merge_lists(&a, &sa, &b, &sb)?)
                }
                PairOp::Copy { content } => widen(copy_content(&a, &b, content)?),
                PairOp::UploadFavorites => widen(upload_favorites(&a, &b)?),
            };
            Ok(plan((), decision, "device-pair"))
        })
    }
}

/// A PC forwards its favorites to the distribution server.
pub fn forward() -> impl Fn(Arc<Device>, Arc<Shared>, Timestamp) -> DecideFuture<()> + Send {
    move |pc, shared, _now| {
        Box::pin(async move {
            let server = shared.snapshot::<Distribution>(DISTRIBUTION_STREAM).await?;
            Ok(plan((), widen(forward_favorites(&pc, &server)?), "forward-favorites"))
        })
    }
}

/// Configures the distribution server or sets a reward.
pub fn distribution(command: DistributionCommand) -> impl Fn(Arc<Distribution>, Arc<Shared>, Timestamp) -> DecideFuture<()> + Send {
    move |server, _shared, now| {
        let result = server
            .decide(&command, now)
            .map_err(RuntimeError::from)
            .map(|events| plan((), single(DISTRIBUTION_STREAM.to_string(), server.version(), events), "distribution"));
        ready(result)
    }
}

/// Brings a device's reliability and charisma list up to date with the distribution server.
pub fn sync_reputation() -> impl Fn(Arc<Device>, Arc<Shared>, Timestamp) -> DecideFuture<()> + Send {
    move |device, shared, now| {
        Box::pin(async move {
            let id = device.id().cloned().ok_or_else(|| RuntimeError::Device(unknown_device_sync()))?;
            let group = device.group().cloned().ok_or_else(|| RuntimeError::DeviceNotInGroup { device: id.clone() })?;
            let server = shared.snapshot::<Distribution>(DISTRIBUTION_STREAM).await?;
            let events = device.decide(&server.sync_command(&group), now)?;
            Ok(plan((), single(device_stream(&id), device.version(), events), "sync-reputation"))
        })
    }
}

fn unknown_device_sync() -> encore_domain::groups::DeviceError {
    encore_domain::groups::reputation::SyncError::UnknownDevice { reliability: 0 }.into()
}

/// The group server stream name (for the facade).
pub const SERVER: &str = GROUP_SERVER_STREAM;
