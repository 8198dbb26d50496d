//! Reading a command's words: positional words, `key value` options,
//! amounts, counts, durations and dates. Every failure names the word.

use encore_domain::{Money, Timestamp};

/// A script mistake (not a failed expectation): unknown command, bad number...
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Usage(pub String);

impl std::fmt::Display for Usage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

pub fn usage<T>(message: impl Into<String>) -> Result<T, Usage> {
    Err(Usage(message.into()))
}

/// The words of one command.
pub struct Args<'a> {
    words: &'a [String],
}

impl<'a> Args<'a> {
    pub fn new(words: &'a [String]) -> Self {
        Args { words }
    }

    /// The word at `index`, or a usage error naming what was expected there.
    pub fn word(&self, index: usize, what: &str) -> Result<&'a str, Usage> {
        match self.words.get(index) {
            Some(w) => Ok(w.as_str()),
            None => usage(format!("missing {what} (word {})", index + 1)),
        }
    }

    /// The word after `key` anywhere in the command (`price 300`).
    pub fn option(&self, key: &str) -> Option<&'a str> {
        self.words.windows(2).find(|w| w[0] == key).map(|w| w[1].as_str())
    }

    pub fn flag(&self, key: &str) -> bool {
        self.words.iter().any(|w| w == key)
    }

    pub fn len(&self) -> usize {
        self.words.len()
    }

    pub fn is_empty(&self) -> bool {
        self.words.is_empty()
    }

    /// Every word from `index` on.
    pub fn rest(&self, index: usize) -> &'a [String] {
        self.words.get(index..).unwrap_or(&[])
    }
}

pub fn number(word: &str, what: &str) -> Result<u64, Usage> {
    word.replace('_', "").parse().or_else(|_| usage(format!("{what} {word:?} is not a whole number")))
}

/// A whole number that must fit in 32 bits: a larger one is a usage error
/// naming it, never truncated (`valid 4294967297` is not one day).
pub fn number_u32(word: &str, what: &str) -> Result<u32, Usage> {
    let n = number(word, what)?;
    u32::try_from(n).or_else(|_| usage(format!("{what} {n} is too large (at most {})", u32::MAX)))
}

pub fn money(word: &str) -> Result<Money, Usage> {
    number(word, "amount").map(Money::minor)
}

/// `N seconds|minutes|hours|days` (singular too) as seconds.
pub fn duration(amount: &str, unit: &str) -> Result<i64, Usage> {
    let n = number(amount, "duration")?;
    let n = i64::try_from(n).or_else(|_| usage(format!("duration {n} is too large")))?;
    let per = match unit.trim_end_matches('s') {
        "second" => 1,
        "minute" => 60,
        "hour" => 3_600,
        "day" => 86_400,
        _ => return usage(format!("unknown time unit {unit:?}: use seconds, minutes, hours or days")),
    };
    Ok(n.saturating_mul(per))
}

/// `2026-01-01` or `2026-01-01T10:00:00Z`.
pub fn date(word: &str) -> Result<Timestamp, Usage> {
    if let Ok(at) = chrono::DateTime::parse_from_rfc3339(word) {
        return Ok(Timestamp::from_micros(at.timestamp_micros()));
    }
    match chrono::NaiveDate::parse_from_str(word, "%Y-%m-%d").ok().and_then(|d| d.and_hms_opt(0, 0, 0)) {
        Some(at) => Ok(Timestamp::from_micros(at.and_utc().timestamp_micros())),
        None => usage(format!("date {word:?} is neither YYYY-MM-DD nor RFC 3339")),
    }
}

pub fn on_off(word: &str) -> Result<bool, Usage> {
    match word {
        "on" | "yes" => Ok(true),
        "off" | "no" => Ok(false),
        _ => usage(format!("{word:?} is not on/off")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_dates_and_amounts() {
        assert_eq!(duration("3", "days"), Ok(3 * 86_400));
        assert_eq!(duration("1", "minute"), Ok(60));
        assert!(duration("1", "fortnight").is_err());
        assert_eq!(date("1970-01-02").map(|t| t.micros()), Ok(86_400_000_000));
        assert_eq!(date("1970-01-01T00:00:01Z").map(|t| t.micros()), Ok(1_000_000));
        assert!(money("-5").is_err());
        assert_eq!(money("1_000"), Ok(Money::minor(1000)));
    }
}
