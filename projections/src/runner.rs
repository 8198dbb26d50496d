//! The live projection runner: a catch-up subscription from the checkpoint,
//! folding records and storing state + checkpoint in ONE `put_aux` value
//! (atomic), every N events and whenever the log goes idle.
//!
//! After a crash the runner resumes from the last stored value: the state and
//! the position in it always agree, so no event is counted twice or missed.
//! A stored checkpoint is never trusted blindly: one that does not decode, or
//! whose position or chain hash disagrees with the log, is discarded with a
//! warning and the projection is rebuilt from zero.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use encore_ledger::{Ledger, Subscription};

use crate::error::RunnerError;
use crate::projection::{Projected, Projection};

/// How often a runner checkpoints and how it reads.
#[derive(Debug, Clone)]
pub struct RunnerOptions {
    /// Store state and checkpoint after this many records (at least 1).
    pub checkpoint_every: u64,
    /// Records read per batch.
    pub batch: usize,
    /// How long `run` waits for new records before it checkpoints as idle.
    pub idle: Duration,
}

impl Default for RunnerOptions {
    fn default() -> Self {
        RunnerOptions { checkpoint_every: 10_000, batch: 1024, idle: Duration::from_millis(200) }
    }
}

/// Where a runner started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StartedFrom {
    /// No checkpoint was stored.
    Fresh,
    /// Resumed from a checkpoint at this position.
    Checkpoint { position: u64 },
    /// A stored checkpoint was refused (the reason); rebuilt from zero.
    Discarded { reason: String },
}

/// The aux key holding a projection's state and checkpoint.
pub fn checkpoint_key(name: &str) -> Vec<u8> {
    format!("projection/{name}/checkpoint").into_bytes()
}

pub struct ProjectionRunner<P: Projection> {
    ledger: Ledger,
    subscription: Subscription,
    projected: Projected<P>,
    options: RunnerOptions,
    since_checkpoint: u64,
    /// The position of the last checkpoint stored (or loaded).
    checkpointed: u64,
    started_from: StartedFrom,
}

impl<P: Projection> ProjectionRunner<P> {
    /// Loads the stored checkpoint (if it checks out) and subscribes after it.
    pub fn open(ledger: &Ledger, options: RunnerOptions) -> Result<Self, RunnerError> {
        let stored = ledger.get_aux(&checkpoint_key(P::NAME)).map_err(|source| RunnerError::Load { name: P::NAME, source })?;
        let (projected, started_from) = match stored {
            None => (Projected::new(), StartedFrom::Fresh),
            Some(bytes) => match Self::check(ledger, &bytes) {
                Ok(p) => {
                    let position = p.position;
                    (p, StartedFrom::Checkpoint { position })
                }
                Err(reason) => {
                    tracing::warn!(projection = P::NAME, %reason, "stored checkpoint refused; rebuilding from position 0");
                    (Projected::new(), StartedFrom::Discarded { reason })
                }
            },
        };
        let options = RunnerOptions { checkpoint_every: options.checkpoint_every.max(1), batch: options.batch.max(1), ..options };
        Ok(ProjectionRunner {
            ledger: ledger.clone(),
            subscription: ledger.subscribe(projected.position),
            checkpointed: projected.position,
            projected,
            options,
            since_checkpoint: 0,
            started_from,
        })
    }

    /// Decodes a stored checkpoint and confirms the log still holds, at its
    /// position, the record it was folded up to.
    fn check(ledger: &Ledger, stored: &[u8]) -> Result<Projected<P>, String> {
        if stored.len() < 32 {
            return Err(format!("stored checkpoint is {} bytes, shorter than its hash", stored.len()));
        }
        let (hash, bytes) = stored.split_at(32);
        if blake3::hash(bytes).as_bytes() != hash {
            return Err("stored checkpoint does not match its hash".into());
        }
        let projected = Projected::<P>::decode(bytes).map_err(|e| e.to_string())?;
        if projected.position == 0 {
            return Ok(projected);
        }
        match ledger.read_record(projected.position) {
            Ok(Some(record)) if record.hash == projected.last_hash => Ok(projected),
            Ok(Some(_)) => Err(format!("chain hash at position {} differs from the log's", projected.position)),
            Ok(None) => Err(format!("checkpoint position {} is past the head {}", projected.position, ledger.head().position)),
            Err(e) => Err(e.to_string()),
        }
    }

    pub fn started_from(&self) -> &StartedFrom {
        &self.started_from
    }

    pub fn projected(&self) -> &Projected<P> {
        &self.projected
    }

    pub fn state(&self) -> &P {
        &self.projected.state
    }

    pub fn position(&self) -> u64 {
        self.projected.position
    }

    /// The position of the last durable checkpoint.
    pub fn checkpointed(&self) -> u64 {
        self.checkpointed
    }

    /// Reads and folds one batch, waiting up to `timeout` for the first record.
    /// Checkpoints every `checkpoint_every` records, and when nothing came.
    /// Returns the number of records folded.
    pub fn step(&mut self, timeout: Duration) -> Result<usize, RunnerError> {
        let batch = self.subscription.next_batch(self.options.batch, timeout)?;
        for record in &batch {
            self.projected.apply_record(record)?;
            self.since_checkpoint += 1;
            if self.since_checkpoint >= self.options.checkpoint_every {
                self.checkpoint()?;
            }
        }
        if batch.is_empty() && self.since_checkpoint > 0 {
            self.checkpoint()?;
        }
        Ok(batch.len())
    }

    /// Folds everything up to the head as it is now, then checkpoints.
    pub fn catch_up(&mut self) -> Result<u64, RunnerError> {
        let head = self.ledger.head().position;
        while self.projected.position < head {
            self.step(Duration::ZERO)?;
        }
        if self.since_checkpoint > 0 {
            self.checkpoint()?;
        }
        Ok(self.projected.position)
    }

    /// Follows the log until `stop` is set, then checkpoints.
    pub fn run(&mut self, stop: &AtomicBool) -> Result<(), RunnerError> {
        while !stop.load(Ordering::Relaxed) {
            self.step(self.options.idle)?;
        }
        if self.since_checkpoint > 0 {
            self.checkpoint()?;
        }
        Ok(())
    }

    /// Stores state and position together, in one durable aux write:
    /// `blake3(bytes) || bytes` where bytes = [`Projected::encode`].
    pub fn checkpoint(&mut self) -> Result<(), RunnerError> {
        let encoded = self.projected.encode();
        let mut bytes = Vec::with_capacity(32 + encoded.len());
        bytes.extend_from_slice(blake3::hash(&encoded).as_bytes());
        bytes.extend_from_slice(&encoded);
        self.ledger.put_aux(&[(checkpoint_key(P::NAME).as_slice(), bytes.as_slice())]).map_err(|source| RunnerError::Store { name: P::NAME, source })?;
        self.since_checkpoint = 0;
        self.checkpointed = self.projected.position;
        Ok(())
    }
}
