//! What every actor and the facade share: the log, the clock, the secrets,
//! the directory and the configuration; and the ways to reach another
//! stream's actor (run a command, read its state, push events to it, say
//! it missed some).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use actix::prelude::SendError;
use actix::{MailboxError, Message, Recipient};
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
        let actor = self.directory.actor::<S>(stream, self)?;
        actor.addr.send(Exec { decide: Box::new(decide), scope }).await.map_err(|e| mailbox(stream, e))?
    }

    /// The caught-up state of `stream`: from the actor's state slot when it
    /// holds one (nothing queued for the actor), else asked of the actor.
    pub async fn snapshot<S: StreamState>(self: &Arc<Self>, stream: &str) -> Result<Arc<S>, RuntimeError> {
        let actor = self.directory.actor::<S>(stream, self)?;
        if let Some(state) = actor.slot.read() {
            return Ok(state);
        }
        actor.addr.send(Snapshot::<S>::new()).await.map_err(|e| mailbox(stream, e))?
    }

    /// Hands events appended to `stream` by another actor to its actor, if live
    /// (a stopped actor loads them from the log when it next starts).
    pub(crate) async fn push(&self, stream: &str, applied: Applied) {
        if let Some(recipient) = self.directory.applied_recipient(stream) {
            enqueue(&recipient, applied).await;
        }
    }

    pub(crate) async fn mark_stale(&self, stream: &str) {
        if let Some(recipient) = self.directory.stale_recipient(stream) {
            enqueue(&recipient, MarkStale).await;
        }
    }

    /// A fresh challenge number for a station talking to a card.
    pub(crate) fn next_challenge(&self) -> u64 {
        self.challenges.fetch_add(1, Ordering::Relaxed)
    }
}

/// Puts a message in an actor's mailbox without waiting for it to be
/// handled: a mailbox is first in, first out, so every request that actor
/// gets afterwards, from anyone, finds the message handled. Only a full
/// mailbox makes the sender wait (for room, then for the handler), so the
/// capacity still bounds it. A closed mailbox means the actor stopped:
/// nothing to update (it reads the log when it next starts).
async fn enqueue<M>(recipient: &Recipient<M>, message: M)
where
    M: Message<Result = ()> + Send + 'static,
{
    if let Err(SendError::Full(message)) = recipient.try_send(message) {
        let _ = recipient.send(message).await;
    }
}
