//! Projections flattened to rows (`account acct-1` -> `balance=700 ...`) so
//! that any two states of a projection can be diffed per account, content or
//! group, and printed as JSON, the same way for all three.

use std::collections::{BTreeMap, BTreeSet};

use encore_projections::{Balances, CharismaRankings, Projection, UsageHistory, UsageKind};
use encore_replay_tests::transcript;

/// Key (what the row is about) to value (what the projection says about it).
pub type Rows = BTreeMap<String, String>;

/// A projection the audit can rebuild, diff and show.
pub trait Audited: Projection {
    fn rows(&self) -> Rows;
    fn table(&self) -> String;
}

impl Audited for Balances {
    fn rows(&self) -> Rows {
        self.accounts()
            .map(|(account, b)| {
                let value = format!(
                    "balance={} loaded={} charged={} refunded={} charges={} refunds={} declines={}",
                    b.balance.units(),
                    b.loaded.units(),
                    b.charged.units(),
                    b.refunded.units(),
                    b.charges,
                    b.refunds,
                    b.declines
                );
                (format!("account {}", account.as_str()), value)
            })
            .collect()
    }
    fn table(&self) -> String {
        transcript::balances_table(self)
    }
}

impl Audited for UsageHistory {
    fn rows(&self) -> Rows {
        let mut rows = Rows::new();
        let mut contents = BTreeSet::new();
        for account in self.accounts() {
            let (mut bought, mut played) = (0u64, 0u64);
            for usage in self.history(account) {
                contents.insert(usage.content.clone());
                match usage.kind {
                    UsageKind::Bought => bought += 1,
                    _ => played += 1,
                }
            }
            rows.insert(format!("account {}", account.as_str()), format!("bought={bought} played={played}"));
        }
        for content in contents {
            let c = self.content(&content);
            let value = format!("purchases={} plays={} device_plays={} shares={}", c.purchases, c.plays, c.device_plays, c.shares);
            rows.insert(format!("content {}", content.as_str()), value);
        }
        rows
    }
    fn table(&self) -> String {
        transcript::usage_table(self)
    }
}

impl Audited for CharismaRankings {
    fn rows(&self) -> Rows {
        let mut rows = Rows::new();
        for standing in self.standings() {
            let reward = self.reward_for(&standing.group).map(|bp| bp.to_string()).unwrap_or_else(|| "none".into());
            let value = format!("reliability={} rank={} reward={reward}", standing.reliability, standing.rank);
            rows.insert(format!("group {}", standing.group), value);
        }
        let list: Vec<String> = self.charisma_list().iter().map(ToString::to_string).collect();
        rows.insert("charisma list".into(), format!("[{}]", list.join(", ")));
        rows
    }
    fn table(&self) -> String {
        transcript::charisma_table(self)
    }
}

/// One row that differs: its key, the stored value and the rebuilt one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowDiff {
    pub key: String,
    pub stored: Option<String>,
    pub rebuilt: Option<String>,
}

/// The rows whose values differ (or exist on one side only), in key order.
pub fn diff(stored: &Rows, rebuilt: &Rows) -> Vec<RowDiff> {
    let keys: BTreeSet<&String> = stored.keys().chain(rebuilt.keys()).collect();
    keys.into_iter()
        .filter(|k| stored.get(*k) != rebuilt.get(*k))
        .map(|k| RowDiff { key: k.clone(), stored: stored.get(k).cloned(), rebuilt: rebuilt.get(k).cloned() })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(pairs: &[(&str, &str)]) -> Rows {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn diff_reports_changed_missing_and_extra_rows_only() {
        let stored = rows(&[("a", "1"), ("b", "2"), ("c", "3")]);
        let rebuilt = rows(&[("a", "1"), ("b", "5"), ("d", "4")]);
        let keys: Vec<_> = diff(&stored, &rebuilt).into_iter().map(|d| (d.key, d.stored, d.rebuilt)).collect();
        assert_eq!(keys, vec![("b".into(), Some("2".into()), Some("5".into())), ("c".into(), Some("3".into()), None), ("d".into(), None, Some("4".into())),]);
    }
}
