//! `encore-replay-tests`: the scenario language and its runner.
//!
//! A scenario script is a plain-text story of cards, devices and purchases
//! with expectations (docs/SCENARIOS.md). [`run_script`] runs one against a
//! fresh store through the real actor runtime and returns its transcript: each
//! command, the events it appended, and the final projections. The replay
//! tests (`tests/scenarios.rs`) run every script in `scenarios/` and compare
//! the transcript with an insta snapshot; `encore scenario run` uses the same
//! runner.
//!
//! | module | role |
//! |---|---|
//! | `script` | parsing: lines, words, `=>` outcomes |
//! | `names` | readable names to real identifiers, and back for transcripts |
//! | `args` | reading a command's words: names, amounts, durations, dates |
//! | `runner` | the step loop, expectations, failures as `FILE:LINE: expected ..., got ...` |
//! | `verbs` | what each command does, one file per part of the domain |
//! | `transcript` | how events and projections are printed |

pub mod args;
pub mod names;
pub mod runner;
pub mod script;
pub mod transcript;
mod verbs;

pub use runner::{error_kind, run_script, run_script_in, RunError, Session, Transcript, START};
pub use script::{Outcome, ParseError, Script, Step};
