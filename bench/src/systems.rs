//! The two in-process systems under test, behind one small trait: Encore's
//! log and the raw-RocksDB floor (`encore_ledger::baseline`).
//!
//! Writer `w` owns its streams (`w-W`, `wallet-W`, `purchase-W-K`), so the
//! expected versions of a purchase are known to it without a read. The raw
//! floor stores each event once under `stream \0 version` (big-endian) with
//! the 16-byte event id before the payload: no chain, no global order, no
//! indexes, no version checks. Its "read the whole log" is a scan of every key
//! in key order, the floor for reading every event.

use std::path::Path;
use std::time::Instant;

use encore_ledger::baseline::{Puts, RawLog};
use encore_ledger::{Direction, EventId, ExpectedVersion, Ledger, LedgerOptions, NewEvent, StreamAppend, StreamId};

use crate::error::BenchError;
use crate::workload::{PAYLOAD_BYTES, READ_ALL_PAGE, READ_STREAM, READ_STREAM_EVENTS};

/// A fixed, plausible recorded-at time (µs): concurrent writers must not make
/// the log's clock go backwards, so every event carries the same one.
const RECORDED_AT: i64 = 1_750_000_000_000_000;

/// One store under test, fresh for each measurement.
pub trait System: Send + Sync {
    fn name(&self) -> &'static str;
    /// Appends `events` events to writer `writer`'s stream, whose version is
    /// `op * events` before it (the writer's `op`-th append, from 0).
    fn append(&self, writer: usize, op: u64, events: usize) -> Result<(), BenchError>;
    /// Writer `writer`'s purchase number `op` (from 0): see `Workload::Purchase`.
    fn purchase(&self, writer: usize, op: u64) -> Result<(), BenchError>;
    /// Writes the read workloads' log: `events - 1000` events in appends of
    /// 1,000 to 100 `fill-N` streams, then the 1,000-event read stream.
    fn load_read_log(&self, events: usize) -> Result<(), BenchError>;
    /// Reads the 1,000-event stream; returns how many events came back.
    fn read_stream(&self) -> Result<usize, BenchError>;
    /// Reads the whole log in pages of 1,000; returns each page's size and
    /// latency in nanoseconds.
    fn read_all(&self) -> Result<Vec<(usize, u64)>, BenchError>;
    /// Durable writes done so far (one sync each).
    fn syncs(&self) -> u64;
}

/// Which system to open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Encore,
    Raw,
}

impl Kind {
    pub fn parse(s: &str) -> Result<Kind, BenchError> {
        match s {
            "encore" => Ok(Kind::Encore),
            "raw" => Ok(Kind::Raw),
            _ => Err(BenchError::Argument { argument: s.into(), cause: "systems are `encore` and `raw`".into() }),
        }
    }

    pub fn open(self, dir: &Path) -> Result<Box<dyn System>, BenchError> {
        Ok(match self {
            Kind::Encore => Box::new(Encore::open(dir)?),
            Kind::Raw => Box::new(Raw::open(dir)?),
        })
    }
}

fn payload(tag: u64) -> Vec<u8> {
    let mut p = vec![0xA5u8; PAYLOAD_BYTES];
    p[..8].copy_from_slice(&tag.to_be_bytes());
    p
}

fn event_id(writer: usize, n: u64) -> EventId {
    EventId::from_u128(((writer as u128 + 1) << 64) | n as u128)
}

fn fill_stream(append: usize) -> String {
    format!("fill-{}", append % 100)
}

/// Encore's log.
pub struct Encore {
    log: Ledger,
}

impl Encore {
    pub fn open(dir: &Path) -> Result<Encore, BenchError> {
        let log = Ledger::open(dir.join("encore"), LedgerOptions::default()).map_err(|e| fail("open", e))?;
        Ok(Encore { log })
    }

    fn events(writer: usize, first: u64, n: usize, event_type: &str) -> Vec<NewEvent> {
        (0..n as u64).map(|i| NewEvent::new(event_id(writer, first + i), event_type, RECORDED_AT, payload(first + i))).collect()
    }

    fn append_checked(&self, appends: Vec<StreamAppend>, operation: &'static str) -> Result<(), BenchError> {
        let want: usize = appends.iter().map(|a| a.events.len()).sum();
        let appended = self.log.append(appends).map_err(|e| fail(operation, e))?;
        if appended.positions.len() != want || appended.deduplicated {
            return Err(check(operation, format!("{appended:?}"), format!("{want} new positions")));
        }
        Ok(())
    }
}

fn fail(operation: &'static str, cause: impl std::fmt::Display) -> BenchError {
    BenchError::System { system: "Encore", operation, cause: cause.to_string() }
}

fn check(operation: &'static str, got: String, want: String) -> BenchError {
    BenchError::Check { system: "Encore", operation, got, want }
}

fn stream(name: String) -> Result<StreamId, BenchError> {
    StreamId::new(name).map_err(|e| fail("stream id", e))
}

impl System for Encore {
    fn name(&self) -> &'static str {
        "Encore"
    }

    fn append(&self, writer: usize, op: u64, events: usize) -> Result<(), BenchError> {
        let first = op * events as u64;
        let events = Encore::events(writer, first, events, "Bench");
        self.append_checked(vec![StreamAppend { stream: stream(format!("w-{writer}"))?, expected: ExpectedVersion::Any, events }], "append")
    }

    fn purchase(&self, writer: usize, op: u64) -> Result<(), BenchError> {
        let purchase = StreamAppend {
            stream: stream(format!("purchase-{writer}-{op}"))?,
            expected: ExpectedVersion::NoStream,
            events: Encore::events(writer, 2 * op, 1, "PurchaseCompleted"),
        };
        let wallet = StreamAppend {
            stream: stream(format!("wallet-{writer}"))?,
            expected: ExpectedVersion::Exact(op),
            events: Encore::events(writer, 2 * op + 1, 1, "WalletCharged"),
        };
        self.append_checked(vec![purchase, wallet], "purchase")
    }

    fn load_read_log(&self, events: usize) -> Result<(), BenchError> {
        for i in 0..(events / READ_ALL_PAGE).saturating_sub(1) {
            let batch = Encore::events(usize::MAX - 1, (i * READ_ALL_PAGE) as u64, READ_ALL_PAGE, "Fill");
            self.append_checked(vec![StreamAppend { stream: stream(fill_stream(i))?, expected: ExpectedVersion::Any, events: batch }], "fill")?;
        }
        let batch = Encore::events(usize::MAX - 2, 0, READ_STREAM_EVENTS, "Bench");
        self.append_checked(vec![StreamAppend { stream: stream(READ_STREAM.into())?, expected: ExpectedVersion::NoStream, events: batch }], "fill")
    }

    fn read_stream(&self) -> Result<usize, BenchError> {
        let records = self.log.read_stream(&stream(READ_STREAM.into())?, 1, Direction::Forwards, READ_STREAM_EVENTS).map_err(|e| fail("read stream", e))?;
        if records.len() != READ_STREAM_EVENTS || records.last().map(|r| r.version) != Some(READ_STREAM_EVENTS as u64) {
            return Err(check("read stream", format!("{} records", records.len()), format!("versions 1..={READ_STREAM_EVENTS}")));
        }
        Ok(records.len())
    }

    fn read_all(&self) -> Result<Vec<(usize, u64)>, BenchError> {
        let mut pages = Vec::new();
        let mut next = 1;
        loop {
            let start = Instant::now();
            let page = self.log.read_all(next, READ_ALL_PAGE).map_err(|e| fail("read all", e))?;
            let elapsed = start.elapsed().as_nanos() as u64;
            if page.is_empty() {
                break;
            }
            next += page.len() as u64;
            pages.push((page.len(), elapsed));
        }
        Ok(pages)
    }

    fn syncs(&self) -> u64 {
        self.log.group_commits()
    }
}

/// The raw-RocksDB floor.
pub struct Raw {
    log: RawLog,
}

impl Raw {
    pub fn open(dir: &Path) -> Result<Raw, BenchError> {
        let log = RawLog::open(dir.join("raw")).map_err(|e| raw_fail("open", e))?;
        Ok(Raw { log })
    }

    fn puts(stream: &str, first_version: u64, writer: usize, first_id: u64, n: usize) -> Puts {
        (0..n as u64)
            .map(|i| {
                let mut value = event_id(writer, first_id + i).0.to_vec();
                value.extend_from_slice(&payload(first_id + i));
                (raw_key(stream, first_version + i), value)
            })
            .collect()
    }
}

fn raw_key(stream: &str, version: u64) -> Vec<u8> {
    let mut key = Vec::with_capacity(stream.len() + 9);
    key.extend_from_slice(stream.as_bytes());
    key.push(0);
    key.extend_from_slice(&version.to_be_bytes());
    key
}

fn raw_fail(operation: &'static str, cause: impl std::fmt::Display) -> BenchError {
    BenchError::System { system: "raw RocksDB", operation, cause: cause.to_string() }
}

impl System for Raw {
    fn name(&self) -> &'static str {
        "raw RocksDB"
    }

    fn append(&self, writer: usize, op: u64, events: usize) -> Result<(), BenchError> {
        let first = op * events as u64;
        self.log.append(Raw::puts(&format!("w-{writer}"), first + 1, writer, first, events)).map_err(|e| raw_fail("append", e))
    }

    fn purchase(&self, writer: usize, op: u64) -> Result<(), BenchError> {
        let mut puts = Raw::puts(&format!("purchase-{writer}-{op}"), 1, writer, 2 * op, 1);
        puts.extend(Raw::puts(&format!("wallet-{writer}"), op + 1, writer, 2 * op + 1, 1));
        self.log.append(puts).map_err(|e| raw_fail("purchase", e))
    }

    fn load_read_log(&self, events: usize) -> Result<(), BenchError> {
        for i in 0..(events / READ_ALL_PAGE).saturating_sub(1) {
            let version = (i / 100 * READ_ALL_PAGE) as u64 + 1;
            self.log.append(Raw::puts(&fill_stream(i), version, usize::MAX - 1, (i * READ_ALL_PAGE) as u64, READ_ALL_PAGE)).map_err(|e| raw_fail("fill", e))?;
        }
        self.log.append(Raw::puts(READ_STREAM, 1, usize::MAX - 2, 0, READ_STREAM_EVENTS)).map_err(|e| raw_fail("fill", e))
    }

    fn read_stream(&self) -> Result<usize, BenchError> {
        let pairs = self.log.scan_from(&raw_key(READ_STREAM, 1), READ_STREAM_EVENTS).map_err(|e| raw_fail("read stream", e))?;
        let last = raw_key(READ_STREAM, READ_STREAM_EVENTS as u64);
        if pairs.len() != READ_STREAM_EVENTS || pairs.last().map(|(k, _)| k) != Some(&last) {
            return Err(BenchError::Check {
                system: "raw RocksDB",
                operation: "read stream",
                got: format!("{} pairs", pairs.len()),
                want: format!("versions 1..={READ_STREAM_EVENTS}"),
            });
        }
        Ok(pairs.len())
    }

    fn read_all(&self) -> Result<Vec<(usize, u64)>, BenchError> {
        let mut pages = Vec::new();
        let mut from = Vec::new();
        loop {
            let start = Instant::now();
            let page = self.log.scan_from(&from, READ_ALL_PAGE).map_err(|e| raw_fail("read all", e))?;
            let elapsed = start.elapsed().as_nanos() as u64;
            let Some((last, _)) = page.last() else { break };
            from = last.clone();
            from.push(0); // the smallest key after `last`
            pages.push((page.len(), elapsed));
        }
        Ok(pages)
    }

    fn syncs(&self) -> u64 {
        self.log.syncs()
    }
}
