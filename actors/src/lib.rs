//! `encore-actors`: the actix runtime around Encore's pure domain model.
//!
//! One actor per stream (card, account, catalogue entry, kiosk or player,
//! device, user group, group server, distribution server). Every actor is the
//! same generic shell, [`shell::StreamActor`]: it loads its state by replaying
//! its stream ([`load::load_state`]), and handles a command by catching up,
//! deciding (a pure function of the domain crate), appending the decision in
//! one atomic multi-stream append with every expected version, and applying.
//! The [`directory::Directory`] spawns actors on first use and stops the least
//! recently used or idle ones, so memory stays bounded. The [`Runtime`] facade
//! is what the CLI, the kiosk and the scenario runner call: one async method
//! per flow of both halves of the domain, each returning the events appended.
//!
//! Deadlock freedom: a command may ask other actors for their state (a
//! multi-stream decision), and it holds its own actor while it waits. Actors
//! therefore only ever ask actors of a strictly lower rank:
//!
//! | rank | actor | asks |
//! |---|---|---|
//! | 5 | card | account, catalogue entry, station, distribution, device |
//! | 4 | user group | devices |
//! | 3 | device | devices with a larger id, distribution |
//! | 1 | account, catalogue entry, station, distribution, group server | nobody |
//!
//! | module | role |
//! |---|---|
//! | `clock` | the [`Clock`] trait, system and manual clocks, the non-decreasing runtime view |
//! | `secrets` | [`Secrets`]: issuer, license-server, certificate and device keys (redacted) |
//! | `state` | [`state::StreamState`]: what every actor's state implements |
//! | `load` | replaying a stream into a state (the one function a snapshot loader replaces) |
//! | `shell` | the generic stream actor: catch up, decide, append, apply, retry |
//! | `directory` | spawn on first use, LRU / idle eviction |
//! | `shared` | what every actor shares: log, clock, secrets, directory |
//! | `flows` | the deciders of every flow (pure domain calls plus peer snapshots) |
//! | `runtime` | the [`Runtime`] facade |
//! | `error` | [`RuntimeError`] |
//! | `request` | outside requests: idempotency receipts in the log, `If-Match` preconditions |
//! | `outcome` | [`Outcome`] and [`Recorded`] events |

pub mod clock;
pub mod directory;
pub mod error;
pub mod flows;
pub mod load;
pub mod outcome;
pub mod request;
pub mod runtime;
pub mod secrets;
pub mod shared;
pub mod shell;
pub mod state;

pub use clock::{Clock, ManualClock, RuntimeClock, SystemClock};
pub use directory::DirectoryStats;
pub use error::RuntimeError;
pub use outcome::{Outcome, Recorded};
pub use runtime::{Runtime, RuntimeConfig};
pub use secrets::Secrets;
