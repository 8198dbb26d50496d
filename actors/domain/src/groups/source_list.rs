//! Source ids, the source id list L and its integrity value (003 [0052]-[0069], [0152], [0315]).
//!
//! A source id names the providing source of a content: the group id of the
//! user who bought it, or the recorder id of the PC that ripped it. Every
//! device keeps a list of the source ids it may play, each with an optional
//! validity term, protected by an integrity check value (ICV): a blake3 keyed
//! MAC over a canonical CBOR encoding of (device id, list), keyed with the
//! device's secret. The secret is passed in by the caller, never stored in an
//! event, and never printed (its `Debug` is redacted).
//!
//! Group certificates (003 [0069], [0249]-[0255], [0348]-[0354]) bind a group id
//! to a recorder id with a validity term and a MAC keyed with the service
//! common key ([0246]), so a device can check a certificate it is handed.

use minicbor::{Decode, Encode};

use crate::codec::to_cbor;
use crate::ids::{DeviceId, GroupId, RecorderId};
use crate::time::Timestamp;

/// A source id: who provided a content (003 [0054]).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Encode, Decode)]
pub enum SourceId {
    /// The group id of the user who bought the content.
    #[n(0)]
    Group(#[n(0)] GroupId),
    /// The recorder id of the PC that ripped or recorded the content.
    #[n(1)]
    Recorder(#[n(0)] RecorderId),
}

impl std::fmt::Display for SourceId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SourceId::Group(g) => write!(f, "group {g}"),
            SourceId::Recorder(r) => write!(f, "recorder {r}"),
        }
    }
}

/// One entry of a source id list: the id and its validity term (`None` = no term, [0347]).
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct SourceEntry {
    #[n(0)]
    pub source: SourceId,
    #[n(1)]
    pub valid_until: Option<Timestamp>,
}

impl SourceEntry {
    pub fn new(source: SourceId, valid_until: Option<Timestamp>) -> Self {
        SourceEntry { source, valid_until }
    }
    /// Whether the entry may be used at `now` (the term is inclusive).
    pub fn is_valid_at(&self, now: Timestamp) -> bool {
        self.valid_until.is_none_or(|until| now <= until)
    }
}

/// The longer of two validity terms (`None` = unbounded, the longest).
fn longer_term(a: Option<Timestamp>, b: Option<Timestamp>) -> Option<Timestamp> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.max(y)),
        _ => None,
    }
}

/// A source id list L, kept canonical: sorted by source id, one entry per id.
#[derive(Debug, Clone, PartialEq, Eq, Default, Encode, Decode)]
#[cbor(transparent)]
pub struct SourceIdList(#[n(0)] Vec<SourceEntry>);

impl SourceIdList {
    pub fn new() -> Self {
        SourceIdList(Vec::new())
    }

    /// Builds a canonical list from entries in any order; a repeated id keeps its longest term.
    pub fn from_entries(entries: impl IntoIterator<Item = SourceEntry>) -> Self {
        let mut list = SourceIdList::new();
        for entry in entries {
            list.upsert(entry);
        }
        list
    }

    pub fn entries(&self) -> &[SourceEntry] {
        &self.0
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn get(&self, source: &SourceId) -> Option<&SourceEntry> {
        self.0.binary_search_by(|e| e.source.cmp(source)).ok().and_then(|i| self.0.get(i))
    }

    pub fn contains(&self, source: &SourceId) -> bool {
        self.get(source).is_some()
    }

    /// Inserts an entry, or replaces the term of an existing id with the new one.
    pub fn upsert(&mut self, entry: SourceEntry) {
        match self.0.binary_search_by(|e| e.source.cmp(&entry.source)) {
            Ok(i) => self.0[i] = entry,
            Err(i) => self.0.insert(i, entry),
        }
    }

    /// The union of two lists; an id present in both keeps the longer term (003 [0177]).
    pub fn merged_with(&self, other: &SourceIdList) -> SourceIdList {
        let mut merged = self.clone();
        for entry in &other.0 {
            let term = match merged.get(&entry.source) {
                Some(existing) => longer_term(existing.valid_until, entry.valid_until),
                None => entry.valid_until,
            };
            merged.upsert(SourceEntry::new(entry.source.clone(), term));
        }
        merged
    }

    /// The group ids in the list (normally at most one: the device's own group).
    pub fn group_ids(&self) -> impl Iterator<Item = &GroupId> {
        self.0.iter().filter_map(|e| match &e.source {
            SourceId::Group(g) => Some(g),
            SourceId::Recorder(_) => None,
        })
    }

    /// The first group id in the list: the one the device compares certificates with ([0352]).
    pub fn group_id(&self) -> Option<&GroupId> {
        self.group_ids().next()
    }

    /// A list holding only `recorder` (if any), as after leaving a group ([0183]).
    pub fn only_recorder(recorder: Option<&RecorderId>) -> SourceIdList {
        SourceIdList::from_entries(recorder.map(|r| SourceEntry::new(SourceId::Recorder(r.clone()), None)))
    }
}

/// Key material owned by one device: keys the MAC of its source id list.
///
/// Never encoded, never printed: `Debug` shows `<redacted>`.
#[derive(Clone, PartialEq, Eq)]
pub struct DeviceSecret([u8; 32]);

impl DeviceSecret {
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        DeviceSecret(bytes)
    }
}

impl std::fmt::Debug for DeviceSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DeviceSecret(<redacted>)")
    }
}

/// The service common key that keys group certificate MACs (003 [0246]).
///
/// Never encoded, never printed: `Debug` shows `<redacted>`.
#[derive(Clone, PartialEq, Eq)]
pub struct CertificateKey([u8; 32]);

impl CertificateKey {
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        CertificateKey(bytes)
    }
}

impl std::fmt::Debug for CertificateKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CertificateKey(<redacted>)")
    }
}

/// A 32-byte blake3 keyed MAC: a list's integrity check value or a certificate's MAC.
///
/// Not key material (it is public in the log); shown in hex.
#[derive(Clone, Copy, PartialEq, Eq, Default, Encode, Decode)]
#[cbor(transparent)]
pub struct Mac(
    #[n(0)]
    #[cbor(with = "minicbor::bytes")]
    [u8; 32],
);

impl Mac {
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Mac(bytes)
    }
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
    /// Constant-time comparison (via blake3's `Hash` equality).
    fn matches(&self, other: &Mac) -> bool {
        blake3::Hash::from_bytes(self.0) == blake3::Hash::from_bytes(other.0)
    }
}

impl std::fmt::Debug for Mac {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Mac({})", blake3::Hash::from_bytes(self.0).to_hex())
    }
}

/// Domain-separation tags, so a list MAC can never pass as a certificate MAC.
const LIST_TAG: &str = "encore/source-id-list/v1";
const CERT_TAG: &str = "encore/group-certificate/v1";

/// The integrity check value of `list` on `device`, keyed with the device secret.
pub fn seal_list(secret: &DeviceSecret, device: &DeviceId, list: &SourceIdList) -> Mac {
    let input = to_cbor(&(LIST_TAG, device, list));
    Mac(*blake3::keyed_hash(&secret.0, &input).as_bytes())
}

/// Whether `icv` is the integrity value of `list` on `device` under `secret` (003 [0315]).
pub fn verify_list(secret: &DeviceSecret, device: &DeviceId, list: &SourceIdList, icv: &Mac) -> bool {
    seal_list(secret, device, list).matches(icv)
}

/// A group certificate G: a PC's recorder id bound to its group id (003 [0069]).
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct GroupCertificate {
    #[n(0)]
    pub group: GroupId,
    #[n(1)]
    pub recorder: RecorderId,
    #[n(2)]
    pub valid_until: Timestamp,
    #[n(3)]
    pub mac: Mac,
}

fn certificate_mac(key: &CertificateKey, group: &GroupId, recorder: &RecorderId, valid_until: Timestamp) -> Mac {
    let input = to_cbor(&(CERT_TAG, group, recorder, valid_until));
    Mac(*blake3::keyed_hash(&key.0, &input).as_bytes())
}

impl GroupCertificate {
    /// Issues a certificate, MAC'd with the service common key.
    pub fn issue(key: &CertificateKey, group: GroupId, recorder: RecorderId, valid_until: Timestamp) -> Self {
        let mac = certificate_mac(key, &group, &recorder, valid_until);
        GroupCertificate { group, recorder, valid_until, mac }
    }

    /// Whether the MAC matches the certificate's fields under `key`.
    pub fn verify(&self, key: &CertificateKey) -> bool {
        certificate_mac(key, &self.group, &self.recorder, self.valid_until).matches(&self.mac)
    }

    /// Whether the certificate is within its validity term at `now` (inclusive, [0350]).
    pub fn is_valid_at(&self, now: Timestamp) -> bool {
        now <= self.valid_until
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gid(s: &str) -> GroupId {
        s.parse().unwrap()
    }
    fn rec(s: &str) -> SourceId {
        SourceId::Recorder(RecorderId::new(s).unwrap())
    }

    #[test]
    fn list_is_canonical_whatever_the_insertion_order() {
        let a = SourceEntry::new(rec("r2"), None);
        let b = SourceEntry::new(SourceId::Group(gid("01234-0000A")), Some(Timestamp(5)));
        let c = SourceEntry::new(rec("r1"), Some(Timestamp(9)));
        let one = SourceIdList::from_entries([a.clone(), b.clone(), c.clone()]);
        let two = SourceIdList::from_entries([c, a, b]);
        assert_eq!(one, two);
        assert_eq!(to_cbor(&one), to_cbor(&two));
    }

    #[test]
    fn merge_keeps_the_longer_term_and_no_duplicates() {
        let x = SourceIdList::from_entries([SourceEntry::new(rec("r1"), Some(Timestamp(5)))]);
        let y = SourceIdList::from_entries([SourceEntry::new(rec("r1"), Some(Timestamp(9))), SourceEntry::new(rec("r2"), None)]);
        let m = x.merged_with(&y);
        assert_eq!(m.len(), 2);
        assert_eq!(m.get(&rec("r1")).unwrap().valid_until, Some(Timestamp(9)));
        let unbounded = SourceIdList::from_entries([SourceEntry::new(rec("r1"), None)]);
        assert_eq!(y.merged_with(&unbounded).get(&rec("r1")).unwrap().valid_until, None);
    }

    #[test]
    fn list_mac_detects_any_change_and_a_wrong_key() {
        let device = DeviceId::new("pd1").unwrap();
        let secret = DeviceSecret::from_bytes([7; 32]);
        let list = SourceIdList::from_entries([SourceEntry::new(rec("r1"), None)]);
        let icv = seal_list(&secret, &device, &list);
        assert!(verify_list(&secret, &device, &list, &icv));
        let mut forged = list.clone();
        forged.upsert(SourceEntry::new(rec("r9"), None));
        assert!(!verify_list(&secret, &device, &forged, &icv));
        assert!(!verify_list(&DeviceSecret::from_bytes([8; 32]), &device, &list, &icv));
        assert!(!verify_list(&secret, &DeviceId::new("pd2").unwrap(), &list, &icv));
    }

    #[test]
    fn certificate_mac_binds_every_field() {
        let key = CertificateKey::from_bytes([1; 32]);
        let cert = GroupCertificate::issue(&key, gid("01234-0000A"), RecorderId::new("r1").unwrap(), Timestamp(10));
        assert!(cert.verify(&key));
        assert!(!cert.verify(&CertificateKey::from_bytes([2; 32])));
        let mut forged = cert.clone();
        forged.valid_until = Timestamp(99);
        assert!(!forged.verify(&key));
    }

    #[test]
    fn secrets_are_redacted_in_debug() {
        let s = format!("{:?} {:?}", DeviceSecret::from_bytes([0xab; 32]), CertificateKey::from_bytes([0xab; 32]));
        assert!(!s.contains("ab"), "{s}");
        assert!(!s.contains("171"), "{s}");
    }
}
