//! Fault injection for tests (a dev-dependency only): a FUSE pass-through that
//! keeps unsynced writes in memory and throws them away at a power cut
//! ([`power`]).

pub mod power;
