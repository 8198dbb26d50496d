//! `encore scenario run FILE... [--db DIR] [--transcript]`: runs scenario
//! scripts (docs/SCENARIOS.md), each on a fresh store (a temporary directory, removed afterwards,
//! or `DIR/<n>` for the n-th file when `--db` is given, kept for auditing).
//! Prints `ok FILE (N steps)` per script; a failure prints the runner's
//! `FILE:LINE: expected ..., got ...`. Exit 0 only if every script passed, 1
//! if an expectation failed, 2 if a script could not be read or run.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use encore_replay_tests::{run_script_in, ParseError, RunError, Script, Transcript};

#[derive(clap::Subcommand)]
pub enum Command {
    /// Run scripts, each on a fresh store; exit 0 only if every expectation holds.
    Run(RunArgs),
}

#[derive(clap::Args)]
pub struct RunArgs {
    /// Scenario scripts to run, in order.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Keep each script's store in DIR/<n> (1-based) instead of a temporary directory.
    #[arg(long, value_name = "DIR")]
    pub db: Option<PathBuf>,
    /// Print each script's transcript: commands, events and final projections.
    #[arg(long)]
    pub transcript: bool,
}

pub fn run(command: Command) -> Result<ExitCode, String> {
    let Command::Run(args) = command;
    let mut worst = 0u8;
    for (index, file) in args.files.iter().enumerate() {
        let code = match run_one(&args, index + 1, file) {
            Ok((steps, transcript)) => {
                if args.transcript {
                    println!("{}", transcript.text);
                }
                println!("ok {} ({steps} steps)", file.display());
                0
            }
            Err((code, message)) => {
                eprintln!("{}", super::one_line(&message));
                println!("FAILED {}", file.display());
                code
            }
        };
        worst = worst.max(code);
    }
    Ok(ExitCode::from(worst))
}

/// Runs one script; on failure, the exit code it deserves and the message.
fn run_one(args: &RunArgs, n: usize, file: &Path) -> Result<(usize, Transcript), (u8, String)> {
    let script = Script::load(file).map_err(|e| (code_of_parse(&e), e.to_string()))?;
    let result = match &args.db {
        None => {
            // Removed when dropped, unlike the runner's own temporary stores.
            let dir = tempfile::tempdir().map_err(|e| (2, format!("cannot create a temporary store: {e}")))?;
            run_script_in(&script, &dir.path().join("log"))
        }
        Some(dir) => {
            let store = dir.join(n.to_string());
            std::fs::create_dir_all(dir).map_err(|e| (2, format!("cannot create {}: {e}", dir.display())))?;
            run_script_in(&script, &store)
        }
    };
    match result {
        Ok(transcript) => Ok((script.steps.len(), transcript)),
        Err(e) => Err((code_of_run(&e), e.to_string())),
    }
}

fn code_of_parse(error: &ParseError) -> u8 {
    match error {
        ParseError::Unreadable { .. } => 2,
        _ => 1,
    }
}

fn code_of_run(error: &RunError) -> u8 {
    match error {
        RunError::Parse(p) => code_of_parse(p),
        RunError::Store { .. } => 2,
        _ => 1,
    }
}
