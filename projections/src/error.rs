//! The errors of folding, replaying and running projections: one enum per
//! operation, each variant naming the offending position or value.

use encore_ledger::{AuxError, ReadError};

/// Why a record could not be folded into a projection.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FoldError {
    #[error("expected the record at position {expected}, got position {found}")]
    Gap { expected: u64, found: u64 },
    #[error("record at position {position} does not chain to the record before it")]
    ChainBroken { position: u64 },
    #[error("record at position {position} is a {event_type} whose payload does not decode: {reason}")]
    Malformed { position: u64, event_type: String, reason: String },
}

/// Why stored projection bytes could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StateDecodeError {
    #[error("stored state has format version {found}; this build reads {supported}")]
    UnsupportedFormat { found: u32, supported: u32 },
    #[error("stored state of {name} decodes but is not in canonical form")]
    NotCanonical { name: &'static str },
    #[error("stored state of {name} is not valid CBOR for it: {reason}")]
    Cbor { name: &'static str, reason: String },
}

/// Why a replay (rebuild, as-of query) failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ReplayError {
    #[error("position {position} is past the head of the log ({head})")]
    BeyondHead { position: u64, head: u64 },
    #[error("replay target {target} is before the projection's position {position}")]
    Behind { target: u64, position: u64 },
    #[error(transparent)]
    Read(#[from] ReadError),
    #[error(transparent)]
    Fold(#[from] FoldError),
}

/// Why a projection runner stopped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RunnerError {
    #[error(transparent)]
    Read(#[from] ReadError),
    #[error(transparent)]
    Fold(#[from] FoldError),
    #[error("checkpoint of projection {name} could not be stored: {source}")]
    Store { name: &'static str, source: AuxError },
    #[error("checkpoint of projection {name} could not be read: {source}")]
    Load { name: &'static str, source: AuxError },
}
