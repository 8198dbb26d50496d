//! Result rows as TSV (what the driver and the pgbench parser emit), the
//! side-by-side table with ratios against Encore, and rewriting one `## `
//! section of `docs/BENCHMARKS.md` while leaving every other section alone.

use std::fmt::Write as _;
use std::path::Path;

use crate::error::BenchError;
use crate::workload::Row;

pub const ENCORE: &str = "Encore";
pub const RAW: &str = "raw RocksDB";
pub const POSTGRES: &str = "PostgreSQL";
const SYSTEMS: [&str; 3] = [ENCORE, RAW, POSTGRES];

/// One row as a TSV line (no newline).
pub fn to_tsv(row: &Row) -> String {
    let eps = row.events_per_sync.map_or("-".to_string(), |e| format!("{e:.2}"));
    format!("{}\t{}\t{}\t{}\t{}\t{:.6}\t{:.1}\t{:.1}\t{}", row.system, row.workload, row.writers, row.ops, row.events, row.seconds, row.p50_us, row.p99_us, eps)
}

/// Parses a TSV line written by [`to_tsv`].
pub fn from_tsv(line: &str) -> Result<Row, String> {
    let f: Vec<&str> = line.split('\t').collect();
    if f.len() != 9 {
        return Err(format!("{} fields, expected 9", f.len()));
    }
    fn num<T: std::str::FromStr>(s: &str, what: &str) -> Result<T, String> {
        s.parse().map_err(|_| format!("{what} {s:?} is not a number"))
    }
    Ok(Row {
        system: f[0].into(),
        workload: f[1].into(),
        writers: num(f[2], "writers")?,
        ops: num(f[3], "ops")?,
        events: num(f[4], "events")?,
        seconds: num(f[5], "seconds")?,
        p50_us: num(f[6], "p50")?,
        p99_us: num(f[7], "p99")?,
        events_per_sync: if f[8] == "-" { None } else { Some(num(f[8], "events per sync")?) },
    })
}

/// Every row of the TSV files.
pub fn read_rows(paths: &[impl AsRef<Path>]) -> Result<Vec<Row>, BenchError> {
    let mut rows = Vec::new();
    for path in paths {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|e| BenchError::io(path.display(), e))?;
        for (i, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
            let row = from_tsv(line).map_err(|cause| BenchError::Parse { path: path.display().to_string(), line: i + 1, text: line.into(), cause })?;
            rows.push(row);
        }
    }
    Ok(rows)
}

fn find<'a>(rows: &'a [Row], system: &str, workload: &str, writers: usize) -> Option<&'a Row> {
    rows.iter().find(|r| r.system == system && r.workload == workload && r.writers == writers)
}

/// The (workload, writers) cells in first-seen order.
fn cells(rows: &[Row]) -> Vec<(String, usize)> {
    let mut cells: Vec<(String, usize)> = Vec::new();
    for r in rows {
        if !cells.iter().any(|(w, n)| *w == r.workload && *n == r.writers) {
            cells.push((r.workload.clone(), r.writers));
        }
    }
    cells
}

fn rate(r: Option<&Row>) -> String {
    r.map_or("n/a".into(), |r| format!("{:.0}", r.events_per_second()))
}

fn latency(r: Option<&Row>) -> String {
    r.map_or("n/a".into(), |r| format!("{:.0} / {:.0}", r.p50_us, r.p99_us))
}

fn group(r: Option<&Row>) -> String {
    r.and_then(|r| r.events_per_sync).map_or("-".into(), |e| format!("{e:.1}"))
}

/// `a / b` of two rows' event rates, as "N.NNx".
fn ratio(a: Option<&Row>, b: Option<&Row>) -> Option<f64> {
    let (a, b) = (a?.events_per_second(), b?.events_per_second());
    (b > 0.0).then(|| a / b)
}

fn show(r: Option<f64>) -> String {
    r.map_or("n/a".into(), |r| format!("{r:.2}x"))
}

/// The side-by-side table in Markdown: one line per workload and writer count.
pub fn table(rows: &[Row]) -> String {
    let mut out = String::new();
    out.push_str("| workload | writers | Encore events/s | Encore p50 / p99 µs | raw RocksDB events/s | raw p50 / p99 µs | PostgreSQL events/s | PostgreSQL p50 / p99 µs | raw ÷ Encore | Encore ÷ PostgreSQL | events per sync: Encore / raw / PG |\n");
    out.push_str("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    for (workload, writers) in cells(rows) {
        let [e, r, p] = SYSTEMS.map(|s| find(rows, s, &workload, writers));
        let _ = writeln!(
            out,
            "| {workload} | {writers} | {} | {} | {} | {} | {} | {} | {} | {} | {} / {} / {} |",
            rate(e),
            latency(e),
            rate(r),
            latency(r),
            rate(p),
            latency(p),
            show(ratio(r, e)),
            show(ratio(e, p)),
            group(e),
            group(r),
            group(p)
        );
    }
    out
}

/// The targets on durable multi-writer appends (8 and 64 writers):
/// Encore ≥ 10x PostgreSQL, raw RocksDB ≤ 1.5x Encore. One line per cell.
pub fn targets(rows: &[Row]) -> String {
    let mut out = String::new();
    for (workload, writers) in cells(rows).into_iter().filter(|(w, n)| w.starts_with("append-") && *n > 1) {
        let [e, r, p] = SYSTEMS.map(|s| find(rows, s, &workload, writers));
        let verdict = |ok: Option<bool>| match ok {
            Some(true) => "met",
            Some(false) => "MISSED",
            None => "not measured",
        };
        let (vs_pg, vs_raw) = (ratio(e, p), ratio(r, e));
        let _ = writeln!(
            out,
            "- {workload}, {writers} writers: Encore ÷ PostgreSQL = {} (target ≥ 10x: {}); raw ÷ Encore = {} (target ≤ 1.5x: {})",
            show(vs_pg),
            verdict(vs_pg.map(|x| x >= 10.0)),
            show(vs_raw),
            verdict(vs_raw.map(|x| x <= 1.5))
        );
    }
    out
}

/// Replaces the section starting at the line `heading` (up to the next line
/// starting with `## `) with `heading` + `body`, or appends it; creates the
/// file with a `# Benchmarks` title if it is missing. Other sections stay.
pub fn replace_section(document: &str, heading: &str, body: &str) -> String {
    assert!(heading.starts_with("## "), "sections are `## ` headings");
    let section = format!("{heading}\n\n{}\n", body.trim_end());
    let lines: Vec<&str> = document.lines().collect();
    let Some(start) = lines.iter().position(|l| l.trim_end() == heading) else {
        let base = if document.trim().is_empty() { "# Benchmarks\n".to_string() } else { document.trim_end().to_string() + "\n" };
        return format!("{base}\n{section}");
    };
    let end = lines[start + 1..].iter().position(|l| l.starts_with("## ")).map_or(lines.len(), |i| start + 1 + i);
    let mut out = String::new();
    for l in &lines[..start] {
        out.push_str(l);
        out.push('\n');
    }
    out.push_str(&section);
    if end < lines.len() {
        out.push('\n');
        for l in &lines[end..] {
            out.push_str(l);
            out.push('\n');
        }
    }
    out
}

/// Rewrites one section of the file at `path` (see [`replace_section`]).
pub fn write_section(path: &Path, heading: &str, body: &str) -> Result<(), BenchError> {
    let document = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(BenchError::io(path.display(), e)),
    };
    std::fs::write(path, replace_section(&document, heading, body)).map_err(|e| BenchError::io(path.display(), e))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(system: &str, workload: &str, writers: usize, events: u64) -> Row {
        Row { system: system.into(), workload: workload.into(), writers, ops: events, events, seconds: 1.0, p50_us: 10.0, p99_us: 20.0, events_per_sync: None }
    }

    #[test]
    fn tsv_round_trips() {
        let mut r = row(RAW, "append-10", 64, 1234);
        r.events_per_sync = Some(12.5);
        assert_eq!(from_tsv(&to_tsv(&r)), Ok(r));
    }

    #[test]
    fn sections_are_replaced_or_appended_and_others_kept() {
        let cases = [
            ("", "# Benchmarks\n\n## S\n\nnew\n"),
            ("# Benchmarks\n\n## A\n\na\n", "# Benchmarks\n\n## A\n\na\n\n## S\n\nnew\n"),
            ("# B\n\n## S\n\nold\nold\n\n## C\n\nc\n", "# B\n\n## S\n\nnew\n\n## C\n\nc\n"),
            ("# B\n\n## A\n\na\n\n## S\n\nold\n", "# B\n\n## A\n\na\n\n## S\n\nnew\n"),
        ];
        for (document, want) in cases {
            assert_eq!(replace_section(document, "## S", "new"), want, "{document:?}");
        }
    }

    #[test]
    fn table_has_ratios_against_encore_and_target_verdicts() {
        let rows = [row(ENCORE, "append-1", 8, 1000), row(RAW, "append-1", 8, 1200), row(POSTGRES, "append-1", 8, 200)];
        let table = table(&rows);
        assert!(table.contains("| append-1 | 8 | 1000 | 10 / 20 | 1200 | 10 / 20 | 200 | 10 / 20 | 1.20x | 5.00x | - / - / - |"), "{table}");
        assert_eq!(targets(&rows), "- append-1, 8 writers: Encore ÷ PostgreSQL = 5.00x (target ≥ 10x: MISSED); raw ÷ Encore = 1.20x (target ≤ 1.5x: met)\n");
    }
}
