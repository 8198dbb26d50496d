//! Replay tests: every script in `scenarios/` runs on a fresh store and its
//! transcript (each command, the events it appended, the final projections)
//! is compared with its insta snapshot. Running a script twice gives the same
//! transcript byte for byte.
// Test and benchmark code: a failed set-up or check stops it loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

use encore_replay_tests::{run_script, Script};

fn scenarios() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    let mut files: Vec<PathBuf> = walk(&dir).into_iter().filter(|p| p.extension().is_some_and(|e| e == "scn")).collect();
    files.sort();
    files
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).expect("scenarios directory") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

/// The snapshot name: the script's path under `scenarios/`, slashes as `__`.
fn snapshot_name(path: &Path) -> String {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    let relative = path.strip_prefix(&dir).unwrap_or(path).with_extension("");
    relative.to_string_lossy().replace(['/', '\\'], "__")
}

fn relative(path: &Path) -> PathBuf {
    path.strip_prefix(env!("CARGO_MANIFEST_DIR")).unwrap_or(path).to_path_buf()
}

#[test]
fn every_scenario_matches_its_snapshot() {
    let files = scenarios();
    assert!(!files.is_empty(), "no scenarios found");
    let mut failures = Vec::new();
    for path in &files {
        let script = Script::load(&relative(path).canonicalize().unwrap_or(path.clone())).expect("parse");
        let script = Script { file: relative(path), ..script };
        match run_script(&script) {
            Ok(transcript) => {
                let name = snapshot_name(path);
                insta::with_settings!({ snapshot_path => "snapshots", prepend_module_to_snapshot => false, description => script.file.display().to_string() }, {
                    insta::assert_snapshot!(name, transcript.text);
                });
            }
            Err(e) => failures.push(e.to_string()),
        }
    }
    assert!(failures.is_empty(), "scenarios failed:\n{}", failures.join("\n"));
}

#[test]
fn running_a_script_twice_gives_the_same_transcript() {
    for path in scenarios().iter().filter(|p| p.to_string_lossy().contains("stories")) {
        let script = Script::load(path).expect("parse");
        let first = run_script(&script).expect("first run");
        let second = run_script(&script).expect("second run");
        assert_eq!(first, second, "{} is not deterministic", path.display());
    }
}

#[test]
fn a_failed_expectation_names_the_file_and_line() {
    let script = Script::parse(Path::new("inline.scn"), "account open acct-1 balance 100\n\nexpect balance acct-1 90\n").unwrap();
    let err = run_script(&script).unwrap_err().to_string();
    assert_eq!(err, "inline.scn:3: expected balance of acct-1 = 90, got 100");
}

#[test]
fn an_unexpected_error_kind_names_both_kinds() {
    let script = Script::parse(Path::new("inline.scn"), "account open a balance 10\nload a 0 => error Overflow\n").unwrap();
    let err = run_script(&script).unwrap_err().to_string();
    assert!(err.starts_with("inline.scn:2: expected error Overflow, got error "), "{err}");
}
