//! Stream names of the groups model, shared by the actors, projections and tests.

use crate::ids::{DeviceId, GroupId};

/// The group management server: user registration and leaf id assignment.
pub const GROUP_SERVER_STREAM: &str = "group-server";
/// The distribution server: favorites received, reliability, charisma, rewards.
pub const DISTRIBUTION_STREAM: &str = "distribution";

/// One user group: `group-01234-0000A`.
pub fn group_stream(group: &GroupId) -> String {
    format!("group-{group}")
}

/// One device (PC or PD): `device-{device id}`.
pub fn device_stream(device: &DeviceId) -> String {
    format!("device-{device}")
}
