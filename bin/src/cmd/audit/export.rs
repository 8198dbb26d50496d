//! `audit export` and `audit verify-export`: a range of the log in a file that
//! can be verified anywhere, without the store.
//!
//! Export format, version 1 (all integers little-endian):
//!
//! ```text
//! [8]  magic "ENCOREXP"
//! u32  format version (1)
//! u64  from: the first position exported
//! u64  to: the last position exported
//! u64  count = to - from + 1
//! [32] prev hash: the chain hash of record from-1 (zeros when from = 1)
//! [32] range head hash: the hash of record `to`
//! u64  the log's head position when exported
//! [32] the log's head hash when exported
//! count times:
//!   u32  length
//!   [..] the record, as `Record::encode` writes it (its own hash included)
//! [32] blake3 of every byte above (transport damage, truncation)
//! ```
//!
//! `verify-export` decodes every record (which checks its own hash), checks
//! positions are `from..=to` without gaps, recomputes the chain from the prev
//! hash, and checks that it ends at the range head hash. Someone holding the
//! log (or a published head) compares the two header hashes with it.

use std::path::Path;
use std::process::ExitCode;

use encore_ledger::{Hash, Record};

use super::{ExportArgs, VerifyExportArgs};
use crate::cmd::{hex, json_str, progress, verify::open_read_only};

const MAGIC: &[u8; 8] = b"ENCOREXP";
/// The export format this build writes and the newest it reads.
pub const EXPORT_FORMAT_VERSION: u32 = 1;
const HEADER_LEN: usize = 8 + 4 + 8 + 8 + 8 + 32 + 32 + 8 + 32;

/// What an export's header says.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Header {
    from: u64,
    to: u64,
    count: u64,
    prev_hash: Hash,
    range_hash: Hash,
    log_head: u64,
    log_head_hash: Hash,
}

pub fn export(args: ExportArgs) -> Result<ExitCode, String> {
    let log = open_read_only(&args.log.path())?;
    let head = log.head();
    let to = args.to.unwrap_or(head.position);
    if args.from == 0 {
        return Err("--from 0: positions start at 1".into());
    }
    if to > head.position {
        return Err(format!("--to {to} is past the head of the log ({})", head.position));
    }
    if args.from > to {
        return Err(format!("--from {} is after --to {to}", args.from));
    }
    check_output(&args.log.path(), &args.out, args.force)?;
    let prev_hash = match args.from {
        1 => [0; 32],
        p => log.read_record(p - 1).map_err(|e| e.to_string())?.ok_or(format!("no record at position {}", p - 1))?.hash,
    };
    let mut body = Vec::new();
    let mut running = prev_hash;
    let bar = progress(to - args.from + 1, "exporting");
    for record in log.scan(args.from) {
        let record = record.map_err(|e| e.to_string())?;
        if record.prev_hash != running {
            return Err(format!("position {}: the log's chain is broken here; run `encore audit verify`", record.position));
        }
        running = record.hash;
        let bytes = record.encode();
        assert_eq!(Record::decode(&bytes).as_ref(), Ok(&record), "an encoded record decodes to itself");
        body.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
        body.extend_from_slice(&bytes);
        bar.inc(1);
        if record.position >= to {
            break;
        }
    }
    bar.finish_and_clear();
    let header = Header { from: args.from, to, count: to - args.from + 1, prev_hash, range_hash: running, log_head: head.position, log_head_hash: head.hash };
    let mut file = encode_header(&header);
    file.extend_from_slice(&body);
    let checksum = *blake3::hash(&file).as_bytes();
    file.extend_from_slice(&checksum);
    super::super::write_atomically(&args.out, &file).map_err(|e| format!("cannot write --out {}: {e}", args.out.display()))?;
    if args.json {
        println!(
            "{{\"file\":{},\"from\":{},\"to\":{},\"records\":{},\"prev_hash\":{},\"range_head_hash\":{}}}",
            json_str(&args.out.display().to_string()),
            header.from,
            header.to,
            header.count,
            json_str(&hex(&header.prev_hash)),
            json_str(&hex(&header.range_hash))
        );
    } else {
        println!("exported positions {}..{} ({} records) to {}", header.from, header.to, header.count, args.out.display());
        println!("chain before: {}\nrange head:   {} (position {})", hex(&header.prev_hash), hex(&header.range_hash), header.to);
    }
    Ok(ExitCode::SUCCESS)
}

/// An export never lands inside the log it reads (it would replace one of
/// RocksDB's files) and never replaces a file unless asked to.
fn check_output(log: &Path, out: &Path, force: bool) -> Result<(), String> {
    let absolute = |p: &Path| std::fs::canonicalize(p).or_else(|_| std::env::current_dir().map(|d| d.join(p)));
    let log_dir = absolute(log).map_err(|e| format!("{}: {e}", log.display()))?;
    let out_dir = out.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let out_dir = absolute(out_dir).map_err(|e| format!("--out {}: {e}", out.display()))?;
    if out_dir.starts_with(&log_dir) {
        return Err(format!("--out {} is inside the log directory {}: choose a file elsewhere", out.display(), log.display()));
    }
    if out.exists() && !force {
        return Err(format!("--out {} exists; give --force to replace it", out.display()));
    }
    Ok(())
}

fn encode_header(h: &Header) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER_LEN);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&EXPORT_FORMAT_VERSION.to_le_bytes());
    for n in [h.from, h.to, h.count] {
        out.extend_from_slice(&n.to_le_bytes());
    }
    out.extend_from_slice(&h.prev_hash);
    out.extend_from_slice(&h.range_hash);
    out.extend_from_slice(&h.log_head.to_le_bytes());
    out.extend_from_slice(&h.log_head_hash);
    debug_assert_eq!(out.len(), HEADER_LEN);
    out
}

/// Bytes read in order, failing with what was being read.
struct Cursor<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8], String> {
        let end = self.at.checked_add(n).filter(|&e| e <= self.bytes.len()).ok_or(format!("the file ends inside {what}"))?;
        let out = &self.bytes[self.at..end];
        self.at = end;
        Ok(out)
    }
    fn u32(&mut self, what: &str) -> Result<u32, String> {
        let b = self.take(4, what)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn u64(&mut self, what: &str) -> Result<u64, String> {
        let mut a = [0u8; 8];
        a.copy_from_slice(self.take(8, what)?);
        Ok(u64::from_le_bytes(a))
    }
    fn hash(&mut self, what: &str) -> Result<Hash, String> {
        let mut a = [0u8; 32];
        a.copy_from_slice(self.take(32, what)?);
        Ok(a)
    }
}

fn decode_header(c: &mut Cursor<'_>) -> Result<Header, String> {
    if c.take(8, "the magic")? != MAGIC {
        return Err("not an encore export (bad magic)".into());
    }
    let version = c.u32("the format version")?;
    if version != EXPORT_FORMAT_VERSION {
        return Err(format!("export format version {version}; this build reads {EXPORT_FORMAT_VERSION}"));
    }
    let header = Header {
        from: c.u64("the header")?,
        to: c.u64("the header")?,
        count: c.u64("the header")?,
        prev_hash: c.hash("the header")?,
        range_hash: c.hash("the header")?,
        log_head: c.u64("the header")?,
        log_head_hash: c.hash("the header")?,
    };
    if header.from == 0 || header.to < header.from || header.count != header.to - header.from + 1 {
        return Err(format!("header range {}..{} with {} records is inconsistent", header.from, header.to, header.count));
    }
    Ok(header)
}

/// Checks the whole file; the first problem found, naming its position.
fn check(bytes: &[u8]) -> Result<Header, String> {
    let mut c = Cursor { bytes, at: 0 };
    let header = decode_header(&mut c)?;
    let mut running = header.prev_hash;
    let bar = progress(header.count, "verifying export");
    for position in header.from..=header.to {
        let len = c.u32(&format!("the length of record {position}"))? as usize;
        let record = Record::decode(c.take(len, &format!("record {position}"))?).map_err(|e| format!("position {position}: {e}"))?;
        if record.position != position {
            return Err(format!("position {position}: the record here says it is position {}", record.position));
        }
        if record.prev_hash != running {
            return Err(format!("position {position}: chain broken (does not link to the previous record's hash)"));
        }
        running = record.hash;
        bar.inc(1);
    }
    bar.finish_and_clear();
    if running != header.range_hash {
        return Err(format!("position {}: the chain ends at {}, not the range head hash {}", header.to, hex(&running), hex(&header.range_hash)));
    }
    let body_end = c.at;
    let checksum = c.hash("the checksum")?;
    if c.at != bytes.len() {
        return Err(format!("{} bytes after the checksum", bytes.len() - c.at));
    }
    if blake3::hash(&bytes[..body_end]).as_bytes() != &checksum {
        return Err("the file checksum does not match (header damaged?)".into());
    }
    Ok(header)
}

pub fn verify_export(args: VerifyExportArgs) -> Result<ExitCode, String> {
    let bytes = std::fs::read(&args.file).map_err(|e| format!("cannot read {}: {e}", args.file.display()))?;
    let result = check(&bytes);
    if args.json {
        let body = match &result {
            Ok(h) => format!(
                "\"intact\":true,\"from\":{},\"to\":{},\"records\":{},\"prev_hash\":{},\"range_head_hash\":{},\"log_head\":{},\"log_head_hash\":{}",
                h.from,
                h.to,
                h.count,
                json_str(&hex(&h.prev_hash)),
                json_str(&hex(&h.range_hash)),
                h.log_head,
                json_str(&hex(&h.log_head_hash))
            ),
            Err(problem) => format!("\"intact\":false,\"problem\":{}", json_str(problem)),
        };
        println!("{{\"file\":{},{body}}}", json_str(&args.file.display().to_string()));
    } else {
        match &result {
            Ok(h) => {
                println!("intact export: positions {}..{} ({} records)", h.from, h.to, h.count);
                println!("chain before: {}\nrange head:   {} (position {})", hex(&h.prev_hash), hex(&h.range_hash), h.to);
                println!("log head when exported: {} hash {}", h.log_head, hex(&h.log_head_hash));
            }
            Err(problem) => println!("DAMAGED export {}: {problem}", args.file.display()),
        }
    }
    Ok(if result.is_ok() { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header() -> Header {
        Header { from: 1, to: 1, count: 1, prev_hash: [0; 32], range_hash: [1; 32], log_head: 1, log_head_hash: [1; 32] }
    }

    #[test]
    fn a_header_round_trips() {
        let bytes = encode_header(&header());
        assert_eq!(bytes.len(), HEADER_LEN);
        assert_eq!(decode_header(&mut Cursor { bytes: &bytes, at: 0 }), Ok(header()));
    }

    #[test]
    fn files_that_are_not_exports_are_refused_with_the_reason() {
        assert_eq!(check(b"").unwrap_err(), "the file ends inside the magic");
        assert_eq!(check(b"NOTANEXPORT.....").unwrap_err(), "not an encore export (bad magic)");
        let mut newer = encode_header(&header());
        newer[8..12].copy_from_slice(&2u32.to_le_bytes());
        assert_eq!(check(&newer).unwrap_err(), "export format version 2; this build reads 1");
        let truncated = encode_header(&header());
        assert_eq!(check(&truncated).unwrap_err(), "the file ends inside the length of record 1");
        let mut inconsistent = encode_header(&header());
        inconsistent[28..36].copy_from_slice(&5u64.to_le_bytes());
        assert!(check(&inconsistent).unwrap_err().contains("inconsistent"));
    }
}
