//! Test support shared by the crates' test suites, never used by Encore
//! itself: [`damage`] alters a closed log on purpose, [`crash`] runs a test as
//! a child process and kills it with SIGKILL, [`faults`] makes a disk full or
//! its syncs fail.

pub mod crash;
mod damage;
pub mod faults;

pub use damage::*;
