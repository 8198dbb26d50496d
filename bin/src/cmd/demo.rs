//! `encore demo [--db DIR]`: append a small sample log (a few streams, a few
//! hundred events), read it back and verify it. Running it again appends
//! another run to the same log.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use encore_ledger::{Direction, EventId, ExpectedVersion, Ledger, LedgerOptions, NewEvent, StreamAppend, StreamId};

#[derive(clap::Args)]
pub struct Args {
    /// The log directory (created if missing).
    #[arg(long, default_value = super::DEFAULT_DB)]
    pub db: PathBuf,
}

const CARDS: u64 = 5;
const PURCHASES: u64 = 100;

pub fn run(args: Args) -> Result<ExitCode, String> {
    let log = Ledger::open(&args.db, LedgerOptions::default()).map_err(|e| e.to_string())?;
    let start = log.head();
    println!("log {} opened at position {}", args.db.display(), start.position);
    let now = now_micros().max(start.recorded_at);
    let started = Instant::now();
    for n in 0..PURCHASES {
        let card = StreamId::new(format!("card-demo-{}", n % CARDS)).map_err(|e| e.to_string())?;
        let account = StreamId::new(format!("account-demo-{}", n % CARDS)).map_err(|e| e.to_string())?;
        let id = |part: u64| EventId::derive("encore demo event", format!("{}:{n}:{part}", start.position).as_bytes());
        let event = |part, kind: &str| NewEvent::new(id(part), kind, now, format!("demo purchase {n}").into_bytes());
        let appends = vec![
            StreamAppend { stream: account, expected: ExpectedVersion::Any, events: vec![event(0, "Charged")] },
            StreamAppend { stream: card, expected: ExpectedVersion::Any, events: vec![event(1, "LicenseIssued"), event(2, "LicenseWrittenToCard")] },
        ];
        log.append(appends).map_err(|e| e.to_string())?;
    }
    let elapsed = started.elapsed();
    let head = log.head();
    println!("appended {} events in {} atomic two-stream appends ({:.1} ms, each durable)", head.position - start.position, PURCHASES, elapsed.as_secs_f64() * 1e3);
    print_streams(&log)?;
    let report = log.verify().map_err(|e| e.to_string())?;
    match report.first_problem() {
        None => println!("verified: {} records, head {} hash {}", report.records, head.position, super::hex(&head.hash)),
        Some(p) => {
            println!("verification FAILED: {p}");
            return Ok(ExitCode::from(1));
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn print_streams(log: &Ledger) -> Result<(), String> {
    println!("{:<18} {:>8} {:<22}", "stream", "version", "newest event");
    for n in 0..CARDS {
        for prefix in ["account-demo", "card-demo"] {
            let stream = StreamId::new(format!("{prefix}-{n}")).map_err(|e| e.to_string())?;
            let newest = log.read_stream(&stream, u64::MAX, Direction::Backwards, 1).map_err(|e| e.to_string())?;
            let kind = newest.first().map(|r| r.event_type.clone()).unwrap_or_default();
            println!("{:<18} {:>8} {:<22}", stream, log.stream_version(&stream).map_err(|e| e.to_string())?, kind);
        }
    }
    Ok(())
}

fn now_micros() -> i64 {
    chrono::Utc::now().timestamp_micros()
}
