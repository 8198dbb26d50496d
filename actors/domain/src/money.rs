//! Money: integer minor units, checked arithmetic, never a float.

use minicbor::{Decode, Encode};

/// An amount of money in minor units (cents, yen...). Never negative.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Encode, Decode)]
#[cbor(transparent)]
pub struct Money(#[n(0)] pub u64);

impl Money {
    pub const ZERO: Money = Money(0);
    pub const fn minor(units: u64) -> Self {
        Money(units)
    }
    pub const fn units(self) -> u64 {
        self.0
    }
    pub fn checked_add(self, other: Money) -> Option<Money> {
        self.0.checked_add(other.0).map(Money)
    }
    pub fn checked_sub(self, other: Money) -> Option<Money> {
        self.0.checked_sub(other.0).map(Money)
    }
    pub fn is_zero(self) -> bool {
        self.0 == 0
    }
}

impl std::fmt::Display for Money {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
}
