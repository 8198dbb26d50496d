//! Replays from the log: a full rebuild, and the state as of any position or
//! time. Each reads the log in pages, so memory is the projection's alone; a
//! long replay reads and decodes on a second thread while the caller folds.

use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};

use encore_domain::Event;
use encore_ledger::{Ledger, ReadError, RecordBatch};

use crate::error::{FoldError, ReplayError};
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
        pipelined(ledger, projected, to, ReaderDecodes::WhenBehind)?;
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

/// A batch on its way to the folder: the records, and their payloads when
/// the reader had time to decode them.
struct Batch {
    records: RecordBatch,
    events: Option<Vec<Result<Option<Event>, FoldError>>>,
}

/// A long replay on two threads: a reader reads the log in batches, each
/// record decoded and its hash checked; the caller's thread decodes the
/// payloads, checks the order and folds. When the folder falls behind (the
/// queue is full), the reader decodes the payloads of the batch it holds
/// instead of waiting, so the work balances itself between the two. The fold
/// order is the log's, so the result is the same as a one-thread replay, byte
/// for byte; the bounded queue keeps memory flat.
///
/// Folded batches go back to the reader to be freed there: memory freed on
/// another thread than the one that allocated it is slow with glibc's
/// allocator (measured: half the speed of a one-thread replay).
fn pipelined<P: Projection>(ledger: &Ledger, projected: &mut Projected<P>, to: u64, reader_decodes: ReaderDecodes) -> Result<(), ReplayError> {
    let from = projected.position + 1;
    let (sender, batches) = sync_channel::<Result<Batch, ReadError>>(BATCHES_IN_FLIGHT);
    let (give_back, spent) = sync_channel::<Batch>(BATCHES_IN_FLIGHT + 1);
    std::thread::scope(|scope| {
        let reader = std::thread::Builder::new()
            .name("encore-replay-reader".into())
            .spawn_scoped(scope, move || read_batches(ledger, (from, to), reader_decodes, &sender, &spent));
        if let Err(e) = reader {
            panic!("cannot start the replay reader thread: {e}");
        }
        // The reader stops after the batch holding `to`, after an error, or
        // when this end hangs up (returning drops `batches`).
        for batch in batches {
            let batch = batch?;
            match &batch.events {
                Some(events) => {
                    for (record, event) in batch.records.iter().zip(events) {
                        projected.apply_decoded(&record, event.as_ref().map_err(Clone::clone)?.as_ref())?;
                    }
                }
                None => {
                    for record in batch.records.iter() {
                        let event = decode_event(&record)?;
                        projected.apply_decoded(&record, event.as_ref())?;
                    }
                }
            }
            // If the reader has finished, the batch is simply freed here.
            let _ = give_back.try_send(batch);
        }
        Ok(())
    })
}

/// When the reader decodes payloads: only when the folder is behind (every
/// replay), or always (tests of that path).
#[derive(Clone, Copy, PartialEq, Eq)]
enum ReaderDecodes {
    WhenBehind,
    #[cfg(test)]
    Always,
}

fn read_batches(ledger: &Ledger, (from, to): (u64, u64), decodes: ReaderDecodes, sender: &SyncSender<Result<Batch, ReadError>>, spent: &Receiver<Batch>) {
    for records in ledger.scan_batches(from, to, BATCH) {
        spent.try_iter().for_each(drop);
        let batch = match records {
            Ok(records) => Batch { records, events: None },
            Err(e) => {
                let _ = sender.send(Err(e));
                return;
            }
        };
        let full = match decodes {
            ReaderDecodes::WhenBehind => match sender.try_send(Ok(batch)) {
                Ok(()) => continue,
                Err(TrySendError::Disconnected(_)) => return,
                Err(TrySendError::Full(full)) => full,
            },
            #[cfg(test)]
            ReaderDecodes::Always => Ok(batch),
        };
        // The folder is behind: decode the payloads here meanwhile.
        let decoded = full.map(|mut batch| {
            batch.events = Some(batch.records.iter().map(|r| decode_event(&r)).collect());
            batch
        });
        if sender.send(decoded).is_err() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workload::{Workload, WorkloadConfig, Writer};
    use crate::AllProjections;
    use encore_ledger::{EventId, ExpectedVersion, LedgerOptions, NewEvent, StreamId};

    /// Payloads decoded by the reader fold exactly as those decoded by the
    /// folder, and a malformed one is reported at its position.
    #[test]
    fn payloads_decoded_by_the_reader_fold_as_the_one_thread_replay() {
        let dir = tempfile::tempdir().unwrap();
        let ledger = Ledger::open(dir.path().join("log"), LedgerOptions::default()).unwrap();
        let config = WorkloadConfig::default();
        let mut writer = Writer::new(config.seed);
        writer.append_batched(&ledger, Workload::new(config), 6_000, 512).unwrap();
        let head = ledger.head().position;

        let mut by_reader = Projected::<AllProjections>::new();
        pipelined(&ledger, &mut by_reader, head, ReaderDecodes::Always).unwrap();
        let mut one_thread = Projected::<AllProjections>::new();
        for record in ledger.scan(1) {
            one_thread.apply_record(&record.unwrap()).unwrap();
        }
        assert!(by_reader.encode() == one_thread.encode());

        let bad = NewEvent::new(EventId::from_u128(0xBAD), "Charged", ledger.head().recorded_at, b"not cbor".to_vec());
        let bad_at = ledger.append_to(StreamId::new("account-x").unwrap(), ExpectedVersion::Any, vec![bad]).unwrap().positions[0];
        let mut projected = Projected::<AllProjections>::new();
        let err = pipelined(&ledger, &mut projected, bad_at, ReaderDecodes::Always).unwrap_err();
        assert!(matches!(err, ReplayError::Fold(FoldError::Malformed { position, .. }) if position == bad_at), "{err}");
        assert_eq!(projected.position, bad_at - 1);
    }
}
