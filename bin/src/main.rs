//! The `encore` command: the operator's and the kiosk's entry point.
//!
//! Each verb lives in its own module under `cmd/`; this file only parses the
//! command line, runs the verb and turns its outcome into an exit code.
//! Errors are printed as one readable line, never a panic or a backtrace.

mod cmd;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

const EXIT_CODES: &str = "\
Exit codes:
  0  success: the log is intact, every expectation held, projections match
  1  a check failed: damage in the log or an export, a failed scenario
     expectation, projections or snapshots that disagree with a replay,
     a kiosk script line that failed
  2  the command could not run: bad argument, unreadable file, a store that
     cannot be opened (the message names the bad value)";

#[derive(Parser)]
#[command(name = "encore", version, about = "Encore: an event-sourced ledger and actor runtime for content licensing", after_help = EXIT_CODES)]
struct Cli {
    /// What to log on stderr: error, warn (default), info, debug, trace, or
    /// a RUST_LOG-style filter; RUST_LOG, when set, wins.
    #[arg(long, global = true, value_name = "LEVEL", default_value = "warn")]
    log: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the built-in story on an embedded store and print balances, usage history and charisma ranking.
    Demo(cmd::demo::Args),
    /// Run scenario scripts, each on a fresh store; exit 0 only if every expectation holds.
    #[command(subcommand)]
    Scenario(cmd::scenario::Command),
    /// Audit a log: verify, rebuild, diff, as-of, export, verify-export.
    #[command(subcommand)]
    Audit(cmd::audit::Command),
    /// A license vending machine: a customer session against the servers, with a journal of its sales.
    Kiosk(cmd::kiosk::Args),
    /// A player: plays from a carried card (also offline), reports plays when it connects.
    Player(cmd::player::Args),
    /// Operator work over the API: accounts, money, cards, the catalogue, charisma policy and rewards.
    Admin(cmd::admin::Args),
    /// A PC or PD: registration, certificates, playing, radio sharing, favorites, reputation sync.
    Device(cmd::device::Args),
    /// Verify a log's hash chain and indexes; exit 1 and name the first bad position on damage.
    Verify(cmd::verify::Args),
    /// Create a deployment: its log, a keystore of fresh master secrets, the first operator credential.
    Init(cmd::init::Args),
    /// Run a deployment's servers over HTTP (TLS with --tls-cert/--tls-key) until SIGTERM or SIGINT.
    Serve(cmd::serve::Args),
    /// Add, list or revoke a deployment's credentials (bearer tokens with a role).
    #[command(subcommand)]
    Credentials(cmd::credentials::Command),
}

/// Warnings (a poisoned log, a skipped snapshot, a recovery note) reach the
/// operator on stderr, one line each.
fn install_log(level: &str) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().or_else(|_| EnvFilter::try_new(level)).unwrap_or_else(|_| EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_target(false).try_init();
}

/// mimalloc instead of the system allocator: the actor runtime allocates a
/// great deal per command (messages, events, encodings); malloc and free
/// were about a fifth of the arbiter's samples (docs/BENCHMARKS.md, Session 9).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => return cmd::usage_error(error),
    };
    install_log(&cli.log);
    let outcome = match cli.command {
        Command::Demo(args) => cmd::demo::run(args),
        Command::Scenario(command) => cmd::scenario::run(command),
        Command::Audit(command) => cmd::audit::run(command),
        Command::Kiosk(args) => cmd::kiosk::run(args),
        Command::Player(args) => cmd::player::run(args),
        Command::Admin(args) => cmd::admin::run(args),
        Command::Device(args) => cmd::device::run(args),
        Command::Verify(args) => cmd::verify::run(args),
        Command::Init(args) => cmd::init::run(args),
        Command::Serve(args) => cmd::serve::run(args),
        Command::Credentials(command) => cmd::credentials::run(command),
    };
    match outcome {
        Ok(code) => code,
        Err(message) => {
            eprintln!("encore: {}", cmd::one_line(&message));
            ExitCode::from(2)
        }
    }
}
