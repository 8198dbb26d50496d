//! Replays from the log: a full rebuild, and the state as of any position or
//! time. Each reads the log in pages, so memory is the projection's alone.

use encore_ledger::Ledger;

use crate::error::ReplayError;
use crate::projection::{Projected, Projection};

/// Folds records after `projected.position` up to and including `to`.
pub fn replay_into<P: Projection>(ledger: &Ledger, projected: &mut Projected<P>, to: u64) -> Result<(), ReplayError> {
    let head = ledger.head().position;
    if to > head {
        return Err(ReplayError::BeyondHead { position: to, head });
    }
    if to < projected.position {
        return Err(ReplayError::Behind { target: to, position: projected.position });
    }
    if to == projected.position {
        return Ok(());
    }
    for record in ledger.scan(projected.position + 1) {
        let record = record?;
        projected.apply_record(&record)?;
        if record.position >= to {
            break;
        }
    }
    assert_eq!(projected.position, to, "a replay stops exactly at its target");
    Ok(())
}

/// The projection rebuilt from position 0 to the current head.
pub fn rebuild<P: Projection>(ledger: &Ledger) -> Result<Projected<P>, ReplayError> {
    as_of_position(ledger, ledger.head().position)
}

/// The projection as it was right after the record at `position` (0 = empty).
pub fn as_of_position<P: Projection>(ledger: &Ledger, position: u64) -> Result<Projected<P>, ReplayError> {
    let mut projected = Projected::new();
    replay_into(ledger, &mut projected, position)?;
    Ok(projected)
}

/// The projection as it was at `micros` (µs since the epoch): every record
/// recorded at or before that moment, none after.
pub fn as_of_time<P: Projection>(ledger: &Ledger, micros: i64) -> Result<Projected<P>, ReplayError> {
    let position = ledger.position_at_time(micros)?;
    as_of_position(ledger, position)
}
