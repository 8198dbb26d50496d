//! `audit export` and `audit verify-export`: a range of the log in a file that
//! can be verified anywhere, without the store. The format and its checks are
//! the ledger's (`encore_ledger::export`); this module reads the log, writes
//! the file and prints.

use std::path::Path;
use std::process::ExitCode;

use encore_ledger::export::{check_export, read_export_header, ExportHeader, ExportWriter};
use encore_server::deployment::files::read_bounded;

use super::{ExportArgs, VerifyExportArgs};
use crate::cmd::{hex, json_str, progress, verify::open_read_only};

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
    let mut writer = ExportWriter::new(args.from, prev_hash);
    let bar = progress(to - args.from + 1, "exporting");
    for record in log.scan(args.from) {
        let record = record.map_err(|e| e.to_string())?;
        writer.push(&record).map_err(|e| e.to_string())?;
        bar.inc(1);
        if record.position >= to {
            break;
        }
    }
    bar.finish_and_clear();
    let (header, file) = writer.finish(head.position, head.hash).map_err(|e| e.to_string())?;
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

/// Checks the whole file; the first problem found, naming its position.
fn check(bytes: &[u8]) -> Result<ExportHeader, String> {
    let bar = progress(read_export_header(bytes).map_or(0, |h| h.count), "verifying export");
    let result = check_export(bytes, &mut |_| bar.inc(1));
    bar.finish_and_clear();
    result.map_err(|e| e.to_string())
}

/// `verify-export` checks an export in memory: at most this much (about
/// 25 million records of a typical size).
const MAX_EXPORT_BYTES: u64 = 4 << 30;

pub fn verify_export(args: VerifyExportArgs) -> Result<ExitCode, String> {
    let bytes = read_bounded(&args.file, MAX_EXPORT_BYTES, "an export checked in memory").map_err(|e| format!("cannot read {}: {e}", args.file.display()))?;
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
