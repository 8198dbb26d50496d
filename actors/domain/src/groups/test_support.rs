//! Test harness: an in-memory log of streams that applies decisions the way
//! the runtime will (all streams or none, expected versions checked), plus
//! fixtures for users, devices and secrets.

use std::collections::BTreeMap;

use super::*;
use crate::aggregate::{Aggregate, Decision};
use crate::ids::{ContentId, DeviceId, GroupId, PurchaseId, RecorderId, ServiceId, TerminalId, UserId};
use crate::time::Timestamp;

pub(crate) const T0: Timestamp = Timestamp(1_000_000);

pub(crate) fn did(s: &str) -> DeviceId {
    DeviceId::new(s).unwrap()
}
pub(crate) fn cid(s: &str) -> ContentId {
    ContentId::new(s).unwrap()
}
pub(crate) fn rid(s: &str) -> RecorderId {
    RecorderId::new(s).unwrap()
}
pub(crate) fn pid(s: &str) -> PurchaseId {
    PurchaseId::new(s).unwrap()
}
pub(crate) fn gid(s: &str) -> GroupId {
    s.parse().unwrap()
}
/// Each device's secret, derived from its name (tests only).
pub(crate) fn secret(device: &str) -> DeviceSecret {
    DeviceSecret::from_bytes(*blake3::hash(device.as_bytes()).as_bytes())
}
pub(crate) fn cert_key() -> CertificateKey {
    CertificateKey::from_bytes([42; 32])
}

#[derive(Default)]
pub(crate) struct World {
    pub streams: BTreeMap<String, Vec<GroupEvent>>,
}

impl World {
    /// Appends a decision atomically; panics if an expected version is stale.
    pub fn commit(&mut self, decision: impl Into<Decision<GroupEvent>>) -> Vec<GroupEvent> {
        let decision = decision.into();
        for append in &decision.appends {
            let len = self.streams.get(&append.stream).map_or(0, Vec::len) as u64;
            assert_eq!(len, append.expected_version, "stale expected version on {}", append.stream);
        }
        let mut all = Vec::new();
        for append in decision.appends {
            all.extend(append.events.iter().cloned());
            self.streams.entry(append.stream).or_default().extend(append.events);
        }
        all
    }

    fn events(&self, stream: &str) -> &[GroupEvent] {
        self.streams.get(stream).map_or(&[], Vec::as_slice)
    }

    pub fn device(&self, name: &str) -> Device {
        Device::replay(self.events(&device_stream(&did(name))))
    }
    pub fn group(&self, group: &GroupId) -> UserGroup {
        let mut state = UserGroup::default();
        self.events(&group_stream(group)).iter().for_each(|e| state.apply(e));
        state
    }
    pub fn server(&self) -> GroupServer {
        let mut state = GroupServer::default();
        self.events(GROUP_SERVER_STREAM).iter().for_each(|e| state.apply(e));
        state
    }
    pub fn distribution(&self) -> Distribution {
        Distribution::replay(self.events(DISTRIBUTION_STREAM))
    }

    /// Decides a device command and appends its events to the device stream.
    pub fn on(&mut self, name: &str, command: DeviceCommand, now: Timestamp) -> Result<Vec<GroupEvent>, DeviceError> {
        let device = self.device(name);
        let events = device.decide(&command, now)?;
        self.streams.entry(device_stream(&did(name))).or_default().extend(events.iter().cloned());
        Ok(events)
    }

    pub fn on_server(&mut self, command: DistributionCommand) -> Result<Vec<GroupEvent>, reputation::DistributionError> {
        let events = self.distribution().decide(&command, T0)?;
        self.streams.entry(DISTRIBUTION_STREAM.to_string()).or_default().extend(events.iter().cloned());
        Ok(events)
    }

    pub fn user(&mut self, user: &str, service: &str) -> GroupId {
        self.user_with(user, service, GroupLimits::default())
    }

    pub fn user_with(&mut self, user: &str, service: &str, limits: GroupLimits) -> GroupId {
        let decided = register_user(&self.server(), &UserId::new(user).unwrap(), ServiceId::new(service).unwrap(), limits).unwrap();
        match self.commit(decided.decision).as_slice() {
            [GroupEvent::UserRegistered { group, .. }, ..] => assert_eq!(*group, decided.outcome, "the outcome is the group registered"),
            other => panic!("unexpected {other:?}"),
        }
        decided.outcome
    }

    pub fn pc(&mut self, name: &str, recorder: Option<&str>) {
        let kind = DeviceKind::Pc { terminal: TerminalId::new(format!("t-{name}")).unwrap(), recorder: recorder.map(rid) };
        self.on(name, DeviceCommand::Provision { device: did(name), kind, secret: secret(name) }, T0).unwrap();
    }

    pub fn pd(&mut self, name: &str) {
        self.on(name, DeviceCommand::Provision { device: did(name), kind: DeviceKind::Pd, secret: secret(name) }, T0).unwrap();
    }

    /// Registers a device and returns what was appended.
    pub fn join(&mut self, group: &GroupId, name: &str, via: Option<&str>) -> Vec<GroupEvent> {
        let decision = register_device(&self.group(group), &self.device(name), &did(name), via.map(did).as_ref(), &secret(name)).unwrap();
        self.commit(decision)
    }

    pub fn leave(&mut self, group: &GroupId, name: &str) -> Vec<GroupEvent> {
        let decision = deregister_device(&self.group(group), &self.device(name), &did(name), &secret(name)).unwrap();
        self.commit(decision)
    }

    pub fn certificate(&mut self, group: &GroupId, pc: &str, valid_until: Timestamp) -> GroupCertificate {
        let decided = issue_certificate(&self.group(group), &self.device(pc), &did(pc), &cert_key(), valid_until, T0).unwrap();
        match self.commit(decided.decision).as_slice() {
            [GroupEvent::GroupCertificateIssued { certificate, .. }, ..] => assert_eq!(*certificate, decided.outcome, "the outcome is the certificate issued"),
            other => panic!("unexpected {other:?}"),
        }
        decided.outcome
    }

    pub fn play(&mut self, name: &str, content: &str, now: Timestamp) -> GroupEvent {
        let mut events = self.on(name, DeviceCommand::Play { content: cid(content), secret: secret(name) }, now).unwrap();
        assert_eq!(events.len(), 1);
        events.remove(0)
    }

    /// A group with one PC (`pc`, recorder `r-pc`) and one PD (`pd`) registered through it.
    pub fn household(&mut self, user: &str, service: &str, pc: &str, pd: &str) -> GroupId {
        let group = self.user(user, service);
        self.pc(pc, Some(&format!("r-{pc}")));
        self.join(&group, pc, None);
        self.pd(pd);
        self.join(&group, pd, Some(pc));
        group
    }
}
