//! Turning pgbench's per-transaction logs (`pgbench -l --log-prefix P`) into
//! a result row, so PostgreSQL is measured the same way as the in-process
//! systems: operations, wall time from the first start to the last end, and
//! p50/p99 of per-transaction latency.
//!
//! A log line is `client_id transaction_no time script_no time_epoch time_us
//! [schedule_lag]` with `time` the transaction's latency in µs and
//! `time_epoch`.`time_us` its end. With `-j N` pgbench writes one file per
//! thread: `P.PID` and `P.PID.1`...

use std::path::Path;

use crate::error::BenchError;
use crate::stats::p50_p99_us;
use crate::workload::Row;

/// One transaction: its latency and its start and end (µs since the epoch).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transaction {
    pub latency_us: u64,
    pub end_us: u64,
}

/// Parses one log line.
pub fn parse_line(line: &str) -> Result<Transaction, String> {
    let fields: Vec<&str> = line.split_whitespace().collect();
    if fields.len() < 6 {
        return Err(format!("{} fields, expected at least 6", fields.len()));
    }
    let number = |i: usize| fields[i].parse::<u64>().map_err(|e| format!("field {} ({:?}): {e}", i + 1, fields[i]));
    let (latency_us, epoch, micros) = (number(2)?, number(4)?, number(5)?);
    Ok(Transaction { latency_us, end_us: epoch * 1_000_000 + micros })
}

/// Every transaction in the log files whose names start with `prefix`'s.
pub fn read_logs(prefix: &Path) -> Result<Vec<Transaction>, BenchError> {
    let dir = prefix.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let stem = prefix.file_name().and_then(|n| n.to_str()).ok_or_else(|| BenchError::io(prefix.display(), "not a file prefix"))?;
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .map_err(|e| BenchError::io(dir.display(), e))?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.file_name().and_then(|n| n.to_str()).is_some_and(|n| is_log_of(stem, n)))
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(BenchError::io(prefix.display(), "no pgbench log files with this prefix"));
    }
    let mut transactions = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).map_err(|e| BenchError::io(file.display(), e))?;
        for (i, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
            let tx = parse_line(line).map_err(|cause| BenchError::Parse { path: file.display().to_string(), line: i + 1, text: line.into(), cause })?;
            transactions.push(tx);
        }
    }
    Ok(transactions)
}

/// pgbench's names for `--log-prefix STEM`: `STEM.PID` and `STEM.PID.THREAD`.
fn is_log_of(stem: &str, name: &str) -> bool {
    name.strip_prefix(stem)
        .and_then(|rest| rest.strip_prefix('.'))
        .is_some_and(|rest| !rest.is_empty() && rest.split('.').all(|part| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit())))
}

/// The row for a pgbench measurement.
pub fn row(workload: &str, writers: usize, events_per_op: u64, syncs: Option<u64>, transactions: &[Transaction]) -> Row {
    let first_start = transactions.iter().map(|t| t.end_us.saturating_sub(t.latency_us)).min().unwrap_or(0);
    let last_end = transactions.iter().map(|t| t.end_us).max().unwrap_or(0);
    let ops = transactions.len() as u64;
    let events = ops * events_per_op;
    let (p50_us, p99_us) = p50_p99_us(transactions.iter().map(|t| t.latency_us * 1000).collect());
    Row {
        system: "PostgreSQL".into(),
        workload: workload.into(),
        writers,
        ops,
        events,
        seconds: last_end.saturating_sub(first_start) as f64 / 1e6,
        p50_us,
        p99_us,
        events_per_sync: syncs.filter(|&s| s > 0).map(|s| events as f64 / s as f64),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_lines_parse_or_are_refused() {
        let cases = [
            ("0 199 2241 0 1175850568 995598", Ok(Transaction { latency_us: 2241, end_us: 1_175_850_568_995_598 })),
            ("3 0 18 0 1700000000 5 0", Ok(Transaction { latency_us: 18, end_us: 1_700_000_000_000_005 })),
            ("0 1 failed 0 1700000000 5", Err("field 3 (\"failed\"): invalid digit found in string".to_string())),
            ("0 1 2", Err("3 fields, expected at least 6".to_string())),
        ];
        for (line, want) in cases {
            assert_eq!(parse_line(line), want, "{line}");
        }
    }

    #[test]
    fn log_files_are_told_from_other_files() {
        let cases = [("a-1.123", true), ("a-1.123.1", true), ("a-1.out", false), ("a-16.123", false), ("a-1.", false), ("a-1.12.", false)];
        for (name, want) in cases {
            assert_eq!(is_log_of("a-1", name), want, "{name}");
        }
    }

    #[test]
    fn row_spans_first_start_to_last_end() {
        let txs = [Transaction { latency_us: 100, end_us: 1_000_100 }, Transaction { latency_us: 300, end_us: 2_000_000 }];
        let row = row("append-10", 8, 10, Some(4), &txs);
        assert_eq!((row.ops, row.events, row.seconds, row.p50_us, row.p99_us), (2, 20, 1.0, 100.0, 300.0));
        assert_eq!(row.events_per_sync, Some(5.0));
    }
}
