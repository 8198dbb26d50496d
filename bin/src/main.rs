//! The `encore` command: the operator's and the kiosk's entry point.
//!
//! Each verb lives in its own module under `cmd/`; this file only parses the
//! command line, runs the verb and turns its outcome into an exit code.
//! Errors are printed as one readable line, never a panic or a backtrace.

mod cmd;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "encore", version, about = "Encore: an event-sourced ledger and actor runtime for content licensing")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Append a sample log to an embedded store, read it back and verify it.
    Demo(cmd::demo::Args),
    /// Verify a log's hash chain and indexes; exit 1 and name the first bad position on damage.
    Verify(cmd::verify::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let outcome = match cli.command {
        Command::Demo(args) => cmd::demo::run(args),
        Command::Verify(args) => cmd::verify::run(args),
    };
    match outcome {
        Ok(code) => code,
        Err(message) => {
            eprintln!("encore: {message}");
            ExitCode::from(2)
        }
    }
}
