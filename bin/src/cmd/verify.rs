//! `encore verify --db DIR`: recompute the chain and the indexes.
//! Exit 0 on an intact log (printing the record count and head hash), 1 on
//! damage (naming the first bad position), 2 when the log cannot be read.

use std::path::PathBuf;
use std::process::ExitCode;

use encore_ledger::{Ledger, LedgerOptions};

#[derive(clap::Args)]
pub struct Args {
    /// The log directory.
    #[arg(long)]
    pub db: PathBuf,
}

pub fn run(args: Args) -> Result<ExitCode, String> {
    let log = Ledger::open(&args.db, LedgerOptions::read_only()).map_err(|e| e.to_string())?;
    let report = log.verify().map_err(|e| e.to_string())?;
    match report.first_problem() {
        None => {
            println!("intact: {} records, head {} hash {}", report.records, report.head.position, super::hex(&report.head.hash));
            Ok(ExitCode::SUCCESS)
        }
        Some(problem) => {
            println!("DAMAGED: first bad {problem}");
            for other in report.problems.iter().skip(1).take(9) {
                println!("  also {other}");
            }
            Ok(ExitCode::from(1))
        }
    }
}
