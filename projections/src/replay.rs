//! Replays from the log: a full rebuild, and the state as of any position or
//! time. Each reads the log in pages, so memory is the projection's alone; a
//! long replay reads and decodes on a second thread while the caller folds.

use std::sync::mpsc::{sync_channel, Receiver, SyncSender};

use encore_ledger::{Ledger, ReadError, RecordBatch};

use crate::error::ReplayError;
use crate::projection::{decode_event, Projected, Projection};

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
    if to - projected.position < PIPELINE_FROM {
        for record in ledger.scan(projected.position + 1) {
            let record = record?;
            projected.apply_record(&record)?;
            if record.position >= to {
                break;
            }
        }
    } else {
        pipelined(ledger, projected, to)?;
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

/// Replays shorter than this run on the caller's thread alone.
const PIPELINE_FROM: u64 = 4096;
/// Records per batch handed from the reader to the folder.
const BATCH: usize = 1024;
/// Batches in flight: bounds the memory between the two threads.
const BATCHES_IN_FLIGHT: usize = 4;

/// A long replay on two threads: a reader reads the log in batches, each
/// record decoded and its hash checked; the caller's thread decodes the
/// payloads, checks the order and folds. The fold order is the log's, so the
/// result is the same as a one-thread replay, byte for byte; the bounded
/// queue keeps memory flat.
///
/// Folded batches go back to the reader to be freed there: memory freed on
/// another thread than the one that allocated it is slow with glibc's
/// allocator (measured: half the speed of a one-thread replay).
fn pipelined<P: Projection>(ledger: &Ledger, projected: &mut Projected<P>, to: u64) -> Result<(), ReplayError> {
    let from = projected.position + 1;
    let (sender, batches) = sync_channel::<Result<RecordBatch, ReadError>>(BATCHES_IN_FLIGHT);
    let (give_back, spent) = sync_channel::<RecordBatch>(BATCHES_IN_FLIGHT + 1);
    std::thread::scope(|scope| {
        let reader = std::thread::Builder::new()
            .name("encore-replay-reader".into())
            .spawn_scoped(scope, move || read_batches(ledger, from, to, &sender, &spent));
        if let Err(e) = reader {
            panic!("cannot start the replay reader thread: {e}");
        }
        // The reader stops after the batch holding `to`, after an error, or
        // when this end hangs up (returning drops `batches`).
        for batch in batches {
            let batch = batch?;
            for record in batch.iter() {
                let event = decode_event(&record)?;
                projected.apply_decoded(&record, event.as_ref())?;
            }
            // If the reader has finished, the batch is simply freed here.
            let _ = give_back.try_send(batch);
        }
        Ok(())
    })
}

fn read_batches(ledger: &Ledger, from: u64, to: u64, sender: &SyncSender<Result<RecordBatch, ReadError>>, spent: &Receiver<RecordBatch>) {
    for batch in ledger.scan_batches(from, to, BATCH) {
        spent.try_iter().for_each(drop);
        let failed = batch.is_err();
        if sender.send(batch).is_err() || failed {
            return;
        }
    }
}
