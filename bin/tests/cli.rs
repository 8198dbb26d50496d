//! CLI tests: run the built `encore` binary as an operator would and check
//! what it prints and its exit code (0 ok, 1 a check failed, 2 bad input).
// Test and benchmark code: a failed set-up or check stops it loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn encore(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_encore")).args(args).env_remove("ENCORE_SECRETS_SEED").output().expect("run encore")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Runs encore and checks its exit code, returning stdout.
fn expect_exit(args: &[&str], code: i32) -> String {
    let out = encore(args);
    assert_eq!(out.status.code(), Some(code), "encore {args:?}\nstdout:\n{}\nstderr:\n{}", stdout(&out), stderr(&out));
    assert!(!stderr(&out).contains("panicked"), "encore {args:?} panicked: {}", stderr(&out));
    stdout(&out)
}

/// A one-line error naming `needle`, exit 2, no panic.
fn expect_one_line_error(args: &[&str], needle: &str) {
    let out = encore(args);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "encore {args:?}: {err}");
    assert_eq!(err.trim_end().lines().count(), 1, "encore {args:?} printed more than one line:\n{err}");
    assert!(err.contains(needle), "encore {args:?}: {err:?} does not name {needle:?}");
    assert!(!err.contains("panicked") && !err.contains("backtrace"), "{err}");
}

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 temp path")
}

/// A fresh demo in `dir`, returning the log path.
fn demo(dir: &Path) -> PathBuf {
    expect_exit(&["demo", "--db", s(dir)], 0);
    dir.join("log")
}

#[test]
fn demo_prints_the_three_tables_and_a_verify_line_and_runs_twice_on_the_same_dir() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("demo");
    for run in 0..2 {
        let out = expect_exit(&["demo", "--db", s(&dir)], 0);
        for table in ["== balances ==", "== usage history ==", "== charisma ranking ==", "acct-alice", "verified: "] {
            assert!(out.contains(table), "run {run}: no {table:?} in:\n{out}");
        }
        assert_eq!(out.contains("replacing the previous demo"), run == 1, "{out}");
    }
}

#[test]
fn demo_refuses_a_directory_that_holds_something_else() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("precious.txt"), "keep me").unwrap();
    expect_one_line_error(&["demo", "--db", s(tmp.path())], "not an encore demo");
    assert!(tmp.path().join("precious.txt").exists());
}

#[test]
fn scenarios_pass_and_a_failed_expectation_names_file_and_line_with_exit_1() {
    let tmp = tempfile::tempdir().unwrap();
    let good = tmp.path().join("good.scn");
    let bad = tmp.path().join("bad.scn");
    std::fs::write(&good, "account open acct-1 balance 1000\nload acct-1 50\nexpect balance acct-1 1050\n").unwrap();
    std::fs::write(&bad, "account open acct-1 balance 1000\n\nexpect balance acct-1 999\n").unwrap();
    let out = expect_exit(&["scenario", "run", s(&good)], 0);
    assert!(out.contains(&format!("ok {} (3 steps)", good.display())), "{out}");
    let out = encore(&["scenario", "run", s(&good), s(&bad), "--db", s(&tmp.path().join("stores"))]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains(&format!("{}:3: expected", bad.display())) && err.contains("got"), "{err}");
    assert!(stdout(&out).contains(&format!("ok {}", good.display())), "{}", stdout(&out));
    assert!(tmp.path().join("stores/1").exists() && tmp.path().join("stores/2").exists());
}

#[test]
fn scenario_transcript_shows_events_and_projections() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("t.scn");
    std::fs::write(&file, "account open acct-1 balance 1000 => ok\n").unwrap();
    let out = expect_exit(&["scenario", "run", "--transcript", s(&file)], 0);
    assert!(out.contains("== balances ==") && out.contains("acct-1"), "{out}");
}

#[test]
fn audit_verify_passes_on_the_demo_and_names_the_position_of_a_flipped_byte() {
    let tmp = tempfile::tempdir().unwrap();
    let log = demo(tmp.path());
    let out = expect_exit(&["audit", "verify", "--db", s(&log)], 0);
    assert!(out.starts_with("intact: "), "{out}");
    let json = expect_exit(&["audit", "verify", "--db", s(&log), "--json"], 0);
    assert!(json.starts_with("{\"intact\":true,"), "{json}");
    encore_ledger::testing::flip_byte(&log, 7, 40).unwrap();
    let out = expect_exit(&["audit", "verify", "--db", s(&log)], 1);
    assert!(out.contains("DAMAGED: first bad position 7"), "{out}");
    let out = expect_exit(&["verify", "--db", s(&log)], 1);
    assert!(out.contains("position 7"), "{out}");
}

#[test]
fn audit_rebuild_and_diff_confirm_the_demo_projections_and_snapshots() {
    let tmp = tempfile::tempdir().unwrap();
    let log = demo(tmp.path());
    let out = expect_exit(&["audit", "rebuild", "--db", s(&log)], 0);
    for name in ["balances", "usage", "charisma"] {
        assert!(out.lines().any(|l| l.starts_with(name) && l.contains("matches the rebuild")), "{out}");
    }
    assert!(out.contains("0 mismatches"), "{out}");
    let json = expect_exit(&["audit", "rebuild", "--db", s(&log), "--json"], 0);
    assert!(json.contains("\"status\":\"matches\""), "{json}");
    expect_exit(&["audit", "diff", "--db", s(&log)], 0);
}

#[test]
fn audit_diff_shows_per_account_differences_of_a_stored_projection_that_disagrees() {
    use encore_projections::{as_of_position, checkpoint_key, Balances, Projected, Projection};
    let tmp = tempfile::tempdir().unwrap();
    let log = demo(tmp.path());
    {
        // A live checkpoint that claims the head but holds an older state: its
        // own hash and chain hash check out, only a replay can tell.
        let ledger = encore_ledger::Ledger::open(&log, encore_ledger::LedgerOptions::default()).unwrap();
        let head = ledger.head();
        let older = as_of_position::<Balances>(&ledger, 12).unwrap();
        let forged = Projected { position: head.position, last_hash: head.hash, skipped: 0, state: older.state };
        let body = forged.encode();
        let stored = [blake3::hash(&body).as_bytes().as_slice(), &body].concat();
        ledger.put_aux(&[(checkpoint_key(Balances::NAME).as_slice(), stored.as_slice())]).unwrap();
    }
    let out = expect_exit(&["audit", "diff", "--db", s(&log)], 1);
    assert!(out.lines().any(|l| l.starts_with("balances") && l.contains("DIFFERS")), "{out}");
    assert!(out.lines().any(|l| l.starts_with("usage") && l.contains("matches")), "{out}");
    assert!(out.contains("  account ") && out.contains("    stored:  balance=") && out.contains("    rebuilt: balance="), "{out}");
    let json = expect_exit(&["audit", "diff", "--db", s(&log), "--json"], 1);
    assert!(json.contains("\"status\":\"differs\",") && json.contains("\"key\":\"account "), "{json}");
    let out = expect_exit(&["audit", "rebuild", "--db", s(&log)], 1);
    assert!(out.contains("DIFFERS"), "{out}");
}

#[test]
fn audit_rebuild_says_so_when_no_live_projections_are_stored() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("t.scn");
    std::fs::write(&file, "account open acct-1 balance 10\n").unwrap();
    expect_exit(&["scenario", "run", s(&file), "--db", s(&tmp.path().join("s"))], 0);
    let out = expect_exit(&["audit", "rebuild", "--db", s(&tmp.path().join("s/1"))], 0);
    assert!(out.contains("none stored") && out.contains("nothing to compare"), "{out}");
}

#[test]
fn audit_as_of_shows_projections_at_a_position_and_a_time() {
    let tmp = tempfile::tempdir().unwrap();
    let log = demo(tmp.path());
    let out = expect_exit(&["audit", "as-of", "--db", s(&log), "--position", "0"], 0);
    assert!(out.starts_with("as of position 0 of") && out.contains("== balances =="), "{out}");
    let out = expect_exit(&["audit", "as-of", "--db", s(&log), "--position", "3", "--projection", "balances", "--json"], 0);
    assert!(out.starts_with("{\"position\":3,") && out.contains("\"balances\":{"), "{out}");
    assert!(!out.contains("\"usage\""), "{out}");
    let out = expect_exit(&["audit", "as-of", "--db", s(&log), "--time", "2026-01-01T00:00:00Z"], 0);
    assert!(out.contains("as of position"), "{out}");
    expect_one_line_error(&["audit", "as-of", "--db", s(&log), "--time", "yesterday"], "yesterday");
    expect_one_line_error(&["audit", "as-of", "--db", s(&log), "--position", "99999"], "99999");
}

#[test]
fn export_round_trips_through_verify_export_and_a_tampered_export_fails() {
    let tmp = tempfile::tempdir().unwrap();
    let log = demo(tmp.path());
    let file = tmp.path().join("range.export");
    let out = expect_exit(&["audit", "export", "--db", s(&log), "--from", "3", "--to", "20", "--out", s(&file)], 0);
    assert!(out.contains("exported positions 3..20 (18 records)"), "{out}");
    let out = expect_exit(&["audit", "verify-export", s(&file)], 0);
    assert!(out.contains("intact export: positions 3..20 (18 records)"), "{out}");
    // The range head hash in the export is the log's hash at position 20.
    let head_line = out.lines().find(|l| l.starts_with("range head:")).unwrap().to_string();
    let whole = tmp.path().join("whole.export");
    expect_exit(&["audit", "export", "--db", s(&log), "--to", "20", "--out", s(&whole)], 0);
    let whole_out = expect_exit(&["audit", "verify-export", s(&whole), "--json"], 0);
    assert!(head_line.contains(whole_out.split("\"range_head_hash\":\"").nth(1).unwrap().split('"').next().unwrap()));

    let mut bytes = std::fs::read(&file).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x01;
    let tampered = tmp.path().join("tampered.export");
    std::fs::write(&tampered, &bytes).unwrap();
    let out = expect_exit(&["audit", "verify-export", s(&tampered)], 1);
    assert!(out.contains("DAMAGED export") && out.contains("position"), "{out}");
    expect_one_line_error(&["audit", "export", "--db", s(&log), "--from", "9", "--to", "4", "--out", s(&file)], "--from 9");
    expect_one_line_error(&["audit", "export", "--db", s(&log), "--out", s(&file)], "give --force");
    expect_one_line_error(&["audit", "export", "--db", s(&log), "--out", s(&log.join("CURRENT")), "--force"], "inside the log directory");
    assert!(expect_exit(&["audit", "verify", "--db", s(&log)], 0).starts_with("intact"), "the refused exports left the log alone");
    expect_exit(&["audit", "export", "--db", s(&log), "--to", "20", "--out", s(&file), "--force"], 0);
}

#[test]
fn every_verb_has_help() {
    let verbs: &[&[&str]] = &[
        &[],
        &["demo"],
        &["verify"],
        &["scenario"],
        &["scenario", "run"],
        &["audit"],
        &["audit", "verify"],
        &["audit", "rebuild"],
        &["audit", "diff"],
        &["audit", "as-of"],
        &["audit", "export"],
        &["audit", "verify-export"],
        &["audit", "repair"],
        &["kiosk"],
        &["player"],
        &["player", "play"],
        &["player", "sync"],
        &["admin"],
        &["admin", "card", "issue"],
        &["admin", "content", "add"],
        &["init"],
        &["serve"],
        &["credentials"],
        &["credentials", "add"],
        &["credentials", "list"],
        &["credentials", "revoke"],
    ];
    for verb in verbs {
        let mut args = verb.to_vec();
        args.push("--help");
        let out = expect_exit(&args, 0);
        assert!(out.contains("Usage: encore"), "encore {args:?}:\n{out}");
    }
    assert!(expect_exit(&["--help"], 0).contains("Exit codes:"));
}

#[test]
fn bad_arguments_give_one_line_naming_the_bad_value() {
    let tmp = tempfile::tempdir().unwrap();
    expect_one_line_error(&["audit", "as-of", "--db", "x", "--position", "abc"], "abc");
    expect_one_line_error(&["audit", "frobnicate"], "frobnicate");
    expect_one_line_error(&["audit", "as-of", "--db", "x"], "--position");
    expect_one_line_error(&["audit", "as-of", "--db", "x", "--position", "1", "--projection", "weather"], "weather");
    expect_one_line_error(&["audit", "verify", "--db", s(&tmp.path().join("nowhere"))], "nowhere");
    expect_one_line_error(&["audit", "verify-export", s(&tmp.path().join("missing.export"))], "missing.export");
    expect_one_line_error(&["scenario", "run", s(&tmp.path().join("missing.scn"))], "missing.scn");
}

fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn init_makes_a_private_deployment_once_and_credentials_never_print_stored_secrets() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let out = expect_exit(&["init", "--data", s(&data)], 0);
    assert!(out.contains("deployment created"), "{out}");
    assert_eq!(mode(&data.join("keystore")), 0o600);
    assert_eq!(mode(&data.join("operator.token")), 0o600);
    assert_eq!(mode(&data.join("credentials")), 0o600);
    let keystore = std::fs::read(data.join("keystore")).unwrap();
    assert!(!out.as_bytes().windows(16).any(|w| keystore.windows(16).any(|k| k == w)), "init prints no secret");
    expect_one_line_error(&["init", "--data", s(&data)], "already a deployment");
    let foreign = tmp.path().join("foreign");
    std::fs::create_dir(&foreign).unwrap();
    std::fs::write(foreign.join("notes"), "x").unwrap();
    expect_one_line_error(&["init", "--data", s(&foreign)], "not empty");
    assert!(expect_exit(&["verify", "--data", s(&data)], 0).starts_with("intact: 0 records"));
    expect_one_line_error(&["verify", "--data", s(&data), "--db", s(&data)], "cannot be used with");

    let token_file = tmp.path().join("kiosk.token");
    let out = expect_exit(&["credentials", "add", "--data", s(&data), "--id", "kiosk-1", "--role", "kiosk", "--station", "k1", "--out", s(&token_file)], 0);
    assert!(out.contains("token written to"), "{out}");
    assert_eq!(mode(&token_file), 0o600);
    let token = std::fs::read_to_string(&token_file).unwrap();
    expect_one_line_error(&["credentials", "add", "--data", s(&data), "--id", "kiosk-2", "--role", "kiosk"], "--station");
    expect_one_line_error(&["credentials", "add", "--data", s(&data), "--id", "x", "--role", "king"], "king");
    let listed = expect_exit(&["credentials", "list", "--data", s(&data)], 0);
    assert!(listed.contains("kiosk-1") && listed.contains("operator"), "{listed}");
    assert!(!listed.contains(token.trim()) && !listed.contains(token.trim().rsplit('_').next().unwrap()), "list never shows a token");
    assert!(expect_exit(&["credentials", "revoke", "--data", s(&data), "--id", "kiosk-1"], 0).contains("revoked kiosk-1"));
    assert!(expect_exit(&["credentials", "list", "--data", s(&data)], 0).contains("revoked"));
    expect_one_line_error(&["credentials", "revoke", "--data", s(&data), "--id", "nobody"], "nobody");
}

#[test]
fn serve_refuses_plain_http_off_loopback_and_stops_cleanly_on_sigterm() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    expect_exit(&["init", "--data", s(&data)], 0);
    expect_one_line_error(&["serve", "--data", s(&data), "--listen", "0.0.0.0:0"], "refusing plain HTTP");
    expect_one_line_error(&["serve", "--data", s(&data), "--tls-cert", "cert.pem"], "--tls-key");
    expect_one_line_error(&["serve", "--data", s(&tmp.path().join("none"))], "not an Encore deployment");

    use std::io::BufRead;
    let mut child = Command::new(env!("CARGO_BIN_EXE_encore"))
        .args(["serve", "--data", s(&data), "--listen", "127.0.0.1:0"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    assert!(line.starts_with("listening on http://127.0.0.1:"), "{line}");
    let status = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(status.success());
    let exit = child.wait().unwrap();
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stdout, &mut rest).unwrap();
    assert_eq!(exit.code(), Some(0), "{rest}");
    assert!(rest.contains("stopped cleanly"), "{rest}");
    let wal: u64 = std::fs::read_dir(data.join("log"))
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| e.file_name().to_string_lossy().ends_with(".log"))
        .map(|e| e.metadata().unwrap().len())
        .sum();
    assert_eq!(wal, 0, "a clean stop leaves no WAL to replay");
}

#[test]
fn endless_or_huge_inputs_and_numbers_that_do_not_fit_are_refused_naming_them() {
    expect_one_line_error(&["scenario", "run", "/dev/zero"], "larger than");
    let never = ["--server", "http://127.0.0.1:9", "--token", "/nonexistent-never", "--kiosk", "k1", "--journal", "/nonexistent-never"];
    expect_one_line_error(&[&["kiosk", "--script", "/dev/zero"][..], &never[..]].concat(), "larger than");
    let tmp = tempfile::tempdir().unwrap();
    // Every other file a verb is handed is bounded too: an export, a certificate authority, TLS files.
    expect_one_line_error(&["audit", "verify-export", "/dev/zero"], "larger than");
    let token = tmp.path().join("op.token");
    std::fs::write(&token, "not-a-real-token\n").unwrap();
    std::fs::set_permissions(&token, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    expect_one_line_error(&["admin", "--server", "https://127.0.0.1:9", "--token", s(&token), "--ca", "/dev/zero", "load", "a1", "5"], "larger than");
    let data = tmp.path().join("deployment");
    assert_eq!(encore(&["init", "--data", s(&data)]).status.code(), Some(0));
    let serve = encore(&["serve", "--data", s(&data), "--listen", "127.0.0.1:0", "--tls-cert", "/dev/zero", "--tls-key", "/dev/zero"]);
    assert_ne!(serve.status.code(), Some(0));
    assert!(stderr(&serve).contains("larger than 1048576 bytes, the limit for a PEM file"), "{}", stderr(&serve));
    let script = tmp.path().join("big.scn");
    std::fs::write(&script, "content list song price 1 uses 1 valid 4294967297\n").unwrap();
    let out = encore(&["scenario", "run", s(&script)]);
    let all = format!("{}{}", stdout(&out), stderr(&out));
    assert_ne!(out.status.code(), Some(0), "{all}");
    assert!(all.contains("4294967297") && all.contains("too large"), "the value is named, not truncated to one day: {all}");
}

#[test]
fn audit_repair_lists_what_it_would_drop_changes_nothing_without_yes_and_repairs_with_it() {
    let tmp = tempfile::tempdir().unwrap();
    let log = demo(tmp.path());
    let head: u64 = expect_exit(&["verify", "--db", s(&log)], 0).split_whitespace().nth(1).unwrap().parse().unwrap();
    let damaged_at = head / 2;
    encore_ledger::testing::flip_byte(&log, damaged_at, 40).unwrap();
    let out = expect_exit(&["verify", "--db", s(&log)], 1);
    assert!(out.contains(&format!("position {damaged_at}")), "{out}");
    let plan = expect_exit(&["audit", "repair", "--db", s(&log)], 1);
    assert!(plan.contains(&format!("keep: positions 1-{}", damaged_at - 1)), "{plan}");
    assert!(plan.contains(&format!("lost: position {damaged_at} (unreadable)")), "{plan}");
    assert!(plan.contains(&format!("drop: position {head} ")), "the last record is listed with its stream and type: {plan}");
    assert!(plan.contains("nothing changed"), "{plan}");
    assert!(expect_exit(&["verify", "--db", s(&log)], 1).contains("DAMAGED"), "planning changed nothing");
    let done = expect_exit(&["audit", "repair", "--db", s(&log), "--yes"], 0);
    assert!(done.contains(&format!("now ends at position {}", damaged_at - 1)), "{done}");
    let verified = expect_exit(&["verify", "--db", s(&log)], 0);
    assert!(verified.starts_with(&format!("intact: {} records", damaged_at - 1)), "{verified}");
    assert!(log.with_file_name("log.damaged-1").join("CURRENT").exists(), "the damaged log is kept aside");
    assert!(expect_exit(&["audit", "repair", "--db", s(&log)], 0).contains("nothing to drop"));
}
