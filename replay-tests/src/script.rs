//! Scenario scripts, parsed: one command per line, `#` starts a comment,
//! blank lines are ignored. A line is words, optionally followed by `=>` and
//! what the command must produce:
//!
//! ```text
//! buy kiosk-1 song-1                 => Charged LicenseIssued LicenseWrittenToCard
//! load acct-1 0                      => error ZeroAmount
//! play card-1 song-1 on player-1     => refused PlayRefused
//! expect balance acct-1 700
//! ```
//!
//! Parsing knows nothing about what the words mean: `run.rs` dispatches on
//! them. The full language is documented in docs/SCENARIOS.md.

use std::path::{Path, PathBuf};

/// A parsed script.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Script {
    pub file: PathBuf,
    pub steps: Vec<Step>,
}

/// One command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// 1-based line number in the file.
    pub line: usize,
    pub words: Vec<String>,
    pub expect: Option<Outcome>,
}

/// What a command must produce (the part after `=>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// `=> ok`: succeeds, whatever it appends.
    Ok,
    /// `=> nothing`: succeeds and appends nothing.
    Nothing,
    /// `=> A B C`: succeeds and appends exactly these event types, in order.
    Events(Vec<String>),
    /// `=> error Kind`: fails with this error kind and appends nothing.
    Error(String),
}

/// Why a script could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseError {
    #[error("{file}:{line}: `=>` with nothing after it")]
    EmptyExpectation { file: String, line: usize },
    #[error("{file}:{line}: `=> error` needs an error kind")]
    MissingErrorKind { file: String, line: usize },
    #[error("{file}:{line}: `=>` without a command before it")]
    ExpectationWithoutCommand { file: String, line: usize },
    #[error("{file}: cannot read: {reason}")]
    Unreadable { file: String, reason: String },
}

/// The largest scenario script `Script::load` reads.
pub const MAX_SCRIPT_BYTES: u64 = 16 << 20;

impl Script {
    /// Reads a script of at most [`MAX_SCRIPT_BYTES`] (a larger file, or an
    /// endless one like `/dev/zero`, is refused, not read into memory).
    pub fn load(path: &Path) -> Result<Script, ParseError> {
        use std::io::Read;
        let unreadable = |reason: String| ParseError::Unreadable { file: path.display().to_string(), reason };
        let file = std::fs::File::open(path).map_err(|e| unreadable(e.to_string()))?;
        let mut bytes = Vec::new();
        file.take(MAX_SCRIPT_BYTES + 1).read_to_end(&mut bytes).map_err(|e| unreadable(e.to_string()))?;
        if bytes.len() as u64 > MAX_SCRIPT_BYTES {
            return Err(unreadable(format!("larger than {MAX_SCRIPT_BYTES} bytes, the limit for a script")));
        }
        let text = String::from_utf8(bytes).map_err(|e| unreadable(format!("not UTF-8 text ({e})")))?;
        Script::parse(path, &text)
    }

    pub fn parse(file: &Path, text: &str) -> Result<Script, ParseError> {
        let mut steps = Vec::new();
        for (index, raw) in text.lines().enumerate() {
            if let Some(step) = parse_line(file, index + 1, raw)? {
                steps.push(step);
            }
        }
        Ok(Script { file: file.to_path_buf(), steps })
    }
}

fn parse_line(file: &Path, line: usize, raw: &str) -> Result<Option<Step>, ParseError> {
    let code = raw.split('#').next().unwrap_or("").trim();
    if code.is_empty() {
        return Ok(None);
    }
    let name = || file.display().to_string();
    let (command, expect) = match code.split_once("=>") {
        None => (code, None),
        Some((command, outcome)) => (
            command,
            Some(parse_outcome(outcome).ok_or_else(|| {
                if outcome.trim() == "error" {
                    ParseError::MissingErrorKind { file: name(), line }
                } else {
                    ParseError::EmptyExpectation { file: name(), line }
                }
            })?),
        ),
    };
    let words: Vec<String> = command.split_whitespace().map(str::to_string).collect();
    if words.is_empty() {
        return Err(ParseError::ExpectationWithoutCommand { file: name(), line });
    }
    Ok(Some(Step { line, words, expect }))
}

fn parse_outcome(text: &str) -> Option<Outcome> {
    let words: Vec<&str> = text.split(|c: char| c.is_whitespace() || c == ',').filter(|w| !w.is_empty()).collect();
    match words.as_slice() {
        [] => None,
        ["ok"] => Some(Outcome::Ok),
        ["nothing"] => Some(Outcome::Nothing),
        ["error"] => None,
        ["error", kind] => Some(Outcome::Error((*kind).to_string())),
        events => Some(Outcome::Events(events.iter().map(|s| s.to_string()).collect())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Vec<Step>, ParseError> {
        Script::parse(Path::new("t.scn"), text).map(|s| s.steps)
    }

    #[test]
    fn comments_and_blank_lines_are_ignored_and_lines_keep_their_numbers() {
        let steps = parse("# a story\n\nload acct 5   # top up\n").unwrap();
        assert_eq!(steps, vec![Step { line: 3, words: vec!["load".into(), "acct".into(), "5".into()], expect: None }]);
    }

    #[test]
    fn every_outcome_form_parses() {
        let steps = parse("a => ok\nb => nothing\nc => X, Y Z\nd => error Kind\n").unwrap();
        let outcomes: Vec<_> = steps.into_iter().map(|s| s.expect.unwrap()).collect();
        assert_eq!(outcomes, vec![Outcome::Ok, Outcome::Nothing, Outcome::Events(vec!["X".into(), "Y".into(), "Z".into()]), Outcome::Error("Kind".into())]);
    }

    #[test]
    fn malformed_expectations_name_the_line() {
        assert_eq!(parse("\nload x =>").unwrap_err(), ParseError::EmptyExpectation { file: "t.scn".into(), line: 2 });
        assert_eq!(parse("x => error").unwrap_err(), ParseError::MissingErrorKind { file: "t.scn".into(), line: 1 });
        assert_eq!(parse("=> ok").unwrap_err(), ParseError::ExpectationWithoutCommand { file: "t.scn".into(), line: 1 });
    }
}
