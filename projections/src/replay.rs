//! Replays from the log: a full rebuild, and the state as of any position or
//! time. Each reads the log in pages, so memory is the projection's alone; a
//! long replay reads and decodes on a second thread while the caller folds.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};

use encore_ledger::{Ledger, ReadError, RecordBatch, UncheckedBatch};

use crate::error::{FoldError, ReplayError};
use crate::projection::{decode_event, Decoded, Projected, Projection};

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
        pipelined(ledger, projected, to, Policy::Balance)?;
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

/// A batch on its way to the folder, with as much of the work done as the
/// reader had time for.
enum Batch {
    /// Read only: the folder checks it (the reader was the slower thread).
    Read(UncheckedBatch),
    /// Checked by the reader.
    Checked(RecordBatch),
    /// Checked, and its payloads decoded, by the reader (the folder was
    /// the slower thread).
    Decoded(RecordBatch, Vec<Result<Decoded, FoldError>>),
}

/// A long replay on two threads: a reader reads the log in batches; the
/// caller's thread checks each record's hash, decodes the payloads, checks
/// the order and chain, and folds. The work balances itself between the two
/// by the queue between them: when the folder has nothing queued, the reader
/// sends batches as read and the folder checks them; otherwise the reader
/// checks them itself, and when the queue is full it decodes their payloads
/// too instead of waiting. The fold order is the log's, so the result is the
/// same as a one-thread replay, byte for byte; the bounded queue keeps memory
/// flat.
///
/// Spent batches go back to the thread that allocated them to be freed
/// there: memory freed on another thread than the one that allocated it is
/// slow with glibc's allocator (measured: half the speed of a one-thread
/// replay).
fn pipelined<P: Projection>(ledger: &Ledger, projected: &mut Projected<P>, to: u64, policy: Policy) -> Result<(), ReplayError> {
    let from = projected.position + 1;
    let queued = AtomicUsize::new(0);
    let (sender, batches) = sync_channel::<Result<Batch, ReadError>>(BATCHES_IN_FLIGHT);
    let (give_back, spent) = sync_channel::<Batch>(BATCHES_IN_FLIGHT + 1);
    std::thread::scope(|scope| {
        let queue = Queue { sender, queued: &queued };
        let reader = std::thread::Builder::new()
            .name("encore-replay-reader".into())
            .spawn_scoped(scope, move || read_batches::<P>(ledger, (from, to), policy, &queue, &spent));
        if let Err(e) = reader {
            panic!("cannot start the replay reader thread: {e}");
        }
        // The reader stops after the batch holding `to`, after an error, or
        // when this end hangs up (returning drops `batches`).
        for batch in batches {
            queued.fetch_sub(1, Ordering::Relaxed);
            let batch = batch?;
            match &batch {
                Batch::Read(read) => fold_all(projected, &read.check()?)?,
                Batch::Checked(records) => fold_all(projected, records)?,
                Batch::Decoded(records, decoded) => {
                    for (record, decoded) in records.iter().zip(decoded) {
                        projected.apply_decoded(&record, decoded.as_ref().map_err(Clone::clone)?)?;
                    }
                }
            }
            // If the reader has finished, the batch is simply freed here.
            let _ = give_back.try_send(batch);
        }
        Ok(())
    })
}

fn fold_all<P: Projection>(projected: &mut Projected<P>, records: &RecordBatch) -> Result<(), ReplayError> {
    for record in records.iter() {
        let decoded = decode_event::<P>(&record)?;
        projected.apply_decoded(&record, &decoded)?;
    }
    Ok(())
}

/// Who does what: the queue decides (every replay), or a test forces one
/// kind of batch.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Policy {
    Balance,
    #[cfg(test)]
    AlwaysRead,
    #[cfg(test)]
    AlwaysChecked,
    #[cfg(test)]
    AlwaysDecoded,
}

/// The reader's end of the queue, with a count of the batches in it.
struct Queue<'a> {
    sender: SyncSender<Result<Batch, ReadError>>,
    queued: &'a AtomicUsize,
}

impl Queue<'_> {
    fn is_empty(&self) -> bool {
        self.queued.load(Ordering::Relaxed) == 0
    }

    /// Queues a batch unless the queue is full; false when the folder hung up.
    fn try_send(&self, batch: Result<Batch, ReadError>) -> Result<bool, Result<Batch, ReadError>> {
        self.queued.fetch_add(1, Ordering::Relaxed);
        match self.sender.try_send(batch) {
            Ok(()) => Ok(true),
            Err(TrySendError::Disconnected(_)) => Ok(false),
            Err(TrySendError::Full(batch)) => {
                self.queued.fetch_sub(1, Ordering::Relaxed);
                Err(batch)
            }
        }
    }

    /// Queues a batch, waiting for room; false when the folder hung up.
    fn send(&self, batch: Result<Batch, ReadError>) -> bool {
        self.queued.fetch_add(1, Ordering::Relaxed);
        self.sender.send(batch).is_ok()
    }
}

fn read_batches<P: Projection>(ledger: &Ledger, (from, to): (u64, u64), policy: Policy, queue: &Queue<'_>, spent: &Receiver<Batch>) {
    let mut scan = ledger.scan_batches(from, to, BATCH);
    while let Some(read) = scan.next_unchecked() {
        spent.try_iter().for_each(drop);
        // Decided when the batch is read, so "nothing queued" means the
        // folder is on its last batch or waiting.
        let leave_to_folder = match policy {
            Policy::Balance => queue.is_empty(),
            #[cfg(test)]
            Policy::AlwaysRead => true,
            #[cfg(test)]
            Policy::AlwaysChecked | Policy::AlwaysDecoded => false,
        };
        let batch = read.and_then(|read| match leave_to_folder {
            true => Ok(Batch::Read(read)),
            false => read.check().map(Batch::Checked),
        });
        let stop = batch.is_err();
        let full = match policy {
            #[cfg(test)]
            Policy::AlwaysDecoded => batch,
            _ => match queue.try_send(batch) {
                Ok(true) if !stop => continue,
                Ok(_) => return,
                Err(full) => full,
            },
        };
        // The folder is behind: decode the payloads here meanwhile.
        let decoded = full.map(|batch| match batch {
            Batch::Checked(records) => {
                let decoded = records.iter().map(|r| decode_event::<P>(&r)).collect();
                Batch::Decoded(records, decoded)
            }
            other => other,
        });
        if !queue.send(decoded) || stop {
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

    /// Whichever thread checks and decodes a batch, the fold is the
    /// one-thread replay's, and a malformed payload is reported at its
    /// position with everything before it folded.
    #[test]
    fn every_split_of_the_work_folds_as_the_one_thread_replay() {
        let dir = tempfile::tempdir().unwrap();
        let ledger = Ledger::open(dir.path().join("log"), LedgerOptions::default()).unwrap();
        let config = WorkloadConfig::default();
        let mut writer = Writer::new(config.seed);
        writer.append_batched(&ledger, Workload::new(config), 6_000, 512).unwrap();
        let head = ledger.head().position;
        let mut one_thread = Projected::<AllProjections>::new();
        for record in ledger.scan(1) {
            one_thread.apply_record(&record.unwrap()).unwrap();
        }

        let policies = [Policy::Balance, Policy::AlwaysRead, Policy::AlwaysChecked, Policy::AlwaysDecoded];
        for policy in policies {
            let mut pipelined_state = Projected::<AllProjections>::new();
            pipelined(&ledger, &mut pipelined_state, head, policy).unwrap();
            assert!(pipelined_state.encode() == one_thread.encode(), "{policy:?}");
        }

        let bad = NewEvent::new(EventId::from_u128(0xBAD), "Charged", ledger.head().recorded_at, b"not cbor".to_vec());
        let bad_at = ledger.append_to(StreamId::new("account-x").unwrap(), ExpectedVersion::Any, vec![bad]).unwrap().positions[0];
        for policy in policies {
            let mut projected = Projected::<AllProjections>::new();
            let err = pipelined(&ledger, &mut projected, bad_at, policy).unwrap_err();
            assert!(matches!(err, ReplayError::Fold(FoldError::Malformed { position, .. }) if position == bad_at), "{policy:?}: {err}");
            assert_eq!(projected.position, bad_at - 1, "{policy:?}");
        }
    }
}
