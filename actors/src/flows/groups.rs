//! Deciders of the groups flows (seed 003): users and groups, device
//! registration, certificates, source id lists, playback, copies, radio
//! sharing, favorites, the distribution server and reputation sync.
//!
//! Two-device decisions (merge, copy, upload) are coordinated by the device
//! with the smaller id, which asks the other: devices only ever ask devices
//! with a larger id, so two such commands never wait on each other.

use std::sync::Arc;

use encore_domain::groups::{
    copy_content, deregister_device, device_command as run_command, device_stream, distribution_command, forward_favorites, issue_certificate, merge_lists,
    register_device, register_user, sync_reputation as sync, transmit_content, upload_favorites, Device, DeviceCommand, Distribution, DistributionCommand,
    GroupCertificate, GroupLimits, GroupServer, SharedContent, UserGroup, DISTRIBUTION_STREAM, GROUP_SERVER_STREAM,
};
use encore_domain::ids::{ContentId, DeviceId, GroupId, ServiceId, UserId};
use encore_domain::Timestamp;

use super::{plan, ready};
use crate::error::RuntimeError;
use crate::shared::Shared;
use crate::shell::DecideFuture;

/// Registers a user; the outcome is the group id the group server's leaf counter gave it.
pub fn register(user: UserId, service: ServiceId, limits: GroupLimits) -> impl Fn(Arc<GroupServer>, Arc<Shared>, Timestamp) -> DecideFuture<GroupId> + Send {
    move |server, _shared, _now| ready(register_user(&server, &user, service, limits).map(|d| plan(d, "register-user")).map_err(RuntimeError::from))
}

/// Runs one single-device command (`DeviceCommand`) on the device's actor.
pub fn device_command(command: DeviceCommand) -> impl Fn(Arc<Device>, Arc<Shared>, Timestamp) -> DecideFuture<()> + Send {
    move |device, _shared, now| ready(run_command(&device, &command, now).map(|d| plan(d, "device")).map_err(RuntimeError::from))
}

/// A PD transmits a shareable content by radio; the outcome is what receivers hear.
pub fn transmit(content: ContentId) -> impl Fn(Arc<Device>, Arc<Shared>, Timestamp) -> DecideFuture<SharedContent> + Send {
    move |device, _shared, _now| ready(transmit_content(&device, &content).map(|d| plan(d, "device")).map_err(RuntimeError::from))
}

/// Registers a PC or PD into a group (the group's actor, asking the device's).
pub fn register_into(device: DeviceId, via: Option<DeviceId>) -> impl Fn(Arc<UserGroup>, Arc<Shared>, Timestamp) -> DecideFuture<()> + Send {
    move |group, shared, _now| {
        let (device, via) = (device.clone(), via.clone());
        Box::pin(async move {
            let state = shared.snapshot::<Device>(&device_stream(&device)).await?;
            let secret = shared.secrets.device_secret(&device);
            Ok(plan(register_device(&group, &state, &device, via.as_ref(), &secret)?, "register-device"))
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
            Ok(plan(deregister_device(&group, &state, &device, &secret)?, "deregister-device"))
        })
    }
}

/// A PC of the group issues a group certificate for its recorder id; the outcome is the certificate.
pub fn certificate(pc: DeviceId, valid_until: Timestamp) -> impl Fn(Arc<UserGroup>, Arc<Shared>, Timestamp) -> DecideFuture<GroupCertificate> + Send {
    move |group, shared, now| {
        let pc = pc.clone();
        Box::pin(async move {
            let state = shared.snapshot::<Device>(&device_stream(&pc)).await?;
            Ok(plan(issue_certificate(&group, &state, &pc, shared.secrets.certificate(), valid_until, now)?, "issue-certificate"))
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
            let decided = match &op {
                PairOp::Merge => {
                    let (sa, sb) = (shared.secrets.device_secret(&first), shared.secrets.device_secret(&second));
                    merge_lists(&a, &sa, &b, &sb)?
                }
                PairOp::Copy { content } => copy_content(&a, &b, content)?,
                PairOp::UploadFavorites => upload_favorites(&a, &b)?,
            };
            Ok(plan(decided, "device-pair"))
        })
    }
}

/// A PC forwards its favorites to the distribution server.
pub fn forward() -> impl Fn(Arc<Device>, Arc<Shared>, Timestamp) -> DecideFuture<()> + Send {
    move |pc, shared, _now| {
        Box::pin(async move {
            let server = shared.snapshot::<Distribution>(DISTRIBUTION_STREAM).await?;
            Ok(plan(forward_favorites(&pc, &server)?, "forward-favorites"))
        })
    }
}

/// Configures the distribution server or sets a reward.
pub fn distribution(command: DistributionCommand) -> impl Fn(Arc<Distribution>, Arc<Shared>, Timestamp) -> DecideFuture<()> + Send {
    move |server, _shared, now| ready(distribution_command(&server, &command, now).map(|d| plan(d, "distribution")).map_err(RuntimeError::from))
}

/// Brings a device's reliability and charisma list up to date with the distribution server.
pub fn sync_reputation() -> impl Fn(Arc<Device>, Arc<Shared>, Timestamp) -> DecideFuture<()> + Send {
    move |device, shared, _now| {
        Box::pin(async move {
            let server = shared.snapshot::<Distribution>(DISTRIBUTION_STREAM).await?;
            Ok(plan(sync(&device, &server)?, "sync-reputation"))
        })
    }
}

/// The group server stream name (for the facade).
pub const SERVER: &str = GROUP_SERVER_STREAM;
