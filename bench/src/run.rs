//! Running the plan on an in-process system: writer threads bounded in time
//! and count, per-operation latencies, one fresh store per measurement.

use std::time::{Duration, Instant};

use crate::error::BenchError;
use crate::stats::p50_p99_us;
use crate::systems::{Kind, System};
use crate::workload::{Config, Row, Workload, READ_STREAM_EVENTS};

/// Runs every measurement of `config` on each system, printing each row as it
/// is measured (`on_row`), and returns the rows.
pub fn run(config: &Config, kinds: &[Kind], mut on_row: impl FnMut(&Row)) -> Result<Vec<Row>, BenchError> {
    let mut rows = Vec::new();
    for &kind in kinds {
        for (workload, writers) in config.plan() {
            let dir = tempfile::tempdir().map_err(|e| BenchError::io("temporary directory", e))?;
            let system = kind.open(dir.path())?;
            let row = measure(system.as_ref(), config, workload, writers)?;
            on_row(&row);
            rows.push(row);
        }
    }
    Ok(rows)
}

/// One measurement on a fresh system.
pub fn measure(system: &dyn System, config: &Config, workload: Workload, writers: usize) -> Result<Row, BenchError> {
    let syncs_before = system.syncs();
    let (ops, elapsed, latencies) = match workload {
        Workload::Append { events } => run_writers(writers, config, |w, op| system.append(w, op, events))?,
        Workload::Purchase => run_writers(writers, config, |w, op| system.purchase(w, op))?,
        Workload::ReadStream => {
            system.load_read_log(config.read_log_events)?;
            run_writers(1, config, |_, _| system.read_stream().map(|n| debug_assert_eq!(n, READ_STREAM_EVENTS)))?
        }
        Workload::ReadAll => {
            system.load_read_log(config.read_log_events)?;
            let start = Instant::now();
            let pages = system.read_all()?;
            let elapsed = start.elapsed();
            let events: usize = pages.iter().map(|p| p.0).sum();
            if events != config.read_log_events {
                return Err(BenchError::Check {
                    system: system.name(),
                    operation: "read all",
                    got: format!("{events} events"),
                    want: format!("{} events", config.read_log_events),
                });
            }
            (pages.len() as u64, elapsed, pages.into_iter().map(|p| p.1).collect())
        }
    };
    let events = match workload {
        Workload::ReadAll => config.read_log_events as u64,
        _ => ops * workload.events_per_op() as u64,
    };
    let syncs = system.syncs() - syncs_before;
    let writes = matches!(workload, Workload::Append { .. } | Workload::Purchase);
    let (p50_us, p99_us) = p50_p99_us(latencies);
    Ok(Row {
        system: system.name().into(),
        workload: workload.name(),
        writers,
        ops,
        events,
        seconds: elapsed.as_secs_f64(),
        p50_us,
        p99_us,
        events_per_sync: (writes && syncs > 0).then(|| events as f64 / syncs as f64),
    })
}

/// Runs `op(writer, n)` on `writers` threads until the time bound or each
/// writer's count bound; returns operations, wall time and latencies (ns).
fn run_writers(writers: usize, config: &Config, op: impl Fn(usize, u64) -> Result<(), BenchError> + Sync) -> Result<(u64, Duration, Vec<u64>), BenchError> {
    let start = Instant::now();
    let deadline = start + config.duration;
    let per_writer: Vec<Result<Vec<u64>, BenchError>> = std::thread::scope(|scope| {
        let threads: Vec<_> = (0..writers)
            .map(|w| {
                let op = &op;
                scope.spawn(move || {
                    let mut latencies = Vec::with_capacity(1 << 14);
                    let mut n = 0;
                    while n < config.max_ops_per_writer && Instant::now() < deadline {
                        let t = Instant::now();
                        op(w, n)?;
                        latencies.push(t.elapsed().as_nanos() as u64);
                        n += 1;
                    }
                    Ok::<Vec<u64>, BenchError>(latencies)
                })
            })
            .collect();
        threads.into_iter().map(|t| t.join().unwrap_or_else(|p| std::panic::resume_unwind(p))).collect()
    });
    let elapsed = start.elapsed();
    let mut latencies = Vec::new();
    for writer in per_writer {
        latencies.extend(writer?);
    }
    Ok((latencies.len() as u64, elapsed, latencies))
}
