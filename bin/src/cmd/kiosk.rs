//! `encore kiosk --data DIR [--script FILE] [--kiosk NAME]`: the embedded
//! runtime of a license vending machine. DIR is a deployment of its own
//! (`encore init --data DIR`): its log (a restart continues it) and its
//! keystore, whose secrets were drawn at random when it was made; no secret
//! or seed is taken from the command line, the environment or the source.
//! It runs the actors on the system clock and reads one command per line
//! from a script, or stdin (a terminal or a pipe):
//!
//! * customers: `insert CARD`, `choose CONTENT`, `buy`, `eject`, `catalogue`,
//!   `help`, `quit`; these become `kiosk insert/buy/eject` scenario lines for
//!   this kiosk;
//! * the operator: `account open`, `load`, `card issue`, `content list`, in
//!   scenario syntax (docs/SCENARIOS.md), `=> ...` expectations included.
//!
//! `clock` lines are refused: a kiosk's time is the system clock. Each result
//! prints as one readable line. Exit 1 if a line of a `--script` failed.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use encore_actors::{ManualClock, SystemClock};
use encore_domain::licensing::LicensingEvent;
use encore_domain::{Event, EventCodec};
use encore_ledger::{Ledger, LedgerOptions};
use encore_replay_tests::{Script, Session, START};

const HELP: &str = "customer: insert CARD | choose CONTENT | buy | eject | catalogue | help | quit; \
operator: account open ACCOUNT [balance N] | load ACCOUNT N | card issue CARD account ACCOUNT | content list CONTENT price N uses N [valid N days]";

#[derive(clap::Args)]
pub struct Args {
    /// The kiosk's deployment directory (`encore init --data DIR` makes one; a restart continues its log).
    #[arg(long)]
    pub data: PathBuf,
    /// Read commands from this file instead of stdin.
    #[arg(long, value_name = "FILE")]
    pub script: Option<PathBuf>,
    /// This kiosk's name.
    #[arg(long, value_name = "NAME", default_value = "kiosk-1")]
    pub kiosk: String,
}

/// What the kiosk remembers between lines.
struct Kiosk {
    name: String,
    source: String,
    chosen: Option<String>,
    failures: usize,
}

/// A kiosk script of at most 16 MiB of UTF-8 text (an endless file is refused, not read into memory).
fn read_bounded(path: &std::path::Path) -> Result<String, String> {
    use std::io::Read;
    const LIMIT: u64 = 16 << 20;
    let mut bytes = Vec::new();
    std::fs::File::open(path).and_then(|f| f.take(LIMIT + 1).read_to_end(&mut bytes)).map_err(|e| e.to_string())?;
    if bytes.len() as u64 > LIMIT {
        return Err(format!("larger than {LIMIT} bytes, the limit for a script"));
    }
    String::from_utf8(bytes).map_err(|e| format!("not UTF-8 text ({e})"))
}

pub fn run(args: Args) -> Result<ExitCode, String> {
    let script_lines: Option<Vec<String>> = match &args.script {
        Some(path) => {
            let text = read_bounded(path).map_err(|e| format!("cannot read --script {}: {e}", path.display()))?;
            Some(text.lines().map(str::to_string).collect())
        }
        None => None,
    };
    let deployment = encore_server::deployment::open(&args.data).map_err(|e| e.to_string())?;
    let secrets = encore_server::deployment::keystore::load(&deployment.keystore()).map_err(|e| e.to_string())?;
    let log = deployment.log();
    let ledger = Ledger::open(&log, LedgerOptions::default()).map_err(|e| format!("cannot open the kiosk log {}: {e}", log.display()))?;
    let source = args.script.as_ref().map(|p| p.display().to_string()).unwrap_or_else(|| "stdin".into());
    let mut kiosk = Kiosk { name: args.kiosk.clone(), source, chosen: None, failures: 0 };
    println!("kiosk {} on {} (log at position {})", args.kiosk, log.display(), ledger.head().position);
    let system = actix_rt::System::new();
    system.block_on(async {
        let mut session = Session::open(ledger, Arc::new(SystemClock), Arc::new(ManualClock::new(START)), secrets);
        let mut number = 0;
        loop {
            let line = match &script_lines {
                Some(lines) => lines.get(number).cloned(),
                None => read_stdin_line().await,
            };
            number += 1;
            let Some(line) = line else { break };
            if !handle(&mut session, &mut kiosk, number, &line).await {
                break;
            }
        }
        session.close();
    });
    Ok(if args.script.is_some() && kiosk.failures > 0 { ExitCode::from(1) } else { ExitCode::SUCCESS })
}

async fn read_stdin_line() -> Option<String> {
    let read = actix_rt::task::spawn_blocking(|| {
        let mut line = String::new();
        match std::io::stdin().read_line(&mut line) {
            Ok(0) | Err(_) => None,
            Ok(_) => Some(line),
        }
    });
    read.await.ok().flatten()
}

/// Runs one input line; false when the kiosk should stop.
async fn handle(session: &mut Session, kiosk: &mut Kiosk, number: usize, raw: &str) -> bool {
    let code = raw.split('#').next().unwrap_or("").trim();
    let words: Vec<&str> = code.split_whitespace().collect();
    let Some(first) = words.first() else { return true };
    let scenario_line = match (*first, words.len()) {
        ("quit" | "exit", _) => return false,
        ("help", _) => {
            println!("{HELP}");
            return true;
        }
        ("catalogue", _) => {
            catalogue(session).await;
            return true;
        }
        ("insert", 2) => format!("kiosk insert {} {}", kiosk.name, words[1]),
        ("choose", 2) => {
            kiosk.chosen = Some(words[1].to_string());
            println!("{code}: chosen {}", words[1]);
            return true;
        }
        ("buy", 1) => match &kiosk.chosen {
            Some(content) => {
                let sale = format!("{}-sale-{}", kiosk.name, session.ledger().head().position + 1);
                format!("kiosk buy {} {content} as {sale}", kiosk.name)
            }
            None => return fail(kiosk, code, "choose a content first (`choose CONTENT`; `catalogue` lists them)"),
        },
        ("eject", 1) => format!("kiosk eject {}", kiosk.name),
        ("clock", _) => return fail(kiosk, code, "clock commands are refused: a kiosk runs on the system clock"),
        ("account" | "load" | "card" | "content", _) => code.to_string(),
        ("insert" | "choose" | "buy" | "eject", _) => return fail(kiosk, code, &format!("{first}: wrong number of words (type help)")),
        (other, _) => return fail(kiosk, code, &format!("unknown command {other:?} (type help)")),
    };
    run_line(session, kiosk, number, code, &scenario_line).await;
    if *first == "eject" {
        kiosk.chosen = None;
    }
    true
}

fn fail(kiosk: &mut Kiosk, label: &str, message: &str) -> bool {
    kiosk.failures += 1;
    println!("{label}: error: {message}");
    true
}

/// Runs a scenario line and prints its result as one line.
async fn run_line(session: &mut Session, kiosk: &mut Kiosk, number: usize, label: &str, line: &str) {
    let parsed = Script::parse(Path::new(&kiosk.source), line);
    let script = match parsed {
        Ok(script) => script,
        Err(e) => {
            fail(kiosk, label, &e.to_string());
            return;
        }
    };
    let Some(mut step) = script.steps.first().cloned() else { return };
    step.line = number;
    match session.step(&script, &step).await {
        Ok(entry) => println!("{label}: {}", summary(&entry)),
        Err(e) => {
            let message = crate::cmd::one_line(&session.readable(&e.to_string()));
            fail(kiosk, label, &message);
        }
    }
}

/// A transcript entry (command, `= note`, `@pos stream#v Event {..}` lines)
/// as one line: the event types, then the note.
fn summary(entry: &str) -> String {
    let mut events = Vec::new();
    let mut notes = Vec::new();
    for line in entry.lines().skip(1).map(str::trim) {
        if let Some(note) = line.strip_prefix("= ") {
            notes.push(note.to_string());
        } else if line.starts_with('@') {
            events.extend(line.split_whitespace().nth(2).map(str::to_string));
        }
    }
    let events = if events.is_empty() { "nothing appended".to_string() } else { events.join(" ") };
    match notes.is_empty() {
        true => events,
        false => format!("{events} ({})", notes.join("; ")),
    }
}

/// Every content listed in this kiosk's log, with price and use condition.
async fn catalogue(session: &Session) {
    let ledger = session.ledger().clone();
    let listed = actix_rt::task::spawn_blocking(move || listed(&ledger)).await;
    match listed {
        Ok(Ok(items)) if items.is_empty() => println!("catalogue: empty (the operator lists content with `content list`)"),
        Ok(Ok(items)) => {
            println!("catalogue: {} items", items.len());
            for (content, terms) in items {
                println!("  {:<14} {terms}", session.readable(&content));
            }
        }
        Ok(Err(e)) => println!("catalogue: error: {e}"),
        Err(e) => println!("catalogue: error: {e}"),
    }
}

/// (content id, price and use condition) for each `ContentListed`, in log order.
fn listed(ledger: &Ledger) -> Result<Vec<(String, String)>, String> {
    let mut items = Vec::new();
    for record in ledger.scan(1) {
        let record = record.map_err(|e| e.to_string())?;
        if record.event_type != "ContentListed" {
            continue;
        }
        if let Ok(Event::Licensing(LicensingEvent::ContentListed(e))) = Event::decode_payload(&record.event_type, &record.payload) {
            let valid = e.condition.valid_days.map(|d| format!(", valid {d} days")).unwrap_or_default();
            items.push((e.content.as_str().to_string(), format!("price {:>6}  {} uses{valid}", e.price.units(), e.condition.uses)));
        }
    }
    Ok(items)
}
