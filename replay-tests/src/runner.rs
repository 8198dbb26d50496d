//! The step loop: runs a script on a fresh store through the real actor
//! runtime, checks each `=>` outcome and `expect` line, and builds the
//! transcript. The first failure stops the run with
//! `FILE:LINE: expected ..., got ...`.

use std::path::Path;
use std::sync::Arc;

use encore_actors::{ManualClock, Runtime, RuntimeConfig, RuntimeError, Secrets};

use encore_domain::{EventCodec, Timestamp};
use encore_ledger::{Ledger, LedgerOptions};

use crate::args::Usage;
use crate::names::Names;
use crate::script::{Outcome, ParseError, Script, Step};
use crate::transcript;
use crate::verbs::{self, Done, World};

/// Scripts start at this moment unless they set the clock: 2026-01-01T00:00:00Z.
pub const START: Timestamp = Timestamp::from_secs(1_767_225_600);

/// What a run printed: each command, its events, and the final projections.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transcript {
    pub text: String,
}

/// Why a run stopped.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RunError {
    #[error(transparent)]
    Parse(#[from] ParseError),
    #[error("{file}:{line}: expected {expected}, got {got}")]
    Expectation { file: String, line: usize, expected: String, got: String },
    #[error("{file}:{line}: {message}")]
    Usage { file: String, line: usize, message: String },
    #[error("{file}: {message}")]
    Store { file: String, message: String },
}

/// Runs a script on a fresh store in a temporary directory, removed afterwards.
pub fn run_script(script: &Script) -> Result<Transcript, RunError> {
    let dir = tempfile::Builder::new().prefix("encore-scenario-").tempdir().map_err(|e| store_error(script, e.to_string()))?;
    run_script_in(script, &dir.path().join("log"))
}

/// Runs a script on the store at `db` (a new directory is best: scripts
/// assume they start from an empty log).
pub fn run_script_in(script: &Script, db: &Path) -> Result<Transcript, RunError> {
    let ledger = Ledger::open(db, LedgerOptions::default()).map_err(|e| store_error(script, e.to_string()))?;
    if ledger.head().position != 0 {
        return Err(store_error(script, format!("{} already holds a log; scenarios need an empty store", db.display())));
    }
    let system = actix_rt::System::new();
    let result = system.block_on(run_steps(script, ledger.clone()));
    let finished = result.and_then(|(text, names)| finish(script, &ledger, text, &names));
    drop(ledger);
    finished
}

async fn run_steps(script: &Script, ledger: Ledger) -> Result<(String, Names), RunError> {
    let clock = Arc::new(ManualClock::new(START));
    let mut session = Session::open(ledger, clock.clone(), clock, Secrets::from_seed(b"encore scenarios"));
    let mut text = String::new();
    for step in &script.steps {
        text.push_str(&session.step(script, step).await?);
    }
    let mut head = String::from("names:\n");
    for (name, real) in session.world.names.table() {
        head.push_str(&format!("  {name} = {real}\n"));
    }
    Ok((format!("{head}\n{text}"), session.close()))
}

/// A runtime that executes scenario lines one at a time: the scenario runner
/// feeds it a script; the kiosk feeds it what the operator and customers type.
pub struct Session {
    world: World,
}

impl Session {
    /// Starts a runtime over `ledger`. `clock` is what the runtime reads;
    /// `manual` is what `clock set/advance` move (scenarios), if anything.
    pub fn open(ledger: Ledger, clock: Arc<dyn encore_actors::Clock>, manual: Arc<ManualClock>, secrets: Secrets) -> Session {
        let runtime = Runtime::open(ledger, clock, secrets, RuntimeConfig::default());
        Session { world: World::new(runtime, manual, Names::default()) }
    }

    /// Runs one step and returns its transcript entry, or why it failed.
    pub async fn step(&mut self, script: &Script, step: &Step) -> Result<String, RunError> {
        let result = verbs::dispatch(&mut self.world, step).await;
        check(script, step, result, &self.world.names)
    }

    /// Replaces real identifiers in `text` with the names the session used.
    pub fn readable(&self, text: &str) -> String {
        self.world.names.readable(text)
    }

    pub fn ledger(&self) -> &Ledger {
        self.world.runtime.ledger()
    }

    /// Stops the runtime and returns the names it used.
    pub fn close(self) -> Names {
        let World { runtime, names, .. } = self.world;
        runtime.shutdown();
        names
    }
}

/// What a step did, or why it failed.
pub(crate) enum Failure {
    Usage(Usage),
    Runtime(RuntimeError),
    Expectation { expected: String, got: String },
}

impl From<Usage> for Failure {
    fn from(u: Usage) -> Self {
        Failure::Usage(u)
    }
}

impl From<RuntimeError> for Failure {
    fn from(e: RuntimeError) -> Self {
        Failure::Runtime(e)
    }
}

/// Compares a step's result with its `=>` outcome and renders its transcript entry.
fn check(script: &Script, step: &Step, result: Result<Done, Failure>, names: &Names) -> Result<String, RunError> {
    let file = script.file.display().to_string();
    let fail = |expected: String, got: String| RunError::Expectation { file: file.clone(), line: step.line, expected, got };
    let mut entry = format!("{:>4}  {}\n", step.line, step.words.join(" "));
    match (result, &step.expect) {
        (Err(Failure::Usage(u)), _) => return Err(RunError::Usage { file, line: step.line, message: u.0 }),
        (Err(Failure::Expectation { expected, got }), _) => return Err(fail(expected, names.readable(&got))),
        (Err(Failure::Runtime(e)), Some(Outcome::Error(kind))) => {
            let got = error_kind(&e);
            if got != *kind {
                return Err(fail(format!("error {kind}"), format!("error {got}: {}", names.readable(&e.to_string()))));
            }
            entry.push_str(&format!("        ! error {got}: {}\n", names.readable(&e.to_string())));
        }
        (Err(Failure::Runtime(e)), _) => {
            return Err(fail(describe(step.expect.as_ref()), format!("error {}: {}", error_kind(&e), names.readable(&e.to_string()))))
        }
        (Ok(done), expect) => {
            let types: Vec<&str> = done.events.iter().map(|r| r.event.event_type()).collect();
            let matches = match expect {
                None | Some(Outcome::Ok) => true,
                Some(Outcome::Nothing) => types.is_empty(),
                Some(Outcome::Events(want)) => want.iter().map(String::as_str).eq(types.iter().copied()),
                Some(Outcome::Error(_)) => false,
            };
            if !matches {
                let got = if types.is_empty() { "nothing".to_string() } else { types.join(" ") };
                return Err(fail(describe(expect.as_ref()), got));
            }
            if let Some(note) = &done.note {
                entry.push_str(&format!("        = {}\n", names.readable(note)));
            }
            for recorded in &done.events {
                entry.push_str(&format!("        {}\n", names.readable(&transcript::event_line(recorded))));
            }
        }
    }
    Ok(entry)
}

fn describe(expect: Option<&Outcome>) -> String {
    match expect {
        None | Some(Outcome::Ok) => "success".into(),
        Some(Outcome::Nothing) => "nothing appended".into(),
        Some(Outcome::Events(e)) => e.join(" "),
        Some(Outcome::Error(k)) => format!("error {k}"),
    }
}

/// The innermost variant name of an error (`Load(ZeroAmount { .. })` is
/// `ZeroAmount`): what `=> error KIND` names.
pub fn error_kind(error: &RuntimeError) -> String {
    let debug = format!("{error:?}");
    let mut kind = String::new();
    let mut rest = debug.as_str();
    loop {
        let ident: String = rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
        if ident.is_empty() {
            break;
        }
        kind = ident.clone();
        rest = &rest[ident.len()..];
        match rest.strip_prefix('(') {
            Some(inner) => rest = inner,
            None => break,
        }
    }
    kind
}

fn finish(script: &Script, ledger: &Ledger, steps: String, names: &Names) -> Result<Transcript, RunError> {
    let projections = names.readable(&transcript::projections(ledger).map_err(|e| store_error(script, e))?);
    let report = ledger.verify().map_err(|e| store_error(script, e.to_string()))?;
    if let Some(problem) = report.first_problem() {
        return Err(store_error(script, format!("the log does not verify after the run: {problem}")));
    }
    Ok(Transcript { text: format!("{steps}\n{projections}") })
}

fn store_error(script: &Script, message: String) -> RunError {
    RunError::Store { file: script.file.display().to_string(), message }
}
