//! Balances: per accounting id, the balance the accounting server reported,
//! and the totals loaded, charged and refunded, with counts of charges,
//! refunds and declines (DOMAIN.md Projections; 002 claims 1-2, 7).
//!
//! The balance is taken from the events (`balance_after`), the totals are
//! summed from the amounts, so [`Balances::check_invariant`] is a real check of
//! `loaded - charged + refunded = balance`, not a tautology.

use encore_domain::ids::AccountId;
use encore_domain::licensing::LicensingEvent;
use encore_domain::{Event, Money, Timestamp};
use minicbor::{Decode, Encode};

use crate::error::StateDecodeError;
use crate::id_map::IdMap;
use crate::projection::{decode_state, encode_state, encodes_to, EventContext, Projection};

/// One account's money, in integer minor units.
#[derive(Debug, Clone, Default, PartialEq, Eq, Encode, Decode)]
pub struct AccountBalance {
    #[n(0)]
    pub balance: Money,
    #[n(1)]
    pub loaded: Money,
    #[n(2)]
    pub charged: Money,
    #[n(3)]
    pub refunded: Money,
    #[n(4)]
    pub charges: u64,
    #[n(5)]
    pub refunds: u64,
    #[n(6)]
    pub declines: u64,
    #[n(7)]
    pub opened_at: Option<Timestamp>,
    #[n(8)]
    pub expires_at: Option<Timestamp>,
}

impl AccountBalance {
    /// `loaded - charged + refunded`, in signed arithmetic that cannot overflow.
    pub fn expected_balance(&self) -> i128 {
        i128::from(self.loaded.units()) - i128::from(self.charged.units()) + i128::from(self.refunded.units())
    }
}

/// An account whose totals disagree with its balance.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("account {account}: loaded {loaded} - charged {charged} + refunded {refunded} != balance {balance}")]
pub struct BalanceMismatch {
    pub account: AccountId,
    pub loaded: Money,
    pub charged: Money,
    pub refunded: Money,
    pub balance: Money,
}

/// Per accounting id balances.
#[derive(Debug, Clone, Default, PartialEq, Eq, Encode, Decode)]
pub struct Balances {
    #[n(0)]
    accounts: IdMap<AccountId, AccountBalance>,
}

impl Balances {
    pub fn get(&self, account: &AccountId) -> Option<&AccountBalance> {
        self.accounts.get(account)
    }

    /// Every account, in accounting id order.
    pub fn accounts(&self) -> impl Iterator<Item = (&AccountId, &AccountBalance)> + '_ {
        self.accounts.iter()
    }

    pub fn len(&self) -> usize {
        self.accounts.len()
    }

    pub fn is_empty(&self) -> bool {
        self.accounts.is_empty()
    }

    /// Sum of every balance (money in the system).
    pub fn total_balance(&self) -> u128 {
        self.accounts.values_unordered().map(|a| u128::from(a.balance.units())).sum()
    }

    /// Checks `loaded - charged + refunded = balance` for every account.
    pub fn check_invariant(&self) -> Result<(), BalanceMismatch> {
        match self.accounts.iter().find(|(_, a)| a.expected_balance() != i128::from(a.balance.units())) {
            None => Ok(()),
            Some((account, a)) => {
                Err(BalanceMismatch { account: account.clone(), loaded: a.loaded, charged: a.charged, refunded: a.refunded, balance: a.balance })
            }
        }
    }

    fn entry(&mut self, account: &AccountId) -> &mut AccountBalance {
        self.accounts.entry_or_default(account)
    }
}

/// Totals saturate instead of wrapping; a saturated total breaks the invariant
/// check, which is where such a log would be noticed.
fn add(a: Money, b: Money) -> Money {
    a.checked_add(b).unwrap_or(Money(u64::MAX))
}

impl Projection for Balances {
    const NAME: &'static str = "balances";

    fn folds(event_type: &str) -> bool {
        matches!(event_type, "AccountOpened" | "CardLoaded" | "Charged" | "ChargeDeclined" | "Refunded")
    }

    fn apply(&mut self, _at: &EventContext<'_>, event: &Event) {
        let Event::Licensing(event) = event else { return };
        match event {
            LicensingEvent::AccountOpened(e) => {
                let a = self.entry(&e.account);
                a.opened_at = Some(e.at);
                a.expires_at = e.expires_at;
            }
            LicensingEvent::CardLoaded(e) => {
                let a = self.entry(&e.account);
                a.loaded = add(a.loaded, e.amount);
                a.balance = e.balance_after;
            }
            LicensingEvent::Charged(e) => {
                let a = self.entry(&e.account);
                a.charged = add(a.charged, e.amount);
                a.charges += 1;
                a.balance = e.balance_after;
            }
            LicensingEvent::ChargeDeclined(e) => self.entry(&e.account).declines += 1,
            LicensingEvent::Refunded(e) => {
                let a = self.entry(&e.account);
                a.refunded = add(a.refunded, e.amount);
                a.refunds += 1;
                a.balance = e.balance_after;
            }
            _ => {}
        }
    }

    fn encode(&self) -> Vec<u8> {
        encode_state(self)
    }

    fn encodes_to(&self, bytes: &[u8]) -> bool {
        encodes_to(self, bytes)
    }

    fn decode(bytes: &[u8]) -> Result<Self, StateDecodeError> {
        decode_state(Self::NAME, bytes)
    }
}
