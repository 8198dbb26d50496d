//! `audit as-of --position P | --time RFC3339 [--projection NAME]`: the
//! projections as they were right after a position, or at a moment (every
//! record recorded at or before it), replayed from zero.

use std::process::ExitCode;

use encore_ledger::Ledger;
use encore_projections::{Balances, CharismaRankings, Projected, UsageHistory};

use super::compare::fold_to;
use super::rows::Audited;
use super::AsOfArgs;
use crate::cmd::{json_str, verify::open_read_only};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Which {
    Balances,
    Usage,
    Charisma,
}

/// Parses an RFC 3339 time into µs since the epoch (clap reports the bad value).
pub fn parse_time(text: &str) -> Result<i64, String> {
    chrono::DateTime::parse_from_rfc3339(text).map(|t| t.timestamp_micros()).map_err(|e| format!("not an RFC 3339 time such as 2026-01-01T10:00:00Z ({e})"))
}

pub fn run(args: AsOfArgs) -> Result<ExitCode, String> {
    let log = open_read_only(&args.log.path())?;
    let head = log.head().position;
    let position = match (args.position, args.time) {
        (Some(p), _) if p > head => return Err(format!("--position {p} is past the head of the log ({head})")),
        (Some(p), _) => p,
        (None, Some(micros)) => log.position_at_time(micros).map_err(|e| e.to_string())?,
        (None, None) => return Err("give --position P or --time RFC3339".into()),
    };
    let which: Vec<Which> = match args.projection {
        Some(w) => vec![w],
        None => vec![Which::Balances, Which::Usage, Which::Charisma],
    };
    let mut parts = Vec::new();
    for w in which {
        parts.push(match w {
            Which::Balances => show::<Balances>(&log, position, args.json)?,
            Which::Usage => show::<UsageHistory>(&log, position, args.json)?,
            Which::Charisma => show::<CharismaRankings>(&log, position, args.json)?,
        });
    }
    let recorded = match position {
        0 => None,
        p => log.read_record(p).map_err(|e| e.to_string())?.map(|r| r.recorded_at),
    };
    let when = recorded.and_then(chrono::DateTime::from_timestamp_micros).map(|t| t.to_rfc3339()).unwrap_or_default();
    if args.json {
        println!("{{\"position\":{position},\"head\":{head},\"recorded_at\":{},\"projections\":{{{}}}}}", json_str(&when), parts.join(","));
    } else {
        let at = if when.is_empty() { String::from("the empty log") } else { format!("recorded at {when}") };
        println!("as of position {position} of {head} ({at})\n");
        print!("{}", parts.join(""));
    }
    Ok(ExitCode::SUCCESS)
}

fn show<P: Audited>(log: &Ledger, position: u64, json: bool) -> Result<String, String> {
    let mut projected = Projected::<P>::new();
    fold_to(log, &mut projected, position)?;
    if !json {
        return Ok(projected.state.table());
    }
    let rows: Vec<String> = projected.state.rows().iter().map(|(k, v)| format!("{}:{}", json_str(k), json_str(v))).collect();
    Ok(format!("{}:{{{}}}", json_str(P::NAME), rows.join(",")))
}
