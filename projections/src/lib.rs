//! `encore-projections`: Encore's read models, folded from the log.
//!
//! * [`Balances`]: per accounting id, balance, loaded, charged, refunded, declines.
//! * [`UsageHistory`]: per accounting id, the content bought and played in log
//!   order; per content id, purchases and plays (002 claims 8-9).
//! * [`CharismaRankings`]: per group id, reliability points and rank; the
//!   charisma list by threshold, by top N and by the configured policy.
//!
//! Every projection implements [`Projection`] (a pure fold plus a canonical
//! CBOR encoding: equal states give equal bytes). [`Projected`] wraps one with
//! the position it has reached, the chain hash there and the number of
//! non-domain records it skipped. A [`ProjectionRunner`] keeps one up to date
//! from a catch-up subscription and stores state and checkpoint in one atomic
//! `put_aux`, so a crash never counts an event twice or misses one.
//! [`rebuild`], [`as_of_position`] and [`as_of_time`] replay from zero.
//! Projections only read the log; nothing here appends.

mod balances;
mod bundle;
mod charisma;
mod error;
mod id_map;
mod interner;
mod projection;
mod replay;
mod runner;
mod usage;

#[doc(hidden)]
pub mod workload;

pub use balances::{AccountBalance, BalanceMismatch, Balances};
pub use bundle::AllProjections;
pub use charisma::{CharismaRankings, Standing};
pub use error::{FoldError, ReplayError, RunnerError, StateDecodeError};
pub use projection::{decode_event, decode_state, encode_state, encodes_to, Decoded, EventContext, Projected, Projection, PROJECTED_FORMAT_VERSION};
pub use replay::{as_of_position, as_of_time, rebuild, replay_into};
pub use runner::{checkpoint_key, ProjectionRunner, RunnerOptions, StartedFrom};
pub use usage::{ContentUsage, Usage, UsageHistory, UsageKind};
