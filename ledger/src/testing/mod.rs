//! Test support shared by the crates' test suites, never used by Encore
//! itself: [`damage`] alters a closed log on purpose, [`crash`] runs a test as
//! a child process and kills it with SIGKILL.

pub mod crash;
mod damage;

pub use damage::*;
