//! The generic stream actor: one per stream, holding that stream's state.
//!
//! Every command is an [`Exec`]: the actor catches up (loads its state with
//! [`load::load_state`] on first use, rereads its stream only when it may
//! have missed events), calls the command's decider with its state and the
//! runtime's time (the decider may ask lower-ranked actors for their state),
//! appends the resulting [`Decision`] in ONE atomic multi-stream append with
//! every expected version, applies its own events and pushes the others to
//! their actors. The whole sequence runs as an `AtomicResponse`, so two
//! commands never interleave inside one actor. All RocksDB reads run on the
//! blocking pool; the append goes through `Ledger::append_async`.
//!
//! Retries: `WrongExpectedVersion` (another actor wrote one of the streams),
//! a deduplicated append or an event id conflict (our view was stale) mark
//! the streams stale and decide again (with jittered back-off on contention);
//! `ClockWentBackwards` raises the clock floor and appends the same decision
//! again with a later record time. After `max_attempts` the command fails with
//! `Contention` and nothing is written.

use std::cell::RefCell;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;

use actix::{Actor, AtomicResponse, Context, Handler, Message, WrapFuture};
use encore_domain::aggregate::Decision;
use encore_domain::{Event, EventCodec, Timestamp};
use encore_ledger::{AppendError, Appended, EventId, ExpectedVersion, NewEvent, StreamAppend, StreamId};

use crate::error::RuntimeError;
use crate::load;
use crate::outcome::{Outcome, Recorded};
use crate::request::{self, RequestScope};
use crate::shared::Shared;
use crate::state::StreamState;

const EVENT_ID_CONTEXT: &str = "encore-actors event id v1";
const CORRELATION_CONTEXT: &str = "encore-actors correlation id v1";

/// What a decider returns: the typed outcome, the events to append and the
/// command key event ids derive from (a purchase id, or the flow's name).
pub struct Plan<T> {
    pub outcome: T,
    pub decision: Decision<Event>,
    pub key: Vec<u8>,
}

/// The future a decider returns; it runs on the actor's arbiter.
pub type DecideFuture<T> = Pin<Box<dyn Future<Output = Result<Plan<T>, RuntimeError>>>>;

/// Decides a command from the actor's state; called again on every retry.
pub trait Decide<S, T>: Send + 'static {
    fn decide(&self, state: Arc<S>, shared: Arc<Shared>, now: Timestamp) -> DecideFuture<T>;
}

impl<S, T, F> Decide<S, T> for F
where
    F: Fn(Arc<S>, Arc<Shared>, Timestamp) -> DecideFuture<T> + Send + 'static,
{
    fn decide(&self, state: Arc<S>, shared: Arc<Shared>, now: Timestamp) -> DecideFuture<T> {
        self(state, shared, now)
    }
}

/// Run a command: catch up, decide, append, apply.
pub struct Exec<S, T> {
    pub decide: Box<dyn Decide<S, T>>,
    /// The outside request this command answers (idempotency key, If-Match).
    pub scope: Option<Arc<RequestScope>>,
}

impl<S: StreamState, T: Send + 'static> Message for Exec<S, T> {
    type Result = Result<Outcome<T>, RuntimeError>;
}

/// The actor's current state (caught up).
pub struct Snapshot<S>(pub PhantomData<fn() -> S>);

impl<S> Snapshot<S> {
    pub fn new() -> Self {
        Snapshot(PhantomData)
    }
}

impl<S> Default for Snapshot<S> {
    fn default() -> Self {
        Snapshot::new()
    }
}

impl<S: StreamState> Message for Snapshot<S> {
    type Result = Result<Arc<S>, RuntimeError>;
}

/// Events another actor appended to this actor's stream, starting at `first_version`.
pub struct Applied {
    pub first_version: u64,
    pub events: Vec<Event>,
}

impl Message for Applied {
    type Result = ();
}

/// This actor's view may be behind the log: reread before the next use.
pub struct MarkStale;

impl Message for MarkStale {
    type Result = ();
}

/// The state, shared between the actor and its in-flight command future
/// (both on the actor's arbiter thread; never borrowed across an await).
#[derive(Default)]
struct Core<S> {
    /// `None` until loaded.
    state: Option<Arc<S>>,
    /// True when events may have been appended that this state has not seen.
    stale: bool,
}

impl<S: StreamState> Core<S> {
    /// Applies events appended at `first_version..`; a gap or a foreign event
    /// marks the state stale. Returns the new state when it crossed a
    /// multiple of `snapshot_every` (0 = never), so the caller can store it.
    fn apply(&mut self, first_version: u64, events: &[Event], snapshot_every: u64) -> Option<Arc<S>> {
        let state = self.state.as_mut()?;
        let last_version = (events.len() as u64).checked_sub(1).map(|n| first_version + n)?;
        if state.version() >= last_version {
            return None; // already seen (a reread got there first)
        }
        if state.version() + 1 != first_version {
            self.stale = true;
            return None;
        }
        let state_mut = Arc::make_mut(state);
        for event in events {
            if state_mut.apply_event(event).is_err() {
                self.stale = true;
                return None;
            }
        }
        let crossed = snapshot_every > 0 && last_version / snapshot_every > (first_version - 1) / snapshot_every;
        crossed.then(|| state.clone())
    }
}

/// Writes a snapshot on the blocking pool, never on the arbiter.
fn snapshot_later<S: StreamState>(stream: &StreamId, state: Option<Arc<S>>, shared: &Arc<Shared>) {
    let Some(state) = state else { return };
    let (ledger, stream) = (shared.ledger.clone(), stream.clone());
    drop(actix_rt::task::spawn_blocking(move || load::write_snapshot(&ledger, &stream, &*state)));
}

/// One stream's actor.
pub struct StreamActor<S: StreamState> {
    stream: StreamId,
    core: Rc<RefCell<Core<S>>>,
    shared: Arc<Shared>,
}

impl<S: StreamState> StreamActor<S> {
    pub fn new(stream: StreamId, shared: Arc<Shared>) -> Self {
        StreamActor { stream, core: Rc::new(RefCell::new(Core { state: None, stale: false })), shared }
    }
}

impl<S: StreamState> Actor for StreamActor<S> {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        ctx.set_mailbox_capacity(self.shared.config.mailbox_capacity);
        self.shared.directory.stats.started();
    }

    fn stopped(&mut self, _: &mut Context<Self>) {
        self.shared.directory.stats.stopped();
    }
}

impl<S: StreamState, T: Send + 'static> Handler<Exec<S, T>> for StreamActor<S> {
    type Result = AtomicResponse<Self, Result<Outcome<T>, RuntimeError>>;

    fn handle(&mut self, msg: Exec<S, T>, _: &mut Context<Self>) -> Self::Result {
        let fut = execute(self.stream.clone(), self.core.clone(), self.shared.clone(), msg.decide, msg.scope);
        AtomicResponse::new(Box::pin(fut.into_actor(self)))
    }
}

impl<S: StreamState> Handler<Snapshot<S>> for StreamActor<S> {
    type Result = AtomicResponse<Self, Result<Arc<S>, RuntimeError>>;

    fn handle(&mut self, _: Snapshot<S>, _: &mut Context<Self>) -> Self::Result {
        let fut = current(self.stream.clone(), self.core.clone(), self.shared.clone());
        AtomicResponse::new(Box::pin(fut.into_actor(self)))
    }
}

impl<S: StreamState> Handler<Applied> for StreamActor<S> {
    type Result = ();

    fn handle(&mut self, msg: Applied, _: &mut Context<Self>) {
        let due = self.core.borrow_mut().apply(msg.first_version, &msg.events, self.shared.config.snapshot_every);
        snapshot_later(&self.stream, due, &self.shared);
    }
}

impl<S: StreamState> Handler<MarkStale> for StreamActor<S> {
    type Result = ();

    fn handle(&mut self, _: MarkStale, _: &mut Context<Self>) {
        self.core.borrow_mut().stale = true;
    }
}

/// The caught-up state: loaded on first use, reread when stale.
async fn current<S: StreamState>(stream: StreamId, core: Rc<RefCell<Core<S>>>, shared: Arc<Shared>) -> Result<Arc<S>, RuntimeError> {
    let previous = {
        let mut c = core.borrow_mut();
        match (&c.state, c.stale) {
            (Some(state), false) => return Ok(state.clone()),
            _ => c.state.take(),
        }
    };
    let ledger = shared.ledger.clone();
    let read_stream = stream.clone();
    let loaded = actix_rt::task::spawn_blocking(move || match previous {
        None => load::load_state::<S>(&ledger, &read_stream),
        Some(state) => {
            let mut state = Arc::unwrap_or_clone(state);
            load::catch_up(&ledger, &read_stream, &mut state).map(|_| state)
        }
    })
    .await
    .map_err(|e| RuntimeError::BlockingTask { reason: e.to_string() })??;
    let state = Arc::new(loaded);
    *core.borrow_mut() = Core { state: Some(state.clone()), stale: false };
    Ok(state)
}

/// Catch up, decide, append, apply; retried as described in the module docs.
async fn execute<S: StreamState, T: 'static>(
    stream: StreamId,
    core: Rc<RefCell<Core<S>>>,
    shared: Arc<Shared>,
    decide: Box<dyn Decide<S, T>>,
    scope: Option<Arc<RequestScope>>,
) -> Result<Outcome<T>, RuntimeError> {
    let attempts = shared.config.max_attempts.max(1);
    let mut contended = stream.as_str().to_string();
    for attempt in 0..attempts {
        let state = current(stream.clone(), core.clone(), shared.clone()).await?;
        if let Some(expected) = scope.as_ref().and_then(|s| s.if_match) {
            if state.version() != expected {
                return Err(RuntimeError::PreconditionFailed { stream: stream.as_str().to_string(), expected, actual: state.version() });
            }
        }
        let now = shared.clock.checked_now().map_err(|jump| RuntimeError::ClockJumped { now: jump.now, expected: jump.expected })?;
        let plan = decide.decide(state, shared.clone(), now).await?;
        if plan.decision.is_empty() {
            return Ok(Outcome { value: plan.outcome, events: Vec::new() });
        }
        let appended = append(&shared, &plan, scope.as_deref(), attempts).await?;
        match appended {
            Ok(appended) if !appended.deduplicated => {
                let events = recorded(&plan.decision, &appended, usize::from(scope.is_some()));
                publish(&stream, &core, &shared, &plan.decision).await;
                return Ok(Outcome { value: plan.outcome, events });
            }
            // Another copy of this request got its receipt in first: the
            // whole append was there already, or its receipt was.
            Ok(_) if scope.is_some() => return Err(already_answered(scope.as_deref())),
            Err(AppendError::PartialRetry { appended: id, .. } | AppendError::EventIdConflict { event_id: id, .. })
                if scope.as_deref().is_some_and(|s| request::receipt_event_id(s) == id) =>
            {
                return Err(already_answered(scope.as_deref()));
            }
            Err(AppendError::WrongExpectedVersion { stream: moved, .. }) if scope.as_ref().is_some_and(|s| s.receipt_stream == moved.as_str()) => {
                return Err(already_answered(scope.as_deref()));
            }
            Ok(_) | Err(AppendError::EventIdConflict { .. }) | Err(AppendError::PartialRetry { .. }) => {
                // These events (or others at the same versions) are already in
                // the log: our view was stale. Reread everything involved.
                for append in &plan.decision.appends {
                    mark_stale(&stream, &core, &shared, &append.stream).await;
                }
            }
            Err(AppendError::WrongExpectedVersion { stream: moved, .. }) => {
                mark_stale(&stream, &core, &shared, moved.as_str()).await;
                contended = moved.as_str().to_string();
                back_off(&shared, attempt).await;
            }
            Err(other) => return Err(RuntimeError::Append(other)),
        }
    }
    Err(RuntimeError::Contention { stream: contended, attempts })
}

fn already_answered(scope: Option<&RequestScope>) -> RuntimeError {
    RuntimeError::AlreadyAnswered { receipt_stream: scope.map(|s| s.receipt_stream.clone()).unwrap_or_default() }
}

/// Appends a decided plan. The record time is read from the clock right
/// before the append (the events keep the decision time): when another
/// actor's append with a later time got in first (`ClockWentBackwards`), the
/// clock floor is raised to that time and the same decision appended again.
async fn append<T>(shared: &Shared, plan: &Plan<T>, scope: Option<&RequestScope>, attempts: u32) -> Result<Result<Appended, AppendError>, RuntimeError> {
    let mut result = Err(AppendError::Closed);
    for _ in 0..attempts {
        let appends = encode(&plan.decision, &plan.key, scope, shared.clock.now())?;
        result = shared.ledger.append_async(appends).await;
        match &result {
            Err(AppendError::ClockWentBackwards { previous, .. }) => shared.clock.observe(*previous),
            _ => return Ok(result),
        }
    }
    Ok(result)
}

/// Waits a little before deciding again on a contended stream: exponential
/// (100 us doubling, capped at 5 ms) with jitter, so writers that keep
/// colliding on one hot stream spread out instead of colliding again.
async fn back_off(shared: &Shared, attempt: u32) {
    let ceiling = (100u64 << attempt.min(6)).min(5_000);
    let jitter = shared.next_challenge().wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 32;
    let micros = ceiling / 2 + jitter % (ceiling / 2 + 1);
    actix_rt::time::sleep(std::time::Duration::from_micros(micros)).await;
}

fn event_id(key: &[u8], stream: &str, version: u64) -> EventId {
    let mut material = Vec::with_capacity(key.len() + stream.len() + 24);
    material.extend_from_slice(&(key.len() as u64).to_be_bytes());
    material.extend_from_slice(key);
    material.extend_from_slice(&(stream.len() as u64).to_be_bytes());
    material.extend_from_slice(stream.as_bytes());
    material.extend_from_slice(&version.to_be_bytes());
    EventId::derive(EVENT_ID_CONTEXT, &material)
}

/// The decision as log appends: deterministic event ids (command key, stream,
/// version), the record time, every stream at its expected version. A
/// request's command key includes its receipt stream (so its event ids derive
/// from the idempotency key), and its receipt is the last append.
fn encode(decision: &Decision<Event>, key: &[u8], scope: Option<&RequestScope>, recorded_at: Timestamp) -> Result<Vec<StreamAppend>, RuntimeError> {
    let scoped_key;
    let key = match scope {
        Some(scope) => {
            scoped_key = [key, b"\0", scope.receipt_stream.as_bytes()].concat();
            scoped_key.as_slice()
        }
        None => key,
    };
    let correlation = EventId::derive(CORRELATION_CONTEXT, key);
    let mut appends = Vec::with_capacity(decision.appends.len());
    for append in decision.appends.iter().filter(|a| !a.events.is_empty()) {
        let events = append
            .events
            .iter()
            .enumerate()
            .map(|(i, event)| NewEvent {
                event_id: event_id(key, &append.stream, append.expected_version + 1 + i as u64),
                event_type: event.event_type().to_string(),
                recorded_at: recorded_at.micros(),
                correlation_id: correlation,
                causation_id: EventId::NIL,
                payload: event.encode_payload(),
            })
            .collect::<Vec<_>>();
        appends.push(StreamAppend { stream: StreamId::new(append.stream.clone())?, expected: ExpectedVersion::Exact(append.expected_version), events });
    }
    if let Some(scope) = scope {
        let covered: Vec<(String, u64)> =
            decision.appends.iter().flat_map(|a| (1..=a.events.len() as u64).map(move |i| (a.stream.clone(), a.expected_version + i))).collect();
        appends.push(request::receipt_append(scope, &covered, recorded_at.micros(), correlation)?);
    }
    Ok(appends)
}

/// The appended events with their positions and versions, in decision order
/// (`receipts` more records, the request's receipt, come after them).
fn recorded(decision: &Decision<Event>, appended: &Appended, receipts: usize) -> Vec<Recorded> {
    let mut out = Vec::with_capacity(appended.positions.len());
    let mut positions = appended.positions.iter();
    for append in decision.appends.iter().filter(|a| !a.events.is_empty()) {
        for (i, event) in append.events.iter().enumerate() {
            let position = positions.next().copied().unwrap_or(0);
            out.push(Recorded { position, stream: append.stream.clone(), version: append.expected_version + 1 + i as u64, event: event.clone() });
        }
    }
    debug_assert_eq!(out.len() + receipts, appended.positions.len(), "one position per appended event");
    out
}

/// Applies our own stream's events and pushes the others to their live actors.
async fn publish<S: StreamState>(own: &StreamId, core: &Rc<RefCell<Core<S>>>, shared: &Arc<Shared>, decision: &Decision<Event>) {
    for append in decision.appends.iter().filter(|a| !a.events.is_empty()) {
        if append.stream == own.as_str() {
            let due = core.borrow_mut().apply(append.expected_version + 1, &append.events, shared.config.snapshot_every);
            snapshot_later(own, due, shared);
        } else {
            shared.push(&append.stream, Applied { first_version: append.expected_version + 1, events: append.events.clone() }).await;
        }
    }
}

async fn mark_stale<S: StreamState>(own: &StreamId, core: &Rc<RefCell<Core<S>>>, shared: &Arc<Shared>, stream: &str) {
    if stream == own.as_str() {
        core.borrow_mut().stale = true;
    } else {
        shared.mark_stale(stream).await;
    }
}
