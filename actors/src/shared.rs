//! What every actor and the facade share: the log, the clock, the secrets,
//! the directory and the configuration; and the three ways to reach another
//! stream's actor (run a command, read its state, push events to it).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use actix::MailboxError;
use encore_ledger::Ledger;

use crate::clock::RuntimeClock;
use crate::directory::Directory;
use crate::error::RuntimeError;
use crate::outcome::Outcome;
use crate::runtime::RuntimeConfig;
use crate::secrets::Secrets;
use crate::shell::{Applied, Decide, Exec, MarkStale, Snapshot};
use crate::state::StreamState;

pub struct Shared {
    pub ledger: Ledger,
    pub clock: RuntimeClock,
    pub secrets: Secrets,
    pub directory: Directory,
    pub config: RuntimeConfig,
    pub(crate) challenges: AtomicU64,
}

fn mailbox(stream: &str, e: MailboxError) -> RuntimeError {
    match e {
        MailboxError::Closed => RuntimeError::ActorGone { stream: stream.to_string() },
        MailboxError::Timeout => RuntimeError::MailboxFull { stream: stream.to_string() },
    }
}

impl Shared {
    /// Runs a command on the actor of `stream` (spawned on first use).
    pub async fn exec<S: StreamState, T: Send + 'static>(self: &Arc<Self>, stream: &str, decide: impl Decide<S, T>) -> Result<Outcome<T>, RuntimeError> {
        let scope = crate::request::take_scope()?;
        let addr = self.directory.actor::<S>(stream, self)?;
        addr.send(Exec { decide: Box::new(decide), scope }).await.map_err(|e| mailbox(stream, e))?
    }

    /// The caught-up state of `stream`.
    pub async fn snapshot<S: StreamState>(self: &Arc<Self>, stream: &str) -> Result<Arc<S>, RuntimeError> {
        let addr = self.directory.actor::<S>(stream, self)?;
        addr.send(Snapshot::<S>::new()).await.map_err(|e| mailbox(stream, e))?
    }

    /// Hands events appended to `stream` by another actor to its actor, if live
    /// (a stopped actor loads them from the log when it next starts).
    pub(crate) async fn push(&self, stream: &str, applied: Applied) {
        if let Some(recipient) = self.directory.applied_recipient(stream) {
            // A closed mailbox means the actor stopped: nothing to update.
            let _ = recipient.send(applied).await;
        }
    }

    pub(crate) async fn mark_stale(&self, stream: &str) {
        if let Some(recipient) = self.directory.stale_recipient(stream) {
            let _ = recipient.send(MarkStale).await;
        }
    }

    /// A fresh challenge number for a station talking to a card.
    pub(crate) fn next_challenge(&self) -> u64 {
        self.challenges.fetch_add(1, Ordering::Relaxed)
    }
}
