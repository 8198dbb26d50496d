//! `encore-bench`: the benchmark driver `bench/compare.sh` calls.
//!
//! - `run`: Encore and raw RocksDB in-process, rows as TSV on stdout.
//! - `pgbench-row`: one pgbench measurement's logs as a TSV row.
//! - `report`: merge TSV files, print the table, write the section of docs/BENCHMARKS.md.
//! - `cbor`: minicbor vs ciborium, printed and written to its section.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use encore_bench::systems::Kind;
use encore_bench::workload::Config;
use encore_bench::{cbor, pgbench, report, run, BenchError};

pub const SIDE_BY_SIDE: &str = "## Side by side: Encore vs raw RocksDB vs PostgreSQL";
pub const CBOR: &str = "## CBOR: minicbor vs ciborium";

#[derive(Parser)]
#[command(about = "Encore's side-by-side benchmark driver (see bench/compare.sh)")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the workloads on Encore and raw RocksDB; TSV rows on stdout.
    Run {
        /// Tiny sizes (the smoke test).
        #[arg(long)]
        smoke: bool,
        /// Comma-separated: encore, raw.
        #[arg(long, default_value = "encore,raw")]
        systems: String,
        /// Seconds per measurement (overrides the mode's default).
        #[arg(long)]
        seconds: Option<f64>,
        /// Only these measurements, comma-separated `WORKLOAD@WRITERS`
        /// (`append-10@64,purchase@8`): for profiling one of them.
        #[arg(long)]
        only: Option<String>,
    },
    /// Turn a pgbench measurement's per-transaction logs into a TSV row.
    PgbenchRow {
        #[arg(long)]
        workload: String,
        #[arg(long)]
        writers: usize,
        #[arg(long)]
        events_per_op: u64,
        /// WAL syncs during the measurement (pg_stat_wal), for events per sync.
        #[arg(long)]
        syncs: Option<u64>,
        /// The `--log-prefix` given to pgbench.
        #[arg(long)]
        log_prefix: PathBuf,
    },
    /// Merge TSV results, print the table and write it into the document.
    Report {
        #[arg(long = "results", required = true)]
        results: Vec<PathBuf>,
        #[arg(long)]
        out: PathBuf,
        /// A Markdown file describing the machine.
        #[arg(long)]
        machine: PathBuf,
        /// The exact command that produced the figures.
        #[arg(long)]
        command: String,
        /// Extra notes (Markdown) appended to the section.
        #[arg(long)]
        notes: Option<PathBuf>,
    },
    /// Measure minicbor vs ciborium; print and write the section.
    Cbor {
        #[arg(long, default_value_t = 200_000)]
        iterations: u64,
        #[arg(long)]
        out: Option<PathBuf>,
        #[arg(long)]
        command: Option<String>,
    },
}

fn main() -> ExitCode {
    match execute(Cli::parse().command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("encore-bench: {e}");
            ExitCode::FAILURE
        }
    }
}

fn execute(command: Command) -> Result<(), BenchError> {
    match command {
        Command::Run { smoke, systems, seconds, only } => {
            let mut config = if smoke { Config::smoke() } else { Config::full() };
            if let Some(s) = seconds {
                config.duration = Duration::try_from_secs_f64(s).map_err(|e| BenchError::Argument { argument: s.to_string(), cause: e.to_string() })?;
            }
            let kinds = systems.split(',').map(Kind::parse).collect::<Result<Vec<_>, _>>()?;
            if let Some(only) = only {
                config.only = Some(only.split(',').map(str::to_string).collect());
            }
            run::run(&config, &kinds, |row| println!("{}", report::to_tsv(row)))?;
            Ok(())
        }
        Command::PgbenchRow { workload, writers, events_per_op, syncs, log_prefix } => {
            let transactions = pgbench::read_logs(&log_prefix)?;
            println!("{}", report::to_tsv(&pgbench::row(&workload, writers, events_per_op, syncs, &transactions)));
            Ok(())
        }
        Command::Report { results, out, machine, command, notes } => {
            let rows = report::read_rows(&results)?;
            let read = |p: &PathBuf| std::fs::read_to_string(p).map_err(|e| BenchError::io(p.display(), e));
            let table = report::table(&rows);
            let targets = report::targets(&rows);
            println!("{table}\n{targets}");
            let mut body = format!(
                "Command (from the repository root):\n\n```\n{command}\n```\n\n{}\n\n{table}\nThroughput is events per second; latency is per operation (one append, one purchase, one stream read of 1,000 events, one page of 1,000 events of the whole log). Ratios compare events per second.\n\nTargets (issue 7), durable multi-writer appends:\n\n{targets}",
                read(&machine)?.trim_end()
            );
            if let Some(notes) = notes {
                body.push('\n');
                body.push_str(&read(&notes)?);
            }
            report::write_section(&out, SIDE_BY_SIDE, &body)
        }
        Command::Cbor { iterations, out, command } => {
            let figures = cbor::measure(iterations).map_err(|cause| BenchError::System { system: "cbor", operation: "measure", cause })?;
            let table = cbor::table(&figures);
            println!("{table}");
            if let Some(out) = out {
                let command = command.unwrap_or_else(|| format!("encore-bench cbor --iterations {iterations}"));
                let body = format!(
                    "Command: `{command}` (part of `bench/compare.sh`). One representative event of ten fields (five strings, two u64s, a 32-byte hash as a byte string, an optional string and an optional u64), median of 5 rounds of {iterations} encodes and decodes, release build, owned `String`s on both sides.\n\n{table}\nminicbor's derive writes an array keyed by field index (as Encore's domain does); ciborium's serde writes a map keyed by field name, hence the size difference."
                );
                report::write_section(&out, CBOR, &body)?;
            }
            Ok(())
        }
    }
}
