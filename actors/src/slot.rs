//! [`StateSlot`]: an actor's caught-up state, readable by other actors
//! without a message.
//!
//! A decider reads the states of other streams (the purchase reads the
//! account, the catalogue entry and the station). Asking each actor is a
//! round trip through its mailbox; when the actor is loaded, caught up and
//! has nothing queued that would change its state, the answer is its current
//! `Arc`, which the slot holds. What keeps the two ways equivalent:
//!
//! * the actor fills the slot only while its state is loaded and not stale,
//!   and empties it while it changes the state in place;
//! * whoever queues an [`Applied`](crate::shell::Applied) or a
//!   [`MarkStale`](crate::shell::MarkStale) for the actor counts it in the
//!   slot first, and the actor counts it out once handled; while any is
//!   counted, readers ask the actor, whose mailbox (first in, first out)
//!   has them handled before it answers.
//!
//! So a read never misses events another actor appended and pushed before
//! it; the one thing it may miss is a command the actor itself is running
//! and has not answered yet, which the read then simply comes before (the
//! log's expected versions catch it for every stream a decision writes).

use std::sync::{Arc, Mutex, MutexGuard};

#[derive(Debug)]
struct Inner<S> {
    /// The actor's state, when loaded, caught up and not being changed.
    state: Option<Arc<S>>,
    /// Messages queued for the actor that change its state, not yet handled.
    queued: u64,
}

/// The shared cell; cheap to clone (one `Arc`).
pub struct StateSlot<S>(Arc<Mutex<Inner<S>>>);

impl<S> Clone for StateSlot<S> {
    fn clone(&self) -> Self {
        StateSlot(self.0.clone())
    }
}

impl<S> Default for StateSlot<S> {
    fn default() -> Self {
        StateSlot(Arc::new(Mutex::new(Inner { state: None, queued: 0 })))
    }
}

impl<S> StateSlot<S> {
    fn lock(&self) -> MutexGuard<'_, Inner<S>> {
        // Nothing panics while holding it (a panic aborts the process in
        // release); each field is whole either way.
        self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The state, if the actor published one and nothing is queued for it.
    pub(crate) fn read(&self) -> Option<Arc<S>> {
        let inner = self.lock();
        if inner.queued == 0 {
            inner.state.clone()
        } else {
            None
        }
    }

    /// Publishes the actor's state (`None`: not loaded or stale, ask the actor).
    pub(crate) fn set(&self, state: Option<Arc<S>>) {
        let old = std::mem::replace(&mut self.lock().state, state);
        drop(old); // outside the lock
    }

    /// Empties the slot: the actor is about to change its state in place.
    pub(crate) fn clear(&self) {
        self.set(None);
    }

    /// A message that changes the state is about to be queued for the actor.
    pub(crate) fn queued(&self) {
        self.lock().queued += 1;
    }

    /// The actor handled a message counted by [`StateSlot::queued`].
    pub(crate) fn handled(&self) {
        let mut inner = self.lock();
        inner.queued = inner.queued.saturating_sub(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_queued_message_hides_the_state_until_handled() {
        let slot = StateSlot::<u64>::default();
        assert_eq!(slot.read(), None, "nothing published yet");
        slot.set(Some(Arc::new(1)));
        assert_eq!(slot.read().as_deref(), Some(&1));
        slot.queued();
        slot.queued();
        assert_eq!(slot.read(), None, "two messages queued");
        slot.set(Some(Arc::new(2)));
        slot.handled();
        assert_eq!(slot.read(), None, "one still queued");
        slot.handled();
        assert_eq!(slot.read().as_deref(), Some(&2));
        slot.clear();
        assert_eq!(slot.read(), None, "being changed");
    }
}
