//! `encore audit ...`: an operator's checks on a log, read-only (but for
//! `repair`, which changes nothing without `--yes`). Human tables
//! by default, `--json` for machines; progress bars on stderr for long runs.
//!
//! | module | verb |
//! |---|---|
//! | `crate::cmd::verify` | `verify`: chain and indexes |
//! | `compare` | `rebuild` (from zero, against the stored live projections and snapshots) and `diff` |
//! | `as_of` | `as-of`: projections at a position or time |
//! | `export` | `export` a range with its chain hashes, `verify-export` it anywhere |
//! | `repair` | `repair`: the way out when a damaged log is refused on open |
//! | `rows` | projections as rows, for diffs and JSON |

mod as_of;
mod compare;
mod export;
mod repair;
mod rows;

use std::path::PathBuf;

use crate::cmd::verify::LogDir;
use std::process::ExitCode;

#[derive(clap::Subcommand)]
pub enum Command {
    /// Recompute the hash chain and the indexes; exit 1 naming the first bad position.
    Verify(DbArgs),
    /// Rebuild every projection from zero, compare with the stored live ones, and confirm every snapshot.
    Rebuild(DbArgs),
    /// Show what differs between rebuilt and stored projections, per account, content and group.
    Diff(DbArgs),
    /// Show the projections as of a position or a time.
    AsOf(AsOfArgs),
    /// Export a range of the log with the chain hash before it and its head hash.
    Export(ExportArgs),
    /// Check an exported file on its own (no store needed): its chain and its head hash.
    VerifyExport(VerifyExportArgs),
    /// A log that no longer opens: list what a repair would drop; with --yes, keep the verified records and move the damaged log aside.
    Repair(repair::Args),
}

#[derive(clap::Args)]
pub struct DbArgs {
    #[command(flatten)]
    pub log: LogDir,
    /// Print JSON instead of tables.
    #[arg(long)]
    pub json: bool,
}

#[derive(clap::Args)]
#[command(group(clap::ArgGroup::new("moment").required(true).args(["position", "time"])))]
pub struct AsOfArgs {
    #[command(flatten)]
    pub log: LogDir,
    /// Right after the record at this global position (0 = the empty log).
    #[arg(long, value_name = "P")]
    pub position: Option<u64>,
    /// At this moment (RFC 3339, e.g. 2026-01-01T10:00:00Z): every record recorded at or before it.
    #[arg(long, value_name = "RFC3339", value_parser = as_of::parse_time)]
    pub time: Option<i64>,
    /// Only this projection (default: all three).
    #[arg(long, value_enum)]
    pub projection: Option<as_of::Which>,
    /// Print JSON instead of tables.
    #[arg(long)]
    pub json: bool,
}

#[derive(clap::Args)]
pub struct ExportArgs {
    #[command(flatten)]
    pub log: LogDir,
    /// The first position to export (default 1).
    #[arg(long, value_name = "A", default_value_t = 1)]
    pub from: u64,
    /// The last position to export (default: the head).
    #[arg(long, value_name = "B")]
    pub to: Option<u64>,
    /// The file to write (refused inside the log directory; an existing file only with --force).
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    /// Replace an existing --out file.
    #[arg(long)]
    pub force: bool,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(clap::Args)]
pub struct VerifyExportArgs {
    /// The exported file.
    pub file: PathBuf,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

pub fn run(command: Command) -> Result<ExitCode, String> {
    match command {
        Command::Verify(a) => crate::cmd::verify::verify_db(&a.log.path(), a.json),
        Command::Rebuild(a) => compare::rebuild(&a.log.path(), a.json),
        Command::Diff(a) => compare::show_diff(&a.log.path(), a.json),
        Command::Repair(a) => repair::run(a),
        Command::AsOf(a) => as_of::run(a),
        Command::Export(a) => export::export(a),
        Command::VerifyExport(a) => export::verify_export(a),
    }
}
