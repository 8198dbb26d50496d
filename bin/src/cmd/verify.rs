//! `encore verify --db DIR` (and `encore audit verify`): recompute the chain
//! and the indexes. Exit 0 on an intact log (printing the record count and
//! head hash), 1 on damage (naming the first bad position), 2 when the log
//! cannot be read.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use encore_ledger::{Ledger, LedgerOptions};

use super::{hex, json_str};

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub log: LogDir,
    /// Print one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
}

/// Which log a reading verb reads: a log directory, or a deployment's.
#[derive(clap::Args, Debug, Clone)]
#[group(required = true, multiple = false)]
pub struct LogDir {
    /// The log directory.
    #[arg(long, value_name = "DIR")]
    pub db: Option<PathBuf>,
    /// A deployment directory (`encore init`): its log is DIR/log.
    #[arg(long, value_name = "DIR")]
    pub data: Option<PathBuf>,
}

impl LogDir {
    pub fn path(&self) -> PathBuf {
        match (&self.db, &self.data) {
            (Some(db), _) => db.clone(),
            (None, Some(data)) => data.join("log"),
            // clap's group makes one of the two required.
            (None, None) => PathBuf::from("log"),
        }
    }
}

pub fn run(args: Args) -> Result<ExitCode, String> {
    verify_db(&args.log.path(), args.json)
}

/// Opens `db` read-only (audits must work on a damaged log) and verifies it.
pub fn verify_db(db: &Path, json: bool) -> Result<ExitCode, String> {
    let log = open_read_only(db)?;
    let spinner = super::spinner("verifying the chain and indexes");
    let report = log.verify().map_err(|e| format!("cannot verify {}: {e}", db.display()))?;
    spinner.finish_and_clear();
    let problems: Vec<String> = report.problems.iter().map(ToString::to_string).collect();
    if json {
        let list: Vec<String> = problems.iter().map(|p| json_str(p)).collect();
        println!(
            "{{\"intact\":{},\"records\":{},\"head_position\":{},\"head_hash\":{},\"problems\":[{}]}}",
            problems.is_empty(),
            report.records,
            report.head.position,
            json_str(&hex(&report.head.hash)),
            list.join(",")
        );
    } else if problems.is_empty() {
        println!("intact: {} records, head {} hash {}", report.records, report.head.position, hex(&report.head.hash));
    } else {
        println!("DAMAGED: first bad {}", problems[0]);
        for other in problems.iter().skip(1).take(9) {
            println!("  also {other}");
        }
    }
    Ok(if problems.is_empty() { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

/// Opens an existing log for reading; a missing directory is refused
/// (opening would otherwise create an empty log).
pub fn open_read_only(db: &Path) -> Result<Ledger, String> {
    if !db.exists() {
        return Err(format!("no log at {}: the directory does not exist", db.display()));
    }
    Ledger::open(db, LedgerOptions::read_only()).map_err(|e| format!("cannot open log {}: {e}", db.display()))
}
