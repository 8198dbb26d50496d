//! The audit: replay from zero and confirm every stored snapshot.
//!
//! For each actor stream with snapshots, its events are folded from version 1
//! and, at each snapshotted version, the replayed state's hash is compared
//! with the stored one; projections are folded over the global log the same
//! way. A mismatch names the subject, the version and the position: a state
//! that replays differently from how it was stored means a non-deterministic
//! handler (or a forged snapshot, even one whose own hash is consistent).

use std::collections::BTreeMap;

use encore_ledger::{Direction, Hash, Ledger, StreamId};
use encore_projections::{AllProjections, Balances, CharismaRankings, Projected, Projection, UsageHistory};

use crate::actors::ActorState;
use crate::envelope::{key_number, Snapshot};
use crate::error::AuditError;
use crate::recover::SkipReason;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MismatchKind {
    /// The replayed state hashes differently from the stored one.
    StateHash { stored: Hash, replayed: Hash },
    /// The snapshot is unusable (it would be skipped on recovery).
    Unusable(SkipReason),
    /// The snapshot is past the end of its stream or of the log.
    BeyondLog,
    /// No actor or projection of this build has that name.
    UnknownSubject,
}

/// One stored snapshot that replay does not confirm.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditMismatch {
    /// The stream, or `projection:{name}`.
    pub subject: String,
    pub version: u64,
    pub position: u64,
    pub kind: MismatchKind,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditReport {
    /// Snapshots confirmed.
    pub confirmed: u64,
    pub mismatches: Vec<AuditMismatch>,
}

impl AuditReport {
    pub fn is_clean(&self) -> bool {
        self.mismatches.is_empty()
    }
}

/// Stored snapshots grouped by subject, in version order.
type Stored = BTreeMap<String, Vec<(u64, Vec<u8>)>>;

fn stored(ledger: &Ledger, root: &str) -> Result<Stored, AuditError> {
    let mut out: Stored = BTreeMap::new();
    for (key, value) in ledger.scan_aux(root.as_bytes())? {
        let Some(rest) = key.strip_prefix(root.as_bytes()) else { continue };
        let Some(slash) = rest.iter().rposition(|&b| b == b'/') else { continue };
        let subject = String::from_utf8_lossy(&rest[..slash]).into_owned();
        let prefix = [root.as_bytes(), &rest[..=slash]].concat();
        if let Some(version) = key_number(&prefix, &key) {
            out.entry(subject).or_default().push((version, value));
        }
    }
    Ok(out)
}

fn hash(bytes: &[u8]) -> Hash {
    *blake3::hash(bytes).as_bytes()
}

/// Opens an envelope for the audit: hash and format checked, subject matching.
fn envelope(bytes: &[u8], subject: &str, version: u64) -> Result<Snapshot, MismatchKind> {
    let s = Snapshot::decode(bytes).map_err(|e| MismatchKind::Unusable(SkipReason::Undecodable(e)))?;
    if s.format != crate::SNAPSHOT_FORMAT_VERSION {
        return Err(MismatchKind::Unusable(SkipReason::UnsupportedFormat { found: s.format }));
    }
    if s.subject != subject || s.version != version {
        return Err(MismatchKind::Unusable(SkipReason::WrongSubject { subject: s.subject, kind: s.kind, version: s.version }));
    }
    if !s.state_is_intact() {
        return Err(MismatchKind::Unusable(SkipReason::StateHashMismatch));
    }
    Ok(s)
}

/// Replays from zero and confirms every stored snapshot (actors and projections).
pub fn audit(ledger: &Ledger) -> Result<AuditReport, AuditError> {
    let mut report = AuditReport::default();
    for (stream, snapshots) in stored(ledger, "snapshot/actor/")? {
        audit_stream(ledger, &stream, &snapshots, &mut report)?;
    }
    for (name, snapshots) in stored(ledger, "snapshot/projection/")? {
        match name.as_str() {
            n if n == Balances::NAME => audit_projection::<Balances>(ledger, &snapshots, &mut report)?,
            n if n == UsageHistory::NAME => audit_projection::<UsageHistory>(ledger, &snapshots, &mut report)?,
            n if n == CharismaRankings::NAME => audit_projection::<CharismaRankings>(ledger, &snapshots, &mut report)?,
            n if n == AllProjections::NAME => audit_projection::<AllProjections>(ledger, &snapshots, &mut report)?,
            _ => report.mismatches.extend(snapshots.iter().map(|(v, _)| AuditMismatch {
                subject: format!("projection:{name}"),
                version: *v,
                position: *v,
                kind: MismatchKind::UnknownSubject,
            })),
        }
    }
    Ok(report)
}

fn audit_stream(ledger: &Ledger, stream: &str, snapshots: &[(u64, Vec<u8>)], report: &mut AuditReport) -> Result<(), AuditError> {
    let mismatch = |version, position, kind| AuditMismatch { subject: stream.to_string(), version, position, kind };
    let (Some(mut state), Ok(id)) = (ActorState::for_stream(stream), StreamId::new(stream)) else {
        report.mismatches.extend(snapshots.iter().map(|(v, _)| mismatch(*v, 0, MismatchKind::UnknownSubject)));
        return Ok(());
    };
    let mut pending = snapshots.iter().peekable();
    let mut next_version = 1;
    while pending.peek().is_some() {
        let page = ledger.read_stream(&id, next_version, Direction::Forwards, 512)?;
        if page.is_empty() {
            break;
        }
        for record in &page {
            state.fold(record).map_err(|source| AuditError::ActorFold { stream: stream.to_string(), source })?;
            next_version = record.version + 1;
            while let Some((version, bytes)) = pending.next_if(|(v, _)| *v <= record.version) {
                let outcome = envelope(bytes, stream, *version).and_then(|s| {
                    if *version != record.version || s.position != record.position || s.chain_hash != record.hash {
                        return Err(MismatchKind::Unusable(SkipReason::PositionMismatch { position: s.position }));
                    }
                    let replayed = hash(&state.encode_state());
                    if replayed == s.state_hash {
                        Ok(())
                    } else {
                        Err(MismatchKind::StateHash { stored: s.state_hash, replayed })
                    }
                });
                match outcome {
                    Ok(()) => report.confirmed += 1,
                    Err(kind) => report.mismatches.push(mismatch(*version, record.position, kind)),
                }
            }
        }
    }
    report.mismatches.extend(pending.map(|(v, _)| mismatch(*v, 0, MismatchKind::BeyondLog)));
    Ok(())
}

fn audit_projection<P: Projection>(ledger: &Ledger, snapshots: &[(u64, Vec<u8>)], report: &mut AuditReport) -> Result<(), AuditError> {
    let subject = format!("projection:{}", P::NAME);
    let mut projected = Projected::<P>::new();
    let head = ledger.head().position;
    for (position, bytes) in snapshots {
        let kind = if *position > head {
            Some(MismatchKind::BeyondLog)
        } else {
            encore_projections::replay_into(ledger, &mut projected, *position)?;
            match envelope(bytes, P::NAME, *position) {
                Err(kind) => Some(kind),
                Ok(s) if s.chain_hash != projected.last_hash => Some(MismatchKind::Unusable(SkipReason::ChainMismatch { position: *position })),
                Ok(s) => {
                    let replayed = hash(&projected.encode());
                    (replayed != s.state_hash).then_some(MismatchKind::StateHash { stored: s.state_hash, replayed })
                }
            }
        };
        match kind {
            None => report.confirmed += 1,
            Some(kind) => report.mismatches.push(AuditMismatch { subject: subject.clone(), version: *position, position: *position, kind }),
        }
    }
    Ok(())
}
