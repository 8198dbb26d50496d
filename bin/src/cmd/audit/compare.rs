//! `audit rebuild` and `audit diff`: fold each projection from zero and
//! compare it with the live one a `ProjectionRunner` checkpointed in the
//! store (at the checkpoint's position, so a runner that lags the head is
//! compared fairly); `rebuild` also confirms every stored snapshot with
//! `encore_snapshots::audit`.

use std::path::Path;
use std::process::ExitCode;

use encore_ledger::Ledger;
use encore_projections::{checkpoint_key, Balances, CharismaRankings, Projected, UsageHistory};

use super::rows::{diff, Audited, RowDiff};
use crate::cmd::{json_str, progress, verify::open_read_only};

/// What comparing one projection found.
pub enum Status {
    /// No runner stored a checkpoint for it.
    NoneStored,
    /// A checkpoint is stored but cannot be used (the reason).
    Refused(String),
    Matches,
    Differs(Vec<RowDiff>),
}

pub struct Comparison {
    pub name: &'static str,
    /// Where the stored checkpoint is (0 if none).
    pub stored_at: u64,
    pub head: u64,
    pub status: Status,
}

impl Comparison {
    pub fn failed(&self) -> bool {
        matches!(self.status, Status::Refused(_) | Status::Differs(_))
    }

    fn status_word(&self) -> &'static str {
        match self.status {
            Status::NoneStored => "none-stored",
            Status::Refused(_) => "refused",
            Status::Matches => "matches",
            Status::Differs(_) => "differs",
        }
    }
}

/// The three projections compared, in a fixed order.
pub fn compare_all(log: &Ledger) -> Result<Vec<Comparison>, String> {
    Ok(vec![compare::<Balances>(log)?, compare::<UsageHistory>(log)?, compare::<CharismaRankings>(log)?])
}

fn compare<P: Audited>(log: &Ledger) -> Result<Comparison, String> {
    let head = log.head().position;
    let mut rebuilt = Projected::<P>::new();
    let done = |stored_at, status| Comparison { name: P::NAME, stored_at, head, status };
    let stored = match load_stored::<P>(log) {
        Err(reason) => {
            fold_to(log, &mut rebuilt, head)?;
            return Ok(done(0, Status::Refused(reason)));
        }
        Ok(None) => {
            fold_to(log, &mut rebuilt, head)?;
            return Ok(done(0, Status::NoneStored));
        }
        Ok(Some(stored)) => stored,
    };
    fold_to(log, &mut rebuilt, stored.position)?;
    let status = if rebuilt.encode() == stored.encode() {
        Status::Matches
    } else {
        let mut rows = diff(&stored.state.rows(), &rebuilt.state.rows());
        if rows.is_empty() {
            rows.push(RowDiff { key: "(state bytes)".into(), stored: Some("differ".into()), rebuilt: Some("differ".into()) });
        }
        Status::Differs(rows)
    };
    // The rebuild from zero always reaches the head.
    fold_to(log, &mut rebuilt, head)?;
    Ok(done(stored.position, status))
}

/// The checkpoint a `ProjectionRunner` stored (`blake3(bytes) || bytes`),
/// checked against itself and the log.
fn load_stored<P: Audited>(log: &Ledger) -> Result<Option<Projected<P>>, String> {
    let Some(bytes) = log.get_aux(&checkpoint_key(P::NAME)).map_err(|e| e.to_string())? else {
        return Ok(None);
    };
    if bytes.len() < 32 {
        return Err(format!("stored checkpoint is {} bytes, shorter than its hash", bytes.len()));
    }
    let (hash, body) = bytes.split_at(32);
    if blake3::hash(body).as_bytes() != hash {
        return Err("stored checkpoint does not match its hash".into());
    }
    let stored = Projected::<P>::decode(body).map_err(|e| e.to_string())?;
    if stored.position > log.head().position {
        return Err(format!("stored checkpoint at position {} is past the head {}", stored.position, log.head().position));
    }
    if stored.position > 0 {
        let record = log.read_record(stored.position).map_err(|e| e.to_string())?;
        if record.map(|r| r.hash) != Some(stored.last_hash) {
            return Err(format!("stored checkpoint's chain hash at position {} differs from the log's", stored.position));
        }
    }
    Ok(Some(stored))
}

/// Folds records after `projected.position` up to `to`, with a progress bar.
pub fn fold_to<P: Audited>(log: &Ledger, projected: &mut Projected<P>, to: u64) -> Result<(), String> {
    if to <= projected.position {
        return Ok(());
    }
    let bar = progress(to - projected.position, P::NAME);
    for record in log.scan(projected.position + 1) {
        let record = record.map_err(|e| e.to_string())?;
        projected.apply_record(&record).map_err(|e| format!("{}: {e}", P::NAME))?;
        bar.inc(1);
        if record.position >= to {
            break;
        }
    }
    bar.finish_and_clear();
    if projected.position != to {
        return Err(format!("{}: the log ended at position {} before {to}", P::NAME, projected.position));
    }
    Ok(())
}

/// `encore audit rebuild`.
pub fn rebuild(db: &Path, json: bool) -> Result<ExitCode, String> {
    let log = open_read_only(db)?;
    let comparisons = compare_all(&log)?;
    let snapshots = encore_snapshots::audit(&log).map_err(|e| format!("snapshot audit: {e}"))?;
    let mismatches: Vec<String> =
        snapshots.mismatches.iter().map(|m| format!("{} version {} at position {}: {:?}", m.subject, m.version, m.position, m.kind)).collect();
    if json {
        let items: Vec<String> = comparisons
            .iter()
            .map(|c| {
                let (differences, reason) = match &c.status {
                    Status::Differs(rows) => (rows.len(), String::new()),
                    Status::Refused(r) => (0, r.clone()),
                    _ => (0, String::new()),
                };
                format!(
                    "{{\"name\":{},\"status\":{},\"stored_position\":{},\"head\":{},\"differences\":{differences},\"reason\":{}}}",
                    json_str(c.name),
                    json_str(c.status_word()),
                    c.stored_at,
                    c.head,
                    json_str(&reason)
                )
            })
            .collect();
        let list: Vec<String> = mismatches.iter().map(|m| json_str(m)).collect();
        println!(
            "{{\"head\":{},\"projections\":[{}],\"snapshots\":{{\"confirmed\":{},\"mismatches\":[{}]}}}}",
            log.head().position,
            items.join(","),
            snapshots.confirmed,
            list.join(",")
        );
    } else {
        println!("rebuilt balances, usage and charisma from zero to head {}", log.head().position);
        for c in &comparisons {
            println!("{}", human_line(c));
        }
        if comparisons.iter().all(|c| matches!(c.status, Status::NoneStored)) {
            println!("no live projections are stored in {}: nothing to compare the rebuild with", db.display());
        }
        println!("snapshots: {} confirmed by replay, {} mismatches", snapshots.confirmed, mismatches.len());
        for m in &mismatches {
            println!("  MISMATCH {m}");
        }
    }
    let failed = comparisons.iter().any(Comparison::failed) || !mismatches.is_empty();
    Ok(if failed { ExitCode::from(1) } else { ExitCode::SUCCESS })
}

fn human_line(c: &Comparison) -> String {
    let at = |c: &Comparison| match c.head - c.stored_at {
        0 => format!("stored at {} (the head)", c.stored_at),
        behind => format!("stored at {} ({behind} behind the head)", c.stored_at),
    };
    match &c.status {
        Status::NoneStored => format!("{:<9} none stored", c.name),
        Status::Refused(reason) => format!("{:<9} stored checkpoint REFUSED: {reason}", c.name),
        Status::Matches => format!("{:<9} {}: matches the rebuild", c.name, at(c)),
        Status::Differs(rows) => format!("{:<9} {}: DIFFERS in {} rows (see `encore audit diff`)", c.name, at(c), rows.len()),
    }
}

/// `encore audit diff`.
pub fn show_diff(db: &Path, json: bool) -> Result<ExitCode, String> {
    let log = open_read_only(db)?;
    let comparisons = compare_all(&log)?;
    if json {
        let items: Vec<String> = comparisons
            .iter()
            .map(|c| {
                let rows: Vec<String> = match &c.status {
                    Status::Differs(rows) => rows
                        .iter()
                        .map(|d| {
                            format!(
                                "{{\"key\":{},\"stored\":{},\"rebuilt\":{}}}",
                                json_str(&d.key),
                                d.stored.as_deref().map(json_str).unwrap_or_else(|| "null".into()),
                                d.rebuilt.as_deref().map(json_str).unwrap_or_else(|| "null".into())
                            )
                        })
                        .collect(),
                    _ => Vec::new(),
                };
                format!(
                    "{{\"name\":{},\"status\":{},\"stored_position\":{},\"differences\":[{}]}}",
                    json_str(c.name),
                    json_str(c.status_word()),
                    c.stored_at,
                    rows.join(",")
                )
            })
            .collect();
        println!("{{\"projections\":[{}]}}", items.join(","));
    } else {
        for c in &comparisons {
            println!("{}", human_line(c));
            if let Status::Differs(rows) = &c.status {
                for d in rows {
                    let side = |v: &Option<String>| v.clone().unwrap_or_else(|| "(absent)".into());
                    println!("  {}\n    stored:  {}\n    rebuilt: {}", d.key, side(&d.stored), side(&d.rebuilt));
                }
            }
        }
    }
    Ok(if comparisons.iter().any(Comparison::failed) { ExitCode::from(1) } else { ExitCode::SUCCESS })
}
