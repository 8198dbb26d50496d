//! The scenario parser (`replay-tests/src/script.rs`): scripts are written by
//! hand, so every text gets a parse or an error naming its line, never a panic.
#![no_main]

use std::path::Path;

use encore_replay_tests::Script;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let _ = Script::parse(Path::new("fuzz.scn"), text);
});
