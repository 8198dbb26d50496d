//! No build step. This script exists so that `syn` (a build dependency of
//! RocksDB's bindgen) is always compiled with the same features whichever
//! packages a cargo command builds: see `[build-dependencies]` in Cargo.toml.
//! Without it, building the ledger alone and building it with a crate whose
//! proc-macros want `syn/visit` (or `syn/fold`: yoke-derive, under
//! actix-web's `url`) flip bindgen's inputs and recompile all of
//! RocksDB (ten minutes or more on two cores).

fn main() {}
