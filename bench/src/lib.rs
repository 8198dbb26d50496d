//! `encore-bench`: the Rust half of Encore's side-by-side benchmark (issue 7).
//!
//! It runs the same workloads on Encore's log ([`systems::Encore`]) and on the
//! raw-RocksDB floor ([`systems::Raw`], `encore_ledger::baseline`), turns
//! pgbench's per-transaction logs for the PostgreSQL event table into the same
//! rows ([`pgbench`]), merges everything into one table with ratios against
//! Encore and writes it into `docs/BENCHMARKS.md` ([`report`]). The CBOR crate
//! measurement lives in [`cbor`]. `bench/compare.sh` drives the whole run.

pub mod cbor;
pub mod error;
pub mod pgbench;
pub mod report;
pub mod run;
pub mod stats;
pub mod systems;
pub mod workload;

pub use error::BenchError;
