//! `encore audit repair --db DIR [--yes]`: the way out when a log is refused
//! on open (a damaged WAL or table file, records acknowledged but gone).
//! Without `--yes` it only reads: it lists the records that verify (kept)
//! and every position after them (dropped: readable ones with stream,
//! version and type; unreadable ones by position), and exits 1 if anything
//! would be dropped. With `--yes` it writes a new log of the kept records in
//! place and moves the damaged one aside (`DIR.damaged-N`), untouched.

use std::process::ExitCode;

use encore_ledger::{apply_repair, plan_repair, RepairPlan};

use super::LogDir;
use crate::cmd::hex;

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub log: LogDir,
    /// Carry out the repair (without it, only say what it would do).
    #[arg(long)]
    pub yes: bool,
}

pub fn run(args: Args) -> Result<ExitCode, String> {
    let path = args.log.path();
    if !path.exists() {
        return Err(format!("no log at {}: the directory does not exist", path.display()));
    }
    let plan = plan_repair(&path).map_err(|e| format!("cannot read {} for a repair: {e}", path.display()))?;
    print_plan(&plan);
    if !plan.drops_anything() {
        println!("nothing to drop: every record verifies{}", if args.yes { "; nothing changed" } else { "" });
        return Ok(ExitCode::SUCCESS);
    }
    if !args.yes {
        println!("nothing changed; run again with --yes to keep positions 1-{} and drop the rest", plan.keep.position);
        return Ok(ExitCode::from(1));
    }
    let aside = apply_repair(&plan).map_err(|e| format!("repair of {} failed: {e}", path.display()))?;
    println!("repaired: {} now ends at position {} hash {}", path.display(), plan.keep.position, hex(&plan.keep.hash));
    println!("the damaged log is kept, unchanged, in {}", aside.display());
    Ok(ExitCode::SUCCESS)
}

fn print_plan(plan: &RepairPlan) {
    println!("keep: positions 1-{} (the chain verifies up to hash {})", plan.keep.position, hex(&plan.keep.hash));
    if let Some(reason) = &plan.stopped_by {
        println!("stopped at: {reason}");
    }
    if let Some(acknowledged) = plan.acknowledged {
        println!("acknowledged through: position {acknowledged}");
    }
    for dropped in &plan.dropped {
        println!("drop: position {} {} v{} {} ({})", dropped.position, escape(&dropped.stream), dropped.version, escape(&dropped.event_type), dropped.reason);
    }
    for range in ranges(&plan.unreadable) {
        match range {
            (a, b) if a == b => println!("lost: position {a} (unreadable)"),
            (a, b) => println!("lost: positions {a}-{b} (unreadable)"),
        }
    }
}

/// Consecutive positions folded into ranges.
fn ranges(positions: &[u64]) -> Vec<(u64, u64)> {
    let mut out: Vec<(u64, u64)> = Vec::new();
    for &p in positions {
        match out.last_mut() {
            Some((_, end)) if *end + 1 == p => *end = p,
            _ => out.push((p, p)),
        }
    }
    out
}

/// Stream ids and types are printable ASCII by the ledger's rules, but a
/// damaged log is exactly where that may not hold.
fn escape(text: &str) -> String {
    text.chars().flat_map(char::escape_default).collect()
}
