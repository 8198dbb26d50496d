//! Encore's pure domain model.
//!
//! Everything here is deterministic: `decide(state, command, now) -> events`
//! and `apply(state, event) -> state`, with no I/O, no clock reads and no
//! randomness. Time, ids and key material come in as arguments. The actix
//! actors in `encore-actors` are thin shells around these functions, and the
//! projections decode the same events from the log without any runtime.

pub mod aggregate;
pub mod codec;
pub mod event;
pub mod groups;
pub mod ids;
pub mod licensing;
pub mod money;
#[cfg(any(test, feature = "samples"))]
pub mod samples;
pub mod time;

pub use aggregate::Aggregate;
pub use codec::{DecodeError, EventCodec};
pub use event::Event;
pub use money::Money;
pub use time::Timestamp;
