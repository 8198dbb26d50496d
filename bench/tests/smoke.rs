//! The smoke test of the side-by-side benchmark: tiny sizes, so the harness
//! never rots. It runs (1) every workload on Encore and raw RocksDB in-process
//! with exact counts, and (2) `bench/compare.sh --smoke` end to end — the
//! PostgreSQL path included: the script installs Debian's `postgresql` when
//! it is missing (`./x test` does too) and starts a private server on
//! loopback. Nothing is skipped: without PostgreSQL the test fails.
// Test and benchmark code: a failed set-up or check stops it loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::Command;

use encore_bench::run::run;
use encore_bench::systems::Kind;
use encore_bench::workload::{Config, Row};

/// (system, workload, writers, ops, events) of every row, for comparison.
fn summary(rows: &[Row]) -> Vec<(String, String, usize, u64, u64)> {
    rows.iter().map(|r| (r.system.clone(), r.workload.clone(), r.writers, r.ops, r.events)).collect()
}

fn expected(system: &str) -> Vec<(String, String, usize, u64, u64)> {
    let mut rows = Vec::new();
    for (workload, per_op) in [("append-1", 1), ("append-10", 10), ("purchase", 2)] {
        for writers in [1usize, 8, 64] {
            let ops = writers as u64 * 5;
            rows.push((system.into(), workload.into(), writers, ops, ops * per_op));
        }
    }
    rows.push((system.into(), "read-stream".into(), 1, 5, 5_000));
    rows.push((system.into(), "read-all".into(), 1, 3, 3_000));
    rows
}

#[test]
fn every_workload_runs_on_encore_and_raw_rocksdb_with_exact_counts() {
    let rows = run(&Config::smoke(), &[Kind::Encore, Kind::Raw], |_| {}).expect("smoke run");
    let want: Vec<_> = expected("Encore").into_iter().chain(expected("raw RocksDB")).collect();
    assert_eq!(summary(&rows), want);
    for row in &rows {
        assert!(row.seconds > 0.0 && row.p50_us > 0.0 && row.p99_us >= row.p50_us, "{row:?}");
        let writes = !row.workload.starts_with("read-");
        assert_eq!(row.events_per_sync.is_some(), writes, "{row:?}");
    }
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("bench/ is inside the workspace").to_path_buf()
}

#[test]
fn compare_script_runs_all_three_systems_and_writes_only_its_sections() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = dir.path().join("BENCHMARKS.md");
    std::fs::write(&out, "# Benchmarks\n\n## Someone else's section\n\nkeep me\n").expect("seed document");
    let status = Command::new("bash")
        .arg(workspace_root().join("bench/compare.sh"))
        .args(["--smoke", "--out"])
        .arg(&out)
        .env("ENCORE_BENCH_BIN", env!("CARGO_BIN_EXE_encore-bench"))
        .status()
        .expect("run bench/compare.sh");
    assert!(status.success(), "bench/compare.sh --smoke failed: {status}");
    let document = std::fs::read_to_string(&out).expect("read document");
    assert!(document.contains("## Someone else's section\n\nkeep me\n"), "{document}");
    assert!(document.contains("## CBOR: minicbor vs ciborium") && document.contains("| minicbor |") && document.contains("| ciborium |"), "{document}");
    let section = document.split("## Side by side: Encore vs raw RocksDB vs PostgreSQL").nth(1).expect("side-by-side section");
    for cell in ["append-1 | 1 ", "append-1 | 8 ", "append-1 | 64 ", "append-10 | 64 ", "purchase | 8 ", "read-stream | 1 ", "read-all | 1 "] {
        let line = section.lines().find(|l| l.starts_with(&format!("| {cell}|"))).unwrap_or_else(|| panic!("no row {cell}: {section}"));
        assert!(!line.contains("n/a"), "a system is missing in {line}");
    }
}
