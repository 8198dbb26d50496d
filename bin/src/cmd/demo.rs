//! `encore demo [--db DIR]`: runs the built-in story (`src/demo.scn`, a
//! scenario script) on the embedded store at `DIR/log`, stores the live
//! projections' checkpoints and snapshots beside it (so `encore audit rebuild`
//! has something to compare), then prints the balances, usage history and
//! charisma ranking and a verify line.
//!
//! `DIR/DEMO` marks a directory as the demo's: a second run replaces a
//! previous demo; a directory holding anything else is refused.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use encore_ledger::{Ledger, LedgerOptions};
use encore_projections::{Balances, CharismaRankings, Projection, ProjectionRunner, RunnerOptions, UsageHistory};
use encore_replay_tests::{run_script_in, Script};
use encore_snapshots::{snapshot_projection, snapshot_streams, SnapshotPolicy};

/// The story, as a scenario script.
pub const STORY: &str = include_str!("../demo.scn");
/// The marker file naming a directory as the demo's.
pub const MARKER: &str = "DEMO";

#[derive(clap::Args)]
pub struct Args {
    /// The demo directory: the log goes in DIR/log. Created if missing; a
    /// previous demo there is replaced; anything else is refused.
    #[arg(long)]
    pub db: Option<PathBuf>,
    /// The same story across real processes over HTTP: a server, kiosks, a
    /// player, PCs and PDs (default directory: encore-network).
    #[arg(long)]
    pub network: bool,
}

pub fn run(args: Args) -> Result<ExitCode, String> {
    if args.network {
        return super::demo_network::run(&args.db.unwrap_or_else(|| PathBuf::from("encore-network")));
    }
    let db = args.db.unwrap_or_else(|| PathBuf::from(super::DEFAULT_DB));
    prepare(&db)?;
    let log_dir = db.join("log");
    let script = Script::parse(Path::new("demo.scn"), STORY).map_err(|e| e.to_string())?;
    println!("demo: running the built-in story ({} steps) on {}", script.steps.len(), log_dir.display());
    let transcript = run_script_in(&script, &log_dir).map_err(|e| format!("the demo story failed: {e}"))?;
    let tables = transcript.text.find("== balances ==").map(|at| &transcript.text[at..]).unwrap_or("");
    print!("\n{}", realign(tables));
    let log = Ledger::open(&log_dir, LedgerOptions::default()).map_err(|e| format!("cannot reopen {}: {e}", log_dir.display()))?;
    store_derived(&log)?;
    verify_line(&log)
}

/// The demo's last line: the log verified (exit 0), or its first problem (exit 1).
pub fn verify_line(log: &Ledger) -> Result<ExitCode, String> {
    let report = log.verify().map_err(|e| e.to_string())?;
    match report.first_problem() {
        None => {
            println!("\nverified: {} records, head {} hash {}", report.records, report.head.position, super::hex(&report.head.hash));
            Ok(ExitCode::SUCCESS)
        }
        Some(problem) => {
            println!("\nverification FAILED: {problem}");
            Ok(ExitCode::from(1))
        }
    }
}

/// Re-pads table columns after readable names replaced the (longer) real
/// ids: each run of two or more lines with the same number of words becomes
/// one table; numeric columns are right-aligned. Titles (`==`), indented
/// lines and lines with a `:` are kept as they are.
fn realign(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let fields = |l: &str| match l.starts_with("==") || l.starts_with(' ') || l.contains(':') {
        true => 0,
        false => l.split_whitespace().count(),
    };
    let mut out = String::new();
    let mut start = 0;
    while start < lines.len() {
        let n = fields(lines[start]);
        let end = (start..lines.len()).find(|&i| fields(lines[i]) != n).unwrap_or(lines.len());
        if n < 2 || end - start < 2 {
            lines[start..end].iter().for_each(|l| out.push_str(&format!("{l}\n")));
        } else {
            out.push_str(&table(&lines[start..end]));
        }
        start = end;
    }
    out
}

fn table(lines: &[&str]) -> String {
    let indent: String = lines[0].chars().take_while(|c| c.is_whitespace()).collect();
    let rows: Vec<Vec<&str>> = lines.iter().map(|l| l.split_whitespace().collect()).collect();
    let columns = rows[0].len();
    let width = |c: usize| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0);
    let numeric = |c: usize| rows[1..].iter().all(|r| r[c].parse::<i64>().is_ok());
    let mut out = String::new();
    for row in &rows {
        let cells: Vec<String> =
            (0..columns).map(|c| if numeric(c) { format!("{:>w$}", row[c], w = width(c)) } else { format!("{:<w$}", row[c], w = width(c)) }).collect();
        out.push_str(&format!("{indent}{}\n", cells.join("  ").trim_end()));
    }
    out
}

/// Makes `dir` ready for a new demo: creates it, or clears a previous demo;
/// refuses a directory that holds anything else.
fn prepare(dir: &Path) -> Result<(), String> {
    if dir.exists() {
        if !dir.is_dir() {
            return Err(format!("--db {}: not a directory", dir.display()));
        }
        let mut entries = std::fs::read_dir(dir).map_err(|e| format!("--db {}: {e}", dir.display()))?;
        let empty = entries.next().is_none();
        if !empty {
            if !dir.join(MARKER).is_file() {
                return Err(format!(
                    "--db {} holds something that is not an encore demo (no {MARKER} marker); choose another directory or empty it",
                    dir.display()
                ));
            }
            println!("demo: replacing the previous demo in {}", dir.display());
            let log = dir.join("log");
            if log.exists() {
                std::fs::remove_dir_all(&log).map_err(|e| format!("cannot remove {}: {e}", log.display()))?;
            }
        }
    }
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    std::fs::write(dir.join(MARKER), "This directory holds the log of `encore demo`; the next demo run replaces it.\n")
        .map_err(|e| format!("cannot write {}: {e}", dir.join(MARKER).display()))
}

/// Runs the three live projections to the head and checkpoints them, then
/// snapshots the actor streams and the projections, as a deployment would.
fn store_derived(log: &Ledger) -> Result<(), String> {
    checkpoint::<Balances>(log)?;
    checkpoint::<UsageHistory>(log)?;
    checkpoint::<CharismaRankings>(log)?;
    snapshot_streams(log, SnapshotPolicy { every: 2 }).map_err(|e| e.to_string())?;
    let balances = encore_projections::rebuild::<Balances>(log).map_err(|e| e.to_string())?;
    snapshot_projection(log, &balances).map_err(|e| e.to_string())?;
    let usage = encore_projections::rebuild::<UsageHistory>(log).map_err(|e| e.to_string())?;
    snapshot_projection(log, &usage).map_err(|e| e.to_string())?;
    let charisma = encore_projections::rebuild::<CharismaRankings>(log).map_err(|e| e.to_string())?;
    snapshot_projection(log, &charisma).map_err(|e| e.to_string())
}

fn checkpoint<P: Projection>(log: &Ledger) -> Result<(), String> {
    let options = RunnerOptions { idle: Duration::from_millis(10), ..RunnerOptions::default() };
    let mut runner = ProjectionRunner::<P>::open(log, options).map_err(|e| format!("projection {}: {e}", P::NAME))?;
    runner.catch_up().map_err(|e| format!("projection {}: {e}", P::NAME))?;
    runner.checkpoint().map_err(|e| format!("projection {}: {e}", P::NAME))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn realign_pads_columns_and_right_aligns_numbers_but_keeps_titles_and_single_lines() {
        let text = "== t ==\nname balance\nalice 700\nbo 50\nlist: [a, b]\n  @1 x y\n  @2 xx y\n";
        let want = "== t ==\nname   balance\nalice      700\nbo          50\nlist: [a, b]\n  @1 x y\n  @2 xx y\n";
        assert_eq!(realign(text), want);
    }
}
