//! How a run is printed: one line per appended event, and tables of the
//! three projections rebuilt from the log. Used by the replay snapshots and by
//! `encore demo`/`encore scenario`, so what people read is what tests check.

use encore_actors::Recorded;
use encore_domain::Event;
use encore_ledger::Ledger;
use encore_projections::{rebuild, Balances, CharismaRankings, UsageHistory, UsageKind};

/// `@12 card-c1#3 LicenseWrittenToCard { card: .., .. }`
pub fn event_line(recorded: &Recorded) -> String {
    format!("@{} {}#{} {}", recorded.position, recorded.stream, recorded.version, event_body(&recorded.event))
}

/// An event's Debug form without the enum wrappers: `Charged { .. }`.
pub fn event_body(event: &Event) -> String {
    let debug = match event {
        Event::Licensing(e) => format!("{e:?}"),
        Event::Groups(e) => format!("{e:?}"),
    };
    strip_newtype(&debug).to_string()
}

/// `Charged(Charged { .. })` -> `Charged { .. }`.
fn strip_newtype(debug: &str) -> &str {
    let name: String = debug.chars().take_while(|c| c.is_alphanumeric()).collect();
    match debug[name.len()..].strip_prefix('(').and_then(|s| s.strip_suffix(')')) {
        Some(inner) if inner.starts_with(&name) => inner,
        _ => debug,
    }
}

/// The three projections, rebuilt from position 0, as tables.
pub fn projections(ledger: &Ledger) -> Result<String, String> {
    let balances = rebuild::<Balances>(ledger).map_err(|e| e.to_string())?;
    let usage = rebuild::<UsageHistory>(ledger).map_err(|e| e.to_string())?;
    let charisma = rebuild::<CharismaRankings>(ledger).map_err(|e| e.to_string())?;
    let mut out = String::new();
    out.push_str(&balances_table(&balances.state));
    out.push_str(&usage_table(&usage.state));
    out.push_str(&charisma_table(&charisma.state));
    Ok(out)
}

pub fn balances_table(balances: &Balances) -> String {
    let mut out = String::from("== balances ==\n");
    out.push_str(&format!("{:<14} {:>9} {:>9} {:>9} {:>9} {:>8}\n", "account", "balance", "loaded", "charged", "refunded", "declines"));
    for (account, b) in balances.accounts() {
        out.push_str(&format!(
            "{:<14} {:>9} {:>9} {:>9} {:>9} {:>8}\n",
            account.as_str(),
            b.balance.units(),
            b.loaded.units(),
            b.charged.units(),
            b.refunded.units(),
            b.declines
        ));
    }
    out
}

pub fn usage_table(usage: &UsageHistory) -> String {
    let mut out = String::from("== usage history ==\n");
    for account in usage.accounts() {
        out.push_str(&format!("{}:\n", account.as_str()));
        for u in usage.history(account) {
            let kind = match u.kind {
                UsageKind::Bought => "bought",
                UsageKind::Played => "played",
            };
            out.push_str(&format!("  @{:<5} {:<7} {:<14} at {}\n", u.position, kind, u.content.as_str(), u.station));
        }
    }
    let mut contents: Vec<_> = usage.accounts().flat_map(|a| usage.bought(a).cloned().collect::<Vec<_>>()).collect();
    contents.sort();
    contents.dedup();
    if !contents.is_empty() {
        out.push_str(&format!("{:<14} {:>9} {:>6}\n", "content", "purchases", "plays"));
        for content in contents {
            let c = usage.content(&content);
            out.push_str(&format!("{:<14} {:>9} {:>6}\n", content.as_str(), c.purchases, c.plays));
        }
    }
    out
}

pub fn charisma_table(charisma: &CharismaRankings) -> String {
    let mut out = String::from("== charisma ranking ==\n");
    out.push_str(&format!("{:<6} {:<16} {:>11}\n", "rank", "group", "reliability"));
    for s in charisma.standings() {
        out.push_str(&format!("{:<6} {:<16} {:>11}\n", s.rank, s.group.to_string(), s.reliability));
    }
    let list: Vec<String> = charisma.charisma_list().iter().map(ToString::to_string).collect();
    out.push_str(&format!("charisma list: [{}]\n", list.join(", ")));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn newtype_wrappers_are_stripped_only_when_they_repeat_the_name() {
        assert_eq!(strip_newtype("Charged(Charged { a: 1 })"), "Charged { a: 1 }");
        assert_eq!(strip_newtype("UserRegistered { user: x }"), "UserRegistered { user: x }");
        assert_eq!(strip_newtype("Foo(Bar)"), "Foo(Bar)");
    }
}
